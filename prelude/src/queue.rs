//! Python's `queue.Queue`: a first-in first-out queue between the threads of
//! one process, with `task_done()` and `join()`. Between processes use
//! [`mp::Queue`](crate::mp::Queue).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use crate::interrupt::{deadline_after, wait_for};
use crate::timeline::{self, Kind, Thinning};
use crate::Error;

/// A queue between threads, like Python's `queue.Queue(maxsize)`; `Clone`
/// shares the same queue.
pub struct Queue<T> {
    inner: Arc<QueueInner<T>>,
}

struct QueueInner<T> {
    items: Mutex<Items<T>>,
    not_empty: Condvar,
    not_full: Condvar,
    all_done: Condvar,
    /// 0 means no limit, as in Python.
    maxsize: usize,
    /// `:timeline` words for puts and for gets: a producer and a consumer
    /// counting down while recording each write only their own.
    put_thinning: OwnLine,
    get_thinning: OwnLine,
}

/// A `:timeline` word on a cache line of its own: every use reads it before
/// taking the queue's lock, and none writes it while nothing is armed, so it
/// stays in every CPU's cache.
#[repr(align(64))]
struct OwnLine(Thinning);

struct Items<T> {
    queue: VecDeque<T>,
    /// Items put but not yet marked done with `task_done()`.
    unfinished: usize,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Queue<T> {
        Queue {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Send> Default for Queue<T> {
    fn default() -> Queue<T> {
        Queue::new()
    }
}

impl<T: Send> Queue<T> {
    /// A queue without a size limit (Python's `queue.Queue()`).
    pub fn new() -> Queue<T> {
        Queue::with_maxsize(0)
    }

    /// A queue holding at most `maxsize` items; `put` waits while it is full
    /// (Python's `queue.Queue(maxsize)`; 0 means no limit).
    pub fn with_maxsize(maxsize: usize) -> Queue<T> {
        Queue {
            inner: Arc::new(QueueInner {
                items: Mutex::new(Items {
                    queue: VecDeque::new(),
                    unfinished: 0,
                }),
                not_empty: Condvar::new(),
                not_full: Condvar::new(),
                all_done: Condvar::new(),
                maxsize,
                put_thinning: OwnLine(Thinning::new()),
                get_thinning: OwnLine(Thinning::new()),
            }),
        }
    }

    /// Adds `item`, waiting while the queue is full (Python's `q.put(item)`).
    #[inline]
    pub fn put(&self, item: T) {
        self.put_until(item, None)
            .unwrap_or_else(|_| unreachable!("put without a deadline waits"));
    }

    /// Adds `item` if room frees up within `seconds`, else `Err(Error::Full)`
    /// (Python's `q.put(item, timeout=seconds)`).
    pub fn put_timeout(&self, item: T, seconds: f64) -> Result<(), Error> {
        self.put_until(item, deadline_after(seconds))
    }

    /// Adds `item` only if there is room now, else `Err(Error::Full)` (Python's `q.put_nowait(item)`).
    pub fn put_nowait(&self, item: T) -> Result<(), Error> {
        self.put_until(item, Some(Instant::now()))
    }

    /// Takes the oldest item, waiting while the queue is empty (Python's `q.get()`).
    #[inline]
    pub fn get(&self) -> T {
        self.get_until(None)
            .unwrap_or_else(|_| unreachable!("get without a deadline waits"))
    }

    /// Takes the oldest item if one arrives within `seconds`, else
    /// `Err(Error::Empty)` (Python's `q.get(timeout=seconds)`).
    pub fn get_timeout(&self, seconds: f64) -> Result<T, Error> {
        self.get_until(deadline_after(seconds))
    }

    /// Takes the oldest item only if there is one now, else `Err(Error::Empty)`
    /// (Python's `q.get_nowait()`).
    pub fn get_nowait(&self) -> Result<T, Error> {
        self.get_until(Some(Instant::now()))
    }

    /// How many items wait in the queue (Python's `q.qsize()`).
    pub fn qsize(&self) -> usize {
        self.inner.items.lock().queue.len()
    }

    /// Whether the queue is empty now (Python's `q.empty()`).
    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// Whether the queue is at its maxsize now (Python's `q.full()`).
    pub fn full(&self) -> bool {
        self.inner.maxsize > 0 && self.qsize() >= self.inner.maxsize
    }

    /// Marks one item taken with `get` as processed (Python's `q.task_done()`).
    pub fn task_done(&self) {
        let mut items = self.inner.items.lock();
        if items.unfinished == 0 {
            panic!("task_done() called too many times");
        }
        items.unfinished -= 1;
        if items.unfinished == 0 {
            self.inner.all_done.notify_all();
        }
    }

    /// Waits until every item put was marked with `task_done()` (Python's `q.join()`).
    pub fn join(&self) {
        wait_for(None, |slice| {
            let mut items = self.inner.items.lock();
            if items.unfinished > 0 {
                self.inner.all_done.wait_for(&mut items, slice);
            }
            (items.unfinished == 0).then_some(())
        });
    }

    #[inline]
    fn put_until(&self, item: T, deadline: Option<Instant>) -> Result<(), Error> {
        let object = (Arc::as_ptr(&self.inner) as u64, &self.inner.put_thinning.0);
        let put = || self.put_waiting(item, deadline);
        timeline::blocking(
            Kind::QueuePut,
            Kind::QueuePutWait,
            object,
            put,
            Result::is_ok,
        )
    }

    #[inline]
    fn put_waiting(&self, item: T, deadline: Option<Instant>) -> Result<(), Error> {
        let inner = &*self.inner;
        let mut item = Some(item);
        wait_for(deadline, |slice| {
            let mut items = inner.items.lock();
            let has_room =
                |items: &Items<T>| inner.maxsize == 0 || items.queue.len() < inner.maxsize;
            if !has_room(&items) && !slice.is_zero() {
                inner.not_full.wait_for(&mut items, slice);
            }
            if !has_room(&items) {
                return None;
            }
            items
                .queue
                .push_back(item.take().expect("an item is put once"));
            items.unfinished += 1;
            inner.not_empty.notify_one();
            Some(())
        })
        .ok_or(Error::Full)
    }

    #[inline]
    fn get_until(&self, deadline: Option<Instant>) -> Result<T, Error> {
        let object = (Arc::as_ptr(&self.inner) as u64, &self.inner.get_thinning.0);
        let get = || self.get_waiting(deadline);
        timeline::blocking(
            Kind::QueueGet,
            Kind::QueueGetWait,
            object,
            get,
            Result::is_ok,
        )
    }

    #[inline]
    fn get_waiting(&self, deadline: Option<Instant>) -> Result<T, Error> {
        let inner = &*self.inner;
        wait_for(deadline, |slice| {
            let mut items = inner.items.lock();
            if items.queue.is_empty() && !slice.is_zero() {
                inner.not_empty.wait_for(&mut items, slice);
            }
            let item = items.queue.pop_front()?;
            inner.not_full.notify_one();
            Some(item)
        })
        .ok_or(Error::Empty)
    }
}

impl<T> std::fmt::Debug for Queue<T> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "<queue.Queue qsize={}>",
            self.inner.items.lock().queue.len()
        )
    }
}
