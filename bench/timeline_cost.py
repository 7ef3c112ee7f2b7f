"""What `:timeline` recording costs the prelude benchmarks.

Runs the Rust benchmark (prelude/examples/bench.rs) RUNS times unarmed and
RUNS times recorded as one `:timeline` cell (MULTITASK_BENCH_TIMELINE=1),
alternating, so both sides share the machine's moods, and prints each
figure's median both ways and how much slower recording made it.

    python3 bench/timeline_cost.py path/to/bench [RUNS] [--one-cpu]

With --one-cpu both sides run on one CPU (taskset -c 0): no figure then
depends on whether the scheduler put two threads on one core or two, the
main source of spread on a shared two-core machine.
"""

import os
import re
import statistics
import subprocess
import sys

FIGURE = re.compile(r"^(\w+) ([0-9.]+) (\S+)$")
# Figures given as a rate get slower when they shrink; times when they grow.
RATES = ("msg/s", "task/s")


def run(binary: str, recorded: bool, prefix: list[str]) -> dict[str, tuple[float, str]]:
    environment = dict(os.environ)
    environment.pop("MULTITASK_BENCH_TIMELINE", None)
    if recorded:
        environment["MULTITASK_BENCH_TIMELINE"] = "1"
    output = subprocess.run(
        [*prefix, binary], env=environment, check=True, capture_output=True, text=True
    ).stdout
    figures = {}
    for line in output.splitlines():
        match = FIGURE.match(line)
        if match:
            figures[match[1]] = (float(match[2]), match[3])
    return figures


def main() -> None:
    arguments = [argument for argument in sys.argv[1:] if argument != "--one-cpu"]
    prefix = ["taskset", "-c", "0"] if "--one-cpu" in sys.argv else []
    binary = arguments[0]
    runs = int(arguments[1]) if len(arguments) > 1 else 21
    samples: dict[bool, dict[str, list[float]]] = {False: {}, True: {}}
    units: dict[str, str] = {}
    for index in range(runs):
        for recorded in (False, True) if index % 2 == 0 else (True, False):
            for name, (value, unit) in run(binary, recorded, prefix).items():
                samples[recorded].setdefault(name, []).append(value)
                units[name] = unit
        print(f"run {index + 1}/{runs} done", file=sys.stderr)
    print(
        f"{'figure':26} {'unarmed':>11} {'recorded':>11} {'slower by':>9}"
        f"  {'unarmed range':>21} {'recorded range':>21}  (medians of {runs})"
    )
    for name, unit in units.items():
        off, on = samples[False][name], samples[True].get(name, [float("nan")])
        slower = (
            statistics.median(off) / statistics.median(on) - 1
            if unit in RATES
            else statistics.median(on) / statistics.median(off) - 1
        )
        print(
            f"{name:26} {statistics.median(off):>11.4g} {statistics.median(on):>11.4g}"
            f" {slower:>+9.1%}  {min(off):>10.4g}–{max(off):<10.4g} {min(on):>10.4g}–{max(on):<10.4g} {unit}"
        )


if __name__ == "__main__":
    main()
