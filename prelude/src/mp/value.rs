//! [`Value`], Python's `multiprocessing.Value`: one number in shared memory
//! with a lock, so a lesson can show a race between processes and its fix.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::shm::{init_shared_mutex, lock_shared_mutex, unlock_shared_mutex, SharedMemory};

/// A value in memory shared by this process and the processes it forks, like
/// Python's `multiprocessing.Value('i', 0)`; `Clone` shares it.
pub struct Value<T> {
    memory: Arc<SharedMemory>,
    _value: std::marker::PhantomData<T>,
}

#[repr(C)]
struct Cell<T> {
    mutex: libc::pthread_mutex_t,
    value: T,
}

impl<T> Clone for Value<T> {
    fn clone(&self) -> Value<T> {
        Value {
            memory: self.memory.clone(),
            _value: std::marker::PhantomData,
        }
    }
}

// SAFETY: the value lives in shared memory and is only reached under its lock.
unsafe impl<T: Send> Send for Value<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Value<T> {}

impl<T: Copy + Send + 'static> Value<T> {
    /// A shared value starting at `initial` (Python's `Value(typecode, initial)`).
    pub fn new(initial: T) -> Value<T> {
        let memory = SharedMemory::create(std::mem::size_of::<Cell<T>>())
            .unwrap_or_else(|error| panic!("cannot create a shared value: {error}"));
        let cell = memory.address().cast::<Cell<T>>();
        // SAFETY: fresh shared memory sized and (page-)aligned for a Cell<T>.
        unsafe {
            init_shared_mutex(&raw mut (*cell).mutex);
            (&raw mut (*cell).value).write(initial);
        }
        Value {
            memory: Arc::new(memory),
            _value: std::marker::PhantomData,
        }
    }

    /// Reads the value (Python's `v.value`); takes the lock for the read only.
    pub fn get(&self) -> T {
        *self.get_lock()
    }

    /// Writes the value (Python's `v.value = x`); takes the lock for the write
    /// only, so `v.set(v.get() + 1)` races, as in Python.
    pub fn set(&self, value: T) {
        *self.get_lock() = value;
    }

    /// Holds the value's lock until the guard is dropped, and gives the value:
    /// `*v.get_lock() += 1` (Python's `with v.get_lock(): v.value += 1`).
    pub fn get_lock(&self) -> ValueGuard<'_, T> {
        // SAFETY: initialised in `new`.
        unsafe { lock_shared_mutex(&raw mut (*self.cell()).mutex) };
        ValueGuard { value: self }
    }

    fn cell(&self) -> *mut Cell<T> {
        self.memory.address().cast()
    }
}

impl<T: Copy + Send + fmt::Debug + 'static> fmt::Debug for Value<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "<Synchronized wrapper for {:?}>", self.get())
    }
}

/// Holds a [`Value`]'s lock until dropped, and gives the value.
pub struct ValueGuard<'value, T: Copy + Send + 'static> {
    value: &'value Value<T>,
}

impl<T: Copy + Send + 'static> Deref for ValueGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &(*self.value.cell()).value }
    }
}

impl<T: Copy + Send + 'static> DerefMut for ValueGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock; `&mut self` makes it unique.
        unsafe { &mut (*self.value.cell()).value }
    }
}

impl<T: Copy + Send + 'static> Drop for ValueGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the guard holds the lock.
        unsafe { unlock_shared_mutex(&raw mut (*self.value.cell()).mutex) };
    }
}
