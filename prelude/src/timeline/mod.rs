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

mod layout;
mod marks;
mod recorder;
mod svg;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::host::{host, Event};
use crate::state::{state, Role, State};
use recorder::Record;

pub(crate) use recorder::{now, Recorder, Ticket};

/// What happened, as recorded; spans have a start and an end, marks only a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// `sleep(seconds)` (span).
    Sleep = 1,
    /// Waiting in `Thread::join` (span; the text names the thread).
    JoinThread,
    /// Waiting in `Process::join` (span; the text names the process).
    JoinProcess,
    /// Waiting for a lock someone else holds (span).
    LockWait,
    /// A lock taken (mark, frequent).
    LockAcquire,
    /// A lock given back (mark, frequent).
    LockRelease,
    /// An item put on a queue (mark, frequent).
    QueuePut,
    /// An item taken from a queue (mark, frequent).
    QueueGet,
    /// Waiting for an item (span).
    QueueGetWait,
    /// Waiting for room in a full queue (span).
    QueuePutWait,
    /// Waiting for a `threading::Event` (span).
    EventWait,
    /// A process started (mark; the text names it, arg is its pid).
    ProcessStart,
    /// A child reaped (mark on the reaper's lane; arg is its pid, count its exit code).
    ProcessExit,
    /// A thread started (mark; the text names it).
    ThreadStart,
    /// A printed line (mark, frequent; the text is the line).
    Print,
    /// A pool worker running a task (span; arg is the task number).
    Task,
    /// The cell's end waiting for its threads and processes (span).
    CellEnd,
    /// Many frequent events of one kind, counted (span; class is their kind).
    Burst,
    /// Waiting for a pool task's result (span).
    ResultWait,
}

impl Kind {
    /// Every kind, in the order of their numbers.
    const ALL: [Kind; 19] = [
        Kind::Sleep,
        Kind::JoinThread,
        Kind::JoinProcess,
        Kind::LockWait,
        Kind::LockAcquire,
        Kind::LockRelease,
        Kind::QueuePut,
        Kind::QueueGet,
        Kind::QueueGetWait,
        Kind::QueuePutWait,
        Kind::EventWait,
        Kind::ProcessStart,
        Kind::ProcessExit,
        Kind::ThreadStart,
        Kind::Print,
        Kind::Task,
        Kind::CellEnd,
        Kind::Burst,
        Kind::ResultWait,
    ];

    /// The kind numbered `number`.
    pub(crate) fn from_u8(number: u8) -> Option<Kind> {
        Kind::ALL.get((number as usize).checked_sub(1)?).copied()
    }

    /// Whether it can repeat millions of times (and is counted in runs).
    pub(crate) fn is_frequent(self) -> bool {
        matches!(
            self,
            Kind::LockAcquire
                | Kind::LockRelease
                | Kind::QueuePut
                | Kind::QueueGet
                | Kind::Print
                | Kind::Task
        )
    }

    /// Whether it is the wait of a frequent event (drawn, but part of its run).
    pub(crate) fn is_wait(self) -> bool {
        matches!(
            self,
            Kind::LockWait | Kind::QueueGetWait | Kind::QueuePutWait
        )
    }

    /// Kinds that repeat together in one run (acquire and release of a lock).
    pub(crate) fn run_class(self) -> Kind {
        match self {
            Kind::LockRelease => Kind::LockAcquire,
            other => other,
        }
    }
}

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

/// The calling thread's place in an armed recording.
pub(crate) struct Probe {
    recorder: &'static Recorder,
    lane: usize,
}

/// This process's recorder, if one is armed for what runs now.
#[inline]
fn armed(state: &State) -> Option<&'static Recorder> {
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
fn armed_anywhere() -> bool {
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
    let ident = crate::threading::get_ident();
    let lane = match recorder.find_lane(ident) {
        Some(lane) => lane?,
        None => register(state, recorder, ident)?,
    };
    Some(Probe { recorder, lane })
}

/// Gives the calling thread a lane, named as Python would name it; a
/// prelude thread takes the lane the thread that started it claimed (see
/// [`thread_starting`]).
fn register(state: &State, recorder: &Recorder, ident: u64) -> Option<usize> {
    let main = crate::threading::is_main_thread();
    // A daemon thread abandoned by an earlier cell is no part of this one.
    if !main && crate::threading::current_thread_abandoned(state) {
        return None;
    }
    if main {
        let name = match state.role {
            Role::Runtime => "MainThread",
            _ => &state.identity.name,
        };
        return recorder.register(ident, &[name], true, now());
    }
    let record = crate::threading::current_thread_record(state);
    if let Some(thread) = &record {
        let ticket = thread.lane().ticket();
        if let Some(lane) = recorder.lane_of(ticket) {
            recorder.adopt(ident, ticket);
            return lane;
        }
    }
    let thread = record
        .map(|thread| thread.name())
        .unwrap_or_else(|| crate::threading::current_thread().name().to_string());
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
    fn ticket(&self) -> Ticket {
        self.0.load(Ordering::Relaxed)
    }

    /// Its lane in the session `recorder` is recording now, if any.
    fn current(&self, recorder: &Recorder) -> Option<usize> {
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

/// In a child just forked from a process with `parent` as its recorder:
/// the child's own view, its main thread on the lane of `ticket`.
pub(crate) fn child_view(parent: &Recorder, ticket: Ticket) -> Recorder {
    Recorder::inherit(
        parent,
        std::process::id(),
        crate::threading::get_ident(),
        ticket,
    )
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

/// Waits shorter than this are not drawn as waits (nanoseconds).
pub(crate) const SHORTEST_WAIT: u64 = 50_000;

/// How many uses of a lock or queue one look at the recorder stands for,
/// once its run is only counted.
const THIN: u32 = 256;

/// [`Thinning`]'s value for an object made while nothing was armed.
const UNRECORDED: u32 = u32::MAX;

/// What each lock and queue keeps, next to its own hot data, so that the
/// recorder costs it almost nothing. An object made while nothing is armed
/// (before the `:timeline` cell) is not drawn: a use costs one load of this
/// word. An object made while armed counts down: while
/// above zero a use skips the recorder (a load and a store on a cache line
/// the use touches anyway); at zero it looks at the recorder, which either
/// records the use exactly (the first repeats of a run) or counts it as
/// [`THIN`] uses and resets the countdown. A look that finds nothing armed
/// makes the object unrecorded again.
#[derive(Debug)]
pub(crate) struct Thinning(AtomicU32);

impl Thinning {
    /// The word for an object made now.
    pub(crate) fn new() -> Thinning {
        Thinning(AtomicU32::new(if armed_anywhere() {
            0
        } else {
            UNRECORDED
        }))
    }

    /// Whether a use of the object may be recorded (it was made while armed):
    /// a load, so an unrecorded object's path stays as short as without it.
    #[inline]
    pub(crate) fn may_record(&self) -> bool {
        self.0.load(Ordering::Relaxed) != UNRECORDED
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

/// Records a printed text, line by line (event lines for the kernel excepted).
pub(crate) fn printed(text: &str) {
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

/// The calling thread's probe if this use of a frequent `kind` (counted per
/// `thinning`, see [`Thinning`]) must be recorded exactly.
#[inline]
pub(crate) fn exact(kind: Kind, thinning: &Thinning) -> Option<Probe> {
    thinning.exact(kind, 0)
}

/// The calling prelude thread, given `lane` when it started, ends.
pub(crate) fn thread_ended(lane: &ThreadLane) {
    let Some(recorder) = armed(state()) else {
        return;
    };
    let ident = crate::threading::get_ident();
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

/// At the runtime's cell end: when this cell is being recorded, the time the
/// end began (to draw the wait for threads and processes).
pub(crate) fn cell_ending(state: &State) -> Option<u64> {
    let recorder = armed(state)?;
    (state.role == Role::Runtime && recorder.target() == host().cell.load(Ordering::SeqCst))
        .then(now)
}

/// Ends the recorded cell: draws what was recorded, shows it, disarms.
pub(crate) fn finish(state: &State, end_began: u64) {
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
    crate::display::send_event(&Event::Display {
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
