//! A ring's header, at the start of its shared memory: magic and capacity
//! (checked when another process maps the ring), the books that say where
//! the frames are, the robust mutex that guards them, and the words each
//! side waits on (see `wait`).
//!
//! Other processes write the ring while we look, so it is reached through
//! `&RingHeader` only, whose changing fields are atomics or `UnsafeCell`s:
//! the bookkeeping (`Books`) becomes a `&mut` only under the mutex.
//!
//! A process killed while it holds the mutex (a `terminate()` in the middle
//! of a put) leaves the books as they were unless it died while changing
//! them: a change sets `Books::dirty` first and clears it last, so the next
//! holder knows. A dirty ring, or books that do not add up, mark the ring
//! broken, and every later use says so in plain words instead of reading
//! frames that may not exist.

use std::cell::UnsafeCell;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{Ring, LENGTH_BYTES};
use crate::mp::shm::{
    init_shared_mutex, lock_shared_mutex, unlock_shared_mutex, Locked, MemoryKind, SharedMemory,
};
use crate::observer::Thinning;

/// The first bytes of every ring: "multitask ring", version 1.
const MAGIC: u64 = u64::from_le_bytes(*b"MTRING\0\x01");

/// The ring's header, at the start of its shared memory.
#[repr(C)]
pub(super) struct RingHeader {
    /// [`MAGIC`]; written once at creation, like `capacity`.
    magic: u64,
    /// Bytes of frames the data area after the header holds.
    capacity: u64,
    /// Set (never cleared) when the books were found damaged.
    broken: AtomicU32,
    pub(super) mutex: UnsafeCell<libc::pthread_mutex_t>,
    /// Reached only under `mutex`.
    books: UnsafeCell<Books>,
    /// Takers spin on this line while putters work under the lock: keep
    /// them on cache lines of their own.
    pub(super) takers: WaitWords,
    pub(super) putters: WaitWords,
}

/// Where the frames are; changed only under the ring's mutex.
#[repr(C)]
pub(super) struct Books {
    /// Where the next frame is written / read, as byte offsets into the data (mod capacity).
    pub(super) write_at: u64,
    pub(super) read_at: u64,
    pub(super) used_bytes: u64,
    pub(super) items: u64,
    /// Non-zero while a holder changes the fields above.
    dirty: u64,
}

impl Books {
    /// Whether the books describe frames that can be inside the data area.
    fn add_up(&self, capacity: u64) -> bool {
        self.write_at < capacity
            && self.read_at < capacity
            && self.used_bytes <= capacity
            && self.items * LENGTH_BYTES as u64 <= self.used_bytes
            && (self.read_at + self.used_bytes) % capacity == self.write_at
    }
}

/// A sequence bumped by every put (for takers) or take (for putters), and
/// how many of the other side sleep on it.
#[repr(C, align(64))]
pub(super) struct WaitWords {
    pub(super) sequence: AtomicU32,
    pub(super) sleepers: AtomicU32,
}

/// Holds the ring's mutex; unlocks when dropped, also when a body panics.
struct RingLock<'ring> {
    header: &'ring RingHeader,
}

impl Drop for RingLock<'_> {
    fn drop(&mut self) {
        // SAFETY: this guard holds the lock.
        unsafe { unlock_shared_mutex(self.header.mutex.get()) };
    }
}

impl Ring {
    /// A new, empty ring with room for `capacity` bytes of frames.
    pub(crate) fn create(capacity: usize) -> io::Result<Ring> {
        let memory = SharedMemory::create(
            MemoryKind::Ring,
            std::mem::size_of::<RingHeader>() + capacity,
        )?;
        let header = memory.address().cast::<RingHeader>();
        // SAFETY: fresh zeroed memory, page-aligned and large enough for the
        // header; nobody else has it yet.
        unsafe {
            init_shared_mutex(UnsafeCell::raw_get(&raw const (*header).mutex));
            (&raw mut (*header).capacity).write(capacity as u64);
            (&raw mut (*header).magic).write(MAGIC);
        }
        Ok(Ring {
            memory,
            thinning: Thinning::unrecorded(),
        })
    }

    /// Maps a ring that process `owner_pid` created (see [`Ring::fd_number`]),
    /// after checking that what is there is one.
    pub(crate) fn open(owner_pid: u32, fd_number: i32) -> io::Result<Ring> {
        let memory = SharedMemory::open(MemoryKind::Ring, owner_pid, fd_number)?;
        let header_bytes = std::mem::size_of::<RingHeader>();
        if memory.len() < header_bytes {
            return Err(not_a_ring("too small"));
        }
        let header = memory.address().cast::<RingHeader>();
        // SAFETY: the mapping holds a header's bytes; magic and capacity are
        // written once, before any other process can reach the ring.
        let (magic, capacity) = unsafe { ((*header).magic, (*header).capacity) };
        if magic != MAGIC {
            return Err(not_a_ring("its header is not a ring's"));
        }
        if capacity as usize + header_bytes != memory.len() || capacity == 0 {
            return Err(not_a_ring("its size does not match its header"));
        }
        Ok(Ring {
            memory,
            thinning: Thinning::unrecorded(),
        })
    }

    /// The descriptor number another process opens through `/proc/<pid>/fd`.
    pub(crate) fn fd_number(&self) -> i32 {
        self.memory.fd_number()
    }

    pub(super) fn header(&self) -> &RingHeader {
        // SAFETY: the mapping starts with a header (checked in `open`) and
        // lives as long as `self`; its changing fields are atomics or
        // `UnsafeCell`s, so a shared reference to it is sound while other
        // processes write them.
        unsafe { &*self.memory.address().cast::<RingHeader>() }
    }

    /// Bytes of frames (with their lengths) the ring can hold.
    pub(super) fn capacity(&self) -> usize {
        self.header().capacity as usize
    }

    /// How many frames wait in the ring.
    pub(crate) fn len(&self) -> usize {
        self.with_lock(|books| books.items as usize)
    }

    /// Runs `body` with the ring's lock held and its books in hand; panics
    /// with a clear message when the ring is broken.
    pub(super) fn with_lock<R>(&self, body: impl FnOnce(&mut Books) -> R) -> R {
        let header = self.header();
        // SAFETY: the mutex was initialised at creation.
        let locked = unsafe { lock_shared_mutex(header.mutex.get()) };
        let _unlock = RingLock { header };
        // SAFETY: the lock is held: no other thread or process reaches the
        // books until `_unlock` drops, after the last use of this reference.
        let books = unsafe { &mut *header.books.get() };
        // Left dirty: its last holder died, or its body panicked (a frame
        // that did not fit the books), in the middle of a change.
        let damaged =
            books.dirty != 0 || (locked == Locked::FromTheDead && !books.add_up(header.capacity));
        if damaged {
            header.broken.store(1, Ordering::SeqCst);
        }
        if header.broken.load(Ordering::SeqCst) != 0 {
            panic!(
                "this queue is damaged: a process was killed while it changed the queue \
                 (terminate() or kill during a put or get), so its messages are lost; \
                 make a new queue"
            );
        }
        books.dirty = 1;
        let result = body(books);
        books.dirty = 0;
        result
    }
}

fn not_a_ring(why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the shared memory is not a queue: {why}"),
    )
}
