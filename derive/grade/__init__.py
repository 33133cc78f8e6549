"""Grading hand derivations: files and texts, LaTeX, batches, notebooks.

``grade_file`` / ``grade_text`` check a derivation step by step and return a
:class:`~derive.grade.report.DerivationReport`; ``grade_batch`` grades many submissions in
worker processes.  Names resolve lazily, so importing this package does not import SymPy.

>>> from derive.grade import grade_text
>>> grade_text("2*(x + 1)\\n2*x + 2").verdict.value
'proved'
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DerivationReport": "derive.grade.report",
    "StepResult": "derive.grade.report",
    "grade": "derive.grade.report",
    "grade_batch": "derive.grade.batch",
    "grade_file": "derive.grade.report",
    "grade_text": "derive.grade.report",
    "read_file": "derive.grade.reader",
    "read_text": "derive.grade.reader",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'derive.grade' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
