"""What `:timeline` recording costs the prelude benchmarks.

Runs the Rust benchmark (prelude/examples/bench.rs) RUNS times unarmed and
RUNS times recorded as one `:timeline` cell (MULTITASK_BENCH_TIMELINE=1),
alternating, so both sides share the machine's moods, and prints each
figure's median both ways and how much slower recording made it.

    python3 bench/timeline_cost.py path/to/bench [RUNS]
"""

import os
import re
import statistics
import subprocess
import sys

FIGURE = re.compile(r"^(\w+) ([0-9.]+) (\S+)$")
# Figures given as a rate get slower when they shrink; times when they grow.
RATES = ("msg/s", "task/s")


def run(binary: str, recorded: bool) -> dict[str, tuple[float, str]]:
    environment = dict(os.environ)
    environment.pop("MULTITASK_BENCH_TIMELINE", None)
    if recorded:
        environment["MULTITASK_BENCH_TIMELINE"] = "1"
    output = subprocess.run(
        [binary], env=environment, check=True, capture_output=True, text=True
    ).stdout
    figures = {}
    for line in output.splitlines():
        match = FIGURE.match(line)
        if match:
            figures[match[1]] = (float(match[2]), match[3])
    return figures


def main() -> None:
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 9
    samples: dict[bool, dict[str, list[float]]] = {False: {}, True: {}}
    units: dict[str, str] = {}
    for index in range(runs):
        for recorded in (False, True) if index % 2 == 0 else (True, False):
            for name, (value, unit) in run(binary, recorded).items():
                samples[recorded].setdefault(name, []).append(value)
                units[name] = unit
        print(f"run {index + 1}/{runs} done", file=sys.stderr)
    print(f"{'figure':28} {'unarmed':>14} {'recorded':>14} {'slower by':>10}  (medians of {runs})")
    for name, unit in units.items():
        off = statistics.median(samples[False][name])
        on = statistics.median(samples[True].get(name, [float("nan")]))
        slower = off / on - 1 if unit in RATES else on / off - 1
        print(f"{name:28} {off:>14.6g} {on:>14.6g} {slower:>+9.1%}  {unit}")


if __name__ == "__main__":
    main()
