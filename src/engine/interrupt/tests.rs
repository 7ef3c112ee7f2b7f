//! The interrupter against a stand-in runtime that ignores SIGINT.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use super::*;

/// A stand-in runtime in its own process group that ignores SIGINT, as
/// code that never reaches an interruptible point does.
fn deaf_runtime(interrupter: &Interrupter) -> Child {
    let mut child = Command::new("sh")
        .args(["-c", "trap '' INT; echo ready; while :; do sleep 1; done"])
        .process_group(0)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // SIGINT before the trap is set would end it.
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready, "ready\n");
    interrupter.set_runtime_pid(child.id());
    child
}

/// An interrupter with a cell waiting for a [`deaf_runtime`].
fn waiting_cell() -> (Interrupter, Child, Ticket) {
    let interrupter = Interrupter::new();
    let runtime = deaf_runtime(&interrupter);
    let ticket = interrupter.cell_waiting();
    (interrupter, runtime, ticket)
}

/// An interrupter whose cell's code runs in a [`deaf_runtime`].
fn running_cell() -> (Interrupter, Child) {
    let (interrupter, runtime, ticket) = waiting_cell();
    assert_eq!(interrupter.cell_code_next(ticket), Waiting::Go);
    assert!(interrupter.code_started());
    (interrupter, runtime)
}

fn ended_within(child: &mut Child, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn an_interrupt_while_idle_does_nothing() {
    let interrupter = Interrupter::new();
    let mut runtime = deaf_runtime(&interrupter);
    interrupter.interrupt();
    assert_eq!(interrupter.interrupt_count(), 0);
    assert!(!ended_within(
        &mut runtime,
        ESCALATE_AFTER + Duration::from_secs(1)
    ));
    runtime.kill().unwrap();
}

#[test]
fn a_cell_interrupted_before_its_code_is_next_is_dropped_once() {
    let (interrupter, mut runtime, dropped) = waiting_cell();
    interrupter.interrupt();
    // An internal step's code start is not the cell's.
    assert!(!interrupter.code_started());
    // One asker (the engine's handle, or the engine) answers the cell;
    // every later question finds it answered.
    assert_eq!(interrupter.waiting(dropped), Waiting::Dropped);
    assert_eq!(interrupter.waiting(dropped), Waiting::Answered);
    // The next cell comes while the engine still works for the dropped
    // one: the dropped cell's code never becomes the next cell's.
    let next = interrupter.cell_waiting();
    assert_eq!(interrupter.cell_code_next(dropped), Waiting::Answered);
    assert!(!interrupter.code_started());
    assert_eq!(interrupter.cell_code_next(next), Waiting::Go);
    assert!(interrupter.code_started());
    // The dropped cell's interrupt is not the next cell's.
    assert!(!interrupter.cell_finished().interrupted);
    // Nothing was signalled: no deadline ran for the dropped cell.
    assert!(!ended_within(&mut runtime, Duration::from_millis(300)));
    runtime.kill().unwrap();
}

#[test]
fn an_interrupt_while_the_cell_compiles_is_kept_for_its_code() {
    let (interrupter, mut runtime, ticket) = waiting_cell();
    assert_eq!(interrupter.cell_code_next(ticket), Waiting::Go);
    interrupter.interrupt();
    // Its code is next: it can no longer be dropped.
    assert_eq!(interrupter.waiting(ticket), Waiting::Go);
    // No deadline runs while the cell compiles, however long.
    assert!(!ended_within(
        &mut runtime,
        ESCALATE_AFTER + Duration::from_secs(1)
    ));
    // The code starts: it gets SIGINT, then its deadline.
    assert!(interrupter.code_started());
    assert!(ended_within(
        &mut runtime,
        ESCALATE_AFTER + Duration::from_secs(5)
    ));
    let ending = interrupter.cell_finished();
    assert!(ending.interrupted && ending.escalated, "{ending:?}");
}

#[test]
fn running_code_that_ignores_the_interrupt_is_killed() {
    let (interrupter, mut runtime) = running_cell();
    let started = Instant::now();
    interrupter.interrupt();
    assert!(ended_within(
        &mut runtime,
        ESCALATE_AFTER + Duration::from_secs(5)
    ));
    assert!(started.elapsed() >= ESCALATE_AFTER);
    assert!(interrupter.cell_finished().escalated);
    // The next cell starts clean.
    interrupter.cell_waiting();
    assert_eq!(
        interrupter.cell_finished(),
        CellEnding {
            interrupted: false,
            escalated: false
        }
    );
}

#[test]
fn a_cell_that_took_the_interrupt_gets_time_to_unwind() {
    let (interrupter, mut runtime) = running_cell();
    interrupter.interrupt();
    interrupter.interrupt_taken();
    assert!(!ended_within(
        &mut runtime,
        ESCALATE_AFTER + Duration::from_secs(1)
    ));
    let ending = interrupter.cell_finished();
    assert!(ending.interrupted && !ending.escalated, "{ending:?}");
    runtime.kill().unwrap();
}
