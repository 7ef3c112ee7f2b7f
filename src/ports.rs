//! The seams between the kernel's layers: the traits the transport, the
//! dispatcher, the engine and the output pump meet at, and the few types in
//! their signatures.
//!
//! The transport calls a [`Handler`] and implements [`ReplySink`],
//! [`Publisher`] and [`InputAsker`]; the output pump implements
//! [`CellOutput`]; dispatch and the engine see only these traits. So the
//! dispatcher is tested with a fake engine and in-memory fakes of every port,
//! without sockets or a pump thread. **Invariant:** this module imports
//! nothing of the transport, the engine, dispatch or the pump.

use crossbeam_channel::Receiver;
use jupyter_protocol::{ErrorOutput, JupyterMessage};

/// Where a handler sends the replies to the request it is handling.
pub trait ReplySink {
    /// Sends `reply` on the socket the request came from.
    fn send_reply(&mut self, reply: JupyterMessage);
}

/// What the socket loop does after a handler returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterRequest {
    /// Keep serving.
    Continue,
    /// Answer the requests already waiting without running them (`stop_on_error`).
    AbortQueued,
    /// Stop the kernel process.
    Shutdown,
}

/// Handles the requests of one socket (shell or control), on that socket's thread.
pub trait Handler: Send + 'static {
    /// Handles one verified request.
    fn handle(&mut self, request: JupyterMessage, replies: &mut dyn ReplySink) -> AfterRequest;

    /// Answers a request that was queued behind a failed cell, without running it.
    fn abort(&mut self, request: JupyterMessage, replies: &mut dyn ReplySink);
}

/// Publishes messages on iopub; usable from any thread.
pub trait Publisher: Send + Sync {
    /// Queues `message` for iopub; a closed iopub means shutdown, so it never fails.
    fn publish(&self, message: JupyterMessage);
}

/// Asks the frontend for a line of input over stdin; usable from any thread.
pub trait InputAsker: Send + Sync {
    /// Sends an `input_request` and waits for the matching `input_reply`,
    /// or until `cancelled` says the asking cell was interrupted.
    fn ask(&self, request: JupyterMessage, cancelled: &dyn Fn() -> bool) -> Option<JupyterMessage>;
}

/// Which stream a line was written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamName {
    /// The process's standard output.
    Stdout,
    /// The process's standard error.
    Stderr,
}

/// What a cell's event lines said, collected until the cell's flush.
#[derive(Debug, Default, Clone)]
pub struct FlushReport {
    /// The error the prelude reported for the cell's main code, if any.
    pub error: Option<ErrorOutput>,
}

/// Where a cell's output goes: dispatch says which request it belongs to
/// and flushes it; the engine feeds it the runtime's lines. Usable from any
/// thread.
pub trait CellOutput: Send + Sync {
    /// Outputs from now on belong to the execution `request`.
    fn begin(&self, request: &JupyterMessage);

    /// Reads stdout lines straight from `lines` from now on, so that once
    /// the channel is empty every line in it has been taken in: a later
    /// [`flush`](CellOutput::flush) publishes them all.
    fn attach_stdout(&self, lines: Receiver<String>);

    /// One line (without its newline) written by the cell to `stream`.
    fn line(&self, stream: StreamName, text: String);

    /// The cell's code has been compiled and is running (or will not run):
    /// whatever says "compiling" goes.
    fn running(&self);

    /// Publishes everything received so far and returns what the cell's events reported.
    fn flush(&self) -> FlushReport;
}
