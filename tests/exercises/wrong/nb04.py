"""Wrong answers to the exercises of 04-等待终止与守护 (see ``__init__.py``)."""

WRONG_ANSWERS = {
    "ex04-1-ticker": {
        "sleeps, then looks at the flag: slow to stop": """
    loop {
        tick();
        sleep(0.3);
        if stop.is_set() {
            return;
        }
    }
""",
        "polls with a short sleep: ticks far too often": """
    while !stop.is_set() {
        tick();
        sleep(0.05);
    }
""",
        "never looks at stop: a hang": """
    loop {
        tick();
        sleep(0.3);
    }
""",
        "ticks once more after being woken": """
    loop {
        let stopped = stop.wait_timeout(0.3);
        tick();
        if stopped {
            return;
        }
    }
""",
    },
    "ex04-2-terminate": {
        "joins an endless process without terminating it: a hang": """
    let child = mp::Process::new(heartbeat);
    child.start();
    sleep(0.5);
    child.join();
    child.exitcode()
""",
        "a daemon left running: no exit code yet": """
    let child = mp::Process::new(heartbeat).daemon(true);
    child.start();
    sleep(0.5);
    child.exitcode()
""",
        "calls heartbeat directly: a hang": """
    heartbeat();
    None
""",
        "a thread instead of a process": """
    threading::Thread::new(heartbeat).daemon(true).start();
    sleep(0.5);
    Some(-15)
""",
        "terminates at once, before it ran": """
    let child = mp::Process::new(heartbeat);
    child.start();
    child.terminate();
    child.join();
    child.exitcode()
""",
    },
    "ex04-3-daemon-watcher": {
        "not a daemon: the program waits for the endless loop": """
    threading::Thread::new(watch).start();
    main_work();
""",
        "joins the watcher: a hang": """
    let watcher = threading::Thread::new(watch).daemon(true);
    watcher.start();
    main_work();
    watcher.join();
""",
        "starts the watcher only after the work": """
    main_work();
    threading::Thread::new(watch).daemon(true).start();
""",
        "a daemon process instead of a thread": """
    mp::Process::new(watch).daemon(true).start();
    main_work();
""",
    },
}
WRONG_ANSWERS["ex04-1-ticker"]["stops by itself after two ticks"] = """
    tick();
    stop.wait_timeout(0.3);
    tick();
"""
