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
import os
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence, TextIO

from derive.errors import DeriveError, InputError

DEFAULT_JOBS = 2
MAX_BATCH_BYTES = 64 * 1024 * 1024   # a submissions file larger than this is refused
MAX_ITEM_CHARS = 200_000             # one JSON line
ITEM_HARD_LIMIT = 300.0              # seconds; a worker silent this long is replaced


# ---------------------------------------------------------------------------------------
# One item (runs in a worker process)


def grade_item(line: str, number: int = 1, assume: Sequence[str] = (),
               budget: float | None = None) -> dict[str, Any]:
    """Grade one JSON line; never raises (problems become an ``error`` result).

    >>> grade_item('{"id": "x", "text": "floor(a/b) + floor(c/b) == floor((a + c)/b)"}')["verdict"]
    'refuted'
    >>> grade_item('{"id": "y"}')["error"]
    'line 1: give the answer in exactly one of the keys "text", "claim", "derivation"'
    """
    from derive.grade.grading import grade_submission
    from derive.grade.submission import validate

    ident: Any = None
    kind = "unknown"
    student = None
    try:
        item = _load(line, number)
        if isinstance(item.get("id"), (str, int)) and not isinstance(item.get("id"), bool):
            ident = item["id"]
        if isinstance(item.get("student"), str):
            student = item["student"]
        sub = validate(item, number)
        kind = sub.kind
        result = grade_submission(sub, assume, budget)
    except DeriveError as exc:
        message = str(exc)
        result = _error(message if message.startswith("line ") else
                        f"line {number}: {message}")
    except RecursionError:
        result = _error(f"line {number}: input nested too deeply")
    except Exception as exc:  # one broken submission must not stop the batch
        result = _error(f"line {number}: internal error while grading "
                        f"({type(exc).__name__}: {str(exc)[:200]})")
    result = {"id": ident, "line": number, "kind": kind, "student": student, **result}
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


def _error(message: str) -> dict[str, Any]:
    return {"verdict": "error", "status": "error", "error": message, "feedback": message,
            "score": 0.0, "first_wrong_line": None}


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
#
# The pool: ``jobs`` worker processes, started once per batch and warmed up (imports, the
# parsers) before they get work; each has a pipe of its own.  An idle worker is sent a chunk
# of lines and answers line by line, so the parent always knows which line a worker is on.
# A worker silent for ``hard_limit`` seconds is stopped and only the line it was on becomes
# an error; a worker that dies costs only its line (after one more try in a fresh worker,
# in case something else killed it).  The rest of its chunk goes back to the queue, and
# the other workers go on meanwhile.  Results wait in a bounded buffer until every earlier
# line has its result.  A line with the same answer as an earlier one (say, two students
# who wrote the same derivation) goes to the worker that has the earlier one, whose cache
# of verdicts then answers most of it.

CHUNK_LINES = 16          # most lines sent to a worker at once
CHUNK_SECONDS = 0.25      # ... and about this much work (a slow line goes alone)
REORDER_LIMIT = 1024      # lines read ahead of the earliest line still without a result
STARTUP_LIMIT = 120.0     # seconds for a new worker to start and warm up
STARTS_BEFORE_GIVING_UP = 3   # workers in a row that die before taking any work
_WARM_UP = (              # graded by each new process before its first line
    '{"id": "warm-up", "claim": "a*(b + 1) == a*b + a"}',
    '{"id": "warm-up", "claim": "\\\\frac{a}{b} = a b^{-1}", "format": "latex"}',
    '{"id": "warm-up", "derivation": "2*(x + 1)\\n2*x + 2"}',
)
_PARENT_ENDS: list[Any] = []   # the parent's end of each worker's pipe
_WARM = False                   # this process has graded the warm-up lines


def _context() -> Any:
    """'fork' where it is safe and available (fast start), else 'spawn'."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1 and sys.platform != "darwin":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _warm_up() -> None:
    """Import what grading needs and build its parsers, once per process (a forked worker
    inherits this from the parent)."""
    global _WARM
    if not _WARM:
        for line in _WARM_UP:
            grade_item(line)
        _WARM = True


def _serve(conn: Any, assume: tuple[str, ...], budget: float | None) -> None:
    """A worker process: grade the chunks of ``(number, line)`` that arrive on ``conn`` and
    send back ``(number, result, seconds)`` for each line as soon as it is graded; ``None``
    ends."""
    import signal

    for end in _PARENT_ENDS:    # forked: the parent's ends of the pipes are not ours
        end.close()
    _PARENT_ENDS.clear()
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is for the parent to handle
    parent = os.getppid()
    _warm_up()
    try:
        conn.send(("ready", os.getpid(), 0.0))
        while True:
            while not conn.poll(1.0):
                if os.getppid() != parent:   # the parent is gone
                    return
            chunk = conn.recv()
            if chunk is None:
                return
            for number, line in chunk:
                start = time.perf_counter()
                try:
                    result = _grade_numbered(number, line, assume, budget)
                except Exception as exc:   # grade_item never raises; a last resort
                    result = _crash(number, line, f"internal error while grading "
                                                  f"({type(exc).__name__}: {str(exc)[:200]})")
                conn.send((number, result, time.perf_counter() - start))
    except (EOFError, OSError):   # the parent is gone
        return


def _answer_key(line: str) -> int:
    """Equal for two lines that differ only in ``id`` (or ``student``)."""
    if len(line) <= MAX_ITEM_CHARS:
        try:
            item = json.loads(line)
            if isinstance(item, dict):
                item.pop("id", None)
                item.pop("student", None)
                return hash(json.dumps(item, sort_keys=True))
        except (ValueError, TypeError, RecursionError):
            pass
    return hash(line)


class _Queue:
    """Lines read but not yet sent to a worker, as ``(number, line, tries, key)``.

    A line goes to the shared queue unless its answer (:func:`_answer_key`) was read before:
    then it follows that line to its worker's own queue (``slot`` is a worker's place in the
    pool; a replacement takes the place of the worker it replaces).  A worker takes lines
    from its own queue and the shared one in input order, and from another's when both are
    empty, so none idles while there is work.
    """

    def __init__(self, slots: int) -> None:
        self.shared: deque[tuple[int, str, int, int]] = deque()
        self.own: list[deque[tuple[int, str, int, int]]] = [deque() for _ in range(slots)]
        self.home: dict[int, int] = {}        # answer -> the slot that graded it
        self.followers: dict[int, list] = {}  # answer -> its repeats, until it is sent
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, number: int, line: str) -> None:
        key = _answer_key(line)
        entry = (number, line, 0, key)
        if key in self.home:
            self.own[self.home[key]].append(entry)
        elif key in self.followers:
            self.followers[key].append(entry)
        else:
            self.followers[key] = []
            self.shared.append(entry)
        self.size += 1

    def put_back(self, entries: Iterable[tuple[int, str, int, int]]) -> None:
        """Lines sent to a worker that stopped: first in the queue again."""
        entries = list(entries)
        self.shared.extendleft(reversed(entries))
        self.size += len(entries)

    def take(self, slot: int, count: int) -> list[tuple[int, str, int, int]]:
        own, shared, out = self.own[slot], self.shared, []
        while len(out) < count:
            if own and (not shared or own[0][0] < shared[0][0]):
                entry = own.popleft()
            elif shared:
                entry = shared.popleft()
                repeats = self.followers.pop(entry[3], None)
                if repeats is not None:
                    if len(self.home) >= 100_000:   # a hint only: bounded memory
                        self.home.clear()
                    self.home[entry[3]] = slot
                    own.extend(repeats)
            else:
                other = max(self.own, key=len)
                if not other:
                    break
                entry = other.popleft()
            out.append(entry)
        self.size -= len(out)
        return out


class _Worker:
    """One worker process, its pipe, and the lines sent to it that have no result yet."""

    def __init__(self, process: Any, conn: Any, slot: int, deadline: float) -> None:
        self.process = process
        self.conn = conn
        self.slot = slot
        self.deadline: float | None = deadline   # when silence means it hangs
        self.ready = False
        self.chunk: deque[tuple[int, str, int, int]] = deque()


class _Workers:
    """The worker processes of one batch; one that crashes or hangs is replaced alone.

    Lines the parent has read but not sent wait in ``queue``; results, whatever order they
    come in, go to ``done`` (line number -> result).
    """

    def __init__(self, jobs: int, context: Any, assume: tuple[str, ...],
                 budget: float | None, hard_limit: float) -> None:
        self.jobs = jobs
        self.context = context
        self.assume = assume
        self.budget = budget
        self.hard_limit = hard_limit
        self.live: list[_Worker] = []
        self.failed_starts = 0
        self.queue = _Queue(jobs)
        self.done: dict[int, dict[str, Any]] = {}
        self.line_seconds = 0.05   # running estimate of one line's grading time

    def start(self) -> None:
        """Start workers until there are ``jobs`` of them (forked workers start warm)."""
        free = sorted(set(range(self.jobs)) - {w.slot for w in self.live})
        if free and self.context.get_start_method() == "fork":
            _warm_up()
        for slot in free:
            if self.failed_starts >= STARTS_BEFORE_GIVING_UP:
                raise DeriveError(f"{self.failed_starts} worker processes in a row stopped "
                                  f"before grading anything; grade with --jobs 1 instead")
            ours, theirs = self.context.Pipe()
            _PARENT_ENDS.append(ours)
            process = self.context.Process(target=_serve, daemon=True,
                                           name=f"derive-batch-worker-{slot + 1}",
                                           args=(theirs, self.assume, self.budget))
            try:
                process.start()
            except BaseException:
                _PARENT_ENDS.remove(ours)
                ours.close()
                raise
            finally:
                theirs.close()
            self.live.append(_Worker(process, ours, slot, time.monotonic() +
                                     max(self.hard_limit, STARTUP_LIMIT)))

    def dispatch(self) -> None:
        """Send a chunk of the queued lines to every idle worker: up to ``CHUNK_LINES``
        lines or ``CHUNK_SECONDS`` of work, smaller as the queue empties so that the
        workers finish together."""
        for worker in self.live:
            if not self.queue:
                return
            if not worker.ready or worker.chunk:
                continue
            size = max(1, min(CHUNK_LINES, len(self.queue) // (2 * self.jobs),
                              int(CHUNK_SECONDS / self.line_seconds)))
            worker.chunk.extend(self.queue.take(worker.slot, size))
            worker.deadline = time.monotonic() + self.hard_limit
            try:
                worker.conn.send([(entry[0], entry[1]) for entry in worker.chunk])
            except OSError:
                pass   # it died; collect() sees that and re-queues the chunk

    def collect(self) -> None:
        """Wait for results, a worker's death or a worker's deadline, and deal with them."""
        from multiprocessing.connection import wait

        deadlines = [w.deadline for w in self.live if w.deadline is not None]
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        wait([w.conn for w in self.live] + [w.process.sentinel for w in self.live], timeout)
        for worker in list(self.live):
            alive = worker.process.is_alive()
            try:
                while worker.conn.poll():
                    self._receive(worker, worker.conn.recv())
            except (EOFError, OSError):
                alive = False
            if not alive:
                self._died(worker)
            elif worker.deadline is not None and time.monotonic() >= worker.deadline:
                self._hung(worker)
        self.start()

    def _receive(self, worker: _Worker, message: Any) -> None:
        number, result, seconds = message
        if number == "ready":
            worker.ready = True
            self.failed_starts = 0
        else:
            expected = worker.chunk.popleft()[0]
            assert number == expected, (number, expected)
            self.done[number] = result
            self.line_seconds = 0.8 * self.line_seconds + 0.2 * max(seconds, 1e-4)
        worker.deadline = time.monotonic() + self.hard_limit if worker.chunk else None

    def _died(self, worker: _Worker) -> None:
        code = worker.process.exitcode
        self._stop(worker)
        if not worker.ready:
            self.failed_starts += 1
        if not worker.chunk:
            return
        number, line, tries, key = worker.chunk.popleft()
        if tries == 0:   # once more, in a fresh worker
            self.queue.put_back([(number, line, 1, key), *worker.chunk])
            return
        self.queue.put_back(worker.chunk)
        how = ""
        if code is not None and code < 0:
            try:
                how = f"killed by {_signal_name(-code)}; "
            except ValueError:
                how = f"killed by signal {-code}; "
        self.done[number] = _crash(number, line, f"the worker process grading this item "
                                                 f"stopped unexpectedly ({how}out of memory?)")

    def _hung(self, worker: _Worker) -> None:
        self._stop(worker)
        if not worker.ready:
            self.failed_starts += 1
            return
        number, line, _, _ = worker.chunk.popleft()
        self.queue.put_back(worker.chunk)
        self.done[number] = _crash(number, line, f"no result after {self.hard_limit:g} s; "
                                                 f"the worker was stopped")

    def _stop(self, worker: _Worker) -> None:
        """End one worker now (it is ours: terminate, then kill)."""
        self.live.remove(worker)
        if worker.conn in _PARENT_ENDS:
            _PARENT_ENDS.remove(worker.conn)
        worker.conn.close()
        process = worker.process
        if process.is_alive():
            process.terminate()
            process.join(5)
        if process.is_alive():
            process.kill()
        process.join(5)

    def close(self) -> None:
        """Stop every worker: idle ones are asked to, busy ones are stopped."""
        idle = [w for w in self.live if w.ready and not w.chunk]
        for worker in idle:
            try:
                worker.conn.send(None)
            except OSError:
                pass
        end = time.monotonic() + 2.0
        for worker in idle:
            worker.process.join(max(0.0, end - time.monotonic()))
        for worker in list(self.live):
            self._stop(worker)


def _signal_name(number: int) -> str:
    import signal

    return signal.Signals(number).name


def grade_batch(lines: Iterable[str], jobs: int = DEFAULT_JOBS, *,
                assume: Sequence[str] = (), budget: float | None = None,
                progress: bool | None = None, context: Any = None,
                hard_limit: float = ITEM_HARD_LIMIT) -> Iterator[dict[str, Any]]:
    """Grade JSON lines with ``jobs`` worker processes; yield results in input order.

    ``jobs=1`` grades in this process.  ``progress`` (default: when stderr is a terminal)
    draws a progress bar on stderr.  ``hard_limit`` bounds how long one item may keep a
    worker busy beyond the checker's own budget; that worker is then replaced and the item
    becomes an error, while the other workers go on.

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
    workers = _Workers(jobs, context, assume, budget, hard_limit)
    waiting: deque[int] = deque()   # line numbers read and not yet yielded, in order
    more = True
    try:
        workers.start()
        while True:
            while more and len(waiting) < REORDER_LIMIT:
                try:
                    number, line = next(numbered)
                except StopIteration:
                    more = False
                    break
                workers.queue.add(number, line)
                waiting.append(number)
            workers.dispatch()     # before yielding: the workers go on while the caller works
            while waiting and waiting[0] in workers.done:
                result = workers.done.pop(waiting.popleft())
                if bar:
                    bar.step(result.get("verdict"))
                yield result
            if not waiting:
                if not more:
                    return
                continue
            workers.collect()
    finally:
        workers.close()


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
    """The lines of a submissions file, or of standard input for ``-`` (bounded in size;
    UTF-8)."""
    if str(path) == "-":
        data = sys.stdin.buffer.read(MAX_BATCH_BYTES + 1)
        if len(data) > MAX_BATCH_BYTES:
            raise InputError(f"standard input is longer than {MAX_BATCH_BYTES:,} bytes; the "
                             f"limit is {MAX_BATCH_BYTES:,}")
        return _decoded(data, "standard input")
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
    return _decoded(data, f"batch file {str(path)!r}")


def _decoded(data: bytes, what: str) -> list[str]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} is not UTF-8 text (byte {exc.start + 1})") from None
    return text.splitlines()


def run_batch_command(path: str | Path, jobs: int = DEFAULT_JOBS, output: str | None = None,
                      assume: Sequence[str] = (), budget: float | None = None,
                      progress: bool | None = None, *, summary: bool = False,
                      csv_path: str | None = None, gradescope_path: str | None = None,
                      partial: str = "steps") -> int:
    """``derive verify --batch``: one JSON result per line (in input order), then the grade
    files asked for.  Exit 0 when every line was graded, 2 when some line was bad input
    (after every result is written) or the batch file itself cannot be read."""
    from derive.grade import gradebook
    from derive.grade.grading import rescore
    from derive.grade.submission import duplicate_ids

    lines = read_batch(path)
    for target, what in ((csv_path, "--csv"), (gradescope_path, "--gradescope")):
        if target and not Path(target).parent.is_dir() and str(Path(target).parent):
            raise InputError(f"cannot write {what} {target!r}: the folder "
                             f"{str(Path(target).parent)!r} does not exist")
    duplicates = duplicate_ids(lines)
    out: TextIO
    if output:
        try:
            out = open(output, "w", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write --output {output!r}: {exc.strerror}") from None
    else:
        out = sys.stdout
    rows: list[dict[str, Any]] = []
    try:
        for result in grade_batch(lines, jobs, assume=assume, budget=budget,
                                  progress=progress):
            if result.get("line") in duplicates:
                first = duplicates[result["line"]]
                message = (f"line {result['line']}: the id {json.dumps(result.get('id'))} "
                           f"is used before, on line {first}; ids must be unique")
                result = {**{k: result.get(k) for k in ("id", "line", "kind", "student")},
                          **_error(message)}
            result = rescore(result, partial)
            rows.append(result)
            out.write(json.dumps(result, sort_keys=True) + "\n")
            out.flush()
    finally:
        if out is not sys.stdout:
            out.close()
    if csv_path:
        gradebook.write_file(csv_path, gradebook.csv_text(rows), "--csv")
    if gradescope_path:
        gradebook.write_file(gradescope_path, gradebook.gradescope_text(rows), "--gradescope")
    if summary:
        stream = sys.stderr if out is sys.stdout else sys.stdout
        print(gradebook.summary(rows), file=stream)
    return 2 if any(r.get("verdict") == "error" for r in rows) else 0
