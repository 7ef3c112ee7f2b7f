//! Every cell's library links its own copy of the prelude (evcxr builds the
//! `:dep` crate as an rlib linked into each cell), so code of two copies
//! meets on the same objects: a thread started in an earlier cell runs that
//! cell's copy, the running cell its own, and both reach the one
//! process-wide state. These tests make two copies contend, on the state's
//! records and on a user's lock, and fail if a wake-up is lost between
//! them (a waiter asleep forever would leave the cell unanswered).

use std::time::Instant;

use crate::kernel::harness::Kernel;

/// Each cell churns threads for a while: every thread it starts runs on an
/// idle OS thread the cell before left behind when there is one, whose
/// loop (the earlier cell's copy) puts itself back on the state's idle list
/// while this cell's copy takes threads off it and records them; the
/// cell's end (the first copy's hook) reads the same records.
#[test]
fn threads_of_an_earlier_cell_and_the_running_cell_never_lose_a_wake_up() {
    let kernel = Kernel::start();
    kernel.run_ok(
        "let copies_count = threading::Lock::with_value(0u64);
         fn churn(seconds: f64, count: &threading::Lock<u64>) {
             let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
             let workers: Vec<_> = (0..3).map(|_| {
                 let (stop, count) = (stop.clone(), count.clone());
                 let worker = threading::Thread::new(move || {
                     while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                         let short = threading::Thread::new(|| {});
                         short.start();
                         *count.guard() += 1;
                         short.join();
                         let _ = short.native_id();
                     }
                 });
                 worker.start();
                 worker
             }).collect();
             sleep(seconds);
             stop.store(true, std::sync::atomic::Ordering::Relaxed);
             for worker in &workers { worker.join(); }
         }
         churn(1.0, &copies_count);",
    );
    // A new cell each time: each one is a new copy of the prelude.
    for cell in 0..4 {
        let began = Instant::now();
        // A lost wake-up leaves a waiter asleep for good: no reply comes.
        let out = kernel
            .run_ok(&format!(
                "churn(1.5, &copies_count);
                 println!(\"cell {cell}: threads churned {{}}\", *copies_count.guard());"
            ))
            .stream_text("stdout");
        assert!(
            out.contains(&format!("cell {cell}: threads churned")),
            "{out}"
        );
        eprintln!("cell {cell} took {:?}", began.elapsed());
    }
}
