//! A work slot's compiled cells on disk: one directory per key holding the
//! files rustc wrote and what it printed.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What rustc printed; replayed on a hit, so cargo sees the same messages.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Replay {
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: Vec<u8>,
}

/// The files rustc reports writing (`--json=artifacts` lines on stderr).
fn artifacts(stderr: &[u8]) -> Vec<PathBuf> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["$message_type"] == "artifact")
        .filter_map(|message| message["artifact"].as_str().map(PathBuf::from))
        .collect()
}

/// Whether a dep-info file (make syntax) says the build read only `source`:
/// no other file (`include_str!`, `#[path]` modules) and no environment
/// variable (`env!`, which rustc records as `# env-dep:` lines).
pub(super) fn reads_only(dep_info: &str, source: &Path) -> bool {
    let source = source.to_string_lossy();
    dep_info.lines().all(|line| {
        if line.starts_with('#') {
            return !line.starts_with("# env-dep:");
        }
        let Some((_, prerequisites)) = line
            .split_once(": ")
            .or_else(|| line.strip_suffix(':').map(|target| (target, "")))
        else {
            return line.trim().is_empty();
        };
        prerequisites
            .split_whitespace()
            .all(|prerequisite| prerequisite == source)
    })
}

/// The compiled cells of one work slot, one directory per key.
pub(super) struct CellCache {
    dir: PathBuf,
    size_limit: u64,
}

impl CellCache {
    pub(super) fn new(dir: PathBuf, size_limit: u64) -> CellCache {
        CellCache { dir, size_limit }
    }

    /// Copies a stored build's files where rustc would write them; what it
    /// printed, or `None` on a miss (or any trouble, which is a miss).
    pub(super) fn restore(&self, key: &str) -> Option<Replay> {
        let entry = self.dir.join(key);
        let replay = Replay {
            stdout: std::fs::read(entry.join("stdout")).ok()?,
            stderr: std::fs::read(entry.join("stderr")).ok()?,
        };
        for artifact in artifacts(&replay.stderr) {
            std::fs::copy(entry.join(artifact.file_name()?), &artifact).ok()?;
        }
        // The entry's time is its last use, for eviction.
        let _ = std::fs::File::open(&entry).and_then(|dir| dir.set_modified(SystemTime::now()));
        Some(replay)
    }

    /// Stores a successful build whose inputs the key covers (it read only
    /// `source`), then, when the cache may be past its size limit, evicts
    /// the least recently used entries (see [`CellCache::may_be_full`]).
    pub(super) fn store(&self, key: &str, replay: &Replay, source: &Path) {
        let produced = artifacts(&replay.stderr);
        let read_only_source = produced.iter().all(|artifact| {
            artifact.extension() != Some(OsStr::new("d"))
                || std::fs::read_to_string(artifact)
                    .is_ok_and(|dep_info| reads_only(&dep_info, source))
        });
        if produced.is_empty() || !read_only_source {
            return;
        }
        let entry = self.dir.join(key);
        let partial = self.dir.join(format!(".{key}.{}", std::process::id()));
        let written = (|| -> std::io::Result<()> {
            std::fs::create_dir_all(&partial)?;
            for artifact in &produced {
                let name = artifact
                    .file_name()
                    .ok_or(std::io::ErrorKind::InvalidInput)?;
                std::fs::copy(artifact, partial.join(name))?;
            }
            std::fs::write(partial.join("stdout"), &replay.stdout)?;
            std::fs::write(partial.join("stderr"), &replay.stderr)?;
            std::fs::rename(&partial, &entry)
        })();
        if written.is_err() {
            let _ = std::fs::remove_dir_all(&partial);
            return;
        }
        if self.may_be_full(directory_size(&entry)) {
            self.evict();
        }
    }

    /// Whether the cache may be past its size limit, judged without reading
    /// every entry (which takes ~15 ms at 600 entries, on every cell's
    /// build): as many entries as there are, each the size of the one just
    /// stored. An eviction leaves a quarter of the limit free, so at the
    /// limit a full reading comes once in many builds, not every time.
    fn may_be_full(&self, stored_size: u64) -> bool {
        let Ok(listing) = std::fs::read_dir(&self.dir) else {
            return false;
        };
        listing.count() as u64 * stored_size > self.size_limit
    }

    /// Removes the least recently used entries until the rest fill at most
    /// three quarters of the size limit.
    fn evict(&self) {
        let Ok(listing) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut entries: Vec<(SystemTime, u64, PathBuf)> = listing
            .flatten()
            .filter_map(|entry| {
                let used = entry.metadata().ok()?.modified().ok()?;
                Some((used, directory_size(&entry.path()), entry.path()))
            })
            .collect();
        let mut total: u64 = entries.iter().map(|(_, size, _)| size).sum();
        entries.sort();
        for (_, size, path) in entries {
            if total <= self.size_limit / 4 * 3 {
                break;
            }
            if std::fs::remove_dir_all(&path).is_ok() {
                total -= size;
            }
        }
    }
}

fn directory_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|listing| {
            listing
                .flatten()
                .filter_map(|entry| entry.metadata().ok())
                .map(|metadata| metadata.len())
                .sum()
        })
        .unwrap_or(0)
}
