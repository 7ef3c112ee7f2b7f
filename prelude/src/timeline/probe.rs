//! [`Probe`]: the calling thread's place in an armed recording, and the
//! loads that decide whether there is one. Unarmed, [`probe`] costs a look
//! at the process's state; armed, it finds the thread's lane, registering
//! it on first use (see `lanes`).

use std::sync::atomic::Ordering;

use super::lanes::register;
use super::recorder::{now, Record, Recorder};
use super::Kind;
use crate::host::host;
use crate::state::{state, Role, State};

/// The calling thread's place in an armed recording.
pub(crate) struct Probe {
    pub(super) recorder: &'static Recorder,
    pub(super) lane: usize,
}

/// This process's recorder, if one is armed for what runs now.
#[inline]
pub(super) fn armed(state: &State) -> Option<&'static Recorder> {
    let recorder = state.recorder.load(Ordering::Relaxed);
    if recorder.is_null() {
        return None;
    }
    // SAFETY: recorders are leaked, never freed.
    let recorder: &'static Recorder = unsafe { &*recorder };
    let target = recorder.target();
    // In the runtime, the armed cell is the next one: the cells between wait.
    let started = target != 0
        && (state.role != Role::Runtime || host().cell.load(Ordering::Relaxed) >= target);
    started.then_some(recorder)
}

/// Whether what runs now is being recorded: loads only.
pub(crate) fn recording() -> bool {
    armed(state()).is_some()
}

/// Whether a recording is armed at all (for this cell or the next): loads only.
#[inline]
pub(super) fn armed_anywhere() -> bool {
    let recorder = state().recorder.load(Ordering::Relaxed);
    // SAFETY: recorders are leaked, never freed.
    !recorder.is_null() && unsafe { &*recorder }.target() != 0
}

/// The calling thread's lane when recording (registered on first use);
/// `None`, after one load, when nothing is armed.
#[inline]
pub(crate) fn probe() -> Option<Probe> {
    let state = state();
    let recorder = armed(state)?;
    let ident = crate::sys::thread_ident();
    let lane = match recorder.find_lane(ident) {
        Some(lane) => lane?,
        None => register(state, recorder, ident)?,
    };
    Some(Probe { recorder, lane })
}

impl Probe {
    /// Counts a frequent event; whether it must be recorded exactly (with
    /// [`Probe::mark`]) — later repeats of a run are only counted.
    #[inline]
    pub(crate) fn frequent(&self, kind: Kind, object: u64) -> bool {
        self.recorder.frequent(self.lane, kind, object, 1)
    }

    /// Records a mark of `kind` now.
    pub(crate) fn mark(&self, kind: Kind, arg: i64, text: &str) {
        self.mark_at(kind, now(), arg, 0, text);
    }

    /// Records a mark of `kind` at `time`, with `count` (an exit code, for `ProcessExit`).
    pub(crate) fn mark_at(&self, kind: Kind, time: u64, arg: i64, count: u32, text: &str) {
        let record = Record {
            start: time,
            end: time,
            arg,
            count,
            ..Record::default()
        };
        self.recorder.write(self.lane, kind, record, text);
    }

    /// Records a span of `kind` from `start` until now; returns now.
    pub(crate) fn span(&self, kind: Kind, start: u64, arg: i64, text: &str) -> u64 {
        let end = now();
        let record = Record {
            start,
            end,
            arg,
            count: 1,
            ..Record::default()
        };
        self.recorder.write(self.lane, kind, record, text);
        end
    }
}
