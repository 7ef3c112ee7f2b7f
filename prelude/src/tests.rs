//! Tests of every API without Jupyter. Each test runs its program in a fresh
//! forked "runtime" (a child whose prelude state is new and whose main thread
//! plays the kernel's), captures its stdout and stderr, then calls the
//! cell-end hook as the kernel would.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::mp::fork::{fork_child, ChildSetup};
use crate::state::{ProcessIdentity, Role};

mod asyncio;
mod checks;
mod handing;
mod processes;
mod progress;
mod runtime;
mod threads;

/// What a program run in a fresh runtime left behind.
pub(crate) struct Run {
    pub(crate) exit_code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// The events the program sent to the kernel, in order, read back from
    /// their stdout lines.
    pub(crate) fn events(&self) -> Vec<crate::host::Event> {
        self.stdout
            .lines()
            .filter_map(|line| line.strip_prefix(crate::host::EVENT_PREFIX))
            .map(|body| crate::host::Event::from_line_body(body).expect("a whole event line"))
            .collect()
    }

    /// The names of the errors among [`Run::events`].
    pub(crate) fn error_names(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|event| match event {
                crate::host::Event::Error { ename, .. } => Some(ename),
                _ => None,
            })
            .collect()
    }

    /// Panics with the program's output unless it exited with 0.
    pub(crate) fn assert_ok(&self) -> &Run {
        assert_eq!(
            self.exit_code, 0,
            "program failed\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: fresh descriptors.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Runs `body`, which must panic, and returns the panic's message.
pub(crate) fn panic_text<R>(body: impl FnOnce() -> R) -> String {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(_) => panic!("expected a panic"),
        Err(payload) => crate::report::panic_message(&*payload),
    }
}

/// Runs `program` as a cell in a fresh runtime process, then the cell-end hook.
pub(crate) fn run_program(program: impl FnOnce() + Send + 'static) -> Run {
    let (stdout_read, stdout_write) = pipe();
    let (stderr_read, stderr_write) = pipe();
    let (out_fd, err_fd) = (stdout_write.as_raw_fd(), stderr_write.as_raw_fd());
    let setup = ChildSetup {
        role: Role::Runtime,
        identity: ProcessIdentity {
            name: "MainProcess".to_string(),
            lineage: Vec::new(),
            daemon: false,
            parent_pid: None,
        },
        body: Box::new(move || {
            // SAFETY: moves the pipes onto fds 1 and 2 of this child.
            unsafe {
                libc::dup2(out_fd, 1);
                libc::dup2(err_fd, 2);
            }
            crate::attach();
            program();
            crate::host::host()
                .cell_end_hook()
                .expect("attach registers the hook")();
            0
        }),
    };
    let pid = fork_child(setup).expect("fork");
    drop(stdout_write);
    drop(stderr_write);
    let (stdout, stderr, exit_code) = collect(pid, stdout_read, stderr_read);
    Run {
        exit_code,
        stdout,
        stderr,
    }
}

/// Reads both pipes until the child has exited and they are drained (other
/// tests' children may hold the write ends, so EOF cannot be awaited).
fn collect(pid: u32, stdout: OwnedFd, stderr: OwnedFd) -> (String, String, i32) {
    let mut texts = [Vec::new(), Vec::new()];
    let mut exit_code = None;
    let give_up = Instant::now() + Duration::from_secs(60);
    for fd in [&stdout, &stderr] {
        // SAFETY: non-blocking reads on our own descriptors.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    }
    let mut files = [std::fs::File::from(stdout), std::fs::File::from(stderr)];
    loop {
        let mut progressed = false;
        for (file, text) in files.iter_mut().zip(texts.iter_mut()) {
            let mut buffer = [0u8; 65536];
            if let Ok(count) = file.read(&mut buffer) {
                text.extend_from_slice(&buffer[..count]);
                progressed |= count > 0;
            }
        }
        if exit_code.is_some() && !progressed {
            break;
        }
        if exit_code.is_none() {
            let mut status = 0;
            // SAFETY: waits for our own child only.
            if unsafe { libc::waitpid(pid as i32, &mut status, libc::WNOHANG) } == pid as i32 {
                exit_code = Some(if libc::WIFSIGNALED(status) {
                    -libc::WTERMSIG(status)
                } else {
                    libc::WEXITSTATUS(status)
                });
                continue;
            }
        }
        assert!(Instant::now() < give_up, "the test program hung");
        if !progressed {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let [stdout, stderr] = texts.map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    (stdout, stderr, exit_code.expect("exited"))
}
