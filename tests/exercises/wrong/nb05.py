"""Wrong answers to the exercises of 05-综合演练 (see ``__init__.py``)."""

WRONG_ANSWERS = {
    "ex05-1-chat": {
        "no None sentinel: the replier waits forever": """
    let q: queue::Queue<Option<String>> = queue::Queue::new();
    let t_pool = pool::ThreadPool::new(2);
    let q1 = q.clone();
    t_pool.apply_async(move || {
        for msg in &messages {
            q1.put(Some(take_in(msg)));
        }
    });
    let q2 = q.clone();
    let replies = t_pool.apply_async(move || {
        let mut replies = Vec::new();
        while let Some(msg) = q2.get() {
            replies.push(answer(&msg));
        }
        replies
    });
    t_pool.close();
    t_pool.join();
    replies.get().unwrap()
""",
        "no threads: receive and reply one by one": """
    messages.iter().map(|msg| answer(&take_in(msg))).collect()
""",
        "a pool of one thread: both jobs in the same thread": """
    let q: queue::Queue<Option<String>> = queue::Queue::new();
    let t_pool = pool::ThreadPool::new(1);
    let q1 = q.clone();
    t_pool.apply_async(move || {
        for msg in &messages {
            q1.put(Some(take_in(msg)));
        }
        q1.put(None);
    });
    let q2 = q.clone();
    let replies = t_pool.apply_async(move || {
        let mut replies = Vec::new();
        while let Some(msg) = q2.get() {
            replies.push(answer(&msg));
        }
        replies
    });
    t_pool.close();
    t_pool.join();
    replies.get().unwrap()
""",
        "the receiver joined before replying starts": """
    let q: queue::Queue<Option<String>> = queue::Queue::new();
    let q1 = q.clone();
    let receiver = threading::Thread::new(move || {
        for msg in &messages {
            q1.put(Some(take_in(msg)));
        }
        q1.put(None);
    });
    receiver.start();
    receiver.join();
    let mut replies = Vec::new();
    while let Some(msg) = q.get() {
        replies.push(answer(&msg));
    }
    replies
""",
        "the replier gives up when the queue is momentarily empty": """
    let q: queue::Queue<Option<String>> = queue::Queue::new();
    let t_pool = pool::ThreadPool::new(2);
    let q1 = q.clone();
    t_pool.apply_async(move || {
        for msg in &messages {
            q1.put(Some(take_in(msg)));
        }
        q1.put(None);
    });
    let q2 = q.clone();
    let replies = t_pool.apply_async(move || {
        let mut replies = Vec::new();
        while let Ok(Some(msg)) = q2.get_nowait() {
            replies.push(answer(&msg));
        }
        replies
    });
    t_pool.close();
    t_pool.join();
    replies.get().unwrap()
""",
    },
    "ex05-2-prefork": {
        "joins each worker: accept_loop never ends": """
    let mut processes = Vec::new();
    for _ in 0..workers {
        let own = listener.try_clone().unwrap();
        let process = mp::Process::new(move || accept_loop(own));
        process.start();
        process.join();
        processes.push(process);
    }
    processes
""",
        "calls accept_loop itself: a hang": """
    accept_loop(listener);
    Vec::new()
""",
        "each worker serves one client, then exits": """
    let mut processes = Vec::new();
    for _ in 0..workers {
        let own = listener.try_clone().unwrap();
        let process = mp::Process::new(move || {
            if let Ok((conn, _)) = own.accept() {
                handle(conn);
            }
        });
        process.start();
        processes.push(process);
    }
    processes
""",
        "only one worker process": """
    let process = mp::Process::new(move || accept_loop(listener));
    process.start();
    vec![process]
""",
        "threads instead of processes": """
    for _ in 0..workers {
        let own = listener.try_clone().unwrap();
        threading::Thread::new(move || accept_loop(own)).daemon(true).start();
    }
    Vec::new()
""",
        "processes made but never started": """
    (0..workers)
        .map(|_| {
            let own = listener.try_clone().unwrap();
            mp::Process::new(move || accept_loop(own))
        })
        .collect()
""",
    },
}
