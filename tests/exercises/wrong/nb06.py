"""Wrong answers to the exercises of 06-GIL (see ``__init__.py``)."""

WRONG_ANSWERS = {
    "ex06-1-count-threads": {
        "one piece after another, no threads": """
    (0..k).map(|i| count_piece((n, i, k))).sum()
""",
        "each thread joined before the next starts": """
    let total = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    for i in 0..k {
        let total = total.clone();
        let thread = threading::Thread::new(move || {
            total.fetch_add(count_piece((n, i, k)), std::sync::atomic::Ordering::SeqCst);
        });
        thread.start();
        thread.join();
    }
    total.load(std::sync::atomic::Ordering::SeqCst)
""",
        "threads started, never joined": """
    let total = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    for i in 0..k {
        let total = total.clone();
        threading::Thread::new(move || {
            total.fetch_add(count_piece((n, i, k)), std::sync::atomic::Ordering::SeqCst);
        })
        .start();
    }
    total.load(std::sync::atomic::Ordering::SeqCst)
""",
        "every thread counts the whole range": """
    let total = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let threads: Vec<_> = (0..k)
        .map(|_| {
            let total = total.clone();
            threading::Thread::new(move || {
                total.fetch_add(count_piece((n, 0, 1)), std::sync::atomic::Ordering::SeqCst);
            })
        })
        .collect();
    threads.iter().for_each(|thread| thread.start());
    threads.iter().for_each(|thread| thread.join());
    total.load(std::sync::atomic::Ordering::SeqCst)
""",
        "the lesson's count_with_threads, which the check cannot see": """
    count_with_threads(n, k, &display::progress(n, "数素数"))
""",
        "one result too many taken from the queue: hangs": """
    let results = queue::Queue::new();
    let threads: Vec<_> = (0..k)
        .map(|i| {
            let results = results.clone();
            threading::Thread::new(move || results.put(count_piece((n, i, k))))
        })
        .collect();
    threads.iter().for_each(|thread| thread.start());
    threads.iter().for_each(|thread| thread.join());
    (0..=k).map(|_| results.get()).sum()
""",
    },
    "ex06-2-count-processes": {
        "threads instead of processes": """
    let results = queue::Queue::new();
    let threads: Vec<_> = (0..k)
        .map(|i| {
            let results = results.clone();
            threading::Thread::new(move || results.put(count_piece((n, i, k))))
        })
        .collect();
    threads.iter().for_each(|thread| thread.start());
    threads.iter().for_each(|thread| thread.join());
    (0..k).map(|_| results.get()).sum()
""",
        "an atomic in the parent, which the children cannot change": """
    let total = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let processes: Vec<_> = (0..k)
        .map(|i| {
            let total = total.clone();
            mp::Process::new(move || {
                total.fetch_add(count_piece((n, i, k)), std::sync::atomic::Ordering::SeqCst);
            })
        })
        .collect();
    processes.iter().for_each(|process| process.start());
    processes.iter().for_each(|process| process.join());
    total.load(std::sync::atomic::Ordering::SeqCst)
""",
        "a pool of one process": """
    let pool = mp::Pool::new(1);
    let counts = pool.map(count_piece, (0..k).map(|i| (n, i, k)));
    pool.close();
    pool.join();
    counts.iter().sum()
""",
        "pool.apply, which waits for each result in turn": """
    let pool = mp::Pool::new(k as usize);
    let total = (0..k).map(|i| pool.apply(count_piece, (n, i, k))).sum();
    pool.close();
    pool.join();
    total
""",
        "each process joined before the next starts": """
    let results = mp::Queue::new();
    for i in 0..k {
        let results = results.clone();
        let process = mp::Process::new(move || results.put(count_piece((n, i, k))));
        process.start();
        process.join();
    }
    (0..k).map(|_| results.get()).sum()
""",
        "one result too many taken from the queue: hangs": """
    let results = mp::Queue::new();
    let processes: Vec<_> = (0..k)
        .map(|i| {
            let results = results.clone();
            mp::Process::new(move || results.put(count_piece((n, i, k))))
        })
        .collect();
    processes.iter().for_each(|process| process.start());
    let total = (0..=k).map(|_| results.get()).sum();
    processes.iter().for_each(|process| process.join());
    total
""",
    },
}
