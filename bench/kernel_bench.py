"""Kernel speed, side by side with evcxr_jupyter 0.22 when it is installed.

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


def start(kernel_name):
    """Starts a kernel; returns (manager, client, seconds to kernel_info reply)."""
    manager = KernelManager(kernel_name=kernel_name)
    started = time.perf_counter()
    manager.start_kernel()
    client = manager.client()
    client.start_channels()
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
    columns = {"multitask": measure("multitask", MULTITASK_CELLS)}
    if evcxr_binary and os.path.exists(evcxr_binary):
        os.environ["JUPYTER_PATH"] = (
            evcxr_spec_dir(evcxr_binary) + os.pathsep + os.environ.get("JUPYTER_PATH", "")
        )
        columns["evcxr_jupyter 0.22"] = measure("evcxr_bench", EVCXR_CELLS)
    names = list(columns)
    print(f"{'figure':45}" + "".join(f"{name:>22}" for name in names))
    for figure in columns["multitask"]:
        row = f"{figure:45}"
        for name in names:
            value = columns[name].get(figure, "")
            row += f"{value:>22.3f}" if isinstance(value, float) else f"{value!s:>22}"
        print(row)


if __name__ == "__main__":
    main()
