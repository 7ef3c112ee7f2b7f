//! [`Ring`]: a queue of byte frames in shared memory that any number of
//! processes and threads can put to and take from, under one robust
//! process-shared mutex. Every wait is in slices (see `interrupt`).
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
use std::sync::OnceLock;
use std::time::Instant;

use super::shm::{
    futex_wait, futex_wake, init_shared_mutex, lock_shared_mutex, unlock_shared_mutex, Locked,
    MemoryKind, SharedMemory,
};
use crate::interrupt::wait_for;

/// The first bytes of every ring: "multitask ring", version 1.
const MAGIC: u64 = u64::from_le_bytes(*b"MTRING\0\x01");

/// Bytes each frame spends on its length.
pub(crate) const LENGTH_BYTES: usize = 4;

/// The ring's header, at the start of its shared memory.
#[repr(C)]
struct RingHeader {
    /// [`MAGIC`]; written once at creation, like `capacity`.
    magic: u64,
    /// Bytes of frames the data area after the header holds.
    capacity: u64,
    /// Set (never cleared) when the books were found damaged.
    broken: AtomicU32,
    mutex: UnsafeCell<libc::pthread_mutex_t>,
    /// Reached only under `mutex`.
    books: UnsafeCell<Books>,
    /// Takers spin on this line while putters work under the lock: keep
    /// them on cache lines of their own.
    takers: WaitWords,
    putters: WaitWords,
}

/// Where the frames are; changed only under the ring's mutex.
#[repr(C)]
struct Books {
    /// Where the next frame is written / read, as byte offsets into the data (mod capacity).
    write_at: u64,
    read_at: u64,
    used_bytes: u64,
    items: u64,
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
struct WaitWords {
    sequence: AtomicU32,
    sleepers: AtomicU32,
}

/// Which sequence word a side sleeps on, and which counter says it sleeps.
#[derive(Clone, Copy)]
struct Side {
    sequence: fn(&RingHeader) -> &AtomicU32,
    waiters: fn(&RingHeader) -> &AtomicU32,
}

/// Takers sleep until a put bumps their sequence.
const TAKERS: Side = Side {
    sequence: |header| &header.takers.sequence,
    waiters: |header| &header.takers.sleepers,
};
/// Putters sleep until a take bumps their sequence.
const PUTTERS: Side = Side {
    sequence: |header| &header.putters.sequence,
    waiters: |header| &header.putters.sleepers,
};

/// How many times a blocked side polls before it sleeps: about 10 µs (a
/// `pause` takes 40–140 cycles). Measured: 100 spins made more futex sleeps
/// and wakes (more CPU in all), 2000 took CPU from the side being waited for.
const SPINS: usize = 500;

/// How often a spinning side yields its CPU.
const YIELD_EVERY: usize = 50;

/// [`SPINS`] on a machine with several CPUs; 0 on one (spinning would only
/// delay the other side). Cached per copy of the crate: asking the OS reads files.
fn spin_budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| if super::cpu_count() > 1 { SPINS } else { 0 })
}

/// A queue of byte frames in shared memory, safe for many processes and threads.
pub(crate) struct Ring {
    memory: SharedMemory,
    /// This process's `:timeline` countdown for the queue over this ring.
    pub(crate) thinning: crate::timeline::Thinning,
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
            thinning: crate::timeline::Thinning::new(),
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
            thinning: crate::timeline::Thinning::new(),
        })
    }

    /// The descriptor number another process opens through `/proc/<pid>/fd`.
    pub(crate) fn fd_number(&self) -> i32 {
        self.memory.fd_number()
    }

    fn header(&self) -> &RingHeader {
        // SAFETY: the mapping starts with a header (checked in `open`) and
        // lives as long as `self`; its changing fields are atomics or
        // `UnsafeCell`s, so a shared reference to it is sound while other
        // processes write them.
        unsafe { &*self.memory.address().cast::<RingHeader>() }
    }

    fn data(&self) -> *mut u8 {
        // SAFETY: the data follows the header inside the mapping.
        unsafe { self.memory.address().add(std::mem::size_of::<RingHeader>()) }
    }

    /// Bytes of frames (with their lengths) the ring can hold.
    fn capacity(&self) -> usize {
        self.header().capacity as usize
    }

    /// How many frames wait in the ring.
    pub(crate) fn len(&self) -> usize {
        self.with_lock(|books| books.items as usize)
    }

    /// Runs `body` with the ring's lock held and its books in hand; panics
    /// with a clear message when the ring is broken.
    fn with_lock<R>(&self, body: impl FnOnce(&mut Books) -> R) -> R {
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

    /// Puts `frame`, waiting (until `deadline`) while the ring holds
    /// `max_items` frames (0: no limit) or lacks room; `false` on timeout.
    pub(crate) fn put(&self, frame: &[u8], max_items: usize, deadline: Option<Instant>) -> bool {
        let mut encoded = Vec::with_capacity(LENGTH_BYTES + frame.len());
        encoded.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        encoded.extend_from_slice(frame);
        self.put_frames(&encoded, 1, max_items, deadline)
    }

    /// Puts `count` frames already in the ring's format (length, bytes) at
    /// once, waiting as [`Ring::put`] does.
    pub(crate) fn put_frames(
        &self,
        encoded: &[u8],
        count: u64,
        max_items: usize,
        deadline: Option<Instant>,
    ) -> bool {
        let capacity = self.capacity();
        assert!(
            encoded.len() <= capacity,
            "a message of {} bytes is larger than a queue can hold ({} bytes)",
            encoded.len() - LENGTH_BYTES,
            capacity - LENGTH_BYTES
        );
        let needed = encoded.len() as u64;
        let capacity = capacity as u64;
        self.blocking(deadline, PUTTERS, TAKERS, |books| {
            let full = (max_items > 0 && books.items + count > max_items as u64)
                || capacity - books.used_bytes < needed;
            if full {
                return None;
            }
            let start = books.write_at;
            self.copy_in(start, encoded);
            books.write_at = (start + needed) % capacity;
            books.used_bytes += needed;
            books.items += count;
            Some(())
        })
        .is_some()
    }

    /// Takes the oldest frame, waiting until `deadline` while the ring is empty.
    pub(crate) fn take(&self, deadline: Option<Instant>) -> Option<Vec<u8>> {
        let capacity = self.capacity() as u64;
        self.blocking(deadline, TAKERS, PUTTERS, |books| {
            if books.items == 0 {
                return None;
            }
            let start = books.read_at;
            let mut length = [0u8; LENGTH_BYTES];
            self.copy_out(start, &mut length);
            let length = u32::from_le_bytes(length) as u64;
            // Books that add up still cannot vouch for a frame's bytes.
            assert!(
                LENGTH_BYTES as u64 + length <= books.used_bytes,
                "this queue is damaged: a message is longer than what the queue holds"
            );
            let mut frame = vec![0u8; length as usize];
            self.copy_out(start + LENGTH_BYTES as u64, &mut frame);
            let taken = LENGTH_BYTES as u64 + length;
            books.read_at = (start + taken) % capacity;
            books.used_bytes -= taken;
            books.items -= 1;
            Some(frame)
        })
    }

    /// Runs `operation` under the lock until it succeeds or `deadline` passes.
    /// On success it bumps `wakes`' sequence and wakes its sleepers; while it
    /// cannot succeed, it first spins briefly (the other side usually runs on
    /// another CPU, and a futex round trip costs more than the wait), then
    /// sleeps on `waits`' sequence as a registered waiter.
    fn blocking<T>(
        &self,
        deadline: Option<Instant>,
        waits: Side,
        wakes: Side,
        mut operation: impl FnMut(&mut Books) -> Option<T>,
    ) -> Option<T> {
        let header = self.header();
        let mut attempt = |register: bool| {
            let outcome = self.with_lock(|books| match operation(books) {
                Some(value) => {
                    (wakes.sequence)(header).fetch_add(1, Ordering::SeqCst);
                    Ok((value, (wakes.waiters)(header).load(Ordering::SeqCst) > 0))
                }
                None => {
                    if register {
                        (waits.waiters)(header).fetch_add(1, Ordering::SeqCst);
                    }
                    Err((waits.sequence)(header).load(Ordering::SeqCst))
                }
            });
            outcome.map(|(value, sleepers)| {
                if sleepers {
                    futex_wake((wakes.sequence)(header));
                }
                value
            })
        };
        // A call that must not wait (a deadline already past) does not spin either.
        let spins = if deadline.is_some_and(|deadline| deadline <= Instant::now()) {
            0
        } else {
            spin_budget()
        };
        wait_for(deadline, |slice| {
            let mut sequence = match attempt(false) {
                Ok(value) => return Some(value),
                Err(sequence) => sequence,
            };
            for spin in 1..=spins {
                if (waits.sequence)(header).load(Ordering::SeqCst) != sequence {
                    match attempt(false) {
                        Ok(value) => return Some(value),
                        Err(now) => sequence = now,
                    }
                }
                if spin % YIELD_EVERY == 0 {
                    // When the CPUs are all busy, the other side may need this one.
                    std::thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
            }
            match attempt(true) {
                Ok(value) => Some(value),
                Err(sequence) => {
                    if !slice.is_zero() {
                        futex_wait((waits.sequence)(header), sequence, slice);
                    }
                    (waits.waiters)(header).fetch_sub(1, Ordering::SeqCst);
                    None
                }
            }
        })
    }

    /// Copies `bytes` into the data area at ring offset `at`, wrapping around.
    fn copy_in(&self, at: u64, bytes: &[u8]) {
        let (start, first) = self.pieces(at, bytes.len());
        // SAFETY: `pieces` keeps both pieces inside the data area; the
        // bytes written are outside every frame a taker may read (the lock is held).
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.data().add(start), first);
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr().add(first),
                self.data(),
                bytes.len() - first,
            );
        }
    }

    /// Copies from the data area at ring offset `at` into `bytes`, wrapping around.
    fn copy_out(&self, at: u64, bytes: &mut [u8]) {
        let (start, first) = self.pieces(at, bytes.len());
        // SAFETY: `pieces` keeps both pieces inside the data area; no putter
        // writes a frame that is still to be taken.
        unsafe {
            std::ptr::copy_nonoverlapping(self.data().add(start), bytes.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(
                self.data(),
                bytes.as_mut_ptr().add(first),
                bytes.len() - first,
            );
        }
    }

    /// Where `length` bytes at ring offset `at` start in the data area, and
    /// how many fit before the end (the rest wraps to the start). Panics
    /// rather than reach outside the data area.
    fn pieces(&self, at: u64, length: usize) -> (usize, usize) {
        let capacity = self.capacity();
        assert!(length <= capacity, "a frame larger than its queue");
        let start = (at % capacity as u64) as usize;
        (start, length.min(capacity - start))
    }
}

fn not_a_ring(why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the shared memory is not a queue: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use super::*;

    /// Runs `dying` in a forked child that ends with `_exit` inside it, and waits.
    fn in_a_child_that_dies(dying: impl FnOnce()) {
        // SAFETY: the child only locks a process-shared mutex and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            dying();
            // SAFETY: ends the child without running the parent's atexit work.
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        // SAFETY: waits for the child we just forked.
        unsafe { libc::waitpid(pid, &mut status, 0) };
    }

    #[test]
    fn a_ring_survives_a_holder_that_died_between_changes() {
        let ring = Ring::create(64).expect("a ring");
        assert!(ring.put(b"kept", 0, None));
        in_a_child_that_dies(|| {
            // SAFETY: initialised at creation; the child dies holding it.
            unsafe { lock_shared_mutex(ring.header().mutex.get()) };
            // SAFETY: ends the child while it holds the lock.
            unsafe { libc::_exit(0) };
        });
        assert_eq!(ring.take(None).as_deref(), Some(&b"kept"[..]));
        assert!(ring.put(b"after", 0, None));
        assert_eq!(ring.len(), 1);
    }

    #[test]
    fn a_ring_whose_holder_died_mid_change_says_it_is_damaged() {
        let ring = Ring::create(64).expect("a ring");
        assert!(ring.put(b"lost", 0, None));
        in_a_child_that_dies(|| {
            ring.with_lock(|books| {
                books.used_bytes += 3;
                // SAFETY: ends the child in the middle of a change.
                unsafe { libc::_exit(0) }
            })
        });
        for _ in 0..2 {
            let damaged = catch_unwind(AssertUnwindSafe(|| ring.take(None)))
                .expect_err("a damaged ring refuses");
            let message = damaged
                .downcast_ref::<&str>()
                .map(|text| text.to_string())
                .or_else(|| damaged.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            assert!(message.contains("damaged"), "{message}");
        }
    }

    #[test]
    fn only_a_ring_opens_as_one() {
        let ring = Ring::create(64).expect("a ring");
        let pid = std::process::id();
        assert!(Ring::open(pid, ring.fd_number()).is_ok());
        // A memfd of the ring's kind whose header is not a ring's.
        let blank = SharedMemory::create(MemoryKind::Ring, 4096).expect("memory");
        let error = Ring::open(pid, blank.fd_number()).err().expect("refused");
        assert!(error.to_string().contains("not a queue"), "{error}");
        // Memory of another kind.
        let value = SharedMemory::create(MemoryKind::Value, 4096).expect("memory");
        assert!(Ring::open(pid, value.fd_number()).is_err());
    }
}
