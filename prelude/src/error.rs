//! The error type of every prelude call that returns a `Result` (the
//! `_timeout`, `_nowait` and pool-result calls). Calls that return a plain value
//! panic instead, with a message in the words Python would use.

use std::fmt;

/// What went wrong in a prelude call that returns a `Result`; the Python
/// exception it stands for is named in each variant's doc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The queue stayed empty until the timeout (Python's `queue.Empty`).
    Empty,
    /// The queue stayed full until the timeout (Python's `queue.Full`).
    Full,
    /// A result did not arrive before the timeout (Python's `TimeoutError`).
    Timeout,
    /// A pool task panicked; holds the panic message (Python re-raises the
    /// task's exception from `get()`).
    TaskPanicked(String),
    /// A value could not be encoded for or decoded from another process.
    Serialization(String),
    /// The pool was terminated before the task finished.
    PoolTerminated,
    /// A worker process died while it ran the task (killed, or crashed).
    WorkerDied(String),
}

impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Empty => write!(formatter, "the queue is empty (queue.Empty)"),
            Error::Full => write!(formatter, "the queue is full (queue.Full)"),
            Error::Timeout => write!(formatter, "timed out waiting for the result (TimeoutError)"),
            Error::TaskPanicked(message) => write!(formatter, "the task panicked: {message}"),
            Error::Serialization(message) => write!(formatter, "{message}"),
            Error::PoolTerminated => write!(
                formatter,
                "the pool was terminated before the task finished"
            ),
            Error::WorkerDied(message) => write!(formatter, "{message}"),
        }
    }
}

impl std::error::Error for Error {}
