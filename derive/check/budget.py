"""Time budgets, so that no SymPy call can hang the engine.

In the main thread a real-time interval timer raises :class:`BudgetExceeded` inside
whatever is running (SymPy is pure Python, so the signal is delivered between bytecodes).
Elsewhere (worker threads) the budget is cooperative: long loops call
:meth:`Deadline.check`.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from types import FrameType
from typing import Iterator

from derive.errors import BudgetExceeded

DEFAULT_BUDGET = 4.0   # seconds per claim


class Deadline:
    """A point in time after which work should stop."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.perf_counter() + seconds

    def remaining(self) -> float:
        return self.end - time.perf_counter()

    def check(self) -> None:
        if time.perf_counter() > self.end:
            raise BudgetExceeded(f"time budget of {self.seconds:g} s spent")


def _inside_unraisable_hook(frame: FrameType | None) -> bool:
    """Is ``frame`` running inside ``sys.unraisablehook``?  Python calls the hook with an
    exception that a ``__del__`` swallowed (possibly our own alarm); an exception raised in
    the hook is lost too, and test tools that install a hook report it as their own error."""
    hook = sys.unraisablehook
    code = getattr(getattr(hook, "func", hook), "__code__", None)   # a partial, or a function
    if code is None:
        return False                 # CPython's default hook is written in C
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[Deadline]:
    """Run the body with a hard limit where possible (main thread), cooperative otherwise.

    >>> with time_limit(1.0) as d:
    ...     d.remaining() > 0
    True
    """
    deadline = Deadline(seconds)
    use_signal = (threading.current_thread() is threading.main_thread()
                  and hasattr(signal, "setitimer")
                  and signal.getitimer(signal.ITIMER_REAL)[0] == 0)
    if not use_signal:
        yield deadline
        return

    def _expired(signum, frame):  # noqa: ARG001
        if _inside_unraisable_hook(frame):
            return     # raising here breaks the hook itself; the next alarm comes in 50 ms
        raise BudgetExceeded(f"time budget of {seconds:g} s spent")

    previous = signal.signal(signal.SIGALRM, _expired)
    # Re-armed every 50 ms after the first expiry: an alarm that fires inside a __del__ or
    # a gc callback is swallowed by Python ("Exception ignored"), and must come again.
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001), 0.05)
    try:
        yield deadline
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
