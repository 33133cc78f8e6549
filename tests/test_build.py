"""The build orchestrator: outputs, determinism, the incremental cache, docs, the CLI."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from derive.cli import main
from derive.errors import BuildError, ProblemError
from derive.render import build as B
from derive.render.env import TEMPLATE_DIR

FIXTURES = Path(__file__).parent / "fixtures" / "problems"

REFUTED = '''
from derive.book import Part, Problem
from derive.symbols import sym

H = sym("H")

def solve(sheet):
    sheet.derive("x", [(H + 1, "start"), (H + 2, "a wrong step")])

PROBLEM = Problem(id="wrong-1", set="theory", title="Wrong", statement="s",
                  parts=(Part("a", "p", solve),))
'''


@pytest.fixture
def problems(tmp_path: Path) -> Path:
    root = tmp_path / "problems"
    shutil.copytree(FIXTURES, root)
    return root


def tex_build(problems: Path, out: Path, **kw) -> B.BuildReport:
    return B.build(problems, out, tex_only=True, **kw)


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and ".cache" not in p.parts}


def test_tex_outputs(problems: Path, tmp_path: Path) -> None:
    report = tex_build(problems, tmp_path / "out")
    assert (report.solved, report.cached) == (2, 0)
    files = snapshot(tmp_path / "out")
    assert sorted(files) == ["chapter8/fx-8.1.tex", "practice/fixture-1.tex", "solutions.tex"]
    book = files["solutions.tex"].decode()
    assert book.index(r"\chapter{Practice exercises}") < book.index("% ---- problem fixture-1")
    assert book.index("% ---- problem fixture-1") < book.index(r"\chapter{Chapter 8 exercises}")
    assert r"\tableofcontents" in book and r"\chapter{Index of checks}" in book
    assert r"\begin{titlepage}" in book and r"\MarkProved & \textbf{Proved.}" in book
    assert r"Special characters must print as typed: \% \& \_ \# \$ \{ \}" in book
    assert "2 problems, 5 parts" in book
    # each kind of evidence counted as what it is: a cross-check is not a proved step
    assert r"\MarkProved & 2 & claims proved \\" in book
    assert r"\MarkCrossChecked & 1 & cross-checks agreeing" in book
    # the index of checks: one row per part, its mark and what was checked in it
    assert r"(a) & \MarkProved & \raggedright\arraybackslash 1 claim proved \\" in book
    assert r"(b) & \MarkCrossChecked & \raggedright\arraybackslash 1 cross-check \\" in book
    standalone = files["practice/fixture-1.tex"].decode()
    assert r"\documentclass[11pt,a4paper]{article}" in standalone
    assert "% ---- problem fixture-1 (practice/fixture_size.py)" in standalone


def test_outputs_are_deterministic(problems: Path, tmp_path: Path) -> None:
    tex_build(problems, tmp_path / "one")
    tex_build(problems, tmp_path / "two", force=True)
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")
    B.docs(problems, tmp_path / "d1", tmp_path / "one")
    B.docs(problems, tmp_path / "d2", tmp_path / "two", force=True)
    assert snapshot(tmp_path / "d1") == snapshot(tmp_path / "d2")


def test_no_change_rebuild_solves_nothing(problems: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    tex_build(problems, out)
    before = snapshot(out)

    def fail(*a, **k):
        raise AssertionError("solved although nothing changed")

    monkeypatch.setattr("derive.problems.solve", fail)
    monkeypatch.setattr("derive.render.build.make_entry", fail)
    report = tex_build(problems, out)
    assert (report.solved, report.cached, report.written) == (0, 2, [])
    assert snapshot(out) == before


def test_no_change_rebuild_imports_no_sympy(problems: Path, tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import sys
        from derive.render.build import build
        r = build({str(problems)!r}, {str(tmp_path / 'out')!r}, tex_only=True, jobs=1)
        print(r.solved, r.cached, "sympy" in sys.modules)
    """)
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True)
    assert first.stdout.split() == ["2", "0", "True"]
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert second.stdout.split() == ["0", "2", "False"]


def test_edit_resolves_only_that_problem_and_force_resolves_all(problems: Path,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "out"
    tex_build(problems, out)
    path = problems / "chapter8" / "fixture_matrix.py"
    path.write_text(path.read_text().replace("A matrix view", "A matrix view, edited"))
    report = tex_build(problems, out)
    assert (report.solved, report.cached) == (1, 1)
    assert sorted(p.name for p in report.written) == ["fx-8.1.tex", "solutions.tex"]
    assert "A matrix view, edited" in (out / "solutions.tex").read_text()
    assert (tex_build(problems, out, force=True).solved) == 2


def test_helper_module_change_invalidates_every_problem(problems: Path,
                                                        tmp_path: Path) -> None:
    out = tmp_path / "out"
    tex_build(problems, out)
    (problems / "practice" / "_shared.py").write_text("VALUE = 1\n")
    assert tex_build(problems, out).solved == 2


def test_template_change_invalidates_the_cache(problems: Path, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, templates)
    out = tmp_path / "out"
    tex_build(problems, out, template_dir=str(templates))
    assert tex_build(problems, out, template_dir=str(templates)).solved == 0
    legend = templates / "legend.tex.j2"
    legend.write_text(legend.read_text().replace("Proved.", "Proved symbolically."))
    report = tex_build(problems, out, template_dir=str(templates))
    assert report.solved == 2 and "Proved symbolically." in (out / "solutions.tex").read_text()


def test_broken_template_keeps_outputs_and_cache(problems: Path, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, templates)
    out = tmp_path / "out"
    tex_build(problems, out, template_dir=str(templates))
    before = snapshot(out)
    cache_before = (out / ".cache" / "state.json").read_bytes()
    book = templates / "book.tex.j2"
    book.write_text(book.read_text().replace(r"\VAR{ totals.parts }", r"\VAR{ totals.prats }"))
    with pytest.raises(BuildError, match=r"book.tex.j2:\d+.*prats"):
        tex_build(problems, out, template_dir=str(templates))
    book.write_text(book.read_text().replace(r"%% for set in sets", r"%% for set in"))
    with pytest.raises(BuildError, match=r"template .*book.tex.j2:\d+"):
        tex_build(problems, out, template_dir=str(templates))
    assert snapshot(out) == before
    assert (out / ".cache" / "state.json").read_bytes() == cache_before


def test_corrupt_cache_is_ignored(problems: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    tex_build(problems, out)
    (out / ".cache" / "state.json").write_text("{not json")
    assert tex_build(problems, out).solved == 2
    assert json.loads((out / ".cache" / "state.json").read_text())["format"] == B.CACHE_FORMAT


def test_refuted_steps_are_rendered_reported_and_cached(problems: Path,
                                                        tmp_path: Path) -> None:
    (problems / "theory").mkdir()
    (problems / "theory" / "wrong.py").write_text(REFUTED)
    out = tmp_path / "out"
    report = tex_build(problems, out)
    assert report.failures == ["wrong-1(a): refuted"]
    tex = (out / "theory" / "wrong-1.tex").read_text()
    assert r"\MarkRefuted" in tex and r"\Refutation{step 1: refuted at H=" in tex
    again = tex_build(problems, out)  # the same source gives the same verdicts
    assert (again.solved, again.cached) == (0, 3)
    assert again.failures == ["wrong-1(a): refuted"]


def test_broken_module_stops_the_build_naming_the_file(problems: Path,
                                                       tmp_path: Path) -> None:
    (problems / "practice" / "zz_broken.py").write_text("PROBLEM = None\n")
    with pytest.raises(ProblemError, match="zz_broken.py: defines no PROBLEM"):
        tex_build(problems, tmp_path / "out")
    assert not (tmp_path / "out" / "solutions.tex").exists()


def test_empty_problem_sets(tmp_path: Path) -> None:
    root = tmp_path / "problems"
    for s in ("practice", "theory", "chapter8", "formulas"):
        (root / s).mkdir(parents=True)
    report = tex_build(root, tmp_path / "out")
    assert report.entries == []
    book = (tmp_path / "out" / "solutions.tex").read_text()
    assert r"\chapter*{No problems yet}" in book and "0 problems, 0 parts" in book


def test_removed_problem_outputs_are_deleted(problems: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    tex_build(problems, out)
    (problems / "chapter8" / "fixture_matrix.py").unlink()
    tex_build(problems, out)
    assert not (out / "chapter8" / "fx-8.1.tex").exists()
    assert (out / "practice" / "fixture-1.tex").exists()


def test_docs_write_check_and_staleness(problems: Path, tmp_path: Path) -> None:
    docs, out = tmp_path / "docs", tmp_path / "out"
    report = B.docs(problems, docs, out)
    assert report.changed == ["README.md", "chapter8/fx-8.1-inputs.svg", "chapter8/fx-8.1.md",
                              "practice/fixture-1.md"]
    assert B.docs(problems, docs, out, check=True).changed == []
    index = (docs / "README.md").read_text()
    assert "[fixture-1](practice/fixture-1.md)" in index
    assert ("(a) ✔ proved, (b) ⇄ cross-checked, (c) ○ explanation, (d) ⊘ out-of-scope"
            in index)
    assert "| ✔ claims proved | 2 |" in index and "| ⇄ cross-checks agreeing" in index
    # An edited answer makes the committed page stale.
    path = problems / "practice" / "fixture_size.py"
    path.write_text(path.read_text().replace('"pixels"', '"px"'))
    stale = B.docs(problems, docs, out, check=True)
    assert stale.changed == ["practice/fixture-1.md"] and stale.removed == []
    assert "pixels" in (docs / "practice" / "fixture-1.md").read_text()  # check wrote nothing
    # A page that is no longer generated is reported, then removed.
    (docs / "theory").mkdir()
    (docs / "theory" / "old.md").write_text("old\n")
    assert B.docs(problems, docs, out, check=True).removed == ["theory/old.md"]
    B.docs(problems, docs, out)
    assert not (docs / "theory" / "old.md").exists()
    assert B.docs(problems, docs, out, check=True).changed == []


def test_progress_display() -> None:
    plain = io.StringIO()
    show = B.make_progress(plain)
    show(1, 2, "8.2", "cached")
    show(2, 2, "8.3", "2 proved")
    assert plain.getvalue() == "[1/2] 8.2: cached\n[2/2] 8.3: 2 proved\n"

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    show = B.make_progress(tty)
    show(1, 2, "8.2", "cached")
    show(2, 2, "8.3", "x")
    text = tty.getvalue()
    assert text.startswith("\r[##############--------------] 1/2 8.2")
    assert "\r[############################] 2/2 8.3" in text and text.endswith("\n")


# -- the command line ----------------------------------------------------------------------
def test_cli_build_list_check_docs(problems: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out, docs = str(tmp_path / "out"), str(tmp_path / "docs")
    assert main(["build", "--tex-only", "--problems", str(problems), "--out", out]) == 0
    captured = capsys.readouterr()
    assert "2 problems (2 solved, 0 cached)" in captured.out
    assert ("claims: 2 proved, 0 tested; 1 cross-checks; 0 code listings; 0 measurements; "
            "2 not machine-checked") in captured.out
    assert ("[1/2] fixture-1: 1 proved, 1 cross-checked, 1 explanation, 1 out-of-scope"
            in captured.err)

    assert main(["list", "--json", "--problems", str(problems), "--build", out]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {"set": "practice", "id": "fixture-1", "part": "a", "status": "proved"},
        {"set": "practice", "id": "fixture-1", "part": "b", "status": "cross-checked"},
        {"set": "practice", "id": "fixture-1", "part": "c", "status": "explanation"},
        {"set": "practice", "id": "fixture-1", "part": "d", "status": "out-of-scope"},
        {"set": "chapter8", "id": "fx-8.1", "part": "", "status": "proved"},
    ]
    assert main(["list", "--problems", str(problems), "--build", out]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["set", "id", "part", "status"]
    assert table[4].split() == ["practice", "fixture-1", "d", "out-of-scope"]

    assert main(["check", "--problems", str(problems)]) == 0
    summary = capsys.readouterr().out
    assert ("2 problems; parts: 2 proved, 1 cross-checked, 1 explanation, 1 out-of-scope; "
            "steps: 2 proved; cross-checks: 1 cross-checked") in summary

    assert main(["docs", "--check", "--problems", str(problems), "--out", docs,
                 "--build", out]) == 1
    assert "README.md (missing)" in capsys.readouterr().err
    assert main(["docs", "--problems", str(problems), "--out", docs, "--build", out]) == 0
    assert main(["docs", "--check", "--problems", str(problems), "--out", docs,
                 "--build", out]) == 0


def test_cli_failures(problems: Path, tmp_path: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    (problems / "theory").mkdir()
    (problems / "theory" / "wrong.py").write_text(REFUTED)
    out = str(tmp_path / "out")
    assert main(["build", "--tex-only", "--problems", str(problems), "--out", out]) == 1
    assert "wrong-1(a): refuted" in capsys.readouterr().err
    assert main(["check", "--problems", str(problems)]) == 1
    err = capsys.readouterr().err
    assert "wrong-1(a): step 'a wrong step'" in err and "counterexample: H=" in err
    (problems / "practice" / "zz_broken.py").write_text("raise ValueError('bad')\n")
    assert main(["list", "--json", "--problems", str(problems), "--build", out]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"set": "practice", "id": "zz_broken", "part": "", "status": "error"} in rows
    assert main(["check", "--problems", str(problems)]) == 1
    assert "zz_broken.py: failed to load: ValueError: bad" in capsys.readouterr().err
    assert main(["build", "--tex-only", "--problems", str(problems), "--out", out]) == 1
    assert "zz_broken.py: failed to load" in capsys.readouterr().err
    assert main(["build", "--tex-only", "--problems", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err
