"""Every exercise check, judged against its solution (✅), its stub (❌
"还没有完成") and the wrong answers in ``wrong/`` (❌, in time), in
a real kernel launched from the installed kernelspec; and the learner
notebooks made from their solutions, unchanged.

Each solutions notebook runs top to bottom in one kernel; at an exercise, its
cell is run once per answer, each followed by its check cell, and the
solution is run last so that later cells build on it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import pytest
from jupyter_client.manager import start_new_kernel

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from exercises import BEGIN, END, stub_out  # noqa: E402

from wrong import WRONG_ANSWERS  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = sorted((REPO / "notebooks" / "solutions").glob("*.ipynb"))
# A check runs the answer for at most 10 s; compiling the cell comes on top.
CELL_TIMEOUT = 90


class Ran(NamedTuple):
    """What running a cell gave: its status, its stdout, how long it took,
    and what else it said (stderr, the error), for failure messages."""

    status: str
    printed: str
    seconds: float
    said: str


def run_cell(client, code: str) -> Ran:
    """Runs `code` and says what it gave."""
    printed, said = [], []

    def keep(message):
        content = message["content"]
        if message["msg_type"] == "stream":
            (printed if content["name"] == "stdout" else said).append(content["text"])
        elif message["msg_type"] == "error":
            said.append(f"{content['ename']}: {content['evalue']}\n")

    started = time.monotonic()
    reply = client.execute_interactive(code, output_hook=keep, timeout=CELL_TIMEOUT)
    seconds = time.monotonic() - started
    return Ran(reply["content"]["status"], "".join(printed), seconds, "".join(said))


def with_answer(source: str, answer: str) -> str:
    """The exercise cell with `answer` in place of its solution."""
    lines = source.split("\n")
    begin = next(i for i, line in enumerate(lines) if BEGIN in line)
    end = next(i for i, line in enumerate(lines) if END in line)
    return "\n".join(lines[:begin] + answer.strip("\n").split("\n") + lines[end + 1:])


@pytest.fixture(scope="module")
def kernel():
    manager, client = start_new_kernel(kernel_name="multitask")
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def test_the_learner_notebooks_are_made_from_their_solutions():
    made = subprocess.run([sys.executable, str(REPO / "scripts" / "exercises.py"), "--check"],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr


def test_every_exercise_has_wrong_answers_and_every_wrong_answer_an_exercise():
    exercises = set()
    for path in SOLUTIONS:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            nbgrader = cell.get("metadata", {}).get("nbgrader", {})
            if nbgrader.get("solution"):
                exercises.add(nbgrader["grade_id"])
    assert exercises == set(WRONG_ANSWERS)
    assert all(len(answers) >= 2 for answers in WRONG_ANSWERS.values())


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda path: path.stem)
def test_each_check_passes_the_solution_and_fails_the_stub_and_the_wrong_answers(kernel, path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    judged = 0
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        tags = cell.get("metadata", {}).get("tags", [])
        nbgrader = cell.get("metadata", {}).get("nbgrader", {})
        if "check" in tags:
            continue  # run with its exercise, below
        if not nbgrader.get("solution"):
            ran = run_cell(kernel, source)
            assert ran.status == "ok" or "raises-exception" in tags, (
                f"cell {index}: {ran.printed}{ran.said}")
            continue
        check = "".join(cells[index + 1]["source"])
        answers = {"the stub": stub_out(source)}
        answers.update({name: with_answer(source, code)
                        for name, code in WRONG_ANSWERS[nbgrader["grade_id"]].items()})
        for name, answer in answers.items():
            ran = run_cell(kernel, answer)
            assert ran.status == "ok", (
                f"{nbgrader['grade_id']}, {name}: the answer did not compile:\n{ran.said}")
            status, printed, seconds, _ = run_cell(kernel, check)
            assert status == "error" and "❌" in printed and "✅" not in printed, (
                f"{nbgrader['grade_id']}, {name}: the check did not fail it:\n{printed}")
            if name == "the stub":
                assert "还没有完成" in printed, printed
            print(f"{nbgrader['grade_id']}, {name}: ❌ in {seconds:.1f} s: {printed.strip().splitlines()[-1]}")
        ran = run_cell(kernel, source)
        assert ran.status == "ok", f"{nbgrader['grade_id']}: the solution did not run:\n{ran.said}"
        status, printed, _, _ = run_cell(kernel, check)
        assert status == "ok" and "✅" in printed, f"{nbgrader['grade_id']}: the solution failed:\n{printed}"
        judged += 1
    assert judged >= 2, f"{path.name} has {judged} exercises"
