//! The ZeroMQ sockets: the only module that touches them.
//!
//! Each socket lives on its own thread, because `zmq::Socket` is `Send` but
//! not `Sync`: shell and control each run their handler on their thread (so a
//! long cell on shell never delays an interrupt on control); iopub drains a
//! channel of messages to publish; stdin sends input requests and routes the
//! replies back; heartbeat echoes. Messages that fail to decode or to verify
//! are logged and dropped, and the socket keeps serving. The transport
//! implements the [`Publisher`] and [`InputAsker`] ports with queues to
//! those threads, and calls a [`Handler`] for each request.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::Context as _;
use crossbeam_channel::{Receiver, Sender};
use jupyter_protocol::{ConnectionInfo, IoPubWelcome, JupyterMessage, Transport};

use crate::ports::{AfterRequest, Handler, InputAsker, Publisher, ReplySink};
use crate::wire::{self, Signer};

/// Queues messages for the iopub thread: the kernel's [`Publisher`].
pub struct IopubQueue {
    sender: Sender<JupyterMessage>,
}

impl IopubQueue {
    /// A queue and the receiving end its messages arrive on (the iopub thread's).
    pub fn channel() -> (IopubQueue, Receiver<JupyterMessage>) {
        let (sender, receiver) = crossbeam_channel::unbounded();
        (IopubQueue { sender }, receiver)
    }
}

impl Publisher for IopubQueue {
    fn publish(&self, message: JupyterMessage) {
        // Replies carry the request's routing identities; on iopub those
        // frames would be read as a topic, so they are dropped here.
        let _ = self.sender.send(message.with_zmq_identities(Vec::new()));
    }
}

/// An `input_request` and where to send its `input_reply`.
pub type InputExchange = (JupyterMessage, Sender<JupyterMessage>);

/// Queues input requests for the stdin thread: the kernel's [`InputAsker`].
pub struct StdinQueue {
    requests: Sender<InputExchange>,
}

impl StdinQueue {
    /// A queue and the receiving end of its requests (the stdin thread's).
    pub fn channel() -> (StdinQueue, Receiver<InputExchange>) {
        let (requests, receiver) = crossbeam_channel::unbounded();
        (StdinQueue { requests }, receiver)
    }
}

impl InputAsker for StdinQueue {
    fn ask(&self, request: JupyterMessage, cancelled: &dyn Fn() -> bool) -> Option<JupyterMessage> {
        let (reply_sender, reply_receiver) = crossbeam_channel::bounded(1);
        self.requests.send((request, reply_sender)).ok()?;
        loop {
            match reply_receiver.recv_timeout(Duration::from_millis(20)) {
                Ok(reply) => return Some(reply),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) if !cancelled() => {}
                Err(_) => return None,
            }
        }
    }
}

/// The sockets of one kernel, bound where the connection file says.
pub struct Sockets {
    context: zmq::Context,
    connection: ConnectionInfo,
    signer: Signer,
}

impl Sockets {
    /// Prepares to bind the sockets described by `connection`.
    pub fn new(connection: ConnectionInfo) -> anyhow::Result<Sockets> {
        let signer = Signer::new(&connection.signature_scheme, &connection.key)?;
        Ok(Sockets {
            context: zmq::Context::new(),
            connection,
            signer,
        })
    }

    /// Binds every socket, starts their threads, and blocks until a handler asks for shutdown.
    pub fn serve(
        self,
        shell: impl Handler,
        control: impl Handler,
        iopub_messages: Receiver<JupyterMessage>,
        input_requests: Receiver<InputExchange>,
    ) -> anyhow::Result<()> {
        let connection = &self.connection;
        let shell_socket = self.bind(zmq::ROUTER, connection.shell_port, "shell")?;
        let control_socket = self.bind(zmq::ROUTER, connection.control_port, "control")?;
        let stdin_socket = self.bind(zmq::ROUTER, connection.stdin_port, "stdin")?;
        let iopub_socket = self.bind(zmq::XPUB, connection.iopub_port, "iopub")?;
        // Every subscription is reported (not only the first per topic), so
        // each new client gets its iopub_welcome (JEP 65).
        iopub_socket.set_xpub_verbose(true)?;
        let heartbeat_socket = self.bind(zmq::REP, connection.hb_port, "heartbeat")?;
        // Output floods are coalesced upstream; a high limit keeps a slow
        // client from silently losing lines (PUB drops past the limit).
        iopub_socket.set_sndhwm(100_000)?;

        let (shutdown_sender, shutdown_receiver) = crossbeam_channel::bounded::<()>(2);
        let signer = Arc::new(self.signer.clone());

        spawn_named("iopub", {
            let signer = Arc::clone(&signer);
            move || publish_loop(iopub_socket, iopub_messages, &signer)
        })?;
        spawn_named("heartbeat", move || heartbeat_loop(heartbeat_socket))?;
        spawn_named("stdin", {
            let signer = Arc::clone(&signer);
            move || stdin_loop(stdin_socket, input_requests, &signer)
        })?;
        spawn_named("shell", {
            let signer = Arc::clone(&signer);
            let shutdown = shutdown_sender.clone();
            move || request_loop(shell_socket, shell, &signer, "shell", &shutdown)
        })?;
        spawn_named("control", {
            let signer = Arc::clone(&signer);
            move || {
                request_loop(
                    control_socket,
                    control,
                    &signer,
                    "control",
                    &shutdown_sender,
                )
            }
        })?;

        let _ = shutdown_receiver.recv();
        // Give iopub a moment to flush the last status messages.
        thread::sleep(Duration::from_millis(50));
        Ok(())
    }

    fn bind(&self, kind: zmq::SocketType, port: u16, name: &str) -> anyhow::Result<zmq::Socket> {
        let socket = self.context.socket(kind)?;
        socket.set_linger(1000)?;
        let endpoint = match self.connection.transport {
            Transport::TCP => format!("tcp://{}:{}", self.connection.ip, port),
            Transport::IPC => format!("ipc://{}-{}", self.connection.ip, port),
        };
        socket
            .bind(&endpoint)
            .with_context(|| format!("binding the {name} socket to {endpoint}"))?;
        Ok(socket)
    }
}

fn spawn_named(name: &str, body: impl FnOnce() + Send + 'static) -> anyhow::Result<()> {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(body)
        .with_context(|| format!("starting the {name} thread"))?;
    Ok(())
}

/// Receives one message, returning `None` (after logging) when it must be dropped.
fn receive(socket: &zmq::Socket, signer: &Signer, channel: &str) -> Option<JupyterMessage> {
    let frames = match socket.recv_multipart(0) {
        Ok(frames) => frames,
        Err(error) => {
            log_dropped(channel, &error);
            thread::sleep(Duration::from_millis(10));
            return None;
        }
    };
    match wire::decode(frames, signer) {
        Ok(message) => Some(message),
        Err(error) => {
            log_dropped(channel, &error);
            None
        }
    }
}

fn log_dropped(channel: &str, reason: &dyn std::fmt::Display) {
    eprintln!("multitask-kernel: dropped a message on {channel}: {reason}");
}

fn send(socket: &zmq::Socket, message: &JupyterMessage, signer: &Signer) {
    if let Err(error) = socket.send_multipart(wire::encode(message, signer), 0) {
        eprintln!(
            "multitask-kernel: could not send {}: {error}",
            message.message_type()
        );
    }
}

struct SocketReplies<'a> {
    socket: &'a zmq::Socket,
    signer: &'a Signer,
}

impl ReplySink for SocketReplies<'_> {
    fn send_reply(&mut self, reply: JupyterMessage) {
        send(self.socket, &reply, self.signer);
    }
}

fn request_loop(
    socket: zmq::Socket,
    mut handler: impl Handler,
    signer: &Signer,
    channel: &str,
    shutdown: &Sender<()>,
) {
    let mut replies = SocketReplies {
        socket: &socket,
        signer,
    };
    loop {
        let Some(request) = receive(&socket, signer, channel) else {
            continue;
        };
        match handler.handle(request, &mut replies) {
            AfterRequest::Continue => {}
            AfterRequest::AbortQueued => {
                // Everything already waiting was sent before the failure was
                // known: answer it without running it.
                while socket.poll(zmq::POLLIN, 0).unwrap_or(0) > 0 {
                    if let Some(queued) = receive(&socket, signer, channel) {
                        handler.abort(queued, &mut replies);
                    }
                }
            }
            AfterRequest::Shutdown => {
                let _ = shutdown.send(());
                return;
            }
        }
    }
}

/// How often the iopub thread looks for new subscribers while nothing is published.
const SUBSCRIPTION_POLL: Duration = Duration::from_millis(5);

fn publish_loop(socket: zmq::Socket, queue: Receiver<JupyterMessage>, signer: &Signer) {
    loop {
        match queue.recv_timeout(SUBSCRIPTION_POLL) {
            Ok(message) => send(&socket, &message, signer),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
        }
        while socket.poll(zmq::POLLIN, 0).unwrap_or(0) > 0 {
            let Ok(notice) = socket.recv_bytes(0) else {
                break;
            };
            // An XPUB subscription notice is 0x01 followed by the topic.
            if let Some((1, topic)) = notice.split_first() {
                let welcome = IoPubWelcome::new(String::from_utf8_lossy(topic).into_owned());
                send(&socket, &JupyterMessage::new(welcome, None), signer);
            }
        }
    }
}

fn heartbeat_loop(socket: zmq::Socket) {
    loop {
        if let Ok(ping) = socket.recv_bytes(0) {
            let _ = socket.send(ping, 0);
        }
    }
}

/// How often the stdin thread looks for replies while it waits for requests.
const STDIN_POLL: Duration = Duration::from_millis(10);

fn stdin_loop(socket: zmq::Socket, requests: Receiver<InputExchange>, signer: &Signer) {
    // The request waiting for its reply: a newer request replaces it (the
    // cell that asked was interrupted), so a reply that never comes cannot
    // block later ones.
    let mut waiting: Option<(String, Sender<JupyterMessage>)> = None;
    loop {
        match requests.recv_timeout(STDIN_POLL) {
            Ok((request, reply_to)) => {
                send(&socket, &request, signer);
                waiting = Some((request.header.msg_id.clone(), reply_to));
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
        }
        while socket.poll(zmq::POLLIN, 0).unwrap_or(0) > 0 {
            let Some(reply) = receive(&socket, signer, "stdin") else {
                continue;
            };
            let answers_waiting = waiting.as_ref().is_some_and(|(msg_id, _)| {
                reply.message_type() == "input_reply"
                    && reply
                        .parent_header
                        .as_ref()
                        .is_some_and(|parent| &parent.msg_id == msg_id)
            });
            match waiting.take() {
                Some((_, reply_to)) if answers_waiting => {
                    let _ = reply_to.send(reply);
                }
                still_waiting => {
                    waiting = still_waiting;
                    log_dropped("stdin", &format!("unexpected {}", reply.message_type()));
                }
            }
        }
    }
}
