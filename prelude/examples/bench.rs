//! The prelude's side of the benchmark: the programs of
//! `shared/anchors/python_anchor.py`, written with the prelude, each printed
//! as `name value unit` so `scripts/bench-prelude` can set them beside Python's.
//! With `MULTITASK_BENCH_TIMELINE=1` in the environment the whole run is
//! recorded as a `:timeline` cell (its picture is printed at the end), to
//! measure what recording costs.

use std::hint::black_box;
use std::time::Instant;

use multitask::prelude::*;
use multitask::println;

const N_SPAWN: usize = 200;
const N_QUEUE: usize = 1_000_000;
const N_POOL: u64 = 20_000;
const N_LOCK: u64 = 1_000_000;
const N_THREADS: usize = 2_000;
const N_BURN: u64 = 400_000_000;

fn noop() {}

fn square(x: u64) -> u64 {
    x * x
}

fn spawn_join_us() -> f64 {
    let started = Instant::now();
    for _ in 0..N_SPAWN {
        let process = mp::Process::new(noop);
        process.start();
        process.join();
    }
    started.elapsed().as_secs_f64() / N_SPAWN as f64 * 1e6
}

/// One process sends `N_QUEUE` 16-byte messages, then `None`, to another.
fn mp_queue_per_s() -> f64 {
    let queue = mp::Queue::<Option<[u8; 16]>>::new();
    let sender = queue.clone();
    let producer = mp::Process::new(move || {
        for index in 0..N_QUEUE {
            sender.put(Some([index as u8; 16]));
        }
        sender.put(None);
    });
    let started = Instant::now();
    producer.start();
    let mut received = 0;
    while queue.get().is_some() {
        received += 1;
    }
    producer.join();
    assert_eq!(received, N_QUEUE);
    N_QUEUE as f64 / started.elapsed().as_secs_f64()
}

fn manager_queue_per_s() -> f64 {
    let queue = mp::Manager::new().queue::<Option<u64>>();
    let sender = queue.clone();
    let producer = mp::Process::new(move || {
        for index in 0..N_QUEUE as u64 {
            sender.put(Some(index));
        }
        sender.put(None);
    });
    let started = Instant::now();
    producer.start();
    while queue.get().is_some() {}
    producer.join();
    N_QUEUE as f64 / started.elapsed().as_secs_f64()
}

fn thread_queue_per_s() -> f64 {
    let queue = queue::Queue::<Option<u64>>::new();
    let sender = queue.clone();
    let producer = threading::Thread::new(move || {
        for index in 0..N_QUEUE as u64 {
            sender.put(Some(index));
        }
        sender.put(None);
    });
    let started = Instant::now();
    producer.start();
    while queue.get().is_some() {}
    producer.join();
    N_QUEUE as f64 / started.elapsed().as_secs_f64()
}

fn pool_apply_async_per_s() -> f64 {
    let pool = mp::Pool::new(2);
    pool.apply(square, 0);
    let started = Instant::now();
    let pending: Vec<_> = (0..N_POOL)
        .map(|index| pool.apply_async(square, index))
        .collect();
    let total: u64 = pending
        .iter()
        .map(|result| result.get().expect("square works"))
        .sum();
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(total, (0..N_POOL).map(|index| index * index).sum::<u64>());
    pool.close();
    pool.join();
    N_POOL as f64 / elapsed
}

fn thread_start_join_us() -> f64 {
    let started = Instant::now();
    for _ in 0..N_THREADS {
        let thread = threading::Thread::new(noop);
        thread.start();
        thread.join();
    }
    started.elapsed().as_secs_f64() / N_THREADS as f64 * 1e6
}

fn lock_counter_s() -> f64 {
    let counter = threading::Lock::with_value(0u64);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let counter = counter.clone();
            threading::Thread::new(move || {
                for _ in 0..N_LOCK {
                    *counter.guard() += 1;
                }
            })
        })
        .collect();
    let started = Instant::now();
    workers.iter().for_each(threading::Thread::start);
    workers.iter().for_each(threading::Thread::join);
    assert_eq!(*counter.guard(), 2 * N_LOCK);
    started.elapsed().as_secs_f64()
}

fn burn(n: u64) -> u64 {
    let mut sum = 0u64;
    for index in 0..n {
        sum = sum.wrapping_add(black_box(index).wrapping_mul(index));
    }
    sum
}

fn cpu_threads_s(workers: u64) -> f64 {
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            threading::Thread::new(move || {
                black_box(burn(N_BURN / workers));
            })
        })
        .collect();
    let started = Instant::now();
    threads.iter().for_each(threading::Thread::start);
    threads.iter().for_each(threading::Thread::join);
    started.elapsed().as_secs_f64()
}

/// The smallest of `runs` measurements: the figure least disturbed by other
/// work on a shared machine.
fn best_of(runs: usize, measure: impl Fn() -> f64) -> f64 {
    (0..runs).map(|_| measure()).fold(f64::INFINITY, f64::min)
}

fn main() {
    multitask::attach();
    if std::env::var_os("MULTITASK_BENCH_TIMELINE").is_some() {
        // What the kernel does for a `:timeline` cell: arm, then start the next cell.
        multitask::timeline::begin();
        multitask::host::host()
            .cell
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    println!("spawn_join_fork_us {:.0} us", spawn_join_us());
    println!("mp_queue_msgs_per_s {:.0} msg/s", mp_queue_per_s());
    println!("thread_queue_msgs_per_s {:.0} msg/s", thread_queue_per_s());
    println!(
        "pool_apply_async_per_s {:.0} task/s",
        pool_apply_async_per_s()
    );
    println!(
        "manager_queue_msgs_per_s {:.0} msg/s",
        manager_queue_per_s()
    );
    println!(
        "thread_start_join_us {:.1} us",
        best_of(3, thread_start_join_us)
    );
    println!("lock_counter_2x1e6_s {:.4} s", lock_counter_s());
    println!("cpu_1thread_s {:.3} s", best_of(3, || cpu_threads_s(1)));
    println!("cpu_2threads_s {:.3} s", best_of(3, || cpu_threads_s(2)));
    multitask::end_cell();
}
