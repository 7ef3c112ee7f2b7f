//! asyncio: gather, tasks, coroutine sleeps, streams, fork and interrupts.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::runtime::interrupt_after;
use super::{panic_text, run_program};
use crate::prelude::*;
use crate::println;

async fn echo(mut reader: asyncio::StreamReader, mut writer: asyncio::StreamWriter) {
    loop {
        let line = reader.readline().await;
        if line.is_empty() {
            break;
        }
        writer.write(format!("echo {line}"));
        writer.drain().await;
    }
    writer.close().await;
}

/// Sends `lines` to the echo server on `port` and returns what came back.
async fn talk(port: u16, lines: Vec<String>) -> Vec<String> {
    let (mut reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await;
    let mut replies = Vec::new();
    for line in lines {
        writer.write(format!("{line}\n"));
        writer.drain().await;
        replies.push(reader.readline().await.trim_end().to_string());
    }
    writer.close().await;
    assert_eq!(reader.readline().await, "", "the server closes after us");
    replies
}

/// 100 coroutines that each sleep 0.3 s, gathered; their results and seconds.
fn hundred_sleeps() -> (Vec<u32>, f64) {
    let started = Instant::now();
    let results = asyncio::run(asyncio::gather((0..100).map(|i| async move {
        asyncio::sleep(0.3).await;
        i
    })));
    (results, started.elapsed().as_secs_f64())
}

#[test]
fn gather_keeps_input_order_and_sleeps_overlap() {
    let run = run_program(|| {
        // The later futures finish first; the values still come in input order.
        let order = Rc::new(RefCell::new(Vec::new()));
        let values = asyncio::run(asyncio::gather((0..5u32).map(|i| {
            let order = Rc::clone(&order);
            async move {
                asyncio::sleep(0.05 * (5 - i) as f64).await;
                order.borrow_mut().push(i);
                i * 10
            }
        })));
        assert_eq!(values, [0, 10, 20, 30, 40]);
        assert_eq!(*order.borrow(), [4, 3, 2, 1, 0]);
        let (results, seconds) = hundred_sleeps();
        assert_eq!(results, (0..100).collect::<Vec<_>>());
        // 100 × 0.3 s one after another would be 30 s: a generous bound
        // that only concurrency meets, not a speed claim.
        assert!(seconds < 10.0, "100 sleeps took {seconds:.1} s");
        // gather of nothing, and of futures borrowing a local.
        let empty: Vec<u8> = asyncio::run(asyncio::gather(Vec::<std::future::Ready<u8>>::new()));
        assert!(empty.is_empty());
        let words = ["a", "b"];
        let lengths = asyncio::run(asyncio::gather(
            words.iter().map(|w| async move { w.len() }),
        ));
        assert_eq!(lengths, [1, 1]);
    });
    run.assert_ok();
}

#[test]
fn create_task_runs_beside_its_maker_and_gives_its_value() {
    let run = run_program(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let note = |text: &'static str| {
            let log = Rc::clone(&log);
            move || log.borrow_mut().push(text)
        };
        let (task_note, dropped_note, main_note) =
            (note("task"), note("dropped task"), note("main"));
        let value = asyncio::run(async {
            let task = asyncio::create_task(async move {
                asyncio::sleep(0.05).await;
                task_note();
                7
            });
            // Dropping a task's handle lets it run on, as in Python.
            drop(asyncio::create_task(async move {
                asyncio::sleep(0.1).await;
                dropped_note();
            }));
            assert!(!task.done());
            main_note();
            asyncio::sleep(0.2).await;
            assert!(task.done());
            task.await
        });
        assert_eq!(value, 7);
        assert_eq!(*log.borrow(), ["main", "task", "dropped task"]);
        // A task still sleeping when run() ends is dropped, not waited for.
        let started = Instant::now();
        asyncio::run(async {
            drop(asyncio::create_task(asyncio::sleep(30.0)));
            let cancelled = asyncio::create_task(async { println!("never printed") });
            cancelled.cancel();
        });
        assert!(started.elapsed() < Duration::from_secs(5));
        println!("printed from a coroutine");
    });
    run.assert_ok();
    assert!(!run.stdout.contains("never printed"), "{}", run.stdout);
    assert!(run.stdout.contains("printed from a coroutine"));
}

#[test]
fn an_echo_server_serves_clients_concurrently() {
    let run = run_program(|| {
        let replies = asyncio::run(async {
            let mut server = asyncio::start_server(echo, "127.0.0.1", 0).await;
            let port = server.port();
            let clients = (0..20).map(|client| {
                talk(
                    port,
                    (0..3)
                        .map(|i| format!("client {client} line {i}"))
                        .collect(),
                )
            });
            let replies = asyncio::gather(clients).await;
            server.close();
            replies
        });
        assert_eq!(replies.len(), 20);
        assert_eq!(
            replies[7],
            [
                "echo client 7 line 0",
                "echo client 7 line 1",
                "echo client 7 line 2"
            ]
        );
        let refused = panic_text(|| {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|free| free.local_addr())
                .expect("a free port")
                .port();
            asyncio::run(asyncio::open_connection("127.0.0.1", port))
        });
        assert!(refused.contains("ConnectionRefusedError"), "{refused}");
    });
    run.assert_ok();
}

#[test]
fn asyncio_runs_in_the_parent_and_in_forked_children() {
    let run = run_program(|| {
        let (results, _) = hundred_sleeps();
        assert_eq!(results.len(), 100);
        let queue: mp::Queue<usize> = mp::Queue::new();
        let children: Vec<mp::Process> = (0..2)
            .map(|_| {
                let queue = queue.clone();
                let child = mp::Process::new(move || {
                    let (results, _) = hundred_sleeps();
                    let replies = asyncio::run(async {
                        let server = asyncio::start_server(echo, "127.0.0.1", 0).await;
                        talk(server.port(), vec!["hi".to_string()]).await
                    });
                    assert_eq!(replies, ["echo hi"]);
                    queue.put(results.len());
                });
                child.start();
                child
            })
            .collect();
        // A child forked while a loop runs gets no loop of its parent's.
        asyncio::run(async {
            let queue = queue.clone();
            let child = mp::Process::new(move || queue.put(asyncio::run(async { 5 })));
            child.start();
            asyncio::sleep(0.01).await;
            child.join();
            assert_eq!(child.exitcode(), Some(0));
        });
        for child in &children {
            child.join();
            assert_eq!(child.exitcode(), Some(0));
        }
        let mut got: Vec<usize> = (0..3).map(|_| queue.get()).collect();
        got.sort();
        assert_eq!(got, [5, 100, 100]);
        assert_eq!(hundred_sleeps().0.len(), 100);
    });
    run.assert_ok();
}

#[test]
fn a_panicking_task_is_the_runs_error_not_a_hang() {
    let run = run_program(|| {
        let started = Instant::now();
        let text = panic_text(|| {
            asyncio::run(async {
                drop(asyncio::create_task(async { panic!("task trouble") }));
                asyncio::sleep(30.0).await;
            })
        });
        assert!(text.contains("task trouble"), "{text}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let nested = panic_text(|| asyncio::run(async { asyncio::run(async {}) }));
        assert!(nested.contains("running event loop"), "{nested}");
        let outside = panic_text(|| asyncio::create_task(async {}));
        assert!(outside.contains("no running event loop"), "{outside}");
        // The loop was torn down on the way out: run works again.
        assert_eq!(asyncio::run(async { 1 }), 1);
    });
    run.assert_ok();
}

#[test]
fn an_interrupt_stops_asyncio_run_like_a_sleep() {
    let run = run_program(|| {
        interrupt_after(Duration::from_millis(100));
        let started = Instant::now();
        let unwound = std::panic::catch_unwind(|| {
            asyncio::run(async {
                let server = asyncio::start_server(echo, "127.0.0.1", 0).await;
                let _client = asyncio::open_connection("127.0.0.1", server.port()).await;
                asyncio::sleep(30.0).await;
            })
        })
        .unwrap_err();
        assert!(unwound.is::<KeyboardInterrupt>());
        assert!(started.elapsed() < Duration::from_secs(2));
    });
    run.assert_ok();
    assert_eq!(run.error_names(), ["KeyboardInterrupt"], "{}", run.stdout);
}
