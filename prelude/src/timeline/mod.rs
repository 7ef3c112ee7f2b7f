//! `:timeline`: a picture of what a cell ran. The kernel runs
//! [`begin`] as a tiny cell of its own before a cell whose first line is
//! `:timeline`; that arms recording for the next cell. While it runs, the
//! prelude's calls note what they do (sleeps, joins, lock and queue
//! operations and waits, process and thread starts and ends, printed lines)
//! on the lane of the thread that does it, in a segment of shared memory
//! that forked children inherit (see `recorder`); at the cell's end the
//! cell-end hook draws the lanes as one SVG (see `svg`) and disarms.
//! Unarmed, a lock or queue use costs one load of a word beside its own data
//! (see [`Thinning`]); the other hooks (sleep, join, print) a look at the
//! process's state for a recorder.
//!
//! `recorder::Kind` names the events; `probe` finds the calling thread's lane,
//! `lanes` gives threads and processes theirs; `thinning` keeps frequent
//! lock and queue uses cheap; `waits` records sleeps and joins; `recorder`
//! stores it all, `layout`, `svg` and `marks` draw it.

mod lanes;
mod layout;
mod marks;
mod probe;
pub(crate) mod recorder;
mod svg;
#[cfg(test)]
mod tests;
mod thinning;
mod waits;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::host::{host, Event};
use crate::state::{state, Observer, Role, State};
use probe::armed;

pub(crate) use lanes::{
    child_reaped, child_view, process_ended, process_forked, process_forking, thread_ended,
    thread_never_ran, thread_starting, ThreadLane,
};
pub(crate) use marks::escape;
pub(crate) use probe::{probe, recording};
pub(crate) use recorder::Kind;
pub(crate) use recorder::{now, Recorder, Ticket};
pub(crate) use thinning::{blocking, exact, frequent, noted_again, Thinning, Watch};
pub(crate) use waits::{joining, waiting};

/// Arms `:timeline` for the cell after the one running now (the kernel runs
/// this as a tiny cell of its own just before the `:timeline` cell).
pub fn begin() {
    let state = state();
    let mut recorder = state.recorder.load(Ordering::Acquire);
    if recorder.is_null() {
        match Recorder::create() {
            Ok(created) => {
                recorder = Box::into_raw(Box::new(created));
                state.recorder.store(recorder, Ordering::Release);
            }
            Err(error) => {
                crate::eprintln!(":timeline is not available: {error}");
                return;
            }
        }
    }
    // SAFETY: recorders are leaked, never freed.
    let recorder = unsafe { &*recorder };
    let _ = state.observer.set(Arc::new(Recording));
    recorder.arm(host().cell.load(Ordering::SeqCst) + 1);
}

/// Disarms a `:timeline` that [`begin`] armed for a cell whose code never
/// ran (it failed to compile, or held only items), so the cell after it
/// draws nothing. The kernel runs this as a tiny cell of its own.
pub fn cancel() {
    let recorder = state().recorder.load(Ordering::Acquire);
    if !recorder.is_null() {
        // SAFETY: recorders are leaked, never freed.
        unsafe { &*recorder }.disarm();
    }
}

/// Records a printed text, line by line (event lines for the kernel excepted).
fn printed(text: &str) {
    if text.starts_with(crate::host::EVENT_PREFIX) || text.starts_with("EVCXR") {
        return;
    }
    let Some(probe) = probe() else {
        return;
    };
    for line in text.lines() {
        if probe.frequent(Kind::Print, 0) {
            probe.mark(Kind::Print, 0, line);
        }
    }
}

/// The recording's hook, which [`begin`] registers in `State` for the
/// layers below to call (`output`, `lifecycle`).
struct Recording;

impl Observer for Recording {
    fn printed(&self, text: &str) {
        printed(text);
    }

    fn cell_ending(&self, state: &State) -> Option<u64> {
        cell_ending(state)
    }

    fn cell_ended(&self, state: &State, began: u64) {
        finish(state, began);
    }
}

/// At the runtime's cell end: when this cell is being recorded, the time the
/// end began (to draw the wait for threads and processes).
fn cell_ending(state: &State) -> Option<u64> {
    let recorder = armed(state)?;
    (state.role == Role::Runtime && recorder.target() == host().cell.load(Ordering::SeqCst))
        .then(now)
}

/// Ends the recorded cell: draws what was recorded, shows it, disarms.
fn finish(state: &State, end_began: u64) {
    if let Some(probe) = probe() {
        probe.span(Kind::CellEnd, end_began, 0, "");
    }
    let Some(recorder) = armed(state) else {
        return;
    };
    let finished = now();
    recorder.disarm();
    let (lanes, dropped) = recorder.dump();
    let picture = svg::render(lanes, std::process::id(), finished, dropped);
    crate::output::send_event(&Event::Display {
        data: vec![
            ("image/svg+xml".to_string(), picture.svg),
            (
                "text/plain".to_string(),
                format!(
                    "<timeline: {} lanes, {} events>",
                    picture.lanes, picture.events
                ),
            ),
        ],
        display_id: None,
        update: false,
    });
}
