//! The one narrow hook between the primitives and their observer (the
//! `:timeline` recorder): the [`Thinning`] word a lock or queue keeps beside
//! its own data. A primitive only makes the word (unrecorded) and keeps it;
//! arming it, reading it and counting it down are the timeline's
//! (`timeline::thinning`), so the primitives know none of the timeline's types.

use std::sync::atomic::{AtomicU32, Ordering};

/// [`Thinning`]'s value for an object made while nothing was armed.
pub(crate) const UNRECORDED: u32 = u32::MAX;

/// What each lock and queue keeps, next to its own hot data, so that the
/// recorder costs it almost nothing. An object made while nothing is armed
/// (before the `:timeline` cell) is not drawn: a use costs one load of this
/// word. An object made while armed counts down: while
/// above zero a use skips the recorder (a load and a store on a cache line
/// the use touches anyway); at zero it looks at the recorder, which either
/// records the use exactly (the first repeats of a run) or counts it as a
/// batch of uses and resets the countdown. A look that finds nothing armed
/// makes the object unrecorded again.
#[derive(Debug)]
pub(crate) struct Thinning(pub(crate) AtomicU32);

impl Thinning {
    /// The word of an object nothing records (until the timeline arms it).
    pub(crate) const fn unrecorded() -> Thinning {
        Thinning(AtomicU32::new(UNRECORDED))
    }

    /// Whether a use of the object may be recorded (it was made while armed):
    /// a load, so an unrecorded object's path stays as short as without it.
    #[inline]
    pub(crate) fn may_record(&self) -> bool {
        self.0.load(Ordering::Relaxed) != UNRECORDED
    }
}
