//! Faults: crashes of the runtime, interrupts, shutdown. Each test has its
//! own kernel, since each ends or restarts the runtime.

use std::time::Duration;

use jupyter_protocol::{JupyterMessageContent, ReplyStatus, ShutdownRequest};

use crate::kernel::harness::{assert_all_gone, descendants, Kernel};

#[test]
fn exit_in_a_cell_restarts_the_runtime_and_says_what_was_lost() {
    let kernel = Kernel::start();
    kernel.run_ok("let lost = 1;");
    let exchange = kernel.execute("std::process::exit(3);");
    assert_eq!(exchange.status(), ReplyStatus::Error);
    let (ename, evalue) = exchange.errors().remove(0);
    assert_eq!(ename, "RuntimeStopped");
    assert!(evalue.contains("Variables were lost"), "{evalue}");
    // The next cell runs, with the prelude still there.
    let after = kernel.run_ok("getpid() > 0");
    assert_eq!(after.result_text().as_deref(), Some("true"));
    assert_eq!(kernel.execute("lost").status(), ReplyStatus::Error);
}

#[test]
fn a_segfault_is_reported_and_the_next_cell_runs() {
    let kernel = Kernel::start();
    let exchange = kernel.execute("unsafe { std::ptr::null_mut::<u64>().write_volatile(1); }");
    assert_eq!(exchange.errors()[0].0, "RuntimeStopped");
    kernel.run_ok("println!(\"alive\");");
}

#[test]
fn interrupt_message_stops_a_sleeping_loop_and_keeps_variables() {
    let kernel = Kernel::start();
    kernel.run_ok("let kept = 5;");
    let running = kernel.send(
        &kernel.shell,
        crate::kernel::harness::execute_request("loop { sleep(0.2); }"),
    );
    std::thread::sleep(Duration::from_secs(3));
    let (ename, _, stopped_after) = kernel.interrupt_cell(&running);
    assert_eq!(ename, "KeyboardInterrupt");
    assert!(
        stopped_after < Duration::from_secs(5),
        "took {stopped_after:?}"
    );
    assert_eq!(kernel.run_ok("kept").result_text().as_deref(), Some("5"));
}

#[test]
fn sigint_to_the_kernel_interrupts_like_the_message() {
    let kernel = Kernel::start();
    kernel.run_ok("let kept = 6;");
    let running = kernel.send(
        &kernel.shell,
        crate::kernel::harness::execute_request("loop { sleep(0.2); }"),
    );
    std::thread::sleep(Duration::from_secs(3));
    // SAFETY: signalling the kernel process this test started.
    unsafe { libc::kill(kernel.process.id() as i32, libc::SIGINT) };
    let reply = kernel.reply_to(&kernel.shell, &running);
    let JupyterMessageContent::ExecuteReply(reply) = &reply.content else {
        unreachable!()
    };
    assert_eq!(reply.error.as_ref().unwrap().ename, "KeyboardInterrupt");
    kernel.iopub_until_idle(&running);
    assert_eq!(kernel.run_ok("kept").result_text().as_deref(), Some("6"));
}

#[test]
fn a_busy_loop_is_stopped_by_restarting_the_runtime() {
    let kernel = Kernel::start();
    kernel.run_ok("println!(\"warm\");");
    let running = kernel.send(&kernel.shell, crate::kernel::harness::execute_request(
        "let mut spins: u64 = 0; loop { spins = spins.wrapping_add(1); std::hint::black_box(spins); }",
    ));
    std::thread::sleep(Duration::from_secs(3));
    let (ename, evalue, took) = kernel.interrupt_cell(&running);
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert_eq!(ename, "KeyboardInterrupt");
    assert!(evalue.contains("restarted"), "{evalue}");
    kernel.run_ok("println!(\"next cell runs\");");
}

#[test]
fn an_interrupt_while_idle_changes_nothing() {
    let kernel = Kernel::start();
    kernel.run_ok("let idle_value = 9;");
    kernel.interrupt();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        kernel.run_ok("idle_value").result_text().as_deref(),
        Some("9")
    );
}

/// A kernel whose cell started `sleep 300` with std's Command (no PDEATHSIG
/// of its own), and every descendant of the kernel at that moment.
fn kernel_with_a_sleeper() -> (Kernel, Vec<u32>) {
    let kernel = Kernel::start();
    kernel.run_ok(
        "let sleeper = std::process::Command::new(\"sleep\").arg(\"300\").spawn().unwrap();",
    );
    let family = descendants(kernel.process.id());
    assert!(
        family.len() >= 2,
        "runtime and sleep expected, found {family:?}"
    );
    (kernel, family)
}

#[test]
fn shutdown_leaves_no_process_behind() {
    let (mut kernel, family) = kernel_with_a_sleeper();
    let shutdown = kernel.send(&kernel.control, ShutdownRequest { restart: false });
    kernel.reply_to(&kernel.control, &shutdown);
    assert!(kernel.exited_within(Duration::from_secs(10)));
    assert_all_gone(family);
}

#[test]
fn kill_9_of_the_kernel_leaves_no_descendant() {
    let (mut kernel, family) = kernel_with_a_sleeper();
    kernel.process.kill().unwrap();
    assert_all_gone(family);
}

#[test]
fn an_interrupt_while_waiting_for_input_stops_the_cell() {
    let kernel = Kernel::start();
    let mut request = crate::kernel::harness::execute_request("let answer = input(\"wait: \");");
    request.allow_stdin = true;
    let running = kernel.send(&kernel.shell, request);
    let asked = kernel.receive(&kernel.stdin, crate::kernel::harness::REPLY_TIMEOUT);
    assert!(asked.is_some_and(|message| message.message_type() == "input_request"));
    let (ename, _, _) = kernel.interrupt_cell(&running);
    assert_eq!(ename, "KeyboardInterrupt");
    kernel.run_ok("println!(\"next cell runs\");");
}

#[test]
fn the_kernel_exits_when_the_process_that_launched_it_dies() {
    // A shell stands in for the Jupyter server: it starts the kernel and is
    // then killed without a chance to shut it down.
    let mut kernel = Kernel::start_with(|connection_file| {
        let mut shell = std::process::Command::new("sh");
        shell
            .args(["-c", "\"$0\" \"$1\" & wait"])
            .arg(env!("CARGO_BIN_EXE_multitask-kernel"))
            .arg(connection_file);
        shell
    });
    kernel.run_ok("println!(\"warm\");");
    let family = descendants(kernel.process.id());
    assert!(
        family.len() >= 3,
        "kernel, runtime and guardian: {family:?}"
    );
    kernel.process.kill().unwrap();
    assert_all_gone(family);
}
