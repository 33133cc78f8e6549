"""The parallel build: the same bytes as a sequential build, whatever the finishing order.

Problems are solved in a pool of processes and the documents compiled as independent LaTeX
jobs; the fast tests compare the .tex files and the docs of ``jobs=2`` and ``jobs=1``
builds, the slow ones also the PDFs (bytes, and their text with pdftotext from
poppler-utils), and the one-pass, shared-format PDFs with what plain latexmk makes.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from derive.cli import main
from derive.errors import InputError, ProblemError
from derive.render import build as B
from derive.render import pdf

FIXTURES = Path(__file__).parent / "fixtures" / "problems"

EXTRA = '''
from derive.book import Part, Problem, written
from derive.symbols import sym

def solve(sheet):
    sheet.claim(written("H + H"), 2 * sym("H"), why="collect terms")

PROBLEM = Problem(id="extra-{n}", set="theory", title="Extra {n}", statement="s",
                  parts=(Part("a", "p", solve),))
'''


@pytest.fixture
def problems(tmp_path: Path) -> Path:
    root = tmp_path / "problems"
    shutil.copytree(FIXTURES, root)
    (root / "theory").mkdir()
    for n in range(1, 4):  # more problems than workers, so that they finish in any order
        (root / "theory" / f"extra_{n}.py").write_text(EXTRA.replace("{n}", str(n)))
    return root


def snapshot(root: Path, *suffixes: str) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".cache" not in p.parts
            and (not suffixes or p.suffix in suffixes)}


def test_parallel_tex_and_docs_equal_sequential(problems: Path, tmp_path: Path) -> None:
    one = B.build(problems, tmp_path / "one", tex_only=True, jobs=1)
    two = B.build(problems, tmp_path / "two", tex_only=True, jobs=2)
    assert (one.solved, two.solved) == (5, 5)
    assert [e["id"] for e in one.entries] == [e["id"] for e in two.entries]
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")
    assert len(snapshot(tmp_path / "one", ".tex")) == 6
    B.docs(problems, tmp_path / "d1", tmp_path / "c1", jobs=1)
    B.docs(problems, tmp_path / "d2", tmp_path / "c2", jobs=2)
    assert snapshot(tmp_path / "d1") == snapshot(tmp_path / "d2")
    # The cache, read back, gives the same documents again.
    again = B.build(problems, tmp_path / "two", tex_only=True, jobs=2)
    assert (again.solved, again.cached, again.written) == (0, 5, [])


def test_parallel_failure_is_the_first_in_book_order(problems: Path, tmp_path: Path) -> None:
    (problems / "theory" / "zz_broken.py").write_text("PROBLEM = None\n")
    (problems / "theory" / "extra_0_broken.py").write_text("raise ValueError('bad')\n")
    errors = []
    for jobs in (1, 2):
        with pytest.raises(ProblemError) as info:
            B.build(problems, tmp_path / f"out{jobs}", tex_only=True, jobs=jobs)
        errors.append(str(info.value))
        assert not (tmp_path / f"out{jobs}" / "solutions.tex").exists()
    assert errors[0] == errors[1] and "extra_0_broken.py: failed to load" in errors[0]


def test_one_progress_display_counts_cached_problems(problems: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    lines = io.StringIO()
    B.build(problems, out, tex_only=True, jobs=2, progress=B.make_progress(lines))
    first = lines.getvalue().splitlines()
    # solved problems are listed in book order, whichever worker finished first
    assert [x.split(":")[0] for x in first] == [f"[{i}/5] {name}" for i, name in enumerate(
        ["fixture-1", "extra-1", "extra-2", "extra-3", "fx-8.1"], 1)]
    (problems / "theory" / "extra_2.py").write_text(EXTRA.replace("{n}", "2") + "# edited\n")
    lines = io.StringIO()
    B.build(problems, out, tex_only=True, jobs=2, progress=B.make_progress(lines))
    assert lines.getvalue().splitlines() == ["[4/5] 4 problem(s): cached",
                                             "[5/5] extra-2: 1 proved"]


def test_bad_jobs_are_named(problems: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    for bad in (0, -1, True, 1.5):
        with pytest.raises(InputError, match=f"jobs must be .* not {bad!r}"):
            B.build(problems, tmp_path / "out", tex_only=True, jobs=bad)  # type: ignore[arg-type]
    for command in ("build", "docs"):
        with pytest.raises(SystemExit) as info:
            main([command, "--jobs", "0", "--problems", str(problems)])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert "argument --jobs: must be a whole number of at least 1, not '0'" in err
        assert "Traceback" not in err
    assert main(["build", "--tex-only", "--jobs", "2", "--problems", str(problems), "--out",
                 str(tmp_path / "out")]) == 0


def test_shared_preamble_is_the_same_in_every_problem_document(problems: Path,
                                                                tmp_path: Path) -> None:
    B.build(problems, tmp_path / "out", tex_only=True, jobs=1)
    texts = {rel: text.decode() for rel, text in snapshot(tmp_path / "out", ".tex").items()}
    book = texts.pop("solutions.tex")
    assert pdf.shared_preamble(book) is None          # the book has a preamble of its own
    preambles = {pdf.shared_preamble(t) for t in texts.values()}
    assert len(preambles) == 1 and None not in preambles
    # the check marks are drawn once per font and reused, not one picture per use
    [preamble] = preambles
    assert r"\newcommand{\MarkProved}{\DeriveMark{proved}" in preamble


# -- real TeX Live ---------------------------------------------------------------------------
needs_tex = pytest.mark.skipif(shutil.which("latexmk") is None or
                               shutil.which("pdflatex") is None, reason="TeX Live not installed")
needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                     reason="pdftotext (poppler-utils) not installed")


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


@pytest.mark.slow
@needs_tex
@needs_pdftotext
def test_parallel_pdfs_equal_sequential(problems: Path, tmp_path: Path) -> None:
    one = B.build(problems, tmp_path / "one", jobs=1)
    two = B.build(problems, tmp_path / "two", jobs=2)
    assert len(one.compiled) == len(two.compiled) == 6
    assert snapshot(tmp_path / "one", ".tex") == snapshot(tmp_path / "two", ".tex")
    pdfs_one, pdfs_two = (snapshot(tmp_path / d, ".pdf") for d in ("one", "two"))
    assert sorted(pdfs_one) == sorted(pdfs_two) and len(pdfs_one) == 6
    for rel in pdfs_one:
        assert pdf_text(tmp_path / "one" / rel) == pdf_text(tmp_path / "two" / rel), rel
        assert pdfs_one[rel] == pdfs_two[rel], rel
    assert not list(tmp_path.rglob(".latex-*"))   # the format's directory is gone too


@pytest.mark.slow
@needs_tex
@needs_pdftotext
def test_one_pass_with_the_format_gives_what_latexmk_gives(problems: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """A problem's PDF made in one pass from the shared format reads exactly as the one
    plain latexmk makes (all its passes, the preamble read from the .tex), and so does the
    PDF made without the format (when it cannot be made)."""
    out = tmp_path / "out"
    B.build(problems, out, jobs=2)
    rel = "practice/fixture-1"
    plain = tmp_path / "plain"
    plain.mkdir()
    shutil.copy(out / f"{rel}.tex", plain / "doc.tex")
    subprocess.run(["latexmk", "-norc", "-pdf", "-quiet", "-interaction=nonstopmode",
                    "doc.tex"], cwd=plain, capture_output=True, check=True, timeout=300)
    text = pdf_text(out / f"{rel}.pdf")
    assert "as typed: % & _ # $ { } ~ ^ \\ and a 3×3 kernel" in text
    assert text == pdf_text(plain / "doc.pdf")
    info = [subprocess.run(["pdfinfo", str(p)], capture_output=True, text=True).stdout
            for p in (out / f"{rel}.pdf", plain / "doc.pdf")]
    pages = [[x for x in i.splitlines() if x.startswith(("Pages:", "Title:"))] for i in info]
    assert pages[0] == pages[1] and pages[0]

    monkeypatch.setattr(pdf, "make_format", lambda *a, **k: None)
    fallback = tmp_path / "fallback"
    B.build(problems, fallback, jobs=2)
    for p in (out / "practice").glob("*.pdf"):
        assert pdf_text(p) == pdf_text(fallback / "practice" / p.name)


@pytest.mark.slow
@needs_tex
@needs_pdftotext
def test_one_pass_runs_again_when_the_log_asks(tmp_path: Path) -> None:
    """A document whose first pass leaves a reference unresolved gets the passes it needs."""
    tex = tmp_path / "ref.tex"
    tex.write_text("\\documentclass{article}\n\\usepackage{hyperref}\n\\begin{document}\n"
                   "\\section{One}\\label{s:one}\n"
                   "See section~\\ref{s:one} on page~\\pageref{s:one}.\n\\end{document}\n")
    pdf.compile_pdf(tex, tmp_path / "ref.pdf", runner="needed")
    assert "See section 1 on page 1." in pdf_text(tmp_path / "ref.pdf")


_CONTENTS_DOC = ("\\documentclass{book}\n\\usepackage{hyperref}\n"
                 "\\pdfinfoomitdate=1 \\pdftrailerid{} \\pdfsuppressptexinfo=-1\n"
                 "\\begin{document}\n\\frontmatter\n\\tableofcontents\n\\mainmatter\n"
                 + "".join(f"\\chapter{{Part {i}}}\\label{{c:{i}}}\nText of part {i}, "
                           f"see page~\\pageref{{c:{(i % 3) + 1}}}.\n" for i in (1, 2, 3))
                 + "\\end{document}\n")


@pytest.mark.slow
@needs_tex
def test_contents_need_two_passes_not_latexmks_three(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A book with contents in its front matter settles after two passes: the same bytes as
    latexmk's three (its third pass is only for the last-page number in the .aux)."""
    tex = tmp_path / "book.tex"
    tex.write_text(_CONTENTS_DOC)
    pdf.compile_pdf(tex, tmp_path / "latexmk.pdf", runner="latexmk")
    passes: list[list[str]] = []
    run = pdf._run

    def counting(cmd: list[str], *args: object, **kwargs: object) -> tuple[int, bytes]:
        passes.append(cmd)
        return run(cmd, *args, **kwargs)

    monkeypatch.setattr(pdf, "_run", counting)
    pdf.compile_pdf(tex, tmp_path / "needed.pdf", runner="needed")
    assert len(passes) == 2
    assert (tmp_path / "needed.pdf").read_bytes() == (tmp_path / "latexmk.pdf").read_bytes()


@pytest.mark.slow
@needs_tex
@needs_pdftotext
def test_contents_without_labels_get_their_second_pass(tmp_path: Path) -> None:
    """LaTeX does not warn when only the contents changed: the pass that wrote them is
    followed by one that prints them."""
    tex = tmp_path / "toc.tex"
    tex.write_text("\\documentclass{article}\n\\begin{document}\n\\tableofcontents\n"
                   "\\section{Alpha}\nA.\n\\section{Beta}\nB.\n\\end{document}\n")
    pdf.compile_pdf(tex, tmp_path / "toc.pdf", runner="needed")
    text = pdf_text(tmp_path / "toc.pdf")
    assert text.count("Alpha") == 2 and text.count("Beta") == 2


def test_runner_names_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="runner must be 'latexmk' or 'needed', not 'twice'"):
        pdf.compile_pdf(tmp_path / "x.tex", tmp_path / "x.pdf", runner="twice")
