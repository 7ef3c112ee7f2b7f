//! Shared memory for the process-crossing types: a memfd mapped
//! `MAP_SHARED` (so forks share it, and another process can map it through
//! `/proc/<pid>/fd`), a process-shared robust mutex, futex waits, and [`Ring`]:
//! a queue of byte frames in shared memory that any number of processes can
//! put to and take from. Every wait is in slices (see `interrupt`).

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::interrupt::wait_for;

/// A shared mapping of a memfd; unmapped when dropped.
pub(crate) struct SharedMemory {
    address: *mut u8,
    length: usize,
    fd: OwnedFd,
}

// SAFETY: the mapping is plain memory; every type built on it synchronises access itself.
unsafe impl Send for SharedMemory {}
// SAFETY: as above.
unsafe impl Sync for SharedMemory {}

impl SharedMemory {
    /// A new zeroed mapping of `length` bytes.
    pub(crate) fn create(length: usize) -> io::Result<SharedMemory> {
        // SAFETY: memfd_create with a valid C string.
        let fd = unsafe { libc::memfd_create(c"multitask".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor, owned from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        File::from(fd.try_clone()?).set_len(length as u64)?;
        SharedMemory::map(fd, length)
    }

    /// Maps the memory another process created, reached through its descriptor.
    pub(crate) fn open(owner_pid: u32, fd_number: i32) -> io::Result<SharedMemory> {
        let file = File::options()
            .read(true)
            .write(true)
            .open(format!("/proc/{owner_pid}/fd/{fd_number}"))?;
        let length = file.metadata()?.len() as usize;
        SharedMemory::map(OwnedFd::from(file), length)
    }

    fn map(fd: OwnedFd, length: usize) -> io::Result<SharedMemory> {
        // SAFETY: maps `length` bytes of a file we hold open.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                length,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if address == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(SharedMemory {
            address: address.cast(),
            length,
            fd,
        })
    }

    /// The start of the mapping.
    pub(crate) fn address(&self) -> *mut u8 {
        self.address
    }

    /// The descriptor number, for another process to open through `/proc`.
    pub(crate) fn fd_number(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

impl Drop for SharedMemory {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `map` mapped.
        unsafe { libc::munmap(self.address.cast(), self.length) };
    }
}

/// Initialises a process-shared, robust pthread mutex in place.
///
/// # Safety
/// `mutex` must point to writable, suitably aligned memory not in use.
pub(crate) unsafe fn init_shared_mutex(mutex: *mut libc::pthread_mutex_t) {
    // SAFETY: per the function's contract; attr lives on the stack.
    unsafe {
        let mut attributes: libc::pthread_mutexattr_t = std::mem::zeroed();
        libc::pthread_mutexattr_init(&mut attributes);
        libc::pthread_mutexattr_setpshared(&mut attributes, libc::PTHREAD_PROCESS_SHARED);
        libc::pthread_mutexattr_setrobust(&mut attributes, libc::PTHREAD_MUTEX_ROBUST);
        libc::pthread_mutex_init(mutex, &attributes);
        libc::pthread_mutexattr_destroy(&mut attributes);
    }
}

/// Locks a mutex made by [`init_shared_mutex`]; a lock whose holder died is recovered.
///
/// # Safety
/// `mutex` must have been initialised by [`init_shared_mutex`].
pub(crate) unsafe fn lock_shared_mutex(mutex: *mut libc::pthread_mutex_t) {
    // SAFETY: per the function's contract.
    let result = unsafe { libc::pthread_mutex_lock(mutex) };
    if result == libc::EOWNERDEAD {
        // A process died holding it (terminated mid-put): the data is still usable.
        // SAFETY: we own the lock now.
        unsafe { libc::pthread_mutex_consistent(mutex) };
    } else if result != 0 {
        panic!("a shared lock is broken (a process died while holding it): error {result}");
    }
}

/// Unlocks a mutex locked with [`lock_shared_mutex`].
///
/// # Safety
/// The caller must hold the lock.
pub(crate) unsafe fn unlock_shared_mutex(mutex: *mut libc::pthread_mutex_t) {
    // SAFETY: per the function's contract.
    unsafe { libc::pthread_mutex_unlock(mutex) };
}

/// Sleeps while `word` equals `expected`, at most `timeout` (a shared futex).
fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let timespec = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: FUTEX_WAIT on a live u32 with a valid timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &timespec,
            0,
            0,
        )
    };
}

/// Wakes every process sleeping on `word`.
fn futex_wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on a live u32.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            0,
            0,
            0,
        )
    };
}

/// The ring's bookkeeping, at the start of its shared memory.
#[repr(C)]
struct RingHeader {
    mutex: libc::pthread_mutex_t,
    /// Where the next frame is written / read, as byte offsets into the data (mod capacity).
    write_at: u64,
    read_at: u64,
    used_bytes: u64,
    items: u64,
    capacity: u64,
    /// Takers spin on this line while putters work under the lock: keep
    /// them on cache lines of their own.
    takers: WaitWords,
    putters: WaitWords,
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

/// Bytes each frame spends on its length.
pub(crate) const LENGTH_BYTES: usize = 4;

/// A queue of byte frames in shared memory, safe for many processes and threads.
pub(crate) struct Ring {
    memory: SharedMemory,
    /// This process's `:timeline` countdown for the queue over this ring.
    pub(crate) thinning: crate::timeline::Thinning,
}

impl Ring {
    /// A new, empty ring with room for `capacity` bytes of frames.
    pub(crate) fn create(capacity: usize) -> io::Result<Ring> {
        let memory = SharedMemory::create(std::mem::size_of::<RingHeader>() + capacity)?;
        let header = memory.address().cast::<RingHeader>();
        // SAFETY: fresh zeroed memory, large enough for the header.
        unsafe {
            init_shared_mutex(&raw mut (*header).mutex);
            (*header).capacity = capacity as u64;
        }
        Ok(Ring {
            memory,
            thinning: crate::timeline::Thinning::new(),
        })
    }

    /// Maps a ring that process `owner_pid` created (see [`Ring::fd_number`]).
    pub(crate) fn open(owner_pid: u32, fd_number: i32) -> io::Result<Ring> {
        Ok(Ring {
            memory: SharedMemory::open(owner_pid, fd_number)?,
            thinning: crate::timeline::Thinning::new(),
        })
    }

    /// The descriptor number another process opens through `/proc/<pid>/fd`.
    pub(crate) fn fd_number(&self) -> i32 {
        self.memory.fd_number()
    }

    fn header(&self) -> *mut RingHeader {
        self.memory.address().cast()
    }

    fn data(&self) -> *mut u8 {
        // SAFETY: the data follows the header inside the mapping.
        unsafe { self.memory.address().add(std::mem::size_of::<RingHeader>()) }
    }

    /// Bytes of frames (with their lengths) the ring can hold.
    fn capacity(&self) -> usize {
        // SAFETY: capacity is written once at creation.
        unsafe { (*self.header()).capacity as usize }
    }

    /// How many frames wait in the ring.
    pub(crate) fn len(&self) -> usize {
        self.with_lock(|header| header.items as usize)
    }

    /// Runs `body` with the ring's lock held.
    fn with_lock<R>(&self, body: impl FnOnce(&mut RingHeader) -> R) -> R {
        let header = self.header();
        // SAFETY: the header's mutex was initialised at creation; the lock
        // makes our access to the other fields exclusive.
        unsafe {
            lock_shared_mutex(&raw mut (*header).mutex);
            let result = body(&mut *header);
            unlock_shared_mutex(&raw mut (*header).mutex);
            result
        }
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
        assert!(
            encoded.len() <= self.capacity(),
            "a message of {} bytes is larger than a queue can hold ({} bytes)",
            encoded.len() - LENGTH_BYTES,
            self.capacity() - LENGTH_BYTES
        );
        let needed = encoded.len() as u64;
        self.blocking(deadline, PUTTERS, TAKERS, |header| {
            let full = (max_items > 0 && header.items + count > max_items as u64)
                || header.capacity - header.used_bytes < needed;
            if full {
                return None;
            }
            let start = header.write_at;
            self.copy_in(header, start, encoded);
            header.write_at = (start + needed) % header.capacity;
            header.used_bytes += needed;
            header.items += count;
            Some(())
        })
        .is_some()
    }

    /// Takes the oldest frame, waiting until `deadline` while the ring is empty.
    pub(crate) fn take(&self, deadline: Option<Instant>) -> Option<Vec<u8>> {
        self.blocking(deadline, TAKERS, PUTTERS, |header| {
            if header.items == 0 {
                return None;
            }
            let start = header.read_at;
            let mut length = [0u8; LENGTH_BYTES];
            self.copy_out(header, start, &mut length);
            let mut frame = vec![0u8; u32::from_le_bytes(length) as usize];
            self.copy_out(header, start + LENGTH_BYTES as u64, &mut frame);
            let taken = (LENGTH_BYTES + frame.len()) as u64;
            header.read_at = (start + taken) % header.capacity;
            header.used_bytes -= taken;
            header.items -= 1;
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
        mut operation: impl FnMut(&mut RingHeader) -> Option<T>,
    ) -> Option<T> {
        // SAFETY: the header lives as long as the mapping; the fields reached
        // outside the lock are atomics.
        let header = unsafe { &*self.header() };
        let mut attempt = |register: bool| {
            let outcome = self.with_lock(|locked| match operation(locked) {
                Some(value) => {
                    (wakes.sequence)(locked).fetch_add(1, Ordering::SeqCst);
                    Ok((value, (wakes.waiters)(locked).load(Ordering::SeqCst) > 0))
                }
                None => {
                    if register {
                        (waits.waiters)(locked).fetch_add(1, Ordering::SeqCst);
                    }
                    Err((waits.sequence)(locked).load(Ordering::SeqCst))
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
    fn copy_in(&self, header: &RingHeader, at: u64, bytes: &[u8]) {
        let capacity = header.capacity as usize;
        let start = (at % header.capacity) as usize;
        let first = bytes.len().min(capacity - start);
        // SAFETY: both pieces lie inside the data area.
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
    fn copy_out(&self, header: &RingHeader, at: u64, bytes: &mut [u8]) {
        let capacity = header.capacity as usize;
        let start = (at % header.capacity) as usize;
        let first = bytes.len().min(capacity - start);
        // SAFETY: both pieces lie inside the data area.
        unsafe {
            std::ptr::copy_nonoverlapping(self.data().add(start), bytes.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(
                self.data(),
                bytes.as_mut_ptr().add(first),
                bytes.len() - first,
            );
        }
    }
}
