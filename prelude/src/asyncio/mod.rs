//! Python's `asyncio`: coroutines (`async fn`, `.await`) taking turns on one
//! thread. [`run`] starts a fresh event loop for one coroutine, as Python's
//! `asyncio.run` does; inside it, [`sleep`], [`gather`], [`create_task`] and
//! the TCP streams ([`start_server`], [`open_connection`]) wait without
//! blocking the thread, so the loop runs another task meanwhile.
//!
//! ```
//! use multitask::asyncio;
//!
//! async fn fetch(i: u32) -> u32 {
//!     asyncio::sleep(0.3).await; // this task waits; the others run
//!     i * 10
//! }
//! let answers = asyncio::run(asyncio::gather((0..100).map(fetch))); // ~0.3 s, not 30 s
//! assert_eq!(answers[99], 990);
//! ```
//!
//! **The executor is our own, on `async-task`.** A loop is a queue of ready
//! tasks, a map of timers and a list of sockets asked about with `poll(2)`,
//! all on `run`'s stack (`event_loop`); `async-task` (smol's task core, no
//! dependencies of its own) gives the task allocation, its waker and the
//! [`Task`] handle, the parts that are easy to get subtly wrong by hand.
//! The ready-made runtimes were set aside for three reasons:
//! - **fork.** tokio, and smol's `async-io`, keep a process-wide reactor: an
//!   epoll fd and a driver thread. A forked child inherits the epoll fd (the
//!   same kernel object as its parent's) but not the thread, so a child's
//!   `asyncio::run` after its parent's would hang or steal the parent's events
//!   (field notes: "a tokio runtime does not survive into a fork child").
//!   Here a child starts with no loop and builds its own.
//! - **one copy per cell.** Every cell links its own copy of the prelude, so a
//!   library's `static` reactor would be a new reactor, thread and epoll fd
//!   per cell that uses it. The running loop is found through the prelude's
//!   process-wide state instead, by thread.
//! - **cost.** `async-task` compiles in about a second and adds nothing to a
//!   cell that does not use it; tokio's or smol's stacks add many crates to
//!   the prelude's first build, which every learner waits for.
//!
//! The loop waits in slices of the prelude's interrupt poll (20 ms), so ■
//! stops `asyncio::run` with the usual KeyboardInterrupt; a panic in any task
//! unwinds out of `run` as the cell's error (Python would report it only when
//! the task is awaited; a hang would be worse). Left-over tasks are dropped
//! when `run` returns, as Python's `run` cancels them. On `:timeline` the
//! loop's waits for timers alone show as sleeps.
//!
//! **Streams, Python's way.** [`start_server`]`(handler, host, port)` and
//! [`open_connection`]`(host, port)` hand out a [`StreamReader`] and a
//! [`StreamWriter`], as Python's do: a cell then reads like the tutorial's
//! Python (`reader.readline().await`, `writer.write(..)`,
//! `writer.drain().await`), the handler is a plain `async fn`, and a reader
//! and a writer can live in different tasks. Async `TcpListener`/`TcpStream`
//! would read more like Rust's std but less like the course's Python.

mod event_loop;
mod gather;
mod streams;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use event_loop::{with_loop, with_running, TimerKey};

pub use gather::{gather, Gather};
pub use streams::{open_connection, start_server, Server, StreamReader, StreamWriter};

/// Runs the coroutine `main` to its end on a new event loop and returns its
/// value, like Python's `asyncio.run(main())`. The calling thread runs every
/// task of the loop; tasks still pending when `main` ends are dropped. The
/// notebook's ■ interrupts it.
///
/// `main` may borrow the caller's locals; tasks made with [`create_task`]
/// may not (they can outlive the code that made them).
pub fn run<F: Future>(main: F) -> F::Output {
    event_loop::run(main)
}

/// Waits `seconds` without blocking the thread, like Python's
/// `await asyncio.sleep(seconds)`: the loop runs other tasks meanwhile.
/// Even `sleep(0.0)` lets the others have a turn.
pub fn sleep(seconds: f64) -> Sleep {
    Sleep {
        deadline: crate::interrupt::deadline_after(seconds),
        timer: None,
        yielded: false,
    }
}

/// The future [`sleep`] returns; `.await` it.
#[must_use = "a coroutine sleep does nothing unless it is awaited: asyncio::sleep(0.3).await"]
pub struct Sleep {
    /// `None`: a sleep too long to represent, which never ends.
    deadline: Option<Instant>,
    timer: Option<TimerKey>,
    yielded: bool,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        let due = self
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline);
        if due && self.yielded {
            if let Some(key) = self.timer.take() {
                with_running(|event_loop| event_loop.remove_timer(key));
            }
            return Poll::Ready(());
        }
        self.yielded = true;
        if due {
            context.waker().wake_by_ref();
            return Poll::Pending;
        }
        let (deadline, timer) = (self.deadline, self.timer);
        self.timer = with_loop("asyncio::sleep", |event_loop| {
            let key = match (timer, deadline) {
                (Some(key), _) => key,
                (None, Some(deadline)) => event_loop.timer_key(deadline),
                // Never due: no timer; the loop still answers interrupts.
                (None, None) => return None,
            };
            event_loop.set_timer(key, context.waker().clone());
            Some(key)
        });
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.timer {
            with_running(|event_loop| event_loop.remove_timer(key));
        }
    }
}

/// Schedules `future` to run as a task of the running loop, concurrently
/// with the coroutine that made it, like Python's `asyncio.create_task`.
/// Awaiting the [`Task`] gives the future's value; dropping it lets the task
/// run on (until `asyncio::run` ends).
pub fn create_task<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    Task {
        inner: Some(with_loop("asyncio::create_task", |event_loop| {
            event_loop.spawn(future)
        })),
    }
}

/// A running task (Python's `asyncio.Task`); `.await` it for its value.
#[must_use = "a task runs on its own; await it to get its value"]
pub struct Task<T> {
    /// Emptied only by `drop`, which detaches the task instead of cancelling it.
    inner: Option<async_task::Task<T>>,
}

impl<T> Task<T> {
    /// Whether the task has finished, like Python's `task.done()`.
    pub fn done(&self) -> bool {
        self.inner.as_ref().is_some_and(|task| task.is_finished())
    }

    /// Cancels the task, like Python's `task.cancel()`: it is dropped where
    /// it waits and never resumes.
    pub fn cancel(mut self) {
        drop(self.inner.take());
    }
}

impl<T> Future for Task<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<T> {
        match self.inner.as_mut() {
            Some(task) => Pin::new(task).poll(context),
            None => unreachable!("a Task is emptied only when it is dropped"),
        }
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        if let Some(task) = self.inner.take() {
            task.detach();
        }
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.done() { "done" } else { "pending" };
        write!(formatter, "<Task {state}>")
    }
}
