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

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;

use parking_lot::Mutex;

use super::Kind;
use crate::mp::shm::{MemoryKind, SharedMemory};

/// Events of one run recorded one by one before the rest are only counted.
pub(crate) const EXACT: u32 = 16;
/// A counted run reads the clock once per this many events.
const SAMPLE: u64 = 64;
/// Lanes (threads, across all processes) one session can hold.
pub(crate) const MAX_LANES: usize = 4096;
/// Index value of a thread that found no room for a lane.
const NO_LANE: u32 = u32::MAX;
/// Longest lane name kept, in bytes.
const NAME_BYTES: usize = 96;
/// Bytes of one chunk, header included.
const CHUNK_BYTES: usize = 4 << 10;
/// Chunks in the segment (32 MiB, of which only the pages touched cost memory).
const MAX_CHUNKS: usize = 8192;
/// Slots in a process's lane index (thread ident → lane).
const INDEX_SLOTS: usize = 512;
/// Longest text kept with an event (a printed line), in bytes.
pub(crate) const TEXT_BYTES: usize = 240;

/// The segment's first bytes. Every prelude call reads `target`; the
/// counters below change with every new lane and chunk, so they live on a
/// cache line of their own and their writes do not evict `target`.
#[repr(C)]
struct Header {
    /// The cell being recorded; 0 when nothing is armed.
    target: AtomicU64,
    /// Bumped by every `begin`, so lanes of an older session are not reused.
    generation: AtomicU32,
    counters: HeaderCounters,
}

#[repr(C, align(64))]
struct HeaderCounters {
    lanes: AtomicU32,
    chunks: AtomicU32,
    /// Events that found no room.
    dropped: AtomicU64,
}

/// One thread's lane: who it is, when it lived, and its current run.
#[repr(C, align(64))]
pub(crate) struct LaneSlot {
    /// 1 once the fields below `ready` are written.
    ready: AtomicU32,
    /// The session that claimed it (lets a child end its lane without
    /// reading the header, see [`Recorder::end_main_lane`]).
    generation: AtomicU32,
    pid: AtomicU32,
    /// 1 for a process's main thread.
    main: AtomicU32,
    name_length: AtomicU32,
    start: AtomicU64,
    end: AtomicU64,
    /// Exit code of a process's main lane, plus one (0: unknown).
    exit: AtomicI32,
    /// The current chunk, plus one (0: none yet).
    chunk: AtomicU32,
    run_kind: AtomicU32,
    run_length: AtomicU32,
    run_object: AtomicU64,
    burst_count: AtomicU64,
    burst_start: AtomicU64,
    burst_end: AtomicU64,
    /// Written once by the lane's claimer before `ready`, read after it:
    /// an `UnsafeCell`, since it is written through a shared reference.
    name: UnsafeCell<[u8; NAME_BYTES]>,
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
const SEGMENT_BYTES: usize = CHUNKS_OFFSET + MAX_CHUNKS * CHUNK_BYTES;

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

/// A lane of one session, as a number a thread or a child can be handed:
/// `generation << 32 | lane` ([`NO_LANE`] when there was no room); 0 is
/// none (generations start at 1).
pub(crate) type Ticket = u64;

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

    fn header(&self) -> &Header {
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

    /// The calling thread's lane in this session: `None` if it has not
    /// registered yet, `Some(None)` if there was no room for it.
    #[inline]
    pub(crate) fn find_lane(&self, ident: u64) -> Option<Option<usize>> {
        if self.main_ident.load(Ordering::Relaxed) == ident {
            return self.lane_of(self.main_ticket.load(Ordering::Relaxed));
        }
        let index = self.index.get()?;
        let start = hash(ident);
        for probe in 0..INDEX_SLOTS {
            let (key, value) = &index[(start + probe) % INDEX_SLOTS];
            match key.load(Ordering::Acquire) {
                0 => return None,
                known if known == ident => return self.lane_of(value.load(Ordering::Acquire)),
                _ => {}
            }
        }
        None
    }

    /// The lane `ticket` stands for: `None` if it is of another session (or
    /// none), `Some(None)` if it says there was no room.
    #[inline]
    pub(crate) fn lane_of(&self, ticket: Ticket) -> Option<Option<usize>> {
        let lane = ticket as u32;
        (ticket != 0 && (ticket >> 32) as u32 == self.generation())
            .then_some((lane != NO_LANE).then_some(lane as usize))
    }

    /// The ticket for `lane` (or for no room) in this session.
    fn ticket(&self, lane: Option<usize>) -> Ticket {
        (self.generation() as u64) << 32 | lane.map_or(NO_LANE, |lane| lane as u32) as u64
    }

    fn generation(&self) -> u32 {
        self.header().generation.load(Ordering::Relaxed)
    }

    /// Gives the calling thread (`ident`), its process's main thread if
    /// `main`, a new lane named by the concatenation of `name`, starting at `start`.
    pub(crate) fn register(
        &self,
        ident: u64,
        name: &[&str],
        main: bool,
        start: u64,
    ) -> Option<usize> {
        let _registering = self.registering.lock();
        let ticket = self.claim_lane(name, main, start);
        if main {
            // The ticket first: only the main thread reads it, once its ident matches.
            self.main_ticket.store(ticket, Ordering::Relaxed);
            self.main_ident.store(ident, Ordering::Relaxed);
        } else {
            self.index_lane(ident, ticket);
        }
        self.lane_of(ticket).flatten()
    }

    /// Claims a new lane named by the concatenation of `name`, starting at
    /// `start`, for a thread that will [`adopt`](Recorder::adopt) it or a
    /// child that will [`inherit`](Recorder::inherit) it (whose pid its
    /// parent then sets with [`Recorder::set_pid`]).
    pub(crate) fn claim_lane(&self, name: &[&str], main: bool, start: u64) -> Ticket {
        let counters = &self.header().counters;
        let claimed = counters.lanes.fetch_add(1, Ordering::SeqCst) as usize;
        if claimed >= MAX_LANES {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
            return self.ticket(None);
        }
        self.fill_lane(claimed, name, main, start);
        self.ticket(Some(claimed))
    }

    /// Gives `lane` to the process `pid` (a child forked to own it).
    pub(crate) fn set_pid(&self, lane: usize, pid: u32) {
        self.lane(lane).pid.store(pid, Ordering::Release);
    }

    /// Makes the lane of `ticket` the calling thread's (`ident`); nothing if
    /// its session is over.
    pub(crate) fn adopt(&self, ident: u64, ticket: Ticket) {
        if self.lane_of(ticket).is_some() {
            let _registering = self.registering.lock();
            self.index_lane(ident, ticket);
        }
    }

    /// Writes who owns `lane` and when it starts.
    fn fill_lane(&self, lane: usize, name: &[&str], main: bool, start: u64) {
        let slot = self.lane(lane);
        let mut length = 0;
        for part in name {
            let part = truncate(part, NAME_BYTES - length);
            // SAFETY: the lane was just claimed by this thread alone; the name
            // bytes are only read once `ready` is set; `length + part.len()`
            // stays within NAME_BYTES.
            unsafe {
                let bytes = slot.name.get().cast::<u8>().add(length);
                std::ptr::copy_nonoverlapping(part.as_ptr(), bytes, part.len());
            }
            length += part.len();
        }
        slot.name_length.store(length as u32, Ordering::Relaxed);
        slot.pid.store(self.pid, Ordering::Relaxed);
        slot.main.store(main as u32, Ordering::Relaxed);
        slot.start.store(start, Ordering::Relaxed);
        for field in [&slot.end, &slot.run_object] {
            field.store(0, Ordering::Relaxed);
        }
        for field in [&slot.burst_count, &slot.burst_start, &slot.burst_end] {
            field.store(0, Ordering::Relaxed);
        }
        for field in [&slot.chunk, &slot.run_kind, &slot.run_length] {
            field.store(0, Ordering::Relaxed);
        }
        slot.exit.store(0, Ordering::Relaxed);
        slot.generation.store(self.generation(), Ordering::Relaxed);
        slot.ready.store(1, Ordering::Release);
    }

    /// Takes `ident` out of this process's index (its thread ended).
    pub(crate) fn forget(&self, ident: u64) {
        let Some(index) = self.index.get() else {
            return;
        };
        let start = hash(ident);
        for probe in 0..INDEX_SLOTS {
            let (key, value) = &index[(start + probe) % INDEX_SLOTS];
            match key.load(Ordering::Acquire) {
                0 => return,
                known if known == ident => {
                    // Under the lock: another thread may be taking over stale slots.
                    let _registering = self.registering.lock();
                    if key.load(Ordering::Acquire) == ident {
                        value.store(0, Ordering::Release);
                    }
                    return;
                }
                _ => {}
            }
        }
    }

    /// Points `ident` at the lane of `ticket` in this process's index.
    fn index_lane(&self, ident: u64, ticket: Ticket) {
        let index = self.index.get_or_init(|| {
            (0..INDEX_SLOTS)
                .map(|_| (AtomicU64::new(0), AtomicU64::new(0)))
                .collect()
        });
        // The thread's own slot, else a free one, else one of an older session.
        let start = hash(ident);
        let mut chosen = None;
        for probe in 0..INDEX_SLOTS {
            let at = (start + probe) % INDEX_SLOTS;
            let known = index[at].0.load(Ordering::Acquire);
            if known == 0 || known == ident {
                chosen = Some(at);
                break;
            }
            let stale = self.lane_of(index[at].1.load(Ordering::Acquire)).is_none();
            if stale && chosen.is_none() {
                chosen = Some(at);
            }
        }
        if let Some(at) = chosen {
            let (key, value) = &index[at];
            value.store(ticket, Ordering::Release);
            key.store(ident, Ordering::Release);
        }
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

    fn append(&self, lane: usize, kind: Kind, mut record: Record, text: &str) {
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

    /// Marks `lane` ended now, with a process's exit code if it is one's main thread.
    pub(crate) fn end_lane(&self, lane: usize, exit: Option<i32>) {
        self.close_run(lane);
        let slot = self.lane(lane);
        slot.end.store(now(), Ordering::Release);
        if let Some(code) = exit {
            slot.exit.store(code.saturating_add(1), Ordering::Release);
        }
    }

    /// Ends this process's main lane now, with `exit_code`, if it is still
    /// of the session that gave it: judged by the lane's own generation, not
    /// the header, so a child whose only event is its end touches one page
    /// of the segment (each page costs a forked child a fault).
    pub(crate) fn end_main_lane(&self, exit_code: i32) {
        let ticket = self.main_ticket.load(Ordering::Relaxed);
        let lane = ticket as u32;
        if ticket == 0 || lane == NO_LANE {
            return;
        }
        let slot = self.lane(lane as usize);
        if slot.generation.load(Ordering::Acquire) == (ticket >> 32) as u32 {
            self.end_lane(lane as usize, Some(exit_code));
        }
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

fn hash(ident: u64) -> usize {
    (ident.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize % INDEX_SLOTS
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
