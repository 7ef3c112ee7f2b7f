//! The shell socket's handler: executions (their order of messages,
//! counts, history, `stop_on_error`, input prompts) and the editor's
//! questions (completion, inspection, `is_complete`, history).

use std::sync::Arc;

use jupyter_protocol::{
    CommInfoReply, CompleteReply, ErrorOutput, ExecuteInput, ExecuteReply, ExecuteRequest,
    ExecuteResult, ExecutionCount, HistoryReply, InputRequest, InspectReply, IsCompleteReply,
    JupyterMessage, JupyterMessageContent, Media, Payload, ReplyStatus, Transient,
};

use super::{error_reply, shut_down, while_busy, KernelIdentity};
use crate::cell::{Cell, CodeCell};
use crate::engine::{CellOutcome, Completion, Engine, InputPrompt, InputSource};
use crate::history::History;
use crate::ports::{AfterRequest, CellOutput, Handler, InputAsker, Publisher, ReplySink};
use crate::syntax::{completeness, Completeness};

/// Handles the shell socket: executions and the editor's questions.
pub struct ShellHandler<E: Engine> {
    engine: E,
    identity: KernelIdentity,
    publisher: Arc<dyn Publisher>,
    output: Arc<dyn CellOutput>,
    input_asker: Arc<dyn InputAsker>,
    execution_count: usize,
    history: History,
}

impl<E: Engine> ShellHandler<E> {
    /// A handler running cells on `engine`, publishing through `publisher`
    /// (and, for cell output, through `output`).
    pub fn new(
        engine: E,
        identity: KernelIdentity,
        publisher: Arc<dyn Publisher>,
        output: Arc<dyn CellOutput>,
        input_asker: Arc<dyn InputAsker>,
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

        let (error, payload) = match Cell::parse(&execute.code) {
            Cell::Doc { topic } => self.page_documentation(&topic),
            Cell::Code(cell) => (
                self.run_cell(request, execute, cell, counts, execution_count),
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
        cell: CodeCell,
        counts: bool,
        execution_count: ExecutionCount,
    ) -> Option<ErrorOutput> {
        self.output.begin(request);
        let input = self.input_source(request, execute.allow_stdin);
        let outcome = self.engine.execute(cell, Arc::clone(&self.output), input);
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
        let asker = Arc::clone(&self.input_asker);
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
            match asker.ask(ask, &cancelled)?.content {
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
        let publisher = Arc::clone(&self.publisher);
        while_busy(&*publisher, &request, || match &request.content {
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
        let publisher = Arc::clone(&self.publisher);
        while_busy(&*publisher, &request, || {
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
