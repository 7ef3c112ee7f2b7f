//! mp::Handed: files and sockets handed to pool workers, through queues, and
//! inherited by forked processes; its errors; no descriptor left behind.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::run_program;
use crate::mp::{decode, encode};
use crate::prelude::*;

/// Both ends of a loopback TCP connection: (the server's, the client's).
fn connected_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let client = TcpStream::connect(listener.local_addr().expect("an address")).expect("connect");
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a timeout");
    let (server, _) = listener.accept().expect("accept");
    (server, client)
}

/// Everything the peer sends until it closes: only then does this return,
/// so it also proves that no process still holds the other end.
fn read_to_close(mut stream: TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a timeout");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("the peer closes");
    text
}

/// A UDP socket that waits at most 10 s for a datagram.
fn udp_socket() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("a loopback port");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a timeout");
    socket
}

/// The next datagram `socket` receives, as text.
fn datagram(socket: &UdpSocket) -> String {
    let mut buffer = [0u8; 64];
    let count = socket.recv(&mut buffer).expect("a datagram");
    String::from_utf8_lossy(&buffer[..count]).into_owned()
}

/// One socket of each kind on loopback, with the ends a test keeps.
struct Sockets {
    /// A connected stream to hand over, and its client end to read.
    server: TcpStream,
    stream_client: TcpStream,
    /// A listener to hand over, and where to connect to it.
    listener: TcpListener,
    address: std::net::SocketAddr,
    /// A datagram socket connected to `receiver`.
    sender: UdpSocket,
    receiver: UdpSocket,
}

fn loopback_sockets() -> Sockets {
    let (server, stream_client) = connected_pair();
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let address = listener.local_addr().expect("an address");
    let (sender, receiver) = (udp_socket(), udp_socket());
    sender
        .connect(receiver.local_addr().expect("an address"))
        .expect("connect");
    Sockets {
        server,
        stream_client,
        listener,
        address,
        sender,
        receiver,
    }
}

/// A fresh file in the temporary directory holding `text`, its offset at the end.
fn file_with(name: &str, text: &str) -> (File, PathBuf) {
    let path = std::env::temp_dir().join(format!("multitask-handed-{}-{name}", getpid()));
    let mut file = File::options()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .expect("a temporary file");
    file.write_all(text.as_bytes()).expect("write");
    (file, path)
}

/// The file's whole text; removes it.
fn take_text(path: PathBuf) -> String {
    let text = std::fs::read_to_string(&path).expect("the file");
    let _ = std::fs::remove_file(path);
    text
}

/// How many descriptors this process has open.
fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

fn answer_with_pid(mp::Handed(mut conn): mp::Handed<TcpStream>) -> u32 {
    writeln!(conn, "pid={}", getpid()).expect("write");
    getpid()
}

fn accept_and_answer(mp::Handed(listener): mp::Handed<TcpListener>) -> u32 {
    let (mut conn, _) = listener.accept().expect("a client");
    writeln!(conn, "pid={}", getpid()).expect("write");
    getpid()
}

fn send_pid(mp::Handed(socket): mp::Handed<UdpSocket>) -> u32 {
    socket
        .send(format!("pid={}", getpid()).as_bytes())
        .expect("send");
    getpid()
}

fn append_pid(mp::Handed(mut file): mp::Handed<File>) -> u64 {
    writeln!(file, "worker {}", getpid()).expect("write");
    file.stream_position().expect("an offset")
}

fn worker_descriptors(_: ()) -> usize {
    open_descriptors()
}

#[test]
fn each_kind_of_descriptor_reaches_a_pool_worker() {
    let run = run_program(|| {
        let pool = mp::Pool::new(2);
        let workers = pool.pids();

        let (server, client) = connected_pair();
        let pid = pool.apply(answer_with_pid, mp::Handed(server));
        assert!(workers.contains(&pid), "{pid} is not one of {workers:?}");
        assert_eq!(read_to_close(client), format!("pid={pid}\n"));

        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let address = listener.local_addr().expect("an address");
        let accepted = pool.apply_async(accept_and_answer, mp::Handed(listener));
        let client = TcpStream::connect(address).expect("the worker listens");
        let pid = accepted.get().expect("the task's value");
        assert_eq!(read_to_close(client), format!("pid={pid}\n"));

        let (sender, receiver) = (udp_socket(), udp_socket());
        sender
            .connect(receiver.local_addr().expect("an address"))
            .expect("connect");
        let pid = pool.apply(send_pid, mp::Handed(sender));
        assert_eq!(datagram(&receiver), format!("pid={pid}"));

        // Each worker writes where the sender stopped: they share the open file.
        let (files, paths): (Vec<_>, Vec<_>) = (0..4)
            .map(|index| file_with(&format!("pool-{index}"), &format!("sender {index}\n")))
            .unzip();
        let ends = pool.map(append_pid, files.into_iter().map(mp::Handed));
        for (index, (path, end)) in paths.into_iter().zip(ends).enumerate() {
            let text = take_text(path);
            let (head, tail) = text.split_once('\n').expect("two lines");
            assert_eq!(head, format!("sender {index}"));
            let writer: u32 = tail
                .trim_end()
                .trim_start_matches("worker ")
                .parse()
                .expect("a pid");
            assert!(workers.contains(&writer), "{text:?}");
            assert_eq!(end, text.len() as u64);
        }
        pool.close();
        pool.join();
    });
    run.assert_ok();
}

/// All four kinds in one message type, as a learner's own enum would carry them.
#[derive(Serialize, Deserialize)]
enum Descriptor {
    Stream(mp::Handed<TcpStream>),
    Listener(mp::Handed<TcpListener>),
    Datagram(mp::Handed<UdpSocket>),
    Log(mp::Handed<File>),
}

#[test]
fn files_and_sockets_travel_through_queues_both_ways() {
    let run = run_program(|| {
        let to_child = mp::Queue::<Descriptor>::new();
        let from_child = mp::Queue::<mp::Handed<File>>::new();
        let taken = mp::Queue::<()>::new();
        let child = {
            let (from_child, taken) = (from_child.clone(), taken.clone());
            let to_child = to_child.clone();
            mp::Process::new(move || {
                let pid = getpid();
                for _ in 0..4 {
                    match to_child.get() {
                        Descriptor::Stream(mp::Handed(mut conn)) => {
                            writeln!(conn, "pid={pid}").expect("write")
                        }
                        Descriptor::Listener(mp::Handed(listener)) => {
                            let (mut conn, _) = listener.accept().expect("a client");
                            writeln!(conn, "pid={pid}").expect("write");
                        }
                        Descriptor::Datagram(socket) => {
                            socket.send(format!("pid={pid}").as_bytes()).expect("send");
                        }
                        Descriptor::Log(mp::Handed(mut file)) => {
                            writeln!(file, "child {pid}").expect("write")
                        }
                    }
                }
                let (file, _) = file_with("from-child", "child's line\n");
                from_child.put(mp::Handed(file));
                // The sender must live until the receiver has taken it.
                taken.get();
            })
        };
        child.start();
        let pid = child.pid().expect("started");

        let Sockets {
            server,
            stream_client,
            listener,
            address,
            sender,
            receiver,
        } = loopback_sockets();
        let (log, log_path) = file_with("to-child", "parent's line\n");
        to_child.put(Descriptor::Stream(mp::Handed(server)));
        to_child.put(Descriptor::Listener(mp::Handed(listener)));
        to_child.put(Descriptor::Datagram(mp::Handed(sender)));
        to_child.put(Descriptor::Log(mp::Handed(log)));
        assert_eq!(read_to_close(stream_client), format!("pid={pid}\n"));
        let listener_client = TcpStream::connect(address).expect("the child listens");
        assert_eq!(read_to_close(listener_client), format!("pid={pid}\n"));
        assert_eq!(datagram(&receiver), format!("pid={pid}"));

        let mp::Handed(mut file) = from_child.get();
        writeln!(file, "parent's line").expect("write");
        file.rewind().expect("rewind");
        let mut text = String::new();
        file.read_to_string(&mut text).expect("read");
        assert_eq!(text, "child's line\nparent's line\n");
        taken.put(());
        child.join();
        assert_eq!(child.exitcode(), Some(0));
        assert_eq!(take_text(log_path), format!("parent's line\nchild {pid}\n"));
        let _ = std::fs::remove_file(
            std::env::temp_dir().join(format!("multitask-handed-{pid}-from-child")),
        );
    });
    run.assert_ok();
}

#[test]
fn a_forked_process_inherits_descriptors_and_the_parent_keeps_no_copy() {
    let run = run_program(|| {
        let Sockets {
            server,
            stream_client,
            listener,
            address,
            sender,
            receiver,
        } = loopback_sockets();
        let (mut log, log_path) = file_with("inherited", "parent\n");
        let child = mp::Process::new(move || {
            let pid = getpid();
            let mut server = server;
            writeln!(server, "pid={pid}").expect("write");
            drop(server);
            let (mut conn, _) = listener.accept().expect("a client");
            writeln!(conn, "pid={pid}").expect("write");
            sender.send(format!("pid={pid}").as_bytes()).expect("send");
            writeln!(log, "child").expect("write");
            sleep(1.0);
        });
        child.start();
        let pid = child.pid().expect("started");
        // The connection closes while the child still runs: `start()` closed
        // the parent's copy along with the closure.
        assert_eq!(read_to_close(stream_client), format!("pid={pid}\n"));
        assert!(child.is_alive());
        let client = TcpStream::connect(address).expect("the child listens");
        assert_eq!(read_to_close(client), format!("pid={pid}\n"));
        assert_eq!(datagram(&receiver), format!("pid={pid}"));
        child.join();
        assert_eq!(take_text(log_path), "parent\nchild\n");
    });
    run.assert_ok();
}

#[test]
fn a_handed_descriptor_is_taken_once_and_only_while_its_sender_lives() {
    let run = run_program(|| {
        let (first, first_path) = file_with("once-1", "");
        let (second, second_path) = file_with("once-2", "");
        let first = encode(&mp::Handed(first)).expect("offered");
        let second = encode(&mp::Handed(second)).expect("offered");
        assert!(decode::<mp::Handed<File>>(&first).is_ok());
        let again = decode::<mp::Handed<File>>(&first).expect_err("taken once");
        assert!(again.to_string().contains("already taken"), "{again}");
        assert!(decode::<mp::Handed<File>>(&second).is_ok());
        // Nothing waits now: the sharer's socket is closed.
        let closed = decode::<mp::Handed<File>>(&first).expect_err("nothing offered");
        assert!(closed.to_string().contains("no longer offered"), "{closed}");
        take_text(first_path);
        take_text(second_path);

        let queue = mp::Queue::<mp::Handed<File>>::new();
        let (file, path) = file_with("gone", "");
        let sender = {
            let queue = queue.clone();
            mp::Process::new(move || queue.put(mp::Handed(file)))
        };
        sender.start();
        sender.join();
        let gone = queue.get_timeout(5.0).expect_err("the sender is gone");
        let text = gone.to_string();
        assert!(text.contains("no longer offered"), "{text}");
        assert!(
            text.contains(&sender.pid().expect("started").to_string()),
            "{text}"
        );
        take_text(path);
    });
    run.assert_ok();
}

#[test]
fn a_process_forked_while_a_descriptor_waits_does_not_keep_it() {
    let run = run_program(|| {
        let (server, client) = connected_pair();
        let ticket = encode(&mp::Handed(server)).expect("offered");
        // Forked while the duplicate waits in the sharer: the child closes its
        // copy, or the connection would stay open until the child ends.
        let finish = mp::Queue::<()>::new();
        let bystander = {
            let finish = finish.clone();
            mp::Process::new(move || finish.get()).daemon(true)
        };
        bystander.start();
        let mp::Handed(taken) = decode::<mp::Handed<TcpStream>>(&ticket).expect("taken");
        drop(taken);
        assert_eq!(read_to_close(client), "");
        finish.put(());
        bystander.join();
    });
    run.assert_ok();
}

#[test]
fn handing_descriptors_leaks_none_in_either_process() {
    let run = run_program(|| {
        let pool = mp::Pool::new(1);
        let worker_before = pool.apply(worker_descriptors, ());
        let before = open_descriptors();
        for _ in 0..20 {
            let (server, client) = connected_pair();
            let pid = pool.apply(answer_with_pid, mp::Handed(server));
            assert_eq!(read_to_close(client), format!("pid={pid}\n"));
        }
        assert_eq!(pool.apply(worker_descriptors, ()), worker_before);
        // The sharer's thread closes its socket just after its last answer.
        let give_up = Instant::now() + Duration::from_secs(5);
        while open_descriptors() != before && Instant::now() < give_up {
            sleep(0.01);
        }
        assert_eq!(open_descriptors(), before);
        pool.close();
        pool.join();
    });
    run.assert_ok();
}
