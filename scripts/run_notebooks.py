#!/usr/bin/env python3
"""Execute the course notebooks with the `multitask` kernel and judge the run.

A notebook passes when, run top to bottom unattended:

* every cell that is NOT tagged ``raises-exception`` runs without an error
  (a failing ``assert!`` is a panic, which the kernel reports as an error);
* every cell tagged ``raises-exception`` does end with an error (it teaches one);
* exercise checks (cells tagged ``check``) print ``✅`` in a solutions notebook
  (``notebooks/solutions/``) and ``❌`` in a learner's notebook, whose
  exercises are stubs; no other cell prints ``❌``;
* the whole notebook takes at most ``--notebook-timeout`` seconds (120 by default).

Exit status is 0 when every notebook passes, 1 otherwise, so tests and
``scripts/handouts`` can reuse it.  ``--output-dir`` keeps the executed
notebooks (with outputs) for exporting handouts; ``--index DIR`` only writes
``DIR/index.html`` linking the HTML/PDF handouts of the given notebooks.
"""

from __future__ import annotations

import argparse
import html
import sys
import time
import urllib.parse
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
ERROR_TAG = "raises-exception"
CHECK_TAG = "check"
EXERCISE_FAILED = "❌"
EXERCISE_PASSED = "✅"


def notebook_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The text of the first Markdown heading, else the file stem."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return fallback


def cell_text_output(cell: nbformat.NotebookNode) -> str:
    """All stream and text/plain output of a code cell, joined."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def has_error(cell: nbformat.NotebookNode) -> bool:
    return any(out.get("output_type") == "error" for out in cell.get("outputs", []))


def execute(path: Path, kernel: str, cell_timeout: int, notebook_timeout: float,
            output_dir: Path | None) -> list[str]:
    """Run one notebook; return the list of problems (empty when it passes)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    solutions = path.parent.name == "solutions"
    client = NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=cell_timeout,
        allow_errors=False,  # cells tagged raises-exception are still allowed by nbclient
        record_timing=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    problems = []
    start = time.monotonic()
    try:
        client.execute()
    except CellTimeoutError as exc:
        problems.append(f"a cell ran longer than {cell_timeout} s: {str(exc).splitlines()[0]}")
    except CellExecutionError as exc:
        problems.append(f"undeclared error:\n{exc}")
    except DeadKernelError as exc:
        problems.append(f"the kernel died: {exc}")
    elapsed = time.monotonic() - start

    if not problems:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            tags = cell.get("metadata", {}).get("tags", [])
            text = cell_text_output(cell)
            where = f"cell {index} ({cell.get('id')})"
            if CHECK_TAG in tags:
                # Tagged raises-exception so that Run All goes on past a
                # failed check; whether it must fail depends on the notebook.
                if solutions and (EXERCISE_PASSED not in text or has_error(cell)):
                    problems.append(f"{where}: the check did not pass the solution:\n{text}")
                if not solutions and (EXERCISE_FAILED not in text or not has_error(cell)):
                    problems.append(f"{where}: the check did not fail the stub:\n{text}")
                continue
            if ERROR_TAG in tags and not has_error(cell):
                problems.append(f"{where} is tagged {ERROR_TAG} but ran without error")
            if EXERCISE_FAILED in text:
                line = next(l for l in text.splitlines() if EXERCISE_FAILED in l)
                problems.append(f"{where}: exercise check failed: {line}")
    if elapsed > notebook_timeout:
        problems.append(f"took {elapsed:.1f} s, more than {notebook_timeout:g} s")

    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, output_dir / path.name)
    status = "ok" if not problems else "FAILED"
    print(f"[{status}] {path.name} in {elapsed:.1f} s", flush=True)
    for problem in problems:
        print("    " + problem.replace("\n", "\n    "), flush=True)
    return problems


def write_index(paths: list[Path], handouts: Path) -> None:
    """Write handouts/index.html linking each notebook's HTML (and PDF if present)."""
    rows = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        title = html.escape(notebook_title(nb, path.stem))
        html_name = urllib.parse.quote(path.stem + ".html")
        links = [f'<a href="{html_name}">HTML</a>']
        if (handouts / (path.stem + ".pdf")).exists():
            links.append(f'<a href="{urllib.parse.quote(path.stem + ".pdf")}">PDF</a>')
        rows.append(f"<li><a href=\"{html_name}\">{title}</a> <small>({' · '.join(links)})</small></li>")
    page = f"""<!DOCTYPE html>
<html lang="zh">
<head>
<meta charset="utf-8">
<title>多任务进程与线程:Rust 讲义</title>
<style>
body {{ font-family: sans-serif; max-width: 46em; margin: 2em auto; line-height: 1.6; padding: 0 1em; }}
li {{ margin: 0.4em 0; }}
small {{ color: #666; }}
</style>
</head>
<body>
<h1>多任务进程与线程:Rust 讲义</h1>
<p>每一节都是在 <code>multitask</code> 内核上实际运行过的笔记本,输出是真实进程和线程的结果。</p>
<ol>
{chr(10).join(rows)}
</ol>
<p><small>生成于 {time.strftime('%Y-%m-%d %H:%M')}</small></p>
</body>
</html>
"""
    handouts.mkdir(parents=True, exist_ok=True)
    (handouts / "index.html").write_text(page, encoding="utf-8")
    print(f"wrote {handouts / 'index.html'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: notebooks/*.ipynb, sorted)")
    parser.add_argument("--kernel", default="multitask", help="kernelspec name (default: multitask)")
    parser.add_argument("--cell-timeout", type=int, default=60, help="seconds per cell (default: 60)")
    parser.add_argument("--notebook-timeout", type=float, default=120.0,
                        help="seconds per notebook (default: 120)")
    parser.add_argument("--output-dir", type=Path, help="write executed notebooks here")
    parser.add_argument("--index", type=Path, metavar="DIR",
                        help="only write DIR/index.html for the given notebooks, execute nothing")
    args = parser.parse_args(argv)

    paths = args.notebooks or sorted((REPO / "notebooks").glob("*.ipynb"))
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    if args.index is not None:
        write_index(paths, args.index)
        return 0

    failed = []
    for path in paths:
        if execute(path, args.kernel, args.cell_timeout, args.notebook_timeout, args.output_dir):
            failed.append(path.name)
    if failed:
        print(f"{len(failed)} of {len(paths)} notebooks failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"all {len(paths)} notebooks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
