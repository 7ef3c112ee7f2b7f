//! The output pump: lines and prelude events in, iopub messages out.
//!
//! One thread owns the order of everything a cell shows. Lines that arrive
//! close together are coalesced into one `stream` message, but none waits
//! more than [`HOLD_LIMIT`]; a switch between stdout and stderr, a display or
//! a flush sends what is pending first, so the notebook shows output in the
//! order it was produced. A stdout line that starts with the prelude's event
//! prefix is a display, `clear_output` or error event, not text.
//!
//! The pump also owns the "compiling…" notice: shown when a cell has produced
//! nothing for [`NOTICE_AFTER`], removed (with `clear_output`) as soon as the
//! cell's code starts running or its first output arrives.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select, Sender};
use jupyter_protocol::{
    ClearOutput, DisplayData, ErrorOutput, JupyterMessage, Media, MediaType, Stdio, StreamContent,
    Transient, UpdateDisplayData,
};
use multitask::host::{Event, EVENT_PREFIX};

use crate::media;
use crate::ports::{CellOutput, FlushReport, Publisher, StreamName};

/// The longest a line waits before it is published.
pub const HOLD_LIMIT: Duration = Duration::from_millis(8);

/// A stream message is sent once this much text is pending, whatever its age.
const BATCH_BYTES: usize = 64 * 1024;

/// How long a cell may stay silent before the compiling notice shows.
pub const NOTICE_AFTER: Duration = Duration::from_secs(1);

enum Item {
    AttachStdout(Receiver<String>),
    Line(StreamName, String),
    Begin(Box<JupyterMessage>),
    Running,
    Flush(Sender<FlushReport>),
}

/// Handle to the pump thread, usable from any thread (the kernel shares it
/// as an `Arc<dyn CellOutput>`).
pub struct OutputPump {
    items: Sender<Item>,
}

impl OutputPump {
    /// Starts the pump thread, publishing through `publisher`.
    pub fn start(publisher: Arc<dyn Publisher>) -> OutputPump {
        let (items, receiver) = crossbeam_channel::unbounded();
        thread::Builder::new()
            .name("output".to_owned())
            .spawn(move || Pump::new(publisher).run(receiver))
            .expect("the output thread starts");
        OutputPump { items }
    }
}

impl CellOutput for OutputPump {
    fn begin(&self, request: &JupyterMessage) {
        let _ = self.items.send(Item::Begin(Box::new(request.clone())));
    }

    /// Reading the engine's channel on the pump's own thread (rather than
    /// through a forwarding thread) means that once the channel is empty,
    /// every line in it has reached the pump.
    fn attach_stdout(&self, lines: Receiver<String>) {
        let _ = self.items.send(Item::AttachStdout(lines));
    }

    fn line(&self, stream: StreamName, text: String) {
        let _ = self.items.send(Item::Line(stream, text));
    }

    /// Drops the compiling notice.
    fn running(&self) {
        let _ = self.items.send(Item::Running);
    }

    fn flush(&self) -> FlushReport {
        let (done, wait) = crossbeam_channel::bounded(1);
        if self.items.send(Item::Flush(done)).is_err() {
            return FlushReport::default();
        }
        wait.recv().unwrap_or_default()
    }
}

enum Ready {
    Item(Item),
    Stdout(String),
    StdoutClosed,
    Deadline,
    Closed,
}

/// Waits for the next item or stdout line, or until `deadline`.
fn wait(
    items: &Receiver<Item>,
    stdout: Option<&Receiver<String>>,
    deadline: Option<Instant>,
) -> Ready {
    let mut select = Select::new();
    let items_index = select.recv(items);
    if let Some(lines) = stdout {
        select.recv(lines);
    }
    let ready = match deadline {
        Some(deadline) => select.select_deadline(deadline),
        None => Ok(select.select()),
    };
    let Ok(operation) = ready else {
        return Ready::Deadline;
    };
    if operation.index() == items_index {
        return operation.recv(items).map_or(Ready::Closed, Ready::Item);
    }
    match stdout {
        Some(lines) => operation
            .recv(lines)
            .map_or(Ready::StdoutClosed, Ready::Stdout),
        None => Ready::Closed,
    }
}

struct Pending {
    stream: StreamName,
    text: String,
    since: Instant,
}

struct Pump {
    publisher: Arc<dyn Publisher>,
    parent: Option<JupyterMessage>,
    pending: Option<Pending>,
    notice_due: Option<Instant>,
    notice_shown: bool,
    report: FlushReport,
}

impl Pump {
    fn new(publisher: Arc<dyn Publisher>) -> Pump {
        Pump {
            publisher,
            parent: None,
            pending: None,
            notice_due: None,
            notice_shown: false,
            report: FlushReport::default(),
        }
    }

    fn run(mut self, items: Receiver<Item>) {
        let mut stdout: Option<Receiver<String>> = None;
        loop {
            match wait(&items, stdout.as_ref(), self.next_deadline()) {
                Ready::Deadline => self.on_deadline(),
                Ready::Item(Item::AttachStdout(lines)) => stdout = Some(lines),
                Ready::Item(item) => self.take(item),
                Ready::Stdout(line) => self.take(Item::Line(StreamName::Stdout, line)),
                Ready::StdoutClosed => stdout = None,
                Ready::Closed => return,
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let pending_deadline = self
            .pending
            .as_ref()
            .map(|pending| pending.since + HOLD_LIMIT);
        match (pending_deadline, self.notice_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn on_deadline(&mut self) {
        let now = Instant::now();
        if self
            .pending
            .as_ref()
            .is_some_and(|pending| now >= pending.since + HOLD_LIMIT)
        {
            self.send_pending();
        }
        if self.notice_due.is_some_and(|due| now >= due) {
            self.notice_due = None;
            self.show_notice();
        }
    }

    fn take(&mut self, item: Item) {
        match item {
            Item::Begin(parent) => {
                self.send_pending();
                self.parent = Some(*parent);
                self.report = FlushReport::default();
                self.notice_due = Some(Instant::now() + NOTICE_AFTER);
            }
            Item::Running => self.drop_notice(),
            Item::Line(stream, text) => match text.strip_prefix(EVENT_PREFIX) {
                Some(body) => self.take_event(body),
                None => self.take_line(stream, text),
            },
            Item::AttachStdout(_) => unreachable!("handled by the run loop"),
            Item::Flush(done) => {
                self.send_pending();
                self.drop_notice();
                let _ = done.send(std::mem::take(&mut self.report));
            }
        }
    }

    fn take_line(&mut self, stream: StreamName, mut text: String) {
        self.drop_notice();
        text.push('\n');
        match &mut self.pending {
            Some(pending) if pending.stream == stream => pending.text.push_str(&text),
            _ => {
                self.send_pending();
                self.pending = Some(Pending {
                    stream,
                    text,
                    since: Instant::now(),
                });
            }
        }
        if self
            .pending
            .as_ref()
            .is_some_and(|pending| pending.text.len() >= BATCH_BYTES)
        {
            self.send_pending();
        }
    }

    fn take_event(&mut self, body: &str) {
        let event = match Event::from_line_body(body) {
            Ok(event) => event,
            Err(error) => {
                self.take_line(
                    StreamName::Stderr,
                    format!("multitask-kernel: unreadable prelude event ({error})"),
                );
                return;
            }
        };
        self.send_pending();
        match event {
            Event::Display {
                data,
                display_id,
                update,
            } => {
                self.drop_notice();
                let media = media::from_pairs(data);
                let transient = display_id.map(|id| Transient {
                    display_id: Some(id),
                });
                match (update, transient) {
                    (true, Some(transient)) => self.publish(UpdateDisplayData {
                        data: media,
                        metadata: Default::default(),
                        transient,
                    }),
                    (_, transient) => self.publish(DisplayData {
                        data: media,
                        metadata: Default::default(),
                        transient,
                    }),
                }
            }
            Event::ClearOutput { wait } => {
                self.drop_notice();
                self.publish(ClearOutput { wait });
            }
            Event::Error {
                ename,
                evalue,
                traceback,
            } => {
                // The first error wins: a KeyboardInterrupt can be followed by
                // the unwinding it causes.
                if self.report.error.is_none() {
                    self.report.error = Some(ErrorOutput {
                        ename,
                        evalue,
                        traceback,
                    });
                }
            }
        }
    }

    fn send_pending(&mut self) {
        if let Some(pending) = self.pending.take() {
            let name = match pending.stream {
                StreamName::Stdout => Stdio::Stdout,
                StreamName::Stderr => Stdio::Stderr,
            };
            self.publish(StreamContent {
                name,
                text: pending.text,
            });
        }
    }

    fn show_notice(&mut self) {
        if self.parent.is_none() {
            return;
        }
        let media = Media::new(vec![
            MediaType::Plain("⏳ compiling…".to_owned()),
            MediaType::Html("<span style=\"opacity:0.6\">⏳ compiling…</span>".to_owned()),
        ]);
        self.publish(DisplayData {
            data: media,
            metadata: Default::default(),
            transient: None,
        });
        self.notice_shown = true;
    }

    fn drop_notice(&mut self) {
        self.notice_due = None;
        if self.notice_shown {
            self.notice_shown = false;
            self.publish(ClearOutput { wait: false });
        }
    }

    fn publish(&self, content: impl Into<jupyter_protocol::JupyterMessageContent>) {
        let message = match &self.parent {
            Some(parent) => JupyterMessage::new(content, Some(parent)),
            None => JupyterMessage::new(content, None),
        };
        self.publisher.publish(message);
    }
}

#[cfg(test)]
mod tests {
    use jupyter_protocol::KernelInfoRequest;

    use super::*;

    impl Publisher for Sender<JupyterMessage> {
        fn publish(&self, message: JupyterMessage) {
            let _ = self.send(message);
        }
    }

    #[test]
    fn lines_become_a_stream_and_an_error_event_becomes_the_report() {
        let (published, messages) = crossbeam_channel::unbounded();
        let pump = OutputPump::start(Arc::new(published));
        pump.begin(&JupyterMessage::new(KernelInfoRequest {}, None));
        pump.line(StreamName::Stdout, "before".to_owned());
        let interrupted = Event::Error {
            ename: "KeyboardInterrupt".to_owned(),
            evalue: String::new(),
            traceback: vec!["KeyboardInterrupt".to_owned()],
        };
        pump.line(StreamName::Stdout, interrupted.to_line());
        let report = pump.flush();
        assert_eq!(
            report.error.map(|error| error.ename),
            Some("KeyboardInterrupt".to_owned())
        );
        let kinds: Vec<String> = messages
            .try_iter()
            .map(|message| message.message_type().to_owned())
            .collect();
        assert_eq!(kinds, ["stream"]);
    }
}
