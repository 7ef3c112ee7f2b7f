"""The handouts that scripts/handouts wrote: one self-contained HTML file per
notebook, with its Rust highlighted and the outputs of its cells inline.

scripts/test runs scripts/handouts first (which executes every notebook with
nbclient and fails on any undeclared error); these tests read what it wrote.
"""

import html
import re
import shutil
import urllib.parse
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
HANDOUTS = REPO / "handouts"
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_is_one_handout_per_notebook_and_an_index():
    assert len(NOTEBOOKS) == 7
    index = (HANDOUTS / "index.html").read_text(encoding="utf-8")
    for notebook in NOTEBOOKS:
        assert (HANDOUTS / f"{notebook.stem}.html").exists(), notebook.name
        link = urllib.parse.quote(f"{notebook.stem}.html")
        assert f'href="{link}"' in index, notebook.name


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_handout_highlights_rust_and_holds_the_outputs(notebook):
    page = (HANDOUTS / f"{notebook.stem}.html").read_text(encoding="utf-8")
    # Self-contained: no stylesheet or script fetched from elsewhere.
    assert not re.search(r'<link[^>]+href="https?://', page)
    # Rust highlighted by Pygments: keywords of the code carry token classes.
    assert "hl-rust" in page or 'class="highlight' in page
    assert re.search(r'<span class="k[dr]?">(let|fn)</span>', page), "no highlighted Rust keyword"

    executed = nbformat.read(HANDOUTS / "executed" / notebook.name, as_version=4)
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    checked = 0
    for cell in executed.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                first_line = output["text"].strip().splitlines()[0].strip() if output["text"].strip() else ""
                if first_line:
                    assert first_line in text, f"output missing from handout: {first_line!r}"
                    checked += 1
            elif output.get("output_type") == "display_data" and "image/svg+xml" in output.get("data", {}):
                # nbconvert embeds pictures as data URIs (or inline SVG).
                assert "<svg" in page or "data:image/svg+xml" in page
    assert checked > 0, "the executed notebook has no outputs"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_pdf_is_printed_per_notebook_with_chromium(notebook):
    # scripts/test installs Chromium before it builds the handouts.
    assert shutil.which("chromium"), "Chromium is missing"
    pdf = HANDOUTS / f"{notebook.stem}.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-", pdf
    assert pdf.stat().st_size > 20_000, "a near-empty PDF"


SOLUTIONS = sorted((REPO / "notebooks" / "solutions").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", SOLUTIONS, ids=lambda path: path.stem)
def test_the_solutions_are_handouts_for_teachers_with_every_check_passed(notebook):
    page = (HANDOUTS / "solutions" / f"{notebook.stem}.html").read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" in page, "the answers are in the teacher's handout"
    executed = nbformat.read(HANDOUTS / "executed" / "solutions" / notebook.name, as_version=4)
    checks = [cell for cell in executed.cells if "check" in cell.metadata.get("tags", [])]
    assert checks, "the solutions notebook has no check cell"
    for cell in checks:
        outputs = cell.get("outputs", [])
        printed = "".join(output.get("text", "") for output in outputs)
        assert "✅" in printed and "❌" not in printed, printed
        assert not [output for output in outputs if output.output_type == "error"]
