//! [`Value`], Python's `multiprocessing.Value`: one number in shared memory
//! with a lock, so a lesson can show a race between processes and its fix.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::shm::{
    init_shared_mutex, lock_shared_mutex, unlock_shared_mutex, MemoryKind, SharedMemory,
};

/// Plain data: a value that means the same in every process that maps it,
/// because it holds no address (numbers, `bool`, `char`, and arrays and
/// tuples of them). Only such values may live in a shared [`Value`].
///
/// # Safety
///
/// Implement it only for a `#[repr(C)]` struct whose fields are all
/// `SharedPlain`: a pointer, reference, `String`, `Vec` or `Box` written by
/// one process points into that process's memory alone, and another process
/// that follows it reads garbage or crashes.
///
/// ```compile_fail,E0277
/// // A `&str` points into the memory of the process that made it.
/// let shared = multitask::mp::Value::new("text");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot live in shared memory",
    label = "only plain data can be shared between processes",
    note = "a shared Value holds numbers, bool, char, or arrays and tuples of them: a pointer \
            (&str, String, Vec, Box, a reference) written by one process means nothing in \
            another; send such values through an mp::Queue instead"
)]
pub unsafe trait SharedPlain: Copy + Send + 'static {}

macro_rules! plain {
    ($($plain:ty),*) => { $(
        // SAFETY: a primitive holds no address.
        unsafe impl SharedPlain for $plain {}
    )* };
}
plain!(
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    f32,
    f64,
    bool,
    char,
    ()
);

// SAFETY: an array of plain data is plain data.
unsafe impl<T: SharedPlain, const N: usize> SharedPlain for [T; N] {}
// SAFETY: a tuple of plain data holds no address either.
unsafe impl<A: SharedPlain, B: SharedPlain> SharedPlain for (A, B) {}
// SAFETY: as above.
unsafe impl<A: SharedPlain, B: SharedPlain, C: SharedPlain> SharedPlain for (A, B, C) {}
// SAFETY: as above.
unsafe impl<A: SharedPlain, B: SharedPlain, C: SharedPlain, D: SharedPlain> SharedPlain
    for (A, B, C, D)
{
}

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

impl<T: SharedPlain> Value<T> {
    /// A shared value starting at `initial` (Python's `Value(typecode, initial)`).
    pub fn new(initial: T) -> Value<T> {
        let memory = SharedMemory::create(MemoryKind::Value, std::mem::size_of::<Cell<T>>())
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
        // A holder killed mid-write leaves plain data whose every field it
        // wrote whole or not at all (each is one store), so the value is
        // usable either way: there is no pointer in it to follow.
        // SAFETY: initialised in `new`.
        let _how = unsafe { lock_shared_mutex(&raw mut (*self.cell()).mutex) };
        ValueGuard { value: self }
    }

    fn cell(&self) -> *mut Cell<T> {
        self.memory.address().cast()
    }
}

impl<T: SharedPlain + fmt::Debug> fmt::Debug for Value<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "<Synchronized wrapper for {:?}>", self.get())
    }
}

/// Holds a [`Value`]'s lock until dropped, and gives the value.
pub struct ValueGuard<'value, T: SharedPlain> {
    value: &'value Value<T>,
}

impl<T: SharedPlain> Deref for ValueGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &(*self.value.cell()).value }
    }
}

impl<T: SharedPlain> DerefMut for ValueGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock; `&mut self` makes it unique.
        unsafe { &mut (*self.value.cell()).value }
    }
}

impl<T: SharedPlain> Drop for ValueGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the guard holds the lock.
        unsafe { unlock_shared_mutex(&raw mut (*self.value.cell()).mutex) };
    }
}
