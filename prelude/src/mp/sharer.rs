//! The descriptor sharer: how an open file or socket reaches another process
//! (Python's `multiprocessing.resource_sharer`). A descriptor is only a
//! number in its process's table, so it cannot travel as bytes; the kernel
//! copies the open file itself into a receiver's table when it comes as
//! `SCM_RIGHTS` ancillary data on a Unix socket.
//!
//! The sender [`offer`]s a duplicate of the descriptor: it is kept here under a
//! fresh key, and a helper thread listens on an abstract Unix socket
//! (`multitask-fds-<pid>-<nanos>`, no file to clean up). What travels in the
//! message is a [`Ticket`]: that address and the key. The receiver [`take`]s
//! it: connects, writes the key, and receives one status byte with the
//! descriptor attached. A key is served once; the helper thread closes its
//! socket and exits when nothing waits any more (the next offer starts a new
//! one at a new address), so an idle process holds no descriptor of ours.
//!
//! Why a helper thread rather than a socketpair each queue or pool makes
//! before forking: a descriptor has to reach whichever process reads the
//! message, and with several readers on one queue the socketpair cannot know
//! which one that is (a reader could receive a descriptor meant for the
//! message another reader took). A connection per ticket pairs them
//! exactly, and works for every path a message takes (pool arguments and
//! results, `mp::Queue`, `Pipe`, `Manager` proxies, processes forked later),
//! as Python's does. The price is Python's too: the sender must still be
//! alive when the receiver takes the descriptor; if not, [`take`] says so.
//!
//! Fork hazards: [`hold_for_fork`] takes the registry's lock across every
//! fork, so the helper thread never holds it in a child, and the child closes
//! its copies of the waiting duplicates and of the helper's sockets (a copy
//! left open in a child would keep a handed TCP connection open after both
//! real owners closed it, and keep a dead address answering). The helper
//! thread holds the lock only for bookkeeping, never while it waits.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::records::records;
use crate::interrupt::wait_for;
use crate::state::{state, State};
use crate::sync::MutexGuard;

/// The longest a receiver waits for the sender's helper thread to answer.
const TAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest the helper thread waits for a connected receiver's key.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Status byte: the descriptor is attached.
const FOUND: u8 = 0;
/// Status byte: no descriptor waits under that key (taken already).
const UNKNOWN: u8 = 1;

/// What travels in place of a descriptor: where and under which key it waits.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Ticket {
    sender_pid: u32,
    address: String,
    key: u64,
}

/// This process's offered descriptors and its helper thread's sockets.
#[derive(Default)]
pub(crate) struct Shares {
    next_key: u64,
    /// Duplicates waiting for their receiver, by key.
    waiting: HashMap<u64, OwnedFd>,
    /// The helper thread's address and listening socket while it runs.
    listener: Option<(String, RawFd)>,
    /// The connection the helper thread is answering, if any.
    serving: Option<RawFd>,
}

/// Keeps a duplicate of `fd` for another process to take; returns its ticket.
pub(crate) fn offer(fd: BorrowedFd<'_>) -> io::Result<Ticket> {
    let duplicate = fd.try_clone_to_owned()?;
    let state = state();
    let mut shares = records(state).fd_shares.lock();
    let address = match &shares.listener {
        Some((address, _)) => address.clone(),
        None => {
            let (address, listener) = listen()?;
            let listener_fd = listener.as_raw_fd();
            std::thread::Builder::new()
                .name("multitask-fd-sharer".to_string())
                .spawn(move || serve(state, listener))?;
            shares.listener = Some((address.clone(), listener_fd));
            address
        }
    };
    let key = shares.next_key;
    shares.next_key += 1;
    shares.waiting.insert(key, duplicate);
    Ok(Ticket {
        sender_pid: std::process::id(),
        address,
        key,
    })
}

/// Receives the descriptor `ticket` stands for from its sender; the error
/// says in plain words why it cannot (sender gone, taken already, no answer).
pub(crate) fn take(ticket: &Ticket) -> Result<OwnedFd, String> {
    let sender = ticket.sender_pid;
    let gone = || {
        format!(
            "the file or socket handed by process {sender} is no longer offered: that process \
             ended (or dropped what it handed) before this one received it; keep the sender \
             alive until the receiver has taken it"
        )
    };
    let address = SocketAddr::from_abstract_name(ticket.address.as_bytes()).map_err(|_| gone())?;
    let connection = UnixStream::connect_addr(&address).map_err(|_| gone())?;
    let asked = connection
        .set_write_timeout(Some(REQUEST_TIMEOUT))
        .and_then(|()| (&connection).write_all(&ticket.key.to_le_bytes()));
    if asked.is_err() {
        return Err(gone());
    }
    let answer = wait_for(Some(Instant::now() + TAKE_TIMEOUT), |slice| {
        let slice = slice.max(Duration::from_millis(1));
        if let Err(error) = connection.set_read_timeout(Some(slice)) {
            return Some(Err(error));
        }
        match receive_with_fd(&connection) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => None,
            outcome => Some(outcome),
        }
    });
    match answer {
        Some(Ok((Some(FOUND), Some(fd)))) => Ok(fd),
        Some(Ok((Some(UNKNOWN), _))) => Err(format!(
            "the file or socket handed by process {sender} was already taken: a handed \
             descriptor can be received once"
        )),
        Some(Ok(_)) | Some(Err(_)) => Err(gone()),
        None => Err(format!(
            "process {sender} did not hand over its file or socket within {} s",
            TAKE_TIMEOUT.as_secs()
        )),
    }
}

/// The registry's lock, held by the forking thread across `fork`.
pub(crate) struct ForkHold(MutexGuard<'static, Shares>);

/// Takes the registry's lock before a fork (see the module doc).
pub(crate) fn hold_for_fork() -> ForkHold {
    ForkHold(records(state()).fd_shares.lock())
}

impl ForkHold {
    /// In the child: closes its copies of the waiting duplicates and of the
    /// helper thread's sockets (the helper thread was not copied).
    pub(crate) fn close_in_child(mut self) {
        let shares = &mut *self.0;
        shares.waiting.clear();
        for fd in [
            shares.listener.take().map(|(_, fd)| fd),
            shares.serving.take(),
        ]
        .into_iter()
        .flatten()
        {
            // SAFETY: the helper thread's sockets, which nothing else in this
            // child owns or will close (the thread that owned them is not here).
            unsafe { libc::close(fd) };
        }
    }
}

/// A new abstract listening socket, named after this process and the time.
fn listen() -> io::Result<(String, UnixListener)> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let address = format!("multitask-fds-{}-{nanos}", std::process::id());
    let listener = UnixListener::bind_addr(&SocketAddr::from_abstract_name(address.as_bytes())?)?;
    Ok((address, listener))
}

/// The helper thread: answers receivers one at a time until nothing waits.
fn serve(state: &'static State, listener: UnixListener) {
    loop {
        let Ok((connection, _)) = listener.accept() else {
            // Out of descriptors, most likely: try again soon rather than spin.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        records(state).fd_shares.lock().serving = Some(connection.as_raw_fd());
        let key = read_key(&connection);
        // Only this thread removes entries, so the descriptor stays open
        // while it is sent without the lock.
        let offered = key.and_then(|key| {
            let shares = records(state).fd_shares.lock();
            shares.waiting.get(&key).map(|fd| fd.as_raw_fd())
        });
        let _ = match offered {
            // SAFETY: `fd` is a waiting duplicate, open until removed below.
            Some(fd) => send_with_fd(&connection, FOUND, unsafe { BorrowedFd::borrow_raw(fd) }),
            None => (&connection).write_all(&[UNKNOWN]),
        };
        let mut shares = records(state).fd_shares.lock();
        if let Some(key) = key {
            shares.waiting.remove(&key);
        }
        shares.serving = None;
        drop(connection);
        if shares.waiting.is_empty() {
            // Closed under the lock, so no fork copies a socket the registry forgot.
            shares.listener = None;
            drop(listener);
            return;
        }
    }
}

/// The key a receiver asks for, if it sends one in time.
fn read_key(connection: &UnixStream) -> Option<u64> {
    connection.set_read_timeout(Some(REQUEST_TIMEOUT)).ok()?;
    let mut key = [0u8; 8];
    (&*connection).read_exact(&mut key).ok()?;
    Some(u64::from_le_bytes(key))
}

/// Room for one `cmsghdr` carrying one descriptor, aligned for the header.
type ControlBuffer = [u64; 4];

/// A message header for the one byte `part` points at, with all of
/// `control` as room for ancillary data. It holds raw pointers to both, so
/// it must not outlive them (each caller uses it within its own frame).
fn one_byte_message(part: &mut libc::iovec, control: &mut ControlBuffer) -> libc::msghdr {
    // SAFETY: a zeroed msghdr is valid (null pointers, zero lengths).
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = part;
    message.msg_iovlen = 1;
    message.msg_control = control.as_mut_ptr().cast();
    message.msg_controllen = size_of::<ControlBuffer>() as _;
    message
}

/// Sends `status` with `fd` attached as `SCM_RIGHTS`.
fn send_with_fd(connection: &UnixStream, status: u8, fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut byte = [status];
    let mut part = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control: ControlBuffer = [0; 4];
    let mut message = one_byte_message(&mut part, &mut control);
    // SAFETY: CMSG_SPACE only computes a size.
    message.msg_controllen = unsafe { libc::CMSG_SPACE(size_of::<RawFd>() as u32) } as _;
    // SAFETY: the control buffer holds CMSG_SPACE(one fd) bytes, aligned for
    // cmsghdr, so the first header and its data lie inside it.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&message);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as _;
        libc::CMSG_DATA(header)
            .cast::<RawFd>()
            .write_unaligned(fd.as_raw_fd());
    }
    loop {
        // SAFETY: `message` points at live buffers; MSG_NOSIGNAL: a gone
        // receiver is an error, not SIGPIPE.
        let sent = unsafe { libc::sendmsg(connection.as_raw_fd(), &message, libc::MSG_NOSIGNAL) };
        if sent == 1 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Receives a status byte and the descriptor attached to it, if any;
/// `(None, None)` at end of stream. Extra descriptors are closed.
fn receive_with_fd(connection: &UnixStream) -> io::Result<(Option<u8>, Option<OwnedFd>)> {
    let mut byte = [0u8];
    let mut part = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control: ControlBuffer = [0; 4];
    let mut message = one_byte_message(&mut part, &mut control);
    let received = loop {
        // SAFETY: `message` points at live buffers; CLOEXEC as for any fd std opens.
        let received =
            unsafe { libc::recvmsg(connection.as_raw_fd(), &mut message, libc::MSG_CMSG_CLOEXEC) };
        if received >= 0 {
            break received;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    };
    let mut attached = None;
    // SAFETY: the kernel filled `message` and its control buffer; the CMSG
    // macros stay inside msg_controllen.
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(&message);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(header).cast::<RawFd>();
                let count =
                    ((*header).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / size_of::<RawFd>();
                for index in 0..count {
                    // The kernel installed these descriptors in our table: we own them.
                    let fd = OwnedFd::from_raw_fd(data.add(index).read_unaligned());
                    if attached.is_none() {
                        attached = Some(fd);
                    }
                }
            }
            header = libc::CMSG_NXTHDR(&message, header);
        }
    }
    Ok(((received == 1).then_some(byte[0]), attached))
}
