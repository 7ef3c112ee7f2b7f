//! Interrupting and stopping the runtime process from another thread.
//!
//! A cell's request goes through three phases the interrupter tracks:
//! *waiting* (handed to the engine, which may still be busy with something
//! else, or compiling it), *running* (the runtime said its code started) and
//! *unwinding* (the prelude said it took the interrupt). An interrupt:
//!
//! - while waiting is remembered: the cell is dropped before its own code is
//!   compiled if it can be (answered at once by the engine's handle, even
//!   while the engine is busy with a step of seconds), and otherwise the
//!   runtime gets SIGINT the moment the code starts. An interrupt is never
//!   lost because it came early (under load a cell can wait seconds for the
//!   engine). Each waiting cell holds a [`Ticket`], so the engine never goes
//!   on with a cell that was answered meanwhile.
//! - while running sends SIGINT to the runtime, whose handler sets the flag
//!   the prelude's blocking calls poll, so the cell unwinds as a
//!   `KeyboardInterrupt` and keeps its variables.
//!
//! A watcher thread gives the cell [`ESCALATE_AFTER`] to reach an
//! interruptible point, and a cell that is unwinding [`UNWIND_LIMIT`] to
//! finish; past either, the runtime's whole process group (the runtime and
//! every process a cell forked) is killed, and the engine reports that the
//! runtime was restarted. Every wait here has a deadline.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// How long running code has to reach an interruptible point after SIGINT.
pub const ESCALATE_AFTER: Duration = Duration::from_millis(2000);

/// How long a cell that took the interrupt has to unwind and end.
pub const UNWIND_LIMIT: Duration = Duration::from_secs(10);

/// Where the current cell's request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No cell: interrupts do nothing.
    Idle,
    /// Handed to the engine; its code has not started. `armed` once the
    /// engine runs the cell's own code (not an internal step before it), so
    /// the next code start is the cell's.
    Waiting { armed: bool },
    /// Its code runs in the runtime.
    Running,
    /// The prelude took the interrupt; the cell is on its way out.
    Unwinding,
}

struct CellState {
    phase: Phase,
    /// Counts cells, so a watcher can tell that its cell ended.
    cell: u64,
    /// When the current cell was interrupted (first interrupt), if it was.
    interrupted_at: Option<Instant>,
    /// When SIGINT reached running code, or the prelude took it.
    deadline: Option<Instant>,
    /// Whether a watcher thread already looks after this cell.
    watched: bool,
    /// Set when an interrupt had to kill the runtime during the current cell.
    escalated: bool,
    /// Process id (and process group id) of the runtime; 0 while there is none.
    runtime_pid: i32,
    /// Counts interrupts, so a wait can tell that one arrived since it began.
    interrupts: u64,
}

struct Shared {
    state: Mutex<CellState>,
    /// Wakes the watcher when the phase changes.
    changed: Condvar,
}

/// A cell's place in the order of requests, from [`Interrupter::cell_waiting`]:
/// whoever works for the cell asks with it whether the cell is still wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// What became of a waiting cell, asked before each step for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// Still wanted: go on.
    Go,
    /// Interrupted before its code started. Only one asker is told this;
    /// it answers the cell as not run, and nothing more is done for it.
    Dropped,
    /// Answered already (dropped, or ended): nothing more may be done for it,
    /// nor written to its output.
    Answered,
}

/// How a cell's request ended, as far as interrupts go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellEnding {
    /// An interrupt came while the cell ran (or waited).
    pub interrupted: bool,
    /// The interrupt had to kill the runtime.
    pub escalated: bool,
}

/// Cheap-to-clone handle on the runtime for the control thread.
#[derive(Clone)]
pub struct Interrupter {
    shared: Arc<Shared>,
}

impl Default for Interrupter {
    fn default() -> Interrupter {
        Interrupter {
            shared: Arc::new(Shared {
                state: Mutex::new(CellState {
                    phase: Phase::Idle,
                    cell: 0,
                    interrupted_at: None,
                    deadline: None,
                    watched: false,
                    escalated: false,
                    runtime_pid: 0,
                    interrupts: 0,
                }),
                changed: Condvar::new(),
            }),
        }
    }
}

impl Interrupter {
    /// A handle with no runtime yet.
    pub fn new() -> Interrupter {
        Interrupter::default()
    }

    fn lock(&self) -> MutexGuard<'_, CellState> {
        // A panic while holding this lock leaves plain data behind: keep going.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records the pid of the current runtime (the leader of its own process group).
    pub fn set_runtime_pid(&self, pid: u32) {
        self.lock().runtime_pid = pid as i32;
    }

    /// Marks a cell as handed to the engine (it may wait there, then
    /// compile); the ticket names it from now on.
    pub fn cell_waiting(&self) -> Ticket {
        let mut state = self.lock();
        state.cell += 1;
        state.phase = Phase::Waiting { armed: false };
        state.interrupted_at = None;
        state.deadline = None;
        state.watched = false;
        state.escalated = false;
        self.shared.changed.notify_all();
        Ticket(state.cell)
    }

    /// Whether the cell `ticket` is still wanted. An interrupt that came
    /// before its own code was next drops it here, and ends its request
    /// (its watcher stops; the next cell may come).
    pub fn waiting(&self, ticket: Ticket) -> Waiting {
        Self::still_wanted(&mut self.lock(), ticket, &self.shared.changed)
    }

    fn still_wanted(state: &mut CellState, ticket: Ticket, changed: &Condvar) -> Waiting {
        if state.cell != ticket.0 || state.phase == Phase::Idle {
            return Waiting::Answered;
        }
        if state.phase == (Phase::Waiting { armed: false }) && state.interrupted_at.is_some() {
            state.phase = Phase::Idle;
            changed.notify_all();
            return Waiting::Dropped;
        }
        Waiting::Go
    }

    /// Marks the next code start in the runtime as the cell's own (steps the
    /// engine runs before it, such as re-attaching the prelude, do not
    /// count), if the cell is still wanted. From here on an interrupt
    /// reaches the cell's code, and the cell can no longer be dropped.
    pub fn cell_code_next(&self, ticket: Ticket) -> Waiting {
        let mut state = self.lock();
        let waiting = Self::still_wanted(&mut state, ticket, &self.shared.changed);
        if waiting == Waiting::Go {
            state.phase = Phase::Waiting { armed: true };
        }
        waiting
    }

    /// Notes that code started in the runtime; returns whether it is the
    /// cell's own (then an interrupt that came while it waited is delivered now).
    pub fn code_started(&self) -> bool {
        let mut state = self.lock();
        if state.phase != (Phase::Waiting { armed: true }) {
            return false;
        }
        state.phase = Phase::Running;
        if state.interrupted_at.is_some() {
            signal_runtime(&mut state);
        }
        self.shared.changed.notify_all();
        true
    }

    /// Marks the interrupt as taken by the prelude: the cell is unwinding.
    pub fn interrupt_taken(&self) {
        let mut state = self.lock();
        if state.phase == Phase::Running {
            state.phase = Phase::Unwinding;
            state.deadline = Some(Instant::now() + UNWIND_LIMIT);
            self.shared.changed.notify_all();
        }
    }

    /// Marks the end of the cell's request and says what interrupts did to it.
    pub fn cell_finished(&self) -> CellEnding {
        let mut state = self.lock();
        state.phase = Phase::Idle;
        state.deadline = None;
        self.shared.changed.notify_all();
        CellEnding {
            interrupted: state.interrupted_at.take().is_some(),
            escalated: std::mem::take(&mut state.escalated),
        }
    }

    /// How many interrupts have arrived so far (compare two readings).
    pub fn interrupt_count(&self) -> u64 {
        self.lock().interrupts
    }

    /// Interrupts the current cell, if any; an interrupt while idle does nothing.
    pub fn interrupt(&self) {
        let mut state = self.lock();
        if state.phase == Phase::Idle {
            return;
        }
        state.interrupts += 1;
        state.interrupted_at.get_or_insert_with(Instant::now);
        if state.phase == Phase::Running {
            signal_runtime(&mut state);
        }
        if !state.watched {
            state.watched = true;
            let watcher = self.clone();
            let cell = state.cell;
            thread::Builder::new()
                .name("interrupt-watcher".to_owned())
                .spawn(move || watcher.escalate_when_overdue(cell))
                .expect("the interrupt watcher starts");
        }
        self.shared.changed.notify_all();
    }

    /// Kills the runtime when cell `cell` misses its deadline; returns as
    /// soon as that cell ends.
    fn escalate_when_overdue(&self, cell: u64) {
        let mut state = self.lock();
        loop {
            if state.cell != cell || state.phase == Phase::Idle {
                return;
            }
            // While waiting there is no deadline yet: the engine either drops
            // the cell or starts it, and then it has one.
            let wait = match state.deadline {
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        state.escalated = true;
                        kill_group(state.runtime_pid);
                        return;
                    }
                    deadline - now
                }
                None => Duration::from_millis(100),
            };
            state = match self.shared.changed.wait_timeout(state, wait) {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Kills the runtime and every process in its group at once.
    pub fn kill_runtime(&self) {
        kill_group(self.lock().runtime_pid);
    }
}

/// Sends SIGINT to running code and starts its deadline.
fn signal_runtime(state: &mut CellState) {
    state.deadline = Some(Instant::now() + ESCALATE_AFTER);
    if state.runtime_pid > 0 {
        // SAFETY: a plain kill(2) of the runtime we started; it installs its
        // SIGINT handler before it reports a cell's code started.
        unsafe { libc::kill(state.runtime_pid, libc::SIGINT) };
    }
}

fn kill_group(pid: i32) {
    if pid > 0 {
        // SAFETY: a plain kill(2); the runtime leads its own process group,
        // in which there is nothing but processes it forked.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
}

#[cfg(test)]
mod tests;
