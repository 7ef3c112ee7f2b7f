//! Where a `:timeline` cell's events go while it runs: one shared-memory
//! segment (a memfd mapped `MAP_SHARED`, created by the runtime's first
//! [`begin`](super::begin) and inherited by every fork), so events of child
//! processes and pool workers are in the parent's hands the moment they are
//! written — nothing to flush, and a child killed by SIGKILL loses at most the
//! record it was writing. The segment holds a header (armed or not), a table
//! of lanes (one per thread of every process) and chunks of fixed-size
//! records; each lane writes only to chunks it claimed, so threads never
//! contend. A lane also keeps its current *run* (repeats of one frequent
//! event, e.g. a lock taken a million times): the first [`EXACT`] events of a
//! run are recorded one by one, the rest only counted, the clock read once
//! every [`SAMPLE`] of them, and summed up in one burst record.
//!
//! `kind` names the events it stores (the recorder is a primitive below the
//! timeline's other modules, so what it stores is its own); `segment` lays
//! the segment out and appends and reads records; `lanes`
//! claims, names and ends lanes and keeps each process's map from thread to
//! lane; this file holds the recorder itself, arming, and the runs.

mod kind;
mod lanes;
mod segment;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::mp::shm::{MemoryKind, SharedMemory};
use crate::sync::Mutex;
use segment::SEGMENT_BYTES;

pub(crate) use kind::Kind;
pub(crate) use lanes::Ticket;
pub(crate) use segment::{LaneDump, Record};

/// Events of one run recorded one by one before the rest are only counted.
pub(crate) const EXACT: u32 = 16;
/// A counted run reads the clock once per this many events.
const SAMPLE: u64 = 64;

/// A process's view of the segment: the shared memory plus its own map
/// from thread ident to lane — the main thread's lane beside an index for
/// the others, built on a second thread's first event (a forked child that
/// only runs its main thread never builds one).
pub(crate) struct Recorder {
    memory: &'static SharedMemory,
    /// This process's pid, for the lanes it claims.
    pid: u32,
    /// The main thread's ident and [`Ticket`].
    main_ident: AtomicU64,
    main_ticket: AtomicU64,
    /// `(ident, ticket)` pairs; ident 0 is a free slot.
    index: OnceLock<Box<[(AtomicU64, AtomicU64)]>>,
    registering: Mutex<()>,
}

/// The monotonic clock in nanoseconds; system-wide, so children's times compare.
pub(crate) fn now() -> u64 {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into a live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut time) };
    time.tv_sec as u64 * 1_000_000_000 + time.tv_nsec as u64
}

impl Recorder {
    /// A new segment, nothing armed.
    pub(crate) fn create() -> std::io::Result<Recorder> {
        let memory = Box::leak(Box::new(SharedMemory::create(
            MemoryKind::Timeline,
            SEGMENT_BYTES,
        )?));
        Ok(Recorder::over(memory, std::process::id(), 0, 0))
    }

    /// A forked child's view of the segment `parent` (the forking process's)
    /// maps: its main thread (`main_ident`) has the lane `main_ticket` its
    /// parent claimed for it (see [`Recorder::claim_lane`]).
    pub(crate) fn inherit(
        parent: &Recorder,
        pid: u32,
        main_ident: u64,
        main_ticket: Ticket,
    ) -> Recorder {
        Recorder::over(parent.memory, pid, main_ident, main_ticket)
    }

    fn over(
        memory: &'static SharedMemory,
        pid: u32,
        main_ident: u64,
        main_ticket: Ticket,
    ) -> Recorder {
        Recorder {
            memory,
            pid,
            main_ident: AtomicU64::new(main_ident),
            main_ticket: AtomicU64::new(main_ticket),
            index: OnceLock::new(),
            registering: Mutex::new(()),
        }
    }

    /// The armed cell, or 0.
    pub(crate) fn target(&self) -> u64 {
        self.header().target.load(Ordering::Relaxed)
    }

    /// Forgets the last session and records from now on for cell `target`.
    pub(crate) fn arm(&self, target: u64) {
        let header = self.header();
        header.target.store(0, Ordering::SeqCst);
        header.generation.fetch_add(1, Ordering::SeqCst);
        header.counters.lanes.store(0, Ordering::SeqCst);
        header.counters.chunks.store(0, Ordering::SeqCst);
        header.counters.dropped.store(0, Ordering::SeqCst);
        header.target.store(target, Ordering::SeqCst);
    }

    /// Stops recording (in every process).
    pub(crate) fn disarm(&self) {
        self.header().target.store(0, Ordering::SeqCst);
    }

    /// Counts a frequent event (`kind` on `object`) on `lane`; whether it
    /// must be recorded exactly (the first [`EXACT`] of its run) or was only
    /// counted — then as `weight` events (it stands for the repeats the
    /// caller will skip, see `Thinning`).
    #[inline]
    pub(crate) fn frequent(&self, lane: usize, kind: Kind, object: u64, weight: u64) -> bool {
        let slot = self.lane(lane);
        let length = slot.run_length.load(Ordering::Relaxed);
        if length > 0
            && slot.run_kind.load(Ordering::Relaxed) == kind.run_class() as u32
            && slot.run_object.load(Ordering::Relaxed) == object
        {
            if length < EXACT {
                slot.run_length.store(length + 1, Ordering::Relaxed);
                return true;
            }
            let before = slot.burst_count.load(Ordering::Relaxed);
            let count = before + weight;
            slot.burst_count.store(count, Ordering::Relaxed);
            if before == 0 {
                let time = now();
                slot.burst_start.store(time, Ordering::Relaxed);
                slot.burst_end.store(time, Ordering::Relaxed);
            } else if before / SAMPLE != count / SAMPLE {
                slot.burst_end.store(now(), Ordering::Relaxed);
            }
            return false;
        }
        self.close_run(lane);
        slot.run_kind
            .store(kind.run_class() as u32, Ordering::Relaxed);
        slot.run_object.store(object, Ordering::Relaxed);
        slot.run_length.store(1, Ordering::Relaxed);
        true
    }

    /// Writes the counted part of `lane`'s run as one burst record, and ends the run.
    fn close_run(&self, lane: usize) {
        let slot = self.lane(lane);
        // A load first: most lanes have no run, and a swap would write.
        if slot.run_length.load(Ordering::Relaxed) == 0
            || slot.run_length.swap(0, Ordering::Relaxed) == 0
        {
            return;
        }
        let count = slot.burst_count.swap(0, Ordering::Relaxed);
        if count > 0 {
            let record = Record {
                start: slot.burst_start.load(Ordering::Relaxed),
                end: slot.burst_end.load(Ordering::Relaxed),
                arg: slot.run_object.load(Ordering::Relaxed) as i64,
                count: count.min(u32::MAX as u64) as u32,
                class: slot.run_kind.load(Ordering::Relaxed) as u8,
                ..Record::default()
            };
            self.append(lane, Kind::Burst, record, "");
        }
    }

    /// Records one event on `lane` (ending its run first).
    pub(crate) fn write(&self, lane: usize, kind: Kind, record: Record, text: &str) {
        // A frequent event (or the wait before it) was counted in its run by `frequent`.
        if !kind.is_frequent() && !kind.is_wait() {
            self.close_run(lane);
        }
        self.append(lane, kind, record, text);
    }
}

/// `text` cut to at most `bytes` bytes, at a character boundary.
pub(crate) fn truncate(text: &str, bytes: usize) -> &str {
    let mut end = text.len().min(bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The recorder alone, in one process: what `scripts/miri` checks.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_record_into_lanes_of_their_own() {
        let recorder = Recorder::create().expect("a recorder");
        recorder.arm(1);
        std::thread::scope(|scope| {
            for (number, name) in ["first", "second"].into_iter().enumerate() {
                let recorder = &recorder;
                scope.spawn(move || {
                    let ident = number as u64 + 1;
                    let lane = recorder
                        .register(ident, &["Thread-", name], false, now())
                        .expect("room for a lane");
                    for line in 0..3 {
                        let start = now();
                        let record = Record {
                            start,
                            end: start,
                            arg: line,
                            count: 1,
                            kind: 0,
                            class: 0,
                            text_length: 0,
                        };
                        recorder.write(lane, Kind::ThreadStart, record, &format!("{name} {line}"));
                    }
                    recorder.end_lane(lane, None);
                });
            }
        });
        let (mut lanes, dropped) = recorder.dump();
        assert_eq!(dropped, 0);
        lanes.sort_by(|a, b| a.name.cmp(&b.name));
        let names: Vec<&str> = lanes.iter().map(|lane| lane.name.as_str()).collect();
        assert_eq!(names, ["Thread-first", "Thread-second"]);
        for (lane, name) in lanes.iter().zip(["first", "second"]) {
            let texts: Vec<&str> = lane.records.iter().map(|(_, text)| text.as_str()).collect();
            assert_eq!(texts, [0, 1, 2].map(|line| format!("{name} {line}")));
            assert!(lane.end.is_some());
        }
        recorder.disarm();
    }
}
