//! [`Manager`] and [`QueueProxy`], Python's `multiprocessing.Manager().Queue()`:
//! a queue that can be handed to pool tasks as an argument. Python runs a
//! server process for it; here the queue is shared memory, and a proxy
//! travels as the owner's pid and descriptor number, which the receiving
//! process opens through `/proc/<pid>/fd` and maps.

use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::process_queue::{Queue, QUEUE_BYTES};
use super::ring::Ring;
use super::Message;

/// Makes queues that pool tasks can receive, like Python's `multiprocessing.Manager()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Manager;

impl Manager {
    /// A manager (Python's `Manager()`; nothing to start or shut down here).
    pub fn new() -> Manager {
        Manager
    }

    /// A queue that can be passed to pool tasks (Python's `Manager().Queue()`).
    pub fn queue<T: Message>(&self) -> QueueProxy<T> {
        self.queue_with_maxsize(0)
    }

    /// Like [`Manager::queue`], holding at most `maxsize` items.
    pub fn queue_with_maxsize<T: Message>(&self, maxsize: usize) -> QueueProxy<T> {
        let ring = Ring::create(QUEUE_BYTES)
            .unwrap_or_else(|error| panic!("cannot create a queue: {error}"));
        QueueProxy {
            queue: Queue::from_ring(Arc::new(ring), maxsize),
            owner_pid: std::process::id(),
        }
    }
}

/// A queue made by a [`Manager`]; it has every method of [`Queue`] and can
/// also be sent to pool tasks (Python's queue proxy). `Clone` shares it.
pub struct QueueProxy<T> {
    queue: Queue<T>,
    /// The process whose descriptor table holds the queue's memory.
    owner_pid: u32,
}

impl<T> Clone for QueueProxy<T> {
    fn clone(&self) -> QueueProxy<T> {
        QueueProxy {
            queue: self.queue.clone(),
            owner_pid: self.owner_pid,
        }
    }
}

impl<T> Deref for QueueProxy<T> {
    type Target = Queue<T>;
    fn deref(&self) -> &Queue<T> {
        &self.queue
    }
}

impl<T> std::fmt::Debug for QueueProxy<T> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "<AutoProxy[Queue] qsize={}>",
            self.queue.ring.len()
        )
    }
}

/// What travels: where to find the memory, and the queue's limit.
#[derive(Serialize, Deserialize)]
struct ProxyAddress {
    owner_pid: u32,
    fd_number: i32,
    maxsize: usize,
}

impl<T> Serialize for QueueProxy<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ProxyAddress {
            owner_pid: self.owner_pid,
            fd_number: self.queue.ring.fd_number(),
            maxsize: self.queue.maxsize(),
        }
        .serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for QueueProxy<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let address = ProxyAddress::deserialize(deserializer)?;
        let ring = Ring::open(address.owner_pid, address.fd_number).map_err(|error| {
            serde::de::Error::custom(super::refuse(format!(
                "the Manager's queue is gone (its process ended or dropped it): {error}"
            )))
        })?;
        Ok(QueueProxy {
            queue: Queue::from_ring(Arc::new(ring), address.maxsize),
            owner_pid: address.owner_pid,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    /// A proxy that says the queue is at `fd_number` of this process.
    fn proxy_to(fd_number: i32) -> Result<QueueProxy<u32>, crate::Error> {
        let address = ProxyAddress {
            owner_pid: std::process::id(),
            fd_number,
            maxsize: 0,
        };
        super::super::decode(&super::super::encode(&address).expect("an address encodes"))
    }

    #[test]
    fn a_proxy_opens_only_a_queue() {
        let queue = Manager::new().queue::<u32>();
        queue.put(7);
        let same = proxy_to(queue.ring.fd_number()).expect("the queue's own descriptor");
        assert_eq!(same.get(), 7);

        // A descriptor that is something else now: a file, or a shared value.
        let file = std::fs::File::open("/proc/self/stat").expect("a file to point at");
        let refused = proxy_to(file.as_raw_fd()).expect_err("a file is not a queue");
        assert!(refused.to_string().contains("gone"), "{refused}");
        let closed = proxy_to(9999).expect_err("no such descriptor");
        assert!(closed.to_string().contains("gone"), "{closed}");
    }
}
