//! Python's `multiprocessing`: real OS processes made with `fork`, and the
//! ways they talk — [`Queue`], [`Pipe`], shared [`Value`]s, a [`Pool`] of
//! reused workers and a [`Manager`] whose queues can be handed to pool tasks.
//! Values crossing a process boundary are encoded with `postcard`, so they
//! must implement [`Message`] (serde's `Serialize` + `Deserialize`); files
//! and sockets travel as [`Handed`] (their descriptor is passed with
//! `SCM_RIGHTS`, see `sharer.rs`).

pub(crate) mod code;
pub(crate) mod feeder;
pub(crate) mod fork;
mod handed;
mod manager;
mod pipe;
pub(crate) mod process;
mod process_pool;
mod process_queue;
mod records;
pub(crate) mod ring;
pub(crate) mod sharer;
pub(crate) mod shm;
mod value;
mod worker;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use crate::pool::AsyncResult;
pub use handed::Handed;
pub use manager::{Manager, QueueProxy};
pub use pipe::{Connection, Pipe};
pub use process::{active_children, current_process, CurrentProcess, Process};
pub use process_pool::Pool;
pub use process_queue::Queue;
pub use value::{SharedPlain, Value, ValueGuard};

/// A value that can travel to another process: anything serde can encode and
/// decode (numbers, strings, vectors, tuples, `#[derive(Serialize, Deserialize)]` types).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent to another process",
    label = "this value would have to cross a process boundary",
    note = "values sent between processes are encoded as bytes: use numbers, strings, Vec, tuples, \
            or a type with #[derive(serde::Serialize, serde::Deserialize)]; references, Rc, \
            closures and thread handles cannot travel; a file or socket (File, TcpStream, \
            TcpListener, UdpSocket) travels wrapped: mp::Handed(conn)"
)]
pub trait Message: Serialize + DeserializeOwned + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Send + 'static> Message for T {}

/// How many CPUs this machine has, like Python's `multiprocessing.cpu_count()`.
pub fn cpu_count() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
}

/// Encodes a value for another process.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, crate::Error> {
    // Most messages are small: one allocation instead of growing from empty.
    postcard::to_extend(value, Vec::with_capacity(64)).map_err(explain)
}

/// Decodes a value from another process.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, crate::Error> {
    postcard::from_bytes(bytes).map_err(explain)
}

/// Leaves `message` for [`encode`]/[`decode`] to report (postcard drops the
/// messages of custom serde errors); returns it for the error itself.
pub(crate) fn refuse(message: String) -> String {
    *crate::state::state().serde_refusal.lock() =
        Some((crate::sys::thread_ident(), message.clone()));
    message
}

/// The message our serde impl left for this thread, or postcard's own.
fn explain(error: postcard::Error) -> crate::Error {
    let refusal = crate::state::state().serde_refusal.lock().take();
    match refusal {
        Some((ident, message)) if ident == crate::sys::thread_ident() => {
            crate::Error::Serialization(message)
        }
        _ => crate::Error::Serialization(format!(
            "a value could not cross the process boundary: {error}"
        )),
    }
}
