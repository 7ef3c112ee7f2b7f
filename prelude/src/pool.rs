//! Pools: [`ThreadPool`], Python's `multiprocessing.pool.ThreadPool` (alias
//! `multiprocessing.dummy.Pool`), and [`AsyncResult`], the pending result of
//! a task, shared with [`mp::Pool`](crate::mp::Pool). A task's panic comes back
//! from `get()` instead of being printed.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender};

use crate::interrupt::{deadline_after, is_stop_payload, wait_for};
use crate::report::panic_message;
use crate::state::{state, CellResource};
use crate::sync::Mutex;
use crate::threading::Thread;
use crate::Error;

/// Where a pool stands in Python's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PoolPhase {
    Running,
    Closed,
    Terminated,
    Joined,
}

/// What a pending result waits on.
pub(crate) trait ResultSource<R>: Send + Sync {
    /// Waits at most `slice` for the task's outcome.
    fn wait_slice(&self, slice: Duration) -> Option<Result<R, Error>>;
}

/// The pending result of a pool task, like Python's `AsyncResult`: `get()`
/// waits for it; a panic in the task comes back as `Err(Error::TaskPanicked)`.
pub struct AsyncResult<R> {
    source: Arc<dyn ResultSource<R>>,
    outcome: Arc<OnceLock<Result<R, Error>>>,
}

impl<R> Clone for AsyncResult<R> {
    fn clone(&self) -> AsyncResult<R> {
        AsyncResult {
            source: self.source.clone(),
            outcome: self.outcome.clone(),
        }
    }
}

impl<R> AsyncResult<R> {
    pub(crate) fn new(source: Arc<dyn ResultSource<R>>) -> AsyncResult<R> {
        AsyncResult {
            source,
            outcome: Arc::new(OnceLock::new()),
        }
    }

    /// Whether the task has finished (Python's `r.ready()`).
    pub fn ready(&self) -> bool {
        self.fetch(Some(Instant::now())).is_some()
    }

    /// Waits until the task has finished (Python's `r.wait()`).
    pub fn wait(&self) {
        self.fetch(None);
    }

    /// Whether the task finished without panicking (Python's `r.successful()`).
    pub fn successful(&self) -> bool {
        matches!(self.fetch(Some(Instant::now())), Some(Ok(_)))
    }

    fn fetch(&self, deadline: Option<Instant>) -> Option<&Result<R, Error>> {
        if let Some(outcome) = self.outcome.get() {
            return Some(outcome);
        }
        // While recording, a result already there is taken without a wait to
        // draw (a look that costs a process pool a check of its workers, so
        // only then).
        let recording = crate::timeline::recording();
        let ready = if recording {
            self.source.wait_slice(Duration::ZERO)
        } else {
            None
        };
        let outcome = match ready {
            Some(outcome) => outcome,
            None if recording && deadline.is_some_and(|deadline| deadline <= Instant::now()) => {
                return None
            }
            None => {
                let wait = || wait_for(deadline, |slice| self.source.wait_slice(slice));
                crate::timeline::waiting(crate::timeline::Kind::ResultWait, String::new, wait)?
            }
        };
        Some(self.outcome.get_or_init(|| outcome))
    }
}

impl<R: Clone> AsyncResult<R> {
    /// Waits for the task and returns its value, or the panic that ended it
    /// (Python's `r.get()`, which re-raises the task's exception).
    pub fn get(&self) -> Result<R, Error> {
        self.fetch(None).cloned().unwrap_or(Err(Error::Timeout))
    }

    /// Like [`AsyncResult::get`], giving up after `seconds` with `Err(Error::Timeout)`.
    pub fn get_timeout(&self, seconds: f64) -> Result<R, Error> {
        self.fetch(deadline_after(seconds))
            .cloned()
            .unwrap_or(Err(Error::Timeout))
    }
}

impl<R> std::fmt::Debug for AsyncResult<R> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "<AsyncResult ready={}>",
            self.outcome.get().is_some()
        )
    }
}

/// The result of a thread-pool task arrives on a one-shot channel; a task
/// dropped unrun (pool terminated) disconnects it.
impl<R: Send> ResultSource<R> for Receiver<Result<R, Error>> {
    fn wait_slice(&self, slice: Duration) -> Option<Result<R, Error>> {
        match self.recv_timeout(slice) {
            Ok(outcome) => Some(outcome),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Err(Error::PoolTerminated)),
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// A pool of reused threads, like Python's `ThreadPool(n)`: closures are
/// allowed (threads share memory). `Clone` shares the pool.
#[derive(Clone)]
pub struct ThreadPool {
    inner: Arc<ThreadPoolInner>,
}

struct ThreadPoolInner {
    jobs: Mutex<Option<Sender<Job>>>,
    workers: Vec<Thread>,
    phase: Mutex<PoolPhase>,
}

impl ThreadPool {
    /// A pool of `n` worker threads (Python's `ThreadPool(n)`).
    pub fn new(n: usize) -> ThreadPool {
        if n == 0 {
            panic!("Number of threads must be at least 1");
        }
        let (sender, receiver) = unbounded::<Job>();
        let workers = (0..n)
            .map(|_| {
                let receiver = receiver.clone();
                let worker = Thread::new(move || run_jobs(receiver)).daemon(true);
                worker.mark_pool_worker();
                worker.start();
                worker
            })
            .collect();
        let inner = Arc::new(ThreadPoolInner {
            jobs: Mutex::new(Some(sender)),
            workers,
            phase: Mutex::new(PoolPhase::Running),
        });
        state().register_resource(inner.clone());
        ThreadPool { inner }
    }

    /// Runs `task` on a worker; returns its pending result (Python's `pool.apply_async(f, args)`).
    pub fn apply_async<R, F>(&self, task: F) -> AsyncResult<R>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        let (result, outcome) = bounded(1);
        let job: Job = Box::new(move || {
            let value = catch_unwind(AssertUnwindSafe(task)).map_err(|payload| {
                if is_stop_payload(&*payload) {
                    resume_unwind(payload);
                }
                Error::TaskPanicked(panic_message(&*payload))
            });
            let _ = result.send(value);
        });
        match &*self.inner.jobs.lock() {
            Some(jobs) if *self.inner.phase.lock() == PoolPhase::Running => {
                let _ = jobs.send(job);
            }
            _ => panic!("Pool not running"),
        }
        AsyncResult::new(Arc::new(outcome))
    }

    /// Runs `task` on a worker and waits for its value (Python's `pool.apply(f)`);
    /// a panic in the task panics here.
    pub fn apply<R, F>(&self, task: F) -> R
    where
        R: Clone + Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        self.apply_async(task)
            .get()
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// Applies `function` to every item on the workers; the results keep the
    /// items' order (Python's `pool.map(f, items)`).
    pub fn map<A, R, F>(&self, function: F, items: impl IntoIterator<Item = A>) -> Vec<R>
    where
        A: Send + 'static,
        R: Clone + Send + 'static,
        F: Fn(A) -> R + Send + Sync + 'static,
    {
        let function = Arc::new(function);
        let pending: Vec<AsyncResult<R>> = items
            .into_iter()
            .map(|item| {
                let function = function.clone();
                self.apply_async(move || function(item))
            })
            .collect();
        pending
            .iter()
            .map(|result| result.get().unwrap_or_else(|error| panic!("{error}")))
            .collect()
    }

    /// Accepts no more tasks; workers finish the queued ones (Python's `pool.close()`).
    pub fn close(&self) {
        let mut phase = self.inner.phase.lock();
        if *phase == PoolPhase::Running {
            *phase = PoolPhase::Closed;
            self.inner.jobs.lock().take();
        }
    }

    /// Waits for the workers to finish every task; only after `close()` or
    /// `terminate()` (Python's `pool.join()`).
    pub fn join(&self) {
        if *self.inner.phase.lock() == PoolPhase::Running {
            panic!("Pool is still running: call close() or terminate() before join()");
        }
        for worker in &self.inner.workers {
            worker.join();
        }
        let mut phase = self.inner.phase.lock();
        if *phase == PoolPhase::Closed {
            *phase = PoolPhase::Joined;
        }
    }

    /// Stops at once; queued tasks are dropped (Python's `pool.terminate()`).
    pub fn terminate(&self) {
        self.inner.end_with_cell();
    }
}

impl CellResource for ThreadPoolInner {
    fn end_with_cell(&self) {
        let mut phase = self.phase.lock();
        if matches!(*phase, PoolPhase::Joined | PoolPhase::Terminated) {
            return;
        }
        *phase = PoolPhase::Terminated;
        self.jobs.lock().take();
        let state = state();
        for worker in &self.workers {
            worker.abandon(state);
        }
    }
}

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "<ThreadPool workers={} state={:?}>",
            self.inner.workers.len(),
            *self.inner.phase.lock()
        )
    }
}

/// A worker thread's loop: run jobs until the pool closes.
fn run_jobs(jobs: Receiver<Job>) {
    while let Some(Ok(job)) = wait_for(None, |slice| match jobs.recv_timeout(slice) {
        Ok(job) => Some(Ok(job)),
        Err(RecvTimeoutError::Timeout) => None,
        Err(RecvTimeoutError::Disconnected) => Some(Err(())),
    }) {
        job();
    }
}
