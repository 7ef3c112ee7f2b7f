//! The kernel's side: cell-end semantics, interrupts, panics as events,
//! children dying with their parent, display and input lines.

use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::run_program;
use crate::host::{host, Event, EVENT_PREFIX};
use crate::prelude::*;
use crate::println;

#[test]
fn the_cell_end_joins_non_daemon_work_and_stops_daemons() {
    let run = run_program(|| {
        mp::Process::new(|| {
            sleep(0.1);
            println!("non-daemon process done");
        })
        .start();
        threading::Thread::new(|| {
            sleep(0.1);
            println!("non-daemon thread done");
        })
        .start();
        mp::Process::new(|| loop {
            sleep(0.01);
        })
        .daemon(true)
        .start();
        threading::Thread::new(|| loop {
            sleep(0.01);
        })
        .daemon(true)
        .start();
        println!("main code done");
    });
    run.assert_ok();
    let order: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(order[0], "main code done");
    assert!(
        run.stdout.contains("non-daemon process done")
            && run.stdout.contains("non-daemon thread done")
    );
}

#[test]
fn daemon_processes_end_before_the_other_children_are_waited_for() {
    // CPython's multiprocessing terminates daemons first at exit, then joins.
    let run = run_program(|| {
        mp::Process::new(|| loop {
            println!("daemon tick");
            std::thread::sleep(Duration::from_millis(10));
        })
        .daemon(true)
        .start();
        mp::Process::new(|| {
            sleep(0.4);
            println!("ordinary child done");
        })
        .start();
        sleep(0.05);
        println!("main code done");
    });
    run.assert_ok();
    let after_main = run
        .stdout
        .split("main code done")
        .nth(1)
        .expect("the main code's last line");
    let late_ticks = after_main.matches("daemon tick").count();
    assert!(
        late_ticks < 5,
        "the daemon went on while the ordinary child was waited for: {late_ticks} ticks"
    );
    assert!(after_main.contains("ordinary child done"), "{}", run.stdout);
}

#[test]
fn after_the_cell_end_daemon_threads_are_silent_and_unlisted() {
    let run = run_program(|| {
        threading::Thread::new(|| loop {
            println!("daemon tick");
            std::thread::sleep(Duration::from_millis(5));
        })
        .daemon(true)
        .start();
        sleep(0.05);
        assert_eq!(threading::active_count(), 2);
        crate::end_cell();
        println!("--- next cell ---");
        assert_eq!(threading::active_count(), 1);
        std::thread::sleep(Duration::from_millis(50));
    });
    run.assert_ok();
    let after = run
        .stdout
        .split("--- next cell ---")
        .nth(1)
        .expect("marker");
    assert!(!after.contains("daemon tick"), "{after}");
}

#[test]
fn an_interrupt_unwinds_the_cell_and_kills_its_processes() {
    let run = run_program(|| {
        let child = mp::Process::new(|| sleep(30.0));
        child.start();
        interrupt_after(Duration::from_millis(100));
        let started = Instant::now();
        let unwound = std::panic::catch_unwind(|| sleep(30.0)).unwrap_err();
        assert!(unwound.is::<KeyboardInterrupt>());
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(child.exitcode(), Some(-9));
    });
    run.assert_ok();
    assert_eq!(run.error_names(), ["KeyboardInterrupt"], "{}", run.stdout);
}

fn nap(seconds: u64) -> u64 {
    sleep(seconds as f64);
    seconds
}

/// Sets the kernel's interrupt flag after `delay`, as its SIGINT handler would.
pub(super) fn interrupt_after(delay: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        host().interrupted.store(true, Ordering::SeqCst);
    });
}

#[test]
fn an_interrupt_ends_pools_and_quietly_stops_the_cells_threads() {
    let run = run_program(|| {
        let pool = mp::Pool::new(2);
        threading::Thread::new(|| {
            sleep(30.0);
            println!("the thread went on after the interrupt");
        })
        .start();
        interrupt_after(Duration::from_millis(100));
        let unwound =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.apply(nap, 30)));
        assert!(unwound.unwrap_err().is::<KeyboardInterrupt>());
        assert_eq!(
            super::panic_text(|| pool.apply_async(nap, 0)),
            "Pool not running"
        );
    });
    run.assert_ok();
    assert!(!run.stdout.contains("went on"), "{}", run.stdout);
    assert_eq!(run.error_names(), ["KeyboardInterrupt"], "{}", run.stdout);
}

#[test]
fn an_interrupt_during_the_cell_end_stops_the_waiting() {
    let started = Instant::now();
    let run = run_program(|| {
        threading::Thread::new(|| sleep(30.0)).start();
        mp::Process::new(|| sleep(30.0)).start();
        interrupt_after(Duration::from_millis(100));
    });
    run.assert_ok();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(run.error_names(), ["KeyboardInterrupt"], "{}", run.stdout);
}

#[test]
fn a_panic_in_the_cell_becomes_an_error_event() {
    let run = run_program(|| {
        // What evcxr's generated code does around a cell that panics.
        if std::panic::catch_unwind(|| panic!("the cell failed")).is_err() {
            crate::println!("EVCXR_PANIC_NOTIFICATION");
        }
    });
    run.assert_ok();
    let errors: Vec<(String, String)> = run
        .events()
        .into_iter()
        .filter_map(|event| match event {
            Event::Error { ename, evalue, .. } => Some((ename, evalue)),
            _ => None,
        })
        .collect();
    assert_eq!(
        errors,
        [("panic".to_owned(), "the cell failed".to_owned())],
        "{}",
        run.stdout
    );
    assert!(!run.stderr.contains("backtrace"), "{}", run.stderr);
}

#[test]
fn a_panic_the_cell_catches_itself_is_no_error() {
    let run = run_program(|| {
        let _ = std::panic::catch_unwind(|| panic!("handled by the cell"));
    });
    run.assert_ok();
    assert!(!run.stdout.contains("\"ename\""), "{}", run.stdout);
}

#[test]
fn children_die_with_their_parent() {
    let pids = mp::Queue::<u32>::new();
    let sender = pids.clone();
    let run = run_program(move || {
        let reporting = move || {
            sender.put(getpid());
            sleep(30.0);
        };
        mp::Process::new(reporting.clone()).start();
        // Forked for a short-lived thread: it must outlive that thread, not the runtime.
        let helper = std::thread::spawn(move || {
            let helper = mp::Process::new(reporting);
            helper.start();
            helper
        })
        .join()
        .unwrap();
        sleep(0.2);
        assert!(helper.is_alive());
        // SAFETY: the runtime kills itself, as `kill -9` of the kernel would.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    });
    assert_eq!(run.exit_code, -9, "{}{}", run.stdout, run.stderr);
    for _ in 0..2 {
        let child = pids.get_timeout(5.0).expect("each child reported its pid");
        let deadline = Instant::now() + Duration::from_secs(5);
        while is_running(child) {
            assert!(Instant::now() < deadline, "a child outlived its parent");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Whether `pid` exists and is not a zombie.
fn is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

#[test]
fn display_and_clear_output_are_event_lines() {
    let run = run_program(|| {
        let shown = display::html("<b>hi</b>");
        shown.update_markdown("**hi**");
        clear_output();
        display::clear_output(true);
    });
    run.assert_ok();
    assert!(run
        .stdout
        .lines()
        .all(|line| line.starts_with(EVENT_PREFIX)));
    let events = run.events();
    let Some(Event::Display {
        display_id: Some(id),
        ..
    }) = events.first()
    else {
        panic!("a display with an id first: {events:?}");
    };
    assert_eq!(
        events,
        [
            Event::Display {
                data: vec![
                    ("text/html".to_owned(), "<b>hi</b>".to_owned()),
                    ("text/plain".to_owned(), "<b>hi</b>".to_owned()),
                ],
                display_id: Some(id.clone()),
                update: false,
            },
            Event::Display {
                data: vec![
                    ("text/markdown".to_owned(), "**hi**".to_owned()),
                    ("text/plain".to_owned(), "**hi**".to_owned()),
                ],
                display_id: Some(id.clone()),
                update: true,
            },
            Event::ClearOutput { wait: false },
            Event::ClearOutput { wait: true },
        ]
    );
}

#[test]
fn input_asks_the_kernel_and_reads_one_line() {
    let run = run_program(|| {
        let (answers, writer) = super::pipe();
        let text = format!("Ada\n{}\n", crate::host::NO_STDIN_REPLY);
        // SAFETY: writes to our own pipe, then makes its read end stdin.
        unsafe {
            libc::write(writer.as_raw_fd(), text.as_ptr().cast(), text.len());
            libc::dup2(answers.as_raw_fd(), 0);
        }
        assert_eq!(input("Your name?"), "Ada");
        let refused = super::panic_text(|| input("again?"));
        assert!(refused.contains("does not accept input"), "{refused}");
    });
    run.assert_ok();
    assert!(
        run.stdout.starts_with("EVCXR_INPUT_REQUEST:Your name?\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn helpers_behave_like_pythons() {
    let run = run_program(|| {
        let started = Instant::now();
        sleep(0.05);
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(ctime().len(), 24);
        assert!((0..1000)
            .map(|_| random())
            .all(|value| (0.0..1.0).contains(&value)));
        assert!((0..1000)
            .map(|_| randint(1, 3))
            .all(|value| (1..=3).contains(&value)));
        assert_eq!(getpid(), std::process::id());
        assert_eq!(
            mp::current_process().to_string(),
            "<_MainProcess name='MainProcess' parent=None started>"
        );
    });
    run.assert_ok();
}
