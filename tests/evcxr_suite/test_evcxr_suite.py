"""Runs evcxr 0.22's integration tests, translated into cells (cases.py),
through an installed kernelspec: `multitask` by default, or the one named by
EVCXR_SUITE_KERNEL (e.g. `rust` for evcxr_jupyter, to compare).

One kernel serves every case; each case starts with `:clear`, as each evcxr
test starts with a new context.
"""

import os
import queue
import tempfile
from pathlib import Path

import pytest
from jupyter_client.manager import start_new_kernel

from cases import CASES, RESTORE, TEMP_CRATES

KERNEL_NAME = os.environ.get("EVCXR_SUITE_KERNEL", "multitask")
REPLY_TIMEOUT = 180


@pytest.fixture(scope="module")
def crates():
    """Writes the temporary crates; returns name -> directory."""
    with tempfile.TemporaryDirectory() as root:
        paths = {}
        for key, (package, source) in TEMP_CRATES.items():
            directory = Path(root) / key
            (directory / "src").mkdir(parents=True)
            (directory / "Cargo.toml").write_text(
                f'[package]\nname = "{package}"\nversion = "0.0.1"\nedition = "2018"\n'
            )
            (directory / "src" / "lib.rs").write_text(source)
            paths[key] = str(directory)
        yield paths


@pytest.fixture(scope="module")
def client():
    manager, kernel_client = start_new_kernel(kernel_name=KERNEL_NAME, startup_timeout=120)
    yield kernel_client
    kernel_client.stop_channels()
    manager.shutdown_kernel(now=True)


def run(client, code):
    """Executes `code`; returns (reply content, iopub messages until idle)."""
    msg_id = client.execute(code, allow_stdin=False, stop_on_error=False)
    reply = client.get_shell_msg(timeout=REPLY_TIMEOUT)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = client.get_shell_msg(timeout=REPLY_TIMEOUT)
    outputs = []
    while True:
        try:
            message = client.get_iopub_msg(timeout=REPLY_TIMEOUT)
        except queue.Empty:
            break
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            break
        outputs.append(message)
    return reply["content"], outputs


def stream(outputs, name):
    return "".join(
        message["content"]["text"]
        for message in outputs
        if message["msg_type"] == "stream" and message["content"]["name"] == name
    )


def result(outputs):
    for message in outputs:
        if message["msg_type"] == "execute_result":
            return message["content"]["data"].get("text/plain")
    return None


def everything_shown(reply, outputs):
    """All text the cell showed: streams, results, displays, pages, errors."""
    parts = []
    for message in outputs:
        content = message["content"]
        if message["msg_type"] == "stream":
            parts.append(content["text"])
        elif message["msg_type"] in ("execute_result", "display_data"):
            parts.extend(str(text) for text in content["data"].values())
        elif message["msg_type"] == "error":
            parts.extend([content["ename"], content["evalue"], *content["traceback"]])
    for payload in reply.get("payload", []):
        parts.extend(str(text) for text in payload.get("data", {}).values())
    if reply["status"] == "error":
        parts.extend([reply.get("ename", ""), reply.get("evalue", ""), *reply.get("traceback", [])])
    return "\n".join(parts)


def ask(client, request, step):
    """Sends a completion or inspection `request` for `step`; returns
    (reply content, cursor)."""
    cursor = len(step.code) if step.cursor < 0 else step.cursor
    msg_id = request(step.code, cursor)
    reply = client.get_shell_msg(timeout=REPLY_TIMEOUT)
    assert reply["parent_header"]["msg_id"] == msg_id
    return reply["content"], cursor


def check_completion(client, step):
    content, cursor = ask(client, client.complete, step)
    matches = content["matches"]
    if step.empty:
        assert matches == [], matches
    # A kernel may insert a call as a snippet (evcxr_jupyter's
    # `reserve(additional)`) or as the name (this kernel's `reserve`).
    names = [match.split("(")[0] if not match.startswith(":") else match for match in matches]
    for name in step.has:
        assert name in names, (name, matches)
    for name in step.lacks:
        assert name not in names, (name, matches)
    if step.prefix:
        assert all(match.startswith(step.prefix) for match in matches), matches
        assert content["cursor_start"] == cursor - len(step.prefix)
        assert content["cursor_end"] == cursor
    types = {
        entry["text"].split("(")[0]: entry["type"]
        for entry in content.get("metadata", {}).get("_jupyter_types_experimental", [])
    }
    for name, kind in step.types.items():
        assert types.get(name) == kind, (name, types)


def check_inspection(client, step):
    content, _ = ask(client, client.inspect, step)
    assert content["status"] == "ok", content
    if step.has:
        assert content["found"], content
        plain = content["data"].get("text/plain", "")
        for needle in step.has:
            assert needle in plain, (needle, plain)
        assert "<" in content["data"].get("text/html", ""), content["data"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_case(client, crates, name):
    reply, _ = run(client, ":clear")
    assert reply["status"] == "ok", reply
    try:
        run_steps(client, crates, CASES[name])
    finally:
        for code in RESTORE.get(name, []):
            run(client, code)


def run_steps(client, crates, steps):
    for step in steps:
        code = step.code
        for key, path in crates.items():
            code = code.replace("{" + key + "}", path)
        if step.kind == "complete":
            check_completion(client, step)
            continue
        if step.kind == "inspect":
            check_inspection(client, step)
            continue
        reply, outputs = run(client, code)
        shown = everything_shown(reply, outputs)
        context = f"{code!r} showed:\n{shown}"
        if step.kind == "fails":
            assert reply["status"] == "error", context
            for needle in step.needles:
                assert needle in shown, (needle, context)
            continue
        if step.kind == "shows":
            expected = step.text
            for key, path in crates.items():
                expected = expected.replace("{" + key + "}", path)
            assert expected in shown, (expected, context)
            continue
        assert reply["status"] == "ok", context
        if step.kind == "value":
            assert result(outputs) == step.text, context
        elif step.kind == "stdout":
            assert step.text in stream(outputs, "stdout"), context
        elif step.kind == "stderr":
            assert step.text in stream(outputs, "stderr"), context
