//! The one process-wide block of prelude state, published in
//! [`Host::state`](crate::host::Host::state) so that every cell's copy of the
//! crate sees the same registries and counters. This module owns its creation
//! (the first copy wins), the forked child's fresh block, the counters behind
//! `Process-N` / `Thread-N`, and the live-process budget. What happens at a
//! cell's end lives in `lifecycle`.

use std::any::Any;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::host::{host, Event};
use crate::sync::Mutex;
use crate::timeline::recorder::{Recorder, Ticket};
use process_limit::{runtime_process_limit, MAX_PROCESSES_VARIABLE};

mod process_limit;

/// What this process is, which decides how panics, interrupts and `input()` behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The kernel's runtime (or a plain program): cells run on its main thread.
    Runtime,
    /// A child started by `mp::Process`.
    Child,
    /// A worker of an `mp::Pool`.
    PoolWorker,
    /// The process a `check::run` runs an exercise's answer in: a child
    /// whose main thread's panic is the check's to report.
    Check,
}

/// How this process names itself (Python's `current_process()`).
#[derive(Debug, Clone)]
pub(crate) struct ProcessIdentity {
    /// `MainProcess`, `Process-1`, `Process-1:2`, `ForkPoolWorker-3`.
    pub(crate) name: String,
    /// The counters along the fork chain (Python's `_identity`), used to name grandchildren.
    pub(crate) lineage: Vec<u32>,
    /// Whether the parent started it as a daemon.
    pub(crate) daemon: bool,
    /// The parent's pid; `None` for the runtime.
    pub(crate) parent_pid: Option<u32>,
}

/// Something a cell owns that must end with the cell unless the cell ended it
/// (pools: Python terminates a pool that was not closed and joined).
pub(crate) trait CellResource: Send + Sync {
    /// Terminates the resource unless it was already joined or terminated.
    fn end_with_cell(&self);
}

/// Something drawn in its final state at a cell's end, after the cell's
/// children ended (progress bars), so executed notebooks keep final drawings.
pub(crate) trait FinalDrawing: Send + Sync {
    /// Draws the final state (marked interrupted if the cell was).
    fn draw_at_cell_end(&self);
}

/// The one narrow hook through which the `:timeline` recording observes the
/// layers below it (registered by `timeline::begin`, handed to forked
/// children), so they know none of its types. Locks and queues keep
/// `observer::Thinning` words instead, read by the timeline itself.
pub(crate) trait Observer: Send + Sync {
    /// Some text was printed (by `output`, in one write).
    fn printed(&self, text: &str);
    /// The cell's end begins: `Some(when)` if this cell is observed.
    fn cell_ending(&self, state: &State) -> Option<u64>;
    /// The cell's end, begun at `began`, is over (its children ended).
    fn cell_ended(&self, state: &State, began: u64);
}

/// A prelude thread as the layers below `threading` see it (the record
/// itself is `threading`'s).
#[derive(Debug, Clone)]
pub(crate) struct ThreadSighting {
    pub(crate) name: String,
    /// Whether the panic hook should print its panics (pool workers hand
    /// them to the task's result instead).
    pub(crate) reports_panics: bool,
    /// The `:timeline` lane its starter claimed for it.
    pub(crate) lane: Ticket,
}

/// `threading`'s registry of the threads it started, as the cell's end and
/// the layers below see it. `threading` keeps the typed records and fills
/// [`State::threads`] on its first use in a process, so a forked child
/// starts with none.
pub(crate) trait ThreadRegistry: Any + Send + Sync {
    /// The calling thread, if the prelude started it.
    fn current(&self) -> Option<ThreadSighting>;
    /// Whether the calling thread was abandoned at its cell's end.
    fn current_abandoned(&self) -> bool;
    /// Joins the threads the main program waits for at its end, until none
    /// is left (a joined thread may have started more).
    fn join_waiting(&self);
    /// Gives every running thread up: its output is dropped from now on and
    /// its blocking prelude calls unwind.
    fn abandon_all(&self, state: &State);
}

/// `mp`'s records of the processes this process started and of its queue
/// feeders, as the cell's end sees them; `mp` fills [`State::children`] on
/// its first use in a process.
pub(crate) trait ChildRegistry: Any + Send + Sync {
    /// Waits until every queue feeder of this process has emptied its batch.
    fn flush_feeders(&self);
    /// Python's exit handler: terminates the daemon processes, then waits
    /// for the others.
    fn end_at_exit(&self);
    /// Kills every child not yet reaped (an interrupt stops the cell).
    fn kill_all(&self);
}

/// Process-wide prelude state; one per process, shared by every cell's copy.
pub(crate) struct State {
    pub(crate) role: Role,
    pub(crate) identity: ProcessIdentity,
    /// Next number for `Process-N` (per process, as Python's `_counter`).
    pub(crate) process_counter: AtomicU32,
    /// Next number for `Thread-N`.
    pub(crate) thread_counter: AtomicU32,
    /// Next number for `ForkPoolWorker-N`.
    pub(crate) worker_counter: AtomicU32,
    /// Next number for `Dummy-N` (threads the prelude did not start).
    pub(crate) dummy_counter: AtomicU32,
    /// `threading`'s registry, once it kept a record (see [`ThreadRegistry`]).
    pub(crate) threads: OnceLock<&'static dyn ThreadRegistry>,
    /// `mp`'s records, once it kept one (see [`ChildRegistry`]).
    pub(crate) children: OnceLock<&'static dyn ChildRegistry>,
    /// Names given to threads the prelude did not start, by ident.
    pub(crate) dummy_threads: Mutex<Vec<(u64, String)>>,
    /// How many running threads are abandoned; zero lets `println!` skip a lookup.
    pub(crate) abandoned_threads: AtomicUsize,
    /// Progress bars the running cell used, drawn at its end (runtime only).
    pub(crate) progress_bars: Mutex<Vec<Arc<dyn FinalDrawing>>>,
    /// The `:timeline` recording's hook, once one was armed (see [`Observer`]).
    pub(crate) observer: OnceLock<Arc<dyn Observer>>,
    /// Pools to end with the cell.
    pub(crate) resources: Mutex<Vec<Arc<dyn CellResource>>>,
    /// Live processes counted against [`State::process_limit`].
    pub(crate) live_processes: AtomicUsize,
    pub(crate) process_limit: usize,
    /// Weyl sequence behind `random()`; reseeded in every new process.
    pub(crate) random_state: AtomicU64,
    /// `pthread_self` of the main thread, once seen (0 before).
    pub(crate) main_ident: AtomicU64,
    /// Why the last serde impl of ours refused, by thread ident: postcard
    /// keeps no custom error messages, so `mp::encode`/`decode` fetch it here.
    pub(crate) serde_refusal: Mutex<Option<(u64, String)>>,
    /// The cell whose KeyboardInterrupt was already reported (0: none).
    pub(crate) interrupt_reported_cell: AtomicU64,
    /// The main thread's last panic, reported only if evcxr says the cell
    /// failed (a panic the cell catches itself is no error).
    pub(crate) pending_panic: Mutex<Option<Event>>,
    /// This process's view of the `:timeline` recording (null until the
    /// first `timeline::begin`; a forked child inherits it). Never freed.
    pub(crate) recorder: AtomicPtr<Recorder>,
    /// Where `check::seen` sends its sightings: set in a check's process
    /// (and inherited by what it starts), null elsewhere. Never freed.
    /// An `mp::Queue<check::Sighting>`, opaque here: only `check` reads it.
    pub(crate) check_sightings: AtomicPtr<()>,
    /// When the running check started (monotonic nanoseconds).
    pub(crate) check_started: AtomicU64,
    /// The running `asyncio` event loops: (thread ident, the loop's address).
    /// Here, not in a `thread_local!`, so every cell's copy finds the loop, and
    /// a forked child (whose state is new) never sees its parent's.
    pub(crate) event_loops: Mutex<Vec<(u64, usize)>>,
}

impl State {
    fn new(role: Role, identity: ProcessIdentity, process_limit: usize) -> State {
        State {
            role,
            identity,
            process_counter: AtomicU32::new(1),
            thread_counter: AtomicU32::new(1),
            worker_counter: AtomicU32::new(1),
            dummy_counter: AtomicU32::new(1),
            threads: OnceLock::new(),
            children: OnceLock::new(),
            dummy_threads: Mutex::new(Vec::new()),
            abandoned_threads: AtomicUsize::new(0),
            progress_bars: Mutex::new(Vec::new()),
            observer: OnceLock::new(),
            resources: Mutex::new(Vec::new()),
            live_processes: AtomicUsize::new(0),
            process_limit,
            random_state: AtomicU64::new(fresh_seed()),
            main_ident: AtomicU64::new(0),
            serde_refusal: Mutex::new(None),
            interrupt_reported_cell: AtomicU64::new(0),
            pending_panic: Mutex::new(None),
            recorder: AtomicPtr::new(std::ptr::null_mut()),
            check_sightings: AtomicPtr::new(std::ptr::null_mut()),
            check_started: AtomicU64::new(0),
            event_loops: Mutex::new(Vec::new()),
        }
    }

    /// Takes `count` process slots from the budget, or explains why not.
    pub(crate) fn reserve_processes(&self, count: usize, what: &str) -> Result<(), String> {
        let mut live = self.live_processes.load(Ordering::SeqCst);
        loop {
            if live + count > self.process_limit {
                return Err(format!(
                    "{what} would need {count} new process(es) with {live} alive, but the prelude \
                     allows at most {} live processes ({MAX_PROCESSES_VARIABLE} sets this); \
                     nothing was started",
                    self.process_limit
                ));
            }
            match self.live_processes.compare_exchange(
                live,
                live + count,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return Ok(()),
                Err(now) => live = now,
            }
        }
    }

    /// Gives back process slots taken with [`State::reserve_processes`].
    pub(crate) fn release_processes(&self, count: usize) {
        self.live_processes.fetch_sub(count, Ordering::SeqCst);
    }

    /// The calling thread, if the prelude started it.
    pub(crate) fn current_thread(&self) -> Option<ThreadSighting> {
        self.threads.get()?.current()
    }

    /// Whether the calling thread was abandoned at its cell's end (the
    /// common case, none abandoned, is one load).
    pub(crate) fn current_thread_abandoned(&self) -> bool {
        self.abandoned_threads.load(Ordering::SeqCst) > 0
            && self
                .threads
                .get()
                .is_some_and(|threads| threads.current_abandoned())
    }

    /// The name of thread `ident`, which the prelude did not start: Python's
    /// `Dummy-N`, given on first sight.
    pub(crate) fn dummy_thread_name(&self, ident: u64) -> String {
        let mut dummies = self.dummy_threads.lock();
        if let Some((_, name)) = dummies.iter().find(|(known, _)| *known == ident) {
            return name.clone();
        }
        let number = self.dummy_counter.fetch_add(1, Ordering::Relaxed);
        let name = format!("Dummy-{number}");
        dummies.push((ident, name.clone()));
        name
    }

    /// Waits until every queue feeder of this process has emptied its batch.
    pub(crate) fn flush_feeders(&self) {
        if let Some(children) = self.children.get() {
            children.flush_feeders();
        }
    }

    /// Registers something to end with the cell.
    pub(crate) fn register_resource(&self, resource: Arc<dyn CellResource>) {
        self.resources.lock().push(resource);
    }
}

/// The process's state, created (and the hooks installed) on first use.
#[inline]
pub(crate) fn state() -> &'static State {
    let pointer = host().state.load(Ordering::Acquire);
    if pointer.is_null() {
        create_runtime_state()
    } else {
        // SAFETY: only this module stores into `Host::state`, always a leaked
        // `State` of this very crate (same layout in every cell's copy).
        unsafe { &*(pointer as *const State) }
    }
}

/// Creates the runtime's state; the first copy to publish wins.
fn create_runtime_state() -> &'static State {
    let identity = ProcessIdentity {
        name: "MainProcess".to_string(),
        lineage: Vec::new(),
        daemon: false,
        parent_pid: None,
    };
    let fresh = Box::into_raw(Box::new(State::new(
        Role::Runtime,
        identity,
        runtime_process_limit(),
    )));
    match host().state.compare_exchange(
        std::ptr::null_mut(),
        fresh.cast(),
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => {
            // Up a layer: the state comes first in every prelude call, and
            // the hooks must exist as soon as it does (see `lifecycle`).
            crate::lifecycle::install_hooks();
            // SAFETY: just leaked, never freed.
            unsafe { &*fresh }
        }
        Err(existing) => {
            // SAFETY: `fresh` was never published.
            drop(unsafe { Box::from_raw(fresh) });
            // SAFETY: as in `state`.
            unsafe { &*(existing as *const State) }
        }
    }
}

/// Creates the state (if needed) and notes the main thread's ident.
pub(crate) fn attach() {
    let state = state();
    if crate::sys::is_main_thread() {
        // SAFETY: pthread_self has no preconditions.
        let ident = unsafe { libc::pthread_self() } as u64;
        state.main_ident.store(ident, Ordering::Relaxed);
    }
}

/// In a freshly forked child: replaces the inherited state (whose locks other
/// threads of the parent may have held at the fork) with a fresh one;
/// `recorder` is the child's view of the `:timeline` recording, if any.
pub(crate) fn become_child(
    role: Role,
    identity: ProcessIdentity,
    process_limit: usize,
    recorder: Option<Recorder>,
) {
    let inherited = state();
    let fresh = State::new(role, identity, process_limit);
    fresh.thread_counter.store(
        inherited.thread_counter.load(Ordering::Relaxed),
        Ordering::Relaxed,
    );
    if let Some(observer) = inherited.observer.get() {
        let _ = fresh.observer.set(observer.clone());
    }
    if let Some(view) = recorder {
        fresh
            .recorder
            .store(Box::into_raw(Box::new(view)), Ordering::Release);
    }
    // The queue is leaked by the check's process; the child's memory holds it too.
    fresh.check_sightings.store(
        inherited.check_sightings.load(Ordering::Acquire),
        Ordering::Release,
    );
    fresh.check_started.store(
        inherited.check_started.load(Ordering::Relaxed),
        Ordering::Relaxed,
    );
    // SAFETY: pthread_self has no preconditions.
    fresh
        .main_ident
        .store(unsafe { libc::pthread_self() } as u64, Ordering::Relaxed);
    // The inherited block is left as it is: it belongs to the parent's memory image.
    host()
        .state
        .store(Box::into_raw(Box::new(fresh)).cast(), Ordering::Release);
    host().interrupted.store(false, Ordering::SeqCst);
}

/// A seed that differs between processes and runs.
fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ ((std::process::id() as u64) << 32) ^ 0x9E37_79B9_7F4A_7C15
}
