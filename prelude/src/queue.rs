//! Python's `queue.Queue`: a first-in first-out queue between the threads of
//! one process, with `task_done()` and `join()`. Between processes use
//! [`mp::Queue`](crate::mp::Queue).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use crate::interrupt::{deadline_after, wait_for};
use crate::sync::{Condvar, Mutex};
use crate::timeline::{Kind, Thinning, Watch};
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
}

struct Items<T> {
    queue: VecDeque<T>,
    /// Items put but not yet marked done with `task_done()`.
    unfinished: usize,
    /// `:timeline` words for puts and for gets, read under the lock beside
    /// the items a use touches anyway (see `timeline::Watch`).
    put_thinning: Thinning,
    get_thinning: Thinning,
}

impl<T> QueueInner<T> {
    fn has_room(&self, items: &Items<T>) -> bool {
        self.maxsize == 0 || items.queue.len() < self.maxsize
    }

    /// Adds `item` (the lock held, room checked) and wakes a getter.
    #[inline]
    fn push(&self, items: &mut Items<T>, item: T) {
        items.queue.push_back(item);
        items.unfinished += 1;
        self.not_empty.notify_one();
    }

    /// Takes the oldest item (the lock held) and wakes a putter.
    #[inline]
    fn pop(&self, items: &mut Items<T>) -> Option<T> {
        let item = items.queue.pop_front()?;
        self.not_full.notify_one();
        Some(item)
    }
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
                    put_thinning: Thinning::new(),
                    get_thinning: Thinning::new(),
                }),
                not_empty: Condvar::new(),
                not_full: Condvar::new(),
                all_done: Condvar::new(),
                maxsize,
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
        let inner = &*self.inner;
        // The common case first: room at once, nothing to wait for.
        let mut items = inner.items.lock();
        if inner.has_room(&items) {
            let mut watch = Watch::default();
            watch.look(&items.put_thinning);
            inner.push(&mut items, item);
            let object = (self.object(), &items.put_thinning);
            watch.ended(Kind::QueuePut, Kind::QueuePutWait, object, true);
            return Ok(());
        }
        drop(items);
        self.put_waiting(item, deadline)
    }

    /// A put that has to wait for room.
    #[cold]
    #[inline(never)]
    fn put_waiting(&self, item: T, deadline: Option<Instant>) -> Result<(), Error> {
        let inner = &*self.inner;
        let mut item = Some(item);
        let mut watch = Watch::default();
        let put = wait_for(deadline, |slice| {
            let mut items = inner.items.lock();
            watch.look(&items.put_thinning);
            if !inner.has_room(&items) && !slice.is_zero() {
                watch.blocks();
                inner.not_full.wait_for(&mut items, slice);
            }
            if !inner.has_room(&items) {
                return None;
            }
            inner.push(&mut items, item.take().expect("an item is put once"));
            let object = (self.object(), &items.put_thinning);
            watch.ended(Kind::QueuePut, Kind::QueuePutWait, object, true);
            Some(())
        });
        if put.is_none() {
            let items = inner.items.lock();
            let object = (self.object(), &items.put_thinning);
            watch.ended(Kind::QueuePut, Kind::QueuePutWait, object, false);
        }
        put.ok_or(Error::Full)
    }

    #[inline]
    fn get_until(&self, deadline: Option<Instant>) -> Result<T, Error> {
        let inner = &*self.inner;
        // The common case first: an item at once, nothing to wait for.
        let mut items = inner.items.lock();
        if !items.queue.is_empty() {
            let mut watch = Watch::default();
            watch.look(&items.get_thinning);
            let item = inner.pop(&mut items);
            let object = (self.object(), &items.get_thinning);
            watch.ended(Kind::QueueGet, Kind::QueueGetWait, object, true);
            return item.ok_or(Error::Empty);
        }
        drop(items);
        self.get_waiting(deadline)
    }

    /// A get that has to wait for an item.
    #[cold]
    #[inline(never)]
    fn get_waiting(&self, deadline: Option<Instant>) -> Result<T, Error> {
        let inner = &*self.inner;
        let mut watch = Watch::default();
        let got = wait_for(deadline, |slice| {
            let mut items = inner.items.lock();
            watch.look(&items.get_thinning);
            if items.queue.is_empty() && !slice.is_zero() {
                watch.blocks();
                inner.not_empty.wait_for(&mut items, slice);
            }
            let item = inner.pop(&mut items)?;
            let object = (self.object(), &items.get_thinning);
            watch.ended(Kind::QueueGet, Kind::QueueGetWait, object, true);
            Some(item)
        });
        if got.is_none() {
            let items = inner.items.lock();
            let object = (self.object(), &items.get_thinning);
            watch.ended(Kind::QueueGet, Kind::QueueGetWait, object, false);
        }
        got.ok_or(Error::Empty)
    }

    /// Identifies the queue on a timeline.
    fn object(&self) -> u64 {
        Arc::as_ptr(&self.inner) as u64
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

/// Checks Miri can run (`scripts/miri`): threads, no processes.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_from_two_threads_arrive_once_each_and_in_order() {
        let queue: Queue<u32> = Queue::new();
        let putters: Vec<_> = [0u32, 100]
            .into_iter()
            .map(|base| {
                let queue = queue.clone();
                std::thread::spawn(move || (base..base + 20).for_each(|item| queue.put(item)))
            })
            .collect();
        let mut taken: Vec<u32> = (0..40).map(|_| queue.get()).collect();
        for putter in putters {
            putter.join().expect("a putter ends");
        }
        let from_first: Vec<u32> = taken.iter().copied().filter(|item| *item < 100).collect();
        assert_eq!(
            from_first,
            (0..20).collect::<Vec<_>>(),
            "each putter's order is kept"
        );
        taken.sort_unstable();
        let expected: Vec<u32> = (0..20).chain(100..120).collect();
        assert_eq!(taken, expected);
        assert!(queue.empty());
    }
}
