//! The prelude's locks and condition variables, safe to share between
//! every cell's copy of the crate.
//!
//! Each cell's library links its own copy of the prelude and of everything
//! it depends on, and code of two copies meets on one object: a thread
//! started by an earlier cell runs that cell's copy, an idle OS thread runs
//! the copy that made it, the cell-end hook runs the first copy. A lock
//! that parks its waiters in a table kept in a `static` (`parking_lot`
//! does) then loses wake-ups: a waiter parked in one copy's table is never
//! found by an unlock through another copy's, and sleeps for good (issue
//! 14's finding; `tests/crate_copies.rs` reproduces it). Every lock here
//! sleeps on a futex on its own word instead, so whichever copy unlocks
//! wakes whoever waits. [`Mutex`] and [`Condvar`] are shaped like
//! `parking_lot`'s (no poisoning: the prelude's records stay usable after a
//! cell's panic, every critical section leaving them consistent at each
//! step) and as cheap when nobody waits: the standard library's condition
//! variable enters the kernel on every notify (a `queue::Queue` between two
//! threads ran 13× slower on std's pair). [`RawLock`] is the lock word
//! beneath both, one any thread may release, with timed waits, behind
//! `threading::Lock` too.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::sys::{futex_wait, futex_wake, FutexScope};

/// A mutual-exclusion lock around a value.
pub(crate) struct Mutex<T: ?Sized> {
    raw: RawLock,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a guard, which holds the lock:
// one thread at a time, so a value that may move between threads may be
// shared behind the lock (as `std::sync::Mutex`).
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Holds a [`Mutex`] until dropped, and gives its value.
pub(crate) struct MutexGuard<'lock, T: ?Sized> {
    mutex: &'lock Mutex<T>,
    /// Neither `Send` nor `Sync` by default: sharing a guard shares `&T`.
    _not_shared: PhantomData<*mut T>,
}

// SAFETY: a shared guard gives only `&T`, which `T: Sync` allows to share.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T> Mutex<T> {
    /// A new, unlocked mutex around `value`.
    pub(crate) const fn new(value: T) -> Mutex<T> {
        Mutex {
            raw: RawLock::new(),
            value: UnsafeCell::new(value),
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits until the lock is free, and takes it.
    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.raw.lock();
        MutexGuard {
            mutex: self,
            _not_shared: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock; `&mut self` makes this unique.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard holds the lock, and no reference it gave out
        // outlives it.
        unsafe { self.mutex.raw.unlock() };
    }
}

/// A condition variable for a [`Mutex`]: a wait releases the lock while it
/// sleeps and holds it again when it returns. As with any condition
/// variable, whoever notifies changed the condition under the same lock.
///
/// A notify enters the kernel only when a waiter may still sleep unwoken:
/// the condition variable counts its waiters and the wakes sent that no
/// returning waiter has taken yet, in one word, so a putter does not pay
/// a system call per item while the getter it woke is still waking up
/// (counting the waiters alone left a `queue::Queue` between two threads
/// ~3× slower).
#[derive(Debug, Default)]
pub(crate) struct Condvar {
    /// Bumped by every wake sent; waits sleep on it.
    sequence: AtomicU32,
    /// Waiters inside a wait (low half) and wakes sent that no returning
    /// waiter has taken (high half, never above the low one).
    books: AtomicU64,
}

/// One waiter in [`Condvar::books`]' low half, one wake in its high half.
const WAITER: u64 = 1;
const WAKE: u64 = 1 << 32;

impl Condvar {
    /// A condition variable nobody waits on.
    pub(crate) const fn new() -> Condvar {
        Condvar {
            sequence: AtomicU32::new(0),
            books: AtomicU64::new(0),
        }
    }

    /// Sleeps until notified (or woken spuriously: callers check their
    /// condition in a loop).
    pub(crate) fn wait<T: ?Sized>(&self, guard: &mut MutexGuard<'_, T>) {
        self.wait_at_most(guard, None);
    }

    /// Sleeps until notified, at most `timeout` (or woken spuriously).
    pub(crate) fn wait_for<T: ?Sized>(&self, guard: &mut MutexGuard<'_, T>, timeout: Duration) {
        self.wait_at_most(guard, Some(timeout));
    }

    fn wait_at_most<T: ?Sized>(&self, guard: &mut MutexGuard<'_, T>, timeout: Option<Duration>) {
        // Counted and read under the lock: a notifier, who changed the
        // condition under it after this, sees the waiter and bumps the
        // sequence past the value this wait sleeps on.
        self.books.fetch_add(WAITER, Ordering::Relaxed);
        let sequence = self.sequence.load(Ordering::Relaxed);
        // SAFETY: the guard holds the lock, and is borrowed mutably for the
        // whole wait, so nothing reaches the value until it is taken again.
        unsafe { guard.mutex.raw.unlock() };
        futex_wait(&self.sequence, sequence, timeout, FutexScope::Process);
        // Leaves, taking one unclaimed wake if there is one: woken or not
        // (a timeout, a signal), one waiter fewer may still sleep.
        let _ = self
            .books
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |books| {
                let wakes = if books >= WAKE { WAKE } else { 0 };
                Some(books - WAITER - wakes)
            });
        guard.mutex.raw.lock();
    }

    /// Wakes one waiter, if any is not woken yet.
    #[inline]
    pub(crate) fn notify_one(&self) {
        if self.books.load(Ordering::Relaxed) != 0 {
            self.wake(1);
        }
    }

    /// Wakes every waiter.
    #[inline]
    pub(crate) fn notify_all(&self) {
        if self.books.load(Ordering::Relaxed) != 0 {
            self.wake(i32::MAX);
        }
    }

    #[cold]
    fn wake(&self, count: i32) {
        let sent = self
            .books
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |books| {
                let (waiters, wakes) = (books & (WAKE - 1), books >> 32);
                // Every waiter has a wake on the way: nothing to send.
                let unwoken = waiters.checked_sub(wakes).filter(|&left| left > 0)?;
                let more = unwoken.min(u64::try_from(count).unwrap_or(u64::MAX));
                Some(books + more * WAKE)
            });
        if sent.is_ok() {
            self.sequence.fetch_add(1, Ordering::Relaxed);
            futex_wake(&self.sequence, count, FutexScope::Process);
        }
    }
}

/// A lock word without a value or an owner: any thread may release it
/// (Python's `Lock.release()`), and a wait may give up after a timeout.
/// Three states, as in Drepper's "Futexes are tricky": unlocked, locked,
/// and locked with sleepers, so an unlock enters the kernel only when
/// someone may sleep.
#[derive(Debug, Default)]
pub(crate) struct RawLock {
    word: AtomicU32,
}

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
/// Locked, and a waiter may sleep on the word: the unlock must wake one.
const CONTENDED: u32 = 2;

/// How many times a waiter tries a held lock before it sleeps, as
/// `parking_lot` does: three short spins, then yields of its CPU.
const SPIN_ROUNDS: u32 = 10;

/// Waits a little before a waiter's next try: spins of 2, 4 and 8 pauses,
/// then gives the CPU to another thread (perhaps the holder).
fn back_off(round: u32) {
    if round < 3 {
        for _ in 0..2 << round {
            std::hint::spin_loop();
        }
    } else {
        std::thread::yield_now();
    }
}

impl RawLock {
    /// A new, unlocked lock.
    pub(crate) const fn new() -> RawLock {
        RawLock {
            word: AtomicU32::new(UNLOCKED),
        }
    }

    /// Takes the lock if it is free; returns whether it did.
    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        self.word
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Whether someone holds the lock now.
    pub(crate) fn is_locked(&self) -> bool {
        self.word.load(Ordering::Relaxed) != UNLOCKED
    }

    /// Waits until the lock is free, and takes it.
    #[inline]
    pub(crate) fn lock(&self) {
        if !self.try_lock() {
            self.wait_until(None);
        }
    }

    /// Takes the lock if it frees up within `timeout`; returns whether it did.
    #[inline]
    pub(crate) fn try_lock_for(&self, timeout: Duration) -> bool {
        self.try_lock() || self.wait_until(Instant::now().checked_add(timeout))
    }

    /// The lock is held: waits for it until `deadline` (`None`: for good);
    /// returns whether it took it.
    #[cold]
    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        // While nobody sleeps on it, try again a few times, backing off: a
        // holder on another CPU usually lets go sooner than a sleep and a
        // wake take (two threads taking turns on a counter or a queue).
        for round in 0..SPIN_ROUNDS {
            match self.word.load(Ordering::Relaxed) {
                UNLOCKED if self.try_lock() => return true,
                CONTENDED => break,
                _ => back_off(round),
            }
        }
        loop {
            // Taken marked contended: others may sleep, so its unlock must
            // wake one (a woken waiter never takes it plainly locked).
            if self.word.swap(CONTENDED, Ordering::Acquire) == UNLOCKED {
                return true;
            }
            let left = match deadline {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return false,
                },
                None => None,
            };
            futex_wait(&self.word, CONTENDED, left, FutexScope::Process);
        }
    }

    /// Releases the lock and wakes one sleeper if there may be one.
    ///
    /// # Safety
    /// The lock is held (by any thread: the lock has no owner), and nothing
    /// the lock guards is still reached through the hold that ends.
    #[inline]
    pub(crate) unsafe fn unlock(&self) {
        if self.word.swap(UNLOCKED, Ordering::Release) == CONTENDED {
            futex_wake(&self.word, 1, FutexScope::Process);
        }
    }
}

/// Checks Miri can run (`scripts/miri`): threads and futexes, no processes.
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_contended_raw_lock_excludes_and_wakes_every_waiter() {
        let lock = Arc::new(RawLock::new());
        let inside = Arc::new(AtomicU32::new(0));
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let (lock, inside) = (Arc::clone(&lock), Arc::clone(&inside));
                std::thread::spawn(move || {
                    for _ in 0..40 {
                        assert!(lock.try_lock_for(Duration::from_secs(60)));
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                        // SAFETY: taken just above; it guards nothing.
                        unsafe { lock.unlock() };
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("a worker ends");
        }
        assert!(!lock.is_locked());
    }

    #[test]
    fn a_held_raw_lock_times_out_and_frees_up_when_released_elsewhere() {
        let lock = Arc::new(RawLock::new());
        assert!(lock.try_lock());
        assert!(!lock.try_lock_for(Duration::from_millis(5)));
        let other = Arc::clone(&lock);
        // SAFETY: held since the `try_lock` above; any thread may release it.
        std::thread::spawn(move || unsafe { other.unlock() })
            .join()
            .expect("the releaser ends");
        assert!(lock.try_lock_for(Duration::ZERO));
    }

    /// Untimed waits, so a lost wake-up hangs (and Miri reports a deadlock).
    #[test]
    fn every_item_announced_with_notify_one_is_taken_by_an_untimed_waiter() {
        const ITEMS: u32 = 30;
        // (items waiting, items taken)
        let shared = Arc::new((Mutex::new((0u32, 0u32)), Condvar::new()));
        let takers: Vec<_> = (0..3)
            .map(|_| {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let (items, changed) = &*shared;
                    let mut items = items.lock();
                    loop {
                        while items.0 == 0 && items.1 < ITEMS {
                            changed.wait(&mut items);
                        }
                        if items.1 == ITEMS {
                            return;
                        }
                        items.0 -= 1;
                        items.1 += 1;
                        if items.1 == ITEMS {
                            changed.notify_all();
                        }
                    }
                })
            })
            .collect();
        for _ in 0..ITEMS {
            shared.0.lock().0 += 1;
            shared.1.notify_one();
        }
        for taker in takers {
            taker.join().expect("a taker ends");
        }
        assert_eq!(*shared.0.lock(), (0, ITEMS));
    }

    #[test]
    fn a_condition_wait_gives_the_lock_up_and_takes_it_back() {
        let shared = Arc::new((Mutex::new(false), Condvar::new()));
        let setter = Arc::clone(&shared);
        let worker = std::thread::spawn(move || {
            *setter.0.lock() = true;
            setter.1.notify_all();
        });
        let mut ready = shared.0.lock();
        while !*ready {
            shared.1.wait_for(&mut ready, Duration::from_secs(60));
        }
        drop(ready);
        worker.join().expect("the setter ends");
    }
}
