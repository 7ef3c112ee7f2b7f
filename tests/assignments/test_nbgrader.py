"""The teachers' round trip through nbgrader (``scripts/assignments.py``):
the release holds no answer and matches the learner notebooks; autograded,
the release scores 0 and the solutions score full marks."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
from assignments import Course, assignment_of, lessons  # noqa: E402
from exercises import BEGIN, stub_out  # noqa: E402


def code_of(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return Course(tmp_path_factory.mktemp("course"))


@pytest.fixture(scope="module")
def release(course, tmp_path_factory):
    return course.release(tmp_path_factory.mktemp("release"))


def test_the_release_holds_no_answer_and_is_the_learners_notebook(release):
    assert len(release) == len(lessons()) >= 1
    for released in release:
        assert BEGIN not in released.read_text(encoding="utf-8")
        solutions = json.loads((REPO / "notebooks" / "solutions" / released.name).read_text(encoding="utf-8"))
        stubs = [stub_out("".join(cell["source"])) for cell in solutions["cells"]
                 if cell["metadata"].get("nbgrader", {}).get("solution")]
        exercises = [cell for cell in json.loads(released.read_text(encoding="utf-8"))["cells"]
                     if cell["metadata"].get("nbgrader", {}).get("solution")]
        assert ["".join(cell["source"]) for cell in exercises] == stubs
        assert code_of(released) == code_of(REPO / "notebooks" / released.name)


def test_autograding_scores_the_release_0_and_the_solutions_full_marks(course, release, tmp_path):
    for released in release:
        (tmp_path / "stub").mkdir(exist_ok=True)
        (tmp_path / "teacher").mkdir(exist_ok=True)
        shutil.copy(released, tmp_path / "stub" / released.name)
        shutil.copy(REPO / "notebooks" / "solutions" / released.name, tmp_path / "teacher" / released.name)
    rows = course.autograde(tmp_path)
    scores = {(row["student_id"], row["assignment"]): (float(row["score"]), float(row["max_score"]))
              for row in rows}
    for notebook in lessons():
        assignment = assignment_of(notebook)
        stub_score, most = scores[("stub", assignment)]
        teacher_score, _ = scores[("teacher", assignment)]
        assert most > 0, assignment
        assert stub_score == 0, assignment
        assert teacher_score == most, assignment
    assert (tmp_path / "grades.csv").exists()
