//! Python's `threading` module: [`Thread`], the registry behind
//! [`enumerate`], [`active_count`] and [`current_thread`], [`Lock`] and
//! [`Event`]. Threads are real OS threads; the registry lives in the
//! process-wide state (never in a `thread_local!`, which exists once per cell)
//! and identifies threads by `pthread_self`, Python's `get_ident()`.

mod event;
mod lock;
pub(crate) mod os_threads;

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use crate::interrupt::{deadline_after, wait_for};
use crate::state::{state, State};
use crate::timeline;

pub use event::Event;
pub use lock::{Lock, LockGuard};

/// A real OS thread, like Python's `threading.Thread(target=f)`: build it with
/// `Thread::new(f)`, optionally `.name("sing")` and `.daemon(true)`, then
/// `start()` and `join()`. Clones are handles to the same thread.
#[derive(Clone)]
pub struct Thread {
    shared: Arc<ThreadShared>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Initial,
    Starting,
    Started,
    Stopped,
}

/// The registry's record of a prelude thread, shared by its handles.
pub(crate) struct ThreadShared {
    name: Mutex<String>,
    daemon: AtomicBool,
    target: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    ident: AtomicU64,
    native_id: AtomicU32,
    phase: Mutex<Phase>,
    phase_changed: Condvar,
    abandoned: AtomicBool,
    /// Pool workers hand a task's panic to its result instead of printing it.
    pool_worker: AtomicBool,
    /// Its `:timeline` lane, given when it starts.
    lane: timeline::ThreadLane,
}

impl Thread {
    /// A thread that will run `target` once started (Python's `Thread(target=f)`;
    /// pass arguments by capturing them: `Thread::new(move || work(1000))`).
    pub fn new<F: FnOnce() + Send + 'static>(target: F) -> Thread {
        let state = state();
        let number = state.thread_counter.fetch_add(1, Ordering::Relaxed);
        let name = match function_name::<F>() {
            Some(function) => format!("Thread-{number} ({function})"),
            None => format!("Thread-{number}"),
        };
        let daemon = current_thread_record(state)
            .is_some_and(|thread| thread.daemon.load(Ordering::Relaxed));
        Thread {
            shared: Arc::new(ThreadShared {
                name: Mutex::new(name),
                daemon: AtomicBool::new(daemon),
                target: Mutex::new(Some(Box::new(target))),
                ident: AtomicU64::new(0),
                native_id: AtomicU32::new(0),
                phase: Mutex::new(Phase::Initial),
                phase_changed: Condvar::new(),
                abandoned: AtomicBool::new(false),
                pool_worker: AtomicBool::new(false),
                lane: timeline::ThreadLane::default(),
            }),
        }
    }

    /// Sets the thread's name (Python's `name=`); returns the handle, so it chains.
    pub fn name(&self, name: &str) -> Thread {
        *self.shared.name.lock() = name.to_string();
        self.clone()
    }

    /// Makes it a daemon thread (Python's `daemon=True`): the cell does not wait
    /// for it, and it is abandoned when the cell ends. Only before `start()`.
    pub fn daemon(&self, daemon: bool) -> Thread {
        if *self.shared.phase.lock() != Phase::Initial {
            panic!("cannot set daemon status of active thread");
        }
        self.shared.daemon.store(daemon, Ordering::Relaxed);
        self.clone()
    }

    /// Starts the thread (Python's `t.start()`); a thread starts only once.
    pub fn start(&self) {
        let shared = &self.shared;
        {
            let mut phase = shared.phase.lock();
            if *phase != Phase::Initial {
                panic!("threads can only be started once");
            }
            *phase = Phase::Starting;
        }
        let target = shared
            .target
            .lock()
            .take()
            .expect("a thread in its initial phase has its target");
        let state = state();
        state.threads.lock().push(shared.clone());
        timeline::thread_starting(&shared.name.lock(), &shared.lane);
        let runner = shared.clone();
        match os_threads::run_job(Box::new(move || run_thread(runner, target))) {
            Ok(ident) => {
                // Known at once: no need to wait for the thread to run.
                shared.ident.store(ident, Ordering::Relaxed);
                let mut phase = shared.phase.lock();
                if *phase == Phase::Starting {
                    *phase = Phase::Started;
                }
            }
            Err(error) => {
                timeline::thread_never_ran(&shared.lane);
                shared.finish(state);
                panic!("can't start new thread: {error}");
            }
        }
    }

    /// Waits until the thread ends (Python's `t.join()`); can be called again.
    pub fn join(&self) {
        self.shared.join_until(None);
    }

    /// Waits at most `seconds` for the thread to end; returns whether it ended
    /// (Python's `t.join(timeout)` followed by `not t.is_alive()`).
    pub fn join_timeout(&self, seconds: f64) -> bool {
        self.shared.join_until(deadline_after(seconds))
    }

    /// Whether the thread has started and not yet ended (Python's `t.is_alive()`).
    pub fn is_alive(&self) -> bool {
        matches!(*self.shared.phase.lock(), Phase::Starting | Phase::Started)
    }

    /// Whether it is a daemon thread (Python's `t.daemon`).
    pub fn is_daemon(&self) -> bool {
        self.shared.daemon.load(Ordering::Relaxed)
    }

    /// The thread's identifier once started (Python's `t.ident`, a `pthread_t`).
    pub fn ident(&self) -> Option<u64> {
        Some(self.shared.ident.load(Ordering::Relaxed)).filter(|&ident| ident != 0)
    }

    /// The OS thread id once started (Python's `t.native_id`, as `ps -L` shows).
    pub fn native_id(&self) -> Option<u32> {
        let mut phase = self.shared.phase.lock();
        // The thread records its id as its first act; wait for that if needed.
        while *phase == Phase::Started && self.shared.native_id.load(Ordering::Relaxed) == 0 {
            self.shared.phase_changed.wait(&mut phase);
        }
        Some(self.shared.native_id.load(Ordering::Relaxed)).filter(|&id| id != 0)
    }
}

impl Thread {
    /// Marks it as a pool worker, whose task panics are not printed.
    pub(crate) fn mark_pool_worker(&self) {
        self.shared.pool_worker.store(true, Ordering::Relaxed);
    }

    /// Gives the thread up (see [`ThreadShared::abandon`]).
    pub(crate) fn abandon(&self, state: &State) {
        self.shared.abandon(state);
    }
}

impl fmt::Display for Thread {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.shared.info())
    }
}

impl fmt::Debug for Thread {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, formatter)
    }
}

/// The body of every prelude thread: announce, run, unregister.
fn run_thread(shared: Arc<ThreadShared>, target: Box<dyn FnOnce() + Send>) {
    name_os_thread(&shared.name());
    // SAFETY: pthread_self has no preconditions.
    let ident = unsafe { libc::pthread_self() } as u64;
    // SAFETY: gettid has no preconditions.
    let native_id = unsafe { libc::gettid() } as u32;
    shared.ident.store(ident, Ordering::Relaxed);
    shared.native_id.store(native_id, Ordering::Relaxed);
    {
        let _phase = shared.phase.lock();
        shared.phase_changed.notify_all();
    }
    // A panic was already reported by the hook; a quiet stop needs no report.
    let _ = catch_unwind(AssertUnwindSafe(target));
    crate::lifecycle::flush_standard_streams();
    timeline::thread_ended(&shared.lane);
    shared.finish(state());
}

impl ThreadShared {
    /// The thread's current name.
    pub(crate) fn name(&self) -> String {
        self.name.lock().clone()
    }

    /// Its `:timeline` lane, given when it started.
    pub(crate) fn lane(&self) -> &timeline::ThreadLane {
        &self.lane
    }

    /// Whether the panic hook should print this thread's panics.
    pub(crate) fn reports_panics(&self) -> bool {
        !self.pool_worker.load(Ordering::Relaxed)
    }

    /// Marks the thread ended and takes it out of the registry.
    fn finish(self: &Arc<Self>, state: &State) {
        {
            let mut phase = self.phase.lock();
            *phase = Phase::Stopped;
            if self.abandoned.load(Ordering::Relaxed) {
                state.abandoned_threads.fetch_sub(1, Ordering::SeqCst);
            }
            self.phase_changed.notify_all();
        }
        state
            .threads
            .lock()
            .retain(|thread| !Arc::ptr_eq(thread, self));
    }

    /// Whether the main program must wait for it at its end.
    pub(crate) fn waits_at_exit(&self) -> bool {
        !self.daemon.load(Ordering::Relaxed)
            && !self.abandoned.load(Ordering::Relaxed)
            && *self.phase.lock() != Phase::Stopped
    }

    /// Waits for the thread to end, until `deadline`; returns whether it ended.
    pub(crate) fn join_until(&self, deadline: Option<Instant>) -> bool {
        if *self.phase.lock() == Phase::Initial {
            panic!("cannot join thread before it is started");
        }
        // SAFETY: pthread_self has no preconditions.
        if self.ident.load(Ordering::Relaxed) == unsafe { libc::pthread_self() } as u64 {
            panic!("cannot join current thread");
        }
        let joined = || {
            wait_for(deadline, |slice| {
                let mut phase = self.phase.lock();
                if *phase != Phase::Stopped {
                    self.phase_changed.wait_for(&mut phase, slice);
                }
                (*phase == Phase::Stopped).then_some(())
            })
            .is_some()
        };
        timeline::joining(&self.lane, || self.name(), joined)
    }

    /// Gives the thread up at its cell's end: its output is dropped from now on,
    /// its blocking prelude calls unwind, and `enumerate()` no longer lists it.
    pub(crate) fn abandon(&self, state: &State) {
        let phase = self.phase.lock();
        if *phase != Phase::Stopped && !self.abandoned.swap(true, Ordering::SeqCst) {
            state.abandoned_threads.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn info(&self) -> ThreadInfo {
        let phase = *self.phase.lock();
        ThreadInfo {
            name: self.name(),
            ident: self.ident.load(Ordering::Relaxed),
            native_id: self.native_id.load(Ordering::Relaxed),
            daemon: self.daemon.load(Ordering::Relaxed),
            kind: ThreadKind::Prelude,
            status: match phase {
                Phase::Initial => "initial",
                Phase::Starting | Phase::Started => "started",
                Phase::Stopped => "stopped",
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ThreadKind {
    Main,
    Prelude,
    Dummy,
}

/// What `current_thread()` and `enumerate()` tell about a thread (Python's
/// thread objects seen from outside): `.name()`, `.ident()`, and a Display
/// like Python's repr, `<Thread(Thread-1 (sing), started 1403…)>`.
#[derive(Debug, Clone)]
pub struct ThreadInfo {
    name: String,
    ident: u64,
    native_id: u32,
    daemon: bool,
    kind: ThreadKind,
    status: &'static str,
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

/// Gives the calling OS thread `name` (its first 15 bytes), as `ps -L` and
/// debuggers show it; reused OS threads take each prelude thread's name.
fn name_os_thread(name: &str) {
    let mut bytes: Vec<u8> = name.bytes().filter(|&byte| byte != 0).take(15).collect();
    while std::str::from_utf8(&bytes).is_err() {
        bytes.pop();
    }
    bytes.push(0);
    // SAFETY: a NUL-terminated name of at most 16 bytes for the calling thread.
    unsafe { libc::pthread_setname_np(libc::pthread_self(), bytes.as_ptr().cast()) };
}

/// Whether the caller runs on its process's main thread (where cells run).
pub(crate) fn is_main_thread() -> bool {
    // SAFETY: gettid and getpid have no preconditions.
    unsafe { libc::gettid() == libc::getpid() }
}

/// The identifier of the calling thread, like Python's `threading.get_ident()`.
pub fn get_ident() -> u64 {
    // SAFETY: pthread_self has no preconditions.
    unsafe { libc::pthread_self() as u64 }
}

/// The OS id of the calling thread, like Python's `threading.get_native_id()`.
pub fn get_native_id() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

/// The calling thread, like Python's `threading.current_thread()`.
pub fn current_thread() -> ThreadInfo {
    let state = state();
    if is_main_thread() {
        state.main_ident.store(get_ident(), Ordering::Relaxed);
        return main_thread_info(state);
    }
    if let Some(thread) = current_thread_record(state) {
        return thread.info();
    }
    let ident = get_ident();
    let mut dummies = state.dummy_threads.lock();
    let name = match dummies.iter().find(|(known, _)| *known == ident) {
        Some((_, name)) => name.clone(),
        None => {
            let name = format!(
                "Dummy-{}",
                state.dummy_counter.fetch_add(1, Ordering::Relaxed)
            );
            dummies.push((ident, name.clone()));
            name
        }
    };
    ThreadInfo {
        name,
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
    let mut threads = vec![main_thread_info(state)];
    let registered: Vec<_> = state.threads.lock().clone();
    threads.extend(
        registered
            .iter()
            .filter(|thread| !thread.abandoned.load(Ordering::Relaxed))
            .map(|thread| thread.info())
            .filter(|info| info.status == "started"),
    );
    threads
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

/// The registry record of the calling thread, if the prelude started it.
pub(crate) fn current_thread_record(state: &State) -> Option<Arc<ThreadShared>> {
    let ident = get_ident();
    state
        .threads
        .lock()
        .iter()
        .find(|thread| thread.ident.load(Ordering::Relaxed) == ident)
        .cloned()
}

/// Whether the calling thread was abandoned at its cell's end.
pub(crate) fn current_thread_abandoned(state: &State) -> bool {
    state.abandoned_threads.load(Ordering::SeqCst) > 0
        && current_thread_record(state)
            .is_some_and(|thread| thread.abandoned.load(Ordering::SeqCst))
}

/// The name of a function item (`sing` for `Thread::new(sing)`); `None` for closures.
pub(crate) fn function_name<F>() -> Option<&'static str> {
    let full = std::any::type_name::<F>();
    if full.contains('{') || full.contains('<') {
        return None;
    }
    full.rsplit("::").next()
}
