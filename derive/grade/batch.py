r"""Batch grading: many claims or derivations, checked in worker processes.

Design rule: one submission never affects another.  Each input line is graded on its own
(in a worker process, with the checker's time budget per claim or step); whatever goes
wrong with it, bad JSON, bad input, a checker failure, even a crashed or hung worker,
becomes ``{"verdict": "error", ...}`` for that line and the others go on.  Results come out
one per non-blank input line, in input order, whatever order the workers finish in.

Input, one JSON object per line (blank lines are skipped)::

    {"id": "alice", "claim": "ceiling(a/b) == floor((a + b - 1)/b)"}
    {"id": "bob", "derivation": "2*(x + 1)\n2*x + 2", "format": "text", "assume": ["x >= 1"]}

``claim`` is plain text (or LaTeX with ``"format": "latex"``); ``derivation`` is a derivation
text in the format of :mod:`derive.grade.reader`.  Each result carries ``id``, ``line`` (the
input line number) and ``kind`` next to the verdict fields of a claim
(:meth:`~derive.check.verdict.Verdict.to_dict`) or of a derivation
(:meth:`~derive.grade.report.DerivationReport.to_dict`).

>>> rows = list(grade_batch(['{"id": 1, "claim": "a + a == 2*a"}', 'not json'], jobs=1))
>>> [(r["id"], r["verdict"]) for r in rows]
[(1, 'proved'), (None, 'error')]
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence, TextIO

from derive.errors import DeriveError, InputError

DEFAULT_JOBS = 2
MAX_BATCH_BYTES = 64 * 1024 * 1024   # a submissions file larger than this is refused
MAX_ITEM_CHARS = 200_000             # one JSON line
ITEM_HARD_LIMIT = 300.0              # seconds; a worker silent this long is replaced
IN_FLIGHT_PER_JOB = 4                # submissions queued per worker (bounds memory)


# ---------------------------------------------------------------------------------------
# One item (runs in a worker process)


def grade_item(line: str, number: int = 1, assume: Sequence[str] = (),
               budget: float | None = None) -> dict[str, Any]:
    """Grade one JSON line; never raises (problems become an ``error`` result).

    >>> grade_item('{"id": "x", "claim": "floor(a/b) + floor(c/b) == floor((a + c)/b)"}')["verdict"]
    'refuted'
    >>> grade_item('{"id": "y"}')["error"]
    'line 1: the object needs a "claim" or a "derivation" field'
    """
    ident: Any = None
    kind = "unknown"
    try:
        item = _load(line, number)
        ident = item.get("id")
        kind = "claim" if "claim" in item else "derivation" if "derivation" in item else kind
        result = _grade_object(item, number, assume, budget)
    except DeriveError as exc:
        message = str(exc)
        result = _error(message if message.startswith("line ") else
                        f"line {number}: {message}")
    except RecursionError:
        result = _error(f"line {number}: input nested too deeply")
    except Exception as exc:  # one broken submission must not stop the batch
        result = _error(f"line {number}: internal error while grading "
                        f"({type(exc).__name__}: {str(exc)[:200]})")
    result = {"id": ident, "line": number, "kind": kind, **result}
    return _jsonable(result)


def _load(line: str, number: int) -> dict[str, Any]:
    if len(line) > MAX_ITEM_CHARS:
        raise InputError(f"line {number}: {len(line):,} characters; the limit is "
                         f"{MAX_ITEM_CHARS:,}")
    try:
        item = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"line {number}: not valid JSON ({exc})") from None
    if not isinstance(item, dict):
        raise InputError(f"line {number}: expected a JSON object, got "
                         f"{type(item).__name__}")
    return item


def _grade_object(item: dict[str, Any], number: int, assume: Sequence[str],
                  budget: float | None) -> dict[str, Any]:
    extra = item.get("assume", [])
    if isinstance(extra, str):
        extra = [extra]
    if not isinstance(extra, list) or not all(isinstance(a, str) for a in extra):
        raise InputError(f"line {number}: \"assume\" must be a list of texts such as "
                         f"\"s >= 2\"")
    from derive.grade.reader import claim_text, split_assumptions
    in_force = [a for text in list(assume) + extra for a in split_assumptions(text)]
    fmt = item.get("format")
    if fmt not in (None, "text", "latex"):
        raise InputError(f"line {number}: got format={fmt!r}; use \"text\" or \"latex\"")
    has_claim, has_derivation = "claim" in item, "derivation" in item
    if has_claim == has_derivation:
        raise InputError(f"line {number}: the object needs a \"claim\" or a \"derivation\" "
                         f"field" + (" (not both)" if has_claim else ""))
    text = item["claim"] if has_claim else item["derivation"]
    if not isinstance(text, str):
        raise InputError(f"line {number}: the {'claim' if has_claim else 'derivation'} must "
                         f"be text, got {type(text).__name__}")
    if has_claim:
        from derive.check.engine import verify

        claim: Any = text if fmt == "latex" else claim_text(text)
        if fmt == "latex":
            from derive.check.engine import check_exprs
            from derive.check.latex import parse_latex_claim
            found: list = []
            lhs, rhs = parse_latex_claim(text, divisors=found)
            verdict = check_exprs(lhs, rhs, in_force, budget, divisors=(found[0], found[1]))
        else:
            verdict = verify(claim, assume=in_force, budget=budget)
        out = verdict.to_dict()
        if fmt == "latex":
            out["claim"] = text
        return out
    from derive.grade.report import grade_text

    report = grade_text(text, fmt=fmt, assume=in_force, budget=budget,
                        source=f"line {number}")
    return report.to_dict()


def _error(message: str) -> dict[str, Any]:
    return {"verdict": "error", "method": message, "error": message, "counterexample": None}


def _jsonable(value: Any) -> Any:
    """Plain JSON types only (a result must always be writable)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def _grade_numbered(number: int, line: str, assume: tuple[str, ...],
                    budget: float | None) -> dict[str, Any]:
    return grade_item(line, number, assume, budget)


# ---------------------------------------------------------------------------------------
# Many items


def _context() -> Any:
    """'fork' where it is safe and available (fast start), else 'spawn'."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1 and sys.platform != "darwin":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


class _Workers:
    """A process pool that can be replaced when a worker crashes or hangs."""

    def __init__(self, jobs: int, context: Any) -> None:
        self.jobs = jobs
        self.context = context
        self.executor: ProcessPoolExecutor | None = None

    def submit(self, *args: Any) -> Future:
        if self.executor is None:
            self.executor = ProcessPoolExecutor(max_workers=self.jobs, mp_context=self.context)
        return self.executor.submit(_grade_numbered, *args)

    def replace(self) -> None:
        """Stop every worker (they are ours) and start afresh on the next submit."""
        executor, self.executor = self.executor, None
        if executor is None:
            return
        processes = list(getattr(executor, "_processes", {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            if proc.is_alive():
                proc.terminate()
        for proc in processes:
            proc.join(timeout=5)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None


def grade_batch(lines: Iterable[str], jobs: int = DEFAULT_JOBS, *,
                assume: Sequence[str] = (), budget: float | None = None,
                progress: bool | None = None, context: Any = None,
                hard_limit: float = ITEM_HARD_LIMIT) -> Iterator[dict[str, Any]]:
    """Grade JSON lines with ``jobs`` worker processes; yield results in input order.

    ``jobs=1`` grades in this process.  ``progress`` (default: when stderr is a terminal)
    draws a progress bar on stderr.  ``hard_limit`` bounds how long one item may keep a
    worker busy beyond the checker's own budget; the worker is then replaced.

    >>> rows = ['{"id": "a", "claim": "x*(y + 1) == x*y + x"}', '',
    ...         '{"id": "b", "claim": "x == x + 1"}']
    >>> [(r["id"], r["line"], r["verdict"]) for r in grade_batch(rows, jobs=2)]
    [('a', 1, 'proved'), ('b', 3, 'refuted')]
    """
    from derive.errors import check_positive_int

    jobs = check_positive_int("jobs", jobs)
    assume = tuple(assume)
    total = len(lines) if isinstance(lines, (list, tuple)) else None
    bar = _Progress(total, sys.stderr) if (
        progress if progress is not None else _is_tty(sys.stderr)) else None
    numbered = ((n, line) for n, line in enumerate(lines, start=1) if line.strip())
    try:
        if jobs == 1:
            for number, line in numbered:
                result = _grade_numbered(number, line, assume, budget)
                if bar:
                    bar.step(result.get("verdict"))
                yield result
            return
        yield from _parallel(numbered, jobs, assume, budget, bar, context or _context(),
                             hard_limit)
    finally:
        if bar:
            bar.close()


def _parallel(numbered: Iterator[tuple[int, str]], jobs: int, assume: tuple[str, ...],
              budget: float | None, bar: "_Progress | None", context: Any,
              hard_limit: float) -> Iterator[dict[str, Any]]:
    workers = _Workers(jobs, context)
    window: deque[list[Any]] = deque()   # [number, line, future]

    def fill() -> None:
        while len(window) < jobs * IN_FLIGHT_PER_JOB:
            try:
                number, line = next(numbered)
            except StopIteration:
                return
            window.append([number, line, workers.submit(number, line, assume, budget)])

    def resubmit() -> None:
        for entry in window:
            entry[2] = workers.submit(entry[0], entry[1], assume, budget)

    try:
        fill()
        while window:
            number, line, future = window.popleft()
            try:
                result = future.result(timeout=hard_limit)
            except BrokenProcessPool:
                # Some in-flight item killed its worker; run this one alone to find out.
                workers.replace()
                result = _alone(workers, number, line, assume, budget, hard_limit)
                resubmit()
            except FuturesTimeout:
                workers.replace()
                result = _crash(number, line, f"no result after {hard_limit:g} s; the "
                                              f"worker was stopped")
                resubmit()
            if bar:
                bar.step(result.get("verdict"))
            yield result
            fill()
    finally:
        workers.close() if not window else workers.replace()


def _alone(workers: _Workers, number: int, line: str, assume: tuple[str, ...],
           budget: float | None, hard_limit: float) -> dict[str, Any]:
    try:
        return workers.submit(number, line, assume, budget).result(timeout=hard_limit)
    except BrokenProcessPool:
        workers.replace()
        return _crash(number, line, "the worker process grading this item stopped "
                                    "unexpectedly (out of memory?)")
    except FuturesTimeout:
        workers.replace()
        return _crash(number, line, f"no result after {hard_limit:g} s; the worker was "
                                    f"stopped")


def _crash(number: int, line: str, message: str) -> dict[str, Any]:
    ident = None
    try:
        item = json.loads(line)
        if isinstance(item, dict):
            ident = _jsonable(item.get("id"))
    except (ValueError, RecursionError):
        pass
    return {"id": ident, "line": number, "kind": "unknown",
            **_error(f"line {number}: {message}")}


# ---------------------------------------------------------------------------------------
# Progress bar and the command


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _Progress:
    """``[#####.....]  50/100  3.2/s  refuted 4  error 1`` redrawn in place on stderr."""

    WIDTH = 30

    def __init__(self, total: int | None, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.done = 0
        self.counts: dict[str, int] = {}
        self.start = time.perf_counter()
        self.last = 0.0

    def step(self, verdict: Any) -> None:
        self.done += 1
        key = str(verdict)
        self.counts[key] = self.counts.get(key, 0) + 1
        now = time.perf_counter()
        if now - self.last > 0.1 or self.done == self.total:
            self.last = now
            self.draw(now)

    def draw(self, now: float) -> None:
        rate = self.done / max(now - self.start, 1e-9)
        if self.total:
            filled = int(self.WIDTH * self.done / self.total)
            bar = "[" + "#" * filled + "." * (self.WIDTH - filled) + "]"
            count = f"{self.done}/{self.total}"
        else:
            bar, count = "", f"{self.done}"
        tally = "  ".join(f"{k} {v}" for k, v in sorted(self.counts.items())
                          if k in ("refuted", "error"))
        self.stream.write(f"\r{bar} {count}  {rate:.1f}/s  {tally}".rstrip() + "\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.done:
            self.draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()


def read_batch(path: str | Path) -> list[str]:
    """The lines of a submissions file (bounded in size; UTF-8)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise InputError(f"got --batch {str(path)!r}; it is a directory")
        if size > MAX_BATCH_BYTES:
            raise InputError(f"batch file {str(path)!r} is {size:,} bytes; the limit is "
                             f"{MAX_BATCH_BYTES:,}")
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read batch file {str(path)!r}: "
                         f"{exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"batch file {str(path)!r} is not UTF-8 text (byte "
                         f"{exc.start + 1})") from None
    return text.splitlines()


def run_batch_command(path: str | Path, jobs: int = DEFAULT_JOBS, output: str | None = None,
                      assume: Sequence[str] = (), budget: float | None = None,
                      progress: bool | None = None) -> int:
    """``derive verify --batch``: write one JSON result per line; exit 0 when every line got
    a result (whatever its verdict), 2 when the batch file itself cannot be read."""
    lines = read_batch(path)
    out: TextIO
    if output:
        try:
            out = open(output, "w", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write --output {output!r}: {exc.strerror}") from None
    else:
        out = sys.stdout
    try:
        for result in grade_batch(lines, jobs, assume=assume, budget=budget,
                                  progress=progress):
            out.write(json.dumps(result, sort_keys=True) + "\n")
            out.flush()
    finally:
        if out is not sys.stdout:
            out.close()
    return 0
