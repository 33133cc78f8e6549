"""LaTeX -> PDF with latexmk and pdflatex, atomically.

Design rule: a PDF in ``build/`` is replaced only by a PDF that compiled completely.  Each
document is compiled in a fresh temporary directory next to its target (same file system),
then moved into place with :func:`os.replace`; a failure leaves the previous PDF untouched,
keeps the full log next to it, and raises :class:`~derive.errors.BuildError` quoting the
offending log lines (file, line, error) and the source lines they point at.  LaTeX runs in a
process group of its own, stopped as a whole on a timeout, on an interruption or when the
caller cancels, so no TeX process outlives the build.

Less work per document: the build runs pdflatex itself, the passes each document's log asks
for and no more (``runner="needed"``: one for a problem without cross-references, two for
the book), rather than through latexmk (``runner="latexmk"``), and
the documents that share a preamble can load it from a format made once
(:func:`make_format`, with mylatexformat) instead of reading it again each time.

Missing tools are reported with the Debian packages that provide them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from derive.errors import BuildError

# What the templates need, as Debian packages (TeX Live 2022 and later).
DEBIAN_PACKAGES: tuple[str, ...] = (
    "latexmk", "texlive-latex-base", "texlive-latex-recommended", "texlive-latex-extra",
    "texlive-pictures", "lmodern",
)
TOOLS: tuple[str, ...] = ("latexmk", "pdflatex")
# What each way of compiling runs ("needed": pdflatex alone, see :func:`compile_pdf`).
RUNNER_TOOLS: dict[str, tuple[str, ...]] = {"latexmk": TOOLS, "needed": ("pdflatex",)}
TIMEOUT_S = 600.0

# Environment of every run: long log lines (one error per line), reproducible output.
_TEX_ENV = {"max_print_line": "1000", "error_line": "254", "half_error_line": "238",
            "SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1"}

_PROBLEM_MARK = re.compile(r"^% ---- problem (.+)$")
# Where a document's shared preamble ends (mylatexformat dumps the format up to here; without
# the format it expands to \relax).
FORMAT_END = "\\csname endofdump\\endcsname"
# What a log says when the document changes on another pass (labels, outlines, tables).
_RERUN = re.compile(r"Rerun to get|Rerun LaTeX|Please rerun|Label\(s\) may have changed")
# The most passes a document gets (latexmk's own limit): cross-references that never settle
# are left as the last pass printed them, as latexmk would.
MAX_PASSES = 5
_PDFLATEX = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error"]
_POSIX = os.name == "posix" and hasattr(os, "killpg")


def install_hint() -> str:
    """The command that installs what the build needs.

    >>> install_hint().startswith("sudo apt-get install")
    True
    """
    return "sudo apt-get install --no-install-recommends " + " ".join(DEBIAN_PACKAGES)


def check_tools(tools: tuple[str, ...] = TOOLS) -> dict[str, str]:
    """Paths of ``tools`` (latexmk and pdflatex), or a :class:`BuildError` naming what to
    install."""
    found = {t: shutil.which(t) for t in tools}
    missing = [t for t, p in found.items() if p is None]
    if missing:
        raise BuildError(
            f"{' and '.join(missing)} not found on PATH; the PDF build needs TeX Live. On "
            f"Debian or Ubuntu install it with:\n  {install_hint()}\n"
            f"or run `derive build --tex-only` to write the .tex files without compiling them")
    return {t: str(p) for t, p in found.items()}


@dataclass(frozen=True)
class LogError:
    """One error found in a TeX log."""
    file: str
    line: int | None
    message: str
    context: tuple[str, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return "\n".join([f"{where}: {self.message}", *("    " + c for c in self.context)])


def parse_log(text: str, *, default_file: str = "") -> list[LogError]:
    """The errors of a pdflatex log (run with ``-file-line-error``).

    >>> log = "(./doc.tex\\n./doc.tex:12: Undefined control sequence.\\nl.12 \\\\foo\\n\\n)"
    >>> [str(e) for e in parse_log(log)]
    ['./doc.tex:12: Undefined control sequence.\\n    l.12 \\\\foo']
    """
    lines = text.splitlines()
    errors: list[LogError] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(\S[^:]*\.(?:tex|sty|cls|def|cfg|clo|fd|aux|toc)):(\d+): (.*)$", line)
        bang = line.startswith("! ")
        if m or bang:
            file, num, message = ((m.group(1), int(m.group(2)), m.group(3)) if m
                                  else (default_file, None, line[2:]))
            context: list[str] = []
            j = i + 1
            while j < len(lines) and len(context) < 8:
                nxt = lines[j]
                if not nxt.strip():
                    break
                context.append(nxt.rstrip())
                j += 1
                if re.match(r"^l\.\d+", nxt):
                    if num is None:
                        num = int(re.match(r"^l\.(\d+)", nxt).group(1))  # type: ignore[union-attr]
                    break
            errors.append(LogError(file, num, message, tuple(context)))
            i = j
            continue
        i += 1
    # "Emergency stop" and "==> Fatal error" are consequences, not causes.
    consequences = ("Emergency stop", "job aborted", "Fatal error occurred")
    causes = [e for e in errors if not any(c in e.message for c in consequences)]
    return causes or errors


def locate_problem(tex_lines: list[str], line: int | None) -> str:
    """The problem (``id (path)``) a line of a generated .tex file belongs to, or ``""``.

    >>> locate_problem(["x", "% ---- problem 8.2 (chapter8/ex8_2.py)", "y", "z"], 4)
    '8.2 (chapter8/ex8_2.py)'
    """
    if line is None:
        return ""
    for k in range(min(line, len(tex_lines)) - 1, -1, -1):
        m = _PROBLEM_MARK.match(tex_lines[k])
        if m:
            return m.group(1)
    return ""


@dataclass(frozen=True)
class Format:
    """A precompiled preamble: the ``.fmt`` file and the text it was made from (every
    document that starts with exactly that text may use it)."""
    path: Path
    preamble: str

    def fits(self, text: str) -> bool:
        return text.startswith(self.preamble)


def shared_preamble(text: str) -> str | None:
    """The part of a document that a format can hold: everything up to and including the
    :data:`FORMAT_END` line, or None when the document has no such line.

    >>> shared_preamble("%a\\n" + FORMAT_END + "\\nx\\n") == "%a\\n" + FORMAT_END + "\\n"
    True
    >>> shared_preamble("%a\\nx\\n") is None
    True
    """
    at = text.find("\n" + FORMAT_END + "\n")
    return None if at < 0 else text[: at + len(FORMAT_END) + 2]


def make_format(tex: Path, work: Path, *, timeout: float = TIMEOUT_S,
                cancel: threading.Event | None = None) -> Format | None:
    """Compile the shared preamble of ``tex`` into ``work/preamble.fmt`` (mylatexformat).

    None when ``tex`` has no shared preamble or the format cannot be made (mylatexformat
    missing, a package that refuses to be dumped): the documents then read their preamble
    as usual, which gives the same pages."""
    try:
        preamble = shared_preamble(Path(tex).read_text(encoding="utf-8"))
        if preamble is None:
            return None
        (work / "preamble.tex").write_text(preamble + "\\begin{document}\\end{document}\n",
                                           encoding="utf-8")
    except OSError:
        return None
    cmd = ["pdflatex", "-ini", "-jobname=preamble", "-interaction=nonstopmode",
           "-halt-on-error", "&pdflatex", "mylatexformat.ltx", "preamble.tex"]
    try:
        returncode, _ = _run(cmd, work, timeout, cancel, tex, work / "preamble.fmt")
    except BuildError:
        if cancel is not None and cancel.is_set():
            raise
        return None  # timed out: the documents read their preamble instead
    fmt = work / "preamble.fmt"
    return Format(fmt, preamble) if returncode == 0 and fmt.is_file() else None


def compile_pdf(tex: Path, pdf: Path, *, timeout: float = TIMEOUT_S,
                cancel: threading.Event | None = None, runner: str = "latexmk",
                fmt: Format | None = None) -> Path:
    """Compile ``tex`` into ``pdf`` (replaced atomically; untouched on failure).

    ``runner`` is ``"latexmk"`` (latexmk decides the passes) or ``"needed"``: one pdflatex
    pass, and another only while the log asks for one (a label, an outline or a table that
    changed) or the contents changed (see :func:`_passes_needed`).  ``fmt``, when it fits
    the document, is loaded instead of its preamble.  Setting ``cancel`` (from another thread) stops the
    LaTeX run with a :class:`BuildError`; an interruption (``KeyboardInterrupt``) stops it
    too and propagates.
    """
    from derive.render.build import cannot_write
    if runner not in RUNNER_TOOLS:
        raise ValueError(f"runner must be 'latexmk' or 'needed', not {runner!r}")
    check_tools(RUNNER_TOOLS[runner])
    tex, pdf = Path(tex), Path(pdf)
    try:
        pdf.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".latex-{pdf.stem}-", dir=pdf.parent))
    except OSError as exc:
        raise cannot_write(pdf, exc) from None
    try:
        shutil.copyfile(tex, work / "document.tex")
        engine = list(_PDFLATEX)
        if fmt is not None and fmt.fits(tex.read_text(encoding="utf-8")):
            _link(fmt.path, work / "preamble.fmt")  # a path without spaces for the command
            engine.insert(1, "-fmt=preamble")
        if runner == "needed":
            returncode, output = _passes_needed(engine, work, timeout, cancel, tex, pdf)
        else:
            cmd = ["latexmk", "-norc", "-pdf", "-quiet", f"-pdflatex={' '.join(engine)} %O %S",
                   "document.tex"]
            returncode, output = _run(cmd, work, timeout, cancel, tex, pdf)
        built = work / "document.pdf"
        if returncode == 0 and built.is_file():
            try:
                os.replace(built, pdf)
            except OSError as exc:
                raise cannot_write(pdf, exc) from None
            pdf.with_suffix(".log").unlink(missing_ok=True)  # the log of an earlier failure
            return pdf
        if returncode < 0:
            raise BuildError(f"LaTeX was stopped by {_signal_name(-returncode)} while "
                             f"compiling {tex}; the previous {pdf} is untouched; run the "
                             f"build again")
        log_path = work / "document.log"
        log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.is_file() \
            else output.decode("utf-8", errors="replace")
        kept = pdf.with_suffix(".log")
        try:
            kept.write_text(log, encoding="utf-8")
        except OSError as exc:
            raise cannot_write(kept, exc) from None
        raise _failure(tex, pdf, kept, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _passes_needed(engine: list[str], work: Path, timeout: float,
                   cancel: threading.Event | None, tex: Path, pdf: Path) -> tuple[int, bytes]:
    """Run pdflatex until the document is stable: a pass follows only when the log asks for
    one or a contents list (``.toc``, ``.lof``, ``.lot``) differs from the one the pass read.

    Not latexmk: it would rerun whenever the ``.aux`` changed, and the ``.aux`` records the
    number of the last page, which the contents change on the book's second pass without
    moving anything else (a third pass, for the same bytes); and each of its runs costs
    more than a short document's pdflatex pass (it starts Perl and hashes every input)."""
    # An empty outline to start from: a document without sections then needs no second
    # pass for hyperref's outline (with sections the file changes: it does).
    (work / "document.out").write_bytes(b"")
    end = time.monotonic() + timeout  # for the document, whatever number of passes it takes
    for _ in range(MAX_PASSES):
        before = _lists(work)
        returncode, output = _run(engine + ["document.tex"], work, timeout, cancel, tex, pdf,
                                  end)
        if returncode != 0:
            return returncode, output  # a LaTeX error: reported from the log
        if not _asks_rerun(work / "document.log") and _lists(work) == before:
            break
    return 0, output


def _lists(work: Path) -> dict[str, bytes]:
    """The contents lists a pass reads at its start and writes anew."""
    return {suffix: path.read_bytes() for suffix in (".toc", ".lof", ".lot")
            if (path := work / f"document{suffix}").is_file()}


def _asks_rerun(log: Path) -> bool:
    """Whether the log asks for another pass (no log: nothing to ask; another pass would
    not write one either)."""
    try:
        return bool(_RERUN.search(log.read_text(encoding="utf-8", errors="replace")))
    except OSError:
        return False


def _link(source: Path, target: Path) -> None:
    """``target`` as a hard link to ``source`` (a copy across file systems)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _run(cmd: list[str], work: Path, timeout: float, cancel: threading.Event | None,
         tex: Path, pdf: Path, end: float | None = None) -> tuple[int, bytes]:
    """Run ``cmd`` in ``work`` as a process group; its exit code and output.  It is stopped
    ``timeout`` seconds from now, or at the ``time.monotonic()`` deadline ``end`` that
    several runs share (the passes of one document)."""
    proc = subprocess.Popen(cmd, cwd=work, env={**os.environ, **_TEX_ENV},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=_POSIX)
    if end is None:
        end = time.monotonic() + timeout
    try:
        while True:
            try:
                output, _ = proc.communicate(timeout=0.1)
                return proc.returncode, output
            except subprocess.TimeoutExpired:
                if cancel is not None and cancel.is_set():
                    raise BuildError(f"LaTeX on {tex} was cancelled; the previous {pdf} is "
                                     f"untouched") from None
                if time.monotonic() > end:
                    raise BuildError(f"LaTeX timed out after {timeout:g} s on {tex}; the "
                                     f"previous {pdf} is untouched") from None
    finally:
        if proc.returncode is None:  # stopped early: end latexmk and every TeX it started
            try:
                if _POSIX:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:  # pragma: no cover - no process groups
                    proc.kill()
            except OSError:  # pragma: no cover - it ended meanwhile
                pass
            proc.communicate()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # pragma: no cover - an unnamed signal
        return f"signal {number}"


def _failure(tex: Path, pdf: Path, kept_log: Path, log: str) -> BuildError:
    errors = [e if e.file not in ("./document.tex", "document.tex") else
              LogError(str(tex), e.line, e.message, e.context)
              for e in parse_log(log, default_file=str(tex))]
    source = tex.read_text(encoding="utf-8", errors="replace").splitlines()
    lines = [f"LaTeX failed on {tex}"]
    first = errors[0] if errors else None
    if first is not None and first.file == str(tex):
        where = locate_problem(source, first.line)
        if where:
            lines[0] += f" in problem {where}"
    lines[0] += ":"
    for e in errors[:3]:
        lines.extend("  " + _clip(x) for x in str(e).splitlines())
        if e.file == str(tex) and e.line:
            lo, hi = max(1, e.line - 2), min(len(source), e.line + 1)
            for k in range(lo, hi + 1):
                lines.append(_clip(f"  {'>' if k == e.line else ' '} {k:5d} | "
                                   f"{source[k - 1]}"))
    if not errors:
        lines.append("  (no error line found in the log)")
    kept = f"the previous {pdf} is untouched" if pdf.exists() else f"{pdf} was not written"
    lines.append(f"full log: {kept_log}; {kept}")
    err = BuildError("\n".join(lines))
    err.file = first.file if first else str(tex)  # type: ignore[attr-defined]
    err.line = first.line if first else None  # type: ignore[attr-defined]
    err.errors = errors  # type: ignore[attr-defined]
    return err


def _clip(line: str, width: int = 160) -> str:
    """One line of an error message, cut to ``width`` characters."""
    return line if len(line) <= width else line[: width - 4] + " ..."
