"""Wrong answers to the exercises of 01-多任务介绍 (see ``__init__.py``)."""

WRONG_ANSWERS = {
    "ex01-1-perform-together": {
        "one after another, no threads": """
    for act in ["唱歌", "跳舞", "弹琴"] {
        perform(act);
    }
""",
        "each thread joined before the next starts": """
    for act in ["唱歌", "跳舞", "弹琴"] {
        let thread = threading::Thread::new(move || perform(act));
        thread.start();
        thread.join();
    }
""",
        "threads started, never joined": """
    for act in ["唱歌", "跳舞", "弹琴"] {
        threading::Thread::new(move || perform(act)).start();
    }
""",
        "one thread for all three": """
    let thread = threading::Thread::new(|| {
        for act in ["唱歌", "跳舞", "弹琴"] {
            perform(act);
        }
    });
    thread.start();
    thread.join();
""",
        "waits for a thread that never ends": """
    let never = threading::Thread::new(|| loop { sleep(0.1); });
    never.start();
    never.join();
""",
    },
    "ex01-2-kind": {
        "strictly fewer tasks than cores": """
    if tasks < cores { "并行" } else { "并发" }
""",
        "always parallel": """
    "并行"
""",
        "the two words swapped": """
    if tasks <= cores { "并发" } else { "并行" }
""",
    },
}
