//! [`Queue`], Python's `multiprocessing.Queue`: a queue in shared memory that
//! processes forked after its creation share (Python's "inheritance").

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::feeder::Feeder;
use super::ring::{Ring, LENGTH_BYTES};
use super::{decode, encode, Message};
use crate::interrupt::deadline_after;
use crate::timeline::{self, Kind};
use crate::Error;

/// Bytes of shared memory behind each queue (frames wait here).
pub(crate) const QUEUE_BYTES: usize = 4 << 20;

/// What Python says when a plain queue is sent to a pool task.
const INHERITANCE_ONLY: &str = "Queue objects should only be shared between processes through inheritance: \
     create the mp::Queue before starting the processes, or use mp::Manager::new().queue() for pool tasks";

/// A queue between processes, like Python's `multiprocessing.Queue(maxsize)`;
/// create it before starting the processes that use it. `Clone` shares it.
pub struct Queue<T> {
    pub(crate) ring: Arc<Ring>,
    maxsize: usize,
    /// Whether `put` hands items to this process's feeder thread (Python's
    /// `Queue`) rather than writing them itself before returning (a proxy's
    /// or a pipe's `put`/`send`, which Python also completes at once).
    fed: bool,
    _items: PhantomData<fn(T) -> T>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Queue<T> {
        Queue {
            ring: self.ring.clone(),
            maxsize: self.maxsize,
            fed: self.fed,
            _items: PhantomData,
        }
    }
}

// The constructors carry the `Message` bound themselves, so that a type that
// cannot travel gets the bound's explanation rather than "method not found".
impl<T> Queue<T> {
    /// A queue without a size limit (Python's `multiprocessing.Queue()`).
    pub fn new() -> Queue<T>
    where
        T: Message,
    {
        Queue::with_maxsize(0)
    }

    /// A queue holding at most `maxsize` items; `put` waits while it is full
    /// (0 means no limit, as in Python).
    pub fn with_maxsize(maxsize: usize) -> Queue<T>
    where
        T: Message,
    {
        let ring = Ring::create(QUEUE_BYTES)
            .unwrap_or_else(|error| panic!("cannot create a queue: {error}"));
        let mut queue = Queue::from_ring(Arc::new(ring), maxsize);
        queue.fed = maxsize == 0;
        queue
    }

    /// A queue over an existing ring whose `put` writes before it returns
    /// (pipes and manager proxies build on it).
    pub(crate) fn from_ring(ring: Arc<Ring>, maxsize: usize) -> Queue<T> {
        ring.thinning.made_now();
        Queue {
            ring,
            maxsize,
            fed: false,
            _items: PhantomData,
        }
    }

    /// The maxsize it was made with (0: none).
    pub(crate) fn maxsize(&self) -> usize {
        self.maxsize
    }
}

impl<T: Message> Default for Queue<T> {
    fn default() -> Queue<T> {
        Queue::new()
    }
}

impl<T: Message> Queue<T> {
    /// Adds `item`, waiting while the queue is full (Python's `q.put(item)`).
    pub fn put(&self, item: T) {
        self.put_until(item, None)
            .unwrap_or_else(|error| panic!("{error}"));
    }

    /// Adds `item` if room frees up within `seconds`, else `Err(Error::Full)`.
    pub fn put_timeout(&self, item: T, seconds: f64) -> Result<(), Error> {
        self.put_until(item, deadline_after(seconds))
    }

    /// Adds `item` only if there is room now, else `Err(Error::Full)` (Python's `q.put_nowait(item)`).
    pub fn put_nowait(&self, item: T) -> Result<(), Error> {
        self.put_until(item, Some(Instant::now()))
    }

    /// Takes the oldest item, waiting while the queue is empty (Python's `q.get()`).
    pub fn get(&self) -> T {
        self.get_until(None)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// Takes the oldest item if one arrives within `seconds`, else `Err(Error::Empty)`
    /// (Python's `q.get(timeout=seconds)`).
    pub fn get_timeout(&self, seconds: f64) -> Result<T, Error> {
        self.get_until(deadline_after(seconds))
    }

    /// Takes the oldest item only if there is one now, else `Err(Error::Empty)` (Python's `q.get_nowait()`).
    pub fn get_nowait(&self) -> Result<T, Error> {
        self.get_until(Some(Instant::now()))
    }

    /// How many items wait in the queue (Python's `q.qsize()`).
    pub fn qsize(&self) -> usize {
        self.ring.len()
    }

    /// Whether the queue is empty now (Python's `q.empty()`).
    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// Whether the queue is at its maxsize now (Python's `q.full()`).
    pub fn full(&self) -> bool {
        self.maxsize > 0 && self.qsize() >= self.maxsize
    }

    #[inline]
    fn put_until(&self, item: T, deadline: Option<Instant>) -> Result<(), Error> {
        let object = (Arc::as_ptr(&self.ring) as u64, &self.ring.thinning);
        let put = || self.put_encoded(item, deadline);
        timeline::blocking(
            Kind::QueuePut,
            Kind::QueuePutWait,
            object,
            put,
            Result::is_ok,
        )
    }

    #[inline]
    fn put_encoded(&self, item: T, deadline: Option<Instant>) -> Result<(), Error> {
        let bytes = encode(&item)?;
        if bytes.len() + LENGTH_BYTES > QUEUE_BYTES {
            panic!(
                "a message of {} bytes is larger than an mp::Queue can hold (4 MiB)",
                bytes.len()
            );
        }
        if self.fed {
            // Never full: hand it to the feeder thread, as Python does.
            Feeder::for_ring(&self.ring).push(&bytes);
            return Ok(());
        }
        if self.ring.put(&bytes, self.maxsize, deadline) {
            Ok(())
        } else {
            Err(Error::Full)
        }
    }

    #[inline]
    fn get_until(&self, deadline: Option<Instant>) -> Result<T, Error> {
        let object = (Arc::as_ptr(&self.ring) as u64, &self.ring.thinning);
        let take = || self.ring.take(deadline).ok_or(Error::Empty);
        let bytes = timeline::blocking(
            Kind::QueueGet,
            Kind::QueueGetWait,
            object,
            take,
            Result::is_ok,
        )?;
        decode(&bytes)
    }
}

impl<T> std::fmt::Debug for Queue<T> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "<multiprocessing.Queue qsize={}>",
            self.ring.len()
        )
    }
}

/// Sending a plain queue to a pool task fails with Python's message.
impl<T> Serialize for Queue<T> {
    fn serialize<S: Serializer>(&self, _serializer: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(super::refuse(
            INHERITANCE_ONLY.to_string(),
        )))
    }
}

/// See the `Serialize` impl: a plain queue never travels.
impl<'de, T> Deserialize<'de> for Queue<T> {
    fn deserialize<D: Deserializer<'de>>(_deserializer: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom(super::refuse(
            INHERITANCE_ONLY.to_string(),
        )))
    }
}
