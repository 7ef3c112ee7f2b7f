//! [`Kind`]: what a recorded event is, stored as its number in a record;
//! which kinds are frequent (counted in runs) and which are their waits.

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
