//! The dispatcher against a fake engine and in-memory fakes of the ports:
//! no sockets, no compiling, no pump thread.

use std::sync::{Arc, Mutex};

use crossbeam_channel::Receiver;
use jupyter_protocol::{
    CompleteRequest, ErrorOutput, ExecuteRequest, InterruptRequest, JupyterMessage,
    JupyterMessageContent, KernelInfoRequest, Media, MediaType, ReplyStatus, ShutdownRequest,
};

use super::*;
use crate::cell::CodeCell;
use crate::engine::{
    CellOutcome, Completion, Completions, Engine, InputSource, Inspection, Interrupter,
};
use crate::ports::{CellOutput, FlushReport, InputAsker, StreamName};

/// What happened, in order: what was published (status messages as their
/// state) and what dispatch and the engine did with the cell's output.
type Log = Arc<Mutex<Vec<String>>>;

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

struct FakePublisher(Log);

impl Publisher for FakePublisher {
    fn publish(&self, message: JupyterMessage) {
        self.0.lock().unwrap().push(match &message.content {
            JupyterMessageContent::Status(status) => status.execution_state.as_str().to_owned(),
            _ => message.message_type().to_owned(),
        });
    }
}

/// Stands in for the output pump: logs what it is told, and reports the
/// error a prelude event would have.
struct FakeOutput {
    log: Log,
    prelude_error: Option<ErrorOutput>,
}

impl CellOutput for FakeOutput {
    fn begin(&self, _request: &JupyterMessage) {
        self.log.lock().unwrap().push("begin".to_owned());
    }

    fn attach_stdout(&self, _lines: Receiver<String>) {}

    fn line(&self, _stream: StreamName, text: String) {
        self.log.lock().unwrap().push(format!("line {text}"));
    }

    fn running(&self) {}

    fn flush(&self) -> FlushReport {
        self.log.lock().unwrap().push("flush".to_owned());
        FlushReport {
            error: self.prelude_error.clone(),
        }
    }
}

/// A frontend that takes no input.
struct NoInput;

impl InputAsker for NoInput {
    fn ask(
        &self,
        _request: JupyterMessage,
        _cancelled: &dyn Fn() -> bool,
    ) -> Option<JupyterMessage> {
        None
    }
}

/// What the fake engine does when asked to run a cell.
#[derive(Clone)]
struct Script {
    stdout: Vec<String>,
    outcome: CellOutcome,
}

#[derive(Clone)]
struct FakeEngine {
    script: Script,
    ran: Arc<Mutex<Vec<String>>>,
}

impl FakeEngine {
    fn new(stdout: &[&str], outcome: CellOutcome) -> FakeEngine {
        FakeEngine {
            script: Script {
                stdout: stdout.iter().map(|line| line.to_string()).collect(),
                outcome,
            },
            ran: Arc::default(),
        }
    }
}

impl Engine for FakeEngine {
    fn execute(
        &mut self,
        cell: CodeCell,
        output: Arc<dyn CellOutput>,
        _input: InputSource,
    ) -> CellOutcome {
        self.ran.lock().unwrap().push(cell.code);
        for line in &self.script.stdout {
            output.line(StreamName::Stdout, line.clone());
        }
        self.script.outcome.clone()
    }

    fn complete(&mut self, code: &str, cursor: usize) -> Completions {
        // Offers "Thread" for the identifier that ends at the cursor.
        let start = code[..cursor]
            .rfind(|c: char| !c.is_alphanumeric())
            .map_or(0, |index| index + 1);
        Completions {
            matches: vec![Completion {
                text: "Thread".to_owned(),
                kind: "struct".to_owned(),
                signature: String::new(),
            }],
            cursor_start: start,
            cursor_end: cursor,
        }
    }

    fn inspect(&mut self, code: &str, _cursor: usize) -> Option<Inspection> {
        (code == "threading::Lock").then(|| {
            Media::new(vec![MediaType::Plain(
                "A mutual-exclusion lock.".to_owned(),
            )])
        })
    }

    fn interrupter(&self) -> Interrupter {
        Interrupter::new()
    }

    fn rust_version(&self) -> String {
        "1.95.0".to_owned()
    }
}

struct Sink(Vec<JupyterMessage>);

impl ReplySink for Sink {
    fn send_reply(&mut self, reply: JupyterMessage) {
        self.0.push(reply);
    }
}

struct Harness {
    shell: ShellHandler<FakeEngine>,
    log: Log,
    ran: Arc<Mutex<Vec<String>>>,
}

fn harness(engine: FakeEngine) -> Harness {
    harness_with_prelude_error(engine, None)
}

/// A harness whose cell output reports `prelude_error`, as the pump does
/// when the prelude's error event was among the cell's lines.
fn harness_with_prelude_error(engine: FakeEngine, prelude_error: Option<ErrorOutput>) -> Harness {
    let log = Log::default();
    let output = FakeOutput {
        log: Arc::clone(&log),
        prelude_error,
    };
    let ran = Arc::clone(&engine.ran);
    let identity = KernelIdentity {
        rust_version: "1.95.0".to_owned(),
    };
    Harness {
        shell: ShellHandler::new(
            engine,
            identity,
            Arc::new(FakePublisher(Arc::clone(&log))),
            Arc::new(output),
            Arc::new(NoInput),
        ),
        log,
        ran,
    }
}

impl Harness {
    fn handle(
        &mut self,
        content: impl Into<JupyterMessageContent>,
    ) -> (AfterRequest, Vec<JupyterMessage>) {
        let mut sink = Sink(Vec::new());
        let after = self
            .shell
            .handle(JupyterMessage::new(content, None), &mut sink);
        (after, sink.0)
    }

    /// Everything published and done with the cell output so far.
    fn log(&self) -> Vec<String> {
        entries(&self.log)
    }
}

fn execute(code: &str) -> ExecuteRequest {
    ExecuteRequest {
        code: code.to_owned(),
        silent: false,
        store_history: true,
        user_expressions: None,
        allow_stdin: false,
        stop_on_error: true,
    }
}

fn value(text: &str) -> CellOutcome {
    CellOutcome::Finished(Some(Media::new(vec![MediaType::Plain(text.to_owned())])))
}

fn failure(ename: &str) -> CellOutcome {
    CellOutcome::Failed(ErrorOutput {
        ename: ename.to_owned(),
        evalue: "it failed".to_owned(),
        traceback: vec!["it failed".to_owned()],
    })
}

fn reply_status(reply: &JupyterMessage) -> (ReplyStatus, Option<String>) {
    match &reply.content {
        JupyterMessageContent::ExecuteReply(reply) => (
            reply.status.clone(),
            reply.error.as_ref().map(|error| error.ename.clone()),
        ),
        other => panic!("not an execute_reply: {other:?}"),
    }
}

#[test]
fn an_execution_publishes_in_protocol_order() {
    let mut harness = harness(FakeEngine::new(&["hello"], value("42")));
    let (after, replies) = harness.handle(execute("6 * 7"));
    assert_eq!(after, AfterRequest::Continue);
    assert_eq!(reply_status(&replies[0]), (ReplyStatus::Ok, None));
    assert_eq!(
        harness.log(),
        [
            "busy",
            "execute_input",
            "begin",
            "line hello",
            "flush",
            "execute_result",
            "idle"
        ]
    );
}

#[test]
fn a_failed_cell_publishes_one_error_and_aborts_the_queue() {
    let mut harness = harness(FakeEngine::new(&[], failure("CompileError")));
    let (after, replies) = harness.handle(execute("oops"));
    assert_eq!(after, AfterRequest::AbortQueued);
    assert_eq!(
        reply_status(&replies[0]),
        (ReplyStatus::Error, Some("CompileError".to_owned()))
    );
    assert_eq!(
        harness.log(),
        ["busy", "execute_input", "begin", "flush", "error", "idle"]
    );
}

#[test]
fn without_stop_on_error_the_queue_goes_on() {
    let mut harness = harness(FakeEngine::new(&[], failure("CompileError")));
    let mut request = execute("oops");
    request.stop_on_error = false;
    let (after, _) = harness.handle(request);
    assert_eq!(after, AfterRequest::Continue);
}

#[test]
fn an_error_event_from_the_prelude_wins_over_the_engine_view() {
    let interrupted = ErrorOutput {
        ename: "KeyboardInterrupt".to_owned(),
        evalue: String::new(),
        traceback: vec!["KeyboardInterrupt".to_owned()],
    };
    let mut harness = harness_with_prelude_error(
        FakeEngine::new(&["before"], CellOutcome::Finished(None)),
        Some(interrupted),
    );
    let (_, replies) = harness.handle(execute("loop { sleep(1.0); }"));
    assert_eq!(
        reply_status(&replies[0]),
        (ReplyStatus::Error, Some("KeyboardInterrupt".to_owned()))
    );
    assert_eq!(
        harness.log(),
        [
            "busy",
            "execute_input",
            "begin",
            "line before",
            "flush",
            "error",
            "idle"
        ]
    );
}

#[test]
fn aborted_requests_are_answered_without_running() {
    let mut harness = harness(FakeEngine::new(&[], value("1")));
    let mut sink = Sink(Vec::new());
    harness
        .shell
        .abort(JupyterMessage::new(execute("never"), None), &mut sink);
    assert!(harness.ran.lock().unwrap().is_empty());
    assert_eq!(reply_status(&sink.0[0]).0, ReplyStatus::Error);
    assert_eq!(harness.log(), ["busy", "idle"]);
}

#[test]
fn silent_cells_are_not_counted_nor_echoed() {
    let mut harness = harness(FakeEngine::new(&[], value("1")));
    let mut request = execute("1");
    request.silent = true;
    let (_, replies) = harness.handle(request);
    let JupyterMessageContent::ExecuteReply(reply) = &replies[0].content else {
        unreachable!()
    };
    assert_eq!(reply.execution_count.value(), 0);
    // Neither execute_input nor the result: only the cell's own output.
    assert_eq!(harness.log(), ["busy", "begin", "flush", "idle"]);
}

#[test]
fn completion_cursors_count_characters_not_bytes() {
    let mut harness = harness(FakeEngine::new(&[], value("1")));
    let code = "let 名字 = threading::Thr";
    let (_, replies) = harness.handle(CompleteRequest {
        code: code.to_owned(),
        cursor_pos: code.chars().count(),
    });
    let JupyterMessageContent::CompleteReply(reply) = &replies[0].content else {
        unreachable!()
    };
    assert_eq!(reply.cursor_end, code.chars().count());
    assert_eq!(reply.cursor_start, code.chars().count() - "Thr".len());
    // JupyterLab shows each match's kind from IPython's experimental key.
    assert_eq!(reply.matches, ["Thread"]);
    assert_eq!(
        reply.metadata["_jupyter_types_experimental"],
        serde_json::json!([{
            "start": reply.cursor_start,
            "end": reply.cursor_end,
            "text": "Thread",
            "type": "struct",
            "signature": "",
        }])
    );
}

#[test]
fn every_request_is_wrapped_in_busy_and_idle() {
    let mut harness = harness(FakeEngine::new(&[], value("1")));
    let (_, replies) = harness.handle(KernelInfoRequest {});
    assert_eq!(replies[0].message_type(), "kernel_info_reply");
    assert_eq!(harness.log(), ["busy", "idle"]);
}

#[test]
fn control_answers_interrupt_shutdown_and_kernel_info() {
    let log = Log::default();
    let identity = KernelIdentity {
        rust_version: "1.95.0".to_owned(),
    };
    let publisher = Arc::new(FakePublisher(Arc::clone(&log)));
    let mut control = ControlHandler::new(Interrupter::new(), identity, publisher);
    let mut sink = Sink(Vec::new());
    let interrupt = control.handle(JupyterMessage::new(InterruptRequest {}, None), &mut sink);
    let info = control.handle(JupyterMessage::new(KernelInfoRequest {}, None), &mut sink);
    let shutdown = control.handle(
        JupyterMessage::new(ShutdownRequest { restart: true }, None),
        &mut sink,
    );
    assert_eq!(
        (interrupt, info, shutdown),
        (
            AfterRequest::Continue,
            AfterRequest::Continue,
            AfterRequest::Shutdown
        )
    );
    let kinds: Vec<&str> = sink.0.iter().map(|reply| reply.message_type()).collect();
    assert_eq!(
        kinds,
        ["interrupt_reply", "kernel_info_reply", "shutdown_reply"]
    );
    assert_eq!(
        entries(&log),
        ["busy", "idle", "busy", "idle", "busy", "idle"],
        "busy and idle around each"
    );
}

#[test]
fn doc_pages_documentation_without_running_code() {
    let mut harness = harness(FakeEngine::new(&[], value("1")));
    let (_, replies) = harness.handle(execute(":doc threading::Lock"));
    let JupyterMessageContent::ExecuteReply(reply) = &replies[0].content else {
        unreachable!()
    };
    assert_eq!(reply.status, ReplyStatus::Ok);
    assert!(matches!(
        &reply.payload[..],
        [jupyter_protocol::Payload::Page { .. }]
    ));
    assert!(harness.ran.lock().unwrap().is_empty());

    let (_, replies) = harness.handle(execute(":doc no_such_thing"));
    assert_eq!(
        reply_status(&replies[0]),
        (ReplyStatus::Error, Some("DocNotFound".to_owned()))
    );
}
