//! When rust-analyzer may read the standard library in a reading pause:
//! only when a core would otherwise sit idle, or once the pause is long.
//!
//! Reading `std` costs the engine thread ~5 CPU seconds, and in a pause it
//! is speculative: only a completion, a hover or a variable whose type must
//! be inferred needs it, and those turn the analyzer themselves. On a
//! learner's own machine the cores are idle while they read, so the read is
//! free. On a machine a class shares, ten kernels reading at once in their
//! learners' first pauses kept both cores busy for a minute and held up
//! every learner's cells. So a pause ends in the read only if the machine
//! had a core to spare through it (from `/proc/stat`, whoever used the
//! cores), or if the learner has been away for [`LONG_PAUSE`], whatever the
//! load: the read then waits for idle time, not for ever. And one kernel of
//! the machine reads at a time (a lock file in the temporary directory, the
//! [`Reading`] token): kernels that saw the same idle moment would
//! otherwise all start reading in it.

use std::fs::{File, TryLockError};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;
use std::time::{Duration, Instant};

/// A pause this long ends in the read even on a busy machine.
const LONG_PAUSE: Duration = Duration::from_secs(30);

/// The machine's token for a read in a pause, in the temporary directory
/// (shared by every user's kernels, unless each has a `/tmp` of their own).
const TOKEN_FILE: &str = "multitask-kernel-analyzer-read.lock";

/// The idle cores a pause must have seen, on average, for the read: one
/// (the analyzer reads on one thread), or most of a machine with one core.
fn cores_to_spare(cores: usize) -> f64 {
    (0.75 * cores as f64).min(1.0)
}

/// One pause without requests, watched from its start.
#[derive(Debug)]
pub(super) struct Pause {
    started: Instant,
    /// The processor times when the current look began; `None` where
    /// `/proc/stat` cannot be read, where every pause ends in the read, as
    /// it would on an idle machine.
    look_started: Option<CpuTimes>,
}

impl Pause {
    /// A pause that begins now (the engine has just answered a request).
    pub(super) fn begin() -> Pause {
        Pause {
            started: Instant::now(),
            look_started: CpuTimes::now(),
        }
    }

    /// Whether the analyzer should read `std` now, at the end of one look
    /// at the pause (the engine's reading pause): the machine had a core to
    /// spare through the look, or the whole pause has been long, and no
    /// other kernel is reading. The read holds the token it returns. When
    /// not, the next look begins.
    pub(super) fn ends_in_the_read(&mut self) -> Option<Reading> {
        let now = CpuTimes::now();
        let earlier = std::mem::replace(&mut self.look_started, now);
        let spare = match (earlier, now) {
            (Some(earlier), Some(now)) => {
                now.idle_cores_since(&earlier) >= cores_to_spare(now.cores)
            }
            _ => true,
        };
        (spare || self.started.elapsed() >= LONG_PAUSE)
            .then(|| Reading::take(&std::env::temp_dir().join(TOKEN_FILE)))
            .flatten()
    }
}

/// The right to read in a pause, held until dropped: an exclusive `flock`
/// on the machine's token file, or nothing where that file cannot be
/// opened (the read then goes ahead on its own).
#[derive(Debug)]
pub(super) struct Reading {
    _token: Option<File>,
}

impl Reading {
    /// The token at `path`, unless another kernel holds it.
    fn take(path: &Path) -> Option<Reading> {
        let Some(token) = open_token(path) else {
            return Some(Reading { _token: None });
        };
        match token.try_lock() {
            Ok(()) => Some(Reading {
                _token: Some(token),
            }),
            Err(TryLockError::WouldBlock) => None,
            Err(TryLockError::Error(_)) => Some(Reading { _token: None }),
        }
    }
}

/// The token file, opened for reading (`flock` needs no more, so a file
/// another user made serves too), made readable by every user if new.
fn open_token(path: &Path) -> Option<File> {
    if let Ok(token) = File::open(path) {
        return Some(token);
    }
    let token = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o644)
        .open(path)
        .ok()?;
    // The umask may have taken read access from the others.
    let _ = token.set_permissions(std::fs::Permissions::from_mode(0o644));
    Some(token)
}

/// The machine's processor times since boot, in clock ticks, summed over
/// its cores.
#[derive(Clone, Copy, Debug, PartialEq)]
struct CpuTimes {
    /// Ticks spent idle or waiting for I/O.
    idle: u64,
    /// Ticks spent in any state.
    total: u64,
    /// How many cores the times are summed over.
    cores: usize,
}

impl CpuTimes {
    /// The times now, or `None` where `/proc/stat` cannot be read.
    fn now() -> Option<CpuTimes> {
        parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// How many cores were idle, on average, from `earlier` to these times
    /// (none if no tick passed: nothing says they were idle).
    fn idle_cores_since(&self, earlier: &CpuTimes) -> f64 {
        let total = self.total.saturating_sub(earlier.total);
        let idle = self.idle.saturating_sub(earlier.idle);
        if total == 0 {
            return 0.0;
        }
        idle as f64 / total as f64 * self.cores as f64
    }
}

/// The summed times of `/proc/stat`'s first line and its number of `cpuN`
/// lines. Of the first line's columns (user, nice, system, idle, iowait,
/// irq, softirq, steal, guest, guest_nice), the first eight add up to all
/// time: guest time is already counted in user and nice, and time stolen
/// by the hypervisor was nobody's to spare.
fn parse(stat: &str) -> Option<CpuTimes> {
    let mut lines = stat.lines();
    let ticks = lines
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<Vec<u64>, _>>()
        .ok()?;
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    let total = ticks.iter().take(8).sum();
    let cores = lines
        .filter(|line| {
            line.strip_prefix("cpu")
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count();
    (cores > 0).then_some(CpuTimes { idle, total, cores })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/proc/stat` of a two-core machine, with `idle` and `busy` ticks
    /// added to its totals.
    fn stat(idle: u64, busy: u64) -> String {
        format!(
            "cpu  {} 50 300 {} 20 0 10 5 0 0\n\
             cpu0 500 25 150 400 10 0 5 2 0 0\n\
             cpu1 500 25 150 400 10 0 5 3 0 0\n\
             intr 12345 0 0\nctxt 678\nprocs_running 3\n",
            1000 + busy,
            800 + idle
        )
    }

    #[test]
    fn the_first_line_sums_the_cores_and_the_rest_count_them() {
        let times = parse(&stat(0, 0)).unwrap();
        assert_eq!(
            times,
            CpuTimes {
                idle: 820,
                total: 2185,
                cores: 2
            }
        );
        assert_eq!(parse("cpu0 1 2 3 4\n"), None, "no summary line");
        assert_eq!(parse("cpu  1 2 x 4\ncpu0 1 2 3 4\n"), None, "a damaged one");
    }

    #[test]
    fn idle_cores_are_the_idle_share_of_the_ticks_times_the_cores() {
        let before = parse(&stat(0, 0)).unwrap();
        // Two seconds of two cores at 100 ticks a second: 400 ticks.
        let one_busy = parse(&stat(200, 200)).unwrap();
        assert!((one_busy.idle_cores_since(&before) - 1.0).abs() < 1e-9);
        let both_busy = parse(&stat(0, 400)).unwrap();
        assert_eq!(both_busy.idle_cores_since(&before), 0.0);
        assert_eq!(before.idle_cores_since(&before), 0.0, "no time passed");
    }

    #[test]
    fn one_kernel_reads_at_a_time_and_without_a_token_file_each_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TOKEN_FILE);
        let first = Reading::take(&path).unwrap();
        assert!(first._token.is_some());
        assert!(Reading::take(&path).is_none(), "taken while held");
        drop(first);
        assert!(Reading::take(&path).unwrap()._token.is_some());
        let unopenable = dir.path().join("missing").join(TOKEN_FILE);
        assert!(Reading::take(&unopenable).unwrap()._token.is_none());
    }

    #[test]
    fn a_pause_needs_one_idle_core_or_most_of_a_single_one() {
        assert_eq!(cores_to_spare(1), 0.75);
        assert_eq!(cores_to_spare(2), 1.0);
        assert_eq!(cores_to_spare(64), 1.0);
    }
}
