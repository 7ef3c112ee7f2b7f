//! Interrupts and the one waiting loop every blocking prelude call uses.
//! Blocking calls wait in slices of at most [`POLL`] and check between slices
//! whether the kernel flagged an interrupt ([`Host::interrupted`](crate::host::Host::interrupted))
//! or whether the calling thread was abandoned at its cell's end.

use std::panic::resume_unwind;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::host::host;
use crate::state::{state, Role};

/// Longest a blocking call waits before it checks for an interrupt.
pub(crate) const POLL: Duration = Duration::from_millis(20);

/// The panic payload a cell's main thread unwinds with when the notebook
/// interrupts it (Python's `KeyboardInterrupt`).
#[derive(Debug, Clone, Copy)]
pub struct KeyboardInterrupt;

/// The payload other threads unwind with when interrupted or abandoned; it is
/// never reported.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuietStop;

/// Unwinds the calling thread if the cell was interrupted or the thread abandoned.
pub(crate) fn check_interrupt() {
    if std::thread::panicking() {
        // Unwinding already: a second unwind would abort the runtime.
        return;
    }
    // The common case (no interrupt, nothing abandoned) makes no syscall.
    let state = state();
    if state.role == Role::Runtime && host().interrupted.load(Ordering::SeqCst) {
        if crate::sys::is_main_thread() {
            crate::lifecycle::kill_processes(state);
            crate::lifecycle::report_interrupt_once(state);
            resume_unwind(Box::new(KeyboardInterrupt));
        }
        resume_unwind(Box::new(QuietStop));
    }
    if state.current_thread_abandoned() {
        resume_unwind(Box::new(QuietStop));
    }
}

/// Whether an unwind payload is one of the prelude's quiet stops.
pub(crate) fn is_stop_payload(payload: &(dyn std::any::Any + Send)) -> bool {
    payload.is::<KeyboardInterrupt>() || payload.is::<QuietStop>()
}

/// The instant `seconds` from now; `None` (wait forever) when it does not fit.
pub(crate) fn deadline_after(seconds: f64) -> Option<Instant> {
    let seconds = if seconds.is_nan() {
        0.0
    } else {
        seconds.max(0.0)
    };
    Duration::try_from_secs_f64(seconds)
        .ok()
        .and_then(|wait| Instant::now().checked_add(wait))
}

/// Calls `attempt` with the longest slice it may wait, until it yields a
/// value or `deadline` passes (then `None`), checking for interrupts between
/// slices. `attempt` must not wait longer than the slice it is given.
pub(crate) fn wait_for<T>(
    deadline: Option<Instant>,
    mut attempt: impl FnMut(Duration) -> Option<T>,
) -> Option<T> {
    loop {
        let slice = match deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()).min(POLL),
            None => POLL,
        };
        if let Some(value) = attempt(slice) {
            return Some(value);
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return None;
        }
        check_interrupt();
    }
}
