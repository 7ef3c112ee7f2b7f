//! What the kernel keeps on disk between runs, under `~/.cache/multitask-kernel`
//! (or `$MULTITASK_CACHE_DIR`).
//!
//! - `prelude-<hash>/`: the prelude crate's sources, unpacked from the binary.
//!   The name changes with the contents, so a newer kernel never builds an
//!   older prelude, and the path evcxr sees stays the same between runs.
//! - `work/slot-<n>/`: evcxr's work directory (its cell crate and cargo target
//!   directory). A kernel holds an exclusive `flock` on its slot while it
//!   lives, so two kernels never share one, yet the next kernel reuses a free
//!   slot with everything already compiled: the prelude is compiled once per
//!   slot, not once per kernel start.

use std::fs::File;
use std::hash::{Hash, Hasher};
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use anyhow::Context as _;

include!(concat!(env!("OUT_DIR"), "/prelude_files.rs"));

/// How many kernels keep their work between runs; past this many at once, a
/// kernel gets a throwaway directory instead of sharing one.
const SLOTS: usize = 8;

/// The root of the kernel's cache.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("MULTITASK_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let home_cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    home_cache.join("multitask-kernel")
}

/// Unpacks the embedded prelude (once per version) and returns its directory.
pub fn prelude_dir() -> anyhow::Result<PathBuf> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    PRELUDE_FILES.hash(&mut hasher);
    let dir = cache_root().join(format!("prelude-{:016x}", hasher.finish()));
    if dir.join("Cargo.toml").exists() {
        return Ok(dir);
    }
    // Unpack beside the final name, then rename: a kernel starting at the same
    // moment sees either nothing or the whole crate.
    let staging = cache_root().join(format!(".prelude-staging-{}", std::process::id()));
    for (relative, contents) in PRELUDE_FILES {
        let path = staging.join(relative);
        std::fs::create_dir_all(path.parent().expect("files have a parent"))?;
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    if std::fs::rename(&staging, &dir).is_err() {
        // Another kernel won the race; its copy is identical.
        let _ = std::fs::remove_dir_all(&staging);
    }
    Ok(dir)
}

/// A work directory held for the life of the kernel.
pub struct WorkSlot {
    /// The directory evcxr works in.
    pub dir: PathBuf,
    /// Holds the slot's lock; dropping it (or the process dying) frees the slot.
    _lock: Option<File>,
}

/// Claims the first free work slot.
pub fn claim_work_slot() -> anyhow::Result<WorkSlot> {
    let work = cache_root().join("work");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    for slot in 0..SLOTS {
        let lock = File::create(work.join(format!("slot-{slot}.lock")))?;
        if try_lock(&lock) {
            let dir = work.join(format!("slot-{slot}"));
            std::fs::create_dir_all(&dir)?;
            return Ok(WorkSlot {
                dir,
                _lock: Some(lock),
            });
        }
    }
    let dir = std::env::temp_dir().join(format!("multitask-kernel-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(WorkSlot { dir, _lock: None })
}

fn try_lock(file: &File) -> bool {
    // SAFETY: flock on an open descriptor.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}
