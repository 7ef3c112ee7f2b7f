//! check: answers run with a deadline, seen at work, judged in one line.

use super::{panic_text, run_program};
use crate::prelude::*;
use crate::println;

#[test]
fn an_answer_is_seen_in_its_threads_and_processes_and_judged() {
    let run = run_program(|| {
        fn piece() {
            let _seen = check::seen("piece");
            sleep(0.2);
        }
        let attempt = check::run(10.0, || {
            let threads: Vec<_> = (0..3).map(|_| threading::Thread::new(piece)).collect();
            threads.iter().for_each(|thread| thread.start());
            threads.iter().for_each(|thread| thread.join());
            let child = mp::Process::new(piece);
            child.start();
            child.join();
            42u32
        });
        assert_eq!(*attempt.value("unused"), 42);
        assert_eq!(attempt.sightings("piece").len(), 4);
        assert_eq!(attempt.threads("piece").len(), 4);
        assert_eq!(attempt.processes("piece").len(), 2);
        assert_eq!(attempt.most_at_once("piece"), 3);
        assert!(attempt.seconds() >= 0.4, "{}", attempt.seconds());
        assert!(!attempt.processes("piece").contains(&getpid()));
        // Outside a check, seeing costs nothing and goes nowhere.
        piece();
        check::pass("all seen");
    });
    run.assert_ok();
    assert!(run.stdout.contains("✅ 通过:all seen"), "{}", run.stdout);
}

#[test]
fn a_stub_a_panic_a_hang_and_work_left_running_each_fail_with_their_reason() {
    let run = run_program(|| {
        let stub = check::run(10.0, || -> u32 { todo!() });
        let reason = panic_text(|| *stub.value("unused"));
        assert!(reason.contains("还没有完成"), "{reason}");

        let broken = check::run(10.0, || -> u32 { panic!("index out of bounds") });
        let reason = panic_text(|| *broken.value("unused"));
        assert!(reason.contains("index out of bounds"), "{reason}");

        let started = std::time::Instant::now();
        let hung = check::run(1.0, || -> u32 {
            let queue = queue::Queue::<u32>::new();
            queue.get()
        });
        assert!(started.elapsed().as_secs_f64() < 5.0);
        let reason = panic_text(|| *hung.value("是不是忘了放结束标志?"));
        assert!(reason.contains("忘了放结束标志"), "{reason}");

        let lingering = check::run(1.0, || -> u32 {
            threading::Thread::new(|| loop {
                sleep(0.05);
            })
            .start();
            7
        });
        let reason = panic_text(|| *lingering.value("忘了 .daemon(true)?"));
        assert!(
            reason.contains("没有结束") && reason.contains("daemon"),
            "{reason}"
        );
        println!("nothing left: {}", mp::active_children().len());
    });
    run.assert_ok();
    assert!(run.stdout.contains("nothing left: 0"), "{}", run.stdout);
    // The stub's and the panic's own reports stay quiet: the check reports.
    assert!(
        !run.stderr.contains("not yet implemented"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("Process MainProcess"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_failed_check_prints_its_hint_and_ends_the_cell_as_an_assertion_error() {
    let run = run_program(|| {
        check::that(1 + 1 == 2, "never shown");
        let hint = panic_text(|| check::that(false, "结果应当是 385"));
        assert_eq!(hint, "结果应当是 385");
        // As a cell that evcxr saw panic: the panic becomes the cell's error.
        let _ = std::panic::catch_unwind(|| check::fail("还差一点"));
        crate::output::before_stdout("EVCXR_PANIC_NOTIFICATION\n");
    });
    run.assert_ok();
    assert!(run.stdout.contains("❌ 结果应当是 385\n"), "{}", run.stdout);
    assert!(!run.stdout.contains("never shown"), "{}", run.stdout);
    assert_eq!(run.error_names(), ["AssertionError"]);
}
