//! The event loop behind one `asyncio::run` call: the queue of ready tasks,
//! the timers of `asyncio::sleep`, the sockets coroutines wait on, and the
//! loop that runs them on the calling thread until the main coroutine ends.
//!
//! A loop lives on `run`'s stack and is found by coroutines through the
//! process-wide state ([`State::event_loops`](crate::state::State)), keyed by
//! thread. It owns no thread and no kernel object: readiness is asked of
//! `poll(2)` with the list of sockets waited on, so a `fork` (from a
//! coroutine, or after `run` returned) leaves the child nothing to share.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::os::fd::RawFd;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use async_task::Runnable;

use crate::interrupt::{check_interrupt, wait_for};
use crate::state::state;
use crate::sync::Mutex;
use crate::threading::get_ident;
use crate::timeline::Kind;

/// Where a timer sits in the loop: its deadline, then a number that makes
/// equal deadlines distinct.
pub(crate) type TimerKey = (Instant, u64);

/// Tasks woken and ready to run. Wakers may be called on any thread, so this
/// part is shared and locked; everything else of the loop is this thread's.
#[derive(Default)]
struct ReadyQueue {
    runnables: Mutex<VecDeque<Runnable>>,
    /// Set once the loop is torn down: a task woken later is leaked, not
    /// queued (its `Runnable` must not be dropped on the waking thread).
    closed: AtomicBool,
}

impl ReadyQueue {
    fn push(&self, runnable: Runnable) {
        let mut runnables = self.runnables.lock();
        if self.closed.load(Ordering::Acquire) {
            std::mem::forget(runnable);
        } else {
            runnables.push_back(runnable);
        }
    }

    fn pop(&self) -> Option<Runnable> {
        self.runnables.lock().pop_front()
    }

    fn is_empty(&self) -> bool {
        self.runnables.lock().is_empty()
    }
}

/// The waker of the coroutine given to `run`, which is polled in place (so it
/// may borrow the caller's locals) rather than spawned as a task.
#[derive(Default)]
struct MainWaker {
    woken: AtomicBool,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
    }
}

/// A socket a task waits on until `poll(2)` reports `events` on it.
struct IoWait {
    fd: RawFd,
    events: libc::c_short,
    waker: Waker,
}

/// One `asyncio::run`'s loop (see the module doc).
pub(crate) struct EventLoop {
    ready: Arc<ReadyQueue>,
    timers: RefCell<BTreeMap<TimerKey, Waker>>,
    next_timer: Cell<u64>,
    io: RefCell<Vec<IoWait>>,
}

/// Runs `main` on a new event loop on the calling thread until it completes.
pub(crate) fn run<F: Future>(main: F) -> F::Output {
    let me = get_ident();
    if state()
        .event_loops
        .lock()
        .iter()
        .any(|(thread, _)| *thread == me)
    {
        panic!("asyncio::run() cannot be called from a running event loop (RuntimeError): await the coroutine instead");
    }
    let event_loop = EventLoop {
        ready: Arc::default(),
        timers: RefCell::default(),
        next_timer: Cell::new(0),
        io: RefCell::default(),
    };
    // Declared before `main`, so dropped after it: the coroutine's own drops
    // (timers, sockets) still find their loop.
    let _registration = Registration::new(&event_loop);
    let main_waker = Arc::new(MainWaker {
        woken: AtomicBool::new(true),
    });
    let waker = Waker::from(Arc::clone(&main_waker));
    let mut context = Context::from_waker(&waker);
    let mut main = pin!(main);
    loop {
        if main_waker.woken.swap(false, Ordering::AcqRel) {
            if let Poll::Ready(value) = main.as_mut().poll(&mut context) {
                return value;
            }
        }
        // A task that panics unwinds out of here and out of `run`: the
        // panic is the cell's error, as an uncaught exception would be.
        event_loop.run_ready();
        event_loop.fire_timers();
        if event_loop.ready.is_empty() && !main_waker.woken.load(Ordering::Acquire) {
            event_loop.wait(&main_waker);
        }
        check_interrupt();
    }
}

/// Runs `operation` with the calling thread's running loop, or returns `None`
/// when the thread runs none.
pub(crate) fn with_running<R>(operation: impl FnOnce(&EventLoop) -> R) -> Option<R> {
    let me = get_ident();
    let address = state()
        .event_loops
        .lock()
        .iter()
        .find(|(thread, _)| *thread == me)
        .map(|(_, address)| *address)?;
    // SAFETY: an entry exists only while its `Registration` lives, which
    // borrows the loop on `run`'s stack; the entry names this thread, so the
    // loop is alive and used only here (its `RefCell`s are not shared).
    let event_loop = unsafe { &*(address as *const EventLoop) };
    Some(operation(event_loop))
}

/// Like [`with_running`], but a coroutine polled outside `asyncio::run` is an
/// error that names what was misused.
pub(crate) fn with_loop<R>(what: &str, operation: impl FnOnce(&EventLoop) -> R) -> R {
    with_running(operation).unwrap_or_else(|| {
        panic!("{what} needs a running event loop (RuntimeError: no running event loop): use it inside asyncio::run(...)")
    })
}

impl EventLoop {
    /// Schedules `future` as a task of this loop.
    pub(crate) fn spawn<F>(&self, future: F) -> async_task::Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let ready = Arc::clone(&self.ready);
        let (runnable, task) =
            async_task::spawn_local(future, move |runnable| ready.push(runnable));
        runnable.schedule();
        task
    }

    /// A new timer key for `deadline`.
    pub(crate) fn timer_key(&self, deadline: Instant) -> TimerKey {
        let number = self.next_timer.get();
        self.next_timer.set(number + 1);
        (deadline, number)
    }

    /// Wakes `waker` when the timer's deadline passes (replacing its earlier waker).
    pub(crate) fn set_timer(&self, key: TimerKey, waker: Waker) {
        self.timers.borrow_mut().insert(key, waker);
    }

    pub(crate) fn remove_timer(&self, key: TimerKey) {
        self.timers.borrow_mut().remove(&key);
    }

    /// Wakes `waker` once `poll(2)` reports `events` on `fd` (replacing an
    /// earlier waker for the same fd and events).
    pub(crate) fn wait_for_fd(&self, fd: RawFd, events: libc::c_short, waker: Waker) {
        let mut io = self.io.borrow_mut();
        match io
            .iter_mut()
            .find(|wait| wait.fd == fd && wait.events == events)
        {
            Some(wait) => wait.waker = waker,
            None => io.push(IoWait { fd, events, waker }),
        }
    }

    /// Whether a task still waits for `events` on `fd` (the entry goes when they come).
    pub(crate) fn is_waiting_for_fd(&self, fd: RawFd, events: libc::c_short) -> bool {
        (self.io.borrow().iter()).any(|wait| wait.fd == fd && wait.events == events)
    }

    /// Drops every wait on `fd` (the socket is being closed).
    pub(crate) fn forget_fd(&self, fd: RawFd) {
        let gone: Vec<IoWait> = {
            let mut io = self.io.borrow_mut();
            let (gone, kept) = std::mem::take(&mut *io)
                .into_iter()
                .partition(|wait| wait.fd == fd);
            *io = kept;
            gone
        };
        // Dropped outside the borrow: a waker may be a task's last reference.
        drop(gone);
    }

    /// Runs the tasks that are ready now (not the ones they wake: timers and
    /// sockets get their turn in between).
    fn run_ready(&self) {
        let count = self.ready.runnables.lock().len();
        for _ in 0..count {
            match self.ready.pop() {
                Some(runnable) => {
                    runnable.run();
                }
                None => break,
            }
        }
    }

    /// Wakes the tasks whose timers have passed.
    fn fire_timers(&self) {
        let now = Instant::now();
        loop {
            let expired = {
                let mut timers = self.timers.borrow_mut();
                match timers.first_key_value() {
                    Some(((deadline, _), _)) if *deadline <= now => timers.pop_first(),
                    _ => None,
                }
            };
            match expired {
                Some((_, waker)) => waker.wake(),
                None => break,
            }
        }
    }

    /// Nothing is ready: waits, interruptibly, until a socket is ready, the
    /// next timer is due, or a waker on another thread queued a task. A wait
    /// for timers alone shows on `:timeline` as the sleep it is.
    fn wait(&self, main: &MainWaker) {
        let next_timer = self
            .timers
            .borrow()
            .keys()
            .next()
            .map(|(deadline, _)| *deadline);
        let woken = || !self.ready.is_empty() || main.woken.load(Ordering::Acquire);
        let wait = || {
            wait_for(next_timer, |slice| {
                (self.poll_sockets(slice) || woken()).then_some(())
            })
        };
        if self.io.borrow().is_empty() && next_timer.is_some() {
            crate::timeline::waiting(Kind::Sleep, String::new, wait);
        } else {
            wait();
        }
    }

    /// One `poll(2)` of at most `slice` over the sockets waited on; wakes the
    /// tasks of those that are ready and tells whether there were any.
    fn poll_sockets(&self, slice: Duration) -> bool {
        let mut fds: Vec<libc::pollfd> = (self.io.borrow().iter())
            .map(|wait| libc::pollfd {
                fd: wait.fd,
                events: wait.events,
                revents: 0,
            })
            .collect();
        // Rounded up, so a timer due in 0.4 ms is not polled for in a spin.
        let timeout = slice.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs.
        let count = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if count <= 0 {
            // Nothing ready, or EINTR: the caller looks again.
            return false;
        }
        let ready: Vec<IoWait> = {
            let mut io = self.io.borrow_mut();
            let (ready, kept) = std::mem::take(&mut *io).into_iter().partition(|wait| {
                fds.iter().any(|polled| {
                    polled.fd == wait.fd && polled.events == wait.events && polled.revents != 0
                })
            });
            *io = kept;
            ready
        };
        let any = !ready.is_empty();
        for wait in ready {
            wait.waker.wake();
        }
        any
    }

    /// Drops what the loop still holds, as Python's `run` cancels the tasks
    /// left at its end. Dropping a task may drop wakers of others, so this
    /// repeats until nothing is left; each batch is taken out of its cell
    /// first, since the dropped futures unregister themselves from the loop.
    fn tear_down(&self) {
        loop {
            let runnables = std::mem::take(&mut *self.ready.runnables.lock());
            let timers = std::mem::take(&mut *self.timers.borrow_mut());
            let io = std::mem::take(&mut *self.io.borrow_mut());
            if runnables.is_empty() && timers.is_empty() && io.is_empty() {
                break;
            }
            drop((runnables, timers, io));
        }
        self.ready.closed.store(true, Ordering::Release);
        drop(std::mem::take(&mut *self.ready.runnables.lock()));
    }
}

/// The loop's entry in the process-wide state, for as long as `run` runs it;
/// dropping it (also when `run` unwinds) tears the loop down, then removes it.
struct Registration<'a> {
    event_loop: &'a EventLoop,
    thread: u64,
}

impl<'a> Registration<'a> {
    fn new(event_loop: &'a EventLoop) -> Registration<'a> {
        let thread = get_ident();
        let address = event_loop as *const EventLoop as usize;
        state().event_loops.lock().push((thread, address));
        Registration { event_loop, thread }
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.event_loop.tear_down();
        state()
            .event_loops
            .lock()
            .retain(|(thread, _)| *thread != self.thread);
    }
}
