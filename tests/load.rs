//! The fault scenarios of [`crate::faults`] on a busy machine: with every
//! core saturated by busy processes, and beside three other kernels running
//! cells. Each scenario runs three times; every request must be answered.
//! And the one thing the kernel does differently on a busy machine: its
//! analyzer waits for a spare core to read the standard library.
//!
//! These tests take minutes, so `scripts/test` runs them as a step of their
//! own (one at a time, so no two loads stack up); each prints how long every
//! round took and the slowdown measured around it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::faults;
use crate::kernel::harness::Kernel;
use crate::kernel::pressure::{BusyCores, Took};

/// How many times each scenario runs under each load.
const ROUNDS: usize = 3;

/// Kernels that run CPU-heavy cells, compiled and run one after another,
/// until dropped.
struct BusyKernels {
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl BusyKernels {
    fn start(count: usize) -> BusyKernels {
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..count)
            .map(|worker| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let kernel = Kernel::start();
                    let mut round = 0u64;
                    while !stop.load(Ordering::SeqCst) {
                        round += 1;
                        // A new cell each time, so each one is compiled too.
                        kernel.run_ok(&format!(
                            "let busy_{worker}_{round}: u64 = (0..20_000_000u64)
                                 .map(|x| x ^ (x >> 3)).fold(0, u64::wrapping_add);
                             println!(\"{{busy_{worker}_{round}}}\");"
                        ));
                    }
                })
            })
            .collect();
        BusyKernels { stop, workers }
    }
}

impl Drop for BusyKernels {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for worker in self.workers.drain(..) {
            // A worker that failed has said so on stderr; the scenario's own
            // result decides the test.
            let _ = worker.join();
        }
    }
}

/// Runs `scenario` [`ROUNDS`] times and prints how long each round took.
fn rounds(load: &str, name: &str, mut scenario: impl FnMut() -> Took) {
    for round in 1..=ROUNDS {
        let took = scenario();
        eprintln!(
            "load [{load}] {name}, round {round}: {:.2} s (slowdown {:.1}×)",
            took.elapsed.as_secs_f64(),
            took.slowdown
        );
    }
}

#[test]
fn the_analyzer_waits_for_a_spare_core_to_read_std() {
    use crate::protocol::{analyzer_link, analyzer_reads_std, wait_for_the_read};
    let kernel = Kernel::start();
    let Some(link) = analyzer_link(&kernel) else {
        return;
    };
    // The learner pauses from here, on a machine with every core busy.
    let paused = std::time::Instant::now();
    let busy = BusyCores::start();
    std::thread::sleep(Duration::from_secs(8));
    assert!(
        !analyzer_reads_std(&link),
        "the analyzer read std while every core was busy"
    );
    drop(busy);
    // Cores to spare: the read comes within a look or two, well before a
    // pause long enough to read on a busy machine (30 s).
    let waited = wait_for_the_read(&link, Duration::from_secs(30));
    eprintln!(
        "the analyzer read std {:.1} s into the pause, {:.1} s after the cores were freed",
        paused.elapsed().as_secs_f64(),
        waited.unwrap_or_default().as_secs_f64()
    );
    assert!(waited.is_some(), "the analyzer never read std");
    assert!(
        paused.elapsed() < Duration::from_secs(24),
        "the read waited for the long pause, not for a spare core"
    );
}

/// A kernel that has run one cell, for scenarios that share one.
fn warm_kernel() -> Kernel {
    let kernel = Kernel::start();
    kernel.run_ok("println!(\"warm\");");
    kernel
}

/// The scenarios, each as a test under each load.
macro_rules! under_each_load {
    ($($name:ident => $scenario:expr;)*) => {
        mod saturated_cores {
            use super::*;
            $(
                #[test]
                fn $name() {
                    let _load = BusyCores::start();
                    rounds("every core saturated", stringify!($name), $scenario);
                }
            )*
        }
        mod beside_three_busy_kernels {
            use super::*;
            $(
                #[test]
                fn $name() {
                    let _load = BusyKernels::start(3);
                    rounds("three busy kernels", stringify!($name), $scenario);
                }
            )*
        }
    };
}

under_each_load! {
    interrupted_busy_loop => {
        let kernel = warm_kernel();
        move || faults::interrupted_busy_loop(&kernel)
    };
    interrupted_while_waiting => {
        // A new kernel each round: a kernel's analyzer turns once.
        || faults::interrupted_while_waiting(&warm_kernel())
    };
    interrupted_sleep_loop => {
        let kernel = warm_kernel();
        move || faults::interrupted_sleep_loop(&kernel)
    };
    abort => {
        let kernel = warm_kernel();
        move || faults::runtime_crash(&kernel, faults::ABORT)
    };
    segfault => {
        let kernel = warm_kernel();
        move || faults::runtime_crash(&kernel, faults::SEGFAULT)
    };
    flood_of_lines => {
        let kernel = warm_kernel();
        move || faults::flood_of_lines(&kernel)
    };
    shutdown => faults::shutdown_leaves_nothing;
    kill_9 => faults::kill_9_leaves_nothing;
}
