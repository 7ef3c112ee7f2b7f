//! Calls that wait once per call — a sleep, a join, an `Event`, a pool
//! task's result — recorded as one span each.

use super::lanes::ThreadLane;
use super::probe::probe;
use super::recorder::{now, Recorder};
use super::Kind;

/// Runs `operation`, a wait of `kind` (sleep, join), and records it as a span.
pub(crate) fn waiting<T>(
    kind: Kind,
    text: impl FnOnce() -> String,
    operation: impl FnOnce() -> T,
) -> T {
    timed(kind, operation, |_| (0, text()))
}

/// Runs `operation`, a join of the prelude thread with `lane` (named `name`),
/// and records it as a span naming the lane (or, with no lane, the name).
pub(crate) fn joining<T>(
    lane: &ThreadLane,
    name: impl FnOnce() -> String,
    operation: impl FnOnce() -> T,
) -> T {
    timed(Kind::JoinThread, operation, |recorder| {
        match lane.current(recorder) {
            Some(lane) => (lane as i64, String::new()),
            None => (-1, name()),
        }
    })
}

/// Runs `operation` and records it as a span of `kind`, with the argument
/// and text `about` gives.
fn timed<T>(
    kind: Kind,
    operation: impl FnOnce() -> T,
    about: impl FnOnce(&Recorder) -> (i64, String),
) -> T {
    let Some(probe) = probe() else {
        return operation();
    };
    let start = now();
    let value = operation();
    let (arg, text) = about(probe.recorder);
    probe.span(kind, start, arg, &text);
    value
}
