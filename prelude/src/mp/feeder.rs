//! The feeder: what makes `mp::Queue::put` cheap, as in Python (whose
//! `Queue.put` hands the object to a feeder thread). `put` appends the
//! encoded frame to this process's pending batch for the queue and returns.
//! Batches reach the shared ring under one lock each, so producer and
//! consumer do not fight over the ring's lock for every message: a full
//! batch is written by the putting thread itself (no thread handoff on the
//! hot path), and a feeder thread, napping in short slices, delivers the
//! rest within [`NAP`]. One writer at a time keeps the batches in order.
//! Feeders belong to one process (they live in its prelude state, which a
//! forked child gets fresh) and are flushed when a child's main program ends.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::records::records;
use super::ring::{Ring, LENGTH_BYTES};
use crate::interrupt::wait_for;
use crate::state::state;
use crate::sync::{Condvar, Mutex, MutexGuard};

/// How long the feeder thread sleeps between looks at the pending batch:
/// the longest a lone message waits before it is in the ring.
const NAP: Duration = Duration::from_micros(500);

/// How long the feeder thread goes on napping with nothing to do before it exits.
const IDLE: Duration = Duration::from_millis(50);

/// Frames after which the putting thread writes the batch itself.
const FULL_BATCH_FRAMES: u64 = 64;

/// Largest batch written to the ring at once.
const CHUNK_BYTES: usize = 64 << 10;

/// This process's pending frames for one ring, and the thread moving them.
pub(crate) struct Feeder {
    ring: Arc<Ring>,
    pending: Mutex<Pending>,
    changed: Condvar,
}

#[derive(Default)]
struct Pending {
    /// Frames in the ring's format: length, then bytes.
    batch: Vec<u8>,
    frames: u64,
    /// An emptied batch buffer, kept for its capacity (fresh buffers would
    /// fault in new pages for every large batch).
    spare: Vec<u8>,
    /// A feeder thread exists.
    running: bool,
    /// Someone is writing a batch it took; batches are written one at a time.
    writing: bool,
}

impl Feeder {
    /// This process's feeder for `ring`, made on first use.
    pub(crate) fn for_ring(ring: &Arc<Ring>) -> Arc<Feeder> {
        let mut feeders = records(state()).feeders.lock();
        if let Some(feeder) = feeders
            .iter()
            .find(|feeder| Arc::ptr_eq(&feeder.ring, ring))
        {
            return feeder.clone();
        }
        // Forget feeders of queues nobody holds any more (their memory goes with them).
        feeders
            .retain(|feeder| Arc::strong_count(&feeder.ring) > 1 || feeder.pending.lock().running);
        let feeder = Arc::new(Feeder {
            ring: ring.clone(),
            pending: Mutex::new(Pending::default()),
            changed: Condvar::new(),
        });
        feeders.push(feeder.clone());
        feeder
    }

    /// Queues `frame` for the ring and returns without waiting for room.
    pub(crate) fn push(self: &Arc<Self>, frame: &[u8]) {
        let mut pending = self.pending.lock();
        pending
            .batch
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        pending.batch.extend_from_slice(frame);
        pending.frames += 1;
        if pending.frames >= FULL_BATCH_FRAMES && !pending.writing {
            // Only if the ring has room now: `put` must not wait.
            pending = self.write_batch(pending, Some(Instant::now()));
        }
        if pending.frames > 0 && !pending.running {
            pending.running = true;
            let feeder = self.clone();
            std::thread::Builder::new()
                .name("multitask-feeder".to_string())
                .spawn(move || feeder.run())
                .expect("the prelude could not start a queue feeder thread");
        }
    }

    /// Takes the pending batch and writes it to the ring (waiting for room
    /// until `deadline`); what does not fit goes back in front of the batch.
    /// The caller checked that nobody else is writing; the lock is given back.
    fn write_batch<'feeder>(
        &'feeder self,
        mut pending: MutexGuard<'feeder, Pending>,
        deadline: Option<Instant>,
    ) -> MutexGuard<'feeder, Pending> {
        pending.writing = true;
        pending.frames = 0;
        let mut batch = std::mem::take(&mut pending.spare);
        std::mem::swap(&mut pending.batch, &mut batch);
        drop(pending);
        let written = self.write_in_chunks(&batch, deadline);
        let mut pending = self.pending.lock();
        if written < batch.len() {
            let unwritten_frames = count_frames(&batch[written..]);
            batch.drain(..written);
            batch.extend_from_slice(&pending.batch);
            std::mem::swap(&mut pending.batch, &mut batch);
            pending.frames += unwritten_frames;
        }
        batch.clear();
        pending.spare = batch;
        pending.writing = false;
        self.changed.notify_all();
        pending
    }

    /// Waits until every frame pushed so far is in the ring.
    pub(crate) fn flush(&self) {
        wait_for(None, |slice| {
            let mut pending = self.pending.lock();
            if pending.frames == 0 && !pending.writing {
                return Some(());
            }
            self.changed.wait_for(&mut pending, slice);
            None
        });
    }

    fn run(self: Arc<Self>) {
        if catch_unwind(AssertUnwindSafe(|| self.feed())).is_err() {
            // Interrupted: the cell was aborted, and its pending frames with it.
            let mut pending = self.pending.lock();
            *pending = Pending::default();
            self.changed.notify_all();
        }
    }

    /// Delivers whatever is pending, napping in between, until idle for [`IDLE`].
    fn feed(&self) {
        let mut idle_since = Instant::now();
        loop {
            let mut pending = self.pending.lock();
            if pending.frames > 0 && !pending.writing {
                drop(self.write_batch(pending, None));
                idle_since = Instant::now();
                continue;
            }
            if pending.frames == 0 && !pending.writing && idle_since.elapsed() >= IDLE {
                pending.running = false;
                return;
            }
            drop(pending);
            std::thread::sleep(NAP);
        }
    }

    /// Writes whole frames in chunks of at most [`CHUNK_BYTES`] (or one
    /// frame), until done or `deadline`; returns how many bytes went in.
    fn write_in_chunks(&self, batch: &[u8], deadline: Option<Instant>) -> usize {
        let (mut start, mut end, mut frames) = (0, 0, 0);
        while end < batch.len() {
            let next = end + LENGTH_BYTES + frame_length(&batch[end..]);
            if frames > 0 && next - start > CHUNK_BYTES {
                if !self
                    .ring
                    .put_frames(&batch[start..end], frames, 0, deadline)
                {
                    return start;
                }
                (start, frames) = (end, 0);
            }
            end = next;
            frames += 1;
        }
        if frames > 0
            && !self
                .ring
                .put_frames(&batch[start..end], frames, 0, deadline)
        {
            return start;
        }
        batch.len()
    }
}

/// The length of the frame at the start of `frames` (ring format).
fn frame_length(frames: &[u8]) -> usize {
    u32::from_le_bytes(frames[..LENGTH_BYTES].try_into().expect("4 bytes")) as usize
}

/// How many frames `frames` holds (ring format).
fn count_frames(mut frames: &[u8]) -> u64 {
    let mut count = 0;
    while !frames.is_empty() {
        frames = &frames[LENGTH_BYTES + frame_length(frames)..];
        count += 1;
    }
    count
}
