"""Wrong answers to the exercises of 07-进程线程对比 (see ``__init__.py``)."""

WRONG_ANSWERS = {
    "ex07-1-fetch-all": {
        "one request after another, no threads": """
    (0..n).map(|i| fetch(port, i)).collect()
""",
        "each thread joined before the next starts": """
    let replies = threading::Lock::with_value(Vec::new());
    let replies = std::sync::Arc::new(replies);
    for i in 0..n {
        let replies = replies.clone();
        let thread = threading::Thread::new(move || {
            let reply = fetch(port, i);
            replies.guard().push(reply);
        });
        thread.start();
        thread.join();
    }
    let replies = replies.guard().clone();
    replies
""",
        "a thread pool of two threads": """
    let workers = pool::ThreadPool::new(2);
    let replies: Vec<_> = (0..n).map(|i| workers.apply_async(move || fetch(port, i))).collect();
    workers.close();
    workers.join();
    replies.iter().map(|reply| reply.get().unwrap()).collect()
""",
        "threads never joined, replies read at once": """
    let replies = queue::Queue::new();
    for i in 0..n {
        let replies = replies.clone();
        threading::Thread::new(move || replies.put((i, fetch(port, i)))).start();
    }
    let mut got = Vec::new();
    while let Ok(reply) = replies.get_nowait() {
        got.push(reply);
    }
    got.sort();
    got.into_iter().map(|(_, reply)| reply).collect()
""",
        "one reply too many taken from the queue: hangs": """
    let replies = queue::Queue::new();
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let replies = replies.clone();
            threading::Thread::new(move || replies.put((i, fetch(port, i))))
        })
        .collect();
    threads.iter().for_each(|thread| thread.start());
    let mut got: Vec<(u32, String)> = (0..=n).map(|_| replies.get()).collect();
    threads.iter().for_each(|thread| thread.join());
    got.sort();
    got.into_iter().map(|(_, reply)| reply).collect()
""",
    },
    "ex07-2-time-three-ways": {
        "threads started and joined one at a time": """
    let start = Instant::now();
    for i in 0..k {
        work(i);
    }
    let one_by_one = start.elapsed().as_secs_f64();
    let start = Instant::now();
    for i in 0..k {
        let thread = threading::Thread::new(move || work(i));
        thread.start();
        thread.join();
    }
    let with_threads = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let processes: Vec<_> = (0..k).map(|i| mp::Process::new(move || work(i))).collect();
    processes.iter().for_each(|process| process.start());
    processes.iter().for_each(|process| process.join());
    let with_processes = start.elapsed().as_secs_f64();
    [one_by_one, with_threads, with_processes]
""",
        "threads where processes were asked for": """
    let start = Instant::now();
    for i in 0..k {
        work(i);
    }
    let one_by_one = start.elapsed().as_secs_f64();
    let mut times = [one_by_one, 0.0, 0.0];
    for way in 1..3 {
        let start = Instant::now();
        let threads: Vec<_> = (0..k).map(|i| threading::Thread::new(move || work(i))).collect();
        threads.iter().for_each(|thread| thread.start());
        threads.iter().for_each(|thread| thread.join());
        times[way] = start.elapsed().as_secs_f64();
    }
    times
""",
        "the clock stopped before the processes are joined": """
    let start = Instant::now();
    for i in 0..k {
        work(i);
    }
    let one_by_one = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let threads: Vec<_> = (0..k).map(|i| threading::Thread::new(move || work(i))).collect();
    threads.iter().for_each(|thread| thread.start());
    threads.iter().for_each(|thread| thread.join());
    let with_threads = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let processes: Vec<_> = (0..k).map(|i| mp::Process::new(move || work(i))).collect();
    processes.iter().for_each(|process| process.start());
    let with_processes = start.elapsed().as_secs_f64();
    processes.iter().for_each(|process| process.join());
    [one_by_one, with_threads, with_processes]
""",
        "the one-by-one way done in a thread of its own": """
    let start = Instant::now();
    let thread = threading::Thread::new(move || {
        for i in 0..k {
            work(i);
        }
    });
    thread.start();
    thread.join();
    let one_by_one = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let threads: Vec<_> = (0..k).map(|i| threading::Thread::new(move || work(i))).collect();
    threads.iter().for_each(|thread| thread.start());
    threads.iter().for_each(|thread| thread.join());
    let with_threads = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let processes: Vec<_> = (0..k).map(|i| mp::Process::new(move || work(i))).collect();
    processes.iter().for_each(|process| process.start());
    processes.iter().for_each(|process| process.join());
    let with_processes = start.elapsed().as_secs_f64();
    [one_by_one, with_threads, with_processes]
""",
        "waits for a process that never ends": """
    let start = Instant::now();
    for i in 0..k {
        work(i);
    }
    let one_by_one = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let threads: Vec<_> = (0..k).map(|i| threading::Thread::new(move || work(i))).collect();
    threads.iter().for_each(|thread| thread.start());
    threads.iter().for_each(|thread| thread.join());
    let with_threads = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let processes: Vec<_> = (0..=k)
        .map(|i| mp::Process::new(move || if i < k { work(i) } else { loop { sleep(0.1); } }))
        .collect();
    processes.iter().for_each(|process| process.start());
    processes.iter().for_each(|process| process.join());
    let with_processes = start.elapsed().as_secs_f64();
    [one_by_one, with_threads, with_processes]
""",
    },
}
