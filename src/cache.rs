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
//!   slot, not once per kernel start. `work/slot-<n>/cell-cache/` holds the
//!   slot's compiled cells (see the engine's `cell_cache`).
//! - `work/seed-<id>/slot-<n>/`: the same, for a kernel installed with a
//!   seed (see [`crate::seed`]): a new slot starts as a copy of the seed's
//!   build, and the prelude's sources are the seed's, not `prelude-<hash>/`.
//!   Removed by a later kernel once their seed is gone and no kernel holds
//!   one of them ([`crate::seed::remove_slots_of_gone_seeds`]).

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use sha2::{Digest, Sha256};

use crate::seed::Seed;

include!(concat!(env!("OUT_DIR"), "/prelude_files.rs"));

/// The directory of a work slot that holds its compiled cells.
pub const CELL_CACHE_DIR: &str = "cell-cache";

/// How many kernels keep their work between runs; past this many at once, a
/// kernel gets a throwaway directory instead of sharing one.
const SLOTS: usize = 8;

/// The root of the kernel's cache.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("MULTITASK_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    user_cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("multitask-kernel")
}

/// The user's cache directory (`$XDG_CACHE_HOME`, else `~/.cache`), where
/// evcxr keeps its compile cache too.
fn user_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
}

/// How long a prelude version nobody runs is kept (a kernel of that version
/// may be installed elsewhere and start again soon).
const UNUSED_PRELUDE_KEPT: Duration = Duration::from_secs(24 * 60 * 60);

/// The prelude's sources, held for the life of the kernel.
pub struct PreludeDir {
    /// The crate's directory.
    pub dir: PathBuf,
    /// Holds the version's shared lock; dropping it (or the process dying)
    /// lets a later kernel remove the directory. None for a seed's sources,
    /// which only `install` changes.
    _lock: Option<File>,
}

/// The seed's prelude when there is a seed; else unpacks the embedded
/// prelude (once per version), holds its directory, and removes the
/// directories of versions no kernel uses any more.
pub fn prelude_dir(seed: Option<&Seed>) -> anyhow::Result<PreludeDir> {
    if let Some(seed) = seed {
        return Ok(PreludeDir {
            dir: seed.prelude_dir(),
            _lock: None,
        });
    }
    let root = cache_root();
    let name = format!("prelude-{}", prelude_version());
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    // Shared, and taken before looking at the directory: a kernel removing
    // this version waits for nobody, and nobody uses it while it goes.
    let lock = hold_prelude_lock(&root, &name)?;
    let dir = root.join(&name);
    remove_unused_preludes(&root, &name);
    if !dir.join("Cargo.toml").exists() {
        unpack_prelude(&root, &dir)?;
    }
    Ok(PreludeDir {
        dir,
        _lock: Some(lock),
    })
}

/// The name of this kernel's prelude version (see [`version_of`]).
pub fn prelude_version() -> String {
    version_of(PRELUDE_FILES)
}

/// A name for a version of the prelude: the first 16 hex digits of the
/// SHA-256 of its files (each path and contents length-prefixed), the same
/// for every build of the kernel, whatever the Rust release.
fn version_of(files: &[(&str, &str)]) -> String {
    let mut hasher = Sha256::new();
    for (path, contents) in files {
        for part in [path, contents] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
    }
    hex::encode(&hasher.finalize()[..8])
}

/// How [`prelude_lock`] takes a version's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LockMode {
    /// Shared with other kernels of the version; waits for a remover.
    Shared,
    /// Exclusive, only if nobody holds it now (to remove the version).
    ExclusiveIfFree,
}

/// Opens `<name>.lock` under `root` and takes it as `mode` says; `None`
/// when `ExclusiveIfFree` finds it held.
fn prelude_lock(root: &Path, name: &str, mode: LockMode) -> anyhow::Result<Option<File>> {
    let path = root.join(format!("{name}.lock"));
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match mode {
        LockMode::Shared => lock
            .lock_shared()
            .with_context(|| format!("locking {}", path.display()))?,
        LockMode::ExclusiveIfFree => match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(error)) => {
                return Err(error).with_context(|| format!("locking {}", path.display()))
            }
        },
    }
    Ok(Some(lock))
}

/// This version's lock, held shared, and marked used now.
fn hold_prelude_lock(root: &Path, name: &str) -> anyhow::Result<File> {
    let lock =
        prelude_lock(root, name, LockMode::Shared)?.context("locking the prelude's directory")?;
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
        if let Ok(Some(_held)) = prelude_lock(root, &name, LockMode::ExclusiveIfFree) {
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
    write_prelude_files(&staging)?;
    if std::fs::rename(&staging, dir).is_err() {
        // Another kernel won the race; its copy is identical.
        let _ = std::fs::remove_dir_all(&staging);
    }
    Ok(())
}

/// Writes the embedded prelude's files under `dir`.
pub fn write_prelude_files(dir: &Path) -> anyhow::Result<()> {
    for (relative, contents) in PRELUDE_FILES {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().expect("files have a parent"))?;
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Set by evcxr in the environment of the rustc wrapper (this binary) when
/// its compile cache is on (evcxr's `module::CACHE_ENABLED_ENV`).
const EVCXR_CACHE_ENABLED_ENV: &str = "EVCXR_CACHE_ENABLED";

/// Makes this rustc wrapper process the only one, among all kernels of this
/// user, that reads or writes evcxr's compile cache (`~/.cache/evcxr`) until
/// it exits.
///
/// evcxr's wrapper copies a compiled dependency out of the cache when the
/// entry's `stderr` file exists, and writes an entry by copying its files in
/// place, `stderr` last but over an existing entry too. Two kernels that
/// build the same dependency at once (a class opening the course, parallel
/// tests on a cold cache) can thus copy a half-written `.rlib` into a work
/// slot, whose cargo then believes it built (seen: "can't find crate for
/// `serde`" in every later kernel of that slot). Under this lock the second
/// kernel waits for the first and then finds a whole entry. Cells are built
/// incrementally, which evcxr never caches, so they never wait here.
pub fn lock_evcxr_cache_for_this_compile() {
    if std::env::var_os(EVCXR_CACHE_ENABLED_ENV).is_none()
        || std::env::args().any(|argument| argument.contains("incremental="))
    {
        return;
    }
    let Some(cache_dir) = user_cache_dir() else {
        return;
    };
    let evcxr_cache = cache_dir.join("evcxr");
    let lock = std::fs::create_dir_all(&evcxr_cache).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(evcxr_cache.join(".multitask-kernel.lock"))
    });
    if let Ok(lock) = lock {
        if lock.lock().is_ok() {
            // Held until this process exits (evcxr's wrapper ends with
            // `process::exit`); the kernel closes the descriptor then.
            std::mem::forget(lock);
        }
    }
}

/// Where the work slots are.
pub fn work_root() -> PathBuf {
    cache_root().join("work")
}

/// A work directory held for the life of the kernel.
pub struct WorkSlot {
    /// The directory evcxr works in.
    pub dir: PathBuf,
    /// Holds the slot's lock; dropping it (or the process dying) frees the slot.
    _lock: Option<File>,
}

/// Claims the first free work slot: among the seed's, with a seed (whose
/// build the engine copies in, [`Seed::plant`], before evcxr starts).
pub fn claim_work_slot(seed: Option<&Seed>) -> anyhow::Result<WorkSlot> {
    let mut work = work_root();
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    if let Some(seed) = seed {
        work = seed.slots_dir(&work)?;
    }
    for slot in 0..SLOTS {
        let lock = File::create(work.join(format!("slot-{slot}.lock")))?;
        if lock.try_lock().is_ok() {
            let dir = work.join(format!("slot-{slot}"));
            std::fs::create_dir_all(&dir)?;
            return Ok(WorkSlot {
                dir,
                _lock: Some(lock),
            });
        }
    }
    // Past the slots, a throwaway directory; with a seed it must sit under
    // the seed's slots directory, where cargo finds the vendoring config.
    let base = if seed.is_some() {
        work
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("multitask-kernel-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(WorkSlot { dir, _lock: None })
}

impl WorkSlot {
    /// Empties the slot, for a build that went wrong in it (a dependency a
    /// killed or racing build left half-written is then built again).
    pub fn empty(dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `prelude-*` directory under `root`, last used `age` ago.
    fn version(root: &Path, name: &str, age: Duration) {
        std::fs::create_dir_all(root.join(name).join("src")).expect("a directory");
        let lock = prelude_lock(root, name, LockMode::Shared)
            .expect("a lock file")
            .expect("free");
        lock.set_modified(SystemTime::now() - age).expect("a time");
    }

    #[test]
    fn a_prelude_version_is_named_by_its_contents() {
        // SHA-256 itself fixes the name: no Rust release changes it.
        let version = version_of(&[("src/lib.rs", "fn a() {}")]);
        assert_eq!(version, "88a266f6d2183fbb");
        assert_ne!(version, version_of(&[("src/lib.rs", "fn b() {}")]));
        // Where one file ends and the next begins is part of the name.
        assert_ne!(
            version_of(&[("a", "bc"), ("d", "")]),
            version_of(&[("a", "b"), ("cd", "")])
        );
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
        let held = prelude_lock(root, "prelude-held", LockMode::Shared)
            .expect("a lock file")
            .expect("shared locks mix");

        let left = |name: &str| root.join(name).exists();
        // Another test of this process that starts a program forks: until its
        // child execs, the child holds a copy of every descriptor open at
        // that moment, a lock just taken in `version` among them. Such a
        // holder is gone within moments, so the removal is retried briefly
        // until `name` goes.
        let remove_until_gone = |name: &str| {
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            remove_unused_preludes(root, "prelude-mine");
            while left(name) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
                remove_unused_preludes(root, "prelude-mine");
            }
        };
        remove_until_gone("prelude-old");
        assert!(!left("prelude-old"), "an old, free version goes");
        assert!(left("prelude-old.lock"), "its lock file stays");
        assert!(left("prelude-held"), "a version a kernel holds stays");
        assert!(left("prelude-recent"), "a version started lately stays");
        assert!(left("prelude-mine"), "the running version stays");
        drop(held);
        remove_until_gone("prelude-held");
        assert!(!left("prelude-held"), "released, it goes too");
    }
}
