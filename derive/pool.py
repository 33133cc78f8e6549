"""Work spread over processes, delivered in the order it was asked for.

Design rule: the result of a parallel run is the result of the sequential one.  Each item is
handled by ``func`` in a pool of ``jobs`` processes (forked on Linux, so workers start at once
and share what the parent imported); results come back to ``done`` in the items' order
whatever the finishing order; the first failing item (in that order) raises, as a sequential
run would have stopped there.  One job runs in this process, with no pool at all.

>>> run_ordered(abs, [-2, 3, -5], jobs=1)
[2, 3, 5]
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any, Callable, Sequence, TypeVar

from derive.errors import InputError

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["check_jobs", "default_jobs", "run_ordered"]


def default_jobs() -> int:
    """How many jobs run at once by default: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def check_jobs(jobs: int | None) -> int:
    """``jobs``, or the default for None; anything but a positive whole number is an error.

    >>> check_jobs(0)
    Traceback (most recent call last):
    ...
    derive.errors.InputError: jobs must be a whole number of at least 1, not 0
    """
    if jobs is None:
        return default_jobs()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"jobs must be a whole number of at least 1, not {jobs!r}")
    return jobs


def run_ordered(func: Callable[[T], R], items: Sequence[T], jobs: int,
                done: Callable[[R], None] | None = None) -> list[R]:
    """``[func(x) for x in items]``, computed by ``jobs`` processes; ``done`` sees each result
    in the items' order as soon as it and all before it are ready.  ``func`` and the items
    must be picklable where workers are not forked."""
    workers = min(check_jobs(jobs), len(items))
    if workers <= 1:
        out = []
        for item in items:
            out.append(func(item))
            if done is not None:
                done(out[-1])
        return out
    results: dict[int, R] = {}
    errors: dict[int, BaseException] = {}
    pool = ProcessPoolExecutor(workers, mp_context=_process_context(),
                               initializer=_worker_started)
    try:
        futures: dict[Future[R], int] = {pool.submit(func, item): i
                                         for i, item in enumerate(items)}
        waiting = 0
        for future in as_completed(futures):
            i = futures[future]
            if future.cancelled():
                continue
            exc = future.exception()
            if exc is not None:
                errors[i] = exc
                for other, j in futures.items():  # later items are not needed any more
                    if j > i:
                        other.cancel()
                continue
            results[i] = future.result()
            while waiting in results:
                if done is not None:
                    done(results[waiting])
                waiting += 1
    except BaseException:
        _stop_workers(pool)  # interrupted: end the workers, whatever they are doing
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if errors:
        raise errors[min(errors)]  # the item a sequential run would have stopped at
    return [results[i] for i in range(len(items))]


def _process_context() -> Any:
    """Forked workers on Linux: they start at once and see the caller's configuration; a
    fresh interpreter elsewhere (fork is unsafe on macOS, absent on Windows)."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _worker_started() -> None:
    # Ctrl-C reaches the whole process group: the parent reports it and ends the workers,
    # which would otherwise each print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            proc.kill()
        except (OSError, ValueError):  # pragma: no cover - it ended meanwhile
            pass
