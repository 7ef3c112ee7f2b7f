//! What the kernel keeps on disk between runs, under `~/.cache/multitask-kernel`
//! (or `$MULTITASK_CACHE_DIR`).
//!
//! - `prelude-<hash>/`: the prelude crate's sources, unpacked from the binary.
//!   The name changes with the contents, so a newer kernel never builds an
//!   older prelude, and the path evcxr sees stays the same between runs. A
//!   kernel holds a shared `flock` on `prelude-<hash>.lock` while it lives
//!   and touches it when it starts; the directory of another version is
//!   removed once no kernel holds its lock and none started it for a day.
//! - `work/slot-<n>/`: evcxr's work directory (its cell crate and cargo target
//!   directory). A kernel holds an exclusive `flock` on its slot while it
//!   lives, so two kernels never share one, yet the next kernel reuses a free
//!   slot with everything already compiled: the prelude is compiled once per
//!   slot, not once per kernel start.

use std::fs::File;
use std::hash::{Hash, Hasher};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

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

/// How long a prelude version nobody runs is kept (a kernel of that version
/// may be installed elsewhere and start again soon).
const UNUSED_PRELUDE_KEPT: Duration = Duration::from_secs(24 * 60 * 60);

/// The prelude's sources, held for the life of the kernel.
pub struct PreludeDir {
    /// The crate's directory.
    pub dir: PathBuf,
    /// Holds the version's shared lock; dropping it (or the process dying)
    /// lets a later kernel remove the directory.
    _lock: File,
}

/// Unpacks the embedded prelude (once per version), holds its directory, and
/// removes the directories of versions no kernel uses any more.
pub fn prelude_dir() -> anyhow::Result<PreludeDir> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    PRELUDE_FILES.hash(&mut hasher);
    let root = cache_root();
    let name = format!("prelude-{:016x}", hasher.finish());
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    // Shared, and taken before looking at the directory: a kernel removing
    // this version waits for nobody, and nobody uses it while it goes.
    let lock = hold_prelude_lock(&root, &name)?;
    let dir = root.join(&name);
    remove_unused_preludes(&root, &name);
    if !dir.join("Cargo.toml").exists() {
        unpack_prelude(&root, &dir)?;
    }
    Ok(PreludeDir { dir, _lock: lock })
}

/// Opens `<name>.lock` under `root`, marks it used now and takes `mode`
/// (`LOCK_SH` blocking, or `LOCK_EX | LOCK_NB`); `None` when it is held.
fn prelude_lock(root: &Path, name: &str, mode: libc::c_int) -> anyhow::Result<Option<File>> {
    let path = root.join(format!("{name}.lock"));
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    // SAFETY: flock on an open descriptor.
    if unsafe { libc::flock(lock.as_raw_fd(), mode) } != 0 {
        return Ok(None);
    }
    Ok(Some(lock))
}

/// This version's lock, held shared, its use noted.
fn hold_prelude_lock(root: &Path, name: &str) -> anyhow::Result<File> {
    let lock =
        prelude_lock(root, name, libc::LOCK_SH)?.context("locking the prelude's directory")?;
    lock.set_modified(SystemTime::now())?;
    Ok(lock)
}

/// Removes every `prelude-*` directory under `root` but `keep` that no
/// kernel holds and none started for [`UNUSED_PRELUDE_KEPT`] (a version
/// from before these locks counts from its directory's own time).
fn remove_unused_preludes(root: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("prelude-") || name.ends_with(".lock") || name == keep {
            continue;
        }
        let lock_path = root.join(format!("{name}.lock"));
        let last_used = std::fs::metadata(&lock_path)
            .or_else(|_| entry.metadata())
            .and_then(|metadata| metadata.modified());
        let unused_for = last_used
            .ok()
            .and_then(|time| SystemTime::now().duration_since(time).ok());
        if unused_for.is_none_or(|unused| unused < UNUSED_PRELUDE_KEPT) {
            continue;
        }
        if let Ok(Some(_held)) = prelude_lock(root, &name, libc::LOCK_EX | libc::LOCK_NB) {
            // The lock file stays: a kernel waiting on it must not end up
            // holding a lock on a file nobody else can find.
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Unpacks the embedded prelude into `dir` (under `root`).
fn unpack_prelude(root: &Path, dir: &Path) -> anyhow::Result<()> {
    // Unpack beside the final name, then rename: a kernel starting at the same
    // moment sees either nothing or the whole crate.
    let staging = root.join(format!(".prelude-staging-{}", std::process::id()));
    for (relative, contents) in PRELUDE_FILES {
        let path = staging.join(relative);
        std::fs::create_dir_all(path.parent().expect("files have a parent"))?;
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    if std::fs::rename(&staging, dir).is_err() {
        // Another kernel won the race; its copy is identical.
        let _ = std::fs::remove_dir_all(&staging);
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A `prelude-*` directory under `root`, last used `age` ago.
    fn version(root: &Path, name: &str, age: Duration) {
        std::fs::create_dir_all(root.join(name).join("src")).expect("a directory");
        let lock = prelude_lock(root, name, libc::LOCK_SH)
            .expect("a lock file")
            .expect("free");
        lock.set_modified(SystemTime::now() - age).expect("a time");
    }

    #[test]
    fn only_versions_nobody_holds_or_started_lately_are_removed() {
        let root = tempfile::tempdir().expect("a temporary directory");
        let root = root.path();
        let two_days = Duration::from_secs(2 * 24 * 60 * 60);
        version(root, "prelude-old", two_days);
        version(root, "prelude-held", two_days);
        version(root, "prelude-recent", Duration::from_secs(60));
        version(root, "prelude-mine", two_days);
        let held = prelude_lock(root, "prelude-held", libc::LOCK_SH)
            .expect("a lock file")
            .expect("shared locks mix");

        remove_unused_preludes(root, "prelude-mine");

        let left = |name: &str| root.join(name).exists();
        assert!(!left("prelude-old"), "an old, free version goes");
        assert!(left("prelude-old.lock"), "its lock file stays");
        assert!(left("prelude-held"), "a version a kernel holds stays");
        assert!(left("prelude-recent"), "a version started lately stays");
        assert!(left("prelude-mine"), "the running version stays");
        drop(held);
        remove_unused_preludes(root, "prelude-mine");
        assert!(!left("prelude-held"), "released, it goes too");
    }
}
