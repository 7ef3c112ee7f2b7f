//! Requests in, replies and iopub messages out: the kernel's protocol logic.
//!
//! [`ShellHandler`] answers the shell socket and owns the [`Engine`];
//! [`ControlHandler`] answers the control socket with an [`Interrupter`], so
//! an interrupt or a shutdown is served while a cell runs. Both publish
//! `busy` before and `idle` after every request, and an execution publishes
//! in the order the protocol promises: busy, execute_input, outputs, the
//! reply, idle. Nothing here touches a socket, imports evcxr or knows the
//! output pump: the handlers see the [`ports`](crate::ports) and the
//! [`Engine`] trait, and are tested with a fake engine and in-memory fakes of
//! the ports.
//!
//! This file holds what both handlers share and the [`ControlHandler`];
//! `shell.rs` the [`ShellHandler`].

mod shell;

use std::sync::Arc;

use jupyter_protocol::{
    ErrorOutput, ExecuteReply, ExecutionCount, HelpLink, InterruptReply, JupyterMessage,
    JupyterMessageContent, KernelInfoReply, LanguageInfo, ReplyError, ReplyStatus, ShutdownReply,
    ShutdownRequest, Status,
};

pub use shell::ShellHandler;

use crate::engine::Interrupter;
use crate::ports::{AfterRequest, Handler, Publisher, ReplySink};

/// What both handlers need to describe the kernel.
#[derive(Clone)]
pub struct KernelIdentity {
    /// Version of the rustc that compiles cells.
    pub rust_version: String,
}

impl KernelIdentity {
    fn info_reply(&self) -> KernelInfoReply {
        KernelInfoReply {
            status: ReplyStatus::Ok,
            protocol_version: "5.3".to_owned(),
            implementation: "multitask-kernel".to_owned(),
            implementation_version: env!("CARGO_PKG_VERSION").to_owned(),
            language_info: LanguageInfo {
                name: "rust".to_owned(),
                version: self.rust_version.clone(),
                mimetype: Some("text/rust".to_owned()),
                file_extension: Some(".rs".to_owned()),
                pygments_lexer: Some("rust".to_owned()),
                codemirror_mode: Some(jupyter_protocol::CodeMirrorMode::Simple("rust".to_owned())),
                nbconvert_exporter: Some("script".to_owned()),
            },
            banner: format!(
                "multitask-kernel {} — Rust {} with real processes and threads \
                 (mp, threading, queue, pool)",
                env!("CARGO_PKG_VERSION"),
                self.rust_version
            ),
            help_links: vec![HelpLink {
                text: "The Rust Book: Fearless Concurrency".to_owned(),
                url: "https://doc.rust-lang.org/book/ch16-00-concurrency.html".to_owned(),
            }],
            debugger: false,
            error: None,
        }
    }
}

/// Publishes `busy`, runs `body`, publishes `idle`: every request, even an
/// unknown one, is wrapped so clients can tell when the kernel is done.
fn while_busy<T>(
    publisher: &dyn Publisher,
    request: &JupyterMessage,
    body: impl FnOnce() -> T,
) -> T {
    publisher.publish(Status::busy().as_child_of(request));
    let result = body();
    publisher.publish(Status::idle().as_child_of(request));
    result
}

/// An `execute_reply` with status `error`. (The spec's `aborted` status is
/// refused by the reference client's schema, so an aborted cell is an error too.)
fn error_reply(
    request: &JupyterMessage,
    execution_count: ExecutionCount,
    error: ErrorOutput,
) -> JupyterMessage {
    ExecuteReply {
        status: ReplyStatus::Error,
        execution_count,
        payload: Vec::new(),
        user_expressions: Some(Default::default()),
        error: Some(Box::new(ReplyError {
            ename: error.ename,
            evalue: error.evalue,
            traceback: error.traceback,
        })),
    }
    .as_child_of(request)
}

fn shut_down(
    interrupter: &Interrupter,
    request: &JupyterMessage,
    shutdown: &ShutdownRequest,
    replies: &mut dyn ReplySink,
) -> AfterRequest {
    // Restart or not, this process ends: the frontend starts a new kernel.
    interrupter.kill_runtime();
    replies.send_reply(
        ShutdownReply {
            restart: shutdown.restart,
            status: ReplyStatus::Ok,
            error: None,
        }
        .as_child_of(request),
    );
    AfterRequest::Shutdown
}

/// Handles the control socket: interrupts, shutdowns and kernel_info.
pub struct ControlHandler {
    interrupter: Interrupter,
    identity: KernelIdentity,
    publisher: Arc<dyn Publisher>,
}

impl ControlHandler {
    /// A handler that interrupts and stops the runtime through `interrupter`.
    pub fn new(
        interrupter: Interrupter,
        identity: KernelIdentity,
        publisher: Arc<dyn Publisher>,
    ) -> Self {
        ControlHandler {
            interrupter,
            identity,
            publisher,
        }
    }
}

impl Handler for ControlHandler {
    fn handle(&mut self, request: JupyterMessage, replies: &mut dyn ReplySink) -> AfterRequest {
        while_busy(self.publisher.as_ref(), &request, || {
            match &request.content {
                JupyterMessageContent::InterruptRequest(_) => {
                    self.interrupter.interrupt();
                    replies.send_reply(InterruptReply::new().as_child_of(&request));
                    AfterRequest::Continue
                }
                JupyterMessageContent::ShutdownRequest(shutdown) => {
                    shut_down(&self.interrupter, &request, shutdown, replies)
                }
                JupyterMessageContent::KernelInfoRequest(_) => {
                    replies.send_reply(JupyterMessage::new(
                        self.identity.info_reply(),
                        Some(&request),
                    ));
                    AfterRequest::Continue
                }
                _ => AfterRequest::Continue,
            }
        })
    }

    fn abort(&mut self, _request: JupyterMessage, _replies: &mut dyn ReplySink) {}
}

#[cfg(test)]
mod tests;
