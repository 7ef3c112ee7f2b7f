"""`scripts/bench-classroom` end to end, so the classroom benchmark cannot rot.

Two learners (with the default fraction, one reads and one presses Run All)
go through lesson 01 with short think times, in a temporary CLASSROOM_DIR:
the run must end without a failure, write its JSON with the figures the
README quotes, remove its learners and put the toolchain's modes back.
Latencies are printed, never asserted.

Needs root (the hub creates users); `scripts/test` runs it as root, as CI does.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
from pathlib import Path

from classroom_hub import REPO
from learners import KERNEL_BIN, scratch_dir, toolchain_dirs


def modes(dirs: list[Path]) -> dict[Path, int]:
    return {path: path.stat().st_mode for directory in dirs for path in [directory, *directory.parents]}


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def test_two_learners_go_through_lesson_01(capsys):
    classroom_dir = scratch_dir("multitask-bench-")
    results_file = classroom_dir / "results.json"
    before = modes(toolchain_dirs())
    try:
        completed = subprocess.run(
            [str(REPO / "scripts/bench-classroom"), "2", "--think", "0.5", "--json", str(results_file)],
            env={**os.environ, "CLASSROOM_DIR": str(classroom_dir), "MULTITASK_KERNEL_BIN": str(KERNEL_BIN)},
            capture_output=True, text=True, timeout=600,
        )
        with capsys.disabled():
            print("\n" + completed.stdout[completed.stdout.find("Classroom benchmark"):])
        assert completed.returncode == 0, (
            completed.stdout[-3000:] + completed.stderr[-3000:]
            + (classroom_dir / "bench-hub.log").read_text()[-3000:])
        results = json.loads(results_file.read_text())
    finally:
        subprocess.run(["rm", "-rf", str(classroom_dir)], check=True)

    lesson = json.loads(next((REPO / "notebooks").glob("01-*.ipynb")).read_text())
    code = [cell for cell in lesson["cells"] if cell["cell_type"] == "code"]
    checks = [cell for cell in code if "check" in cell["metadata"].get("tags", [])]
    summary = results["summary"]
    assert summary["failures"] == []
    assert summary["cells_run"] == 2 * len(code)
    assert summary["expected_errors"] == 2 * len(checks)
    assert sorted(learner["mode"] for learner in results["learners"]) == ["reader", "run-all"]
    for figures in [summary["latency_s"]["all_cells"], summary["latency_s"]["without_first_cells"],
                    summary["server_spawn_s"], summary["kernel_ready_s"],
                    summary["kernel_start_to_first_output_s"], summary["cpu_s_per_learner"],
                    summary["pss_per_learner_mib"]["peak"], summary["pss_per_learner_mib"]["idle"]]:
        assert set(figures) == {"n", "p50", "p95", "max"}
    assert len(summary["latency_s"]["by_cell"]) == len(code)
    assert all(learner["pss_peak_mib"] > 0 for learner in results["learners"])
    assert set(results["memory_mib"]) == {
        "learners_total_peak", "learners_total_idle", "hub_and_proxy_peak", "hub_and_proxy_idle",
        "machine_used_before", "machine_used_peak", "machine_used_idle"}
    names = [learner["name"] for learner in results["learners"]]
    assert not [name for name in names if user_exists(name) or Path("/home", name).exists()]
    assert modes(toolchain_dirs()) == before
