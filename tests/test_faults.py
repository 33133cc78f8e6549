"""Faults during a build, one fault-injection test each (issue 9, part 3).

Every test works on a copy of the fixture problem set in ``tmp_path`` and, where TeX runs, on
a stand-in ``latexmk`` put first on PATH (the real TeX Live is not needed).  After each fault
the tests check the same four things: the message says what happened and what to do, the exit
code is the documented one, the previous outputs are byte-identical, and the next build is
correct and complete (the cache was not poisoned).

The stand-in writes ``%PDF-fake <first 8 hex digits of the md5 of the .tex>``, so a PDF in
``build/`` can be checked against the .tex it must have been compiled from.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from derive.cli import main
from derive.errors import BuildError
from derive.render import build as B

from fake_tex import WRITE_PDF, install_tex

FIXTURES = Path(__file__).parent / "fixtures" / "problems"

# A pdflatex log with one error, as latexmk leaves it in the work directory.
ERROR_LOG = r"""This is pdfTeX, Version 3.141592653-2.6-1.40.24 (TeX Live 2022/Debian)
(./document.tex
LaTeX2e <2022-11-01> patch level 1
./document.tex:9: Undefined control sequence.
l.9 \brokenmacro
                {}
!  ==> Fatal error occurred, no output PDF file produced!
"""



def fake_tex(bin_dir: Path, mode: str = "ok", *, marker: str = "") -> Path:
    """Put a stand-in LaTeX (``latexmk`` and ``pdflatex``) in ``bin_dir``.

    ``ok``: writes the fake PDF.  ``fail``: on a document containing ``marker``, writes a
    partial PDF and a log with an error, then exits 1 (others compile).  ``slow``: records its
    pid in ``$FAULT_MARKERS/latexmk.pid``, writes a partial PDF and sleeps for a minute (with
    a ``marker``: only on a document containing it; others compile).
    """
    if mode == "ok":
        body = WRITE_PDF
    elif mode == "fail":
        body = (f"if grep -q '{marker}' document.tex; then\n"
                f"  printf '%%PDF-1.5 partial' > document.pdf\n"
                f"  cat > document.log <<'EOF'\n{ERROR_LOG}EOF\n"
                f"  exit 1\nfi\n" + WRITE_PDF)
    elif mode == "slow":
        body = ((f"grep -q '{marker}' document.tex || {{ {WRITE_PDF.strip()}; exit 0; }}\n"
                 if marker else "")
                + "printf '%PDF-1.5 partial' > document.pdf\n"
                "echo $$ > \"$FAULT_MARKERS/latexmk.pid.tmp\"\n"
                "mv \"$FAULT_MARKERS/latexmk.pid.tmp\" \"$FAULT_MARKERS/latexmk.pid\"\n"
                "exec sleep 60\n")
    else:  # pragma: no cover - a typo in a test
        raise ValueError(mode)
    install_tex(bin_dir, body)
    return bin_dir



@pytest.fixture
def problems(tmp_path: Path) -> Path:
    root = tmp_path / "problems"
    shutil.copytree(FIXTURES, root)
    return root


@pytest.fixture
def tex_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working stand-in TeX first on PATH (for builds run in this process)."""
    bin_dir = fake_tex(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def fake_pdf(tex: Path) -> bytes:
    """What the stand-in makes of ``tex`` (computed here, independently of the build)."""
    return b"%PDF-fake " + hashlib.md5(tex.read_bytes()).hexdigest()[:8].encode()


def pdfs(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.pdf"))
            if p.is_file()}


def cache_bytes(out: Path) -> bytes:
    return (out / ".cache" / "state.json").read_bytes()


def assert_clean(out: Path) -> None:
    """No temporary directory or file of the build is left, and no partial PDF."""
    leftovers = [p.relative_to(out).as_posix() for p in out.rglob(".*")
                 if p.name.startswith(".latex-") or p.name.endswith(".tmp")]
    assert leftovers == []
    assert not [rel for rel, data in pdfs(out).items() if b"partial" in data]


def assert_complete(out: Path) -> None:
    """Every .tex of the build has its PDF, compiled from exactly that .tex."""
    texs = sorted(p for p in out.rglob("*.tex") if ".cache" not in p.parts)
    assert texs, "nothing was built"
    for tex in texs:
        assert tex.with_suffix(".pdf").read_bytes() == fake_pdf(tex), tex
    assert_clean(out)


def error_line(err: str) -> str:
    """The one error line of the command's stderr (after its progress lines)."""
    [line] = [x for x in err.splitlines() if x.startswith("derive: error:")]
    return line


def edit_matrix_problem(problems: Path, title: str = "A matrix view, edited") -> None:
    path = problems / "chapter8" / "fixture_matrix.py"
    path.write_text(path.read_text().replace('title="A matrix view"', f'title="{title}"'))


def run_cli(args: list[str], cwd: Path, bin_dir: Path | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``derive ARGS`` in a fresh interpreter (to see exactly what a user sees)."""
    env = dict(os.environ)
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return subprocess.run([sys.executable, "-m", "derive", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


# --------------------------------------------------------------------------------------------
# TeX missing
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("present", [(), ("latexmk",)], ids=["no-tex", "no-pdflatex"])
def test_tex_missing(problems: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str], present: tuple[str, ...]) -> None:
    out = tmp_path / "out"
    good = fake_tex(tmp_path / "bin")
    with_tex = f"{good}{os.pathsep}{os.environ['PATH']}"
    monkeypatch.setenv("PATH", with_tex)
    assert main(["build", "--problems", str(problems), "--out", str(out)]) == 0
    before, cache = pdfs(out), cache_bytes(out)
    edit_matrix_problem(problems)                 # so that the build would have work to do
    capsys.readouterr()

    # TeX is gone: only the tools in `present` are on PATH (nothing else is needed).
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    for tool in present:
        shutil.copy(good / tool, empty / tool)
    monkeypatch.setenv("PATH", str(empty))
    assert main(["build", "--problems", str(problems), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    # (the build runs pdflatex itself: latexmk is not needed)
    assert "derive: error: pdflatex not found on PATH" in err
    assert ("sudo apt-get install --no-install-recommends latexmk texlive-latex-base "
            "texlive-latex-recommended texlive-latex-extra texlive-pictures lmodern") in err
    assert "derive build --tex-only" in err
    assert pdfs(out) == before and cache_bytes(out) == cache
    assert "edited" not in (out / "chapter8" / "fx-8.1.tex").read_text()  # nothing was done

    # --tex-only does not need TeX; the PDFs are left alone.
    assert main(["build", "--tex-only", "--problems", str(problems), "--out", str(out)]) == 0
    assert "A matrix view, edited" in (out / "chapter8" / "fx-8.1.tex").read_text()
    assert pdfs(out) == before

    # TeX is back: exactly the stale PDFs are compiled, and everything matches its .tex.
    monkeypatch.setenv("PATH", with_tex)
    report = B.build(problems, out)
    assert sorted(p.name for p in report.compiled) == ["fx-8.1.pdf", "solutions.pdf"]
    assert_complete(out)


# --------------------------------------------------------------------------------------------
# latexmk failing half-way
# --------------------------------------------------------------------------------------------
def test_latexmk_fails_half_way(problems: Path, tmp_path: Path, tex_bin: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    args = ["build", "--problems", str(problems), "--out", str(out)]
    assert main(args) == 0
    before, cache = pdfs(out), cache_bytes(out)
    assert len(before) == 3
    capsys.readouterr()

    # Two documents change; LaTeX breaks on them after writing part of a PDF.
    edit_matrix_problem(problems, "A matrix view BROKEN")
    fake_tex(tex_bin, "fail", marker="BROKEN")
    assert main(args) == 1
    err = capsys.readouterr().err
    tex = out / "chapter8" / "fx-8.1.tex"
    assert f"derive: error: LaTeX failed on {tex}:" in err
    assert f"{tex}:9: Undefined control sequence." in err          # file, line, error
    assert r"l.9 \brokenmacro" in err                               # the log's context
    assert ">     9 | " in err                                      # the source line
    assert f"full log: {tex.with_suffix('.log')}" in err
    assert f"the previous {tex.with_suffix('.pdf')} is untouched" in err
    assert "1 more document(s) failed: solutions.tex" in err
    assert "Traceback" not in err
    assert "Undefined control sequence" in tex.with_suffix(".log").read_text()
    assert pdfs(out) == before and cache_bytes(out) == cache         # byte-identical
    assert_clean(out)

    # The next good build redoes exactly the failed documents, and they are right.
    fake_tex(tex_bin, "ok")
    report = B.build(problems, out)
    assert sorted(p.name for p in report.compiled) == ["fx-8.1.pdf", "solutions.pdf"]
    assert not tex.with_suffix(".log").exists()   # the failure's log goes with the failure
    assert_complete(out)
    assert "A matrix view BROKEN" in (out / "solutions.tex").read_text()
    assert B.build(problems, out).compiled == []  # and the cache now says so


def test_latexmk_killed(problems: Path, tmp_path: Path, tex_bin: Path) -> None:
    """LaTeX dying on a signal (out of memory, say) is a failure like any other."""
    out = tmp_path / "out"
    B.build(problems, out)
    before, cache = pdfs(out), cache_bytes(out)
    edit_matrix_problem(problems)
    install_tex(tex_bin, "printf '%PDF-1.5 partial' > document.pdf\nkill -KILL $$\n")
    with pytest.raises(BuildError, match=r"LaTeX was stopped by SIGKILL while compiling "
                                         r".*fx-8\.1\.tex") as info:
        B.build(problems, out)
    assert "untouched" in str(info.value)
    assert pdfs(out) == before and cache_bytes(out) == cache
    assert_clean(out)
    fake_tex(tex_bin, "ok")
    assert len(B.build(problems, out).compiled) == 2
    assert_complete(out)


def test_latexmk_hangs(tmp_path: Path, tex_bin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A LaTeX run past its timeout is stopped (with what it started) and reported."""
    tex, target = tmp_path / "doc.tex", tmp_path / "out" / "doc.pdf"
    tex.write_text("\\documentclass{article}\n")
    from derive.render import pdf
    pdf.compile_pdf(tex, target)
    old = target.read_bytes()
    markers = tmp_path / "markers"
    markers.mkdir()
    fake_tex(tex_bin, "slow")
    monkeypatch.setenv("FAULT_MARKERS", str(markers))
    start = time.monotonic()
    with pytest.raises(BuildError, match=r"LaTeX timed out after 0.5 s on .*doc\.tex; the "
                                         r"previous .*doc\.pdf is untouched"):
        pdf.compile_pdf(tex, target, timeout=0.5)
    assert time.monotonic() - start < 10
    assert not _alive(int((markers / "latexmk.pid").read_text()))
    assert target.read_bytes() == old
    assert sorted(p.name for p in target.parent.iterdir()) == ["doc.pdf"]


def test_timeout_covers_all_passes_of_a_document(tmp_path: Path, tex_bin: Path) -> None:
    """The timeout is the document's, not each pass's: passes that each end in time but
    keep asking for another are stopped when their total runs past it."""
    tex, target = tmp_path / "doc.tex", tmp_path / "out" / "doc.pdf"
    tex.write_text("\\documentclass{article}\n")
    from derive.render import pdf
    asks_again = ("echo 'LaTeX Warning: Label(s) may have changed. Rerun to get "
                  "cross-references right.' > document.log\n")
    install_tex(tex_bin, "sleep 0.4\n" + WRITE_PDF + asks_again)
    start = time.monotonic()
    with pytest.raises(BuildError, match=r"LaTeX timed out after 1 s on .*doc\.tex"):
        pdf.compile_pdf(tex, target, timeout=1.0, runner="needed")
    assert time.monotonic() - start < 1.5 + 0.5  # not five passes of 0.4 s
    assert not target.exists()


# --------------------------------------------------------------------------------------------
# interrupted (SIGINT) mid-build
# --------------------------------------------------------------------------------------------
SLOW_SOLVE = '''
import os, time
from pathlib import Path
from derive.book import Part, Problem, written
from derive.symbols import sym

def solve(sheet):
    if os.environ.get("FAULT_SLOW_SOLVE"):
        Path(os.environ["FAULT_MARKERS"], "solving").write_text("")
        time.sleep(60)
    sheet.claim(written("H + H"), 2 * sym("H"), why="collect terms")

PROBLEM = Problem(id="slow-1", set="theory", title="Slow", statement="s",
                  parts=(Part("a", "p", solve),))
'''


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize("phase,target", [("compiling", "group"), ("compiling", "process"),
                                          ("book", "process"), ("solving", "group")])
def test_interrupted_build(problems: Path, tmp_path: Path, tex_bin: Path,
                           phase: str, target: str) -> None:
    """SIGINT while LaTeX runs (sent to the process group, as Ctrl-C does, or to the
    process alone, as `kill -INT` does), while the book compiles after a problem's PDF was
    replaced, or while SymPy solves."""
    (problems / "theory").mkdir()
    (problems / "theory" / "slow.py").write_text(SLOW_SOLVE)
    out = tmp_path / "out"
    B.build(problems, out)
    before, cache = pdfs(out), cache_bytes(out)
    assert len(before) == 4
    edit_matrix_problem(problems)

    markers = tmp_path / "markers"
    markers.mkdir()
    env = {**os.environ, "FAULT_MARKERS": str(markers)}
    if phase in ("compiling", "book"):
        fake_tex(tex_bin, "slow", marker=r"\tableofcontents" if phase == "book" else "")
        marker = markers / "latexmk.pid"
    else:
        env["FAULT_SLOW_SOLVE"] = "1"
        (problems / "theory" / "slow.py").write_text(SLOW_SOLVE + "\n# edited\n")
        marker = markers / "solving"
    proc = subprocess.Popen([sys.executable, "-m", "derive", "build", "--problems",
                             str(problems), "--out", str(out)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the build never reached the fault"
            time.sleep(0.05)
        started = time.monotonic()
        if target == "group":
            os.killpg(proc.pid, signal.SIGINT)    # what Ctrl-C in a terminal does
        else:
            os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        stopped_after = time.monotonic() - started
    finally:
        if proc.poll() is None:  # pragma: no cover - only when the test fails
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert stopped_after < 10, "the interruption did not stop the build promptly"
    assert "Traceback" not in err
    assert "derive: interrupted" in err and "run the same command again" in err
    if phase != "solving":  # the stand-in LaTeX run was stopped, not left running
        assert not _alive(int(marker.read_text()))
    after = pdfs(out)
    if phase == "book":     # the problem's PDF compiled before the interruption: complete
        new = after.pop("chapter8/fx-8.1.pdf")
        assert new == fake_pdf(out / "chapter8" / "fx-8.1.tex")
        assert new != before.pop("chapter8/fx-8.1.pdf")
    assert after == before and cache_bytes(out) == cache
    assert_clean(out)
    assert not list(out.rglob("*.log"))   # an interruption is not a LaTeX failure

    fake_tex(tex_bin, "ok")
    again = run_cli(["build", "--problems", str(problems), "--out", str(out)], tmp_path,
                    tex_bin)
    assert again.returncode == 0, again.stderr
    assert "2 PDF(s) compiled" in again.stdout   # the book and the edited problem
    assert "A matrix view, edited" in (out / "solutions.tex").read_text()
    assert_complete(out)
    assert B.build(problems, out).compiled == []


def _processes_in(root: Path) -> list[str]:
    """Command lines of the processes whose working directory is under ``root``."""
    found = []
    for proc_dir in Path("/proc").iterdir():
        try:
            cwd = os.readlink(proc_dir / "cwd")
            if cwd.startswith(str(root)):
                found.append((proc_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("latexmk") is None or shutil.which("pdflatex") is None
                    or not Path("/proc/self/cwd").exists(),
                    reason="needs TeX Live and /proc")
@pytest.mark.parametrize("target", ["group", "process"])
def test_interrupted_real_latex(problems: Path, tmp_path: Path, target: str) -> None:
    """SIGINT while the real latexmk/pdflatex run: they stop with the build, and their
    temporary directories go."""
    out = tmp_path / "out"
    B.build(problems, out, tex_only=True)
    proc = subprocess.Popen([sys.executable, "-m", "derive", "build", "--problems",
                             str(problems), "--out", str(out)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not _processes_in(out):       # until a TeX run is under way
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "LaTeX never started"
            time.sleep(0.02)
        if target == "group":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:  # pragma: no cover - only when the test fails
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    time.sleep(0.2)
    assert _processes_in(out) == []
    assert not [p for p in out.rglob(".latex-*")]
    assert not [p for p in out.rglob("*.pdf") if not p.read_bytes().startswith(b"%PDF")]


# --------------------------------------------------------------------------------------------
# an unwritable build directory
# --------------------------------------------------------------------------------------------
def test_out_is_a_file(problems: Path, tmp_path: Path) -> None:
    out = tmp_path / "build"
    out.write_text("not a directory\n")
    result = run_cli(["build", "--tex-only", "--problems", str(problems), "--out", str(out)],
                     tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"derive: error: cannot write the output directory {out}")
    assert "--out" in result.stderr                      # what to do
    assert out.read_text() == "not a directory\n"
    docs = run_cli(["docs", "--problems", str(problems), "--out", str(out / "solutions"),
                    "--build", str(tmp_path / "b2")], tmp_path)
    assert docs.returncode == 1 and "Traceback" not in docs.stderr
    assert "derive: error: cannot write" in docs.stderr and str(out) in docs.stderr


def test_pdf_target_is_a_directory(problems: Path, tmp_path: Path, tex_bin: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    args = ["build", "--problems", str(problems), "--out", str(out)]
    assert main(args) == 0
    before, cache = pdfs(out), cache_bytes(out)
    target = out / "practice" / "fixture-1.pdf"
    target.unlink()
    target.mkdir()       # writing the PDF must now fail (even for root)
    (target / "keep.txt").write_text("mine\n")
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err
    assert error_line(err).startswith(f"derive: error: cannot write {target}: Is a directory")
    assert "Traceback" not in err
    assert (target / "keep.txt").read_text() == "mine\n"
    del before["practice/fixture-1.pdf"]
    assert pdfs(out) == before and cache_bytes(out) == cache
    assert_clean(out)
    shutil.rmtree(target)
    assert [p.name for p in B.build(problems, out).compiled] == ["fixture-1.pdf"]
    assert_complete(out)


def test_cache_directory_unwritable(problems: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    args = ["build", "--tex-only", "--problems", str(problems), "--out", str(out)]
    out.mkdir()
    (out / ".cache").write_text("in the way\n")
    assert main(args) == 1
    err = capsys.readouterr().err
    assert error_line(err).startswith(
        f"derive: error: cannot write {out / '.cache' / 'state.json'}: ")
    (out / ".cache").unlink()
    assert main(args) == 0
    assert json.loads(cache_bytes(out))["format"] == B.CACHE_FORMAT


def _permissions_stop_writes(tmp_path: Path) -> bool:
    """False for root (or anyone with CAP_DAC_OVERRIDE), whom chmod does not stop."""
    probe = tmp_path / "probe"
    probe.mkdir()
    probe.chmod(0o500)
    try:
        (probe / "x").write_text("")
    except PermissionError:
        return True
    finally:
        probe.chmod(0o700)
    return False


def test_read_only_build_directory(problems: Path, tmp_path: Path, tex_bin: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    if not _permissions_stop_writes(tmp_path):
        pytest.skip("permissions do not stop this user (root) from writing")
    out = tmp_path / "out"
    args = ["build", "--problems", str(problems), "--out", str(out)]
    assert main(args) == 0
    before = pdfs(out)
    edit_matrix_problem(problems)
    for d in (out, out / "chapter8", out / "practice"):
        d.chmod(0o500)
    try:
        capsys.readouterr()
        assert main(args) == 1
        err = capsys.readouterr().err
        assert error_line(err).startswith("derive: error: cannot write") and str(out) in err
        assert pdfs(out) == before
    finally:
        for d in (out, out / "chapter8", out / "practice"):
            d.chmod(0o755)
    assert main(args) == 0
    assert_complete(out)


# --------------------------------------------------------------------------------------------
# a SymPy call that exceeds its budget
# --------------------------------------------------------------------------------------------
def test_claim_over_budget(problems: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    from derive.check import engine

    def stuck(lhs, rhs, domain):  # a proof strategy that would never return
        time.sleep(60)

    out = tmp_path / "out"
    args = ["build", "--tex-only", "--problems", str(problems), "--out", str(out)]
    with monkeypatch.context() as m:
        m.setattr(engine, "_CACHE", {})             # the engine's in-memory memo
        m.setattr(engine, "DEFAULT_BUDGET", 0.5)
        m.setattr(engine, "STRATEGIES", (stuck, *engine.STRATEGIES))
        start = time.perf_counter()
        assert main(args) == 0                      # tested is not a failure
        elapsed = time.perf_counter() - start
        captured = capsys.readouterr()
        assert elapsed < 30, "a claim ran past its budget"
        assert main(["list", "--json", "--problems", str(problems), "--build", str(out)]) == 0
        rows = json.loads(capsys.readouterr().out)
    status = {(r["id"], r["part"]): r["status"] for r in rows}
    assert status[("fixture-1", "a")] in ("tested", "unknown")
    assert status[("fx-8.1", "")] in ("tested", "unknown")
    assert "time budget of 0.5 s spent" in (out / "solutions.tex").read_text()
    assert "ran out of their time budget" in captured.err       # what happened
    assert "fixture-1(a)" in captured.err and "fx-8.1" in captured.err
    assert "checked again on the next build" in captured.err     # what to do

    # With time enough, the next build checks those claims again and proves them.
    report = B.build(problems, out, tex_only=True)
    assert report.solved == 2
    assert [p["status"] for e in report.entries for p in e["parts"]] == [
        "proved", "cross-checked", "explanation", "out-of-scope", "proved"]
    assert "time budget of" not in (out / "solutions.tex").read_text()
    assert B.build(problems, out, tex_only=True).solved == 0   # now cached


# --------------------------------------------------------------------------------------------
# problem modules that raise or return malformed blocks
# --------------------------------------------------------------------------------------------
BROKEN_PARTS = '''
from derive.book import Check, Part, Problem, written
from derive.symbols import sym

H = sym("H")

def raises(sheet):
    sheet.claim(written("H + H"), 2 * H)
    raise RuntimeError("the module is buggy")

def not_a_block(sheet):
    sheet.blocks.append("oops")

def no_verdict(sheet):
    sheet.blocks.append(Check(H, H, None))

def bad_text(sheet):
    sheet.text(None)

def fine(sheet):
    sheet.claim(written("H + H"), 2 * H, why="collect")

PROBLEM = Problem(id="broken-1", set="theory", title="Broken", statement="s",
                  parts=(Part("a", "p", raises), Part("b", "p", not_a_block),
                         Part("c", "p", no_verdict), Part("d", "p", bad_text),
                         Part("e", "p", fine)))
'''


def test_problem_raises_or_returns_malformed_blocks(problems: Path, tmp_path: Path,
                                                    tex_bin: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (problems / "theory").mkdir()
    (problems / "theory" / "broken.py").write_text(BROKEN_PARTS)
    out = tmp_path / "out"
    args = ["build", "--problems", str(problems), "--out", str(out)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "derive: some parts failed" in err
    assert ("broken-1(a): error (while solving broken-1(a): RuntimeError: the module is "
            "buggy)") in err
    assert "broken-1(b): error (while solving broken-1(b): block 1 is a str" in err
    assert "broken-1(c): error (while solving broken-1(c): " in err
    assert "broken-1(d): error (while rendering broken-1(d): AttributeError: " in err
    assert "broken-1(e)" not in err and "Traceback" not in err
    # Every document was written and compiled, the broken parts marked in it.
    assert_complete(out)
    assert sorted(pdfs(out)) == ["chapter8/fx-8.1.pdf", "practice/fixture-1.pdf",
                                 "solutions.pdf", "theory/broken-1.pdf"]
    tex = (out / "theory" / "broken-1.tex").read_text()
    assert tex.count(r"\begin{solveerror}") == 4 and r"\MarkProved" in tex
    # The failures are reported on every build, cached or not.
    assert main(args) == 1
    assert "broken-1(c): error" in capsys.readouterr().err
    # `derive check` reports the same parts, without a traceback.
    assert main(["check", "--problems", str(problems)]) == 1
    err = capsys.readouterr().err
    for label in "abc":   # check renders nothing, so (d) is not its business
        assert f"while solving broken-1({label}): " in err
    assert "Traceback" not in err
