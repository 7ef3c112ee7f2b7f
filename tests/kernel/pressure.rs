//! Load on the machine: measuring it, so time limits in tests stretch with
//! it, and making it, so the load tests can check the kernel under it.
//!
//! A time limit in a test states how long something takes on a quiet
//! machine; [`Took::assert_under`] stretches it by the slowdown measured
//! around the timed work. A slow machine makes a test slower, never red.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How long [`slowdown`] spins to measure.
const SAMPLE: Duration = Duration::from_millis(30);

/// The CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// How many times longer work takes now than on an idle machine: wall time
/// over CPU time while this thread spins for a moment (1.0 when idle; about
/// 2.5 with four busy processes on two cores).
pub fn slowdown() -> f64 {
    let wall_start = Instant::now();
    let cpu_start = thread_cpu_time();
    while thread_cpu_time() - cpu_start < SAMPLE {
        std::hint::spin_loop();
    }
    let cpu = (thread_cpu_time() - cpu_start).as_secs_f64();
    (wall_start.elapsed().as_secs_f64() / cpu).max(1.0)
}

/// How long some work took, and the worst slowdown measured around it.
#[derive(Debug, Clone, Copy)]
pub struct Took {
    /// Wall time of the work.
    pub elapsed: Duration,
    /// [`slowdown`] before or after it, whichever was larger.
    pub slowdown: f64,
}

impl Took {
    /// Fails unless the work took less than `quiet_limit` stretched by the slowdown.
    pub fn assert_under(&self, quiet_limit: Duration, what: &str) {
        let allowed = quiet_limit.mul_f64(self.slowdown);
        assert!(
            self.elapsed < allowed,
            "{what} took {:?}; allowed {allowed:?} ({quiet_limit:?} on a quiet machine, \
             slowdown {:.1}×)",
            self.elapsed,
            self.slowdown
        );
    }
}

/// Runs `work` and says how long it took under how much load.
pub fn timed<T>(work: impl FnOnce() -> T) -> (T, Took) {
    let before = slowdown();
    let started = Instant::now();
    let value = work();
    let elapsed = started.elapsed();
    let slowdown = before.max(slowdown());
    (value, Took { elapsed, slowdown })
}

/// Busy processes that keep every core saturated until dropped.
pub struct BusyCores {
    spinners: Vec<Child>,
}

impl BusyCores {
    /// Starts two spinning processes per core (each dies with this test process).
    pub fn start() -> BusyCores {
        let cores = std::thread::available_parallelism().map_or(2, |cores| cores.get());
        let spinners = (0..2 * cores)
            .map(|_| {
                let mut spinner = Command::new("sh");
                spinner.args(["-c", "while :; do :; done"]);
                // SAFETY: prctl is async-signal-safe.
                unsafe {
                    spinner.pre_exec(|| {
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                        Ok(())
                    });
                }
                spinner.spawn().expect("a busy process starts")
            })
            .collect();
        BusyCores { spinners }
    }
}

impl Drop for BusyCores {
    fn drop(&mut self) {
        for spinner in &mut self.spinners {
            let _ = spinner.kill();
            let _ = spinner.wait();
        }
    }
}
