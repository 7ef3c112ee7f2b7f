//! The course's exercise checks: run the learner's answer where a hang or a
//! crash cannot take the notebook with it, and tell right from wrong in one
//! line.
//!
//! [`run`] forks the answer into a process of its own (named like the main
//! program, so what it starts is named as in a cell) and waits for it with a
//! deadline: a forgotten sentinel, `join`, `task_done` or daemon flag ends as
//! a clear failure instead of a frozen cell, and the process, with every
//! process it started, is killed. Like a script's end, the answer counts as
//! done only when its process could exit: threads and children it left
//! running are a failure too. A `todo!()` still in the answer is reported as
//! "not written yet", without a backtrace.
//!
//! The checks also see *how* the work was done: helper functions an exercise
//! gives the learner wrap their work in [`seen`], and every piece of work
//! done in the answer, in any thread or process it started, comes back as a
//! [`Sighting`] (who did it, and when).
//!
//! [`that`] and [`fail`] print `❌` and a hint and end the cell with an
//! `AssertionError` (what nbgrader and Jupyter both see as a failed cell);
//! [`pass`] prints `✅`.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::mp::process::ProcessShared;
use crate::mp::{Message, Queue};
use crate::output::{write_text, Stream};
use crate::report::{panic_message, NotPassed};
use crate::state::{state, Role};
use crate::timeline::now;

/// One piece of work seen by the check: which process and thread did it,
/// and when (seconds since the check started).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sighting {
    /// The label given to [`seen`].
    pub label: String,
    /// The process that did the work.
    pub pid: u32,
    /// The thread that did it (`MainThread`, `Thread-1 (worker)`, …).
    pub thread: String,
    /// When it started.
    pub start: f64,
    /// When it ended.
    pub end: f64,
}

/// Marks a piece of work while it lives (see [`seen`]).
#[must_use = "the work is the time until this is dropped"]
pub struct Seen {
    label: String,
    started: u64,
}

/// Marks the work done until the returned guard is dropped, for a check to
/// see; outside a check it costs one load and sends nothing.
///
/// ```no_run
/// use multitask::check;
/// fn count_part(range: std::ops::Range<u64>) -> u64 {
///     let _seen = check::seen("count_part");
///     range.filter(|n| n % 7 == 0).count() as u64
/// }
/// ```
pub fn seen(label: &str) -> Seen {
    Seen {
        label: label.to_owned(),
        started: now(),
    }
}

impl Drop for Seen {
    fn drop(&mut self) {
        let state = state();
        let pointer = state.check_sightings.load(Ordering::Acquire);
        if pointer.is_null() {
            return;
        }
        // SAFETY: set once in a check's process (and inherited by its
        // children), by `run` below only, to a leaked `Queue<Sighting>` that
        // is never freed.
        let sightings = unsafe { &*pointer.cast::<Queue<Sighting>>() };
        let checked_from = state.check_started.load(Ordering::Relaxed);
        let seconds = |time: u64| time.saturating_sub(checked_from) as f64 / 1e9;
        let _ = sightings.put_nowait(Sighting {
            label: std::mem::take(&mut self.label),
            pid: std::process::id(),
            thread: crate::threading::current_thread().name().to_owned(),
            start: seconds(self.started),
            end: seconds(now()),
        });
    }
}

/// What came of the answer's process, as it tells the parent.
#[derive(Serialize, Deserialize)]
enum Report<T> {
    Returned(T),
    NotWritten,
    Panicked(String),
}

/// How the answer ended.
enum Outcome<T> {
    /// It returned, and its process could exit.
    Returned(T),
    /// It returned, but threads or processes it started kept its process
    /// from exiting before the deadline.
    Lingered(T),
    /// A `todo!()` is still there.
    NotWritten,
    /// It panicked, with this message.
    Panicked(String),
    /// It did not return before the deadline.
    Hung,
    /// Its process died without a word (a crash, an `exit`).
    Died(Option<i32>),
}

/// The result of running an answer with [`run`].
pub struct Attempt<T> {
    outcome: Outcome<T>,
    seconds: f64,
    limit: f64,
    sightings: Vec<Sighting>,
}

/// Runs `answer` in a process of its own and waits up to `limit_seconds`
/// for it to return and for its process to exit.
pub fn run<T, F>(limit_seconds: f64, answer: F) -> Attempt<T>
where
    T: Message,
    F: FnOnce() -> T + Send + 'static,
{
    let started = now();
    let began = Instant::now();
    let deadline = began + Duration::from_secs_f64(limit_seconds);
    let reports: Queue<Report<T>> = Queue::new();
    let sightings: Queue<Sighting> = Queue::new();
    let process = {
        let state = state();
        ProcessShared::new(
            state.identity.name.clone(),
            state.identity.lineage.clone(),
            true,
        )
    };
    let body = {
        let (reports, sightings) = (reports.clone(), sightings.clone());
        Box::new(move || {
            let state = state();
            state.check_started.store(started, Ordering::Relaxed);
            state
                .check_sightings
                .store(Box::into_raw(Box::new(sightings)).cast(), Ordering::Release);
            let report = match catch_unwind(AssertUnwindSafe(answer)) {
                Ok(value) => Report::Returned(value),
                Err(payload) => {
                    let message = panic_message(payload.as_ref());
                    if message.starts_with("not yet implemented") {
                        Report::NotWritten
                    } else {
                        Report::Panicked(message)
                    }
                }
            };
            reports.put(report);
            // Delivered now: threads the answer left running may keep
            // this process from ever reaching its exit, where queues flush.
            state.flush_feeders();
            0
        })
    };
    if let Err(message) = process.start_with(Role::Check, body) {
        fail(format!("检查无法启动你的代码:{message}"));
    }
    let remaining = || {
        deadline
            .saturating_duration_since(Instant::now())
            .as_secs_f64()
    };
    let report = loop {
        match reports.get_timeout(remaining().min(0.1)) {
            Ok(report) => break Some(report),
            Err(_) if Instant::now() >= deadline => break None,
            Err(_) => {
                if let Some(code) = process.reap_nonblocking() {
                    // It may have reported just before it died.
                    break reports.get_timeout(0.2).ok().or_else(|| {
                        if code == 0 {
                            None
                        } else {
                            Some(Report::Panicked(String::new()))
                        }
                    });
                }
            }
        }
    };
    let seconds = began.elapsed().as_secs_f64();
    let exited = process.wait_exit(Some(deadline));
    if exited.is_none() {
        process.send_signal(libc::SIGKILL);
        process.reap_after_signal();
    }
    let outcome = match report {
        Some(Report::Returned(value)) if exited.is_some() => Outcome::Returned(value),
        Some(Report::Returned(value)) => Outcome::Lingered(value),
        Some(Report::NotWritten) => Outcome::NotWritten,
        Some(Report::Panicked(message)) if !message.is_empty() => Outcome::Panicked(message),
        Some(Report::Panicked(_)) => Outcome::Died(process.wait_exit(Some(Instant::now()))),
        None if exited.is_some() => Outcome::Died(exited),
        None => Outcome::Hung,
    };
    let mut seen = Vec::new();
    while let Ok(sighting) = sightings.get_nowait() {
        seen.push(sighting);
    }
    seen.sort_by(|one, other| one.start.total_cmp(&other.start));
    Attempt {
        outcome,
        seconds,
        limit: limit_seconds,
        sightings: seen,
    }
}

impl<T> Attempt<T> {
    /// What the answer returned; when it did not return (or left work
    /// running), the check fails here: "not written yet" for a `todo!()`,
    /// the panic's message, or `hang_hint` for an answer that hung.
    pub fn value(&self, hang_hint: &str) -> &T {
        match &self.outcome {
            Outcome::Returned(value) => value,
            Outcome::Lingered(_) => fail(format!(
                "你的函数返回了,可是它启动的线程或进程在 {} 秒内没有结束(程序结束时要等它们):{hang_hint}",
                self.limit
            )),
            Outcome::NotWritten => fail("还没有完成:把 todo!() 换成你的代码"),
            Outcome::Panicked(message) => fail(format!("你的代码 panic 了:{message}")),
            Outcome::Hung => fail(format!(
                "你的代码 {} 秒还没有返回,已经被停止:{hang_hint}",
                self.limit
            )),
            Outcome::Died(code) => fail(format!(
                "运行你的代码的进程意外结束了(退出码 {code:?})"
            )),
        }
    }

    /// Seconds from the start until the answer returned.
    pub fn seconds(&self) -> f64 {
        self.seconds
    }

    /// The work seen under `label`, in order of start.
    pub fn sightings(&self, label: &str) -> Vec<&Sighting> {
        self.sightings
            .iter()
            .filter(|sighting| sighting.label == label)
            .collect()
    }

    /// The distinct threads (with their process) that did work under `label`.
    pub fn threads(&self, label: &str) -> BTreeSet<(u32, String)> {
        self.sightings(label)
            .into_iter()
            .map(|sighting| (sighting.pid, sighting.thread.clone()))
            .collect()
    }

    /// The distinct processes that did work under `label`.
    pub fn processes(&self, label: &str) -> BTreeSet<u32> {
        self.sightings(label)
            .into_iter()
            .map(|sighting| sighting.pid)
            .collect()
    }

    /// The most pieces of work under `label` that ran at the same moment.
    pub fn most_at_once(&self, label: &str) -> usize {
        let mut edges: Vec<(f64, i32)> = self
            .sightings(label)
            .into_iter()
            .flat_map(|sighting| [(sighting.start, 1), (sighting.end, -1)])
            .collect();
        // At the same instant an end comes before a start: touching is not overlapping.
        edges.sort_by(|one, other| one.0.total_cmp(&other.0).then(one.1.cmp(&other.1)));
        let (mut running, mut most) = (0i32, 0i32);
        for (_, change) in edges {
            running += change;
            most = most.max(running);
        }
        most as usize
    }
}

/// Passes the check when `condition` holds; otherwise prints `❌` and the
/// `hint` and ends the cell with an error.
#[track_caller]
pub fn that(condition: bool, hint: impl Display) {
    if !condition {
        fail(hint);
    }
}

/// Prints `✅` and `message`.
pub fn pass(message: impl Display) {
    write_text(Stream::Stdout, &format!("✅ 通过:{message}\n"));
}

/// Prints `❌` and the `hint`, then ends the cell with an `AssertionError`
/// (no backtrace: the hint is the whole story).
pub fn fail(hint: impl Display) -> ! {
    let hint = hint.to_string();
    write_text(Stream::Stdout, &format!("❌ {hint}\n"));
    std::panic::panic_any(NotPassed(hint))
}
