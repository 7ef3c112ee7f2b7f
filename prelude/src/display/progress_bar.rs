//! [`Progress`], a live progress bar (Python's `tqdm`): one display in the
//! notebook, redrawn in place (`update_display_data`) as threads,
//! `mp::Process` children and `mp::Pool` workers count.
//!
//! The count lives in one page of shared memory with a process-shared lock,
//! and so does the choice of who redraws: whoever moves the count redraws if
//! 100 ms passed since the last drawing and nobody is drawing now, so the
//! notebook gets about ten updates a second however many processes count.
//! The final state is always drawn, under the lock, after reading the count:
//! reaching the total, `close()`, the creator's last handle dropped, and the
//! cell's end (the runtime keeps every bar used in the cell until then, and
//! marks a bar an interrupt stopped). Lines leave in the order the lock is
//! taken, so the last line shows the last count.

use std::cell::UnsafeCell;
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::progress_view::{self, Snapshot, Status};
use super::DisplayHandle;
use crate::host::host;
use crate::mp::shm::{
    init_shared_mutex, lock_shared_mutex, try_lock_shared_mutex, unlock_shared_mutex, MemoryKind,
    SharedMemory,
};
use crate::state::{state, FinalDrawing, Role};
use crate::timeline::now;

/// While counting, at most one redraw per this many nanoseconds.
const REDRAW_NANOS: u64 = 100_000_000;

/// Written first in every bar's memory, checked by a process that opens it.
const MAGIC: u64 = u64::from_le_bytes(*b"mtprogr1");

/// [`Bar::cell`] when no cell's end is to draw the bar.
const NO_CELL: u64 = u64::MAX;

/// The shared part of a bar: what every process that counts sees.
#[repr(C)]
struct Counter {
    /// Held while a drawing is read and written, so drawings leave in order.
    mutex: UnsafeCell<libc::pthread_mutex_t>,
    magic: u64,
    count: AtomicU64,
    /// When the bar was last drawn (monotonic nanoseconds).
    drawn_at: AtomicU64,
    /// When it reached its total, was closed or interrupted (0: not yet).
    finished_at: AtomicU64,
    /// A [`Status`], as [`status_code`] numbers it.
    status: AtomicU32,
}

fn status_code(status: Status) -> u32 {
    match status {
        Status::Running => 0,
        Status::Closed => 1,
        Status::Interrupted => 2,
    }
}

/// One bar as one process sees it: the shared counter and what never changes.
pub(crate) struct Bar {
    memory: SharedMemory,
    display: DisplayHandle,
    description: String,
    total: u64,
    started_at: u64,
    /// The cell whose end draws this bar, in the runtime ([`NO_CELL`]: none).
    cell: AtomicU64,
}

/// Whether a drawing waits for its turn or gives way.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Draw {
    /// Only if 100 ms passed and nobody is drawing (an update while counting).
    IfDue,
    /// Now, after whoever is drawing (a final state).
    Always,
}

impl Bar {
    fn counter(&self) -> &Counter {
        // SAFETY: the mapping starts with a `Counter` (written by `progress`,
        // checked when opened) and lives as long as `self`; its changing
        // fields are atomics or an `UnsafeCell`, so a shared reference is
        // sound while other processes write them.
        unsafe { &*self.memory.address().cast::<Counter>() }
    }

    fn count(&self) -> u64 {
        self.counter().count.load(Ordering::SeqCst)
    }

    fn status(&self) -> Status {
        match self.counter().status.load(Ordering::SeqCst) {
            1 => Status::Closed,
            2 => Status::Interrupted,
            _ => Status::Running,
        }
    }

    /// Moves a running bar to `status`; false if it had already stopped.
    fn stop(&self, status: Status) -> bool {
        let stopped = self
            .counter()
            .status
            .compare_exchange(
                status_code(Status::Running),
                status_code(status),
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok();
        if stopped {
            self.note_finished();
        }
        stopped
    }

    /// Freezes the elapsed time (the first to finish the bar sets it).
    fn note_finished(&self) {
        let _ = self.counter().finished_at.compare_exchange(
            0,
            now().max(1),
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }

    /// The count went from `before` to `after`: the one who reached the
    /// total draws it, anyone else only when an update is due.
    fn moved(&self, before: u64, after: u64) {
        if before < self.total && after >= self.total {
            self.note_finished();
            if self.status() == Status::Running {
                self.draw(Draw::Always);
            }
        } else {
            self.draw(Draw::IfDue);
        }
    }

    /// Draws the state the bar ends in; marks it interrupted if an
    /// interrupt stopped the runtime's cell before it was full. A bar
    /// stopped earlier was drawn when it stopped, and stays as drawn.
    fn draw_final(&self) {
        let interrupted_now = state().role == Role::Runtime
            && host().interrupted.load(Ordering::SeqCst)
            && self.count() < self.total
            && self.stop(Status::Interrupted);
        if interrupted_now || self.status() == Status::Running {
            self.draw(Draw::Always);
        }
    }

    fn due(&self, at: u64) -> bool {
        at.saturating_sub(self.counter().drawn_at.load(Ordering::SeqCst)) >= REDRAW_NANOS
    }

    fn draw(&self, when: Draw) {
        let counter = self.counter();
        let mutex = counter.mutex.get();
        if when == Draw::IfDue {
            if self.status() != Status::Running || !self.due(now()) {
                return;
            }
            // Whoever holds the lock is drawing a newer count than ours.
            // SAFETY: initialised by `progress` before the bar was shared.
            if unsafe { try_lock_shared_mutex(mutex) }.is_none() {
                return;
            }
            // Somebody may have drawn between our look and the lock.
            if !self.due(now()) {
                // SAFETY: we hold the lock.
                unsafe { unlock_shared_mutex(mutex) };
                return;
            }
        } else {
            // A holder killed mid-drawing left only `drawn_at` half-noted: harmless.
            // SAFETY: initialised by `progress` before the bar was shared.
            let _how = unsafe { lock_shared_mutex(mutex) };
        }
        let drawn_at = now();
        counter.drawn_at.store(drawn_at, Ordering::SeqCst);
        let (html, text) = self.render(drawn_at);
        self.display.send_data("text/html", &html, &text, true);
        // SAFETY: we hold the lock.
        unsafe { unlock_shared_mutex(mutex) };
    }

    /// The two forms of the bar as it stands at `at`.
    fn render(&self, at: u64) -> (String, String) {
        let finished_at = self.counter().finished_at.load(Ordering::SeqCst);
        let end = if finished_at == 0 { at } else { finished_at };
        let snapshot = Snapshot {
            description: &self.description,
            count: self.count(),
            total: self.total,
            elapsed_seconds: end.saturating_sub(self.started_at) as f64 / 1e9,
            status: self.status(),
        };
        (
            progress_view::html(&snapshot),
            progress_view::text(&snapshot),
        )
    }
}

/// A live progress bar in the notebook, like Python's `tqdm(total=…, desc=…)`;
/// made by [`progress`].
///
/// `Clone` shares the bar: give a clone to each thread or `mp::Process`
/// child, or pass it to `mp::Pool` tasks in their argument (it travels as
/// an address of its shared memory). Every `inc`/`set` from any of them
/// moves the same count.
#[derive(Clone)]
pub struct Progress {
    handle: Arc<Handle>,
}

/// The creator's handles share one `Handle`: when the last goes, the bar is drawn.
struct Handle {
    bar: Arc<Bar>,
    draws_when_dropped: bool,
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.draws_when_dropped {
            self.bar.draw_final();
        }
    }
}

/// Shows a progress bar at 0 of `total`, described by `desc` (Python's
/// `tqdm(total=total, desc=desc)`); count with [`Progress::inc`].
///
/// ```no_run
/// use multitask::prelude::*;
/// let bar = display::progress(100, "下载");
/// for _ in 0..100 {
///     bar.inc(1);
/// }
/// ```
pub fn progress(total: u64, desc: &str) -> Progress {
    let memory = SharedMemory::create(MemoryKind::Progress, std::mem::size_of::<Counter>())
        .unwrap_or_else(|error| panic!("cannot create a progress bar: {error}"));
    let started_at = now();
    let counter = memory.address().cast::<Counter>();
    // SAFETY: fresh zeroed shared memory, page-aligned and large enough for
    // a `Counter`; nobody else has it yet.
    unsafe {
        init_shared_mutex(UnsafeCell::raw_get(&raw const (*counter).mutex));
        (&raw mut (*counter).magic).write(MAGIC);
        (&raw mut (*counter).drawn_at).write(AtomicU64::new(started_at));
    }
    let bar = Arc::new(Bar {
        memory,
        display: DisplayHandle {
            display_id: super::new_display_id(),
        },
        description: desc.to_string(),
        total,
        started_at,
        cell: AtomicU64::new(NO_CELL),
    });
    let (html, text) = bar.render(started_at);
    bar.display.send_data("text/html", &html, &text, false);
    note_in_cell(&bar);
    Progress {
        handle: Arc::new(Handle {
            bar,
            draws_when_dropped: true,
        }),
    }
}

impl Progress {
    /// Adds `n` to the count (tqdm's `update(n)`).
    pub fn inc(&self, n: u64) {
        let bar = &self.handle.bar;
        note_in_cell(bar);
        let before = bar.counter().count.fetch_add(n, Ordering::SeqCst);
        bar.moved(before, before.saturating_add(n));
    }

    /// Sets the count to `n` (tqdm's `n = …` then `refresh()`).
    pub fn set(&self, n: u64) {
        let bar = &self.handle.bar;
        note_in_cell(bar);
        let before = bar.counter().count.swap(n, Ordering::SeqCst);
        bar.moved(before, n);
    }

    /// Stops the bar where it is and draws it so; later counts are kept
    /// but not drawn (tqdm's `close()`).
    pub fn close(&self) {
        if self.handle.bar.stop(Status::Closed) {
            self.handle.bar.draw(Draw::Always);
        }
    }

    /// The count so far (tqdm's `n`).
    pub fn n(&self) -> u64 {
        self.handle.bar.count()
    }

    /// The count at which the bar is full.
    pub fn total(&self) -> u64 {
        self.handle.bar.total
    }

    /// The id of the bar's display in the notebook.
    pub fn display_id(&self) -> &str {
        self.handle.bar.display.display_id()
    }

    /// Shows nothing as a cell's value: the bar is already shown (evcxr
    /// calls this method).
    pub fn evcxr_display(&self) {}
}

impl fmt::Debug for Progress {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bar = &self.handle.bar;
        let (_, text) = bar.render(now());
        write!(formatter, "<Progress {text}>")
    }
}

/// In the runtime, keeps `bar` until the end of the running cell, which
/// draws it (once per cell: a bar kept in a variable joins each cell that counts).
fn note_in_cell(bar: &Arc<Bar>) {
    let state = state();
    if state.role != Role::Runtime {
        return;
    }
    let cell = host().cell.load(Ordering::SeqCst);
    if bar.cell.load(Ordering::Relaxed) != cell && bar.cell.swap(cell, Ordering::Relaxed) != cell {
        state.progress_bars.lock().push(bar.clone());
    }
}

/// At the cell's end, after its children ended (`lifecycle`): a bar the
/// cell used is drawn in its final state (an interrupted one marked so).
impl FinalDrawing for Bar {
    fn draw_at_cell_end(&self) {
        self.cell.store(NO_CELL, Ordering::Relaxed);
        self.draw_final();
    }
}

/// What travels to a pool task: where to find the counter, and the rest.
#[derive(Serialize, Deserialize)]
struct Address {
    owner_pid: u32,
    fd_number: i32,
    display_id: String,
    description: String,
    total: u64,
    started_at: u64,
}

impl Serialize for Progress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let bar = &self.handle.bar;
        Address {
            owner_pid: std::process::id(),
            fd_number: bar.memory.fd_number(),
            display_id: bar.display.display_id.clone(),
            description: bar.description.clone(),
            total: bar.total,
            started_at: bar.started_at,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Progress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let address = Address::deserialize(deserializer)?;
        let memory = open_counter(address.owner_pid, address.fd_number).map_err(|error| {
            serde::de::Error::custom(crate::mp::refuse(format!(
                "the progress bar is gone (the process that sent it ended or dropped it): {error}"
            )))
        })?;
        let bar = Bar {
            memory,
            display: DisplayHandle {
                display_id: address.display_id,
            },
            description: address.description,
            total: address.total,
            started_at: address.started_at,
            cell: AtomicU64::new(NO_CELL),
        };
        Ok(Progress {
            handle: Arc::new(Handle {
                bar: Arc::new(bar),
                // Only the creator's last handle draws: a task's copy goes
                // after every task, and would redraw each time.
                draws_when_dropped: false,
            }),
        })
    }
}

/// Maps the counter process `owner_pid` holds at `fd_number`, after
/// checking that it is one.
fn open_counter(owner_pid: u32, fd_number: i32) -> std::io::Result<SharedMemory> {
    let memory = SharedMemory::open(MemoryKind::Progress, owner_pid, fd_number)?;
    let magic = if memory.len() >= std::mem::size_of::<Counter>() {
        // SAFETY: the mapping holds a counter's bytes; `magic` is written
        // once, before the bar's address can travel.
        unsafe { (*memory.address().cast::<Counter>()).magic }
    } else {
        0
    };
    if magic != MAGIC {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "that memory is not a progress bar's",
        ));
    }
    Ok(memory)
}
