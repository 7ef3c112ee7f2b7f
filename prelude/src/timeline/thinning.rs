//! Frequent uses of locks and queues: what the [`Thinning`] word each lock
//! and queue keeps beside its own data means (the word itself is
//! `observer`'s, so the primitives keep it without knowing the timeline),
//! and the hooks that consult it — a
//! blocking use ([`blocking`], or [`Watch`] from inside a critical
//! section), a non-blocking one ([`frequent`]), and the second half of a
//! recorded pair ([`noted_again`]). Unarmed, a use pays one load and a
//! branch; the recording itself stays out of line.

use std::sync::atomic::Ordering;

use super::probe::{armed_anywhere, probe, Probe};
use super::recorder::now;
use super::Kind;

/// Waits shorter than this are not drawn as waits (nanoseconds).
pub(crate) const SHORTEST_WAIT: u64 = 50_000;

/// How many uses of a lock or queue one look at the recorder stands for,
/// once its run is only counted.
const THIN: u32 = 256;

pub(crate) use crate::observer::Thinning;
use crate::observer::UNRECORDED;

/// What the timeline does with the word (a countdown of [`THIN`] uses).
impl Thinning {
    /// The word for an object made now: counted if a recording is armed.
    pub(crate) fn new() -> Thinning {
        let thinning = Thinning::unrecorded();
        thinning.made_now();
        thinning
    }

    /// Arms the word of an object made now (one a primitive made
    /// unrecorded) if a recording is armed.
    pub(crate) fn made_now(&self) {
        if armed_anywhere() {
            self.0.store(0, Ordering::Relaxed);
        }
    }

    /// The calling thread's probe when this use must be recorded exactly.
    #[inline]
    fn exact(&self, kind: Kind, object: u64) -> Option<Probe> {
        match self.0.load(Ordering::Relaxed) {
            UNRECORDED => None,
            0 => self.look(kind, object),
            left => {
                self.0.store(left - 1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Asks the recorder about one use (once per [`THIN`] uses at most, once
    /// a run is counted): kept out of line, so the object's own path stays short.
    #[cold]
    #[inline(never)]
    fn look(&self, kind: Kind, object: u64) -> Option<Probe> {
        let Some(probe) = probe() else {
            let next = if armed_anywhere() {
                THIN - 1
            } else {
                UNRECORDED
            };
            self.0.store(next, Ordering::Relaxed);
            return None;
        };
        if probe
            .recorder
            .frequent(probe.lane, kind, object, THIN as u64)
        {
            return Some(probe);
        }
        self.0.store(THIN - 1, Ordering::Relaxed);
        None
    }
}

/// Runs a blocking `operation` of a frequent kind on `object`: the first
/// repeats of a run are timed (a wait longer than [`SHORTEST_WAIT`] becomes a
/// `wait` span), later ones only counted (see [`Thinning`]). An unrecorded
/// object runs `operation` after one load, with the recording out of line.
#[inline]
pub(crate) fn blocking<T>(
    kind: Kind,
    wait: Kind,
    object: (u64, &Thinning),
    operation: impl FnOnce() -> T,
    succeeded: impl FnOnce(&T) -> bool,
) -> T {
    let (object, thinning) = object;
    match thinning.exact(kind, object) {
        None => operation(),
        Some(probe) => blocking_recorded(probe, (kind, wait), object, operation, succeeded),
    }
}

/// [`blocking`] for a use recorded exactly: timed, out of line.
#[cold]
#[inline(never)]
fn blocking_recorded<T>(
    probe: Probe,
    (kind, wait): (Kind, Kind),
    object: u64,
    operation: impl FnOnce() -> T,
    succeeded: impl FnOnce(&T) -> bool,
) -> T {
    let start = now();
    let value = operation();
    let ended = succeeded(&value);
    note_use(probe, (kind, wait), object, Some(start), ended);
    value
}

/// Draws one recorded use of `object` ending now: its wait (since
/// `waiting_since`, if longer than [`SHORTEST_WAIT`]) and, if it
/// `succeeded`, its mark.
fn note_use(
    probe: Probe,
    (kind, wait): (Kind, Kind),
    object: u64,
    waiting_since: Option<u64>,
    succeeded: bool,
) {
    let end = now();
    if let Some(start) = waiting_since.filter(|&start| end - start > SHORTEST_WAIT) {
        probe.span(wait, start, object as i64, "");
    }
    if succeeded {
        probe.mark_at(kind, end, object as i64, 0, "");
    }
}

/// A blocking use of a frequent kind watched from inside its object's
/// critical section (a `queue.Queue` put or get): an unrecorded object pays
/// one load of a word beside the data its lock holds anyway (see
/// [`Thinning`]); a recorded one notes when it began to wait and is
/// recorded as [`blocking`] would.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    recorded: bool,
    waiting_since: Option<u64>,
}

impl Watch {
    /// Looks at the object's word (under its lock).
    #[inline]
    pub(crate) fn look(&mut self, thinning: &Thinning) {
        self.recorded = thinning.may_record();
    }

    /// The use is about to wait (under its lock).
    #[inline]
    pub(crate) fn blocks(&mut self) {
        if self.recorded && self.waiting_since.is_none() {
            self.waiting_since = Some(now());
        }
    }

    /// The use of `kind` on `object` ended (`succeeded`, or timed out);
    /// a wait longer than [`SHORTEST_WAIT`] is drawn as a `wait` span.
    #[inline]
    pub(crate) fn ended(&self, kind: Kind, wait: Kind, object: (u64, &Thinning), succeeded: bool) {
        if !self.recorded {
            return;
        }
        let (object, thinning) = object;
        if let Some(probe) = thinning.exact(kind, object) {
            self.record(probe, (kind, wait), object, succeeded);
        }
    }

    /// Records a use [`Thinning`] wants recorded exactly: out of line.
    #[cold]
    #[inline(never)]
    fn record(&self, probe: Probe, kinds: (Kind, Kind), object: u64, succeeded: bool) {
        note_use(probe, kinds, object, self.waiting_since, succeeded);
    }
}

/// Records a non-blocking frequent event on `object` (a lock taken at once);
/// whether it was recorded exactly.
#[inline]
pub(crate) fn frequent(kind: Kind, object: u64, thinning: &Thinning) -> bool {
    match thinning.exact(kind, object) {
        Some(probe) => {
            probe.mark(kind, object as i64, "");
            true
        }
        None => false,
    }
}

/// Records the second half of a pair whose first half was recorded exactly
/// (a lock's release after its acquire), without counting it again.
#[cold]
pub(crate) fn noted_again(kind: Kind, object: u64) {
    if let Some(probe) = probe() {
        probe.mark(kind, object as i64, "");
    }
}

/// The calling thread's probe if this use of a frequent `kind` (counted per
/// `thinning`, see [`Thinning`]) must be recorded exactly.
#[inline]
pub(crate) fn exact(kind: Kind, thinning: &Thinning) -> Option<Probe> {
    thinning.exact(kind, 0)
}
