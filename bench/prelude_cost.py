"""What the prelude costs a learner: the cold start (a kernel launched with an
empty MULTITASK_CACHE_DIR, timed until its first prelude cell has printed) and
the per-cell time (median of small `println!` cells) in that same kernel.

    JUPYTER_PATH=.venv/share/jupyter .venv/bin/python bench/prelude_cost.py [CELLS]
"""

import os
import statistics
import sys
import tempfile
import time

from kernel_bench import run, start

CELLS = int(sys.argv[1]) if len(sys.argv) > 1 else 10


def main():
    with tempfile.TemporaryDirectory(prefix="prelude-cost-") as cache:
        os.environ["MULTITASK_CACHE_DIR"] = cache
        started = time.perf_counter()
        manager, client, _ = start("multitask")
        try:
            run(client, 'println!("{}", getpid());', timeout=900)
            cold = time.perf_counter() - started
            per_cell = [run(client, 'println!("x");') for _ in range(CELLS)]
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    print(f"cold start to first prelude cell's output (s) {cold:8.2f}")
    print(f"println! cell, median of {CELLS} (s)         {statistics.median(per_cell):8.3f}")
    print(f"println! cell, min / max (s)              {min(per_cell):.3f} / {max(per_cell):.3f}")


if __name__ == "__main__":
    main()
