//! The runtime's stderr: its lines forwarded to the cell output, its cell
//! markers (see [`crate::runtime`]) kept for the session, which learns from
//! them when a cell's code started (compiling is over) and when all of its
//! output has been written, and the prelude's `INTERRUPT_TAKEN` line handed
//! to the interrupter.

use std::sync::Arc;
use std::thread;

use crossbeam_channel::Receiver;
use multitask::host::INTERRUPT_TAKEN;

use crate::engine::Interrupter;
use crate::ports::{CellOutput, StreamName};
use crate::runtime::{CELL_FINISHED, CELL_STARTED};

/// A cell marker the runtime wrote on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Marker {
    /// The cell's code started running.
    Started,
    /// The cell and its end-of-cell work are done; its output is in the pipes.
    Finished,
}

/// Forwards the runtime's stderr to `output`, keeping its cell markers for the session.
pub(super) fn forward_stderr(
    lines: Receiver<String>,
    output: Arc<dyn CellOutput>,
    interrupter: Interrupter,
) -> Receiver<Marker> {
    let (markers, marker_receiver) = crossbeam_channel::unbounded();
    thread::Builder::new()
        .name("runtime-stderr".to_owned())
        .spawn(move || {
            for line in lines {
                match line.as_str() {
                    CELL_STARTED => {
                        // Steps the kernel runs before a cell (attaching the
                        // prelude, arming :timeline) do not end its compiling.
                        if interrupter.code_started() {
                            output.running();
                        }
                        let _ = markers.send(Marker::Started);
                    }
                    INTERRUPT_TAKEN => interrupter.interrupt_taken(),
                    CELL_FINISHED => {
                        let _ = markers.send(Marker::Finished);
                    }
                    _ => output.line(StreamName::Stderr, line),
                }
            }
        })
        .expect("the stderr forwarder starts");
    marker_receiver
}
