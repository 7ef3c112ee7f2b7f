//! Python's `threading` module: [`Thread`], the registry behind
//! [`enumerate`], [`active_count`] and [`current_thread`], [`Lock`] and
//! [`Event`]. Threads are real OS threads; the registry hangs off the
//! process-wide state (never in a `thread_local!`, which exists once per cell)
//! and identifies threads by `pthread_self`, Python's `get_ident()`.
//! `thread` holds [`Thread`] and its record; `registry` the queries about
//! who runs ([`current_thread`], [`enumerate`], …).

mod event;
mod lock;
mod os_threads;
mod registry;
mod thread;

pub use event::Event;
pub use lock::{Lock, LockGuard};
pub use registry::{active_count, current_thread, enumerate, get_ident, get_native_id, ThreadInfo};
pub use thread::Thread;
