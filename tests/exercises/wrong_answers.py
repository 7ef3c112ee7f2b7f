"""Plausible wrong answers to each exercise, by the nbgrader ``grade_id`` of
its solution cell: what a learner might write first. Each replaces the code
between the solution's ``BEGIN SOLUTION`` and ``END SOLUTION`` lines, and its
check must print ❌ and fail the cell, within the check's time limit. They
live here, not in the notebooks: the learner never sees them.
"""

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
