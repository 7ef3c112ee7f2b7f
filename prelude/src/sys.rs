//! The bottom layer's thread identity: which thread is calling, asked of
//! the OS (no registry, no state), so that every layer above may ask it.
//! Shared memory, futexes and robust mutexes are `mp::shm`'s; fork and
//! pidfds are `mp::fork`'s and `mp::process`'s.

/// Whether the caller runs on its process's main thread (where cells run).
pub(crate) fn is_main_thread() -> bool {
    // SAFETY: gettid and getpid have no preconditions.
    unsafe { libc::gettid() == libc::getpid() }
}

/// The calling thread's `pthread_self`, Python's `threading.get_ident()`.
pub(crate) fn thread_ident() -> u64 {
    // SAFETY: pthread_self has no preconditions.
    unsafe { libc::pthread_self() as u64 }
}
