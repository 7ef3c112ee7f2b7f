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
import json
import os
import pwd
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from learners import KERNEL_BIN, OpenPath, scratch_dir, toolchain_dirs

REPO = Path(__file__).resolve().parents[2]
CELLS = [
    ('println!("pid {}", getpid());', "pid "),
    (
        "let child = mp::Process::new(|| println!(\"child {}\", getpid()));\n"
        "child.start();\nchild.join();\n"
        'println!("exit {:?}", child.exitcode());',
        "exit Some(0)",
    ),
]


def free_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


class Hub:
    """The REST API of a running hub, as the admin service."""

    def __init__(self, url: str, token: str):
        self.url = url
        self.token = token

    def request(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
            return json.loads(text) if text else None

    def wait_until_up(self, hub_process: subprocess.Popen, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert hub_process.poll() is None, "scripts/classroom exited"
            try:
                self.request("GET", "/hub/api/")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(1)
        raise TimeoutError("the hub did not come up")

    def start_server(self, name: str, timeout: float = 180) -> float:
        """Starts `name`'s server; returns the seconds until it was ready."""
        started = time.monotonic()
        self.request("POST", f"/hub/api/users/{name}/server")
        while time.monotonic() - started < timeout:
            server = self.request("GET", f"/hub/api/users/{name}")["servers"].get("", {})
            if server.get("ready"):
                return time.monotonic() - started
            time.sleep(0.5)
        raise TimeoutError(f"{name}'s server did not start")


def execute_request(code: str) -> dict:
    msg_id = uuid.uuid4().hex
    return {
        "channel": "shell",
        "header": {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "username": "test",
            "session": "hub-test",
            "version": "5.3",
            "date": "",
        },
        "parent_header": {},
        "metadata": {},
        "content": {"code": code, "silent": False, "store_history": True,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        "buffers": [],
    }


async def run_cell(connection, code: str) -> tuple[str, str, float]:
    """Runs one cell; returns its reply status, its printed text and its latency."""
    request = execute_request(code)
    started = time.monotonic()
    await connection.write_message(json.dumps(request))
    status, printed, idle = None, [], False
    while status is None or not idle:
        message = json.loads(await asyncio.wait_for(connection.read_message(), 300))
        if message["parent_header"].get("msg_id") != request["header"]["msg_id"]:
            continue
        kind = message["msg_type"]
        if kind == "stream":
            printed.append(message["content"]["text"])
        elif kind == "error":
            printed.append("\n".join(message["content"]["traceback"]))
        elif kind == "execute_reply":
            status = message["content"]["status"]
        elif kind == "status" and message["content"]["execution_state"] == "idle":
            idle = True
    return status, "".join(printed), time.monotonic() - started


async def learner_session(hub: Hub, name: str) -> list[tuple[str, str, float]]:
    """Starts a multitask kernel in `name`'s server and runs the cells."""
    kernel = hub.request("POST", f"/user/{name}/api/kernels", {"name": "multitask"})
    ws_url = hub.url.replace("http://", "ws://") + f"/user/{name}/api/kernels/{kernel['id']}/channels"
    connection = await websocket_connect(
        HTTPRequest(ws_url, headers={"Authorization": f"token {hub.token}"})
    )
    try:
        return [await run_cell(connection, code) for code, _ in CELLS]
    finally:
        connection.close()
        hub.request("DELETE", f"/user/{name}/api/kernels/{kernel['id']}")


@pytest.fixture(scope="module")
def hub():
    classroom_dir = scratch_dir("multitask-hub-")
    opened = OpenPath(toolchain_dirs())
    port = free_port()
    token = secrets.token_hex(16)
    environment = {
        **os.environ,
        "CLASSROOM_DIR": str(classroom_dir),
        "MULTITASK_KERNEL_BIN": str(KERNEL_BIN),
        "MULTITASK_HUB_AUTH": "shared-password",
        "MULTITASK_HUB_PASSWORD": secrets.token_hex(8),
        "MULTITASK_HUB_API_TOKEN": token,
        "MULTITASK_HUB_PORT": str(port),
        "MULTITASK_HUB_API_PORT": str(free_port()),
        "MULTITASK_HUB_PROXY_API_PORT": str(free_port()),
    }
    log = open(classroom_dir.parent / f"{classroom_dir.name}.log", "w+")
    # Its own process group, so the hub, the proxy and the setup all stop together.
    hub_process = subprocess.Popen(
        [str(REPO / "scripts/classroom")], env=environment, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    names = [f"mk-hub-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    try:
        client = Hub(f"http://127.0.0.1:{port}", token)
        client.wait_until_up(hub_process, timeout=240)
        yield client, names
    finally:
        # SIGTERM first: the hub stops the learners' servers and the proxy.
        if hub_process.poll() is None:
            os.killpg(hub_process.pid, signal.SIGTERM)
            try:
                hub_process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(hub_process.pid, signal.SIGKILL)
                hub_process.wait()
        for name in names:
            subprocess.run(["pkill", "-KILL", "-u", name], check=False, stderr=subprocess.DEVNULL)
            subprocess.run(["userdel", "--remove", name], check=False, stderr=subprocess.DEVNULL)
        opened.close()
        log.seek(0)
        print("the hub's log, its end:\n" + log.read()[-3000:])
        log.close()
        os.unlink(log.name)
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
