//! How a blocked side of a [`Ring`] waits: it polls briefly (the other side
//! usually runs on another CPU, and a futex round trip costs more than the
//! wait), then sleeps on its sequence word as a registered waiter; every
//! wait is in slices (see `interrupt`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use super::header::{Books, RingHeader};
use super::Ring;
// Up a layer: a blocked side waits in the one waiting loop, which checks for
// an interrupt between slices (tests/architecture/prelude_layers.rs).
use crate::interrupt::wait_for;
use crate::sys::{futex_wait, futex_wake, FutexScope};

/// Which sequence word a side sleeps on, and which counter says it sleeps.
#[derive(Clone, Copy)]
pub(super) struct Side {
    sequence: fn(&RingHeader) -> &AtomicU32,
    waiters: fn(&RingHeader) -> &AtomicU32,
}

/// Takers sleep until a put bumps their sequence.
pub(super) const TAKERS: Side = Side {
    sequence: |header| &header.takers.sequence,
    waiters: |header| &header.takers.sleepers,
};
/// Putters sleep until a take bumps their sequence.
pub(super) const PUTTERS: Side = Side {
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
    *BUDGET.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        if cpus > 1 {
            SPINS
        } else {
            0
        }
    })
}

impl Ring {
    /// Runs `operation` under the lock until it succeeds or `deadline` passes.
    /// On success it bumps `wakes`' sequence and wakes its sleepers; while it
    /// cannot succeed, it first spins briefly (the other side usually runs on
    /// another CPU, and a futex round trip costs more than the wait), then
    /// sleeps on `waits`' sequence as a registered waiter.
    pub(super) fn blocking<T>(
        &self,
        deadline: Option<Instant>,
        waits: Side,
        wakes: Side,
        mut operation: impl FnMut(&mut Books) -> Option<T>,
    ) -> Option<T> {
        let header = self.header();
        let mut attempt = |register: bool| {
            let outcome = self.with_lock(|books| match operation(books) {
                Some(value) => {
                    (wakes.sequence)(header).fetch_add(1, Ordering::SeqCst);
                    Ok((value, (wakes.waiters)(header).load(Ordering::SeqCst) > 0))
                }
                None => {
                    if register {
                        (waits.waiters)(header).fetch_add(1, Ordering::SeqCst);
                    }
                    Err((waits.sequence)(header).load(Ordering::SeqCst))
                }
            });
            outcome.map(|(value, sleepers)| {
                if sleepers {
                    futex_wake((wakes.sequence)(header), i32::MAX, FutexScope::Shared);
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
                        futex_wait(
                            (waits.sequence)(header),
                            sequence,
                            Some(slice),
                            FutexScope::Shared,
                        );
                    }
                    (waits.waiters)(header).fetch_sub(1, Ordering::SeqCst);
                    None
                }
            }
        })
    }
}
