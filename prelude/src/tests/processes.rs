//! mp: processes, queues, pipes, values, pools, managers.

use super::{panic_text, run_program};
use crate::prelude::*;
use crate::println;

#[test]
fn a_process_runs_its_closure_and_reports_its_exit_code() {
    let run = run_program(|| {
        let message = String::from("hello from the child");
        let process = mp::Process::new(move || {
            println!("{message} {}", mp::current_process());
            assert_ne!(getpid(), getppid());
            sleep(0.1);
        });
        assert!(process.pid().is_none() && process.exitcode().is_none());
        assert!(mp::active_children().is_empty());
        assert!(!process.is_alive());
        process.start();
        assert_eq!(mp::active_children().len(), 1);
        process.join();
        process.join();
        assert!(mp::active_children().is_empty());
        assert_eq!(process.exitcode(), Some(0));
        assert!(process.pid().is_some());
        println!("parent sees {process}");
    });
    run.assert_ok();
    assert!(
        run.stdout
            .contains("hello from the child <Process name='Process-1' pid="),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("parent sees <Process name='Process-1' pid="),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(" stopped>"), "{}", run.stdout);
}

#[test]
fn a_panicking_child_prints_like_python_and_exits_with_1() {
    let run = run_program(|| {
        let process = mp::Process::new(|| panic!("boom in child")).name("worker");
        process.start();
        process.join();
        assert_eq!(process.exitcode(), Some(1));
        let killed = mp::Process::new(|| sleep(10.0));
        killed.start();
        killed.terminate();
        killed.join();
        assert_eq!(killed.exitcode(), Some(-15));
        println!("{killed}");
    });
    run.assert_ok();
    assert!(
        run.stderr.contains("Process worker:\npanicked at"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("boom in child"), "{}", run.stderr);
    assert!(run.stdout.contains("exitcode=-SIGTERM"), "{}", run.stdout);
}

#[test]
fn misuse_of_a_process_panics_with_pythons_words() {
    let run = run_program(|| {
        let process = mp::Process::new(|| {});
        process.start();
        let twice = panic_text(|| process.start());
        assert_eq!(twice, "cannot start a process twice");
        let late = panic_text(|| process.daemon(true));
        assert!(late.contains("process has already started"));
        process.join();
    });
    // The caught panics were reported as events; the program still exited cleanly.
    assert_eq!(run.exit_code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn queues_pipes_and_values_cross_processes() {
    let run = run_program(|| {
        let queue = mp::Queue::<(u32, String)>::new();
        let (left, right) = mp::Pipe::<String>::new();
        let counter = mp::Value::<i64>::new(0);
        let producers: Vec<_> = (0..2)
            .map(|_| {
                let (queue, counter) = (queue.clone(), counter.clone());
                mp::Process::new(move || {
                    for index in 0..500 {
                        queue.put((index, format!("item {index}")));
                        *counter.get_lock() += 1;
                    }
                })
            })
            .collect();
        let echo = mp::Process::new(move || right.send(format!("echo {}", right.recv())));
        for process in producers.iter().chain([&echo]) {
            process.start();
        }
        left.send("ping".to_string());
        assert_eq!(left.recv(), "echo ping");
        let mut received: Vec<u32> = (0..1000).map(|_| queue.get().0).collect();
        assert_eq!(queue.get_timeout(0.05), Err(Error::Empty));
        for process in &producers {
            process.join();
        }
        assert_eq!(counter.get(), 1000);
        received.sort_unstable();
        assert_eq!(received.len(), 1000);
        let small = mp::Queue::<u8>::with_maxsize(1);
        small.put(1);
        assert!(small.full());
        assert_eq!(small.put_nowait(2), Err(Error::Full));
        assert_eq!(small.get_nowait(), Ok(1));
    });
    run.assert_ok();
}

fn square(x: u64) -> u64 {
    x * x
}

fn fail(x: u64) -> u64 {
    panic!("task {x} failed")
}

fn worker_pid(_: ()) -> u32 {
    getpid()
}

fn drain(queue: mp::QueueProxy<String>) -> usize {
    let mut count = 0;
    while queue.get() != "stop" {
        count += 1;
    }
    count
}

fn take_plain_queue(_queue: mp::Queue<u8>) {}

#[test]
fn a_pool_reuses_its_workers_keeps_order_and_returns_panics() {
    let run = run_program(|| {
        let pool = mp::Pool::new(2);
        assert_eq!(
            pool.map(square, 0..20u64),
            (0..20u64).map(|x| x * x).collect::<Vec<_>>()
        );
        assert_eq!(pool.apply(square, 7), 49);
        let failed = pool.apply_async(fail, 3);
        assert_eq!(
            failed.get(),
            Err(Error::TaskPanicked("task 3 failed".to_string()))
        );
        let pids: std::collections::HashSet<u32> =
            (0..20).map(|_| pool.apply(worker_pid, ())).collect();
        assert!(
            pids.iter().all(|pid| pool.pids().contains(pid)),
            "{pids:?} vs {:?}",
            pool.pids()
        );
        let still_running = panic_text(|| pool.join());
        assert!(still_running.contains("Pool is still running"));

        let proxy = mp::Manager::new().queue::<String>();
        let counted = pool.apply_async(drain, proxy.clone());
        for word in ["a", "b", "c", "stop"] {
            proxy.put(word.to_string());
        }
        assert_eq!(counted.get(), Ok(3));

        let plain = panic_text(|| pool.apply_async(take_plain_queue, mp::Queue::new()));
        assert!(plain
            .contains("Queue objects should only be shared between processes through inheritance"));
        pool.close();
        pool.join();
    });
    run.assert_ok();
}

fn die(code: i32) -> i32 {
    // SAFETY: ends this worker at once, as a crash would.
    unsafe { libc::_exit(code) }
}

#[test]
fn a_pool_survives_dead_workers_and_code_from_later_cells() {
    let run = run_program(|| {
        let pool = mp::Pool::new(2);
        let died = pool.apply_async(die, 7).get().unwrap_err();
        assert!(
            matches!(&died, Error::WorkerDied(message) if message.contains("exit code 7")),
            "{died}"
        );
        assert_eq!(pool.map(square, 0..10u64).len(), 10);
        let before = pool.pids();
        pool.forget_loaded_code();
        assert_eq!(pool.apply(square, 9), 81);
        let after = pool.pids();
        assert!(
            before.iter().all(|pid| !after.contains(pid)),
            "{before:?} then {after:?}"
        );
        pool.terminate();
        pool.join();
    });
    run.assert_ok();
}

#[test]
fn a_fork_storm_is_refused_before_anything_forks() {
    let run = run_program(|| {
        let message = panic_text(|| mp::Pool::new(100_000));
        assert!(message.contains("at most 256 live processes"), "{message}");
        assert_eq!(
            crate::state::state()
                .live_processes
                .load(std::sync::atomic::Ordering::SeqCst),
            0
        );
    });
    assert_eq!(run.exit_code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn children_get_their_own_random_numbers_and_no_stdin() {
    let run = run_program(|| {
        let queue = mp::Queue::<u64>::new();
        for _ in 0..2 {
            let queue = queue.clone();
            mp::Process::new(move || queue.put(randint(0, i64::MAX) as u64)).start();
        }
        assert_ne!(queue.get(), queue.get());
        let asking = mp::Process::new(|| {
            input("name?");
        });
        asking.start();
        asking.join();
        assert_eq!(asking.exitcode(), Some(1));
    });
    run.assert_ok();
    assert!(
        run.stderr
            .contains("input() cannot be used in a child process"),
        "{}",
        run.stderr
    );
}

#[test]
fn long_lines_from_several_processes_stay_whole() {
    let run = run_program(|| {
        for letter in ['a', 'b', 'c'] {
            mp::Process::new(move || {
                let line: String = std::iter::repeat_n(letter, 4000).collect();
                for _ in 0..100 {
                    println!("{line}");
                }
            })
            .start();
        }
    });
    run.assert_ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 300);
    for line in lines {
        assert_eq!(line.len(), 4000);
        assert!(
            line.chars()
                .all(|letter| letter == line.as_bytes()[0] as char),
            "a torn line"
        );
    }
}
