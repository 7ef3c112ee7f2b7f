//! A learner's copies of seeds that are gone: each slots directory
//! (`work/seed-<id>/` in the user's cache) holds a copy of its seed's build
//! and the cells compiled in it, hundreds of MiB that no kernel can use once
//! an install replaced that seed or its kernelspec was removed.

use std::path::{Path, PathBuf};

use super::{COMPLETE, PLANTED};

/// Prefix of a slots directory being removed (see [`remove_slots_of_gone_seeds`]).
const GOING: &str = ".going-";

/// Removes the slots directories (`seed-<id>/` under `work_root`, the
/// user's `…/multitask-kernel/work`) whose seed is gone: an install replaced
/// it with a newer one, or its kernelspec was removed. Each held a copy of
/// that seed's build and the cells compiled in it, hundreds of MiB per
/// learner that no kernel can use again, since a kernel starts only from a
/// complete seed. A directory with a slot some kernel still holds (started
/// before the install) is left for a later start. Its lock files go with it:
/// no kernel can come to wait on them, as none starts from that seed.
///
/// Such a directory is first renamed to `.going-<name>`, then removed: a
/// kernel that exits mid-way (this runs beside its first cells) leaves a
/// `.going-` directory, which the next kernel's call finishes removing.
pub fn remove_slots_of_gone_seeds(work_root: &Path) {
    let Ok(entries) = std::fs::read_dir(work_root) else {
        return;
    };
    for entry in entries.flatten() {
        let slots = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_slots_dir =
            name.starts_with("seed-") && entry.file_type().is_ok_and(|kind| kind.is_dir());
        if !is_slots_dir || planted_seed(&slots).is_none_or(|seed| seed.join(COMPLETE).exists()) {
            continue;
        }
        if let Some(_held) = lock_every_slot(&slots) {
            let _ = std::fs::rename(&slots, work_root.join(format!("{GOING}{name}")));
        }
    }
    let Ok(entries) = std::fs::read_dir(work_root) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(GOING) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The seed the slots in `slots` were planted from (the marker [`super::Seed::plant`]
/// writes), if any slot was.
fn planted_seed(slots: &Path) -> Option<PathBuf> {
    std::fs::read_dir(slots)
        .ok()?
        .flatten()
        .find_map(|slot| std::fs::read_to_string(slot.path().join(PLANTED)).ok())
        .map(PathBuf::from)
}

/// Every slot lock in `slots`, taken exclusively; `None` if a kernel holds one.
fn lock_every_slot(slots: &Path) -> Option<Vec<std::fs::File>> {
    let mut held = Vec::new();
    for entry in std::fs::read_dir(slots).ok()?.flatten() {
        if entry
            .path()
            .extension()
            .is_some_and(|extension| extension == "lock")
        {
            let lock = std::fs::File::open(entry.path()).ok()?;
            lock.try_lock().ok()?;
            held.push(lock);
        }
    }
    Some(held)
}
