//! The bottom layer's thread identity (which thread is calling, asked of
//! the OS, no registry, no state, so that every layer above may ask it)
//! and futex waits, on which every lock and ring of the prelude sleeps.
//! Shared memory and robust mutexes are `mp::shm`'s; fork and pidfds are
//! `mp::fork`'s and `mp::process`'s.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

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

/// Who sleeps on a futex word, which decides how the kernel keys the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FutexScope {
    /// Threads of this process only: keyed by address, the cheaper wait.
    Process,
    /// Any process mapping the word (shared memory): keyed by the mapping.
    Shared,
}

/// Sleeps while `word` equals `expected`, at most `timeout` (`None`: until
/// woken). It may also return early, spuriously or on a signal: callers
/// look at the word again.
pub(crate) fn futex_wait(
    word: &AtomicU32,
    expected: u32,
    timeout: Option<Duration>,
    scope: FutexScope,
) {
    let timespec = timeout.map(|timeout| libc::timespec {
        tv_sec: timeout.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    });
    let timespec_pointer = timespec.as_ref().map_or(std::ptr::null(), |timespec| {
        timespec as *const libc::timespec
    });
    futex(word, libc::FUTEX_WAIT, scope, expected, timespec_pointer);
}

/// Wakes up to `count` of the threads or processes sleeping on `word`.
pub(crate) fn futex_wake(word: &AtomicU32, count: i32, scope: FutexScope) {
    futex(
        word,
        libc::FUTEX_WAKE,
        scope,
        count as u32,
        std::ptr::null(),
    );
}

/// One futex call on `word`: `value` is a wait's expected word or a wake's
/// count, `timeout` a wait's relative timeout (null: none; a wake ignores it).
fn futex(
    word: &AtomicU32,
    operation: libc::c_int,
    scope: FutexScope,
    value: u32,
    timeout: *const libc::timespec,
) {
    let operation = match scope {
        FutexScope::Process => operation | libc::FUTEX_PRIVATE_FLAG,
        FutexScope::Shared => operation,
    };
    // SAFETY: FUTEX_WAIT or FUTEX_WAKE on a live u32, with a valid relative
    // timeout or null.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            operation,
            value,
            timeout,
            0,
            0,
        )
    };
}
