#!/usr/bin/env python3
"""Make the learner notebooks from their solutions, or check that they match.

The solutions (``notebooks/solutions/NN-*.ipynb``) are the single source, in
nbgrader's source format: an exercise cell (tagged ``exercise``, nbgrader
``solution: true``) holds its answer between a ``// BEGIN SOLUTION`` line and
a ``// END SOLUTION`` line. The learner's notebook (``notebooks/NN-*.ipynb``)
is the same notebook with each answer replaced by the stub, indented as the
``BEGIN`` line was::

    // 你的代码
    todo!()

and the ``<!-- 参考答案 -->`` placeholder replaced by a link to the solutions
("做完再看"). Outputs and execution counts are cleared in both.

    scripts/exercises.py           write every learner notebook from its solutions
    scripts/exercises.py --check   exit 1 (and say which) when one has drifted
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "notebooks" / "solutions"
BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"
STUB = ["// 你的代码", "todo!()"]
PLACEHOLDER = "<!-- 参考答案 -->"


def link_to_solutions(name: str) -> str:
    return f"做完再看:[参考答案](solutions/{name})(先自己写,检查通过了再对照)。"


def stub_out(source: str) -> str:
    """The source with every solution region replaced by the stub."""
    lines, inside = [], False
    for line in source.split("\n"):
        if BEGIN in line:
            if inside:
                raise ValueError(f"{BEGIN} inside a solution: {line!r}")
            inside = True
            indent = re.match(r"\s*", line).group(0)
            lines.extend(indent + stub for stub in STUB)
        elif END in line:
            if not inside:
                raise ValueError(f"{END} without {BEGIN}: {line!r}")
            inside = False
        elif not inside:
            lines.append(line)
    if inside:
        raise ValueError(f"{BEGIN} without {END}")
    return "\n".join(lines)


def cleared(cell: dict) -> dict:
    cell = dict(cell)
    if cell["cell_type"] == "code":
        cell["outputs"] = []
        cell["execution_count"] = None
    return cell


def learner_notebook(solutions: dict, name: str) -> dict:
    """The learner's version of a solutions notebook."""
    cells = []
    for cell in solutions["cells"]:
        cell = cleared(cell)
        source = "".join(cell["source"])
        is_solution = cell.get("metadata", {}).get("nbgrader", {}).get("solution", False)
        if cell["cell_type"] == "code" and is_solution:
            source = stub_out(source)
        elif BEGIN in source:
            raise ValueError(f"cell {cell.get('id')} holds a solution but is not an exercise cell")
        source = source.replace(PLACEHOLDER, link_to_solutions(name))
        cell["source"] = source.splitlines(keepends=True)
        cells.append(cell)
    return {**solutions, "cells": cells}


def normalized(notebook: dict) -> str:
    """The text nbformat writes: sorted keys, one-space indent, UTF-8."""
    return json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only check that every learner notebook matches its solutions")
    args = parser.parse_args(argv)
    drifted = []
    sources = sorted(SOLUTIONS.glob("*.ipynb"))
    if not sources:
        print(f"no solutions in {SOLUTIONS}", file=sys.stderr)
        return 1
    for source_path in sources:
        solutions = json.loads(source_path.read_text(encoding="utf-8"))
        solutions = {**solutions, "cells": [cleared(cell) for cell in solutions["cells"]]}
        learner_path = REPO / "notebooks" / source_path.name
        learner = normalized(learner_notebook(solutions, source_path.name))
        if args.check:
            if source_path.read_text(encoding="utf-8") != normalized(solutions):
                drifted.append(f"{source_path.relative_to(REPO)} has outputs or is not normalized")
            if not learner_path.exists() or learner_path.read_text(encoding="utf-8") != learner:
                drifted.append(f"{learner_path.relative_to(REPO)} differs from its solutions")
        else:
            source_path.write_text(normalized(solutions), encoding="utf-8")
            learner_path.write_text(learner, encoding="utf-8")
            print(f"wrote {learner_path.relative_to(REPO)}")
    for problem in drifted:
        print(problem, file=sys.stderr)
    if drifted:
        print("run scripts/exercises.py to make the learner notebooks again", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
