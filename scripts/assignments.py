#!/usr/bin/env python3
"""The course as nbgrader assignments, for teachers: one assignment per
notebook with exercises (``lesson01`` … from ``notebooks/solutions/``).

    assignments.py release OUT          the notebooks to hand out, answers removed,
                                        checks locked (nbgrader's generate_assignment)
    assignments.py autograde SUBMITTED  SUBMITTED/<student>/NN-*.ipynb, each run and
                                        scored; writes SUBMITTED/grades.csv and prints it

nbgrader works in a course directory (``--course DIR``; by default
``course/`` in the repository, which git ignores) with its own gradebook.
The kernel must be installed where Jupyter finds it (``scripts/assignments``
sets that up).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "notebooks" / "solutions"
STUB = "// 你的代码\ntodo!()"

def nbgrader_config(root: Path) -> str:
    """nbgrader's settings for the course: Rust stubs, our delimiters."""
    return "\n".join([
        "# Written by scripts/assignments.py for the multitask course.",
        "c = get_config()",
        f"c.CourseDirectory.root = {str(root)!r}",
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(root / 'gradebook.db')!r}",
        f"c.ClearSolutions.code_stub = {{'rust': {STUB!r}}}",
        "c.ClearSolutions.begin_solution_delimeter = 'BEGIN SOLUTION'",
        "c.ClearSolutions.end_solution_delimeter = 'END SOLUTION'",
        "# A check runs an answer for at most 10 s; compiling a cell comes on top.",
        "c.Execute.timeout = 120",
        "",
    ])


def assignment_of(notebook: Path) -> str:
    """`01-多任务介绍.ipynb` is assignment `lesson01`."""
    return "lesson" + notebook.name[:2]


def lessons(only: list[str] | None = None) -> list[Path]:
    """The notebooks with exercises, or those whose number is in `only`."""
    return [notebook for notebook in sorted(SOLUTIONS.glob("*.ipynb"))
            if not only or notebook.name[:2] in only]


class Course:
    """An nbgrader course directory holding the course's sources."""

    def __init__(self, root: Path, only: list[str] | None = None):
        self.lessons = lessons(only)
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "nbgrader_config.py").write_text(nbgrader_config(self.root), encoding="utf-8")
        for notebook in self.lessons:
            source = self.root / "source" / assignment_of(notebook)
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy(notebook, source / notebook.name)

    def nbgrader(self, *arguments: str) -> None:
        # nbgrader runs other tools of its environment (alembic) by name.
        tools = str(Path(sys.executable).parent)
        environment = {**os.environ, "PATH": tools + os.pathsep + os.environ.get("PATH", "")}
        subprocess.run([str(Path(tools) / "nbgrader"), *arguments],
                       cwd=self.root, check=True, env=environment)

    def release(self, out: Path) -> list[Path]:
        """Generates every assignment and copies the release to `out`."""
        written = []
        for notebook in self.lessons:
            assignment = assignment_of(notebook)
            self.nbgrader("generate_assignment", assignment, "--create", "--force", "--log-level=WARN")
            released = self.root / "release" / assignment / notebook.name
            target = out / assignment / notebook.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(released, target)
            written.append(target)
        return written

    def autograde(self, submitted: Path) -> list[dict]:
        """Scores every `submitted/<student>/NN-*.ipynb`; returns the grade rows."""
        by_name = {notebook.name: assignment_of(notebook) for notebook in self.lessons}
        assignments = set()
        for path in sorted(submitted.glob("*/*.ipynb")):
            if path.name not in by_name:
                print(f"skipped {path}: not a notebook of the course", file=sys.stderr)
                continue
            student, assignment = path.parent.name, by_name[path.name]
            target = self.root / "submitted" / student / assignment / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
            assignments.add(assignment)
        for assignment in sorted(assignments):
            self.nbgrader("generate_assignment", assignment, "--create", "--force", "--log-level=WARN")
            self.nbgrader("autograde", assignment, "--create", "--force", "--log-level=WARN")
        grades = self.root / "grades.csv"
        self.nbgrader("export", "--to", str(grades), "--log-level=WARN")
        with grades.open(encoding="utf-8") as table:
            rows = [row for row in csv.DictReader(table) if row["assignment"] in assignments]
        shutil.copy(grades, submitted / "grades.csv")
        return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course", type=Path, default=REPO / "course",
                        help="nbgrader's course directory (default: course/)")
    parser.add_argument("--only", action="append", metavar="NN",
                        help="only the lesson with this number (repeatable), e.g. --only 01")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("release").add_argument("out", type=Path)
    commands.add_parser("autograde").add_argument("submitted", type=Path)
    args = parser.parse_args(argv)
    course = Course(args.course, args.only)
    if args.command == "release":
        for path in course.release(args.out):
            print(f"released {path}")
        return 0
    rows = course.autograde(args.submitted)
    print(f"{'student':<16} {'assignment':<10} {'score':>6} {'max':>6}")
    for row in rows:
        print(f"{row['student_id']:<16} {row['assignment']:<10} "
              f"{float(row['score']):>6g} {float(row['max_score']):>6g}")
    print(f"grades written to {args.submitted / 'grades.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
