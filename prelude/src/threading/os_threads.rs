//! The OS threads behind [`Thread`](super::Thread), kept for reuse: when a
//! prelude thread ends, its OS thread waits a while for the next one to start
//! instead of exiting, so `start()` costs a handoff rather than a new thread
//! (a stack to map, a clone). Python also says thread identifiers may be
//! recycled once a thread has exited. Idle threads are listed in the
//! process's thread registry (`registry::Threads`), so a forked child (whose
//! copies of them do not exist) starts with none.

use std::io;
use std::os::unix::thread::JoinHandleExt;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};

use super::registry::threads;
use crate::state::state;

/// The work an OS thread is given: one prelude thread's whole life.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// How long an idle OS thread waits for a new job before it exits.
const IDLE_LIFETIME: Duration = Duration::from_secs(2);

/// An idle OS thread: its `pthread_t` and the channel that hands it a job.
pub(crate) struct IdleThread {
    ident: u64,
    jobs: Sender<Job>,
}

/// Runs `job` on an idle OS thread, or a new one; returns its `pthread_t`.
pub(crate) fn run_job(job: Job) -> io::Result<u64> {
    let idle = threads(state()).idle.lock().pop();
    if let Some(idle) = idle {
        if let Err(returned) = idle.jobs.send(job) {
            // It exited meanwhile (cannot happen while listed, but be safe).
            return spawn(returned.into_inner());
        }
        return Ok(idle.ident);
    }
    spawn(job)
}

fn spawn(job: Job) -> io::Result<u64> {
    let (sender, jobs) = bounded::<Job>(1);
    let handle = std::thread::Builder::new().spawn(move || serve(job, sender, jobs))?;
    Ok(handle.as_pthread_t())
}

/// An OS thread's life: run the job, then offer itself for the next one.
fn serve(first: Job, sender: Sender<Job>, jobs: Receiver<Job>) {
    let ident = super::get_ident();
    first();
    loop {
        threads(state()).idle.lock().push(IdleThread {
            ident,
            jobs: sender.clone(),
        });
        let job = match jobs.recv_timeout(IDLE_LIFETIME) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                let mut idle = threads(state()).idle.lock();
                match idle.iter().position(|thread| thread.ident == ident) {
                    Some(index) => {
                        idle.swap_remove(index);
                        return;
                    }
                    // A starter took it off the list: its job is on the way.
                    None => {
                        drop(idle);
                        match jobs.recv() {
                            Ok(job) => job,
                            Err(_) => return,
                        }
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        job();
    }
}
