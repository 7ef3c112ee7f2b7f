//! The real engine: cells compiled and run by evcxr. The files of this
//! folder are the only ones that import evcxr.
//!
//! evcxr's context is created on, and never leaves, one actor thread: making
//! it takes seconds (it starts the runtime and rust-analyzer), so the kernel
//! answers `kernel_info` while this thread warms up, and the first request
//! that needs the engine waits for it. [`EvcxrEngine`] is the handle the
//! dispatcher holds; it hands each request to the actor and waits for the
//! answer.
//!
//! - `launch.rs` starts a session: the runtime subprocess in its own process
//!   group, evcxr's settings, the prelude (`:dep multitask`, `use
//!   multitask::prelude::*`, `multitask::attach()`), and a second try in a
//!   rebuilt work slot.
//! - `session.rs` runs cells on it: the kernel's magics (`:timeline`,
//!   `:restart`, `:clear`), the prelude brought back after a new runtime or
//!   `:clear`, completion and inspection.
//! - `markers.rs` forwards the runtime's stderr to the output, picking out
//!   the runtime's cell markers (see [`crate::runtime`]).
//! - `analyzer_std.rs` decides which standard library evcxr's
//!   rust-analyzer sees: a stub until the learner pauses, a cell defines a
//!   variable, or a completion or inspection is asked for.
//! - `spare_cpu.rs` says whether a pause may end in the analyzer's read: a
//!   core to spare through it, or a long pause.
//! - `known_types.rs` writes into a cell met again the variable types evcxr
//!   gave it after the same cells, so it needs no analyzer.
//! - `cell_cache/` serves a cell's compile from the work slot's cache of
//!   compiled cells when the same build was done before (this binary is
//!   evcxr's rustc wrapper).
//! - `prelude_extern.rs` links the prelude into cells without its `:dep`
//!   until the analyzer needs to see it, where the slot holds it built.
//! - `errors.rs` turns evcxr's errors, and the kernel's own failures, into
//!   the errors a learner reads.

mod analyzer_std;
mod cell_cache;
mod errors;
mod known_types;
mod launch;
mod markers;
mod prelude_extern;
mod rustc_types;
mod session;
mod spare_cpu;

pub use analyzer_std::sources_path as analyzer_sources_path;
pub use launch::{subprocess_hook, EngineSetup};

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::{
    CellOutcome, Completions, Engine, InputSource, Inspection, Interrupter, Ticket, Waiting,
};
use crate::cell::CodeCell;
use crate::ports::CellOutput;
use session::Session;
use spare_cpu::Pause;

/// How long the engine waits without a request before it has rust-analyzer
/// read the standard library (if a core was spare meanwhile, see
/// `spare_cpu.rs`). The read holds the engine for ~5 s on an idle machine,
/// and a cell sent meanwhile waits for it: after a 2 s pause, a learner who
/// ran the next cell 3 s after the last waited 5.0 s for it, 4 s after 3.4
/// s, 5 s after 2.1 s (measured 2026-12-04). Most glances at an output end
/// within a few seconds, while a pause that has lasted 8 s is mostly
/// reading or writing that goes on for longer: waiting that long moves the
/// read out of the learner's way, and in a class out of the cells of the
/// learners around (lesson 01 with ten learners on 2 cores: p95 4.3 → 3.9 s,
/// the quick cells' 5–6 s spikes gone).
const READING_PAUSE: Duration = Duration::from_secs(8);

/// How often the handle of a waiting cell looks whether an interrupt
/// dropped it, so that it answers at once while the actor is still busy.
const DROP_CHECK: Duration = Duration::from_millis(20);

/// What the actor thread is asked to do, and where its answer goes.
enum Request {
    Execute {
        ticket: Ticket,
        cell: CodeCell,
        output: Arc<dyn CellOutput>,
        input: InputSource,
        done: Sender<CellOutcome>,
    },
    Complete {
        code: String,
        cursor: usize,
        done: Sender<Completions>,
    },
    Inspect {
        code: String,
        cursor: usize,
        done: Sender<Option<Inspection>>,
    },
}

/// Handle on the actor thread that owns evcxr.
pub struct EvcxrEngine {
    requests: Sender<Request>,
    interrupter: Interrupter,
    rust_version: String,
}

impl EvcxrEngine {
    /// Starts warming up in the background and returns at once.
    pub fn start(setup: EngineSetup) -> EvcxrEngine {
        let (requests, incoming) = crossbeam_channel::unbounded();
        let interrupter = Interrupter::new();
        let actor_interrupter = interrupter.clone();
        thread::Builder::new()
            .name("engine".to_owned())
            .spawn(move || actor(setup, actor_interrupter, incoming))
            .expect("the engine thread starts");
        EvcxrEngine {
            requests,
            interrupter,
            rust_version: launch::rustc_version(),
        }
    }

    /// Waits for the actor's answer about cell `ticket`, or answers at once
    /// when an interrupt drops the cell while the actor is still busy with
    /// an earlier request or a step of seconds (the analyzer's turn): the
    /// actor, when it gets there, finds the cell answered and skips it.
    fn await_cell(
        &self,
        ticket: Ticket,
        answer: &Receiver<CellOutcome>,
        output: &dyn CellOutput,
    ) -> CellOutcome {
        loop {
            match answer.recv_timeout(DROP_CHECK) {
                Ok(outcome) => return outcome,
                Err(RecvTimeoutError::Disconnected) => {
                    return CellOutcome::Failed(errors::engine_stopped())
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.interrupter.waiting(ticket) == Waiting::Dropped {
                        return session::dropped(output);
                    }
                }
            }
        }
    }

    /// Hands a request to the actor and waits for its answer; `gone` when
    /// the actor has stopped (it panicked), so the caller still gets one.
    fn ask<T>(&self, make: impl FnOnce(Sender<T>) -> Request, gone: impl FnOnce() -> T) -> T {
        let (done, answer) = crossbeam_channel::bounded(1);
        if self.requests.send(make(done)).is_err() {
            return gone();
        }
        answer.recv().unwrap_or_else(|_| gone())
    }
}

impl Engine for EvcxrEngine {
    fn execute(
        &mut self,
        cell: CodeCell,
        output: Arc<dyn CellOutput>,
        input: InputSource,
    ) -> CellOutcome {
        // From here on an interrupt belongs to this cell, even while the
        // engine is still busy with something else.
        let ticket = self.interrupter.cell_waiting();
        let (done, answer) = crossbeam_channel::bounded(1);
        let request = Request::Execute {
            ticket,
            cell,
            output: Arc::clone(&output),
            input,
            done,
        };
        let outcome = if self.requests.send(request).is_err() {
            CellOutcome::Failed(errors::engine_stopped())
        } else {
            self.await_cell(ticket, &answer, &*output)
        };
        // The actor ended the cell already, unless it is gone.
        self.interrupter.cell_finished();
        outcome
    }

    fn complete(&mut self, code: &str, cursor: usize) -> Completions {
        self.ask(
            |done| Request::Complete {
                code: code.to_owned(),
                cursor,
                done,
            },
            || Completions::nothing_at(cursor),
        )
    }

    fn inspect(&mut self, code: &str, cursor: usize) -> Option<Inspection> {
        self.ask(
            |done| Request::Inspect {
                code: code.to_owned(),
                cursor,
                done,
            },
            || None,
        )
    }

    fn interrupter(&self) -> Interrupter {
        self.interrupter.clone()
    }

    fn rust_version(&self) -> String {
        self.rust_version.clone()
    }
}

/// The actor: starts the session, then serves requests until the engine's
/// handle is dropped.
fn actor(setup: EngineSetup, interrupter: Interrupter, requests: Receiver<Request>) {
    let mut session = match Session::launch(&setup, interrupter) {
        Ok(session) => session,
        Err(startup_error) => {
            let failure = errors::startup_failed(&startup_error);
            for request in requests {
                match request {
                    Request::Execute { done, .. } => {
                        let _ = done.send(CellOutcome::Failed(failure.clone()));
                    }
                    Request::Complete { done, .. } => {
                        let _ = done.send(Completions::default());
                    }
                    Request::Inspect { done, .. } => {
                        let _ = done.send(None);
                    }
                }
            }
            return;
        }
    };
    let mut analyzer_warm = false;
    let mut pause = Pause::begin();
    loop {
        // rust-analyzer's first look at the standard library and the
        // prelude takes seconds: taken while the learner reads (no request
        // for a moment) and a core is spare (`spare_cpu.rs`), never ahead of
        // a waiting request, and not between the cells of a Run All, which
        // arrive one right after another.
        let request = if analyzer_warm {
            requests.recv().map_err(drop)
        } else {
            match requests.recv_timeout(READING_PAUSE) {
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(_reading) = pause.ends_in_the_read() {
                        session.warm_up_analyzer();
                        analyzer_warm = true;
                    }
                    continue;
                }
                received => received.map_err(drop),
            }
        };
        let Ok(request) = request else {
            return;
        };
        match request {
            Request::Execute {
                ticket,
                cell,
                output,
                input,
                done,
            } => {
                let _ = done.send(session.execute(ticket, &cell, &*output, &input));
            }
            Request::Complete { code, cursor, done } => {
                let _ = done.send(session.complete(&code, cursor));
            }
            Request::Inspect { code, cursor, done } => {
                let _ = done.send(session.inspect(&code, cursor));
            }
        }
        if !analyzer_warm {
            pause = Pause::begin();
        }
    }
}
