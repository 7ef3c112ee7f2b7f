//! Lane bookkeeping: claiming a lane in the segment's table (for the calling
//! thread, for a thread about to start, or for a child about to be forked),
//! the [`Ticket`] that names a lane of one session across threads and forks,
//! each process's index from thread ident to lane, and a lane's end.

use std::sync::atomic::{AtomicU64, Ordering};

use super::segment::{MAX_LANES, NAME_BYTES};
use super::{now, truncate, Recorder};

/// Index value of a thread that found no room for a lane.
const NO_LANE: u32 = u32::MAX;
/// Slots in a process's lane index (thread ident → lane).
const INDEX_SLOTS: usize = 512;

/// A lane of one session, as a number a thread or a child can be handed:
/// `generation << 32 | lane` ([`NO_LANE`] when there was no room); 0 is
/// none (generations start at 1).
pub(crate) type Ticket = u64;

impl Recorder {
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
}

fn hash(ident: u64) -> usize {
    (ident.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize % INDEX_SLOTS
}
