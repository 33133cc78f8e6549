"""PDF compilation: tools, log parsing, atomic replacement, failures that keep the old PDF.

The fast tests put a stand-in ``latexmk`` on PATH; the slow ones run TeX Live.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from derive.errors import BuildError
from derive.render import build as B
from derive.render import pdf

from fake_tex import WRITE_PDF, install_tex

FIXTURES = Path(__file__).parent / "fixtures" / "problems"

LOG = r"""This is pdfTeX, Version 3.141592653-2.6-1.40.24 (TeX Live 2022/Debian)
(./document.tex
LaTeX2e <2022-11-01> patch level 1
./document.tex:7: Undefined control sequence.
l.7 \undefinedmacro
                   {}
Here is how much of TeX's memory you used:
!  ==> Fatal error occurred, no output PDF file produced!
"""


def fake_latexmk(bin_dir: Path, *, fail: bool) -> None:
    """A stand-in LaTeX: writes document.pdf, or a log with an error and exits 1."""
    install_tex(bin_dir, f"cat > document.log <<'EOF'\n{LOG}EOF\nexit 1\n" if fail
                else WRITE_PDF)


@pytest.fixture
def fake_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    fake_latexmk(bin_dir, fail=False)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def test_parse_log() -> None:
    [err] = pdf.parse_log(LOG)
    assert (err.file, err.line, err.message) == ("./document.tex", 7,
                                                 "Undefined control sequence.")
    assert err.context == (r"l.7 \undefinedmacro",)
    plain = "! LaTeX Error: File `nope.sty' not found.\n\nType X to quit\nl.3 \\usepackage"
    [err] = pdf.parse_log(plain, default_file="doc.tex")
    assert (err.file, err.line) == ("doc.tex", None)
    assert err.message == "LaTeX Error: File `nope.sty' not found."
    assert pdf.parse_log("all good\n") == []


def test_missing_tools_name_the_debian_packages(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(BuildError) as info:
        pdf.check_tools()
    text = str(info.value)
    assert "latexmk and pdflatex not found" in text and "--tex-only" in text
    for package in ("latexmk", "texlive-latex-base", "texlive-latex-recommended",
                    "texlive-latex-extra", "texlive-pictures", "lmodern"):
        assert package in text
    with pytest.raises(BuildError, match="apt-get install"):
        B.build(FIXTURES, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # failed before doing any work


def test_compile_replaces_atomically_and_failure_keeps_the_old_pdf(
        tmp_path: Path, fake_path: Path) -> None:
    tex = tmp_path / "doc.tex"
    tex.write_text("\\documentclass{article}\n" * 3 + "x\n" * 3 + "\\undefinedmacro{}\n")
    target = tmp_path / "out" / "doc.pdf"
    pdf.compile_pdf(tex, target)
    old = target.read_bytes()
    assert old.startswith(b"%PDF-fake")
    fake_latexmk(fake_path, fail=True)
    with pytest.raises(BuildError) as info:
        pdf.compile_pdf(tex, target)
    err = info.value
    assert target.read_bytes() == old
    assert (err.file, err.line) == (str(tex), 7)  # type: ignore[attr-defined]
    text = str(err)
    assert f"{tex}:7: Undefined control sequence." in text
    assert ">     7 | \\undefinedmacro{}" in text
    assert f"full log: {target.with_suffix('.log')}" in text
    assert "Undefined control sequence" in target.with_suffix(".log").read_text()
    # No temporary directory is left behind.
    assert sorted(p.name for p in target.parent.iterdir()) == ["doc.log", "doc.pdf"]


def test_build_compiles_only_what_changed(tmp_path: Path, fake_path: Path) -> None:
    problems = tmp_path / "problems"
    shutil.copytree(FIXTURES, problems)
    out = tmp_path / "out"
    first = B.build(problems, out)
    assert sorted(p.relative_to(out).as_posix() for p in first.compiled) == [
        "chapter8/fx-8.1.pdf", "practice/fixture-1.pdf", "solutions.pdf"]
    assert B.build(problems, out).compiled == []
    (out / "practice" / "fixture-1.pdf").unlink()
    assert [p.name for p in B.build(problems, out).compiled] == ["fixture-1.pdf"]
    path = problems / "chapter8" / "fixture_matrix.py"
    path.write_text(path.read_text().replace("A matrix view", "Another view"))
    assert sorted(p.name for p in B.build(problems, out).compiled) == [
        "fx-8.1.pdf", "solutions.pdf"]


def test_build_failure_is_reported_and_not_cached(tmp_path: Path, fake_path: Path) -> None:
    problems = tmp_path / "problems"
    shutil.copytree(FIXTURES, problems)
    out = tmp_path / "out"
    B.build(problems, out)
    book = (out / "solutions.pdf").read_bytes()
    cache = (out / ".cache" / "state.json").read_bytes()
    path = problems / "chapter8" / "fixture_matrix.py"
    path.write_text(path.read_text().replace("A matrix view", "Another view"))
    fake_latexmk(fake_path, fail=True)
    with pytest.raises(BuildError, match=r"LaTeX failed on .*fx-8.1.tex") as info:
        B.build(problems, out)
    assert "1 more document(s) failed: solutions.tex" in str(info.value)
    assert (out / "solutions.pdf").read_bytes() == book
    assert (out / ".cache" / "state.json").read_bytes() == cache
    fake_latexmk(fake_path, fail=False)
    assert sorted(p.name for p in B.build(problems, out).compiled) == [
        "fx-8.1.pdf", "solutions.pdf"]


# -- real TeX Live ---------------------------------------------------------------------------
needs_tex = pytest.mark.skipif(shutil.which("latexmk") is None or
                               shutil.which("pdflatex") is None, reason="TeX Live not installed")

BAD_FIGURE = '''
from derive.book import Figure, Part, Problem

def solve(sheet):
    sheet.figure(Figure(tikz=r"\\draw (0,0) -- (1,1); \\undefinedmacro", svg="<svg/>",
                        caption="broken", name="bad"))

PROBLEM = Problem(id="bad-tex", set="theory", title="Bad", statement="s",
                  parts=(Part("a", "p", solve),))
'''


@pytest.mark.slow
@needs_tex
def test_real_pdf_build(tmp_path: Path) -> None:
    problems = tmp_path / "problems"
    shutil.copytree(FIXTURES, problems)
    out = tmp_path / "out"
    report = B.build(problems, out)
    assert len(report.compiled) == 3
    book = out / "solutions.pdf"
    assert book.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(out / "practice" / "fixture-1.pdf"), "-"],
                              capture_output=True, text=True, check=True).stdout
        assert "as typed: % & _ # $ { } ~ ^ \\ and a 3×3 kernel" in text
        contents = subprocess.run(["pdftotext", "-f", "1", "-l", "4", str(book), "-"],
                                  capture_output=True, text=True, check=True).stdout
        assert "Contents" in contents and "How to read this book" in contents
    again = B.build(problems, out, force=True)
    assert again.compiled and (out / "solutions.pdf").read_bytes() == book.read_bytes()

    # A LaTeX error in one problem: clear message, the old PDFs stay.
    old = book.read_bytes()
    (problems / "theory").mkdir()
    (problems / "theory" / "bad.py").write_text(BAD_FIGURE)
    with pytest.raises(BuildError) as info:
        B.build(problems, out)
    text = str(info.value)
    assert "LaTeX failed on" in text and "Undefined control sequence" in text
    assert "bad-tex (theory/bad.py)" in text
    assert book.read_bytes() == old
    assert not (out / "theory" / "bad-tex.pdf").exists()
    assert not [p for p in out.rglob(".latex-*")]  # temporary directories are gone


WIDE = '''"""Fixture (tests only): content wider than the page, of every kind a solution can hold."""
import sympy

from derive.book import Part, Problem

X = sympy.symbols("x0:40")
W = sympy.symbols("w0:40")


def solve(sheet):
    row = sympy.Matrix(1, 4, W[:4])
    patches = sympy.Matrix(4, 9, X[:36])
    sheet.claim(row * patches, (row * patches).applyfunc(sympy.expand),
                why="kernel row times patch matrix")
    long = sum(w * x for w, x in zip(W, X))
    sheet.claim(long, sympy.expand(long), why="expand")
    sheet.derive("s", [(long, "the sum of products"), (sympy.expand(long), "regroup")])
    sheet.table(["block", "expansion"], [["post-activation", sum(X)], ["pre-activation", 1]])
    sheet.matrix("M", sympy.Matrix(3, 30, lambda i, j: 12345 + i + j))
    sheet.answer("rule", "keep the identity shortcut only where the stride is one and the "
                 "channel counts agree, so that the addition is defined everywhere")
    sheet.answer("s", long)


PROBLEM = Problem(id="wide-1", set="theory", title="Wide content", statement="s",
                  parts=(Part("a", "p", solve),))
'''


@pytest.mark.slow
@needs_tex
def test_wide_content_stays_inside_the_text_block(tmp_path: Path) -> None:
    """TeX itself measures: no box of the compiled page is more than 10 pt too wide."""
    import re
    problems = tmp_path / "problems"
    (problems / "theory").mkdir(parents=True)
    (problems / "theory" / "wide.py").write_text(WIDE)
    out = tmp_path / "out"
    B.build(problems, out, tex_only=True)
    work = tmp_path / "tex"
    work.mkdir()
    shutil.copy(out / "theory" / "wide-1.tex", work / "wide.tex")
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "wide.tex"], cwd=work,
                   capture_output=True, timeout=300)
    log = (work / "wide.log").read_text(errors="replace")
    assert "Output written on wide.pdf" in log
    too_wide = [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
    assert max(too_wide, default=0.0) <= 10.0, too_wide
