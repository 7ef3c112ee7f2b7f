//! The registry of prelude threads ([`Threads`]) and the queries over it:
//! [`current_thread`], [`enumerate`], [`active_count`], [`get_ident`], and
//! the [`ThreadInfo`] they return. The registry hangs off the process-wide
//! state (never in a `thread_local!`, which exists once per cell), where the
//! cell's end and the layers below reach it as a [`ThreadRegistry`], and
//! identifies threads by `pthread_self`, Python's `get_ident()`; threads the
//! prelude did not start are Python's dummy threads, named on first sight.

use std::any::Any;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::os_threads::IdleThread;
use super::thread::ThreadShared;
use crate::state::{state, State, ThreadRegistry, ThreadSighting};
use crate::sync::Mutex;

/// This process's prelude threads that still run (abandoned ones included)
/// and the OS threads waiting to run the next one.
#[derive(Default)]
pub(crate) struct Threads {
    pub(super) running: Mutex<Vec<Arc<ThreadShared>>>,
    pub(super) idle: Mutex<Vec<IdleThread>>,
}

/// This process's [`Threads`], made on its first use in the process.
pub(super) fn threads(state: &State) -> &'static Threads {
    let registry: &'static dyn ThreadRegistry = *state
        .threads
        .get_or_init(|| Box::leak(Box::<Threads>::default()));
    // Every cell's copy of the crate has the same `TypeId` for `Threads`.
    let registry: &'static dyn Any = registry;
    registry
        .downcast_ref()
        .expect("only `threading` fills `State::threads`")
}

impl Threads {
    /// The record of the calling thread, if the prelude started it.
    pub(super) fn current_record(&self) -> Option<Arc<ThreadShared>> {
        let ident = crate::sys::thread_ident();
        self.running
            .lock()
            .iter()
            .find(|thread| thread.ident.load(Ordering::Relaxed) == ident)
            .cloned()
    }
}

impl ThreadRegistry for Threads {
    fn current(&self) -> Option<ThreadSighting> {
        let thread = self.current_record()?;
        Some(ThreadSighting {
            name: thread.name(),
            reports_panics: thread.reports_panics(),
            lane: thread.lane().ticket(),
        })
    }

    fn current_abandoned(&self) -> bool {
        self.current_record()
            .is_some_and(|thread| thread.abandoned.load(Ordering::SeqCst))
    }

    fn join_waiting(&self) {
        loop {
            let waiting: Vec<_> = self
                .running
                .lock()
                .iter()
                .filter(|thread| thread.waits_at_exit())
                .cloned()
                .collect();
            if waiting.is_empty() {
                return;
            }
            for thread in waiting {
                thread.join_until(None);
            }
        }
    }

    fn abandon_all(&self, state: &State) {
        let running: Vec<_> = self.running.lock().clone();
        for thread in running {
            thread.abandon(state);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ThreadKind {
    Main,
    Prelude,
    Dummy,
}

/// What `current_thread()` and `enumerate()` tell about a thread (Python's
/// thread objects seen from outside): `.name()`, `.ident()`, and a Display
/// like Python's repr, `<Thread(Thread-1 (sing), started 1403…)>`.
#[derive(Debug, Clone)]
pub struct ThreadInfo {
    pub(super) name: String,
    pub(super) ident: u64,
    pub(super) native_id: u32,
    pub(super) daemon: bool,
    pub(super) kind: ThreadKind,
    pub(super) status: &'static str,
}

impl ThreadInfo {
    /// The thread's name (`MainThread`, `Thread-1 (sing)`, …).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The thread's identifier (Python's `ident`).
    pub fn ident(&self) -> u64 {
        self.ident
    }

    /// The OS thread id (Python's `native_id`).
    pub fn native_id(&self) -> u32 {
        self.native_id
    }

    /// Whether it is a daemon thread.
    pub fn is_daemon(&self) -> bool {
        self.daemon
    }
}

impl fmt::Display for ThreadInfo {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = match self.kind {
            ThreadKind::Main => "_MainThread",
            ThreadKind::Prelude => "Thread",
            ThreadKind::Dummy => "_DummyThread",
        };
        write!(formatter, "<{class}({}, {}", self.name, self.status)?;
        if self.daemon {
            write!(formatter, " daemon")?;
        }
        if self.ident != 0 {
            write!(formatter, " {}", self.ident)?;
        }
        write!(formatter, ")>")
    }
}

/// The identifier of the calling thread, like Python's `threading.get_ident()`.
pub fn get_ident() -> u64 {
    crate::sys::thread_ident()
}

/// The OS id of the calling thread, like Python's `threading.get_native_id()`.
pub fn get_native_id() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

/// The calling thread, like Python's `threading.current_thread()`.
pub fn current_thread() -> ThreadInfo {
    let state = state();
    if crate::sys::is_main_thread() {
        state.main_ident.store(get_ident(), Ordering::Relaxed);
        return main_thread_info(state);
    }
    if let Some(thread) = threads(state).current_record() {
        return thread.info();
    }
    let ident = get_ident();
    ThreadInfo {
        name: state.dummy_thread_name(ident),
        ident,
        native_id: get_native_id(),
        daemon: true,
        kind: ThreadKind::Dummy,
        status: "started",
    }
}

/// The main thread and every running thread started through the prelude,
/// like Python's `threading.enumerate()`.
pub fn enumerate() -> Vec<ThreadInfo> {
    let state = state();
    let registered: Vec<_> = threads(state).running.lock().clone();
    let mut listed = vec![main_thread_info(state)];
    listed.extend(
        registered
            .iter()
            .filter(|thread| !thread.abandoned.load(Ordering::Relaxed))
            .map(|thread| thread.info())
            .filter(|info| info.status == "started"),
    );
    listed
}

/// How many threads `enumerate()` lists, like Python's `threading.active_count()`.
pub fn active_count() -> usize {
    enumerate().len()
}

fn main_thread_info(state: &State) -> ThreadInfo {
    ThreadInfo {
        name: "MainThread".to_string(),
        ident: state.main_ident.load(Ordering::Relaxed),
        native_id: std::process::id(),
        daemon: false,
        kind: ThreadKind::Main,
        status: "started",
    }
}
