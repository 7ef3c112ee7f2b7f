//! [`Event`], Python's `threading.Event`: a flag threads can wait for, the
//! usual way to tell a thread to stop.

use std::sync::Arc;
use std::time::Instant;

use crate::interrupt::{deadline_after, wait_for};
use crate::sync::{Condvar, Mutex};

/// A flag that threads can set, clear and wait for, like Python's
/// `threading.Event()`; `Clone` shares the same flag.
#[derive(Clone, Default)]
pub struct Event {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl Event {
    /// A new event, not set.
    pub fn new() -> Event {
        Event::default()
    }

    /// Sets the flag and wakes every waiter (Python's `event.set()`).
    pub fn set(&self) {
        let (flag, changed) = &*self.inner;
        *flag.lock() = true;
        changed.notify_all();
    }

    /// Clears the flag (Python's `event.clear()`).
    pub fn clear(&self) {
        *self.inner.0.lock() = false;
    }

    /// Whether the flag is set (Python's `event.is_set()`).
    pub fn is_set(&self) -> bool {
        *self.inner.0.lock()
    }

    /// Waits until the flag is set (Python's `event.wait()`).
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Waits at most `seconds` for the flag; returns whether it is set
    /// (Python's `event.wait(timeout)`).
    pub fn wait_timeout(&self, seconds: f64) -> bool {
        self.wait_until(deadline_after(seconds))
    }

    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        let (flag, changed) = &*self.inner;
        if *flag.lock() {
            return true;
        }
        let waited = || {
            wait_for(deadline, |slice| {
                let mut set = flag.lock();
                if !*set {
                    changed.wait_for(&mut set, slice);
                }
                set.then_some(())
            })
            .is_some()
        };
        crate::timeline::waiting(crate::timeline::Kind::EventWait, String::new, waited)
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "<Event set={}>", self.is_set())
    }
}
