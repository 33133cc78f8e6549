"""The build: problems -> solved, rendered entries -> .tex / .pdf in ``build/``, .md in docs.

Design rule: the pipeline reads top to bottom in :func:`build` (and :func:`docs`):

1. find the problem modules (no import);
2. for each, reuse the cached *entry* (rendered LaTeX, Markdown, SVGs, statuses, index rows)
   when its key is unchanged, otherwise load, solve (SymPy, the checker) and render it;
3. assemble the book and the per-problem documents from the entries (jinja2 only);
4. write files whose content changed; compile the PDFs whose .tex changed;
5. only then write the cache, atomically.

Work runs in parallel (``jobs``, by default one per core) without changing a byte of the
outputs: problems are solved in a pool of processes and collected in their book order, and
the book and the per-problem PDFs are independent LaTeX jobs, the longest first.  The
per-problem documents share a preamble, compiled once per build into a format.

The key of an entry hashes the problem module's source, the helper modules of the problems
directory, the engine version (``derive.__version__`` and a hash of the ``derive`` package
sources) and the templates.  A rebuild with nothing changed imports neither SymPy nor runs
LaTeX.  A PDF is recompiled when the .tex it was built from changed (the cache remembers the
hash) or it is missing.  The cache is written only after everything else succeeded (a LaTeX
or template failure leaves it as it was), atomically, so a failure cannot poison it.

Faults keep the previous outputs: every file is replaced atomically (a PDF only by one that
compiled), a path that cannot be written is a :class:`~derive.errors.BuildError` naming it,
an interruption stops the LaTeX runs and leaves no temporary file behind, and an entry whose
checks ran out of their time budget is not cached (its verdicts depend on the machine's
load, not on its key), so the next build checks it again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

from derive.errors import BuildError, DeriveError, ProblemError
from derive.pool import check_jobs, run_ordered

CACHE_FORMAT = 1
BOOK = "solutions.tex"
BOOK_TITLE = "Convolutional Networks"
BOOK_SUBTITLE = "Worked solutions, machine-checked"
DOCS_INDEX = "README.md"

# How derive.check.budget words an expired budget; a verdict or error saying so depends on
# the machine's speed and load rather than on the problem's source.
_BUDGET_SPENT = re.compile(r"time budget of \S+ s spent")

# How every document is compiled: pdflatex itself, the passes each one needs.
RUNNER = "needed"

# progress(done, total, name, note): called once per problem solved and per PDF compiled,
# and once for all the problems taken from the cache (and all the PDFs up to date).
Progress = Callable[[int, int, str, str], None]


def _quiet(done: int, total: int, name: str, note: str) -> None:
    return None


class Tracker:
    """One progress display for a whole build: ``total`` steps, reported as they are done."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def step(self, name: str, note: str, count: int = 1) -> None:
        if count > 0:
            self.done += count
            self.progress(self.done, self.total, name, note)


# --------------------------------------------------------------------------------------------
# keys
# --------------------------------------------------------------------------------------------
def _sha(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()


def engine_digest(template_dir: str | None = None) -> str:
    """Hash of the engine: ``derive.__version__``, every source file of the ``derive``
    package, the templates, and the versions of SymPy, NumPy, jinja2 and PyTorch.

    >>> len(engine_digest())
    64
    """
    import derive
    from derive.render.env import templates_digest
    root = Path(derive.__file__).resolve().parent
    h = hashlib.sha256(derive.__version__.encode() + b"\0")
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".lark", ".j2", ".json", ".txt") \
                and "__pycache__" not in path.parts:
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    h.update(templates_digest(template_dir).encode())
    h.update(_dependency_versions().encode())
    return h.hexdigest()


def _dependency_versions() -> str:
    """Versions of the libraries whose results can show in a solution (PyTorch may be
    absent: solutions may then say less), read from metadata without importing them."""
    from importlib import metadata
    out = []
    for name in ("sympy", "numpy", "jinja2", "torch"):
        try:
            out.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name}=absent")
    return ";".join(out)


# --------------------------------------------------------------------------------------------
# cache
# --------------------------------------------------------------------------------------------
@dataclass
class Cache:
    """``build/.cache/state.json``: entries by problem path, and the .tex hash each PDF was
    compiled from.  A missing, unreadable or old-format file is an empty cache."""
    path: Path
    problems: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, out_dir: Path) -> "Cache":
        path = Path(out_dir) / ".cache" / "state.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != CACHE_FORMAT:
                raise ValueError("old format")
            return cls(path, dict(data["problems"]), dict(data["outputs"]),
                       list(data["files"]))
        except (OSError, ValueError, KeyError, TypeError):
            return cls(path)

    def save(self) -> None:
        """Write atomically (temporary file in the same directory, then rename)."""
        data = {"format": CACHE_FORMAT, "problems": self.problems, "outputs": self.outputs,
                "files": sorted(self.files)}
        write_atomic(self.path, json.dumps(data, sort_keys=True, indent=0))


def cannot_write(path: Path, exc: OSError) -> BuildError:
    """The error for a file that could not be written: which, why, and what to do.

    >>> print(cannot_write(Path("build/a.pdf"), IsADirectoryError(21, "Is a directory")))
    ... # doctest: +NORMALIZE_WHITESPACE
    cannot write build/a.pdf: Is a directory; clear what is in the way or make its
    directory writable (or choose another directory with --out)
    """
    return BuildError(f"cannot write {path}: {exc.strerror or exc}; clear what is in the way "
                      f"or make its directory writable (or choose another directory with "
                      f"--out)")


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` atomically (never a half-written file); a failure is a
    :class:`BuildError` naming ``path``, which is then as it was."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise cannot_write(path, exc) from None
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` unless ``path`` already holds exactly it; True when written."""
    path = Path(path)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    write_atomic(path, text)
    return True


# --------------------------------------------------------------------------------------------
# entries: one solved and rendered problem, JSON-ready
# --------------------------------------------------------------------------------------------
def make_entry(result: Any, relpath: str, key: str,
               template_dir: str | None = None) -> dict[str, Any]:
    """Render a solved problem into a cache entry (LaTeX body, Markdown page, SVGs, index)."""
    from derive.render import latex, markdown
    from derive.render.steps import index_rows
    p = result.problem
    return {
        "key": key,
        "path": relpath,
        "id": p.id,
        "set": p.set,
        "title": p.title,
        "order": p.order,
        "source": p.source,
        "label": latex.problem_label(p.id),
        "stem": markdown.file_stem(p.id),
        "parts": [{"label": pr.part.label, "status": pr.status, "error": pr.error}
                  for pr in result.parts],
        "tex": latex.render_problem_body(result, template_dir),
        "md": markdown.render_problem(result, template_dir),
        "svgs": markdown.figures(result),
        "index": index_rows(result),
        "timed_out": timed_out_parts(result),
    }


def timed_out_parts(result: Any) -> list[str]:
    """Names of the parts with a check (or an error) that ran out of its time budget.

    >>> from derive.book import Check, Part, Problem
    >>> from derive.book.model import PartResult, ProblemResult
    >>> from derive.check.verdict import Status, Verdict
    >>> p = Problem("8.4", "chapter8", "t", "s", (Part("b", "p", print),))
    >>> late = Verdict(Status.TESTED, "no proof found: time budget of 4 s spent",
    ...                timed_out=True)
    >>> timed_out_parts(ProblemResult(p, (PartResult(p.parts[0], (Check(1, 1, late),)),)))
    ['8.4(b)']
    """
    from derive.book.model import flatten_steps
    from derive.render.steps import part_name
    return [part_name(result.problem.id, pr.part.label) for pr in result.parts
            if _BUDGET_SPENT.search(pr.error) or any(
                v.timed_out for _why, v in flatten_steps(pr.blocks))]


def contain_malformed(result: Any, render: Callable[[Any], Any] | None = None) -> Any:
    """``result`` with every part whose blocks are malformed turned into an error part.

    A part is malformed when a block is not one of :mod:`derive.book.model`'s, when its
    status cannot be read (a check without a verdict, say) or, given ``render`` (called with
    a one-part result), when it cannot be rendered.  The error gives the context
    (``while solving 8.4(b): ...``) and the other parts are kept as they are.

    >>> from derive.book import Part, Problem
    >>> from derive.problems import solve
    >>> r = contain_malformed(solve(Problem("8.4", "chapter8", "t", "s",
    ...                                     (Part("b", "p", lambda s: s.blocks.append(1)),))))
    >>> r.parts[0].status, r.parts[0].error
    ('error', 'while solving 8.4(b): block 1 is a int (1), not a block of derive.book')
    """
    from derive.book.model import PartResult, ProblemResult
    from derive.render.steps import part_name
    parts, changed = [], False
    for pr in result.parts:
        fault = _malformed(pr, result.problem, render)
        if fault:
            doing, detail = fault
            name = part_name(result.problem.id, pr.part.label)
            pr = PartResult(pr.part, (), pr.error or f"while {doing} {name}: {detail}")
            changed = True
        parts.append(pr)
    return ProblemResult(result.problem, tuple(parts)) if changed else result


def _malformed(pr: Any, problem: Any,
               render: Callable[[Any], Any] | None) -> tuple[str, str] | None:
    from derive.book.model import Block, ProblemResult, flatten_steps
    for i, block in enumerate(pr.blocks, 1):
        if not isinstance(block, Block):  # type: ignore[arg-type]
            return "solving", (f"block {i} is a {type(block).__name__} ({block!r:.60}), not a "
                               f"block of derive.book")
    try:  # what the index and `derive check` read: the part's status and every verdict's
        for _why, verdict in flatten_steps(pr.blocks):
            verdict.status.value
        pr.status
    except Exception as exc:
        return "solving", f"malformed block: {type(exc).__name__}: {exc}"
    if render is not None:
        try:
            render(ProblemResult(problem, (pr,)))
        except Exception as exc:
            _raise_template_error(exc)
            return "rendering", f"{type(exc).__name__}: {exc}"
    return None


@dataclass
class Collected:
    entries: list[dict[str, Any]]
    solved: int = 0           # problems solved in this run (the rest came from the cache)
    cached: int = 0
    tracker: Tracker = field(default_factory=lambda: Tracker(_quiet, 0))


def collect(problems_dir: Path, cache: Cache, *, force: bool = False,
            progress: Progress = _quiet, template_dir: str | None = None,
            keep_going: bool = False, jobs: int = 1, documents: bool = False) -> Collected:
    """Every problem as an entry, from the cache when its key is unchanged.

    The others are solved, in a pool of ``jobs`` processes when there is more than one;
    the entries are the same whichever process solved them and in whatever order they
    finished.  A module that fails to load raises :class:`ProblemError` (the first such
    module in book order), or with ``keep_going`` becomes an entry whose single part has
    status ``error`` (never cached).  With ``documents``, the progress total also counts the
    documents the build will compile (one per problem, and the book)."""
    from derive.problems import discover, helpers_digest
    jobs = check_jobs(jobs)
    files = discover(problems_dir)
    engine = engine_digest(template_dir)
    helpers = helpers_digest(problems_dir)
    tracker = Tracker(progress, len(files) + (len(files) + 1 if documents else 0))
    out = Collected([], tracker=tracker)
    found: dict[int, dict[str, Any]] = {}
    todo: list[tuple[int, Any, str]] = []
    for i, pf in enumerate(files):
        key = _sha(engine, helpers, pf.source_digest())
        entry = cache.problems.get(pf.relpath)
        if not force and entry is not None and entry.get("key") == key:
            found[i] = entry
        else:
            todo.append((i, pf, key))
    out.cached = len(found)
    tracker.step(f"{out.cached} problem(s)", "cached", out.cached)

    def solved(entry: dict[str, Any]) -> None:
        out.solved += 1
        tracker.step(entry["id"], _summary(entry))

    found.update(_solve_all(todo, template_dir, keep_going, jobs, solved))
    out.entries = [found[i] for i in range(len(files))]
    _check_unique(out.entries, problems_dir)
    from derive.problems import natural_key, set_order
    order = set_order()
    out.entries.sort(key=lambda e: (order[e["set"]], e["order"], natural_key(e["id"])))
    return out


def _solve_all(todo: list[tuple[int, Any, str]], template_dir: str | None, keep_going: bool,
               jobs: int, solved: Callable[[dict[str, Any]], None]) -> dict[int, dict[str, Any]]:
    """Solve ``todo`` ((index, problem file, key) triples); entries by index.  ``solved`` is
    called for each in index order, so the progress lines read the same in every run."""
    entries = run_ordered(partial(_solve_one, template_dir=template_dir, keep_going=keep_going),
                          [(pf, key) for _i, pf, key in todo], jobs, solved)
    return {i: entry for (i, _pf, _key), entry in zip(todo, entries)}


def _solve_one(item: tuple[Any, str], template_dir: str | None,
               keep_going: bool) -> dict[str, Any]:
    pf, key = item
    try:
        return _solve_and_render(pf, key, template_dir)
    except ProblemError as exc:
        if not keep_going:
            raise
        return _broken_entry(pf, key, str(exc))


def _broken_entry(pf: Any, key: str, error: str) -> dict[str, Any]:
    stem = Path(pf.relpath).stem
    return {"key": key, "path": pf.relpath, "id": stem, "set": pf.set, "title": stem,
            "order": 1e9, "source": "", "label": "", "stem": stem,
            "parts": [{"label": "", "status": "error", "error": error}], "tex": "",
            "md": "", "svgs": {}, "index": [], "broken": True}


def _solve_and_render(pf: Any, key: str, template_dir: str | None) -> dict[str, Any]:
    from derive.problems import load, solve
    problem = load(pf)
    result = contain_malformed(solve(problem))

    def render(r: Any) -> dict[str, Any]:
        return make_entry(r, pf.relpath, key, template_dir)

    try:
        return render(result)
    except Exception as exc:
        _raise_template_error(exc)
    # Some part cannot be rendered: mark it as an error and render the others.
    result = contain_malformed(result, render)
    try:
        return render(result)
    except DeriveError as exc:
        raise ProblemError(f"{pf.path}: while rendering {problem.id}: {exc}") from exc
    except Exception as exc:
        _raise_template_error(exc)
        raise ProblemError(f"{pf.path}: while rendering {problem.id}: "
                           f"{type(exc).__name__}: {exc}") from exc


def _raise_template_error(exc: Exception) -> None:
    import jinja2
    if isinstance(exc, jinja2.TemplateSyntaxError):
        raise BuildError(f"template {exc.filename or exc.name}:{exc.lineno}: {exc.message}") \
            from exc
    tb_line = _template_line(exc)
    if isinstance(exc, jinja2.TemplateError) or tb_line:
        # a failure inside a template (an undefined name, a division by zero in a filter)
        raise BuildError(f"template error{tb_line}: {type(exc).__name__}: {exc}") from exc


def _template_line(exc: BaseException) -> str:
    tb = exc.__traceback__
    where = ""
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.endswith(".j2"):
            where = f" in {Path(name).name}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _check_unique(entries: list[dict[str, Any]], root: Path) -> None:
    seen: dict[str, str] = {}
    for e in entries:
        if e["id"] in seen:
            raise ProblemError(f"{Path(root) / e['path']}: problem id {e['id']!r} is already "
                               f"used by {Path(root) / seen[e['id']]}")
        seen[e["id"]] = e["path"]


def _summary(entry: dict[str, Any]) -> str:
    counts: dict[str, int] = {}
    for p in entry["parts"]:
        counts[p["status"]] = counts.get(p["status"], 0) + 1
    from derive.render.steps import STATUSES
    return ", ".join(f"{counts[s]} {s}" for s in STATUSES if s in counts)


def cacheable(entry: dict[str, Any]) -> bool:
    """Every solved and rendered entry is a pure function of its key and is cached, failed
    parts included (they are reported on every build); a module that failed to load is not
    (``derive list`` shows it, the build stops on it), nor an entry with a check that ran out
    of its time budget (the next build checks it again)."""
    return not entry.get("broken", False) and not entry.get("timed_out")


# --------------------------------------------------------------------------------------------
# assembling documents (jinja2 only: no SymPy here)
# --------------------------------------------------------------------------------------------
def totals(entries: list[dict[str, Any]]) -> dict[str, int]:
    """Counts for the title page, the index of checks and the docs: each kind of evidence
    counted as what it is (claims proved, claims tested and on how many instances,
    cross-checks that agree, explanations, code listings, experiments, out-of-scope parts),
    and the parts by their mark."""
    from derive.render.steps import STATUSES
    rows = [r for e in entries for r in e["index"]]

    def count(kind: str, *statuses: str) -> int:
        return sum(1 for r in rows if r.get("kind") == kind
                   and (not statuses or r["status"] in statuses))

    parts = [p for e in entries for p in e["parts"]]
    return {
        "problems": len(entries),
        "parts": len(parts),
        "steps": count("claim"),
        "proved": count("claim", "proved"),
        "tested": count("claim", "tested"),
        "instances": sum(r.get("instances", 0) for r in rows
                         if r.get("kind") == "claim" and r["status"] == "tested"),
        "cross_checks": count("cross-check", "cross-checked"),
        "conditional": count("conditional", "cross-checked"),
        "explanations": count("explanation"),
        "code": count("code"),
        "experiments": count("experiment"),
        "out_of_scope": count("out-of-scope"),
        "refuted": sum(1 for r in rows if r["status"] == "refuted"),
        "errors": sum(1 for r in rows if r["status"] in ("unknown", "error")),
        "part_marks": {s: n for s in STATUSES
                       if (n := sum(1 for p in parts if p["status"] == s))},
    }


def part_summaries(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """One line per part for the index of checks: its mark, and what was checked in it
    ("4 proved, 1 tested on 200 instances, 2 cross-checks")."""
    out = []
    for p in entry["parts"]:
        name = f"({p['label']})" if p["label"] else ""
        full = f"{entry['id']}({p['label']})" if p["label"] else entry["id"]
        rows = [r for r in entry["index"] if r["part"] == full]
        out.append({"short": name, "status": p["status"], "what": evidence_words(rows)})
    return out


def evidence_words(rows: list[dict[str, Any]]) -> str:
    """What index rows hold, in words.

    >>> evidence_words([{"kind": "claim", "status": "proved", "instances": 0}] * 2
    ...                + [{"kind": "cross-check", "status": "cross-checked", "instances": 0}])
    '2 claims proved, 1 cross-check'
    """
    def plural(n: int, one: str, many: str) -> str:
        return f"{n} {one if n == 1 else many}"

    claims = [r for r in rows if r.get("kind") == "claim"]
    proved = sum(1 for r in claims if r["status"] == "proved")
    tested = [r for r in claims if r["status"] == "tested"]
    other = [r for r in claims if r["status"] not in ("proved", "tested")]
    words = []
    if proved:
        words.append(plural(proved, "claim proved", "claims proved"))
    if tested:
        n = sum(r.get("instances", 0) for r in tested)
        words.append(plural(len(tested), "claim tested", "claims tested")
                     + f" on {plural(n, 'instance', 'instances')}")
    for status in ("unknown", "refuted", "error"):
        k = sum(1 for r in other if r["status"] == status)
        if k:
            words.append(f"{k} {status}")
    for kind, one, many in (("cross-check", "cross-check", "cross-checks"),
                            ("conditional", "comparison with PyTorch where installed",
                             "comparisons with PyTorch where installed"),
                            ("explanation", "explanation", "explanations"),
                            ("code", "code listing", "code listings"),
                            ("experiment", "experiment", "experiments"),
                            ("out-of-scope", "out of scope", "out of scope")):
        k = sum(1 for r in rows if r.get("kind") == kind)
        if k:
            words.append(plural(k, one, many))
    return ", ".join(words) if words else "nothing checked"


def book_tex(entries: list[dict[str, Any]], template_dir: str | None = None) -> str:
    """``build/solutions.tex`` from the entries."""
    from derive import __version__
    from derive.book.model import SETS
    from derive.render.steps import TEX_MARKS
    sets = []
    for key, title in SETS:
        problems = [{"id": e["id"], "path": e["path"], "body": e["tex"]}
                    for e in entries if e["set"] == key]
        if problems:
            sets.append({"key": key, "title": title, "problems": problems})
    index = [{"id": e["id"], "title": e["title"], "label": e["label"],
              "rows": [{**r, "mark": TEX_MARKS[r["status"]]} for r in part_summaries(e)]}
             for e in entries]
    return _render("book.tex.j2", template_dir, title=BOOK_TITLE, subtitle=BOOK_SUBTITLE,
                   version=__version__, sets=sets, index=index, totals=totals(entries))


def problem_tex(entry: dict[str, Any], template_dir: str | None = None) -> str:
    """The standalone document of one problem."""
    from derive import __version__
    problem = {"id": entry["id"], "path": entry["path"], "body": entry["tex"]}
    return _render("problem.tex.j2", template_dir, problem=problem,
                   title=f"{BOOK_TITLE}: {BOOK_SUBTITLE}", version=__version__)


def docs_files(entries: list[dict[str, Any]],
               template_dir: str | None = None) -> dict[str, str]:
    """Relative path under ``docs/solutions`` -> content, for every generated file."""
    from derive.book.model import SETS
    files: dict[str, str] = {}
    sets = []
    for key, title in SETS:
        problems = []
        for e in entries:
            if e["set"] != key:
                continue
            files[f"{key}/{e['stem']}.md"] = e["md"]
            for name, svg in e["svgs"].items():
                files[f"{key}/{name}"] = svg
            problems.append({"id": e["id"], "title": e["title"],
                             "file": f"{key}/{e['stem']}.md", "parts": e["parts"]})
        if problems:
            sets.append({"key": key, "title": title, "problems": problems})
    files[DOCS_INDEX] = _index_md(sets, template_dir, totals(entries))
    return dict(sorted(files.items()))


def _index_md(sets: list[dict[str, Any]], template_dir: str | None,
              counts: dict[str, Any]) -> str:
    import re
    from derive.render.steps import MD_SIGNS
    for s in sets:
        for p in s["problems"]:
            p["signs"] = ", ".join((f"({q['label']}) " if q["label"] else "")
                                   + f"{MD_SIGNS[q['status']]} {q['status']}"
                                   for q in p["parts"])
    legend = " · ".join(f"{sign} {status}" for status, sign in MD_SIGNS.items())
    text = _render("index.md.j2", template_dir, sets=sets, legend=legend, totals=counts)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


def _render(template: str, template_dir: str | None, **context: Any) -> str:
    from derive.render.env import render
    try:
        return render(template, template_dir, **context)
    except Exception as exc:
        _raise_template_error(exc)
        raise


# --------------------------------------------------------------------------------------------
# the build
# --------------------------------------------------------------------------------------------
@dataclass
class BuildReport:
    out_dir: Path
    entries: list[dict[str, Any]]
    solved: int
    cached: int
    written: list[Path] = field(default_factory=list)     # files whose content changed
    compiled: list[Path] = field(default_factory=list)    # PDFs compiled in this run
    seconds: float = 0.0

    @property
    def failures(self) -> list[str]:
        """``"8.4(b): refuted"`` for every part that errored or was refuted."""
        from derive.render.steps import part_name
        return [f"{part_name(e['id'], p['label'])}: {p['status']}"
                + (f" ({p['error']})" if p["error"] else "")
                for e in self.entries for p in e["parts"]
                if p["status"] in ("error", "refuted")]

    @property
    def timed_out(self) -> list[str]:
        """``"8.4(b)"`` for every part with a check that ran out of its time budget."""
        return [name for e in self.entries for name in e.get("timed_out", ())]


def build(problems_dir: str | Path = "problems", out_dir: str | Path = "build", *,
          tex_only: bool = False, force: bool = False, progress: Progress = _quiet,
          jobs: int | None = None, template_dir: str | None = None) -> BuildReport:
    """Solve, render and compile everything; see the module docstring for the steps.

    ``jobs`` processes solve and ``jobs`` LaTeX runs compile at once (None: one per core;
    1: one thing at a time, in this process); the outputs are the same bytes either way."""
    from derive.render import pdf
    start = time.perf_counter()
    jobs = check_jobs(jobs)
    problems_dir, out_dir = Path(problems_dir), Path(out_dir)
    if not tex_only:
        pdf.check_tools(pdf.RUNNER_TOOLS[RUNNER])
    _make_out_dir(out_dir)
    cache = Cache.load(out_dir)
    got = collect(problems_dir, cache, force=force, progress=progress,
                  template_dir=template_dir, jobs=jobs, documents=not tex_only)
    report = BuildReport(out_dir, got.entries, got.solved, got.cached)

    documents: dict[str, str] = {BOOK: book_tex(got.entries, template_dir)}
    for e in got.entries:
        documents[f"{e['set']}/{e['stem']}.tex"] = problem_tex(e, template_dir)
    for rel, text in sorted(documents.items()):
        if write_if_changed(out_dir / rel, text):
            report.written.append(out_dir / rel)
    _remove_stale(out_dir, cache, documents)

    outputs = {rel: digest for rel, digest in cache.outputs.items()
               if rel in documents}
    if not tex_only:
        todo = [rel for rel in sorted(documents)
                if force or outputs.get(rel) != _sha(documents[rel])
                or not (out_dir / rel).with_suffix(".pdf").is_file()]
        got.tracker.step(f"{len(documents) - len(todo)} PDF(s)", "up to date",
                         len(documents) - len(todo))
        failures = _compile_all(out_dir, todo, documents, outputs, got.tracker, jobs)
        report.compiled = [(out_dir / rel).with_suffix(".pdf") for rel in todo
                           if rel not in failures]
        if failures:
            first, *more = failures
            raise BuildError(str(failures[first]) + (
                f"\n({len(more)} more document(s) failed: {', '.join(more)})" if more else ""))
    cache.problems = {e["path"]: e for e in got.entries if cacheable(e)}
    cache.outputs = outputs
    cache.files = sorted(documents)
    cache.save()
    report.seconds = time.perf_counter() - start
    return report


def _make_out_dir(out_dir: Path) -> None:
    """Create the output directory, or fail before any work with a clear error."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = "a file is in the way" if out_dir.exists() else exc.strerror or str(exc)
        raise BuildError(f"cannot write the output directory {out_dir}: {reason}; pass --out "
                         f"with a directory that can be created and written") from None


def _compile_all(out_dir: Path, todo: list[str], documents: dict[str, str],
                 outputs: dict[str, str], tracker: Tracker,
                 jobs: int) -> dict[str, BuildError]:
    """Compile ``todo`` in ``jobs`` threads (each waits on its LaTeX process); the failures
    by document, problems in path order and the book last, whatever order they ended in."""
    from derive.render import pdf
    failures: dict[str, BuildError] = {}
    problems = _longest_first([rel for rel in todo if rel != BOOK], documents)
    book = [BOOK] if BOOK in todo else []
    stop = threading.Event()
    work: Path | None = None
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        fmt: Future[pdf.Format | None] | None = None
        if problems:  # their shared preamble, made once, for every one of them
            work = _temporary_dir(out_dir, ".latex-format-")
            fmt = pool.submit(pdf.make_format, out_dir / problems[0], work, cancel=stop)

        def one(rel: str) -> None:
            tex = out_dir / rel
            shared = fmt.result() if fmt is not None and rel != BOOK else None
            pdf.compile_pdf(tex, tex.with_suffix(".pdf"), cancel=stop, runner=RUNNER,
                            fmt=shared)

        # The longest first: the book (a third of the LaTeX time) beside the problems.  With
        # one job the order changes nothing but which error comes first: the book goes last,
        # so that an error is first reported in a problem's smaller document.
        order = book + problems if jobs > 1 else problems + book
        futures = {pool.submit(one, rel): rel for rel in order}
        for future in as_completed(futures):
            rel = futures[future]
            exc = future.exception()
            if exc is None:
                outputs[rel] = _sha(documents[rel])
            elif isinstance(exc, BuildError):
                failures[rel] = exc
                outputs.pop(rel, None)
            else:  # pragma: no cover - a bug, not a LaTeX failure
                raise exc
            tracker.step(str(Path(rel).with_suffix(".pdf")),
                         "compiled" if exc is None else "LaTeX failed")
    except BaseException:
        stop.set()  # interrupted: stop the LaTeX runs of the other threads, start no more
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    return {rel: failures[rel] for rel in sorted(failures, key=lambda r: (r == BOOK, r))}


def _longest_first(rels: list[str], documents: dict[str, str]) -> list[str]:
    """Documents by decreasing size (what LaTeX has to typeset), then by path."""
    return sorted(rels, key=lambda rel: (-len(documents[rel]), rel))


def _temporary_dir(out_dir: Path, prefix: str) -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir))
    except OSError as exc:
        raise cannot_write(out_dir / prefix, exc) from None


def _remove_stale(out_dir: Path, cache: Cache, documents: dict[str, str]) -> None:
    """Delete outputs of problems that no longer exist (only files this build made)."""
    for rel in sorted(set(cache.files) - set(documents)):
        for suffix in (".tex", ".pdf", ".log"):
            path = (out_dir / rel).with_suffix(suffix)
            if path.is_file():
                _unlink(path)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError as exc:
        raise cannot_write(path, exc) from None


# --------------------------------------------------------------------------------------------
# docs
# --------------------------------------------------------------------------------------------
@dataclass
class DocsReport:
    docs_dir: Path
    entries: list[dict[str, Any]]
    changed: list[str]        # relative paths written (or, with check=True, stale)
    removed: list[str]        # generated files that no longer belong (deleted unless check)


def docs(problems_dir: str | Path = "problems", docs_dir: str | Path = "docs/solutions",
         out_dir: str | Path = "build", *, check: bool = False, force: bool = False,
         progress: Progress = _quiet, template_dir: str | None = None,
         jobs: int | None = None) -> DocsReport:
    """Write ``docs/solutions`` (or, with ``check``, only list what differs); the problems
    not in the cache are solved by ``jobs`` processes (None: one per core)."""
    problems_dir, docs_dir, out_dir = Path(problems_dir), Path(docs_dir), Path(out_dir)
    cache = Cache.load(out_dir)
    got = collect(problems_dir, cache, force=force, progress=progress,
                  template_dir=template_dir, jobs=check_jobs(jobs))
    files = docs_files(got.entries, template_dir)
    changed = []
    for rel, text in files.items():
        path = docs_dir / rel
        try:
            same = path.read_text(encoding="utf-8") == text
        except (OSError, UnicodeDecodeError):
            same = False
        if not same:
            changed.append(rel)
            if not check:
                write_atomic(path, text)
    removed = []
    if docs_dir.is_dir():
        for path in sorted(docs_dir.rglob("*")):
            rel = path.relative_to(docs_dir).as_posix()
            if path.is_file() and path.suffix in (".md", ".svg") and rel not in files:
                removed.append(rel)
                if not check:
                    _unlink(path)
    cache.problems = {e["path"]: e for e in got.entries if cacheable(e)}
    if out_dir.is_dir() or got.solved:
        cache.save()
    return DocsReport(docs_dir, got.entries, changed, removed)


# --------------------------------------------------------------------------------------------
# progress display
# --------------------------------------------------------------------------------------------
def make_progress(stream: Any = None, *, label: str = "") -> Progress:
    """A bar on a terminal, one line per item otherwise."""
    stream = stream if stream is not None else sys.stderr
    tty = bool(getattr(stream, "isatty", lambda: False)())
    width = 28

    def show(done: int, total: int, name: str, note: str) -> None:
        if tty:
            filled = int(width * done / max(total, 1))
            bar = "#" * filled + "-" * (width - filled)
            line = f"\r{label}[{bar}] {done}/{total} {name}"[:100]
            stream.write(line.ljust(100) + ("\n" if done == total else ""))
        else:
            stream.write(f"{label}[{done}/{total}] {name}: {note}\n")
        stream.flush()

    return show


def iter_parts(entries: Iterable[dict[str, Any]]) -> Iterable[dict[str, str]]:
    """One row per part: set, id, part, status (for ``derive list``)."""
    for e in entries:
        for p in e["parts"]:
            yield {"set": e["set"], "id": e["id"], "part": p["label"], "status": p["status"]}
