//! The prelude through the real kernel: every behaviour of the lifecycle,
//! output and interrupt sections of the prelude's contract.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use jupyter_protocol::JupyterMessageContent;

use crate::kernel::harness::{execute_request, process_alive, shared, Kernel, REPLY_TIMEOUT};

static KERNEL: OnceLock<Mutex<Kernel>> = OnceLock::new();

/// The value after `key=` in `text`, as a number.
fn number_after(text: &str, key: &str) -> u32 {
    let start = text
        .find(&format!("{key}="))
        .unwrap_or_else(|| panic!("no {key}= in {text:?}"))
        + key.len()
        + 1;
    text[start..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_child_process_has_its_own_pid_and_the_cell_as_parent() {
    let kernel = shared(&KERNEL);
    let out = kernel
        .run_ok(
            "{ let p = mp::Process::new(|| println!(\"child pid={} ppid={}\", getpid(), getppid()));
               p.start(); p.join(); println!(\"parent pid={}\", getpid()); };",
        )
        .stream_text("stdout");
    let parent = number_after(&out, "parent pid");
    assert_ne!(number_after(&out, "child pid"), parent);
    assert_eq!(number_after(&out, "ppid"), parent);
}

#[test]
fn a_static_changed_in_a_child_is_unchanged_in_the_parent() {
    let kernel = shared(&KERNEL);
    let out = kernel
        .run_ok(
            "static SHARED: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
             { let p = mp::Process::new(|| {
                   SHARED.store(99, std::sync::atomic::Ordering::SeqCst);
                   println!(\"child={}\", SHARED.load(std::sync::atomic::Ordering::SeqCst));
               });
               p.start(); p.join();
               println!(\"parent={}\", SHARED.load(std::sync::atomic::Ordering::SeqCst)); };",
        )
        .stream_text("stdout");
    assert_eq!(number_after(&out, "child"), 99);
    assert_eq!(number_after(&out, "parent"), 1);
}

#[test]
fn a_process_queue_delivers_in_order() {
    let kernel = shared(&KERNEL);
    let out = kernel
        .run_ok(
            "{ let q = mp::Queue::<String>::new();
               let producer = { let q = q.clone(); mp::Process::new(move || {
                   for value in [\"A\", \"B\", \"C\", \"D\", \"E\", \"F\"] { q.put(value.to_string()); }
               }) };
               producer.start();
               let got: Vec<String> = (0..6).map(|_| q.get()).collect();
               producer.join();
               println!(\"got={}\", got.concat()); };",
        )
        .stream_text("stdout");
    assert_eq!(out.trim(), "got=ABCDEF");
}

#[test]
fn a_pool_of_three_runs_ten_tasks_on_at_most_three_reused_processes() {
    let kernel = shared(&KERNEL);
    let out = kernel
        .run_ok(
            "fn which_process(task: u32) -> (u32, u32) { (task, getpid()) }
             { let pool = mp::Pool::new(3);
               let pending: Vec<_> = (0..10).map(|task| pool.apply_async(which_process, task)).collect();
               let answers: Vec<(u32, u32)> = pending.iter().map(|result| result.get().unwrap()).collect();
               pool.close(); pool.join();
               for (task, pid) in &answers { println!(\"task={task} pid={pid}\"); } };",
        )
        .stream_text("stdout");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 10, "{out}");
    let pids: HashSet<u32> = lines.iter().map(|line| number_after(line, "pid")).collect();
    assert!(pids.len() <= 3, "{pids:?}");
    let tasks: Vec<u32> = lines
        .iter()
        .map(|line| number_after(line, "task"))
        .collect();
    assert_eq!(tasks, (0..10).collect::<Vec<u32>>());
}

#[test]
fn a_connection_accepted_in_the_cell_is_answered_by_a_pool_worker() {
    let kernel = shared(&KERNEL);
    let out = kernel
        .run_ok(
            "use std::io::{Read, Write};
             use std::net::{TcpListener, TcpStream};
             fn answer(mp::Handed(mut conn): mp::Handed<TcpStream>) -> u32 {
                 writeln!(conn, \"worker pid={}\", getpid()).unwrap();
                 getpid()
             }
             { let pool = mp::Pool::new(2);
               let listener = TcpListener::bind(\"127.0.0.1:0\").unwrap();
               let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
               client.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
               let (conn, _) = listener.accept().unwrap();
               let served = pool.apply_async(answer, mp::Handed(conn));
               let mut reply = String::new();
               client.read_to_string(&mut reply).unwrap();
               print!(\"{reply}\");
               let pid = served.get().unwrap();
               println!(\"task pid={pid} in_pool={} cell pid={}\", pool.pids().contains(&pid), getpid());
               pool.close(); pool.join(); };",
        )
        .stream_text("stdout");
    let worker = number_after(&out, "worker pid");
    assert_eq!(worker, number_after(&out, "task pid"), "{out}");
    assert_ne!(worker, number_after(&out, "cell pid"), "{out}");
    assert!(out.contains("in_pool=true"), "{out}");
}

#[test]
fn a_daemon_process_ends_with_its_cell_and_prints_nothing_later() {
    let kernel = shared(&KERNEL);
    let first = kernel.run_ok(
        "let daemon = mp::Process::new(|| loop { println!(\"daemon tick\"); sleep(0.05); }).daemon(true);
         daemon.start(); sleep(0.3);",
    );
    assert!(first.stream_text("stdout").contains("daemon tick"));
    let pid = number_after(
        &kernel
            .run_ok("println!(\"pid={}\", daemon.pid().unwrap());")
            .stream_text("stdout"),
        "pid",
    );
    assert!(!process_alive(pid), "the daemon {pid} outlived its cell");
    let later = kernel.run_ok("sleep(0.3);");
    assert!(!later.stream_text("stdout").contains("daemon tick"));
}

#[test]
fn a_non_daemon_childs_last_line_lands_in_its_own_cell() {
    let kernel = shared(&KERNEL);
    let exchange = kernel.run_ok(
        "{ let p = mp::Process::new(|| { sleep(0.5); println!(\"last line from the child\"); });
           p.start(); println!(\"main code done\"); };",
    );
    assert_eq!(
        exchange.stream_text("stdout"),
        "main code done\nlast line from the child\n"
    );
}

#[test]
fn long_lines_from_many_processes_stay_whole() {
    let kernel = shared(&KERNEL);
    let out = kernel
        .run_ok(
            "{ let workers: Vec<_> = (0..4).map(|w| mp::Process::new(move || {
                   let letter = (b'a' + w as u8) as char;
                   for _ in 0..50 { println!(\"{}\", letter.to_string().repeat(4000)); }
               })).collect();
               for p in &workers { p.start(); }
               for p in &workers { p.join(); } };",
        )
        .stream_text("stdout");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 200);
    for line in lines {
        assert_eq!(line.len(), 4000);
        let first = line.chars().next().unwrap();
        assert!(line.chars().all(|c| c == first), "a torn line");
    }
}

#[test]
fn threads_are_listed_while_they_run_and_daemons_are_gone_next_cell() {
    let kernel = shared(&KERNEL);
    let out = kernel
        .run_ok(
            "let worker = threading::Thread::new(|| sleep(0.3)).name(\"worker\");
             let background = threading::Thread::new(|| loop { sleep(0.05); }).name(\"background\").daemon(true);
             worker.start(); background.start();
             println!(\"count={}\", threading::active_count());",
        )
        .stream_text("stdout");
    assert_eq!(number_after(&out, "count"), 3);
    let next = kernel
        .run_ok("for t in threading::enumerate() { println!(\"{t}\"); }")
        .stream_text("stdout");
    assert!(next.contains("MainThread"), "{next}");
    assert!(!next.contains("background"), "{next}");
    assert!(!next.contains("worker"), "{next}");
}

#[test]
fn an_interrupted_sleep_loop_ends_quickly_kills_its_child_and_keeps_variables() {
    let kernel = shared(&KERNEL);
    kernel.run_ok("let kept_value = 11;");
    let running = kernel.send(
        &kernel.shell,
        execute_request(
            "let child = mp::Process::new(|| loop { sleep(0.1); });
             child.start(); println!(\"child={}\", child.pid().unwrap());
             loop { sleep(0.2); }",
        ),
    );
    let child = wait_for_number(&kernel, &running, "child");
    std::thread::sleep(Duration::from_millis(300));
    let (ename, _, took) = kernel.interrupt_cell(&running);
    assert_eq!(ename, "KeyboardInterrupt");
    took.assert_under(Duration::from_secs(1), "the interrupt");
    assert!(
        !process_alive(child),
        "the cell's child {child} survived the interrupt"
    );
    assert_eq!(
        kernel.run_ok("kept_value").result_text().as_deref(),
        Some("11")
    );
}

#[test]
fn a_fork_storm_is_refused_before_anything_forks() {
    let kernel = shared(&KERNEL);
    let exchange = kernel.execute("let storm = mp::Pool::new(100_000);");
    let errors = exchange.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].1.to_lowercase().contains("process"), "{errors:?}");
    kernel.run_ok("println!(\"still fine\");");
}

/// A kernel whose environment sets `MULTITASK_MAX_PROCESSES` to `value`, as
/// a spawner's `environment` setting would.
fn kernel_with_process_limit(value: &str) -> Kernel {
    Kernel::start_with_env(&[("MULTITASK_MAX_PROCESSES", value.as_ref())])
}

#[test]
fn the_process_limit_set_in_the_environment_refuses_the_fourth_of_four() {
    let kernel = kernel_with_process_limit("3");
    let exchange = kernel.execute(
        "let mut started = Vec::new();
         for _ in 0..4 {
             let child = mp::Process::new(|| sleep(2.0));
             child.start();
             started.push(child);
         }",
    );
    let errors = exchange.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].1.contains("at most 3 live processes")
            && errors[0].1.contains("MULTITASK_MAX_PROCESSES"),
        "{errors:?}"
    );
}

#[test]
fn a_bad_process_limit_is_reported_and_the_default_kept() {
    let kernel = kernel_with_process_limit("lots");
    let exchange = kernel.execute("let storm = mp::Pool::new(100_000);");
    let stderr = exchange.stream_text("stderr");
    assert!(
        stderr.contains("MULTITASK_MAX_PROCESSES=\"lots\" is not a whole number")
            && stderr.contains("default of 256"),
        "{stderr}"
    );
    let errors = exchange.errors();
    assert!(
        errors.len() == 1 && errors[0].1.contains("at most 256 live processes"),
        "{errors:?}"
    );
}

#[test]
fn kill_9_of_the_kernel_leaves_no_prelude_process_behind() {
    let mut kernel = Kernel::start();
    // The cell keeps running, its pool and child with it, while the kernel
    // is killed.
    let running = kernel.send(
        &kernel.shell,
        execute_request(
            "let pool = mp::Pool::new(2);
             let pids = pool.map(|_: u32| getpid(), vec![0, 1, 2, 3]);
             let child = mp::Process::new(|| loop { sleep(0.1); });
             child.start();
             println!(\"child={}\", child.pid().unwrap());
             loop { sleep(0.1); }",
        ),
    );
    let child = wait_for_number(&kernel, &running, "child");
    let family = crate::kernel::harness::descendants(kernel.process.id());
    assert!(family.contains(&child), "{family:?}");
    assert!(
        family.len() >= 4,
        "runtime, guardian, pool workers and child: {family:?}"
    );
    kernel.process.kill().unwrap();
    crate::kernel::harness::assert_all_gone(family);
}

/// Reads iopub until a stream of `request` says `key=NUMBER`, while the cell runs.
fn wait_for_number(kernel: &Kernel, request: &jupyter_protocol::JupyterMessage, key: &str) -> u32 {
    let deadline = Instant::now() + REPLY_TIMEOUT;
    loop {
        assert!(Instant::now() < deadline, "{key}= never arrived");
        let Some(message) = kernel.receive(&kernel.iopub, Duration::from_secs(1)) else {
            continue;
        };
        if !crate::kernel::harness::is_child_of(&message, request) {
            continue;
        }
        if let JupyterMessageContent::StreamContent(stream) = &message.content {
            if stream.text.contains(&format!("{key}=")) {
                return number_after(&stream.text, key);
            }
        }
    }
}

/// Every row of the contract's name table, as a learner writes it, in cells.
#[test]
fn every_name_of_the_contract_works_in_a_cell() {
    let kernel = shared(&KERNEL);
    kernel.run_ok(
        "fn contract_square(x: i64) -> i64 { x * x }
         fn contract_add(pair: (i64, i64)) -> i64 { pair.0 + pair.1 }
         fn contract_produce(q: mp::QueueProxy<i64>) -> i64 { for i in 0..3 { q.put(i); } 3 }",
    );
    let processes = kernel.run_ok(
        "{
            let p = mp::Process::new(move || { contract_square(3); }).name(\"sing\").daemon(false);
            assert!(p.pid().is_none() && p.exitcode().is_none());
            p.start(); p.join(); p.join(); assert!(!p.join_timeout(0.01) || !p.is_alive());
            assert_eq!(p.exitcode(), Some(0));
            let endless = mp::Process::new(|| loop { sleep(0.05); });
            endless.start(); assert!(endless.is_alive()); endless.terminate(); endless.join();
            assert_eq!(endless.exitcode(), Some(-15));
            let killed = mp::Process::new(|| loop { sleep(0.05); });
            killed.start(); killed.kill(); killed.join(); assert_eq!(killed.exitcode(), Some(-9));
            let me = mp::current_process();
            println!(\"{me} {} {}\", me.name(), me.pid());
            let (pid, ppid): (u32, u32) = (getpid(), getppid());
            assert!(pid != ppid && mp::cpu_count() >= 1);
            println!(\"{} {}\", ctime().len() > 10, random() < 1.0 && (1..=6).contains(&randint(1, 6)));
         };",
    );
    assert!(processes
        .stream_text("stdout")
        .starts_with("<_MainProcess name='MainProcess'"));
    kernel.run_ok(
        "{
            let q = mp::Queue::<String>::new();
            q.put(\"a\".to_string()); assert_eq!(q.get(), \"a\");
            assert!(q.get_timeout(0.05).is_err() && q.get_nowait().is_err() && q.empty());
            let small = mp::Queue::<i64>::with_maxsize(1);
            small.put_nowait(1).unwrap(); assert!(small.full() && small.qsize() == 1);
            assert!(small.put_timeout(2, 0.05).is_err() && small.put_nowait(3).is_err());
            let (left, right) = mp::Pipe::<i64>::new(); left.send(5); assert_eq!(right.recv(), 5);
            let shared = mp::Value::<i64>::new(0);
            { let adder = { let shared = shared.clone(); mp::Process::new(move || { *shared.get_lock() += 2; }) };
              adder.start(); adder.join(); }
            shared.set(shared.get() + 1); assert_eq!(shared.get(), 3);
         };",
    );
    kernel.run_ok(
        "{
            let pool = mp::Pool::new(2);
            let pending = pool.apply_async(contract_square, 7);
            assert_eq!(pending.get().unwrap(), 49);
            assert!(pending.ready());
            assert_eq!(pool.apply(contract_add, (2, 3)), 5);
            assert_eq!(pool.map(contract_square, vec![1, 2, 3]), vec![1, 4, 9]);
            let queue = mp::Manager::new().queue::<i64>();
            let produced = pool.apply_async(contract_produce, queue.clone());
            assert_eq!(produced.get().unwrap(), 3);
            assert_eq!((0..3).map(|_| queue.get()).collect::<Vec<_>>(), vec![0, 1, 2]);
            pool.close(); pool.join();
            let default_pool = mp::Pool::default(); default_pool.terminate();
         };",
    );
    kernel.run_ok(
        "{
            let lock = threading::Lock::new();
            lock.acquire(); assert!(lock.locked() && !lock.acquire_timeout(0.05)); lock.release();
            { let _held = lock.guard(); assert!(lock.locked()); }
            let event = threading::Event::new();
            let waiter = { let event = event.clone(); threading::Thread::new(move || event.wait()).name(\"waiter\") };
            waiter.start(); assert!(waiter.is_alive() && waiter.ident().is_some() && waiter.native_id().is_some());
            assert!(!event.is_set()); event.set(); waiter.join(); assert!(!waiter.join_timeout(0.01) || !waiter.is_alive());
            event.clear(); assert!(!event.wait_timeout(0.01));
            let me = threading::current_thread();
            assert_eq!(me.name(), \"MainThread\"); assert_eq!(me.ident(), threading::get_ident());
            assert!(threading::active_count() >= 1 && !threading::enumerate().is_empty());
            let tasks = queue::Queue::<i64>::with_maxsize(10);
            tasks.put(1); assert_eq!(tasks.get(), 1); tasks.task_done(); tasks.join();
            let workers = pool::ThreadPool::new(2);
            assert_eq!(workers.apply_async(|| 6 * 7).get().unwrap(), 42);
            assert_eq!(workers.map(|x: i64| x + 1, vec![1, 2]), vec![2, 3]);
            workers.close(); workers.join();
            display::html(\"<b>html</b>\"); display::svg(\"<svg xmlns='http://www.w3.org/2000/svg'/>\");
            display::markdown(\"*md*\"); clear_output();
            let bar = display::progress(3, \"bar\"); bar.inc(1); bar.set(3); bar.close();
            assert_eq!((bar.n(), bar.total()), (3, 3));
         };",
    );
}

#[test]
fn programs_a_cell_starts_inherit_none_of_the_kernels_internals() {
    let kernel = shared(&KERNEL);
    let exchange = kernel.run_ok(
        "let inherited = std::process::Command::new(\"env\").output().unwrap();
         print!(\"{}\", String::from_utf8_lossy(&inherited.stdout));",
    );
    let environment = exchange.stream_text("stdout");
    assert!(environment.contains("PATH="), "{environment}");
    for internal in ["MULTITASK_HOST", "MULTITASK_KERNEL_PID"] {
        assert!(
            !environment.contains(internal),
            "{internal} leaked into a program the cell started"
        );
    }
}

#[test]
fn asyncio_gathers_100_coroutine_sleeps_into_100_results() {
    let kernel = shared(&KERNEL);
    let out = kernel.run_ok(
        "let started = std::time::Instant::now();
         let results = asyncio::run(asyncio::gather((0..100).map(|i| async move {
             asyncio::sleep(0.3).await;
             println!(\"coroutine {i} woke\");
             i
         })));
         assert_eq!(results, (0..100).collect::<Vec<u32>>());
         println!(\"results={} under_10s={}\", results.len(), started.elapsed().as_secs() < 10);",
    );
    let text = out.stream_text("stdout");
    assert!(text.contains("results=100 under_10s=true"), "{text}");
    assert!(text.contains("coroutine 99 woke"), "{text}");
    let failed = kernel.execute(
        "asyncio::run(async {
             drop(asyncio::create_task(async { panic!(\"task trouble\") }));
             asyncio::sleep(30.0).await;
         });",
    );
    let errors = failed.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].1.contains("task trouble"), "{errors:?}");
}

#[test]
fn an_interrupt_during_asyncio_run_is_a_keyboard_interrupt_and_keeps_the_session() {
    let kernel = shared(&KERNEL);
    kernel.run_ok("let kept_by_asyncio = 12;");
    let running = kernel.send(
        &kernel.shell,
        execute_request(
            "println!(\"loop=1\");
             asyncio::run(async { loop { asyncio::sleep(0.1).await; } });",
        ),
    );
    wait_for_number(&kernel, &running, "loop");
    std::thread::sleep(Duration::from_millis(300));
    let (ename, _, took) = kernel.interrupt_cell(&running);
    assert_eq!(ename, "KeyboardInterrupt");
    took.assert_under(Duration::from_secs(1), "the interrupt");
    let after = kernel.run_ok("println!(\"again={}\", asyncio::run(async { kept_by_asyncio }));");
    assert!(after.stream_text("stdout").contains("again=12"));
}
