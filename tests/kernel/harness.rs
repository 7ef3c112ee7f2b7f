//! A small Jupyter client: launches `multitask-kernel` with a connection file
//! on loopback and speaks the wire protocol to it with the kernel's own
//! framing code.

use std::net::TcpListener;
use std::process::{Child, Command};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use jupyter_protocol::{
    ExecuteRequest, JupyterMessage, JupyterMessageContent, KernelInfoRequest, ReplyStatus,
};
use multitask_kernel::wire::{self, Signer};

use super::pressure::{slowdown, timed, Took};

/// How long any single reply may take (cells compile; machines are shared).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(120);

const KEY: &str = "a-test-key";

/// One running kernel process and a client connected to it.
pub struct Kernel {
    pub process: Child,
    pub shell: zmq::Socket,
    pub control: zmq::Socket,
    pub stdin: zmq::Socket,
    pub iopub: zmq::Socket,
    pub heartbeat: zmq::Socket,
    pub signer: Signer,
    pub session: String,
    _dir: tempfile::TempDir,
    _context: zmq::Context,
}

/// The replies and iopub messages of one request.
pub struct Exchange {
    /// Its reply.
    pub reply: JupyterMessage,
    /// Every iopub message with this request as parent, from busy to idle inclusive.
    pub iopub: Vec<JupyterMessage>,
}

impl Exchange {
    /// The iopub messages between busy and idle, without status messages.
    pub fn outputs(&self) -> Vec<&JupyterMessage> {
        self.iopub
            .iter()
            .filter(|message| message.message_type() != "status")
            .collect()
    }

    /// All text written to `stream` ("stdout" or "stderr"), concatenated.
    pub fn stream_text(&self, stream: &str) -> String {
        self.outputs()
            .into_iter()
            .filter_map(|message| match &message.content {
                JupyterMessageContent::StreamContent(content)
                    if serde_json::to_value(&content.name).unwrap() == stream =>
                {
                    Some(content.text.clone())
                }
                _ => None,
            })
            .collect()
    }

    /// The types of the cell's own outputs, in order. The kernel's
    /// "compiling…" notice (a display, and the clear that takes it away when
    /// the code starts) is left out: whether it shows depends on how long
    /// the compile took on a busy machine.
    pub fn output_types(&self) -> Vec<String> {
        let mut notice_showing = false;
        self.outputs()
            .into_iter()
            .filter(|message| {
                if is_compiling_notice(&message.content) {
                    notice_showing = true;
                    return false;
                }
                let ends_notice = notice_showing
                    && matches!(message.content, JupyterMessageContent::ClearOutput(_));
                if ends_notice {
                    notice_showing = false;
                }
                !ends_notice
            })
            .map(|message| message.message_type().to_owned())
            .collect()
    }

    /// The reply's status ("ok" or "error").
    pub fn status(&self) -> ReplyStatus {
        match &self.reply.content {
            JupyterMessageContent::ExecuteReply(reply) => reply.status.clone(),
            other => panic!("not an execute reply: {other:?}"),
        }
    }

    /// The `error` outputs' (ename, evalue).
    pub fn errors(&self) -> Vec<(String, String)> {
        self.outputs()
            .into_iter()
            .filter_map(|message| match &message.content {
                JupyterMessageContent::ErrorOutput(error) => {
                    Some((error.ename.clone(), error.evalue.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// The `text/plain` of the execute_result, if any.
    pub fn result_text(&self) -> Option<String> {
        self.outputs()
            .into_iter()
            .find_map(|message| match &message.content {
                JupyterMessageContent::ExecuteResult(result) => serde_json::to_value(&result.data)
                    .ok()?["text/plain"]
                    .as_str()
                    .map(str::to_owned),
                _ => None,
            })
    }
}

/// A free port below the system's ephemeral range, never handed out twice
/// by this test binary. Not one the system picks (binding port 0): those
/// come from the ephemeral range, where the sockets this harness connects
/// before the kernel binds get their own local ports, and a connect retried
/// to a port nobody listens on yet can take that very port (TCP's
/// self-connect) and keep the kernel from binding it under load.
fn free_port() -> u16 {
    static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let ephemeral_start: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let low = ephemeral_start.saturating_sub(12_000).max(1024);
    let span = ephemeral_start - low;
    let mut handed_out = HANDED_OUT.lock().unwrap();
    loop {
        let port = low + (uuid::Uuid::new_v4().as_u128() % u128::from(span)) as u16;
        if !handed_out.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.push(port);
            return port;
        }
    }
}

/// Spawns processes from one thread that lives as long as the test binary, so
/// that each kernel's parent-death signal fires only when the tests end.
fn spawn_kernel(mut command: Command) -> Child {
    type Spawn = (Command, std::sync::mpsc::Sender<Child>);
    static LAUNCHER: OnceLock<Mutex<std::sync::mpsc::Sender<Spawn>>> = OnceLock::new();
    let launcher = LAUNCHER.get_or_init(|| {
        let (requests, incoming) = std::sync::mpsc::channel::<Spawn>();
        std::thread::spawn(move || {
            for (mut command, reply) in incoming {
                let _ = reply.send(command.spawn().expect("the kernel starts"));
            }
        });
        Mutex::new(requests)
    });
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let (reply, child) = std::sync::mpsc::channel();
    launcher.lock().unwrap().send((command, reply)).unwrap();
    child.recv().unwrap()
}

impl Kernel {
    /// Launches a kernel and waits until it answers `kernel_info` and its
    /// iopub socket delivers to us.
    pub fn start() -> Kernel {
        Kernel::start_with(|connection_file| {
            let mut command = Command::new(env!("CARGO_BIN_EXE_multitask-kernel"));
            command.arg(connection_file);
            command
        })
    }

    /// Launches a kernel with `variables` added to its environment, as a
    /// kernelspec's `env` or a spawner's `environment` would.
    pub fn start_with_env(variables: &[(&str, &std::ffi::OsStr)]) -> Kernel {
        Kernel::start_with(|connection_file| {
            let mut command = Command::new(env!("CARGO_BIN_EXE_multitask-kernel"));
            command.arg(connection_file).envs(variables.iter().copied());
            command
        })
    }

    /// Launches the kernel through `command_for(connection_file)` (the process
    /// it returns is the one this handle owns).
    pub fn start_with(command_for: impl FnOnce(&std::path::Path) -> Command) -> Kernel {
        let dir = tempfile::tempdir().unwrap();
        let connection_file = dir.path().join("kernel-test.json");
        let ports: Vec<u16> = (0..5).map(|_| free_port()).collect();
        let connection = serde_json::json!({
            "ip": "127.0.0.1",
            "transport": "tcp",
            "shell_port": ports[0],
            "iopub_port": ports[1],
            "stdin_port": ports[2],
            "control_port": ports[3],
            "hb_port": ports[4],
            "key": KEY,
            "signature_scheme": "hmac-sha256",
            "kernel_name": "multitask",
        });
        std::fs::write(&connection_file, connection.to_string()).unwrap();

        let process = spawn_kernel(command_for(&connection_file));

        let context = zmq::Context::new();
        let session = uuid::Uuid::new_v4().to_string();
        let connect = |kind, port: u16| {
            let socket = context.socket(kind).unwrap();
            socket.set_linger(0).unwrap();
            if kind == zmq::DEALER {
                socket.set_identity(session.as_bytes()).unwrap();
            }
            socket.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
            socket
        };
        let kernel = Kernel {
            shell: connect(zmq::DEALER, ports[0]),
            iopub: connect(zmq::SUB, ports[1]),
            stdin: connect(zmq::DEALER, ports[2]),
            control: connect(zmq::DEALER, ports[3]),
            heartbeat: connect(zmq::REQ, ports[4]),
            process,
            signer: Signer::new("hmac-sha256", KEY).unwrap(),
            session,
            _dir: dir,
            _context: context,
        };
        kernel.iopub.set_subscribe(b"").unwrap();
        kernel.wait_until_ready();
        kernel
    }

    /// Repeats kernel_info until an iopub message arrives, as jupyter_client does
    /// (a SUB socket misses what was published before it joined).
    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            self.send(&self.shell, KernelInfoRequest {});
            self.receive(&self.shell, Duration::from_secs(10))
                .expect("kernel_info_reply");
            if self
                .receive(&self.iopub, Duration::from_millis(300))
                .is_some()
            {
                // Drain what else is there.
                while self
                    .receive(&self.iopub, Duration::from_millis(100))
                    .is_some()
                {}
                return;
            }
        }
        panic!("the kernel's iopub never delivered");
    }

    /// Builds a request in this client's session.
    pub fn request(&self, content: impl Into<JupyterMessageContent>) -> JupyterMessage {
        JupyterMessage::new(content, None).with_session(&self.session)
    }

    /// Sends `content` on `socket`; returns the request.
    pub fn send(
        &self,
        socket: &zmq::Socket,
        content: impl Into<JupyterMessageContent>,
    ) -> JupyterMessage {
        let request = self.request(content);
        self.send_message(socket, &request);
        request
    }

    /// Sends a prepared message.
    pub fn send_message(&self, socket: &zmq::Socket, message: &JupyterMessage) {
        socket
            .send_multipart(wire::encode(message, &self.signer), 0)
            .unwrap();
    }

    /// The next message on `socket` within `timeout`.
    pub fn receive(&self, socket: &zmq::Socket, timeout: Duration) -> Option<JupyterMessage> {
        let ready = socket
            .poll(zmq::POLLIN, timeout.as_millis() as i64)
            .unwrap();
        if ready == 0 {
            return None;
        }
        let frames = socket.recv_multipart(0).unwrap();
        Some(wire::decode(frames, &self.signer).expect("the kernel signs what it sends"))
    }

    /// The reply to `request` on `socket` (other replies are skipped).
    pub fn reply_to(&self, socket: &zmq::Socket, request: &JupyterMessage) -> JupyterMessage {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self
                .receive(socket, left)
                .unwrap_or_else(|| panic!("no reply to {}", request.message_type()));
            if is_child_of(&message, request) {
                return message;
            }
        }
    }

    /// iopub messages whose parent is `request`, up to and including its idle.
    pub fn iopub_until_idle(&self, request: &JupyterMessage) -> Vec<JupyterMessage> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let mut messages = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self
                .receive(&self.iopub, left)
                .unwrap_or_else(|| panic!("no idle after {}", request.message_type()));
            if !is_child_of(&message, request) {
                continue;
            }
            let idle = matches!(&message.content,
                JupyterMessageContent::Status(status) if status.execution_state.as_str() == "idle");
            messages.push(message);
            if idle {
                return messages;
            }
        }
    }

    /// Reads iopub until `request`'s cell has printed `text` on stdout (its
    /// code runs), keeping nothing: for cells that do not end by themselves.
    pub fn until_printed(&self, request: &JupyterMessage, text: &str) {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self
                .receive(&self.iopub, left)
                .unwrap_or_else(|| panic!("{text:?} was never printed"));
            if let JupyterMessageContent::StreamContent(stream) = &message.content {
                if is_child_of(&message, request) && stream.text.contains(text) {
                    return;
                }
            }
        }
    }

    /// Sends a request on shell and collects its reply and iopub messages.
    pub fn exchange(&self, content: impl Into<JupyterMessageContent>) -> Exchange {
        let request = self.send(&self.shell, content);
        let reply = self.reply_to(&self.shell, &request);
        let iopub = self.iopub_until_idle(&request);
        Exchange { reply, iopub }
    }

    /// Sends `interrupt_request` on control and waits for its reply.
    pub fn interrupt(&self) {
        let interrupt = self.send(&self.control, jupyter_protocol::InterruptRequest {});
        self.reply_to(&self.control, &interrupt);
    }

    /// Interrupts the cell `running`, waits for its reply and its idle, and
    /// returns the reply's error (ename, evalue; empty when it succeeded) and
    /// how long the reply took after the interrupt was sent.
    pub fn interrupt_cell(&self, running: &JupyterMessage) -> (String, String, Took) {
        let (reply, took) = timed(|| {
            self.interrupt();
            self.reply_to(&self.shell, running)
        });
        self.iopub_until_idle(running);
        match &reply.content {
            JupyterMessageContent::ExecuteReply(reply) => match &reply.error {
                Some(error) => (error.ename.clone(), error.evalue.clone(), took),
                None => (String::new(), String::new(), took),
            },
            other => panic!("not an execute_reply: {other:?}"),
        }
    }

    /// Runs `code` as a notebook cell (stop_on_error, no stdin).
    pub fn execute(&self, code: &str) -> Exchange {
        self.exchange(execute_request(code))
    }

    /// Runs `code` and fails the test unless it succeeded.
    pub fn run_ok(&self, code: &str) -> Exchange {
        let exchange = self.execute(code);
        assert_eq!(
            exchange.status(),
            ReplyStatus::Ok,
            "cell failed: {code}\n{:?}",
            exchange.reply.content
        );
        exchange
    }

    /// Whether the kernel process has exited, waiting up to `timeout`.
    pub fn exited_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.process.try_wait().unwrap().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// An execute request as a notebook sends it.
pub fn execute_request(code: &str) -> ExecuteRequest {
    ExecuteRequest {
        code: code.to_owned(),
        silent: false,
        store_history: true,
        user_expressions: None,
        allow_stdin: false,
        stop_on_error: true,
    }
}

/// Whether `message`'s parent is `request`.
/// Whether an output is the kernel's "compiling…" notice.
pub fn is_compiling_notice(content: &JupyterMessageContent) -> bool {
    match content {
        JupyterMessageContent::DisplayData(display) => serde_json::to_value(&display.data)
            .is_ok_and(|data| data["text/plain"].as_str() == Some("⏳ compiling…")),
        _ => false,
    }
}

pub fn is_child_of(message: &JupyterMessage, request: &JupyterMessage) -> bool {
    message
        .parent_header
        .as_ref()
        .is_some_and(|parent| parent.msg_id == request.header.msg_id)
}

/// A kernel shared by the tests of one module (they take turns).
pub fn shared(cell: &'static OnceLock<Mutex<Kernel>>) -> MutexGuard<'static, Kernel> {
    cell.get_or_init(|| Mutex::new(Kernel::start()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether a process with this pid exists (and is not a zombie).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Every descendant of `pid`, from /proc.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parents_of = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
                continue;
            };
            if let Some((_, rest)) = stat.rsplit_once(')') {
                let fields: Vec<&str> = rest.split_whitespace().collect();
                if let Some(parent) = fields.get(1).and_then(|ppid| ppid.parse::<u32>().ok()) {
                    parents_of.push((child, parent));
                }
            }
        }
    }
    let mut found = vec![pid];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        found.extend(
            parents_of
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(child, _)| *child),
        );
        index += 1;
    }
    found.remove(0);
    found
}

/// Fails unless every process in `family` is gone within five seconds
/// (stretched by the machine's load).
pub fn assert_all_gone(family: Vec<u32>) {
    let deadline = Instant::now() + Duration::from_secs(5).mul_f64(slowdown());
    while family.iter().any(|pid| process_alive(*pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<u32> = family
        .into_iter()
        .filter(|pid| process_alive(*pid))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
