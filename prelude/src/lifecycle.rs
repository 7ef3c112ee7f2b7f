//! What happens when a main program ends: a cell in the runtime (the kernel
//! calls [`cell_end_hook`]) or a child process's target. CPython's order at
//! exit: `threading` joins the non-daemon threads; then `multiprocessing`'s
//! exit handler (`_exit_function`) ends the pools and terminates the daemon
//! processes, and only then joins the other child processes; daemon threads
//! are abandoned. After an interrupt nothing is waited for: processes are
//! killed, threads abandoned. Then, in the runtime, the progress bars the
//! cell used are drawn as they ended (`display::draw_at_cell_end`).

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::host::{host, Event, INTERRUPT_TAKEN};
use crate::state::{state, Role, State};

/// Installs the panic hook (`report`) and the cell-end hook; called once,
/// by the state's creation in the runtime.
pub(crate) fn install_hooks() {
    crate::report::install_panic_hook();
    host().set_cell_end(cell_end_hook);
}

/// The hook the kernel calls when a cell's code returned (or unwound).
extern "C" fn cell_end_hook() {
    // An unwind must never cross the `extern "C"` boundary.
    let _ = catch_unwind(end_cell);
}

/// Ends the running cell: see the module doc.
pub(crate) fn end_cell() {
    let state = state();
    let observer = state.observer.get().cloned();
    let observed = observer
        .as_ref()
        .and_then(|observer| observer.cell_ending(state));
    crate::report::forget_pending_panic();
    if host().interrupted.load(Ordering::SeqCst) {
        abort_main(state);
        report_interrupt_once(state);
    } else if catch_unwind(AssertUnwindSafe(|| finish_main(state))).is_err() {
        // Interrupted while waiting: the interrupt was reported on the way out.
        abort_main(state);
    }
    // After the children ended, so the bars show their last counts.
    let drawings = std::mem::take(&mut *state.progress_bars.lock());
    for drawing in drawings {
        drawing.draw_at_cell_end();
    }
    flush_standard_streams();
    if let (Some(observer), Some(began)) = (observer, observed) {
        observer.cell_ended(state, began);
    }
}

/// Waits for what the main program started and stops the rest, Python's way.
pub(crate) fn finish_main(state: &State) {
    // A child's queue feeders must deliver before `_exit` (Python joins its
    // feeder threads at exit). The runtime lives on, and its feeders with it, so
    // a cell does not wait for them: a full queue nobody reads cannot hang it.
    let delivers_before_exit = state.role != Role::Runtime;
    if let Some(threads) = state.threads.get() {
        threads.join_waiting();
    }
    if delivers_before_exit {
        state.flush_feeders();
    }
    // Pools and daemon processes end before the other children are waited for.
    end_resources(state);
    if let Some(children) = state.children.get() {
        children.end_at_exit();
    }
    if delivers_before_exit {
        state.flush_feeders();
    }
    abandon_threads(state);
}

/// Kills every process the main program started and ends its pools; used
/// when an interrupt stops the cell.
pub(crate) fn kill_processes(state: &State) {
    if let Some(children) = state.children.get() {
        children.kill_all();
    }
    end_resources(state);
}

/// Stops everything at once after an interrupt.
fn abort_main(state: &State) {
    kill_processes(state);
    abandon_threads(state);
}

fn end_resources(state: &State) {
    let resources: Vec<Arc<dyn crate::state::CellResource>> =
        std::mem::take(&mut *state.resources.lock());
    for resource in resources {
        resource.end_with_cell();
    }
}

fn abandon_threads(state: &State) {
    if let Some(threads) = state.threads.get() {
        threads.abandon_all(state);
    }
}

/// Prints the KeyboardInterrupt error event unless this cell already did,
/// and tells the kernel the cell is unwinding.
pub(crate) fn report_interrupt_once(state: &State) {
    let cell = host().cell.load(Ordering::SeqCst).max(1);
    if state.interrupt_reported_cell.swap(cell, Ordering::SeqCst) != cell {
        if state.role == Role::Runtime {
            // One write of the whole line, so no other thread's output splits it.
            let _ = std::io::stderr().write_all(format!("{INTERRUPT_TAKEN}\n").as_bytes());
        }
        let event = Event::Error {
            ename: "KeyboardInterrupt".to_string(),
            evalue: String::new(),
            traceback: vec!["KeyboardInterrupt".to_string()],
        };
        crate::output::send_event(&event);
    }
}

/// Flushes std's buffered stdout and stderr (the prelude's own writes are unbuffered).
pub(crate) fn flush_standard_streams() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}
