//! Faults: crashes of the runtime, interrupts, floods of output, shutdown.
//! Each test has its own kernel, since each ends or restarts the runtime.
//! The scenarios are functions of their own, so the load tests
//! ([`crate::load`]) run the same ones on a busy machine.

use std::time::Duration;

use jupyter_protocol::{JupyterMessageContent, ReplyStatus, ShutdownRequest};

use crate::kernel::harness::{assert_all_gone, descendants, execute_request, Kernel};
use crate::kernel::pressure::{slowdown, timed, Took};

/// How long a cell runs before the scenarios interrupt it.
const RUN_BEFORE_INTERRUPT: Duration = Duration::from_secs(3);

/// A `loop { sleep }` is interrupted: KeyboardInterrupt soon, variables kept.
pub fn interrupted_sleep_loop(kernel: &Kernel) -> Took {
    kernel.run_ok("let kept = 5;");
    let running = kernel.send(&kernel.shell, execute_request("loop { sleep(0.2); }"));
    std::thread::sleep(RUN_BEFORE_INTERRUPT);
    let (ename, _, took) = kernel.interrupt_cell(&running);
    assert_eq!(ename, "KeyboardInterrupt");
    took.assert_under(Duration::from_secs(5), "stopping a sleeping loop");
    assert_eq!(kernel.run_ok("kept").result_text().as_deref(), Some("5"));
    took
}

/// A loop that never calls the prelude is interrupted once it runs: the
/// runtime is restarted to stop it, and the next cell runs.
pub fn interrupted_busy_loop(kernel: &Kernel) -> Took {
    let running = kernel.send(
        &kernel.shell,
        execute_request(
            "println!(\"spinning\"); let mut spins: u64 = 0; \
         loop { spins = spins.wrapping_add(1); std::hint::black_box(spins); }",
        ),
    );
    kernel.until_printed(&running, "spinning");
    let (ename, evalue, took) = kernel.interrupt_cell(&running);
    took.assert_under(Duration::from_secs(4), "stopping a busy loop");
    assert_eq!(ename, "KeyboardInterrupt");
    assert!(evalue.contains("restarted"), "{evalue}");
    kernel.run_ok("println!(\"next cell runs\");");
    took
}

/// A cell that waits for the engine's step of seconds (the analyzer's turn,
/// which the first cell that defines a variable waits for) is interrupted:
/// it is answered at once, not after the step, and never runs.
pub fn interrupted_while_waiting(kernel: &Kernel) -> Took {
    let waiting = kernel.send(
        &kernel.shell,
        execute_request("let never_set = 3; loop { std::hint::spin_loop(); }"),
    );
    std::thread::sleep(Duration::from_millis(300));
    let (ename, evalue, took) = kernel.interrupt_cell(&waiting);
    took.assert_under(Duration::from_secs(1), "answering a waiting cell");
    assert_eq!(ename, "KeyboardInterrupt");
    assert!(evalue.contains("before its code started"), "{evalue}");
    assert_eq!(kernel.execute("never_set").status(), ReplyStatus::Error);
    kernel.run_ok("println!(\"next cell runs\");");
    took
}

/// A cell whose `code` ends the runtime gets a RuntimeStopped error that says
/// what was lost, and the next cell runs with the prelude re-attached.
pub fn runtime_crash(kernel: &Kernel, code: &str) -> Took {
    kernel.run_ok("let lost = 1;");
    let (exchange, took) = timed(|| kernel.execute(code));
    assert_eq!(exchange.status(), ReplyStatus::Error);
    let (ename, evalue) = exchange.errors().remove(0);
    assert_eq!(ename, "RuntimeStopped", "{evalue}");
    assert!(evalue.contains("Variables were lost"), "{evalue}");
    let after = kernel.run_ok("getpid() > 0");
    assert_eq!(after.result_text().as_deref(), Some("true"));
    assert_eq!(kernel.execute("lost").status(), ReplyStatus::Error);
    took
}

/// Code that makes the runtime abort (SIGABRT).
pub const ABORT: &str = "std::process::abort();";

/// Code that makes the runtime crash on a bad memory access (SIGSEGV).
pub const SEGFAULT: &str = "unsafe { std::ptr::null_mut::<u64>().write_volatile(1); }";

/// 100,000 lines printed at once all arrive, in order.
pub fn flood_of_lines(kernel: &Kernel) -> Took {
    const LINES: usize = 100_000;
    let (exchange, took) = timed(|| {
        kernel.run_ok(&format!(
            "for i in 0..{LINES} {{ println!(\"flood {{i}}\"); }}"
        ))
    });
    let text = exchange.stream_text("stdout");
    assert_eq!(text.lines().count(), LINES);
    assert_eq!(
        text.lines().last(),
        Some(format!("flood {}", LINES - 1).as_str())
    );
    took
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

/// shutdown_request ends the kernel and every process it started.
pub fn shutdown_leaves_nothing() -> Took {
    let (mut kernel, family) = kernel_with_a_sleeper();
    let (exited, took) = timed(|| {
        let shutdown = kernel.send(&kernel.control, ShutdownRequest { restart: false });
        kernel.reply_to(&kernel.control, &shutdown);
        kernel.exited_within(Duration::from_secs(10).mul_f64(slowdown()))
    });
    assert!(
        exited,
        "the kernel still runs {:?} after shutdown",
        took.elapsed
    );
    assert_all_gone(family);
    took
}

/// kill -9 of the kernel takes every process it started with it.
pub fn kill_9_leaves_nothing() -> Took {
    let (mut kernel, family) = kernel_with_a_sleeper();
    let ((), took) = timed(|| {
        kernel.process.kill().unwrap();
        assert_all_gone(family);
    });
    took
}

#[test]
fn exit_in_a_cell_restarts_the_runtime_and_says_what_was_lost() {
    runtime_crash(&Kernel::start(), "std::process::exit(3);");
}

#[test]
fn an_abort_is_reported_and_the_next_cell_runs() {
    runtime_crash(&Kernel::start(), ABORT);
}

#[test]
fn a_segfault_is_reported_and_the_next_cell_runs() {
    runtime_crash(&Kernel::start(), SEGFAULT);
}

#[test]
fn interrupt_message_stops_a_sleeping_loop_and_keeps_variables() {
    interrupted_sleep_loop(&Kernel::start());
}

#[test]
fn a_cell_interrupted_during_the_analyzers_turn_is_answered_at_once() {
    let kernel = Kernel::start();
    // No variable yet: the analyzer has not turned to the real `std`.
    kernel.run_ok("println!(\"warm\");");
    interrupted_while_waiting(&kernel);
}

#[test]
fn a_busy_loop_is_stopped_by_restarting_the_runtime() {
    let kernel = Kernel::start();
    kernel.run_ok("println!(\"warm\");");
    interrupted_busy_loop(&kernel);
}

#[test]
fn a_flood_of_lines_arrives_whole() {
    flood_of_lines(&Kernel::start());
}

#[test]
fn an_interrupt_before_the_cell_starts_keeps_the_cell_from_running() {
    // Sent the moment the kernel answers, the cell waits for the engine to
    // start (seconds: evcxr, the runtime, the prelude); the interrupt comes
    // while it waits, and must not be lost.
    let kernel = Kernel::start();
    let running = kernel.send(
        &kernel.shell,
        execute_request("let never = 2; loop { std::hint::spin_loop(); }"),
    );
    std::thread::sleep(Duration::from_millis(100));
    let (ename, evalue, _) = kernel.interrupt_cell(&running);
    assert_eq!(ename, "KeyboardInterrupt");
    assert!(evalue.contains("before its code started"), "{evalue}");
    assert_eq!(kernel.execute("never").status(), ReplyStatus::Error);
    kernel.run_ok("println!(\"next cell runs\");");
}

#[test]
fn sigint_to_the_kernel_interrupts_like_the_message() {
    let kernel = Kernel::start();
    kernel.run_ok("let kept = 6;");
    let running = kernel.send(&kernel.shell, execute_request("loop { sleep(0.2); }"));
    std::thread::sleep(RUN_BEFORE_INTERRUPT);
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

#[test]
fn shutdown_leaves_no_process_behind() {
    shutdown_leaves_nothing();
}

#[test]
fn kill_9_of_the_kernel_leaves_no_descendant() {
    kill_9_leaves_nothing();
}

#[test]
fn an_interrupt_while_waiting_for_input_stops_the_cell() {
    let kernel = Kernel::start();
    let mut request = execute_request("let answer = input(\"wait: \");");
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

#[test]
fn after_restart_and_clear_the_prelude_and_interrupts_still_work() {
    let kernel = Kernel::start();
    kernel.run_ok("let before = 1;");
    let restarted = kernel.run_ok(":restart");
    assert!(restarted
        .result_text()
        .is_some_and(|text| text.contains("restarted")));
    assert_eq!(kernel.execute("before").status(), ReplyStatus::Error);
    assert_eq!(
        kernel.run_ok("getpid() > 0").result_text().as_deref(),
        Some("true")
    );
    // ■ reaches the new runtime: the loop stops at once and keeps variables.
    interrupted_sleep_loop(&kernel);
    kernel.run_ok(":clear");
    assert_eq!(kernel.execute("before").status(), ReplyStatus::Error);
    assert_eq!(
        kernel
            .run_ok("threading::current_thread().name()")
            .result_text()
            .as_deref(),
        Some("\"MainThread\"")
    );
    interrupted_sleep_loop(&kernel);
}

#[test]
fn a_runtime_whose_kernel_died_before_it_started_exits_under_a_subreaper() {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    // The picture in containers and JupyterHub spawners: an init-like
    // subreaper (here an outer shell) adopts the orphans, so an orphaned
    // runtime's parent is neither its kernel nor pid 1. The kernel (the
    // inner shell, whose pid the runtime is given) exits before the runtime
    // starts, as when a kernel dies between fork and PR_SET_PDEATHSIG.
    let script = r#"
        sh -c 'exec 3<&0; (sleep 0.5; EVCXR_IS_RUNTIME=1 MULTITASK_KERNEL_PID=$$ exec "$0" <&3 3<&-) &' "$0"
        exec >/dev/null 2>&1
        sleep 60"#;
    let mut subreaper = std::process::Command::new("sh");
    subreaper
        .args(["-c", script])
        .arg(env!("CARGO_BIN_EXE_multitask-kernel"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    // SAFETY: setpgid and prctl are async-signal-safe and touch only the
    // new process. Its own process group keeps a runtime's guardian, which
    // kills its whole group, away from the tests.
    unsafe {
        subreaper.pre_exec(|| {
            if libc::setpgid(0, 0) == 0 && libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let mut subreaper = subreaper.spawn().unwrap();
    // The stdin pipe stays open (passed on as fd 3: sh gives a background
    // job /dev/null as its stdin): a runtime that kept serving would wait on
    // it forever. Only the runtime holds the stdout pipe's write end, so its
    // end (and its guardian's) is the end of the pipe.
    let mut stdout = subreaper.stdout.take().unwrap();
    let (done, ended) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut everything = String::new();
        let _ = stdout.read_to_string(&mut everything);
        let _ = done.send(everything);
    });
    let ended = ended.recv_timeout(Duration::from_secs_f64(20.0 * slowdown()));
    // SAFETY: kill on the group this test made (its pid is the group's id).
    unsafe { libc::kill(-(subreaper.id() as libc::pid_t), libc::SIGKILL) };
    subreaper.wait().unwrap();
    let printed = ended.expect("an orphaned runtime kept running under the subreaper");
    assert_eq!(printed, "", "it exits before serving anything");
}
