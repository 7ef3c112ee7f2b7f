//! Requests in, replies and iopub messages out: the kernel's protocol logic.
//!
//! [`ShellHandler`] answers the shell socket and owns the [`Engine`];
//! [`ControlHandler`] answers the control socket with an [`Interrupter`], so
//! an interrupt or a shutdown is served while a cell runs. Both publish
//! `busy` before and `idle` after every request, and an execution publishes
//! in the order the protocol promises: busy, execute_input, outputs, the
//! reply, idle. Nothing here touches a socket or imports evcxr: the handlers
//! are tested with a fake engine and in-memory sinks.

use jupyter_protocol::{
    CommInfoReply, CompleteReply, ErrorOutput, ExecuteInput, ExecuteReply, ExecuteRequest,
    ExecuteResult, ExecutionCount, HelpLink, HistoryReply, InputRequest, InspectReply,
    InterruptReply, IsCompleteReply, JupyterMessage, JupyterMessageContent, KernelInfoReply,
    LanguageInfo, Media, Payload, ReplyError, ReplyStatus, ShutdownReply, ShutdownRequest, Status,
    Transient,
};

use crate::engine::{CellOutcome, Completion, Engine, InputPrompt, InputSource, Interrupter};
use crate::history::History;
use crate::output::OutputPump;
use crate::syntax::{completeness, Completeness};
use crate::transport::{AfterRequest, Handler, InputAsker, Publisher, ReplySink};

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
fn while_busy<T>(publisher: &Publisher, request: &JupyterMessage, body: impl FnOnce() -> T) -> T {
    publisher.publish(Status::busy().as_child_of(request));
    let result = body();
    publisher.publish(Status::idle().as_child_of(request));
    result
}

/// Handles the shell socket: executions and the editor's questions.
pub struct ShellHandler<E: Engine> {
    engine: E,
    identity: KernelIdentity,
    publisher: Publisher,
    output: OutputPump,
    input_asker: InputAsker,
    execution_count: usize,
    history: History,
}

impl<E: Engine> ShellHandler<E> {
    /// A handler running cells on `engine`, publishing through `publisher`
    /// (and, for cell output, through `output`).
    pub fn new(
        engine: E,
        identity: KernelIdentity,
        publisher: Publisher,
        output: OutputPump,
        input_asker: InputAsker,
    ) -> ShellHandler<E> {
        ShellHandler {
            engine,
            identity,
            publisher,
            output,
            input_asker,
            execution_count: 0,
            history: History::new(),
        }
    }

    fn execute(
        &mut self,
        request: &JupyterMessage,
        execute: &ExecuteRequest,
        replies: &mut dyn ReplySink,
    ) -> AfterRequest {
        let counts = !execute.silent && execute.store_history;
        if counts {
            self.execution_count += 1;
        }
        let execution_count = ExecutionCount::new(self.execution_count);
        if !execute.silent {
            self.publisher.publish(
                ExecuteInput {
                    code: execute.code.clone(),
                    execution_count,
                }
                .as_child_of(request),
            );
        }
        if counts {
            self.history.record(self.execution_count, &execute.code);
        }

        let (error, payload) = match documentation_topic(&execute.code) {
            Some(topic) => self.page_documentation(topic),
            None => (
                self.run_cell(request, execute, counts, execution_count),
                Vec::new(),
            ),
        };
        match error {
            None => {
                replies.send_reply(
                    ExecuteReply {
                        status: ReplyStatus::Ok,
                        execution_count,
                        payload,
                        user_expressions: Some(Default::default()),
                        error: None,
                    }
                    .as_child_of(request),
                );
                AfterRequest::Continue
            }
            Some(error) => {
                self.publisher
                    .publish(JupyterMessage::new(error.clone(), Some(request)));
                replies.send_reply(error_reply(request, execution_count, error));
                if execute.stop_on_error {
                    AfterRequest::AbortQueued
                } else {
                    AfterRequest::Continue
                }
            }
        }
    }

    /// Runs the cell on the engine; publishes its result; returns its error.
    fn run_cell(
        &mut self,
        request: &JupyterMessage,
        execute: &ExecuteRequest,
        counts: bool,
        execution_count: ExecutionCount,
    ) -> Option<ErrorOutput> {
        self.output.begin(request);
        let input = self.input_source(request, execute.allow_stdin);
        let outcome = self.engine.execute(&execute.code, &self.output, input);
        let report = self.output.flush();

        // An error the prelude reported from inside the cell (a panic, an
        // interrupt) says more than the engine's view of it.
        match (report.error, outcome) {
            (Some(error), _) => Some(error),
            (None, CellOutcome::Failed(error)) => Some(error),
            (None, CellOutcome::Finished(value)) => {
                if let Some(data) = value.filter(|_| !execute.silent) {
                    if counts {
                        self.history.record_output(&plain_text(&data));
                    }
                    self.publish_result(request, execution_count, data);
                }
                None
            }
        }
    }

    /// `:doc NAME` shows NAME's documentation in the pager, as `NAME?` does in IPython.
    fn page_documentation(&mut self, topic: &str) -> (Option<ErrorOutput>, Vec<Payload>) {
        match self.engine.inspect(topic, topic.len()) {
            Some(data) => (None, vec![Payload::Page { data, start: 0 }]),
            None => {
                let message = format!("no documentation found for `{topic}`");
                (
                    Some(ErrorOutput {
                        ename: "DocNotFound".to_owned(),
                        evalue: message.clone(),
                        traceback: vec![message],
                    }),
                    Vec::new(),
                )
            }
        }
    }

    fn publish_result(
        &self,
        request: &JupyterMessage,
        execution_count: ExecutionCount,
        data: Media,
    ) {
        self.publisher.publish(
            ExecuteResult {
                execution_count,
                data,
                metadata: Default::default(),
                // `{}` rather than `null`: strict clients validate this field.
                transient: Some(Transient { display_id: None }),
            }
            .as_child_of(request),
        );
    }

    /// Answers the cell's input prompts through the stdin socket, or refuses
    /// them when the frontend said it takes no input.
    fn input_source(&self, request: &JupyterMessage, allow_stdin: bool) -> InputSource {
        if !allow_stdin {
            return Box::new(|_| None);
        }
        let asker = self.input_asker.clone();
        let parent = request.clone();
        let interrupter = self.engine.interrupter();
        Box::new(move |prompt: InputPrompt| {
            let ask = InputRequest {
                prompt: prompt.prompt,
                password: prompt.password,
            }
            .as_child_of(&parent);
            // An interrupt while the frontend shows the input box gives up
            // waiting, so the cell can unwind.
            let interrupts_before = interrupter.interrupt_count();
            let cancelled = || interrupter.interrupt_count() != interrupts_before;
            match asker.ask(ask, cancelled)?.content {
                JupyterMessageContent::InputReply(reply) => Some(reply.value),
                _ => None,
            }
        })
    }

    fn reply_to(&mut self, request: &JupyterMessage) -> Option<JupyterMessage> {
        let reply: JupyterMessage = match &request.content {
            JupyterMessageContent::KernelInfoRequest(_) => {
                JupyterMessage::new(self.identity.info_reply(), Some(request))
            }
            JupyterMessageContent::CompleteRequest(complete) => {
                let cursor = byte_offset(&complete.code, complete.cursor_pos);
                let found = self.engine.complete(&complete.code, cursor);
                let cursor_start = char_offset(&complete.code, found.cursor_start);
                let cursor_end = char_offset(&complete.code, found.cursor_end);
                CompleteReply {
                    metadata: completion_types(&found.matches, cursor_start, cursor_end),
                    matches: found.matches.into_iter().map(|found| found.text).collect(),
                    cursor_start,
                    cursor_end,
                    status: ReplyStatus::Ok,
                    error: None,
                }
                .as_child_of(request)
            }
            JupyterMessageContent::InspectRequest(inspect) => {
                let cursor = byte_offset(&inspect.code, inspect.cursor_pos);
                let found = self.engine.inspect(&inspect.code, cursor);
                InspectReply {
                    found: found.is_some(),
                    data: found.unwrap_or_default(),
                    metadata: Default::default(),
                    status: ReplyStatus::Ok,
                    error: None,
                }
                .as_child_of(request)
            }
            JupyterMessageContent::IsCompleteRequest(is_complete) => {
                match completeness(&is_complete.code) {
                    Completeness::Complete => IsCompleteReply::complete(),
                    Completeness::Incomplete { indent } => IsCompleteReply::incomplete(indent),
                    Completeness::Invalid => IsCompleteReply::invalid(),
                }
                .as_child_of(request)
            }
            JupyterMessageContent::HistoryRequest(history) => {
                HistoryReply::new(self.history.answer(history)).as_child_of(request)
            }
            JupyterMessageContent::CommInfoRequest(_) => CommInfoReply {
                status: ReplyStatus::Ok,
                comms: Default::default(),
                error: None,
            }
            .as_child_of(request),
            // Comms are not supported: messages to them are dropped, as a
            // kernel without the target would.
            _ => return None,
        };
        Some(reply)
    }
}

impl<E: Engine> Handler for ShellHandler<E> {
    fn handle(&mut self, request: JupyterMessage, replies: &mut dyn ReplySink) -> AfterRequest {
        let publisher = self.publisher.clone();
        while_busy(&publisher, &request, || match &request.content {
            JupyterMessageContent::ExecuteRequest(execute) => {
                self.execute(&request, execute, replies)
            }
            JupyterMessageContent::ShutdownRequest(shutdown) => {
                shut_down(&self.engine.interrupter(), &request, shutdown, replies)
            }
            _ => {
                if let Some(reply) = self.reply_to(&request) {
                    replies.send_reply(reply);
                }
                AfterRequest::Continue
            }
        })
    }

    fn abort(&mut self, request: JupyterMessage, replies: &mut dyn ReplySink) {
        let publisher = self.publisher.clone();
        while_busy(&publisher, &request, || {
            if let JupyterMessageContent::ExecuteRequest(_) = request.content {
                let error = ErrorOutput {
                    ename: "Aborted".to_owned(),
                    evalue: "not run: an earlier cell failed (stop_on_error)".to_owned(),
                    traceback: Vec::new(),
                };
                let count = ExecutionCount::new(self.execution_count);
                replies.send_reply(error_reply(&request, count, error));
            } else if let Some(reply) = self.reply_to(&request) {
                replies.send_reply(reply);
            }
        });
    }
}

/// The NAME of a cell that is just `:doc NAME`.
fn documentation_topic(code: &str) -> Option<&str> {
    let topic = code.trim().strip_prefix(":doc")?.trim();
    (!topic.is_empty() && !topic.contains('\n')).then_some(topic)
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
    publisher: Publisher,
}

impl ControlHandler {
    /// A handler that interrupts and stops the runtime through `interrupter`.
    pub fn new(interrupter: Interrupter, identity: KernelIdentity, publisher: Publisher) -> Self {
        ControlHandler {
            interrupter,
            identity,
            publisher,
        }
    }
}

impl Handler for ControlHandler {
    fn handle(&mut self, request: JupyterMessage, replies: &mut dyn ReplySink) -> AfterRequest {
        let publisher = self.publisher.clone();
        while_busy(&publisher, &request, || match &request.content {
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
        })
    }

    fn abort(&mut self, _request: JupyterMessage, _replies: &mut dyn ReplySink) {}
}

/// The kind and signature of each match, in the metadata key JupyterLab
/// reads to show them (`_jupyter_types_experimental`, as IPython sends it).
fn completion_types(
    matches: &[Completion],
    cursor_start: usize,
    cursor_end: usize,
) -> serde_json::Map<String, serde_json::Value> {
    let types: Vec<serde_json::Value> = matches
        .iter()
        .map(|found| {
            serde_json::json!({
                "start": cursor_start,
                "end": cursor_end,
                "text": found.text,
                "type": found.kind,
                "signature": found.signature,
            })
        })
        .collect();
    let mut metadata = serde_json::Map::new();
    metadata.insert(
        "_jupyter_types_experimental".to_owned(),
        serde_json::Value::Array(types),
    );
    metadata
}

/// The `text/plain` part of a bundle, or nothing.
fn plain_text(data: &Media) -> String {
    data.content
        .iter()
        .find_map(|media| match media {
            jupyter_protocol::MediaType::Plain(text) => Some(text.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// Byte offset of the `chars`-th character (the protocol counts cursor
/// positions in Unicode code points).
fn byte_offset(code: &str, chars: usize) -> usize {
    code.char_indices()
        .nth(chars)
        .map_or(code.len(), |(index, _)| index)
}

/// Number of characters before byte offset `bytes`.
fn char_offset(code: &str, bytes: usize) -> usize {
    code.get(..bytes.min(code.len()))
        .map_or(0, |prefix| prefix.chars().count())
}

#[cfg(test)]
mod tests;
