//! Interrupting and stopping the runtime process from another thread.
//!
//! An interrupt first asks nicely: SIGINT to the runtime, whose handler sets
//! the flag the prelude's blocking calls poll, so the cell unwinds as a
//! `KeyboardInterrupt` and keeps its variables. A cell that never reaches a
//! prelude call is still running after [`ESCALATE_AFTER`]; then the runtime's
//! whole process group (the runtime and every process a cell forked) is
//! killed, and the engine reports that the runtime was restarted.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a cell has to unwind after SIGINT before the runtime is killed.
pub const ESCALATE_AFTER: Duration = Duration::from_millis(2000);

#[derive(Default)]
struct Shared {
    /// Process id (and process group id) of the runtime; 0 while there is none.
    runtime_pid: AtomicI32,
    /// Counts cells; odd while one runs.
    cell_clock: AtomicU64,
    /// Set when an interrupt had to kill the runtime during the current cell.
    escalated: AtomicBool,
    /// Counts interrupts, so a wait can tell that one arrived since it began.
    interrupts: AtomicU64,
}

/// Cheap-to-clone handle on the runtime for the control thread.
#[derive(Clone, Default)]
pub struct Interrupter {
    shared: Arc<Shared>,
}

impl Interrupter {
    /// A handle with no runtime yet.
    pub fn new() -> Interrupter {
        Interrupter::default()
    }

    /// Records the pid of a newly started runtime (the leader of its own process group).
    pub fn set_runtime_pid(&self, pid: u32) {
        self.shared.runtime_pid.store(pid as i32, Ordering::SeqCst);
    }

    /// Marks the start of a cell.
    pub fn cell_started(&self) {
        self.shared.escalated.store(false, Ordering::SeqCst);
        self.shared.cell_clock.fetch_add(1, Ordering::SeqCst);
    }

    /// Marks the end of a cell; returns whether an interrupt killed the runtime during it.
    pub fn cell_finished(&self) -> bool {
        self.shared.cell_clock.fetch_add(1, Ordering::SeqCst);
        self.shared.escalated.swap(false, Ordering::SeqCst)
    }

    fn running_cell(&self) -> Option<u64> {
        let clock = self.shared.cell_clock.load(Ordering::SeqCst);
        (clock % 2 == 1).then_some(clock)
    }

    /// How many interrupts have arrived so far (compare two readings).
    pub fn interrupt_count(&self) -> u64 {
        self.shared.interrupts.load(Ordering::SeqCst)
    }

    /// Interrupts the running cell, if any; an interrupt while idle does nothing.
    pub fn interrupt(&self) {
        let Some(cell) = self.running_cell() else {
            return;
        };
        self.shared.interrupts.fetch_add(1, Ordering::SeqCst);
        let pid = self.shared.runtime_pid.load(Ordering::SeqCst);
        if pid <= 0 {
            return;
        }
        // SAFETY: sending a signal to a pid we started.
        unsafe { libc::kill(pid, libc::SIGINT) };
        let watcher = self.clone();
        thread::spawn(move || {
            let deadline = Instant::now() + ESCALATE_AFTER;
            while Instant::now() < deadline {
                if watcher.running_cell() != Some(cell) {
                    return;
                }
                thread::sleep(Duration::from_millis(20));
            }
            if watcher.running_cell() == Some(cell) {
                watcher.shared.escalated.store(true, Ordering::SeqCst);
                watcher.kill_runtime();
            }
        });
    }

    /// Kills the runtime and every process in its group at once.
    pub fn kill_runtime(&self) {
        let pid = self.shared.runtime_pid.load(Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: the runtime leads its own process group; nothing else is in it
            // but processes it forked.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }
}
