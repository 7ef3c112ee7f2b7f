//! Shared memory for the process-crossing types: a memfd mapped
//! `MAP_SHARED` (so forks share it, and another process can map it through
//! `/proc/<pid>/fd`) and a process-shared robust mutex (futex waits are
//! `sys`'s). The
//! memory is reached through raw pointers, atomics and `UnsafeCell` only:
//! other processes write it while we look, so no `&mut` to it may exist
//! outside a lock that excludes them.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
// Only the memfd path makes a descriptor from a number (not the Miri one).
#[cfg(not(miri))]
use std::os::fd::FromRawFd;

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
    /// A new zeroed mapping of `length` bytes, its memfd named after `kind`
    /// (`multitask-ring`, …) so that [`SharedMemory::open`] can tell it apart.
    #[cfg(not(miri))]
    pub(crate) fn create(kind: MemoryKind, length: usize) -> io::Result<SharedMemory> {
        // SAFETY: memfd_create with a valid C string.
        let fd = unsafe { libc::memfd_create(kind.memfd_name().as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor, owned from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        File::from(fd.try_clone()?).set_len(length as u64)?;
        SharedMemory::map(fd, length)
    }

    /// Under Miri (`scripts/miri`), which has no memfd: private anonymous
    /// memory, the same thing for one process, and a stand-in descriptor.
    #[cfg(miri)]
    pub(crate) fn create(_kind: MemoryKind, length: usize) -> io::Result<SharedMemory> {
        // SAFETY: an anonymous mapping of `length` bytes, no file involved.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                length,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if address == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(SharedMemory {
            address: address.cast(),
            length,
            fd: OwnedFd::from(File::open("/dev/null")?),
        })
    }

    /// Maps the memory of `kind` another process created, reached through
    /// its descriptor; refuses whatever else that descriptor is now (the
    /// process may have closed it, or be another process with the same pid).
    pub(crate) fn open(
        kind: MemoryKind,
        owner_pid: u32,
        fd_number: i32,
    ) -> io::Result<SharedMemory> {
        let path = format!("/proc/{owner_pid}/fd/{fd_number}");
        let expected = format!("/memfd:{} (deleted)", kind.memfd_name().to_string_lossy());
        let target = std::fs::read_link(&path)?;
        if target.as_os_str() != expected.as_str() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{path} is {}, not {expected}", target.display()),
            ));
        }
        let file = File::options().read(true).write(true).open(&path)?;
        let length = file.metadata()?.len() as usize;
        SharedMemory::map(OwnedFd::from(file), length)
    }

    /// The mapping's length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.length
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

/// What a piece of shared memory holds; names its memfd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemoryKind {
    /// A [`Ring`](super::ring::Ring) of frames (queues, pipes, pools).
    Ring,
    /// One shared [`Value`](super::Value).
    Value,
    /// A pool's per-worker counters.
    PoolWorkers,
    /// The `:timeline` recording.
    Timeline,
    /// A [`Progress`](crate::display::Progress) bar's count.
    Progress,
}

impl MemoryKind {
    fn memfd_name(self) -> &'static std::ffi::CStr {
        match self {
            MemoryKind::Ring => c"multitask-ring",
            MemoryKind::Value => c"multitask-value",
            MemoryKind::PoolWorkers => c"multitask-pool-workers",
            MemoryKind::Timeline => c"multitask-timeline",
            MemoryKind::Progress => c"multitask-progress",
        }
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

/// How a lock on a shared mutex was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Locked {
    /// From a holder that let go of it.
    Cleanly,
    /// From a process that died holding it: what it guards may be half-changed.
    FromTheDead,
}

/// Locks a mutex made by [`init_shared_mutex`]; a lock whose holder died is
/// taken over, and the caller told so.
///
/// # Safety
/// `mutex` must have been initialised by [`init_shared_mutex`].
pub(crate) unsafe fn lock_shared_mutex(mutex: *mut libc::pthread_mutex_t) -> Locked {
    // SAFETY: per the function's contract.
    let result = unsafe { libc::pthread_mutex_lock(mutex) };
    if result == libc::EOWNERDEAD {
        // SAFETY: we own the lock now; the caller checks what it guards.
        unsafe { libc::pthread_mutex_consistent(mutex) };
        Locked::FromTheDead
    } else if result != 0 {
        panic!("a shared lock is broken (a process died while holding it): error {result}");
    } else {
        Locked::Cleanly
    }
}

/// Locks a mutex made by [`init_shared_mutex`] if nobody holds it now
/// (`None` if somebody does); a lock whose holder died is taken over.
///
/// # Safety
/// `mutex` must have been initialised by [`init_shared_mutex`].
pub(crate) unsafe fn try_lock_shared_mutex(mutex: *mut libc::pthread_mutex_t) -> Option<Locked> {
    // SAFETY: per the function's contract.
    match unsafe { libc::pthread_mutex_trylock(mutex) } {
        0 => Some(Locked::Cleanly),
        libc::EOWNERDEAD => {
            // SAFETY: we own the lock now; the caller checks what it guards.
            unsafe { libc::pthread_mutex_consistent(mutex) };
            Some(Locked::FromTheDead)
        }
        _ => None,
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
