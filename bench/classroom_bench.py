"""The classroom benchmark: N learners working through a lesson at once on
one JupyterHub on this machine. Run it through `scripts/bench-classroom`
(root), which sets up the hub's environment and runs this with its Python.

Owns the class's behaviour and the figures. The hub itself (started through
`scripts/classroom`, its REST API, cells over a kernel's websocket) is
`tests/classroom/classroom_hub.py`, shared with the hub test.

All learners log in at once, as when a teacher says "open lesson 01": the
hub creates them (system users) and starts their servers; each opens the
lesson's notebook from the copy seeded into their home (read through their
server's contents API and started as a session, as JupyterLab does) and runs
its code cells in order. Most read before each cell (a think time drawn
from a seeded random generator; the first is their reading of the lesson's
introduction, while the kernel warms up); a fraction press Run All as soon
as the notebook opens, which sends every cell at once. The exercises stay
unsolved, so their checks end in an error with ❌: those are expected,
counted apart; any other error, a check without its ❌, an aborted cell or a
timeout is a failure.

A cell's latency runs from its execute_request (for a Run All cell: from the
end of the cell before it, since the kernel runs one at a time) to its reply
and idle status. A Run All learner's first cell also waits for the kernel to
start (reported apart as "kernel start → first output"), so the latencies
are also given without first cells. Memory is PSS (`/proc/PID/smaps_rollup`),
summed per learner over every process their uid owns (server, kernel,
runtime, rust-analyzer, the cell's children): sampled through the run (peak)
and once all have finished with their kernels still open (idle).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import pwd
import random
import signal
import statistics
import sys
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests/classroom"))

from classroom_hub import Hub, execute_request, run_cells, running_hub  # noqa: E402

COURSE_IN_HOME = "multitask-course"
ERROR_TAG = "raises-exception"
CHECK_TAG = "check"
EXERCISE_FAILED = "❌"
MIB = 1024 * 1024


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("learners", type=int, help="how many learners")
    parser.add_argument("--think", type=float, default=5.0, metavar="SECONDS",
                        help="mean think time between a reader's cells, drawn "
                             "uniformly from half to one and a half of it (default 5)")
    parser.add_argument("--run-all", type=float, default=0.3, metavar="FRACTION",
                        help="the fraction of learners who press Run All (default 0.3)")
    parser.add_argument("--notebook", default="01-*.ipynb", metavar="GLOB",
                        help="the lesson, a glob in ~/multitask-course (default 01-*.ipynb)")
    parser.add_argument("--seed", type=int, default=1, help="for who runs all, and think times")
    parser.add_argument("--cell-timeout", type=float, default=300, metavar="SECONDS")
    parser.add_argument("--sample-every", type=float, default=1.0, metavar="SECONDS",
                        help="how often memory is sampled (default 1)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results here too")
    parsed = parser.parse_args()
    if parsed.learners < 1 or not 0 <= parsed.run_all <= 1:
        parser.error("learners must be at least 1, --run-all a fraction from 0 to 1")
    return parsed


# --- Memory ----------------------------------------------------------------


def pss(pid: str) -> int:
    """Process `pid`'s PSS in bytes (0 once it has exited)."""
    try:
        rollup = Path("/proc", pid, "smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return next((int(line.split()[1]) * 1024 for line in rollup.splitlines()
                 if line.startswith("Pss:")), 0)


TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def usage_by_owner(uids: set[int], hub_pid: int) -> tuple[dict[int, int], dict[int, float], int]:
    """PSS in bytes and CPU seconds so far, summed per uid in `uids`, and the
    PSS of the hub's process and root's processes below it (the proxy: the
    learners' servers below it run as the learners, so they count as theirs).

    A process's CPU time counts its own and its reaped children's, so the
    sum over a learner's live processes holds the compilers and cells that
    have exited too."""
    owners: dict[str, tuple[int, str]] = {}
    cpu = dict.fromkeys(uids, 0.0)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                # Fields after "(comm)": state, parent, …, utime, stime, cutime, cstime at 11–14.
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
                uid = entry.stat().st_uid
            except (FileNotFoundError, ProcessLookupError):
                continue  # it exited meanwhile
            owners[entry.name] = (uid, fields[1])
            if uid in cpu:
                cpu[uid] += sum(int(field) for field in fields[11:15]) / TICKS_PER_SECOND
    per_uid = dict.fromkeys(uids, 0)
    hub_tree = {str(hub_pid)}
    # Parents before children is not guaranteed: grow the tree until it stops.
    while True:
        grown = {pid for pid, (uid, parent) in owners.items() if uid == 0 and parent in hub_tree}
        if grown <= hub_tree:
            break
        hub_tree |= grown
    for pid, (uid, _) in owners.items():
        if uid in per_uid:
            per_uid[uid] += pss(pid)
    return per_uid, cpu, sum(pss(pid) for pid in hub_tree if pid in owners)


def machine_used() -> int:
    """The machine's memory in use (total less available), in bytes."""
    fields = {line.split(":")[0]: int(line.split()[1]) * 1024
              for line in Path("/proc/meminfo").read_text().splitlines()}
    return fields["MemTotal"] - fields["MemAvailable"]


def cpu_times() -> tuple[int, int]:
    """The machine's (busy, total) CPU time so far, in ticks."""
    ticks = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return sum(ticks) - idle, sum(ticks)


class MemorySampler(threading.Thread):
    """Samples the learners' PSS, the hub's and the machine's use every
    `every` seconds, keeping each one's peak (a thread: /proc reads block)."""

    def __init__(self, uids: dict[str, int], hub_pid: int, every: float):
        super().__init__(daemon=True)
        self.uids, self.hub_pid, self.every = uids, hub_pid, every
        self.peak = dict.fromkeys(uids, 0)
        self.peak_total = self.peak_hub = self.peak_machine = 0
        self.stopped = threading.Event()

    def sample(self) -> tuple[dict[str, int], dict[str, float], int, int]:
        """Each learner's PSS and CPU seconds, the hub's PSS, and the
        machine's memory in use, now."""
        per_uid, cpu, hub = usage_by_owner(set(self.uids.values()), self.hub_pid)
        return ({name: per_uid[uid] for name, uid in self.uids.items()},
                {name: cpu[uid] for name, uid in self.uids.items()}, hub, machine_used())

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            learners, _, hub, machine = self.sample()
            for name, pss in learners.items():
                self.peak[name] = max(self.peak[name], pss)
            self.peak_total = max(self.peak_total, sum(learners.values()))
            self.peak_hub = max(self.peak_hub, hub)
            self.peak_machine = max(self.peak_machine, machine)


# --- One learner -----------------------------------------------------------


def cell_source(cell: dict) -> str:
    """A cell's code (nbformat allows a string or a list of lines)."""
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def judge(cell: dict, status: str, printed: str) -> str:
    """The verdict on a cell's run: "ok"; "expected", an error in a cell
    tagged raises-exception (a check says ❌ for an unsolved exercise); or
    "failed"."""
    tags = cell.get("metadata", {}).get("tags", [])
    if status == "ok":
        return "ok"
    if status == "error" and ERROR_TAG in tags:
        if CHECK_TAG not in tags or EXERCISE_FAILED in printed:
            return "expected"
    return "failed"


async def learner(hub: Hub, name: str, run_all: bool, think: random.Random,
                  args: argparse.Namespace, lesson_start: float) -> dict:
    """One learner's lesson: their server, their notebook, its cells. Any
    error on the way is recorded as theirs, not raised: the class goes on.
    Times named "at" are seconds since `lesson_start`, to see who waited on whom."""
    record: dict = {"name": name, "mode": "run-all" if run_all else "reader", "cells": []}
    try:
        record["server_spawn_s"] = await asyncio.to_thread(hub.start_server, name)
        listing = await asyncio.to_thread(hub.request, "GET", f"/user/{name}/api/contents/{COURSE_IN_HOME}")
        lessons = sorted(item["path"] for item in listing["content"]
                         if Path(item["name"]).match(args.notebook))
        if not lessons:
            raise FileNotFoundError(f"no {args.notebook} in {name}'s ~/{COURSE_IN_HOME}")
        path = lessons[0]
        record["notebook"] = path
        notebook = await asyncio.to_thread(
            hub.request, "GET", f"/user/{name}/api/contents/{urllib.parse.quote(path)}?content=1")
        cells = [cell for cell in notebook["content"]["cells"] if cell["cell_type"] == "code"]
        kernel_requested = time.monotonic()
        record["kernel_requested_at_s"] = kernel_requested - lesson_start
        session = await asyncio.to_thread(hub.request, "POST", f"/user/{name}/api/sessions", {
            "path": path, "name": Path(path).name, "type": "notebook", "kernel": {"name": "multitask"},
        })
        connection = await hub.connect_kernel(name, session["kernel"]["id"])
        # The server opens the websocket once the kernel answered kernel_info.
        record["kernel_ready_s"] = time.monotonic() - kernel_requested
        requests = [execute_request(cell_source(cell),
                                    stop_on_error=ERROR_TAG not in cell["metadata"].get("tags", []))
                    for cell in cells]
        try:
            if run_all:
                started = time.monotonic()
                runs = await run_cells(connection, requests, args.cell_timeout)
                begun = [started] + [run.done for run in runs[:-1]]
            else:
                runs, begun = [], []
                for request in requests:
                    await asyncio.sleep(think.uniform(args.think / 2, args.think * 3 / 2))
                    begun.append(time.monotonic())
                    runs += await run_cells(connection, [request], args.cell_timeout)
                    if runs[-1].status in ("timeout", "closed"):
                        break  # the kernel is stuck or gone: the rest would wait as long
        finally:
            connection.close()
        if run_all and runs[0].first_output is not None:
            record["kernel_start_to_first_output_s"] = runs[0].first_output - kernel_requested
        for index, (cell, run, start) in enumerate(zip(cells, runs, begun)):
            verdict = judge(cell, run.status, run.printed)
            entry = {"cell": index + 1, "first_line": cell_source(cell).splitlines()[0],
                     "status": run.status, "verdict": verdict, "latency_s": run.done - start,
                     "at_s": start - lesson_start}
            if run.first_output is not None:
                entry["first_output_s"] = run.first_output - start
            if verdict == "failed":
                entry["printed"] = run.printed[-1500:]
            record["cells"].append(entry)
    except Exception as error:  # noqa: BLE001 (a learner's failure is a figure)
        record["error"] = f"{type(error).__name__}: {error}"
    return record


# --- The class -------------------------------------------------------------


async def lesson(hub: Hub, names: list[str], args: argparse.Namespace) -> dict:
    """Creates the learners, runs the lesson for all at once, samples memory."""
    await asyncio.to_thread(hub.request, "POST", "/hub/api/users", {"usernames": names})
    uids = {name: pwd.getpwnam(name).pw_uid for name in names}
    choices = random.Random(args.seed)
    run_all = set(choices.sample(names, round(len(names) * args.run_all)))
    sampler = MemorySampler(uids, hub.process.pid, args.sample_every)
    baseline = machine_used()
    # Anything else busy on the machine shows here before the class starts.
    load_before = os.getloadavg()[0]
    busy_before, total_before = cpu_times()
    started = time.monotonic()
    sampler.start()
    try:
        records = await asyncio.gather(*(
            learner(hub, name, name in run_all, random.Random(f"{args.seed}-{name[-2:]}"), args, started)
            for name in names))
    finally:
        sampler.stopped.set()
        sampler.join()
    wall = time.monotonic() - started
    busy_after, total_after = cpu_times()
    # Idle: every kernel still open, its last cell done a moment ago.
    await asyncio.sleep(5)
    idle, cpu, idle_hub, idle_machine = sampler.sample()
    for record in records:
        record["pss_peak_mib"] = sampler.peak[record["name"]] / MIB
        record["pss_idle_mib"] = idle[record["name"]] / MIB
        record["cpu_s"] = cpu[record["name"]]
    return {
        "learners": records,
        "wall_s": wall,
        "load_before": load_before,
        "cpu_busy_during": (busy_after - busy_before) / max(total_after - total_before, 1),
        "memory_mib": {
            "learners_total_peak": sampler.peak_total / MIB,
            "learners_total_idle": sum(idle.values()) / MIB,
            "hub_and_proxy_peak": sampler.peak_hub / MIB,
            "hub_and_proxy_idle": idle_hub / MIB,
            "machine_used_before": baseline / MIB,
            "machine_used_peak": sampler.peak_machine / MIB,
            "machine_used_idle": idle_machine / MIB,
        },
    }


def spread(values: list[float]) -> dict:
    """p50, p95 and max of `values` (p95 by linear interpolation), or {}."""
    if not values:
        return {}
    ordered = sorted(values)
    p95 = statistics.quantiles(ordered, n=20, method="inclusive")[18] if len(ordered) > 1 else ordered[0]
    return {"n": len(ordered), "p50": statistics.median(ordered), "p95": p95, "max": ordered[-1]}


def summary(results: dict) -> dict:
    records = results["learners"]
    cells = [cell for record in records for cell in record["cells"]]
    later = [cell for record in records for cell in record["cells"][1:]]
    failures = [{"learner": record["name"], "cell": cell["cell"], "status": cell["status"],
                 "printed": cell["printed"]}
                for record in records for cell in record["cells"] if cell["verdict"] == "failed"]
    failures += [{"learner": record["name"], "error": record["error"]}
                 for record in records if "error" in record]
    by_cell = {}
    for cell in cells:
        by_cell.setdefault(cell["cell"], []).append(cell["latency_s"])
    return {
        "cells_run": len(cells),
        "expected_errors": sum(cell["verdict"] == "expected" for cell in cells),
        "failures": failures,
        "latency_s": {
            "all_cells": spread([cell["latency_s"] for cell in cells]),
            "without_first_cells": spread([cell["latency_s"] for cell in later]),
            "by_cell": {index: spread(values) for index, values in sorted(by_cell.items())},
        },
        "server_spawn_s": spread([r["server_spawn_s"] for r in records if "server_spawn_s" in r]),
        "kernel_ready_s": spread([r["kernel_ready_s"] for r in records if "kernel_ready_s" in r]),
        "kernel_start_to_first_output_s": spread(
            [r["kernel_start_to_first_output_s"] for r in records if "kernel_start_to_first_output_s" in r]),
        "cpu_s_per_learner": spread([r["cpu_s"] for r in records]),
        "pss_per_learner_mib": {
            "peak": spread([r["pss_peak_mib"] for r in records]),
            "idle": spread([r["pss_idle_mib"] for r in records]),
        },
    }


def report(results: dict, args: argparse.Namespace) -> str:
    """The table a person reads."""
    s, memory = results["summary"], results["memory_mib"]
    readers = sum(record["mode"] == "reader" for record in results["learners"])
    first_lines = {cell["cell"]: cell["first_line"]
                   for record in results["learners"] for cell in record["cells"]}

    def row(label: str, figures: dict, unit: str = "s", digits: int = 2) -> str:
        if not figures:
            return f"  {label:<34} (none)"
        return (f"  {label:<34} {figures['p50']:8.{digits}f} {figures['p95']:8.{digits}f}"
                f" {figures['max']:8.{digits}f} {unit}  (n={figures['n']})")

    lines = [
        f"Classroom benchmark, {results['date']}: {len(results['learners'])} learners on "
        f"{results['machine']['cores']} cores, {results['machine']['memory_gib']:.1f} GiB; "
        f"notebook {args.notebook}",
        f"  {readers} reading ({args.think / 2:g}–{args.think * 3 / 2:g} s between cells), "
        f"{len(results['learners']) - readers} pressing Run All; the lesson took {results['wall_s']:.0f} s",
        f"  load average before {results['load_before']:.1f}; the CPUs were "
        f"{results['cpu_busy_during']:.0%} busy during the lesson",
        f"  cells run {s['cells_run']}, failures {len(s['failures'])}, "
        f"expected errors (unsolved exercises' checks) {s['expected_errors']}",
        "",
        f"  {'':<34} {'p50':>8} {'p95':>8} {'max':>8}",
        row("server spawn (request → ready)", s["server_spawn_s"]),
        row("kernel start → ready", s["kernel_ready_s"]),
        row("kernel start → first output, Run All", s["kernel_start_to_first_output_s"]),
        row("cell latency, all cells", s["latency_s"]["all_cells"]),
        row("cell latency, without first cells", s["latency_s"]["without_first_cells"]),
    ]
    lines.append("  by cell (its first line):")
    for index, figures in s["latency_s"]["by_cell"].items():
        lines.append(row(f"  {index:2d} {first_lines[index][:28]}", figures))
    lines += [
        "",
        f"  {'memory (PSS, MiB)':<34} {'p50':>8} {'p95':>8} {'max':>8}",
        row("per learner, peak", s["pss_per_learner_mib"]["peak"], "MiB", 0),
        row("per learner, idle at the end", s["pss_per_learner_mib"]["idle"], "MiB", 0),
        f"  all learners: peak {memory['learners_total_peak']:.0f} MiB, idle "
        f"{memory['learners_total_idle']:.0f} MiB; hub and proxy: peak "
        f"{memory['hub_and_proxy_peak']:.0f} MiB",
        row("CPU seconds per learner, in all", s["cpu_s_per_learner"], "s", 1),
        f"  machine in use: {memory['machine_used_before'] / 1024:.1f} GiB before, "
        f"peak {memory['machine_used_peak'] / 1024:.1f} GiB, idle at the end "
        f"{memory['machine_used_idle'] / 1024:.1f} GiB",
    ]
    for failure in s["failures"]:
        where = f"cell {failure['cell']} ({failure['status']})" if "cell" in failure else failure["error"]
        lines.append(f"  FAILED {failure['learner']}: {where}")
        if failure.get("printed"):
            lines.append("    " + failure["printed"].strip().replace("\n", "\n    ")[-600:])
    return "\n".join(lines)


def main() -> int:
    args = options()
    # Ctrl-C and SIGTERM alike unwind through running_hub, which removes the learners.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    classroom_dir = Path(os.environ["CLASSROOM_DIR"])
    # The benchmark's hub keeps no state between runs: a database left by an
    # interrupted run would make the hub recreate its learners at start.
    (classroom_dir / "state/jupyterhub.sqlite").unlink(missing_ok=True)
    # A prefix of its own, and a token per run, so no real account is touched.
    run = uuid.uuid4().hex[:6]
    names = [f"mkbench-{run}-{index:02d}" for index in range(1, args.learners + 1)]
    with open(classroom_dir / "bench-hub.log", "w") as log, running_hub(classroom_dir, names, log) as hub:
        print(f"the hub is up ({hub.url}; its log: {log.name}); {args.learners} learners start", flush=True)
        # Not asyncio.run: on Ctrl-C it would wait for the threads still
        # polling the hub; leaving them lets running_hub stop the hub at once.
        loop = asyncio.new_event_loop()
        try:
            results = loop.run_until_complete(lesson(hub, names, args))
        finally:
            loop.close()
    results.update({
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cores": os.cpu_count(),
                    "memory_gib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3},
        "options": {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()},
    })
    results["summary"] = summary(results)
    print(report(results, args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
        print(f"  results: {args.json}")
    return 1 if results["summary"]["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
