//! [`Handed`], Python's `multiprocessing.reduction` for sockets and files: a
//! `TcpStream`, `TcpListener`, `UdpSocket`, `File` (anything that is one
//! descriptor) wrapped so that it can be a pool task's argument or result, an
//! `mp::Queue` item or a `Pipe` message. Encoding offers a duplicate of the
//! descriptor to the descriptor sharer (`sharer.rs`) and writes the ticket;
//! decoding takes the descriptor with that ticket.
//!
//! Why a wrapper, and not `pool.apply_async(serve, conn)` with a bare
//! `TcpStream`: what may travel is [`Message`](super::Message), a blanket
//! trait over serde's `Serialize + DeserializeOwned`. `TcpStream` is std's
//! type and `Serialize` is serde's trait, so Rust's orphan rule forbids this
//! crate to implement one for the other, and an `impl Message for TcpStream`
//! beside the blanket one is refused too (serde could add the impl later, so
//! the two might overlap). A local wrapper is the one thing that can carry
//! both impls; it is a one-field tuple struct, so `mp::Handed(conn)` wraps
//! and a task can unwrap in its parameter: `fn serve(mp::Handed(conn):
//! mp::Handed<TcpStream>)`.
//!
//! Processes started with `mp::Process` need none of this: the closure is
//! forked with everything it captured, descriptors included (the child's
//! table is a copy of the parent's), and the parent's copy is closed when
//! `start()` drops the closure there.

use std::ops::{Deref, DerefMut};
use std::os::fd::{AsFd, OwnedFd};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::sharer::{offer, take, Ticket};

/// A file or socket that can travel to another process, like Python's
/// pickled sockets in `multiprocessing`: `mp::Handed(conn)`. The receiver
/// gets its own descriptor for the same open file or connection (same
/// offset, same peer); the sender's copy closes when its `Handed` is dropped.
/// Derefs to the wrapped value; `Clone` duplicates the descriptor (`dup`).
pub struct Handed<T>(pub T);

impl<T> Handed<T> {
    /// The wrapped file or socket.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Handed<T> {
    fn from(value: T) -> Handed<T> {
        Handed(value)
    }
}

impl<T> Deref for Handed<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Handed<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// Another descriptor for the same open file or socket, as Python's `socket.dup()`.
impl<T: AsFd + From<OwnedFd>> Clone for Handed<T> {
    fn clone(&self) -> Handed<T> {
        let duplicate =
            self.0.as_fd().try_clone_to_owned().unwrap_or_else(|error| {
                panic!("cannot duplicate a handed file or socket: {error}")
            });
        Handed(T::from(duplicate))
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Handed<T> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "Handed({:?})", self.0)
    }
}

/// Encodes a ticket for a duplicate that waits for the receiver.
impl<T: AsFd> Serialize for Handed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let ticket = offer(self.0.as_fd()).map_err(|error| {
            serde::ser::Error::custom(super::refuse(format!(
                "cannot hand this file or socket to another process: {error}"
            )))
        })?;
        ticket.serialize(serializer)
    }
}

/// Takes the descriptor the ticket stands for from the sending process.
impl<'de, T: From<OwnedFd>> Deserialize<'de> for Handed<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let ticket = Ticket::deserialize(deserializer)?;
        let fd =
            take(&ticket).map_err(|message| serde::de::Error::custom(super::refuse(message)))?;
        Ok(Handed(T::from(fd)))
    }
}
