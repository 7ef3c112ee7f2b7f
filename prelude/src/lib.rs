//! `multitask`: Python's `multiprocessing`, `threading` and `queue` for Rust
//! cells, with real OS processes (fork) and threads.
//!
//! The kernel glob-imports [`prelude`] into every cell, imports the output
//! macros by name (`use multitask::{print, println, eprint, eprintln};`, see
//! [`output`]) and calls [`attach`] once per runtime start. Each cell runs
//! like a script's main program: when it returns, the cell-end hook (see
//! [`host`]) joins what the cell started, as Python does at the end of a script.
//!
//! Every cell links its own copy of this crate, so nothing here keeps
//! process-wide state in a `static`: it all lives in one block published
//! through [`host::Host::state`] (see the private `state` module).

#![warn(missing_docs)]

pub mod asyncio;
pub mod check;
pub mod display;
mod error;
mod helpers;
pub mod host;
mod interrupt;
mod lifecycle;
pub mod mp;
mod observer;
pub mod output;
pub mod pool;
pub mod prelude;
pub mod queue;
mod report;
mod state;
mod sync;
mod sys;
pub mod threading;
pub mod timeline;

pub use error::Error;
pub use helpers::{clear_output, ctime, getpid, getppid, input, randint, random, sleep};
pub use interrupt::KeyboardInterrupt;
pub use serde;

/// Connects this copy of the prelude to the kernel: creates the process-wide
/// state, installs the panic hook and registers the cell-end hook. Cheap and
/// idempotent; every prelude call does it lazily too.
pub fn attach() {
    state::attach();
}

/// Ends the running cell as the kernel's cell-end hook does: joins non-daemon
/// threads and processes, stops daemon ones and unclosed pools, flushes output.
/// Call it at the end of a plain program's `main` to get the same behaviour.
pub fn end_cell() {
    lifecycle::end_cell();
}

#[cfg(test)]
mod tests;
