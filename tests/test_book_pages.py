"""The rendered solutions as a reader gets them: no program text, no equation whose two sides
are the same, and the same bytes whether or not PyTorch is installed.

The fast tests read the committed docs (``derive docs --check`` keeps them current); the
slow ones build the book's .tex and the docs again, once with PyTorch hidden.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from derive.render.escape import escape_latex, escape_markdown
from leaks import leaks_in_latex, leaks_in_markdown

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "solutions"
PAGES = sorted(DOCS.rglob("*.md"))


def test_the_docs_exist() -> None:
    assert len(PAGES) > 50, "docs/solutions should hold one page per problem"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_no_program_text_on_a_page(page: Path) -> None:
    leaks = leaks_in_markdown(page.read_text(encoding="utf-8"))
    assert not leaks, "\n".join(f"{what}: ...{excerpt}..." for what, excerpt in leaks)


# A displayed line of a statement table or a derivation table: "| n | $...$ |".
_ROW = re.compile(r"^\| *(\d*) *\| *\$(.+?)\$ *\|", re.M)


def displayed_equations(text: str) -> list[tuple[str, str]]:
    """The (left, right) sides of every displayed equation of a page: a claim ``a = b``, or
    a derivation's consecutive lines (a line ``= e`` relates ``e`` to the line before).

    >>> displayed_equations("| 1 | $a = b$ | x | y |\\n|  | $c = d$ | |\\n| 2 | $= e$ | |")
    [('a', 'b'), ('c', 'd'), ('d', 'e')]
    """
    out: list[tuple[str, str]] = []
    previous = None
    for _n, line in _ROW.findall(text):
        line = line.strip().strip("`")
        if line.startswith("="):
            right = line[1:].strip()
            if previous is not None:
                out.append((previous, right))
            previous = right
            continue
        sides = [s.strip() for s in re.split(r"(?<![<>\\!])=(?!=)", line)]
        if len(sides) == 2:
            out.append((sides[0], sides[1]))
            previous = sides[1]
        else:
            previous = line
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_no_displayed_equation_has_the_same_two_sides(page: Path) -> None:
    same = [f"{a} = {b}" for a, b in displayed_equations(page.read_text(encoding="utf-8"))
            if a == b]
    assert not same, same


def test_the_scanner_finds_what_the_review_found() -> None:
    # each of these was on a page once
    for text in ("the padded input x_pad", "the window S*i + D*u", "R <- R + (k - 1) J",
                 "KroneckerDelta(t, u')", "sum_j W[i, j] x[(j - s) mod n]",
                 "see derive.conv.costs.dense_cost", "{'H': 3}", "fits 1 time(s)",
                 "1 positions", "461/2 times fewer", "within 8.9e-16"):
        assert leaks_in_markdown(escape_markdown(text)), text     # as a page shows it
        assert leaks_in_latex(escape_latex(text)), text
    assert not leaks_in_markdown("a $3 \\times 3$ kernel with $x_{pad}$, stride 2, once")


def _hidden_torch(tmp_path: Path) -> dict[str, str]:
    """An environment in which ``import torch`` fails, as on a machine without it."""
    fake = tmp_path / "no_torch"
    (fake / "torch").mkdir(parents=True)
    (fake / "torch" / "__init__.py").write_text(
        "raise ImportError('PyTorch is hidden for this test')\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(fake), str(ROOT)])
    return env


@pytest.mark.slow
def test_docs_are_the_same_bytes_without_pytorch(tmp_path: Path) -> None:
    out = tmp_path / "docs"
    env = _hidden_torch(tmp_path)
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=env,
                           capture_output=True, text=True)
    assert probe.returncode != 0
    run = subprocess.run([sys.executable, "-m", "derive", "docs", "--out", str(out),
                          "--build", str(tmp_path / "build")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-2000:]
    made = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*")
            if p.is_file()}
    committed = {p.relative_to(DOCS).as_posix(): p.read_bytes() for p in DOCS.rglob("*")
                 if p.is_file()}
    assert sorted(made) == sorted(committed)
    differ = [name for name in made if made[name] != committed[name]]
    assert not differ, f"differ without PyTorch: {differ}"


@pytest.mark.slow
def test_the_book_has_no_program_text(tmp_path: Path) -> None:
    out = tmp_path / "build"
    run = subprocess.run([sys.executable, "-m", "derive", "build", "--tex-only", "--out",
                          str(out)], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-2000:]
    tex = (out / "solutions.tex").read_text(encoding="utf-8")
    leaks = leaks_in_latex(tex)
    assert not leaks, "\n".join(f"{what}: ...{excerpt}..." for what, excerpt in leaks[:40])
    # the index of checks is one line per part, not one per step
    index = tex.split(r"\chapter{Index of checks}", 1)[1]
    assert index.count(r"\\") < 2 * tex.count(r"\PartHead")
