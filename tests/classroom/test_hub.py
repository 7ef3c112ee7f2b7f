"""The class's JupyterHub, end to end, with two learners.

Starts the hub as `scripts/classroom` does (the script itself, in a
temporary CLASSROOM_DIR, with the shared-password authenticator and an admin
API token), creates two learners through the hub's REST API (the hub creates
their system users), starts their servers, and in each learner's server
starts a `multitask` kernel through the server's REST API and runs cells
through the kernel's websocket, as JupyterLab does: one using the prelude,
one forking a real process with `mp::Process`. Each learner's home must hold
the course's learner notebooks (not the solutions), owned by the learner.
Per-cell latencies are printed, never asserted.

Needs root (the hub creates users); `scripts/test` runs it as root, as CI does.
"""

from __future__ import annotations

import asyncio
import pwd
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from classroom_hub import REPO, Hub, execute_request, run_cells, running_hub
from learners import scratch_dir

CELLS = [
    ('println!("pid {}", getpid());', "pid "),
    (
        "let child = mp::Process::new(|| println!(\"child {}\", getpid()));\n"
        "child.start();\nchild.join();\n"
        'println!("exit {:?}", child.exitcode());',
        "exit Some(0)",
    ),
]


async def learner_session(hub: Hub, name: str) -> list[tuple[str, str, float]]:
    """Starts a multitask kernel in `name`'s server and runs the cells one by
    one: (reply status, printed text, latency) for each."""
    kernel = hub.request("POST", f"/user/{name}/api/kernels", {"name": "multitask"})
    connection = await hub.connect_kernel(name, kernel["id"])
    results = []
    try:
        for code, _ in CELLS:
            started = time.monotonic()
            [run] = await run_cells(connection, [execute_request(code)])
            results.append((run.status, run.printed, run.done - started))
        return results
    finally:
        connection.close()
        hub.request("DELETE", f"/user/{name}/api/kernels/{kernel['id']}")


@pytest.fixture(scope="module")
def hub():
    classroom_dir = scratch_dir("multitask-hub-")
    names = [f"mk-hub-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    log = open(classroom_dir.parent / f"{classroom_dir.name}.log", "w+")
    try:
        with running_hub(classroom_dir, names, log) as client:
            yield client, names
    finally:
        log.seek(0)
        print("the hub's log, its end:\n" + log.read()[-3000:])
        log.close()
        Path(log.name).unlink()
        subprocess.run(["rm", "-rf", str(classroom_dir)], check=True)


def test_two_learners_run_cells_in_their_own_servers(hub, capsys):
    client, names = hub
    client.request("POST", "/hub/api/users", {"usernames": names})
    # The timings are shown even when the test passes; the hub's log (printed
    # at teardown) only when it fails.
    report = []
    for name in names:
        report.append(f"{name}: server ready {client.start_server(name):.1f} s after the request")

    async def both():
        return await asyncio.gather(*(learner_session(client, name) for name in names))

    results = dict(zip(names, asyncio.run(both())))
    for name in names:
        for (code, _), (_, _, seconds) in zip(CELLS, results[name]):
            report.append(f"{name}: {seconds:5.2f} s  {code.splitlines()[0]}")
    with capsys.disabled():
        print("\n" + "\n".join(report))

    course = sorted(path.name for path in (REPO / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    for name in names:
        for (_, expected), (status, printed, _) in zip(CELLS, results[name]):
            assert status == "ok", printed
            assert expected in printed, printed
        account = pwd.getpwnam(name)
        seeded = Path(account.pw_dir) / "multitask-course"
        assert sorted(path.name for path in seeded.iterdir()) == course
        assert all(path.stat().st_uid == account.pw_uid for path in [seeded, *seeded.iterdir()])
