//! Output that stays whole. Rust's `println!` goes through a `LineWriter` that
//! holds 1 KiB, so longer lines from several processes tear. The prelude's
//! [`println!`](crate::println) and friends format the whole text first and
//! hand it to the OS in ONE `write`, which a pipe keeps whole up to 4 KiB
//! (`PIPE_BUF`). They also drop the output of threads abandoned at their
//! cell's end, so none of it appears under a later cell.
//!
//! In a cell they must be imported by name (`use multitask::{println, …}`):
//! a glob import of them is ambiguous with std's macros, a compile error.

use std::fmt;
use std::io::Write;

use crate::state::Role;

/// The line evcxr's generated code prints when it caught a panic of the cell.
const EVCXR_PANIC_NOTIFICATION: &str = "EVCXR_PANIC_NOTIFICATION\n";

/// Which standard stream a text goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// File descriptor 1.
    Stdout,
    /// File descriptor 2.
    Stderr,
}

/// Prints to stdout with a newline, the whole line in one write (Python's `print`).
#[macro_export]
macro_rules! println {
    () => {
        $crate::output::write_formatted($crate::output::Stream::Stdout, ::std::format_args!(""), true)
    };
    ($($argument:tt)*) => {
        $crate::output::write_formatted($crate::output::Stream::Stdout, ::std::format_args!($($argument)*), true)
    };
}

/// Prints to stdout without a newline, in one write (Python's `print(..., end="")`).
#[macro_export]
macro_rules! print {
    ($($argument:tt)*) => {
        $crate::output::write_formatted($crate::output::Stream::Stdout, ::std::format_args!($($argument)*), false)
    };
}

/// Prints to stderr with a newline, the whole line in one write (Python's `print(..., file=sys.stderr)`).
#[macro_export]
macro_rules! eprintln {
    () => {
        $crate::output::write_formatted($crate::output::Stream::Stderr, ::std::format_args!(""), true)
    };
    ($($argument:tt)*) => {
        $crate::output::write_formatted($crate::output::Stream::Stderr, ::std::format_args!($($argument)*), true)
    };
}

/// Prints to stderr without a newline, in one write.
#[macro_export]
macro_rules! eprint {
    ($($argument:tt)*) => {
        $crate::output::write_formatted($crate::output::Stream::Stderr, ::std::format_args!($($argument)*), false)
    };
}

/// Formats `arguments` (plus a newline if asked) and writes the text at once;
/// the macros of this module expand to it.
pub fn write_formatted(stream: Stream, arguments: fmt::Arguments<'_>, newline: bool) {
    let mut text = fmt::format(arguments);
    if newline {
        text.push('\n');
    }
    write_text(stream, &text);
}

/// Writes `text` to `stream` in one `write` (looping only past 4 KiB or on a
/// signal), after whatever std's own buffer still holds.
pub fn write_text(stream: Stream, text: &str) {
    let state = crate::state::state();
    if state.current_thread_abandoned() {
        return;
    }
    if let Some(observer) = state.observer.get() {
        observer.printed(text);
    }
    // Holding std's lock keeps the order with std's `print!` users and with a fork.
    match stream {
        Stream::Stdout => {
            before_stdout(text);
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.flush();
            write_all_raw(libc::STDOUT_FILENO, text.as_bytes());
        }
        Stream::Stderr => {
            let mut stderr = std::io::stderr().lock();
            let _ = stderr.flush();
            write_all_raw(libc::STDERR_FILENO, text.as_bytes());
        }
    }
}

/// Called with every stdout text: when it is evcxr's note that the cell
/// panicked (on the runtime's main thread), the panic the hook kept
/// (`report`) becomes the cell's error.
pub(crate) fn before_stdout(text: &str) {
    if text == EVCXR_PANIC_NOTIFICATION {
        let state = crate::state::state();
        if state.role == Role::Runtime && crate::sys::is_main_thread() {
            if let Some(event) = state.pending_panic.lock().take() {
                send_event(&event);
            }
        }
    }
}

/// Prints `event` as the one stdout line the kernel reads (a display, a
/// clear, the cell's error).
pub(crate) fn send_event(event: &crate::host::Event) {
    write_text(Stream::Stdout, &format!("{}\n", event.to_line()));
}

/// `write(2)` until done; errors (a closed pipe) drop the rest, as output has nowhere to go.
fn write_all_raw(fd: libc::c_int, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: the pointer and length come from a live slice.
        let written = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if written < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        bytes = &bytes[written as usize..];
    }
}
