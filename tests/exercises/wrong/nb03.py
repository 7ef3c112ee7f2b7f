"""Wrong answers to the exercises of 03-线程 (see ``__init__.py``)."""

_KITCHEN_START = """
    let q: queue::Queue<u32> = queue::Queue::new();
    let dishes = Arc::new(Mutex::new(Vec::new()));
"""

WRONG_ANSWERS = {
    "ex03-1-count-votes": {
        "no lock": """
    let board = Board::new();
    let threads: Vec<_> = (0..clerks)
        .map(|_| {
            let board = board.clone();
            threading::Thread::new(move || clerk(ballots_each, || board.write(board.read() + 1)))
        })
        .collect();
    for thread in &threads {
        thread.start();
    }
    for thread in &threads {
        thread.join();
    }
    board.read()
""",
        "the lock covers the read only": """
    let board = Board::new();
    let lock = threading::Lock::new();
    let threads: Vec<_> = (0..clerks)
        .map(|_| {
            let (board, lock) = (board.clone(), lock.clone());
            threading::Thread::new(move || {
                clerk(ballots_each, || {
                    lock.acquire();
                    let votes = board.read();
                    lock.release();
                    board.write(votes + 1);
                })
            })
        })
        .collect();
    for thread in &threads {
        thread.start();
    }
    for thread in &threads {
        thread.join();
    }
    board.read()
""",
        "one loop in the calling thread": """
    let board = Board::new();
    clerk(clerks as u64 * ballots_each, || board.write(board.read() + 1));
    board.read()
""",
        "each thread joined before the next starts": """
    let board = Board::new();
    let lock = threading::Lock::new();
    for _ in 0..clerks {
        let (board, lock) = (board.clone(), lock.clone());
        let thread = threading::Thread::new(move || {
            clerk(ballots_each, || {
                let _held = lock.guard();
                board.write(board.read() + 1);
            })
        });
        thread.start();
        thread.join();
    }
    board.read()
""",
        "threads never joined": """
    let board = Board::new();
    let lock = threading::Lock::new();
    for _ in 0..clerks {
        let (board, lock) = (board.clone(), lock.clone());
        threading::Thread::new(move || {
            clerk(ballots_each, || {
                let _held = lock.guard();
                board.write(board.read() + 1);
            })
        })
        .start();
    }
    board.read()
""",
        "acquire without release": """
    let board = Board::new();
    let lock = threading::Lock::new();
    let threads: Vec<_> = (0..clerks)
        .map(|_| {
            let (board, lock) = (board.clone(), lock.clone());
            threading::Thread::new(move || {
                clerk(ballots_each, || {
                    lock.acquire();
                    board.write(board.read() + 1);
                })
            })
        })
        .collect();
    for thread in &threads {
        thread.start();
    }
    for thread in &threads {
        thread.join();
    }
    board.read()
""",
    },
    "ex03-2-kitchen": {
        "no task_done": _KITCHEN_START + """
    for _ in 0..cooks {
        let (q, dishes) = (q.clone(), dishes.clone());
        threading::Thread::new(move || loop {
            let order = q.get();
            dishes.lock().unwrap().push(cook(order));
        })
        .daemon(true)
        .start();
    }
    for order in orders {
        q.put(order);
    }
    q.join();
    let done = dishes.lock().unwrap().clone();
    done
""",
        "cooks not daemons": _KITCHEN_START + """
    for _ in 0..cooks {
        let (q, dishes) = (q.clone(), dishes.clone());
        threading::Thread::new(move || loop {
            let order = q.get();
            let dish = cook(order);
            dishes.lock().unwrap().push(dish);
            q.task_done();
        })
        .start();
    }
    for order in orders {
        q.put(order);
    }
    q.join();
    let done = dishes.lock().unwrap().clone();
    done
""",
        "returns without q.join()": _KITCHEN_START + """
    for _ in 0..cooks {
        let (q, dishes) = (q.clone(), dishes.clone());
        threading::Thread::new(move || loop {
            let order = q.get();
            let dish = cook(order);
            dishes.lock().unwrap().push(dish);
            q.task_done();
        })
        .daemon(true)
        .start();
    }
    for order in orders {
        q.put(order);
    }
    let done = dishes.lock().unwrap().clone();
    done
""",
        "the main thread cooks everything": """
    orders.into_iter().map(cook).collect()
""",
        "a single cook": _KITCHEN_START + """
    let (worker_q, worker_dishes) = (q.clone(), dishes.clone());
    threading::Thread::new(move || loop {
        let order = worker_q.get();
        let dish = cook(order);
        worker_dishes.lock().unwrap().push(dish);
        worker_q.task_done();
    })
    .daemon(true)
    .start();
    for order in orders {
        q.put(order);
    }
    q.join();
    let done = dishes.lock().unwrap().clone();
    done
""",
        "cooks while holding the lock": _KITCHEN_START + """
    for _ in 0..cooks {
        let (q, dishes) = (q.clone(), dishes.clone());
        threading::Thread::new(move || loop {
            let order = q.get();
            let mut done = dishes.lock().unwrap();
            done.push(cook(order));
            drop(done);
            q.task_done();
        })
        .daemon(true)
        .start();
    }
    for order in orders {
        q.put(order);
    }
    q.join();
    let done = dishes.lock().unwrap().clone();
    done
""",
    },
}
