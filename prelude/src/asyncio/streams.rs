//! Python's asyncio streams over TCP: [`start_server`] calls a handler with a
//! [`StreamReader`] and a [`StreamWriter`] for each connection,
//! [`open_connection`] returns the pair for a client. Sockets are
//! non-blocking; a read, write, accept or connect that would block waits for
//! the socket in the event loop, so the thread runs other tasks meanwhile.
//! Failures panic with Python's exception name, as the prelude's calls that
//! return plain values do.

use std::future::{poll_fn, Future};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::task::Poll;

use super::event_loop::with_loop;
use super::{create_task, Task};

/// Bytes a read asks the socket for at once.
const CHUNK: usize = 16 * 1024;

/// Waits until the loop has seen `events` on `fd` (one `poll(2)` report).
async fn readiness(fd: RawFd, events: libc::c_short) {
    let mut registered = false;
    poll_fn(|context| {
        with_loop("an asyncio stream", |event_loop| {
            if registered && !event_loop.is_waiting_for_fd(fd, events) {
                return Poll::Ready(());
            }
            registered = true;
            event_loop.wait_for_fd(fd, events, context.waker().clone());
            Poll::Pending
        })
    })
    .await
}

/// Repeats `attempt` on the non-blocking `fd` until it does not block.
async fn retry<T>(
    fd: RawFd,
    events: libc::c_short,
    mut attempt: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    loop {
        match attempt() {
            Err(error) if error.kind() == ErrorKind::WouldBlock => readiness(fd, events).await,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}

/// A connection shared by its reader and writer; closed when both are gone.
struct Connection {
    stream: TcpStream,
    peer: String,
}

impl Connection {
    fn split(stream: TcpStream) -> (StreamReader, StreamWriter) {
        let peer = (stream.peer_addr()).map_or_else(|_| "?".to_string(), |peer| peer.to_string());
        let connection = Rc::new(Connection { stream, peer });
        let reader = StreamReader {
            connection: Rc::clone(&connection),
            buffer: Vec::new(),
            at_eof: false,
        };
        let writer = StreamWriter {
            connection,
            pending: Vec::new(),
        };
        (reader, writer)
    }

    fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // The fd number is about to be free for reuse: no waits may name it.
        super::event_loop::with_running(|event_loop| event_loop.forget_fd(self.fd()));
    }
}

/// The reading half of a connection (Python's `asyncio.StreamReader`).
pub struct StreamReader {
    connection: Rc<Connection>,
    buffer: Vec<u8>,
    at_eof: bool,
}

impl StreamReader {
    /// Reads one line, its `\n` included, like Python's `await reader.readline()`;
    /// the last line may lack it, and an empty string means the other side
    /// closed. Bytes that are not UTF-8 become `�`.
    pub async fn readline(&mut self) -> String {
        loop {
            if let Some(end) = self.buffer.iter().position(|&byte| byte == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return String::from_utf8_lossy(&line).into_owned();
            }
            if self.at_eof {
                let rest = std::mem::take(&mut self.buffer);
                return String::from_utf8_lossy(&rest).into_owned();
            }
            self.fill().await;
        }
    }

    /// Reads up to `n` bytes, like Python's `await reader.read(n)`: what has
    /// arrived, at least one byte, or none once the other side closed.
    pub async fn read(&mut self, n: usize) -> Vec<u8> {
        if self.buffer.is_empty() && !self.at_eof {
            self.fill().await;
        }
        let take = n.min(self.buffer.len());
        self.buffer.drain(..take).collect()
    }

    /// Reads what the socket has into the buffer (waiting for it); notes EOF.
    async fn fill(&mut self) {
        let mut chunk = vec![0u8; CHUNK];
        let connection = &self.connection;
        let read = retry(connection.fd(), libc::POLLIN, || {
            (&connection.stream).read(&mut chunk)
        })
        .await;
        match read {
            Ok(0) => self.at_eof = true,
            Ok(count) => self.buffer.extend_from_slice(&chunk[..count]),
            Err(error) if error.kind() == ErrorKind::ConnectionReset => self.at_eof = true,
            Err(error) => panic!(
                "reading from {} failed: {error} (ConnectionError)",
                connection.peer
            ),
        }
    }
}

/// The writing half of a connection (Python's `asyncio.StreamWriter`):
/// [`write`](StreamWriter::write) keeps the bytes, `drain().await` sends them.
pub struct StreamWriter {
    connection: Rc<Connection>,
    pending: Vec<u8>,
}

impl StreamWriter {
    /// Queues `data` to send, like Python's `writer.write(data)`; follow it
    /// with `writer.drain().await`.
    pub fn write(&mut self, data: impl AsRef<[u8]>) {
        self.pending.extend_from_slice(data.as_ref());
    }

    /// Sends everything written so far, waiting while the socket is full,
    /// like Python's `await writer.drain()`.
    pub async fn drain(&mut self) {
        let connection = &self.connection;
        while !self.pending.is_empty() {
            let pending = &self.pending;
            let sent = retry(connection.fd(), libc::POLLOUT, || {
                (&connection.stream).write(pending)
            })
            .await;
            match sent {
                Ok(count) => {
                    self.pending.drain(..count);
                }
                Err(error) => panic!(
                    "sending to {} failed: {error} (ConnectionError)",
                    connection.peer
                ),
            }
        }
    }

    /// Sends what is queued, then closes this direction of the connection, so
    /// the other side reads an end (Python's `writer.close()` followed by
    /// `await writer.wait_closed()`).
    pub async fn close(&mut self) {
        self.drain().await;
        // Already closed by the peer is fine: there is nothing left to tell it.
        let _ = self.connection.stream.shutdown(Shutdown::Write);
    }

    /// The address of the other side, like Python's
    /// `writer.get_extra_info("peername")`.
    pub fn peername(&self) -> &str {
        &self.connection.peer
    }
}

/// A listening server started by [`start_server`] (Python's `asyncio.Server`).
/// It accepts connections while the loop runs, also after this value is
/// dropped; [`close`](Server::close) stops it.
pub struct Server {
    port: u16,
    accepting: Option<Task<()>>,
}

impl Server {
    /// The port the server listens on (useful after asking for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops accepting connections, like Python's `server.close()`;
    /// connections already accepted go on.
    pub fn close(&mut self) {
        if let Some(accepting) = self.accepting.take() {
            accepting.cancel();
        }
    }

    /// Serves until the cell is interrupted, like Python's
    /// `await server.serve_forever()`.
    pub async fn serve_forever(&mut self) {
        match self.accepting.as_mut() {
            Some(task) => task.await,
            None => panic!("serve_forever() on a closed server"),
        }
    }
}

/// Starts a TCP server on `host:port` (port 0: any free port, see
/// [`Server::port`]) that runs `handler(reader, writer)` as a new task for
/// every connection, like Python's `await asyncio.start_server(handler, host, port)`.
///
/// ```
/// use multitask::asyncio::{self, StreamReader, StreamWriter};
///
/// async fn echo(mut reader: StreamReader, mut writer: StreamWriter) {
///     loop {
///         let line = reader.readline().await;
///         if line.is_empty() {
///             break;
///         }
///         writer.write(line);
///         writer.drain().await;
///     }
/// }
///
/// let reply = asyncio::run(async {
///     let server = asyncio::start_server(echo, "127.0.0.1", 0).await;
///     let (mut reader, mut writer) = asyncio::open_connection("127.0.0.1", server.port()).await;
///     writer.write("hello\n");
///     writer.drain().await;
///     reader.readline().await
/// });
/// assert_eq!(reply, "hello\n");
/// ```
pub async fn start_server<H, F>(mut handler: H, host: &str, port: u16) -> Server
where
    H: FnMut(StreamReader, StreamWriter) -> F + 'static,
    F: Future<Output = ()> + 'static,
{
    let listener = TcpListener::bind((host, port))
        .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
        .unwrap_or_else(|error| {
            panic!("asyncio::start_server: cannot listen on {host}:{port}: {error} (OSError)")
        });
    let port = (listener.local_addr()).map_or(port, |address| address.port());
    let accepting = create_task(async move {
        let fd = listener.as_raw_fd();
        loop {
            let accepted = retry(fd, libc::POLLIN, || listener.accept()).await;
            let stream = match accepted
                .and_then(|(stream, _)| stream.set_nonblocking(true).map(|()| stream))
            {
                Ok(stream) => stream,
                // The client gave up before we accepted it: not the server's failure.
                Err(error) if error.kind() == ErrorKind::ConnectionAborted => continue,
                Err(error) => panic!("the server on port {port} cannot accept: {error} (OSError)"),
            };
            let (reader, writer) = Connection::split(stream);
            drop(create_task(handler(reader, writer)));
        }
    });
    Server {
        port,
        accepting: Some(accepting),
    }
}

/// Connects to `host:port` and returns the connection's reader and writer,
/// like Python's `reader, writer = await asyncio.open_connection(host, port)`.
pub async fn open_connection(host: &str, port: u16) -> (StreamReader, StreamWriter) {
    let addresses = (host, port).to_socket_addrs().unwrap_or_else(|error| {
        panic!("asyncio::open_connection: cannot resolve {host}: {error} (socket.gaierror)")
    });
    let mut last_error = None;
    for address in addresses {
        match connect(address).await {
            Ok(stream) => return Connection::split(stream),
            Err(error) => last_error = Some(error),
        }
    }
    let error = last_error.map_or_else(|| "no address".to_string(), |error| error.to_string());
    panic!("asyncio::open_connection: cannot connect to {host}:{port}: {error} (ConnectionRefusedError)")
}

/// A non-blocking connect (std's `TcpStream::connect` would block the whole
/// loop, and with it the server the loop may be running for this client).
async fn connect(address: SocketAddr) -> io::Result<TcpStream> {
    let domain = match address {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: socket has no memory preconditions.
    let fd = unsafe {
        libc::socket(
            domain,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    let started = match address {
        SocketAddr::V4(v4) => {
            let raw = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: `raw` is a valid sockaddr_in of the size given.
            unsafe {
                libc::connect(
                    fd,
                    (&raw as *const libc::sockaddr_in).cast(),
                    size_of_val(&raw) as libc::socklen_t,
                )
            }
        }
        SocketAddr::V6(v6) => {
            let raw = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: `raw` is a valid sockaddr_in6 of the size given.
            unsafe {
                libc::connect(
                    fd,
                    (&raw as *const libc::sockaddr_in6).cast(),
                    size_of_val(&raw) as libc::socklen_t,
                )
            }
        }
    };
    if started != 0 {
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(error);
        }
        readiness(fd, libc::POLLOUT).await;
        let stream = TcpStream::from(socket);
        return match stream.take_error()? {
            Some(error) => Err(error),
            None => Ok(stream),
        };
    }
    Ok(TcpStream::from(socket))
}
