//! Forking from a multi-threaded runtime, and which of its hazards are
//! handled here: std's stdout/stderr locks are held across `fork` (a child
//! must not inherit them locked by another thread); the child's stdin becomes
//! `/dev/null` (fd 0 is evcxr's command pipe); the child dies with its parent
//! (`PR_SET_PDEATHSIG`, then a check that its parent is still the process
//! that forked it); it gets a fresh prelude state (new locks, registries,
//! random seed); it closes its copies of descriptors waiting in the
//! descriptor sharer (whose lock is also held across `fork`, see `sharer.rs`);
//! it ends with `_exit`, never by returning into the runtime.
//! `PR_SET_PDEATHSIG` fires when the forking THREAD exits, so threads other
//! than the main one fork through one long-lived spawner thread.
//!
//! What is NOT handled, and cannot be: `fork` copies only the calling thread,
//! so any lock that another thread of the parent held at that moment (a
//! `threading::Lock`, a `Mutex` of the learner's, one inside a library) stays
//! locked forever in the child, and a child that takes it hangs. glibc resets
//! its own malloc and stdio locks, and the prelude its own state, but the
//! learner's closure runs with whatever the parent's other threads left
//! behind. This is the hazard for which Python 3.12 warns when a
//! multi-threaded process forks, and 3.14 makes `spawn`/`forkserver` the
//! default start method on Linux. Notebook 02 says so to the learner.

use std::io::{self, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crossbeam_channel::{bounded, unbounded, Sender};

use super::records::records;
use crate::state::{become_child, state, ProcessIdentity, Role, State};
use crate::sys::is_main_thread;

/// The code a child runs; it returns the exit code.
pub(crate) type ChildBody = Box<dyn FnOnce() -> i32 + Send>;

/// Everything a new child needs to know about itself.
pub(crate) struct ChildSetup {
    pub(crate) role: Role,
    pub(crate) identity: ProcessIdentity,
    pub(crate) body: ChildBody,
}

/// A fork the spawner thread performs for another thread.
pub(crate) struct ForkRequest {
    setup: ChildSetup,
    reply: Sender<io::Result<u32>>,
}

/// Forks a child that runs `setup.body`; returns its pid.
pub(crate) fn fork_child(setup: ChildSetup) -> io::Result<u32> {
    if is_main_thread() {
        return fork_here(setup);
    }
    let (reply, answer) = bounded(1);
    spawner(state())
        .send(ForkRequest { setup, reply })
        .map_err(|_| io::Error::other("the prelude's spawner thread is gone"))?;
    answer
        .recv()
        .map_err(|_| io::Error::other("the prelude's spawner thread is gone"))?
}

/// The spawner thread's channel, starting the thread on first use.
fn spawner(state: &State) -> Sender<ForkRequest> {
    let mut spawner = records(state).spawner.lock();
    if let Some(sender) = &*spawner {
        return sender.clone();
    }
    let (sender, requests) = unbounded::<ForkRequest>();
    std::thread::Builder::new()
        .name("multitask-spawner".to_string())
        .spawn(move || {
            for request in requests {
                let _ = request.reply.send(fork_here(request.setup));
            }
        })
        .expect("the prelude could not start its spawner thread");
    *spawner = Some(sender.clone());
    sender
}

/// Forks from the calling thread, which must outlive the child.
fn fork_here(setup: ChildSetup) -> io::Result<u32> {
    // SAFETY: getpid has no preconditions.
    let parent_pid = unsafe { libc::getpid() };
    let lane = crate::timeline::process_forking(&setup.identity.name);
    let mut stdout = io::stdout().lock();
    let _ = stdout.flush();
    let stderr = io::stderr().lock();
    let shares = crate::mp::sharer::hold_for_fork();
    // SAFETY: the child only runs `run_child`, which never returns.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        shares.close_in_child();
        drop(stderr);
        drop(stdout);
        run_child(setup, parent_pid, lane);
    }
    drop(shares);
    drop(stderr);
    drop(stdout);
    crate::timeline::process_forked(lane, u32::try_from(pid).ok());
    if pid < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(pid as u32)
    }
}

/// The child's side: make it safe, run the body, end the program, `_exit`.
/// `lane` is its `:timeline` lane, claimed by the parent.
fn run_child(setup: ChildSetup, parent_pid: libc::pid_t, lane: crate::timeline::Ticket) -> ! {
    // SAFETY: plain syscalls on the child's own descriptors and settings.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if null >= 0 {
            libc::dup2(null, libc::STDIN_FILENO);
            libc::close(null);
        }
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != parent_pid {
            libc::_exit(1);
        }
    }
    let inherited = state();
    let budget = inherited.process_limit.saturating_sub(
        inherited
            .live_processes
            .load(std::sync::atomic::Ordering::SeqCst),
    );
    let recorder = crate::timeline::child_view(lane);
    become_child(setup.role, setup.identity, budget, recorder);
    let exit_code = catch_unwind(AssertUnwindSafe(setup.body)).unwrap_or(1);
    let _ = catch_unwind(|| crate::lifecycle::finish_main(state()));
    crate::lifecycle::flush_standard_streams();
    crate::timeline::process_ended(exit_code);
    // SAFETY: ends this process without running the runtime's exit handlers.
    unsafe { libc::_exit(exit_code) }
}
