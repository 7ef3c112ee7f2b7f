//! [`Pool`], Python's `multiprocessing.Pool`: a fixed set of reused worker
//! processes. A task is a `fn(A) -> R` item plus its encoded argument; what
//! travels is the address of the function and of a small decoding
//! trampoline. Workers forked before a later cell was compiled do not have
//! that cell's code (calling it would crash them), so before sending a task
//! the pool checks, with `dl_iterate_phdr`, that both addresses lie in objects
//! the workers were forked with; if not, it retires the workers (they finish
//! their queued tasks) and forks a fresh generation.

use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::code::{loaded_objects, object_of};
use super::process::ProcessShared;
use super::process_queue::QUEUE_BYTES;
use super::ring::Ring;
use super::worker::{
    parse_result, run_task, spawn_worker, task_frame, Trampoline, WorkerSlots, STOP,
};
use super::{cpu_count, decode, encode, Message};
use crate::pool::{AsyncResult, PoolPhase, ResultSource};
use crate::state::{state, CellResource};
use crate::sync::Mutex;
use crate::Error;

/// A pool of reused worker processes, like Python's `multiprocessing.Pool(n)`;
/// `Clone` shares the pool.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    size: usize,
    /// Outcomes from every generation of workers.
    results: Arc<Ring>,
    control: Mutex<PoolControl>,
    /// Outcomes taken from `results` by someone waiting for another task.
    arrived: Mutex<HashMap<u64, Result<Vec<u8>, Error>>>,
}

struct PoolControl {
    phase: PoolPhase,
    current: Generation,
    retired: Vec<Generation>,
    next_task: u64,
    /// (trampoline, function) pairs the current workers are known to have.
    known_code: HashSet<(usize, usize)>,
}

/// Workers forked together, with the task ring they serve and the shared
/// objects (by load address) they were forked with.
struct Generation {
    tasks: Arc<Ring>,
    workers: Vec<Arc<ProcessShared>>,
    slots: Arc<WorkerSlots>,
    objects: HashSet<usize>,
}

impl Default for Pool {
    /// A pool with one worker per CPU (Python's `Pool()`).
    fn default() -> Pool {
        Pool::new(cpu_count())
    }
}

impl Pool {
    /// A pool of `n` worker processes (Python's `Pool(n)`).
    pub fn new(n: usize) -> Pool {
        if n == 0 {
            panic!("Number of processes must be at least 1");
        }
        let state = state();
        state
            .reserve_processes(n, &format!("mp::Pool::new({n})"))
            .unwrap_or_else(|message| panic!("{message}"));
        state.release_processes(n);
        let results = Arc::new(
            Ring::create(QUEUE_BYTES)
                .unwrap_or_else(|error| panic!("cannot create a pool: {error}")),
        );
        let current = Generation::fork(n, &results);
        let inner = Arc::new(PoolInner {
            size: n,
            results,
            control: Mutex::new(PoolControl {
                phase: PoolPhase::Running,
                current,
                retired: Vec::new(),
                next_task: 0,
                known_code: HashSet::new(),
            }),
            arrived: Mutex::new(HashMap::new()),
        });
        state.register_resource(inner.clone());
        Pool { inner }
    }

    /// Sends `function(argument)` to a worker; returns its pending result
    /// (Python's `pool.apply_async(f, (x,))`; several arguments: a tuple).
    pub fn apply_async<A: Message, R: Message>(
        &self,
        function: fn(A) -> R,
        argument: A,
    ) -> AsyncResult<R> {
        let encoded = encode(&argument);
        // Now, not at the end of this call: a re-fork below must not copy a
        // handed file or socket into the new workers (see `mp::Handed`).
        drop(argument);
        let argument = encoded.unwrap_or_else(|error| panic!("{error}"));
        let trampoline = run_task::<A, R> as Trampoline as usize;
        let function = function as usize;
        let task = loop {
            let mut control = self.inner.control.lock();
            if control.phase != PoolPhase::Running {
                panic!("Pool not running");
            }
            if !control.known_code.contains(&(trampoline, function)) {
                let present = [trampoline, function].iter().all(|&address| {
                    object_of(address)
                        .is_some_and(|object| control.current.objects.contains(&object))
                });
                if !present {
                    self.inner.refork(&mut control);
                }
                control.known_code.insert((trampoline, function));
            }
            let task = control.next_task;
            let frame = task_frame(task, trampoline, function, &argument);
            // Never wait while holding the lock: an interrupt ends the pool, which takes it.
            if control.current.tasks.put(&frame, 0, Some(Instant::now())) {
                control.next_task += 1;
                break task;
            }
            drop(control);
            // A millisecond's backoff, interruptible; not the learner's
            // `sleep`, so the timeline draws no sleep of theirs.
            let backoff = Instant::now() + Duration::from_millis(1);
            crate::interrupt::wait_for(Some(backoff), |slice| {
                std::thread::sleep(slice);
                None::<()>
            });
        };
        AsyncResult::new(Arc::new(PoolResult {
            pool: self.inner.clone(),
            task,
            _value: PhantomData::<fn() -> R>,
        }))
    }

    /// Runs `function(argument)` on a worker and waits for its value (Python's
    /// `pool.apply(f, (x,))`); a panic in the task panics here.
    pub fn apply<A: Message, R: Message + Clone>(&self, function: fn(A) -> R, argument: A) -> R {
        self.apply_async(function, argument)
            .get()
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// Applies `function` to every item on the workers; the results keep the
    /// items' order (Python's `pool.map(f, items)`).
    pub fn map<A: Message, R: Message + Clone>(
        &self,
        function: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
    ) -> Vec<R> {
        let pending: Vec<AsyncResult<R>> = items
            .into_iter()
            .map(|item| self.apply_async(function, item))
            .collect();
        pending
            .iter()
            .map(|result| result.get().unwrap_or_else(|error| panic!("{error}")))
            .collect()
    }

    /// Accepts no more tasks; workers exit after the queued ones (Python's `pool.close()`).
    pub fn close(&self) {
        let mut control = self.inner.control.lock();
        if control.phase == PoolPhase::Running {
            control.phase = PoolPhase::Closed;
            control.current.stop(self.inner.size);
        }
    }

    /// Waits for the workers to exit; only after `close()` or `terminate()`
    /// (Python's `pool.join()`).
    pub fn join(&self) {
        let workers: Vec<_> = {
            let control = self.inner.control.lock();
            if control.phase == PoolPhase::Running {
                panic!("Pool is still running: call close() or terminate() before join()");
            }
            control.all_workers().cloned().collect()
        };
        let name = || "the pool's workers".to_string();
        crate::timeline::waiting(crate::timeline::Kind::JoinProcess, name, || {
            for worker in workers {
                worker.wait_exit(None);
            }
        });
        let mut control = self.inner.control.lock();
        if control.phase == PoolPhase::Closed {
            control.phase = PoolPhase::Joined;
        }
    }

    /// Stops the workers at once with SIGTERM; unfinished tasks fail with
    /// `Error::PoolTerminated` (Python's `pool.terminate()`).
    pub fn terminate(&self) {
        self.inner.end_with_cell();
    }

    /// Makes the pool believe its workers lack every function, as after a
    /// later cell's library was loaded: the next task re-forks them.
    #[cfg(test)]
    pub(crate) fn forget_loaded_code(&self) {
        let mut control = self.inner.control.lock();
        control.current.objects.clear();
        control.known_code.clear();
    }

    /// The worker processes' ids (the same pids serve many tasks).
    pub fn pids(&self) -> Vec<u32> {
        self.inner
            .control
            .lock()
            .current
            .workers
            .iter()
            .filter_map(|worker| worker.pid())
            .collect()
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let control = self.inner.control.lock();
        write!(
            formatter,
            "<multiprocessing.Pool workers={} state={:?}>",
            self.inner.size, control.phase
        )
    }
}

impl PoolInner {
    /// Retires the current workers (after their queued tasks) and forks new ones.
    fn refork(&self, control: &mut PoolControl) {
        control.current.stop(self.size);
        let fresh = Generation::fork(self.size, &self.results);
        let retired = std::mem::replace(&mut control.current, fresh);
        control.retired.push(retired);
        control.known_code.clear();
    }
}

impl PoolInner {
    /// Fails the task of every worker that died and replaces it while the
    /// pool runs; returns whether the pool was terminated.
    fn check_workers(&self) -> bool {
        let mut control = self.control.lock();
        let control = &mut *control;
        if control.phase == PoolPhase::Terminated {
            return true;
        }
        let running = control.phase == PoolPhase::Running;
        let results = &self.results;
        for (generation, is_current) in control
            .retired
            .iter_mut()
            .map(|generation| (generation, false))
            .chain(std::iter::once((&mut control.current, true)))
        {
            for index in 0..generation.workers.len() {
                let worker = &generation.workers[index];
                let Some(exit_code) = worker.reap_nonblocking() else {
                    continue;
                };
                if let Some(task) = generation.slots.take_running(index) {
                    let message = format!(
                        "the pool's worker process {} died (exit code {exit_code}) while running this task",
                        worker.name()
                    );
                    self.arrived
                        .lock()
                        .entry(task)
                        .or_insert(Err(Error::WorkerDied(message)));
                }
                if is_current && running {
                    generation.workers[index] =
                        spawn_worker(index, &generation.tasks, results, &generation.slots);
                }
            }
        }
        false
    }
}

impl PoolControl {
    fn all_workers(&self) -> impl Iterator<Item = &Arc<ProcessShared>> {
        self.retired
            .iter()
            .chain(std::iter::once(&self.current))
            .flat_map(|generation| generation.workers.iter())
    }
}

impl CellResource for PoolInner {
    fn end_with_cell(&self) {
        let workers: Vec<_> = {
            let mut control = self.control.lock();
            if matches!(control.phase, PoolPhase::Joined | PoolPhase::Terminated) {
                return;
            }
            control.phase = PoolPhase::Terminated;
            control.all_workers().cloned().collect()
        };
        for worker in &workers {
            worker.send_signal(libc::SIGTERM);
        }
        for worker in &workers {
            worker.reap_after_signal();
        }
    }
}

impl Generation {
    /// Forks `size` workers serving a new task ring.
    fn fork(size: usize, results: &Arc<Ring>) -> Generation {
        let tasks = Arc::new(
            Ring::create(QUEUE_BYTES)
                .unwrap_or_else(|error| panic!("cannot create a pool: {error}")),
        );
        let slots = WorkerSlots::new(size);
        let objects = loaded_objects();
        let workers = (0..size)
            .map(|index| spawn_worker(index, &tasks, results, &slots))
            .collect();
        Generation {
            tasks,
            workers,
            slots,
            objects,
        }
    }

    /// Queues one stop per worker after the tasks already queued.
    fn stop(&self, size: usize) {
        for _ in 0..size {
            self.tasks.put(&STOP.to_le_bytes(), 0, None);
        }
    }
}

/// Waits for one task's outcome on the pool's result ring.
struct PoolResult<R> {
    pool: Arc<PoolInner>,
    task: u64,
    _value: PhantomData<fn() -> R>,
}

impl<R: Message> ResultSource<R> for PoolResult<R> {
    fn wait_slice(&self, slice: Duration) -> Option<Result<R, Error>> {
        let decode_outcome =
            |outcome: Result<Vec<u8>, Error>| outcome.and_then(|bytes| decode::<R>(&bytes));
        if let Some(outcome) = self.pool.arrived.lock().remove(&self.task) {
            return Some(decode_outcome(outcome));
        }
        let Some(frame) = self.pool.results.take(Some(Instant::now() + slice)) else {
            // Nothing came for a while: a worker may have died with our task.
            let terminated = self.pool.check_workers();
            return terminated.then_some(Err(Error::PoolTerminated));
        };
        let (task, outcome) = parse_result(&frame);
        if task == self.task {
            return Some(decode_outcome(outcome));
        }
        self.pool.arrived.lock().insert(task, outcome);
        None
    }
}
