//! The feeder: what makes `mp::Queue::put` cheap, as in Python (whose
//! `Queue.put` hands the object to a feeder thread). `put` appends the
//! encoded frame to this process's pending batch for the queue and returns; a
//! feeder thread moves whole batches into the shared ring under one lock, so
//! producer and consumer do not fight over the ring's lock for every message.
//! Feeders belong to one process (they live in its prelude state, which a
//! forked child gets fresh) and are flushed when its main program ends.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::shm::{Ring, LENGTH_BYTES};
use crate::interrupt::wait_for;
use crate::state::{state, State};

/// How long an idle feeder thread waits for more before it exits.
const IDLE: Duration = Duration::from_millis(50);

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
    /// A feeder thread exists.
    running: bool,
    /// The feeder thread waits for frames (only then does `push` wake it).
    idle: bool,
    /// The feeder thread is writing a batch it took.
    writing: bool,
}

impl Feeder {
    /// This process's feeder for `ring`, made on first use.
    pub(crate) fn for_ring(ring: &Arc<Ring>) -> Arc<Feeder> {
        let mut feeders = state().feeders.lock();
        // Forget feeders of queues nobody holds any more (their memory goes with them).
        feeders
            .retain(|feeder| Arc::strong_count(&feeder.ring) > 1 || feeder.pending.lock().running);
        if let Some(feeder) = feeders
            .iter()
            .find(|feeder| Arc::ptr_eq(&feeder.ring, ring))
        {
            return feeder.clone();
        }
        let feeder = Arc::new(Feeder {
            ring: ring.clone(),
            pending: Mutex::new(Pending::default()),
            changed: Condvar::new(),
        });
        feeders.push(feeder.clone());
        feeder
    }

    /// Queues `frame` for the ring and returns at once.
    pub(crate) fn push(self: &Arc<Self>, frame: &[u8]) {
        let mut pending = self.pending.lock();
        pending
            .batch
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        pending.batch.extend_from_slice(frame);
        pending.frames += 1;
        if !pending.running {
            pending.running = true;
            let feeder = self.clone();
            std::thread::Builder::new()
                .name("multitask-feeder".to_string())
                .spawn(move || feeder.run())
                .expect("the prelude could not start a queue feeder thread");
        } else if pending.idle {
            self.changed.notify_all();
        }
    }

    /// Waits until every frame pushed so far is in the ring.
    fn flush(&self) {
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

    /// Moves batches into the ring until idle for [`IDLE`].
    fn feed(&self) {
        loop {
            let batch = {
                let mut pending = self.pending.lock();
                if pending.frames == 0 {
                    pending.idle = true;
                    self.changed.wait_for(&mut pending, IDLE);
                    pending.idle = false;
                    if pending.frames == 0 {
                        pending.running = false;
                        return;
                    }
                }
                pending.writing = true;
                pending.frames = 0;
                std::mem::take(&mut pending.batch)
            };
            self.write_in_chunks(&batch);
            let mut pending = self.pending.lock();
            pending.writing = false;
            self.changed.notify_all();
        }
    }

    /// Writes whole frames in chunks of at most [`CHUNK_BYTES`] (or one frame).
    fn write_in_chunks(&self, batch: &[u8]) {
        let (mut start, mut end, mut frames) = (0, 0, 0);
        while end < batch.len() {
            let length =
                u32::from_le_bytes(batch[end..end + LENGTH_BYTES].try_into().expect("4 bytes"))
                    as usize;
            let next = end + LENGTH_BYTES + length;
            if frames > 0 && next - start > CHUNK_BYTES {
                self.ring.put_frames(&batch[start..end], frames, 0, None);
                (start, frames) = (end, 0);
            }
            end = next;
            frames += 1;
        }
        if frames > 0 {
            self.ring.put_frames(&batch[start..end], frames, 0, None);
        }
    }
}

/// Waits until every feeder of this process has emptied its batch.
pub(crate) fn flush_feeders(state: &State) {
    let feeders: Vec<_> = state.feeders.lock().clone();
    for feeder in feeders {
        feeder.flush();
    }
}
