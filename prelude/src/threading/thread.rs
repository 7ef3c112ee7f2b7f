//! [`Thread`], Python's `threading.Thread`: a handle to a [`ThreadShared`]
//! record, which holds the thread's name, phase and flags and which the
//! registry (`registry::Threads`) keeps while the thread runs.
//! The thread runs on an OS thread from `os_threads`; its body announces
//! itself (ident, native id, OS thread name), runs the target and takes its
//! record out of the registry.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::os_threads;
use super::registry::{threads, ThreadInfo, ThreadKind};
use crate::interrupt::{deadline_after, wait_for};
use crate::state::{state, State};
use crate::sync::{Condvar, Mutex};
use crate::timeline;

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
    pub(crate) ident: AtomicU64,
    native_id: AtomicU32,
    phase: Mutex<Phase>,
    phase_changed: Condvar,
    pub(crate) abandoned: AtomicBool,
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
        let daemon = threads(state)
            .current_record()
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
        threads(state).running.lock().push(shared.clone());
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
        threads(state)
            .running
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

    pub(super) fn info(&self) -> ThreadInfo {
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

/// The name of a function item (`sing` for `Thread::new(sing)`); `None` for closures.
pub(crate) fn function_name<F>() -> Option<&'static str> {
    let full = std::any::type_name::<F>();
    if full.contains('{') || full.contains('<') {
        return None;
    }
    full.rsplit("::").next()
}
