//! Lanes for threads and processes: the calling thread's lane, named as
//! Python would name the thread, and the hooks of thread and process starts
//! and ends. A new prelude thread's lane is claimed by the thread that starts
//! it ([`ThreadLane`]), and a child's by the process that forks it, so the
//! newcomer starts without formatting a name or writing to the lane table;
//! thread starts and joins name their lane by number.

use std::sync::atomic::{AtomicU64, Ordering};

use super::probe::{armed, probe};
use super::recorder::{now, Recorder, Ticket};
use super::Kind;
use crate::state::{state, Role, State};

/// Gives the calling thread a lane, named as Python would name it; a
/// prelude thread takes the lane the thread that started it claimed (see
/// [`thread_starting`]).
pub(super) fn register(state: &State, recorder: &Recorder, ident: u64) -> Option<usize> {
    let main = crate::sys::is_main_thread();
    // A daemon thread abandoned by an earlier cell is no part of this one.
    if !main && state.current_thread_abandoned() {
        return None;
    }
    if main {
        let name = match state.role {
            Role::Runtime => "MainThread",
            _ => &state.identity.name,
        };
        return recorder.register(ident, &[name], true, now());
    }
    let sighting = state.current_thread();
    if let Some(thread) = &sighting {
        if let Some(lane) = recorder.lane_of(thread.lane) {
            recorder.adopt(ident, thread.lane);
            return lane;
        }
    }
    let thread = sighting
        .map(|thread| thread.name)
        .unwrap_or_else(|| state.dummy_thread_name(ident));
    recorder.register(ident, &lane_name(state, &thread), false, now())
}

/// The parts of the lane name of this process's thread `thread`: children
/// prefix their threads with the process's name.
fn lane_name<'a>(state: &'a State, thread: &'a str) -> [&'a str; 3] {
    match state.role {
        Role::Runtime => [thread, "", ""],
        _ => [&state.identity.name, ": ", thread],
    }
}

/// The lane a prelude thread is given by the thread that starts it (see
/// [`thread_starting`]), so the new thread neither formats its name nor
/// writes to the lane table.
#[derive(Debug, Default)]
pub(crate) struct ThreadLane(AtomicU64);

impl ThreadLane {
    /// The lane's claim, which `State::current_thread` hands back.
    pub(crate) fn ticket(&self) -> Ticket {
        self.0.load(Ordering::Relaxed)
    }

    /// Its lane in the session `recorder` is recording now, if any.
    pub(super) fn current(&self, recorder: &Recorder) -> Option<usize> {
        recorder.lane_of(self.ticket()).flatten()
    }
}

/// The calling thread starts a prelude thread named `name`: when recording,
/// gives it a lane in `lane` and marks the start (naming the lane). The new
/// thread takes the lane on its first event, if it has any: one that only
/// runs and ends touches nothing but its lane's end.
pub(crate) fn thread_starting(name: &str, lane: &ThreadLane) {
    let Some(probe) = probe() else {
        lane.0.store(0, Ordering::Relaxed);
        return;
    };
    let time = now();
    let ticket = probe
        .recorder
        .claim_lane(&lane_name(state(), name), false, time);
    lane.0.store(ticket, Ordering::Relaxed);
    match probe.recorder.lane_of(ticket).flatten() {
        Some(given) => probe.mark_at(Kind::ThreadStart, time, given as i64, 0, ""),
        None => probe.mark_at(Kind::ThreadStart, time, -1, 0, name),
    }
}

/// A prelude thread given `lane` could not be started: its lane ends at once.
pub(crate) fn thread_never_ran(lane: &ThreadLane) {
    if let Some(recorder) = armed(state()) {
        if let Some(lane) = lane.current(recorder) {
            recorder.end_lane(lane, None);
        }
    }
}

/// The calling thread is about to fork a child named `name`: when
/// recording, claims the child's lane (the child inherits it with
/// [`child_view`], so it starts without touching the lane table).
pub(crate) fn process_forking(name: &str) -> Ticket {
    match armed(state()) {
        Some(recorder) => recorder.claim_lane(&[name], true, now()),
        None => 0,
    }
}

/// The fork of the child given `ticket` returned `pid` (`None`: it failed,
/// and the lane ends at once).
pub(crate) fn process_forked(ticket: Ticket, pid: Option<u32>) {
    let Some(recorder) = armed(state()) else {
        return;
    };
    if let Some(Some(lane)) = recorder.lane_of(ticket) {
        match pid {
            Some(pid) => recorder.set_pid(lane, pid),
            None => recorder.end_lane(lane, None),
        }
    }
}

/// In a child just forked (its state still the parent's): the child's own
/// view of the parent's recorder, if it had one, its main thread on the
/// lane of `ticket`.
pub(crate) fn child_view(ticket: Ticket) -> Option<Recorder> {
    let parent = state().recorder.load(Ordering::Acquire);
    if parent.is_null() {
        return None;
    }
    // SAFETY: recorders are leaked, never freed; the child maps the same segment.
    let parent = unsafe { &*parent };
    Some(Recorder::inherit(
        parent,
        std::process::id(),
        crate::sys::thread_ident(),
        ticket,
    ))
}

/// The calling prelude thread, given `lane` when it started, ends.
pub(crate) fn thread_ended(lane: &ThreadLane) {
    let Some(recorder) = armed(state()) else {
        return;
    };
    let ident = crate::sys::thread_ident();
    let own = lane
        .current(recorder)
        .or_else(|| recorder.find_lane(ident).flatten());
    if let Some(own) = own {
        recorder.end_lane(own, None);
    }
    // The OS thread may run another prelude thread next, on a lane of its own.
    recorder.forget(ident);
}

/// The calling process's main thread ends, with `exit_code`. (A lane
/// claimed in an earlier session is left alone; one reused by a session
/// begun in the very instant the child ends could get a wrong end.)
pub(crate) fn process_ended(exit_code: i32) {
    let recorder = state().recorder.load(Ordering::Acquire);
    if !recorder.is_null() {
        // SAFETY: recorders are leaked, never freed.
        unsafe { &*recorder }.end_main_lane(exit_code);
    }
}

/// A child was reaped with exit code `code`: its lane ends there (a child
/// killed by a signal could not say so itself).
pub(crate) fn child_reaped(pid: u32, code: i32) {
    if let Some(probe) = probe() {
        probe.mark_at(Kind::ProcessExit, now(), pid as i64, code as u32, "");
    }
}
