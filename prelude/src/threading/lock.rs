//! [`Lock`], Python's `threading.Lock`: `acquire`/`release` as in the tutorial,
//! a timeout form, and a scoped form (`with lock:`) through [`Lock::guard`].
//! A `Lock` may also hold the value it protects (`Lock::with_value(0)`), the
//! Rust way to share a counter between threads.
//!
//! Python lets any thread release a plain lock, and so does `Lock<()>`. A lock
//! that guards a value is reached through guards alone: were `release()`
//! callable while a guard lives, a second guard could hand out a second
//! `&mut` to the value, a data race safe Rust must never allow. So
//! `acquire`/`release` exist only on `Lock<()>`:
//!
//! ```compile_fail,E0599
//! let counter = multitask::threading::Lock::with_value(0);
//! let held = counter.guard();
//! counter.release(); // no `release` on a lock that guards a value
//! ```

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::interrupt::{deadline_after, wait_for};
use crate::sync::RawLock;
use crate::timeline::{self, Kind, Thinning};

/// A mutual-exclusion lock, like Python's `threading.Lock()`; `Clone` shares
/// the same lock. Any thread may release it, as in Python.
pub struct Lock<T = ()> {
    inner: Arc<LockInner<T>>,
}

struct LockInner<T> {
    raw: RawLock,
    /// Next to the lock word, on the cache line a use touches anyway.
    thinning: Thinning,
    /// Counts releases by hand (`Lock<()>::release`), so a guard whose hold
    /// was released that way does not unlock a later holder's.
    released_by_hand: AtomicU64,
    /// Whether the holder's acquire was recorded on a timeline, so that its
    /// release is too (only acquires are counted: a pair costs one count).
    noted: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through a guard, which holds the lock.
unsafe impl<T: Send> Send for LockInner<T> {}
// SAFETY: as above; the raw lock itself is thread-safe.
unsafe impl<T: Send> Sync for LockInner<T> {}

impl Lock<()> {
    /// A new, unlocked lock (Python's `threading.Lock()`).
    pub fn new() -> Lock<()> {
        Lock::with_value(())
    }

    /// Waits until the lock is free and takes it (Python's `lock.acquire()`).
    #[inline]
    pub fn acquire(&self) {
        self.acquire_until(None);
    }

    /// Takes the lock if it frees up within `seconds`; returns whether it did
    /// (Python's `lock.acquire(timeout=seconds)`).
    pub fn acquire_timeout(&self, seconds: f64) -> bool {
        self.acquire_until(deadline_after(seconds))
    }

    /// Frees the lock (Python's `lock.release()`), whoever took it; releasing
    /// a free lock is an error, as in Python.
    pub fn release(&self) {
        if !self.inner.raw.is_locked() {
            panic!("release unlocked lock");
        }
        self.note_release();
        // Counted before the unlock: whoever takes the lock next sees it.
        self.inner.released_by_hand.fetch_add(1, Ordering::Release);
        // SAFETY: the lock is held (Python lets any thread release it, and
        // the raw lock has no owner). A `Lock<()>` guards no data, so no
        // reference outlives this unlock.
        unsafe { self.inner.raw.unlock() };
    }
}

impl Default for Lock<()> {
    fn default() -> Lock<()> {
        Lock::new()
    }
}

impl<T> Clone for Lock<T> {
    fn clone(&self) -> Lock<T> {
        Lock {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Lock<T> {
    /// A new, unlocked lock guarding `value`; reach it with `*lock.guard()`.
    pub fn with_value(value: T) -> Lock<T> {
        Lock {
            inner: Arc::new(LockInner {
                raw: RawLock::new(),
                thinning: Thinning::new(),
                released_by_hand: AtomicU64::new(0),
                noted: AtomicBool::new(false),
                value: UnsafeCell::new(value),
            }),
        }
    }

    /// Whether someone holds the lock now (Python's `lock.locked()`).
    pub fn locked(&self) -> bool {
        self.inner.raw.is_locked()
    }

    /// Takes the lock until the returned guard is dropped — Python's `with lock:`,
    /// written `{ let _held = lock.guard(); … }`; the guard also gives the value.
    #[inline]
    pub fn guard(&self) -> LockGuard<'_, T> {
        self.acquire_until(None);
        self.held()
    }

    /// Like [`Lock::guard`], but gives up after `seconds`: `None` if the lock
    /// stayed taken (Python's `if lock.acquire(timeout=…):` with a value).
    pub fn guard_timeout(&self, seconds: f64) -> Option<LockGuard<'_, T>> {
        self.acquire_until(deadline_after(seconds))
            .then(|| self.held())
    }

    /// The guard of the hold just taken.
    #[inline]
    fn held(&self) -> LockGuard<'_, T> {
        LockGuard {
            lock: self,
            hand_releases: self.inner.released_by_hand.load(Ordering::Acquire),
        }
    }

    #[inline]
    fn acquire_until(&self, deadline: Option<Instant>) -> bool {
        if self.inner.raw.try_lock() {
            // Nothing waited; noted once held, when the lock's cache line is ours.
            if self.inner.thinning.may_record()
                && timeline::frequent(Kind::LockAcquire, self.object(), &self.inner.thinning)
            {
                self.inner.noted.store(true, Ordering::Relaxed);
            }
            return true;
        }
        if self.inner.thinning.may_record() {
            return self.wait_to_acquire(deadline);
        }
        self.take(deadline)
    }

    /// The lock is taken: wait for it (drawn as a wait when recorded).
    #[cold]
    #[inline(never)]
    fn wait_to_acquire(&self, deadline: Option<Instant>) -> bool {
        let mut noted = false;
        let taken = timeline::blocking(
            Kind::LockAcquire,
            Kind::LockWait,
            (self.object(), &self.inner.thinning),
            || self.take(deadline),
            |&taken| {
                noted = taken;
                taken
            },
        );
        if noted {
            self.inner.noted.store(true, Ordering::Relaxed);
        }
        taken
    }

    /// Records the release of an acquire that was recorded (the lock held).
    #[inline]
    fn note_release(&self) {
        // A load, then a plain store: the holder alone writes it, and an
        // atomic swap here would cost every release.
        if self.inner.thinning.may_record() && self.inner.noted.load(Ordering::Relaxed) {
            self.inner.noted.store(false, Ordering::Relaxed);
            timeline::noted_again(Kind::LockRelease, self.object());
        }
    }

    /// Identifies the lock on a timeline.
    fn object(&self) -> u64 {
        Arc::as_ptr(&self.inner) as u64
    }

    fn take(&self, deadline: Option<Instant>) -> bool {
        wait_for(deadline, |slice| {
            self.inner.raw.try_lock_for(slice).then_some(())
        })
        .is_some()
    }
}

impl<T> fmt::Debug for Lock<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = if self.locked() { "locked" } else { "unlocked" };
        write!(formatter, "<{status} Lock>")
    }
}

/// Holds a [`Lock`] until dropped, and gives its value (`*guard += 1`).
pub struct LockGuard<'lock, T> {
    lock: &'lock Lock<T>,
    /// The lock's count of releases by hand when this hold began.
    hand_releases: u64,
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock. Only a `Lock<()>` can be released
        // by hand while a guard lives, and a `()` is no memory to race on.
        unsafe { &*self.lock.inner.value.get() }
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`; `&mut self` makes this reference unique.
        unsafe { &mut *self.lock.inner.value.get() }
    }
}

impl<T> Drop for LockGuard<'_, T> {
    fn drop(&mut self) {
        // A `Lock<()>` may have been released by hand meanwhile, and taken
        // since by someone else: that hold is not this guard's to end.
        let released_by_hand =
            self.lock.inner.released_by_hand.load(Ordering::Acquire) != self.hand_releases;
        if !released_by_hand && self.lock.locked() {
            self.lock.note_release();
            // SAFETY: the lock is held, by this guard's hold.
            unsafe { self.lock.inner.raw.unlock() };
        }
    }
}

/// Checks Miri can run (`scripts/miri`): threads, no processes.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarded_increments_from_threads_are_all_kept() {
        let counter = Lock::with_value(0u32);
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        *counter.guard() += 1;
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("a worker ends");
        }
        assert_eq!(*counter.guard(), 150);
        assert!(counter.guard_timeout(0.0).is_some());
    }

    #[test]
    fn a_plain_lock_is_released_from_another_thread() {
        let lock = Lock::new();
        lock.acquire();
        let held = lock.guard_timeout(0.0);
        assert!(held.is_none());
        let other = lock.clone();
        std::thread::spawn(move || other.release())
            .join()
            .expect("the releaser ends");
        let guard = lock.guard();
        lock.release();
        lock.acquire();
        drop(guard);
        assert!(lock.locked());
        lock.release();
    }
}
