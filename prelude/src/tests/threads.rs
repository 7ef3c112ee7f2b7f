//! threading, queue and pool::ThreadPool.

use std::time::{Duration, Instant};

use super::{panic_text, run_program};
use crate::prelude::*;
use crate::println;

fn sing() {
    println!("{}", threading::current_thread());
    sleep(0.05);
}

#[test]
fn threads_are_registered_and_named_like_pythons() {
    let run = run_program(|| {
        let thread = threading::Thread::new(sing);
        thread.start();
        assert!(thread.ident().is_some() && thread.native_id().is_some());
        assert_eq!(threading::active_count(), 2);
        let names: Vec<String> = threading::enumerate()
            .iter()
            .map(|info| info.name().to_string())
            .collect();
        assert_eq!(names, ["MainThread", "Thread-1 (sing)"]);
        let late = panic_text(|| thread.daemon(true));
        assert!(late.contains("cannot set daemon status of active thread"));
        assert!(!thread.join_timeout(0.0));
        thread.join();
        thread.join();
        assert!(!thread.is_alive());
        assert_eq!(threading::active_count(), 1);
        // The next thread may run on the same OS thread: it still is itself.
        let second = threading::Thread::new(|| {
            assert_eq!(threading::current_thread().name(), "second");
            assert_eq!(threading::active_count(), 2);
        })
        .name("second");
        second.start();
        second.join();
        assert_eq!(threading::active_count(), 1);
        assert!(threading::current_thread()
            .to_string()
            .starts_with("<_MainThread(MainThread, started "));
        threading::Thread::new(|| panic!("thread trouble"))
            .name("bad")
            .start();
    });
    run.assert_ok();
    assert!(
        run.stdout.contains("<Thread(Thread-1 (sing), started "),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("Exception in thread bad:\npanicked at"),
        "{}",
        run.stderr
    );
}

#[test]
fn locks_count_correctly_and_time_out() {
    let run = run_program(|| {
        let counter = threading::Lock::with_value(0u64);
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let counter = counter.clone();
                threading::Thread::new(move || {
                    for _ in 0..100_000 {
                        *counter.guard() += 1;
                    }
                })
            })
            .collect();
        workers.iter().for_each(threading::Thread::start);
        workers.iter().for_each(threading::Thread::join);
        assert_eq!(*counter.guard(), 200_000);

        let lock = threading::Lock::new();
        lock.acquire();
        assert!(lock.locked());
        let started = Instant::now();
        assert!(!lock.acquire_timeout(0.05));
        assert!(started.elapsed() >= Duration::from_millis(50));
        let other = lock.clone();
        threading::Thread::new(move || other.release()).start();
        assert!(lock.acquire_timeout(5.0));
        lock.release();
        let unlocked = panic_text(|| lock.release());
        assert_eq!(unlocked, "release unlocked lock");
        {
            let _held = lock.guard();
            assert!(lock.locked());
        }
        assert!(!lock.locked());

        // A guard whose hold was released by hand, and the lock taken since
        // by another, leaves that other's hold alone when it ends.
        let held = lock.guard();
        lock.release();
        lock.acquire();
        drop(held);
        assert!(lock.locked(), "the guard ended a hold that was not its own");
        lock.release();

        let counter = threading::Lock::with_value(5);
        assert_eq!(counter.guard_timeout(0.05).map(|value| *value), Some(5));
        let held = counter.guard();
        let waiting = counter.clone();
        let refused = threading::Thread::new(move || {
            assert!(waiting.guard_timeout(0.05).is_none());
        });
        refused.start();
        refused.join();
        drop(held);
    });
    assert_eq!(run.exit_code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn events_and_thread_queues_coordinate_threads() {
    let run = run_program(|| {
        let stop = threading::Event::new();
        assert!(!stop.wait_timeout(0.01));
        let queue = queue::Queue::<u32>::new();
        let (worker_queue, worker_stop) = (queue.clone(), stop.clone());
        let worker = threading::Thread::new(move || {
            while !worker_stop.is_set() {
                if let Ok(item) = worker_queue.get_timeout(0.01) {
                    assert!(item < 10);
                    worker_queue.task_done();
                }
            }
        });
        worker.start();
        (0..10).for_each(|item| queue.put(item));
        queue.join();
        assert!(queue.empty());
        stop.set();
        worker.join();
        assert_eq!(queue.get_nowait(), Err(Error::Empty));
        let bounded = queue::Queue::with_maxsize(1);
        bounded.put(1);
        assert_eq!(bounded.put_timeout(2, 0.01), Err(Error::Full));
        let extra = panic_text(|| queue.task_done());
        assert_eq!(extra, "task_done() called too many times");
    });
    assert_eq!(run.exit_code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn a_thread_pool_keeps_order_and_returns_panics() {
    let run = run_program(|| {
        let pool = pool::ThreadPool::new(3);
        let offset = 10;
        assert_eq!(
            pool.map(move |x: i32| x + offset, 0..50),
            (10..60).collect::<Vec<_>>()
        );
        let failed = pool.apply_async(|| -> i32 { panic!("pool task failed") });
        assert_eq!(
            failed.get(),
            Err(Error::TaskPanicked("pool task failed".to_string()))
        );
        let running = panic_text(|| pool.join());
        assert!(running.contains("Pool is still running"));
        pool.close();
        pool.join();
    });
    assert_eq!(run.exit_code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!run.stderr.contains("pool task failed"), "{}", run.stderr);
}
