//! The seam between the kernel's runtime process and the prelude.
//!
//! evcxr compiles every cell into its own shared library, and each of those
//! libraries links its own copy of this crate: a `static` or `thread_local!`
//! here exists once per cell, not once per process. Everything that must be
//! process-wide therefore hangs off [`Host`], a single block that the kernel's
//! runtime loop owns and exports as the dynamic symbol [`HOST_SYMBOL`]. Outside the kernel (unit tests, a plain
//! program) a process-local block stands in for it.
//!
//! The kernel side of the contract, in order, for every cell:
//! 1. clear [`Host::interrupted`] and increment [`Host::cell`];
//! 2. run the cell's code on the runtime's main thread;
//! 3. call the function stored in [`Host::cell_end`], if any, before reporting
//!    the cell complete, so output of children joined there still streams into
//!    the cell;
//! 4. report the cell complete.
//!
//! SIGINT sent to the runtime only sets [`Host::interrupted`]; the prelude's
//! blocking calls poll it and unwind. When the prelude takes an interrupt it
//! writes [`INTERRUPT_TAKEN`] as a line on stderr, so the kernel knows the
//! cell is unwinding and gives it time to end instead of killing the runtime.
//!
//! Lines that start with [`EVENT_PREFIX`] on stdout are not shown: the kernel
//! reads the JSON that follows as an event (see [`Event`]).

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::OnceLock;

/// The name under which the kernel's runtime exports its [`Host`] block in
/// its dynamic symbol table. A symbol, not an environment variable: programs
/// a cell starts inherit the environment, and an address from it would mean
/// nothing in them.
pub const HOST_SYMBOL: &std::ffi::CStr = c"multitask_host";

/// Marks a stdout line as an event for the kernel rather than output.
pub const EVENT_PREFIX: &str = "\u{1e}multitask:";

/// Line the prelude writes on the runtime's stderr when the cell's main
/// thread takes an interrupt (the kernel does not show it).
pub const INTERRUPT_TAKEN: &str = "\u{1e}multitask:interrupt-taken";

/// Reply the kernel gives to an input request when the frontend allows no input.
pub const NO_STDIN_REPLY: &str = "\u{1e}multitask:no-stdin";

/// Line evcxr's host recognises as a request for a line of input (then reads
/// the answer from stdin).
pub const INPUT_REQUEST: &str = "EVCXR_INPUT_REQUEST";

/// Line evcxr's host recognises as a request for a password (input not echoed).
pub const PASSWORD_REQUEST: &str = "EVCXR_INPUT_REQUEST_PASSWORD";

/// Layout version of [`Host`]; bumped whenever a field changes.
pub const HOST_VERSION: u32 = 1;

/// Signature of the function the runtime calls when a cell's code returns.
pub type CellEndHook = extern "C" fn();

/// Process-wide slots shared by the runtime loop and every copy of the prelude.
#[repr(C)]
pub struct Host {
    /// Equal to [`HOST_VERSION`]; a mismatch means kernel and prelude disagree.
    pub version: u32,
    /// Set by the runtime's SIGINT handler; cleared when a cell starts.
    pub interrupted: AtomicBool,
    /// Number of the cell running now (or last run), counted from 1.
    pub cell: AtomicU64,
    /// A [`CellEndHook`] registered by the prelude, or null.
    pub cell_end: AtomicPtr<c_void>,
    /// The prelude's process-wide state, created by the first copy that runs.
    pub state: AtomicPtr<c_void>,
}

impl Host {
    /// A block with nothing set, for the runtime loop to own.
    pub const fn new() -> Host {
        Host {
            version: HOST_VERSION,
            interrupted: AtomicBool::new(false),
            cell: AtomicU64::new(0),
            cell_end: AtomicPtr::new(std::ptr::null_mut()),
            state: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// Stores the hook the runtime calls when a cell's code returns.
    pub fn set_cell_end(&self, hook: CellEndHook) {
        self.cell_end.store(hook as *mut c_void, Ordering::SeqCst);
    }

    /// The registered cell-end hook, if any.
    pub fn cell_end_hook(&self) -> Option<CellEndHook> {
        let pointer = self.cell_end.load(Ordering::SeqCst);
        if pointer.is_null() {
            None
        } else {
            // SAFETY: only `set_cell_end` stores into this slot, always a `CellEndHook`.
            Some(unsafe { std::mem::transmute::<*mut c_void, CellEndHook>(pointer) })
        }
    }
}

impl Default for Host {
    fn default() -> Host {
        Host::new()
    }
}

/// The process's [`Host`]: the kernel's when running under it, else a local one.
pub fn host() -> &'static Host {
    static HOST: OnceLock<&'static Host> = OnceLock::new();
    HOST.get_or_init(|| {
        // Miri cannot look up symbols; under it there is no kernel either.
        #[cfg(miri)]
        let announced = std::ptr::null_mut::<std::ffi::c_void>();
        // SAFETY: dlsym with a valid C string; RTLD_DEFAULT searches the
        // executable, whose dynamic symbol table the runtime exports
        // HOST_SYMBOL in.
        #[cfg(not(miri))]
        let announced = unsafe { libc::dlsym(libc::RTLD_DEFAULT, HOST_SYMBOL.as_ptr()) };
        if announced.is_null() {
            return Box::leak(Box::new(Host::new()));
        }
        // SAFETY: under the kernel's runtime the symbol names its one `Host`,
        // a static that lives, never moved, for the whole process (and its
        // forks); only shared references to it are made.
        let host = unsafe { &*announced.cast::<Host>() };
        assert_eq!(
            host.version, HOST_VERSION,
            "the multitask prelude and the kernel were built from different versions"
        );
        host
    })
}

/// Something the prelude asks the kernel to do, sent as one stdout line
/// (see [`Event::to_line`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Event {
    /// Show rich output now (`display_data`), or replace an earlier one with
    /// the same `display_id` when `update` is true (`update_display_data`).
    Display {
        /// MIME type → content, e.g. `text/html` → `<b>hi</b>`.
        data: Vec<(String, String)>,
        /// Names the output so a later update can replace it.
        display_id: Option<String>,
        /// Whether this replaces the output named `display_id`.
        update: bool,
    },
    /// Clear the cell's output (`clear_output`); with `wait`, when the next output comes.
    ClearOutput {
        /// Wait for the next output before clearing.
        wait: bool,
    },
    /// The cell's main code failed: report this instead of a generic panic.
    Error {
        /// Name of the error, as Python names exceptions (`KeyboardInterrupt`, `panic`).
        ename: String,
        /// The message.
        evalue: String,
        /// Lines shown to the learner.
        traceback: Vec<String>,
    },
}

impl Event {
    /// The whole stdout line (with [`EVENT_PREFIX`], without the newline):
    /// the event as postcard bytes, in hex, so it stays one line whatever
    /// it carries. Serde's derive is the one description of the format.
    pub fn to_line(&self) -> String {
        let bytes = postcard::to_stdvec(self).expect("an event always serialises");
        let mut line = String::with_capacity(EVENT_PREFIX.len() + 2 * bytes.len());
        line.push_str(EVENT_PREFIX);
        for byte in bytes {
            line.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
            line.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
        }
        line
    }

    /// Reads what follows [`EVENT_PREFIX`] on a line [`Event::to_line`] wrote.
    pub fn from_line_body(body: &str) -> Result<Event, EventLineError> {
        let digits = body.as_bytes();
        if !digits.len().is_multiple_of(2) {
            return Err(EventLineError::NotHex);
        }
        let bytes = digits
            .chunks(2)
            .map(|pair| {
                let high = hex_value(pair[0])?;
                let low = hex_value(pair[1])?;
                Some(high << 4 | low)
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or(EventLineError::NotHex)?;
        postcard::from_bytes(&bytes).map_err(|_| EventLineError::NotAnEvent)
    }
}

/// Why a line that starts with [`EVENT_PREFIX`] could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventLineError {
    /// Its body is not an even number of lowercase hex digits.
    NotHex,
    /// Its bytes do not decode as an [`Event`] (a prelude of another version?).
    NotAnEvent,
}

impl std::fmt::Display for EventLineError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            EventLineError::NotHex => "the event is not written in hex digits",
            EventLineError::NotAnEvent => "the bytes are not an event of this prelude's version",
        })
    }
}

impl std::error::Error for EventLineError {}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_survives_its_line() {
        let events = [
            Event::Display {
                data: vec![
                    ("text/html".to_owned(), "<b>\"hi\"</b>\n\u{1e}\\".to_owned()),
                    ("text/plain".to_owned(), "é 中文 ✅".to_owned()),
                ],
                display_id: Some("progress-1".to_owned()),
                update: true,
            },
            Event::Display {
                data: Vec::new(),
                display_id: None,
                update: false,
            },
            Event::ClearOutput { wait: true },
            Event::Error {
                ename: "KeyboardInterrupt".to_owned(),
                evalue: String::new(),
                traceback: vec!["line one\nline two".to_owned()],
            },
        ];
        for event in events {
            let line = event.to_line();
            assert!(!line.contains('\n'), "{line}");
            let body = line.strip_prefix(EVENT_PREFIX).expect("the prefix");
            assert_eq!(Event::from_line_body(body), Ok(event));
        }
    }

    #[test]
    fn a_damaged_line_is_an_error_not_a_panic() {
        assert_eq!(Event::from_line_body("abc"), Err(EventLineError::NotHex));
        assert_eq!(Event::from_line_body("zz"), Err(EventLineError::NotHex));
        assert_eq!(Event::from_line_body("ff"), Err(EventLineError::NotAnEvent));
        let whole = Event::ClearOutput { wait: false }.to_line();
        let cut = &whole[EVENT_PREFIX.len()..whole.len() - 2];
        assert!(Event::from_line_body(cut).is_err());
    }
}
