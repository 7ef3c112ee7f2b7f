"""Wrong answers to the exercises of 02-进程 (see ``__init__.py``)."""

WRONG_ANSWERS = {
    "ex02-1-download-all": {
        "one after another, in the function's own process": """
    for name in names {
        download(name);
    }
""",
        "threads instead of processes": """
    let threads: Vec<_> = names
        .into_iter()
        .map(|name| threading::Thread::new(move || download(name)))
        .collect();
    for thread in &threads {
        thread.start();
    }
    for thread in &threads {
        thread.join();
    }
""",
        "each child joined before the next starts": """
    for name in names {
        let child = mp::Process::new(move || download(name));
        child.start();
        child.join();
    }
""",
        "children started, never joined": """
    for name in names {
        mp::Process::new(move || download(name)).start();
    }
""",
        "one child downloads all three": """
    let child = mp::Process::new(move || {
        for name in names {
            download(name);
        }
    });
    child.start();
    child.join();
""",
        "joins a child that waits forever": """
    let q: mp::Queue<u32> = mp::Queue::new();
    let child = mp::Process::new(move || {
        q.get();
    });
    child.start();
    child.join();
""",
    },
    "ex02-2-producer-process": {
        "no None at the end": """
    let q: mp::Queue<Option<u32>> = mp::Queue::new();
    let for_producer = q.clone();
    let producer = mp::Process::new(move || {
        for n in 1..=5 {
            for_producer.put(Some(make(n)));
        }
    });
    producer.start();
    let mut got = Vec::new();
    while let Some(value) = q.get() {
        got.push(value);
    }
    producer.join();
    got
""",
        "stops as soon as the queue is empty": """
    let q: mp::Queue<Option<u32>> = mp::Queue::new();
    let for_producer = q.clone();
    let producer = mp::Process::new(move || {
        for n in 1..=5 {
            for_producer.put(Some(make(n)));
        }
        for_producer.put(None);
    });
    producer.start();
    let mut got = Vec::new();
    while !q.empty() {
        if let Some(value) = q.get() {
            got.push(value);
        }
    }
    producer.join();
    got
""",
        "gives up after a short get_timeout": """
    let q: mp::Queue<Option<u32>> = mp::Queue::new();
    let for_producer = q.clone();
    let producer = mp::Process::new(move || {
        for n in 1..=5 {
            for_producer.put(Some(make(n)));
        }
        for_producer.put(None);
    });
    producer.start();
    let mut got = Vec::new();
    while let Ok(Some(value)) = q.get_timeout(0.05) {
        got.push(value);
    }
    producer.join();
    got
""",
        "produced in the main process, no child": """
    let q: mp::Queue<Option<u32>> = mp::Queue::new();
    for n in 1..=5 {
        q.put(Some(make(n)));
    }
    q.put(None);
    let mut got = Vec::new();
    while let Some(value) = q.get() {
        got.push(value);
    }
    got
""",
    },
    "ex02-3-pool-squares": {
        "squares in the function's own process": """
    (1..=12u64).map(slow_square).sum()
""",
        "pool.apply, one task at a time": """
    let pool = mp::Pool::new(3);
    let sum = (1..=12u64).map(|x| pool.apply(slow_square, x)).sum();
    pool.close();
    pool.join();
    sum
""",
        "each result fetched right after it is sent": """
    let pool = mp::Pool::new(3);
    let mut sum = 0;
    for x in 1..=12u64 {
        sum += pool.apply_async(slow_square, x).get().unwrap();
    }
    pool.close();
    pool.join();
    sum
""",
        "a pool of one process": """
    let pool = mp::Pool::new(1);
    let squares = pool.map(slow_square, 1..=12u64);
    pool.close();
    pool.join();
    squares.iter().sum()
""",
        "join without close": """
    let pool = mp::Pool::new(3);
    let squares = pool.map(slow_square, 1..=12u64);
    pool.join();
    squares.iter().sum()
""",
    },
}
