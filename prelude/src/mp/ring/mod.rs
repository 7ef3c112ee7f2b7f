//! [`Ring`]: a queue of byte frames in shared memory that any number of
//! processes and threads can put to and take from, under one robust
//! process-shared mutex. Every wait is in slices (see `interrupt`).
//!
//! This file frames the bytes (each frame its length, then its bytes,
//! wrapping around the end of the data area); `header` holds the ring's
//! header, its books and its lock, and says how a ring survives a process
//! killed while it holds the lock; `wait` how a blocked side spins, then
//! sleeps.

mod header;
mod wait;

use std::time::Instant;

use crate::mp::shm::SharedMemory;
use crate::observer::Thinning;
use header::RingHeader;
use wait::{PUTTERS, TAKERS};

/// Bytes each frame spends on its length.
pub(crate) const LENGTH_BYTES: usize = 4;

/// A queue of byte frames in shared memory, safe for many processes and threads.
pub(crate) struct Ring {
    memory: SharedMemory,
    /// This process's `:timeline` countdown for the queue over this ring
    /// (made unrecorded; `mp::Queue` arms it).
    pub(crate) thinning: Thinning,
}

impl Ring {
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

    /// The data area, after the header.
    fn data(&self) -> *mut u8 {
        // SAFETY: the data follows the header inside the mapping.
        unsafe { self.memory.address().add(std::mem::size_of::<RingHeader>()) }
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

#[cfg(test)]
mod tests {
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use super::*;
    use crate::mp::shm::{lock_shared_mutex, MemoryKind};

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
