//! The segment's layout: a [`Header`] (armed or not), a table of
//! [`MAX_LANES`] lanes (one [`LaneSlot`] per thread of every process), then
//! chunks of fixed-size [`Record`]s, each chunk claimed by one lane, which
//! alone writes to it; and how a lane appends records to its chunks and how
//! the cell's end reads them all back ([`Recorder::dump`]).

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

use super::Kind;
use super::{truncate, Recorder};

/// Lanes (threads, across all processes) one session can hold.
pub(crate) const MAX_LANES: usize = 4096;
/// Longest lane name kept, in bytes.
pub(super) const NAME_BYTES: usize = 96;
/// Bytes of one chunk, header included.
const CHUNK_BYTES: usize = 4 << 10;
/// Chunks in the segment (32 MiB, of which only the pages touched cost memory).
const MAX_CHUNKS: usize = 8192;
/// Longest text kept with an event (a printed line), in bytes.
pub(crate) const TEXT_BYTES: usize = 240;

/// The segment's first bytes. Every prelude call reads `target`; the
/// counters below change with every new lane and chunk, so they live on a
/// cache line of their own and their writes do not evict `target`.
#[repr(C)]
pub(super) struct Header {
    /// The cell being recorded; 0 when nothing is armed.
    pub(super) target: AtomicU64,
    /// Bumped by every `begin`, so lanes of an older session are not reused.
    pub(super) generation: AtomicU32,
    pub(super) counters: HeaderCounters,
}

#[repr(C, align(64))]
pub(super) struct HeaderCounters {
    pub(super) lanes: AtomicU32,
    pub(super) chunks: AtomicU32,
    /// Events that found no room.
    pub(super) dropped: AtomicU64,
}

/// One thread's lane: who it is, when it lived, and its current run.
#[repr(C, align(64))]
pub(crate) struct LaneSlot {
    /// 1 once the fields below `ready` are written.
    pub(super) ready: AtomicU32,
    /// The session that claimed it (lets a child end its lane without
    /// reading the header, see [`Recorder::end_main_lane`]).
    pub(super) generation: AtomicU32,
    pub(super) pid: AtomicU32,
    /// 1 for a process's main thread.
    pub(super) main: AtomicU32,
    pub(super) name_length: AtomicU32,
    pub(super) start: AtomicU64,
    pub(super) end: AtomicU64,
    /// Exit code of a process's main lane, plus one (0: unknown).
    pub(super) exit: AtomicI32,
    /// The current chunk, plus one (0: none yet).
    pub(super) chunk: AtomicU32,
    pub(super) run_kind: AtomicU32,
    pub(super) run_length: AtomicU32,
    pub(super) run_object: AtomicU64,
    pub(super) burst_count: AtomicU64,
    pub(super) burst_start: AtomicU64,
    pub(super) burst_end: AtomicU64,
    /// Written once by the lane's claimer before `ready`, read after it:
    /// an `UnsafeCell`, since it is written through a shared reference.
    pub(super) name: UnsafeCell<[u8; NAME_BYTES]>,
}

impl LaneSlot {
    /// The first `length` bytes of the lane's name (at most `NAME_BYTES`).
    fn name_text(&self, length: usize) -> String {
        let mut name = [0u8; NAME_BYTES];
        let length = length.min(NAME_BYTES);
        // SAFETY: a copy through the raw pointer, no reference to the shared
        // bytes: a lane reused by a later session may be renamed meanwhile,
        // and then the text is only a stale name, never undefined behaviour.
        unsafe {
            std::ptr::copy_nonoverlapping(self.name.get().cast::<u8>(), name.as_mut_ptr(), length);
        }
        String::from_utf8_lossy(&name[..length]).into_owned()
    }
}

/// One chunk's header; its records follow.
#[repr(C)]
struct ChunkHeader {
    lane: AtomicU32,
    /// Record slots written and published.
    used: AtomicU32,
    _padding: [u64; 3],
}

/// One record slot. A record with text is followed by slots holding the text.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Record {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) arg: i64,
    pub(crate) count: u32,
    pub(crate) kind: u8,
    /// For a burst: the kind of the events it counts.
    pub(crate) class: u8,
    pub(crate) text_length: u16,
}

const SLOT_BYTES: usize = std::mem::size_of::<Record>();
const SLOTS_PER_CHUNK: usize = (CHUNK_BYTES - std::mem::size_of::<ChunkHeader>()) / SLOT_BYTES;
const LANES_OFFSET: usize = 4096;
const CHUNKS_OFFSET: usize = LANES_OFFSET + MAX_LANES * std::mem::size_of::<LaneSlot>();
pub(super) const SEGMENT_BYTES: usize = CHUNKS_OFFSET + MAX_CHUNKS * CHUNK_BYTES;

/// What the renderer gets of one lane.
pub(crate) struct LaneDump {
    pub(crate) pid: u32,
    pub(crate) main: bool,
    pub(crate) name: String,
    pub(crate) start: u64,
    pub(crate) end: Option<u64>,
    pub(crate) exit: Option<i32>,
    pub(crate) records: Vec<(Record, String)>,
}

impl Recorder {
    pub(super) fn header(&self) -> &Header {
        // SAFETY: the segment starts with a zero-initialised header.
        unsafe { &*self.memory.address().cast::<Header>() }
    }

    pub(crate) fn lane(&self, index: usize) -> &LaneSlot {
        // SAFETY: index < MAX_LANES, inside the segment's lane table.
        unsafe {
            &*self
                .memory
                .address()
                .add(LANES_OFFSET)
                .cast::<LaneSlot>()
                .add(index)
        }
    }

    fn chunk(&self, index: usize) -> *mut u8 {
        // SAFETY: index < MAX_CHUNKS, inside the segment.
        unsafe {
            self.memory
                .address()
                .add(CHUNKS_OFFSET + index * CHUNK_BYTES)
        }
    }
    pub(super) fn append(&self, lane: usize, kind: Kind, mut record: Record, text: &str) {
        let text = truncate(text, TEXT_BYTES);
        record.kind = kind as u8;
        record.text_length = text.len() as u16;
        let needed = 1 + text.len().div_ceil(SLOT_BYTES);
        let slot = self.lane(lane);
        let counters = &self.header().counters;
        let mut chunk = slot.chunk.load(Ordering::Relaxed) as usize;
        let mut used = 0;
        if chunk > 0 {
            used = self.chunk_header(chunk - 1).used.load(Ordering::Relaxed) as usize;
        }
        if chunk == 0 || used + needed > SLOTS_PER_CHUNK {
            let claimed = counters.chunks.fetch_add(1, Ordering::SeqCst) as usize;
            if claimed >= MAX_CHUNKS {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let chunk_header = self.chunk_header(claimed);
            chunk_header.used.store(0, Ordering::Relaxed);
            chunk_header.lane.store(lane as u32, Ordering::Release);
            chunk = claimed + 1;
            used = 0;
            slot.chunk.store(chunk as u32, Ordering::Relaxed);
        }
        // SAFETY: slots `used..used + needed` of a chunk this lane owns, not
        // yet published (`used` is stored after them).
        unsafe {
            let slots = self
                .chunk(chunk - 1)
                .add(std::mem::size_of::<ChunkHeader>())
                .cast::<Record>()
                .add(used);
            slots.write_unaligned(record);
            std::ptr::copy_nonoverlapping(text.as_ptr(), slots.add(1).cast::<u8>(), text.len());
        }
        self.chunk_header(chunk - 1)
            .used
            .store((used + needed) as u32, Ordering::Release);
    }

    fn chunk_header(&self, index: usize) -> &ChunkHeader {
        // SAFETY: chunks start with their header.
        unsafe { &*self.chunk(index).cast::<ChunkHeader>() }
    }
    /// Everything recorded in this session, lane by lane, with open runs closed.
    pub(crate) fn dump(&self) -> (Vec<LaneDump>, u64) {
        let counters = &self.header().counters;
        let lanes = (counters.lanes.load(Ordering::SeqCst) as usize).min(MAX_LANES);
        let mut dumps: Vec<LaneDump> = (0..lanes)
            .map(|index| {
                let slot = self.lane(index);
                let ready = slot.ready.load(Ordering::Acquire) == 1;
                let length = (slot.name_length.load(Ordering::Relaxed) as usize).min(NAME_BYTES);
                let mut records = Vec::new();
                let count = slot.burst_count.load(Ordering::Relaxed);
                if ready && count > 0 {
                    let record = Record {
                        start: slot.burst_start.load(Ordering::Relaxed),
                        end: slot.burst_end.load(Ordering::Relaxed),
                        arg: slot.run_object.load(Ordering::Relaxed) as i64,
                        count: count.min(u32::MAX as u64) as u32,
                        kind: Kind::Burst as u8,
                        class: slot.run_kind.load(Ordering::Relaxed) as u8,
                        text_length: 0,
                    };
                    records.push((record, String::new()));
                }
                let exit = slot.exit.load(Ordering::Acquire);
                LaneDump {
                    pid: slot.pid.load(Ordering::Relaxed),
                    main: slot.main.load(Ordering::Relaxed) == 1,
                    name: slot.name_text(length),
                    start: slot.start.load(Ordering::Relaxed),
                    end: Some(slot.end.load(Ordering::Acquire)).filter(|&end| end != 0),
                    exit: (exit != 0).then(|| exit - 1),
                    records,
                }
            })
            .collect();
        let chunks = (counters.chunks.load(Ordering::SeqCst) as usize).min(MAX_CHUNKS);
        for chunk in 0..chunks {
            let chunk_header = self.chunk_header(chunk);
            let used = (chunk_header.used.load(Ordering::Acquire) as usize).min(SLOTS_PER_CHUNK);
            let lane = chunk_header.lane.load(Ordering::Acquire) as usize;
            let Some(dump) = dumps.get_mut(lane) else {
                continue;
            };
            // SAFETY: the first `used` slots of the chunk are published.
            let slots = unsafe {
                self.chunk(chunk)
                    .add(std::mem::size_of::<ChunkHeader>())
                    .cast::<Record>()
            };
            let mut at = 0;
            while at < used {
                // SAFETY: `at` < used.
                let record = unsafe { slots.add(at).read_unaligned() };
                let text_length = record.text_length as usize;
                let text_slots = text_length.div_ceil(SLOT_BYTES);
                if at + 1 + text_slots > used {
                    break;
                }
                // SAFETY: the text slots follow the record, inside `used`.
                let text = unsafe {
                    std::slice::from_raw_parts(slots.add(at + 1).cast::<u8>(), text_length)
                };
                dump.records
                    .push((record, String::from_utf8_lossy(text).into_owned()));
                at += 1 + text_slots;
            }
        }
        (dumps, counters.dropped.load(Ordering::Relaxed))
    }
}
