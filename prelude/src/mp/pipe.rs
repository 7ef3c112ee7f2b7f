//! [`Pipe`], Python's `multiprocessing.Pipe()`: two connected ends; what one
//! end sends, the other receives. Each direction is a shared-memory ring.

use std::marker::PhantomData;
use std::sync::Arc;

use super::process_queue::{Queue, QUEUE_BYTES};
use super::ring::Ring;
use super::Message;
use crate::Error;

/// Makes a pair of connected [`Connection`]s, like Python's `multiprocessing.Pipe()`.
pub struct Pipe<T>(PhantomData<T>);

impl<T> Pipe<T> {
    /// Two connected ends, `(a, b)`: `a.send(x)` arrives at `b.recv()` and back
    /// (Python's `conn1, conn2 = Pipe()`); create them before starting the processes.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> (Connection<T>, Connection<T>)
    where
        T: Message,
    {
        let ring = || {
            Arc::new(
                Ring::create(QUEUE_BYTES)
                    .unwrap_or_else(|error| panic!("cannot create a pipe: {error}")),
            )
        };
        let (forward, backward) = (ring(), ring());
        (
            Connection {
                outgoing: Queue::from_ring(forward.clone(), 0),
                incoming: Queue::from_ring(backward.clone(), 0),
            },
            Connection {
                outgoing: Queue::from_ring(backward, 0),
                incoming: Queue::from_ring(forward, 0),
            },
        )
    }
}

/// One end of a [`Pipe`] (Python's `Connection`); `Clone` shares the end.
pub struct Connection<T> {
    outgoing: Queue<T>,
    incoming: Queue<T>,
}

impl<T> Clone for Connection<T> {
    fn clone(&self) -> Connection<T> {
        Connection {
            outgoing: self.outgoing.clone(),
            incoming: self.incoming.clone(),
        }
    }
}

impl<T: Message> Connection<T> {
    /// Sends `value` to the other end (Python's `conn.send(obj)`).
    pub fn send(&self, value: T) {
        self.outgoing.put(value);
    }

    /// Waits for the next value from the other end (Python's `conn.recv()`).
    pub fn recv(&self) -> T {
        self.incoming.get()
    }

    /// Waits at most `seconds` for a value, else `Err(Error::Empty)`.
    pub fn recv_timeout(&self, seconds: f64) -> Result<T, Error> {
        self.incoming.get_timeout(seconds)
    }

    /// Whether a value is waiting (Python's `conn.poll()`).
    pub fn poll(&self) -> bool {
        !self.incoming.empty()
    }
}

impl<T> std::fmt::Debug for Connection<T> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "<multiprocessing.Connection>")
    }
}
