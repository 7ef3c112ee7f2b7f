"""A class's JupyterHub as the hub test and the classroom benchmark drive it.

Owns starting the hub through `scripts/classroom` itself (in a given
CLASSROOM_DIR, shared-password logins, an admin API token, free loopback
ports) and stopping it with its learners' accounts removed; the hub's REST
API as that admin service; and running cells over a kernel's websocket the
way JupyterLab sends them. Needs root: the hub creates system users.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from learners import KERNEL_BIN, OpenPath, toolchain_dirs

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


class Hub:
    """The REST API of a running hub (`process`), as the admin service."""

    def __init__(self, url: str, token: str, process: subprocess.Popen):
        self.url = url
        self.token = token
        self.process = process

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

    def wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "scripts/classroom exited"
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

    async def connect_kernel(self, name: str, kernel_id: str) -> WebSocketClientConnection:
        """The websocket of kernel `kernel_id` in `name`'s server."""
        ws_url = self.url.replace("http://", "ws://") + f"/user/{name}/api/kernels/{kernel_id}/channels"
        # The server answers once the kernel does; with a class starting at
        # once on two cores that can take longer than tornado's default 20 s,
        # and a browser would keep waiting.
        return await websocket_connect(HTTPRequest(
            ws_url, headers={"Authorization": f"token {self.token}"},
            connect_timeout=180, request_timeout=180,
        ))


@contextmanager
def running_hub(classroom_dir: Path, learners: list[str], log: IO[str]) -> Iterator[Hub]:
    """The hub `scripts/classroom` starts in `classroom_dir` (its output to
    `log`), up and answering; afterwards stopped, and the system users named
    in `learners` removed with their homes, even when the caller failed.

    The toolchain under root's home is opened to learners meanwhile (OpenPath)."""
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
    # Its own session, so the hub, the proxy and the setup all stop together.
    process = subprocess.Popen(
        [str(REPO / "scripts/classroom")], env=environment, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        hub = Hub(f"http://127.0.0.1:{port}", token, process)
        hub.wait_until_up(timeout=240)
        yield hub
    finally:
        # SIGTERM first: the hub stops the learners' servers and the proxy.
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for name in learners:
            subprocess.run(["pkill", "-KILL", "-u", name], check=False, stderr=subprocess.DEVNULL)
            subprocess.run(["userdel", "--remove", name], check=False, stderr=subprocess.DEVNULL)
        opened.close()


def execute_request(code: str, stop_on_error: bool = True) -> dict:
    """An execute_request as JupyterLab sends it (which clears stop_on_error
    for cells tagged raises-exception)."""
    return {
        "channel": "shell",
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "username": "learner",
            "session": "classroom",
            "version": "5.3",
            "date": "",
        },
        "parent_header": {},
        "metadata": {},
        "content": {"code": code, "silent": False, "store_history": True,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": stop_on_error},
        "buffers": [],
    }


@dataclass
class CellRun:
    """One cell's run: its reply status ("ok", "error", "aborted", or
    "timeout"/"closed" when neither came), what it printed (tracebacks
    included), and the monotonic times of its first output (printed text, a
    value or an error) and of its end (reply and idle both received)."""

    status: str
    printed: str
    first_output: float | None
    done: float


async def run_cells(connection: WebSocketClientConnection, requests: list[dict],
                    timeout: float = 300) -> list[CellRun]:
    """Sends every request at once (one, for a single cell; all of a
    notebook's, as JupyterLab's Run All does) and follows each until its
    reply and idle status arrived. When no message comes for `timeout`
    seconds, or the connection closes, the cells still running end so."""
    pending = {request["header"]["msg_id"]: index for index, request in enumerate(requests)}
    status: dict[str, str] = {}
    printed: dict[str, list[str]] = {msg_id: [] for msg_id in pending}
    first_output: dict[str, float] = {}
    idle: set[str] = set()
    runs: dict[str, CellRun] = {}
    for request in requests:
        await connection.write_message(json.dumps(request))
    while len(runs) < len(requests):
        try:
            raw = await asyncio.wait_for(connection.read_message(), timeout)
        except asyncio.TimeoutError:
            raw, ending = None, "timeout"
        else:
            ending = "closed"
        if raw is None:
            for msg_id in pending.keys() - runs.keys():
                runs[msg_id] = CellRun(ending, "".join(printed[msg_id]),
                                       first_output.get(msg_id), time.monotonic())
            break
        message = json.loads(raw)
        msg_id = message["parent_header"].get("msg_id")
        if msg_id not in pending or msg_id in runs:
            continue
        kind = message["msg_type"]
        # Not display_data: the kernel's "⏳ compiling…" notice is one.
        if kind in ("stream", "error", "execute_result"):
            first_output.setdefault(msg_id, time.monotonic())
        if kind == "stream":
            printed[msg_id].append(message["content"]["text"])
        elif kind == "error":
            printed[msg_id].append("\n".join(message["content"]["traceback"]))
        elif kind == "execute_reply":
            status[msg_id] = message["content"]["status"]
        elif kind == "status" and message["content"]["execution_state"] == "idle":
            idle.add(msg_id)
        # An aborted cell (an earlier one failed with stop_on_error) may get
        # its reply without a busy/idle pair of its own.
        if msg_id in status and (msg_id in idle or status[msg_id] == "aborted"):
            runs[msg_id] = CellRun(status[msg_id], "".join(printed[msg_id]),
                                   first_output.get(msg_id), time.monotonic())
    return [runs[request["header"]["msg_id"]] for request in requests]
