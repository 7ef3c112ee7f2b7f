//! The process-wide panic hook: reports a panic the way Python reports the
//! matching exception. On the runtime's main thread it becomes the cell's
//! error (an [`Event::Error`] line for the kernel); in a child process it is
//! `Process Process-1:` and the message on stderr; in a prelude thread
//! `Exception in thread Thread-1 (sing):`; in a pool worker nothing (the task's
//! `get()` returns it). No backtraces, whatever `RUST_BACKTRACE` says.

use std::any::Any;
use std::panic::PanicHookInfo;

use crate::host::Event;
use crate::output::{write_text, Stream};
use crate::state::{state, Role};
use crate::sys::is_main_thread;

/// The payload of the panic that ends a failed check (`check::fail`); the
/// panic hook reports it as an `AssertionError`.
pub(crate) struct NotPassed(pub(crate) String);

/// Replaces std's panic hook (one per process: cells share libstd).
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(report_panic));
}

/// The text of a panic payload (`panic!("…")` gives a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(NotPassed(hint)) = payload.downcast_ref::<NotPassed>() {
        hint.clone()
    } else if let Some(text) = payload.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

fn report_panic(info: &PanicHookInfo<'_>) {
    let message = panic_message(info.payload());
    let location = info
        .location()
        .map(|location| {
            format!(
                "panicked at {}:{}:{}:",
                location.file(),
                location.line(),
                location.column()
            )
        })
        .unwrap_or_else(|| "panicked:".to_string());
    let state = state();
    if is_main_thread() {
        match state.role {
            Role::Runtime => {
                // Where a cell panics is a line of the crate evcxr generates,
                // not of the cell: the message alone says more. A failed
                // exercise check is Python's failed `assert`.
                let ename = if info.payload().is::<NotPassed>() {
                    "AssertionError"
                } else {
                    "panic"
                };
                let event = Event::Error {
                    ename: ename.to_string(),
                    evalue: message.clone(),
                    traceback: vec![format!("{ename}: {message}")],
                };
                *state.pending_panic.lock() = Some(event);
            }
            Role::Child => {
                let name = &state.identity.name;
                write_text(
                    Stream::Stderr,
                    &format!("Process {name}:\n{location}\n{message}\n"),
                );
            }
            // A pool task's panic travels back to `get()`, a check's to the check.
            Role::PoolWorker | Role::Check => {}
        }
        return;
    }
    let header = match state.current_thread() {
        Some(thread) if !thread.reports_panics => return,
        Some(thread) => format!("Exception in thread {}:", thread.name),
        None => format!(
            "thread '{}'",
            std::thread::current().name().unwrap_or("<unnamed>")
        ),
    };
    write_text(
        Stream::Stderr,
        &format!("{header}\n{location}\n{message}\n"),
    );
}

/// Forgets a panic the cell caught itself.
pub(crate) fn forget_pending_panic() {
    state().pending_panic.lock().take();
}
