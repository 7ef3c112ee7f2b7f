//! [`Process`], Python's `multiprocessing.Process`, and [`current_process`].
//! A started process is registered in the process-wide state until it is
//! reaped; it is reaped only by pid (a pidfd to wait on), never with
//! `waitpid(-1)`, which would steal the statuses of `std::process::Child`.

use std::fmt;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::fork::{fork_child, ChildBody, ChildSetup};
use super::records::records;
use crate::interrupt::{deadline_after, wait_for, POLL};
use crate::state::{state, ProcessIdentity, Role};
use crate::sync::Mutex;
use crate::timeline::{self, Kind};

/// How long a process gets to end after SIGTERM at a cell's end before SIGKILL.
const TERMINATE_GRACE: Duration = Duration::from_secs(1);

/// A real OS process running a closure, like Python's
/// `multiprocessing.Process(target=f)`: build it with `Process::new(f)`,
/// optionally `.name("sing")` and `.daemon(true)`, then `start()` and
/// `join()`. Clones are handles to the same process.
#[derive(Clone)]
pub struct Process {
    shared: Arc<ProcessShared>,
}

/// What the handles of one process share.
pub(crate) struct ProcessShared {
    slot: Mutex<ProcessSlot>,
    lineage: Vec<u32>,
}

struct ProcessSlot {
    name: String,
    daemon: bool,
    target: Option<Box<dyn FnOnce() + Send>>,
    started: bool,
    /// The process that started it (only it can wait for it).
    parent_pid: u32,
    pid: Option<u32>,
    pidfd: Option<Arc<OwnedFd>>,
    exitcode: Option<i32>,
}

impl Process {
    /// A process that will run `target` once started (Python's
    /// `Process(target=f, args=…)`; pass arguments by capturing them:
    /// `Process::new(move || work(name, 18))`).
    pub fn new<F: FnOnce() + Send + 'static>(target: F) -> Process {
        let state = state();
        let number = state.process_counter.fetch_add(1, Ordering::Relaxed);
        let mut lineage = state.identity.lineage.clone();
        lineage.push(number);
        let digits: Vec<String> = lineage.iter().map(u32::to_string).collect();
        let shared = ProcessShared::new(format!("Process-{}", digits.join(":")), lineage, false);
        shared.slot.lock().target = Some(Box::new(target));
        Process { shared }
    }

    /// Sets the process's name (Python's `name=`); returns the handle, so it chains.
    pub fn name(&self, name: &str) -> Process {
        self.shared.slot.lock().name = name.to_string();
        self.clone()
    }

    /// Makes it a daemon process (Python's `daemon=True`): it is terminated when
    /// the cell's main code and non-daemon threads are done. Only before `start()`.
    pub fn daemon(&self, daemon: bool) -> Process {
        let mut slot = self.shared.slot.lock();
        if slot.started {
            panic!("process has already started: set daemon before start()");
        }
        slot.daemon = daemon;
        drop(slot);
        self.clone()
    }

    /// Forks the process (Python's `p.start()`); a process starts only once.
    pub fn start(&self) {
        // Taking the target is what marks the start, so two racing starts cannot both pass.
        let Some(target) = self.shared.slot.lock().target.take() else {
            panic!("cannot start a process twice");
        };
        let body: ChildBody = Box::new(move || {
            target();
            0
        });
        if let Err(message) = self.shared.start_with(Role::Child, body) {
            panic!("{message}");
        }
    }

    /// Waits until the process ends (Python's `p.join()`); can be called again.
    pub fn join(&self) {
        self.shared.join_until(None);
    }

    /// Waits at most `seconds` for the process to end; returns whether it ended
    /// (Python's `p.join(timeout)` followed by `p.exitcode is not None`).
    pub fn join_timeout(&self, seconds: f64) -> bool {
        self.shared.join_until(deadline_after(seconds))
    }

    /// Whether the process has started and not yet ended (Python's `p.is_alive()`).
    pub fn is_alive(&self) -> bool {
        self.shared.slot.lock().pid.is_some() && self.shared.reap_nonblocking().is_none()
    }

    /// The process id once started (Python's `p.pid`).
    pub fn pid(&self) -> Option<u32> {
        self.shared.slot.lock().pid
    }

    /// The exit code once ended (Python's `p.exitcode`): 0 on success, 1 after
    /// a panic, `-N` when signal N ended it (`-15` after `terminate()`).
    pub fn exitcode(&self) -> Option<i32> {
        self.shared.reap_nonblocking()
    }

    /// Whether it is a daemon process (Python's `p.daemon`).
    pub fn is_daemon(&self) -> bool {
        self.shared.slot.lock().daemon
    }

    /// Asks the process to end with SIGTERM (Python's `p.terminate()`).
    pub fn terminate(&self) {
        self.shared.send_signal(libc::SIGTERM);
    }

    /// Ends the process with SIGKILL (Python's `p.kill()`).
    pub fn kill(&self) {
        self.shared.send_signal(libc::SIGKILL);
    }
}

impl ProcessShared {
    /// A process record that has not started yet.
    pub(crate) fn new(name: String, lineage: Vec<u32>, daemon: bool) -> Arc<ProcessShared> {
        Arc::new(ProcessShared {
            slot: Mutex::new(ProcessSlot {
                name,
                daemon,
                target: None,
                started: false,
                parent_pid: std::process::id(),
                pid: None,
                pidfd: None,
                exitcode: None,
            }),
            lineage,
        })
    }

    /// Forks the process with `body` as its code, counting it against the
    /// live-process budget; on failure returns a message for the learner.
    pub(crate) fn start_with(self: &Arc<Self>, role: Role, body: ChildBody) -> Result<(), String> {
        let state = state();
        let identity = {
            let mut slot = self.slot.lock();
            slot.started = true;
            ProcessIdentity {
                name: slot.name.clone(),
                lineage: self.lineage.clone(),
                daemon: slot.daemon,
                parent_pid: Some(std::process::id()),
            }
        };
        state.reserve_processes(1, &format!("starting {}", identity.name))?;
        let pid = match fork_child(ChildSetup {
            role,
            identity,
            body,
        }) {
            Ok(pid) => pid,
            Err(error) => {
                state.release_processes(1);
                return Err(format!("the OS refused to fork a process: {error}"));
            }
        };
        // SAFETY: pidfd_open on our own unreaped child; the fd is owned below.
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_int, 0) };
        {
            let mut slot = self.slot.lock();
            slot.pid = Some(pid);
            // SAFETY: a fresh descriptor returned by pidfd_open.
            slot.pidfd = (pidfd >= 0)
                .then(|| Arc::new(unsafe { OwnedFd::from_raw_fd(pidfd as libc::c_int) }));
        }
        records(state).processes.lock().push(self.clone());
        if let Some(probe) = timeline::probe() {
            probe.mark(Kind::ProcessStart, pid as i64, &self.name());
        }
        Ok(())
    }

    /// The process's name.
    pub(crate) fn name(&self) -> String {
        self.slot.lock().name.clone()
    }

    /// The pid, if started.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.slot.lock().pid
    }

    /// Whether the main program must wait for it at its end.
    pub(crate) fn waits_at_exit(&self) -> bool {
        let slot = self.slot.lock();
        !slot.daemon && slot.pid.is_some() && slot.exitcode.is_none()
    }

    /// Sends `signal` unless the process was already reaped.
    pub(crate) fn send_signal(&self, signal: libc::c_int) {
        let slot = self.slot.lock();
        if let (Some(pid), None) = (slot.pid, slot.exitcode) {
            // SAFETY: the pid is our unreaped child, so it cannot have been reused.
            unsafe { libc::kill(pid as libc::pid_t, signal) };
        }
    }

    /// Reaps the process after a signal, with SIGKILL if it lingers.
    pub(crate) fn reap_after_signal(&self) {
        // Not interruptible: this runs while an interrupt is being handled.
        let grace_ends = Instant::now() + TERMINATE_GRACE;
        let mut killed = false;
        while self.poll_exit(POLL).is_none() {
            if !killed && Instant::now() >= grace_ends {
                self.send_signal(libc::SIGKILL);
                killed = true;
            }
        }
    }

    fn join_until(&self, deadline: Option<Instant>) -> bool {
        {
            let slot = self.slot.lock();
            if !slot.started {
                panic!("can only join a started process");
            }
            if slot.parent_pid != std::process::id() {
                panic!("can only join a child process");
            }
        }
        let name = || self.name();
        timeline::waiting(Kind::JoinProcess, name, || self.wait_exit(deadline)).is_some()
    }

    /// Waits (interruptibly) until the process ends; returns its exit code.
    pub(crate) fn wait_exit(&self, deadline: Option<Instant>) -> Option<i32> {
        wait_for(deadline, |slice| self.poll_exit(slice))
    }

    /// Waits at most `slice` for the process to end; its exit code if it did.
    fn poll_exit(&self, slice: Duration) -> Option<i32> {
        if let Some(code) = self.reap_nonblocking() {
            return Some(code);
        }
        let pidfd = self.slot.lock().pidfd.clone();
        match pidfd {
            Some(pidfd) => {
                let mut poll = libc::pollfd {
                    fd: pidfd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd; the Arc keeps the descriptor open.
                unsafe { libc::poll(&mut poll, 1, slice.as_millis() as libc::c_int) };
            }
            None => std::thread::sleep(slice.min(Duration::from_millis(1))),
        }
        self.reap_nonblocking()
    }

    /// The exit code if the process ended, reaping it (once) if needed.
    pub(crate) fn reap_nonblocking(self: &ProcessShared) -> Option<i32> {
        let mut slot = self.slot.lock();
        if slot.exitcode.is_some() {
            return slot.exitcode;
        }
        let pid = slot.pid?;
        if slot.parent_pid != std::process::id() {
            return None;
        }
        let mut status = 0;
        // SAFETY: waits for our own child only.
        let reaped = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
        if reaped != pid as libc::pid_t {
            return None;
        }
        let code = if libc::WIFSIGNALED(status) {
            -libc::WTERMSIG(status)
        } else {
            libc::WEXITSTATUS(status)
        };
        slot.exitcode = Some(code);
        slot.pidfd = None;
        drop(slot);
        timeline::child_reaped(pid, code);
        let state = state();
        state.release_processes(1);
        records(state)
            .processes
            .lock()
            .retain(|process| !std::ptr::eq(Arc::as_ptr(process), self));
        Some(code)
    }

    fn describe(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exitcode = self.reap_nonblocking();
        let slot = self.slot.lock();
        write!(formatter, "<Process name='{}'", slot.name)?;
        if let Some(pid) = slot.pid {
            write!(formatter, " pid={pid}")?;
        }
        write!(formatter, " parent={}", slot.parent_pid)?;
        match (slot.started, exitcode) {
            (false, _) => write!(formatter, " initial")?,
            (true, None) => write!(formatter, " started")?,
            (true, Some(0)) => write!(formatter, " stopped")?,
            (true, Some(code)) => write!(formatter, " stopped exitcode={}", exitcode_name(code))?,
        }
        if slot.daemon {
            write!(formatter, " daemon")?;
        }
        write!(formatter, ">")
    }
}

/// Python's names for exit codes from signals (`-SIGTERM`).
fn exitcode_name(code: i32) -> String {
    match -code {
        libc::SIGTERM => "-SIGTERM".to_string(),
        libc::SIGKILL => "-SIGKILL".to_string(),
        libc::SIGINT => "-SIGINT".to_string(),
        libc::SIGSEGV => "-SIGSEGV".to_string(),
        _ => code.to_string(),
    }
}

impl fmt::Display for Process {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.describe(formatter)
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.describe(formatter)
    }
}

/// The process this code runs in, as Python's `multiprocessing.current_process()`
/// shows it: `.name()`, `.pid()`, and a Display like Python's repr.
#[derive(Debug, Clone)]
pub struct CurrentProcess {
    identity: ProcessIdentity,
    role: Role,
}

impl CurrentProcess {
    /// The name: `MainProcess`, `Process-1`, `ForkPoolWorker-2`, …
    pub fn name(&self) -> &str {
        &self.identity.name
    }

    /// The process id (Python's `.pid`).
    pub fn pid(&self) -> u32 {
        std::process::id()
    }

    /// Whether it runs as a daemon process.
    pub fn is_daemon(&self) -> bool {
        self.identity.daemon
    }
}

impl fmt::Display for CurrentProcess {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.identity.name;
        match (self.role, self.identity.parent_pid) {
            (Role::Runtime, _) | (_, None) => write!(
                formatter,
                "<_MainProcess name='{name}' parent=None started>"
            ),
            (role, Some(parent)) => {
                let class = if role == Role::PoolWorker {
                    "ForkProcess"
                } else {
                    "Process"
                };
                let daemon = if self.identity.daemon { " daemon" } else { "" };
                write!(
                    formatter,
                    "<{class} name='{name}' pid={} parent={parent} started{daemon}>",
                    self.pid()
                )
            }
        }
    }
}

/// The children of this process still running (pool workers included), like
/// Python's `multiprocessing.active_children()`.
pub fn active_children() -> Vec<Process> {
    let children: Vec<_> = records(state()).processes.lock().clone();
    children
        .into_iter()
        .filter(|child| child.reap_nonblocking().is_none())
        .map(|shared| Process { shared })
        .collect()
}

/// The process this code runs in, like Python's `multiprocessing.current_process()`.
pub fn current_process() -> CurrentProcess {
    let state = state();
    CurrentProcess {
        identity: state.identity.clone(),
        role: state.role,
    }
}
