//! The worker side of [`Pool`](super::Pool), and the wire format between a
//! pool and its workers. A task frame is `task id, trampoline address,
//! function address` (8 bytes each, little-endian) then the encoded
//! argument; a result frame is `task id`, a status byte (0: the encoded
//! value follows; 1: an encoded `(kind, message)` error follows). Each worker
//! also notes in shared memory which task it runs, so that the pool can fail
//! that task if the worker dies.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::process::ProcessShared;
use super::ring::Ring;
use super::shm::{MemoryKind, SharedMemory};
use super::{decode, encode, Message};
use crate::report::panic_message;
use crate::state::{state, Role};
use crate::timeline::{self, Kind, Thinning};
use crate::Error;

/// Decodes the argument, calls the function, encodes the value.
pub(super) type Trampoline = fn(usize, &[u8]) -> Result<Vec<u8>, Error>;

/// Task id that tells a worker to exit.
pub(super) const STOP: u64 = u64::MAX;
/// Bytes before a task's argument: id, trampoline, function.
const TASK_HEADER: usize = 24;

/// One word per worker in shared memory: the task it runs, plus one (0: idle).
pub(super) struct WorkerSlots {
    memory: SharedMemory,
}

impl WorkerSlots {
    /// Slots for `size` workers, all idle.
    pub(super) fn new(size: usize) -> Arc<WorkerSlots> {
        let memory = SharedMemory::create(MemoryKind::PoolWorkers, size * 8)
            .unwrap_or_else(|error| panic!("cannot create a pool: {error}"));
        Arc::new(WorkerSlots { memory })
    }

    fn slot(&self, index: usize) -> &AtomicU64 {
        // SAFETY: `index` < size (the pool only uses its own indexes); the
        // mapping is page-aligned and lives as long as `self`.
        unsafe { &*self.memory.address().cast::<AtomicU64>().add(index) }
    }

    /// The task worker `index` was running when it stopped, clearing the slot.
    pub(super) fn take_running(&self, index: usize) -> Option<u64> {
        Some(self.slot(index).swap(0, Ordering::SeqCst))
            .filter(|&busy| busy != 0)
            .map(|busy| busy - 1)
    }
}

/// Forks worker `index`, serving `tasks` and answering on `results`.
pub(super) fn spawn_worker(
    index: usize,
    tasks: &Arc<Ring>,
    results: &Arc<Ring>,
    slots: &Arc<WorkerSlots>,
) -> Arc<ProcessShared> {
    let state = state();
    let number = state.worker_counter.fetch_add(1, Ordering::Relaxed);
    let mut lineage = state.identity.lineage.clone();
    lineage.push(number);
    let worker = ProcessShared::new(format!("ForkPoolWorker-{number}"), lineage, true);
    let (tasks, results, slots) = (tasks.clone(), results.clone(), slots.clone());
    worker
        .start_with(
            Role::PoolWorker,
            Box::new(move || serve_tasks(index, &tasks, &results, &slots)),
        )
        .unwrap_or_else(|message| panic!("{message}"));
    worker
}

/// A worker's loop: take a task, run it, send the outcome; exit on STOP.
fn serve_tasks(index: usize, tasks: &Ring, results: &Ring, slots: &WorkerSlots) -> i32 {
    // Thousands of tiny tasks are counted on the timeline, not timed one by one.
    let thinning = Thinning::new();
    while let Some(frame) = tasks.take(None) {
        let word =
            |at: usize| u64::from_le_bytes(frame[at * 8..at * 8 + 8].try_into().expect("8 bytes"));
        let task = word(0);
        if task == STOP {
            break;
        }
        slots.slot(index).store(task + 1, Ordering::SeqCst);
        // SAFETY: the parent checked that this trampoline exists in this worker
        // (it was loaded before the fork), and sent it as a `Trampoline`.
        let trampoline = unsafe { std::mem::transmute::<usize, Trampoline>(word(1) as usize) };
        let timed = timeline::exact(Kind::Task, &thinning).map(|probe| (probe, timeline::now()));
        let outcome = trampoline(word(2) as usize, &frame[TASK_HEADER..]);
        if let Some((probe, start)) = timed {
            probe.span(Kind::Task, start, task as i64, "");
        }
        let mut reply = task.to_le_bytes().to_vec();
        match outcome {
            Ok(value) => {
                reply.push(0);
                reply.extend_from_slice(&value);
            }
            Err(error) => {
                let parts = match &error {
                    Error::TaskPanicked(message) => (0u8, message.clone()),
                    other => (1u8, other.to_string()),
                };
                reply.push(1);
                reply.extend_from_slice(&encode(&parts).unwrap_or_default());
            }
        }
        results.put(&reply, 0, None);
        slots.slot(index).store(0, Ordering::SeqCst);
    }
    0
}

/// The frame that asks a worker to run `function(argument)` through `trampoline`.
pub(super) fn task_frame(
    task: u64,
    trampoline: usize,
    function: usize,
    argument: &[u8],
) -> Vec<u8> {
    let mut frame = Vec::with_capacity(TASK_HEADER + argument.len());
    for word in [task, trampoline as u64, function as u64] {
        frame.extend_from_slice(&word.to_le_bytes());
    }
    frame.extend_from_slice(argument);
    frame
}

/// Splits a result frame into its task id and outcome (the value still encoded).
pub(super) fn parse_result(frame: &[u8]) -> (u64, Result<Vec<u8>, Error>) {
    let task = u64::from_le_bytes(frame[..8].try_into().expect("8 bytes"));
    let outcome = match frame[8] {
        0 => Ok(frame[9..].to_vec()),
        _ => Err(match decode::<(u8, String)>(&frame[9..]) {
            Ok((0, message)) => Error::TaskPanicked(message),
            Ok((_, message)) => Error::Serialization(message),
            Err(error) => error,
        }),
    };
    (task, outcome)
}

/// Runs one task in a worker: decode, call, encode.
pub(super) fn run_task<A: Message, R: Message>(
    function: usize,
    argument: &[u8],
) -> Result<Vec<u8>, Error> {
    // SAFETY: the parent sent a `fn(A) -> R` together with this very
    // instantiation of the trampoline, and checked the worker has its code.
    let function = unsafe { std::mem::transmute::<usize, fn(A) -> R>(function) };
    let argument: A = decode(argument)?;
    match catch_unwind(AssertUnwindSafe(|| function(argument))) {
        Ok(value) => encode(&value),
        Err(payload) => Err(Error::TaskPanicked(panic_message(&*payload))),
    }
}
