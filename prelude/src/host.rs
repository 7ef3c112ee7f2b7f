//! The seam between the kernel's runtime process and the prelude.
//!
//! evcxr compiles every cell into its own shared library, and each of those
//! libraries links its own copy of this crate: a `static` or `thread_local!`
//! here exists once per cell, not once per process. Everything that must be
//! process-wide therefore hangs off [`Host`], a single block that the kernel's
//! runtime loop owns and announces through the `MULTITASK_HOST` environment
//! variable (its address, in hex). Outside the kernel (unit tests, a plain
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
//! blocking calls poll it and unwind.
//!
//! Lines that start with [`EVENT_PREFIX`] on stdout are not shown: the kernel
//! reads the JSON that follows as an event (see [`Event`]).

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::OnceLock;

/// Environment variable holding the address of the kernel's [`Host`] block.
pub const HOST_ENV: &str = "MULTITASK_HOST";

/// Marks a stdout line as an event for the kernel rather than output.
pub const EVENT_PREFIX: &str = "\u{1e}multitask:";

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

    /// The value to put in [`HOST_ENV`] so that the prelude finds this block.
    pub fn address(&'static self) -> String {
        format!("{:x}", self as *const Host as usize)
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
        let announced = std::env::var(HOST_ENV)
            .ok()
            .and_then(|hex| usize::from_str_radix(&hex, 16).ok());
        match announced {
            // SAFETY: the runtime loop sets HOST_ENV to the address of a `Host`
            // that lives, never moved, for the whole process (and its forks).
            Some(address) if address != 0 => {
                let host = unsafe { &*(address as *const Host) };
                assert_eq!(
                    host.version, HOST_VERSION,
                    "the multitask prelude and the kernel were built from different versions"
                );
                host
            }
            _ => Box::leak(Box::new(Host::new())),
        }
    })
}

/// Something the prelude asks the kernel to do, sent as one stdout line:
/// [`EVENT_PREFIX`] followed by this value as JSON (externally tagged, as
/// serde writes enums).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
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
    /// The whole stdout line (with [`EVENT_PREFIX`], without the newline).
    pub fn to_line(&self) -> String {
        let mut line = String::from(EVENT_PREFIX);
        match self {
            Event::Display {
                data,
                display_id,
                update,
            } => {
                line.push_str("{\"display\":{\"data\":[");
                for (index, (mime, content)) in data.iter().enumerate() {
                    if index > 0 {
                        line.push(',');
                    }
                    line.push('[');
                    push_json_string(&mut line, mime);
                    line.push(',');
                    push_json_string(&mut line, content);
                    line.push(']');
                }
                line.push_str("],\"display_id\":");
                match display_id {
                    Some(id) => push_json_string(&mut line, id),
                    None => line.push_str("null"),
                }
                line.push_str(&format!(",\"update\":{update}}}}}"));
            }
            Event::ClearOutput { wait } => {
                line.push_str(&format!("{{\"clear_output\":{{\"wait\":{wait}}}}}"));
            }
            Event::Error {
                ename,
                evalue,
                traceback,
            } => {
                line.push_str("{\"error\":{\"ename\":");
                push_json_string(&mut line, ename);
                line.push_str(",\"evalue\":");
                push_json_string(&mut line, evalue);
                line.push_str(",\"traceback\":[");
                for (index, entry) in traceback.iter().enumerate() {
                    if index > 0 {
                        line.push(',');
                    }
                    push_json_string(&mut line, entry);
                }
                line.push_str("]}}");
            }
        }
        line
    }
}

/// Appends `text` as a JSON string literal; control characters (newlines
/// included) are escaped, so the event stays on one line.
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            control if (control as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", control as u32));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}
