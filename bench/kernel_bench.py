"""Kernel speed, side by side with evcxr_jupyter 0.22 when it is installed:
the figures of issue 13 (first output at launch, plain cells cold and after
Kernel → Restart, per-cell medians by kind, idle memory, a process's start
and join over a session) and the kernel's own (interrupt, output flood).

Drives each kernel as Jupyter does (jupyter_client, kernelspecs found through
JUPYTER_PATH) and prints one table. Run it through scripts/bench-kernel.
"""

import json
import os
import statistics
import sys
import tempfile
import time
from queue import Empty

from jupyter_client.manager import KernelManager

RUNS = 5
FLOOD_TIMEOUT = 120


def wait_for_reply(client, msg_id, timeout=300):
    while True:
        reply = client.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply


def drain_until_idle(client, msg_id, on_message=None, timeout=300):
    while True:
        message = client.get_iopub_msg(timeout=timeout)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if on_message:
            on_message(message)
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            return


def run(client, code, on_message=None, timeout=300):
    """Runs a cell; returns seconds from request to idle."""
    started = time.perf_counter()
    msg_id = client.execute(code, store_history=True)
    # iopub first, as a notebook reads it: output is seen as it arrives.
    drain_until_idle(client, msg_id, on_message, timeout)
    reply = wait_for_reply(client, msg_id, timeout)
    elapsed = time.perf_counter() - started
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"cell failed: {code!r}: {reply['content'].get('evalue')}")
    return elapsed


def launch(kernel_name):
    """Launches a kernel and connects; returns (manager, client, launch time)."""
    manager = KernelManager(kernel_name=kernel_name)
    started = time.perf_counter()
    manager.start_kernel()
    client = manager.client()
    client.start_channels()
    return manager, client, started


def start(kernel_name):
    """Starts a kernel; returns (manager, client, seconds to kernel_info reply)."""
    manager, client, started = launch(kernel_name)
    try:
        msg_id = client.kernel_info()
        wait_for_reply(client, msg_id, timeout=120)
        elapsed = time.perf_counter() - started
        # A SUB socket misses what is published before it has joined: wait as
        # jupyter_client does until iopub delivers, then drop what it delivered.
        client.wait_for_ready(timeout=60)
        while True:
            try:
                client.get_iopub_msg(timeout=0.3)
            except Empty:
                break
    except BaseException:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
        raise
    return manager, client, elapsed


def kernel_pid(manager):
    return manager.provisioner.process.pid


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def first_cell_after_reading(kernel_name, cells, pause=15.0):
    """A learner opens a notebook and reads for `pause` seconds before running it."""
    manager, client, _ = start(kernel_name)
    try:
        time.sleep(pause)
        return run(client, cells["variable"].format(n=100))
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def measure(kernel_name, cells):
    figures = {"first variable cell, 15 s after launch (s)": first_cell_after_reading(kernel_name, cells)}
    manager, client, figures["launch → kernel_info (s)"] = start(kernel_name)
    try:
        figures["first cell, fresh kernel (s)"] = run(client, cells["first"])
        figures["trivial cell (s)"] = statistics.median(
            run(client, cells["trivial"]) for _ in range(RUNS)
        )
        figures["cell defining a variable (s)"] = statistics.median(
            run(client, cells["variable"].format(n=n)) for n in range(RUNS)
        )

        latencies = []

        def stamp_latency(message):
            if message["msg_type"] == "stream":
                now_us = time.time_ns() // 1000
                for line in message["content"]["text"].split():
                    if line.isdigit():
                        latencies.append((now_us - int(line)) / 1000)

        run(client, cells["latency"], stamp_latency)
        figures["println! → stream on client, median (ms)"] = statistics.median(latencies)
        figures["println! → stream on client, max (ms)"] = max(latencies)

        run(client, cells["define_variable"])
        msg_id = client.execute(cells["sleep_loop"])
        time.sleep(2.0)
        started = time.perf_counter()
        manager.interrupt_kernel()
        drain_until_idle(client, msg_id)
        figures["interrupt → idle (s)"] = time.perf_counter() - started
        wait_for_reply(client, msg_id)
        figures["variable kept after interrupt"] = run_keeps_variable(client, cells)

        lines = []

        def count_lines(message):
            if message["msg_type"] == "stream":
                lines.append(message["content"]["text"].count("\n"))

        before = peak_rss_kib(kernel_pid(manager))
        try:
            figures["200,000 lines: seconds"] = run(client, cells["flood"], count_lines, timeout=FLOOD_TIMEOUT)
        except Empty:
            figures["200,000 lines: seconds"] = f"> {FLOOD_TIMEOUT}"
        after = peak_rss_kib(kernel_pid(manager))
        figures["200,000 lines: lines delivered"] = sum(lines)
        figures["200,000 lines: kernel peak RSS (MiB)"] = after / 1024
        figures["kernel peak RSS before flood (MiB)"] = before / 1024
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return figures


# Sixteen plain-Rust cells of four kinds, std only, so both kernels run them.
PLAIN_CELLS = [
    ("let", "let a = 1;"),
    ("fn", "fn double(x: i32) -> i32 { x * 2 }"),
    ("println", 'println!("{}", double(a));'),
    ("fn", "struct Point { x: i32, y: i32 }"),
    ("fn", "impl Point { fn sum(&self) -> i32 { self.x + self.y } }"),
    ("let", "let p = Point { x: 1, y: 2 };"),
    ("expression", "p.sum()"),
    ("let", "let v: Vec<i32> = (0..10).collect();"),
    ("expression", "v.iter().sum::<i32>()"),
    ("println", 'println!("{:?}", v);'),
    ("fn", "fn square(x: u64) -> u64 { x * x }"),
    ("expression", "square(12)"),
    ("let", 'let s = String::from("hello");'),
    ("println", 'println!("{} {}", s, s.len());'),
    ("let", "let total: i32 = v.iter().map(|x| double(*x)).sum();"),
    ("expression", "total"),
]

PROCESS_START_JOIN = """
let mut took_us: Vec<f64> = (0..200).map(|_| {
    let started = std::time::Instant::now();
    let child = mp::Process::new(|| {});
    child.start();
    child.join();
    started.elapsed().as_secs_f64() * 1e6
}).collect();
took_us.sort_by(|a, b| a.partial_cmp(b).unwrap());
println!("{:.0}", took_us[100]);
"""


def run_all(client, cells):
    """Runs cells one after another; seconds for all, and per cell."""
    each = [(kind, run(client, code)) for kind, code in cells]
    return sum(took for _, took in each), each


def first_output_at_launch(kernel_name, code):
    """Seconds from launching a kernel to the first stream output of a cell
    sent at once, as Run All does when a notebook opens."""
    manager, client, started = launch(kernel_name)
    try:
        first = []

        def stamp(message):
            if message["msg_type"] == "stream" and not first:
                first.append(time.perf_counter() - started)

        # jupyter_client queues the request until the shell socket connects.
        run(client, code, stamp)
        return first[0]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def family_pss_mib(pid):
    """PSS of a process and all its descendants, in MiB."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    total_kib, pending = 0, [pid]
    while pending:
        current = pending.pop()
        pending.extend(children.get(current, []))
        try:
            with open(f"/proc/{current}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("Pss:"):
                        total_kib += int(line.split()[1])
        except OSError:
            pass
    return total_kib / 1024


def first_completion(kernel_name, first_code):
    """Seconds a completion of a std method takes in a fresh kernel after its
    first cell (the multitask kernel's analyzer reads std only from then on)."""
    manager, client, _ = start(kernel_name)
    try:
        run(client, first_code)
        code = "let grown: Vec<u8> = Vec::with_cap"
        started = time.perf_counter()
        msg_id = client.complete(code, len(code))
        reply = wait_for_reply(client, msg_id)
        took = time.perf_counter() - started
        # evcxr_jupyter offers snippets (`with_capacity(capacity)`).
        if not any(match.startswith("with_capacity") for match in reply["content"]["matches"]):
            raise RuntimeError(f"completion missed with_capacity: {reply['content']}")
        return took
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def session_figures(kernel_name, first_code, with_processes):
    """The issue-13 table for one kernel: first output at launch, sixteen
    plain cells cold and after Kernel → Restart, per-kind medians, idle PSS
    (after the first cell, and after the plain cells), the first completion,
    and (for the multitask kernel) a process's start+join over a session."""
    figures = {"launch → first output of a cell sent at launch (s)": first_output_at_launch(kernel_name, first_code)}
    figures["first completion, after the first cell (s)"] = first_completion(kernel_name, first_code)
    manager, client, _ = start(kernel_name)
    # A constant every later cell's crate holds, new in every run of the
    # benchmark, so "cold" means never compiled before, whatever is cached.
    run_marker = f"const BENCH_RUN: u64 = {time.time_ns()};"
    try:
        # The cells after Restart must be the same builds in the same order
        # (evcxr numbers a session's builds, and the number is in each one).
        run(client, first_code)
        # The multitask kernel's analyzer reads std after an 8 s pause.
        time.sleep(0.5)
        figures["kernel after its first cell, before a pause, PSS (MiB)"] = family_pss_mib(kernel_pid(manager))
        run(client, run_marker)
        cold, each = run_all(client, PLAIN_CELLS)
        figures["16 plain cells, cold (s)"] = cold
        for kind in ("println", "let", "fn", "expression"):
            figures[f"per cell, {kind}, median (s)"] = statistics.median(
                took for cell_kind, took in each if cell_kind == kind
            )
        # Long enough for the multitask kernel's analyzer to have read std
        # (an 8 s pause, then ~5 s): idle as a learner's kernel stays.
        time.sleep(20)
        figures["idle kernel 20 s after the plain cells, PSS (MiB)"] = family_pss_mib(kernel_pid(manager))
        if with_processes:
            figures["mp::Process start+join, fresh (µs)"] = float(run_text(client, PROCESS_START_JOIN))
            for n in range(40):
                run(client, f"let filler{n} = {n};")
            figures["mp::Process start+join, after 40 more cells (µs)"] = float(
                run_text(client, PROCESS_START_JOIN)
            )
        manager.restart_kernel(now=True)
        restarted = time.perf_counter()
        run(client, first_code)
        run(client, run_marker)
        figures["Kernel → Restart → first cell done (s)"] = time.perf_counter() - restarted
        figures["16 plain cells after Restart (s)"], _ = run_all(client, PLAIN_CELLS)
        figures["after Restart / cold"] = figures["16 plain cells after Restart (s)"] / cold
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return figures


def run_text(client, code):
    """Runs a cell and returns what it printed on stdout."""
    printed = []

    def collect(message):
        if message["msg_type"] == "stream" and message["content"]["name"] == "stdout":
            printed.append(message["content"]["text"])

    run(client, code, collect)
    return "".join(printed).strip()


def run_keeps_variable(client, cells):
    values = []

    def result(message):
        if message["msg_type"] == "execute_result":
            values.append(message["content"]["data"]["text/plain"])

    try:
        run(client, cells["read_variable"], result)
    except RuntimeError:
        return "no"
    return "yes" if values == ["7"] else "no"


MULTITASK_CELLS = {
    "first": "let first = getpid();",
    "trivial": 'println!("{}", 1 + 1);',
    "variable": "let v{n} = {n};",
    "latency": "for _ in 0..10 { println!(\"{}\", std::time::SystemTime::now()"
    ".duration_since(std::time::UNIX_EPOCH).unwrap().as_micros()); sleep(0.1); }",
    "define_variable": "let kept = 7;",
    "sleep_loop": "loop { sleep(1.0); }",
    "read_variable": "kept",
    "flood": 'for i in 0..200_000 { println!("line {i}"); }',
}

EVCXR_CELLS = dict(
    MULTITASK_CELLS,
    first="let first = std::process::id();",
    latency="for _ in 0..10 { println!(\"{}\", std::time::SystemTime::now()"
    ".duration_since(std::time::UNIX_EPOCH).unwrap().as_micros()); "
    "std::thread::sleep(std::time::Duration::from_millis(100)); }",
    sleep_loop="loop { std::thread::sleep(std::time::Duration::from_secs(1)); }",
)


def evcxr_spec_dir(binary):
    """A throwaway kernelspec for evcxr_jupyter at `binary`."""
    root = tempfile.mkdtemp(prefix="evcxr-spec-")
    spec = os.path.join(root, "kernels", "evcxr_bench")
    os.makedirs(spec)
    with open(os.path.join(spec, "kernel.json"), "w") as out:
        json.dump(
            {
                "argv": [binary, "--control_file", "{connection_file}"],
                "display_name": "evcxr (bench)",
                "language": "rust",
                "interrupt_mode": "message",
            },
            out,
        )
    return root


def main():
    evcxr_binary = sys.argv[1] if len(sys.argv) > 1 else ""
    columns = {
        "multitask": dict(
            session_figures("multitask", 'println!("pid {}", getpid());', with_processes=True),
            **measure("multitask", MULTITASK_CELLS),
        )
    }
    if evcxr_binary and os.path.exists(evcxr_binary):
        os.environ["JUPYTER_PATH"] = (
            evcxr_spec_dir(evcxr_binary) + os.pathsep + os.environ.get("JUPYTER_PATH", "")
        )
        columns["evcxr_jupyter 0.22"] = dict(
            session_figures("evcxr_bench", 'println!("pid {}", std::process::id());', with_processes=False),
            **measure("evcxr_bench", EVCXR_CELLS),
        )
    names = list(columns)
    ratio = len(names) == 2
    print(f"{'figure':52}" + "".join(f"{name:>20}" for name in names) + ("   ratio" if ratio else ""))
    for figure in columns["multitask"]:
        row = f"{figure:52}"
        values = [columns[name].get(figure, "") for name in names]
        for value in values:
            row += f"{value:>20.3f}" if isinstance(value, float) else f"{value!s:>20}"
        if ratio and all(isinstance(value, float) and value for value in values):
            row += f"{values[0] / values[1]:>8.2f}"
        print(row)


if __name__ == "__main__":
    main()
