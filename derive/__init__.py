r"""derive: machine-checked mathematics for convolutional networks.

The public API is the sorted ``__all__`` below.  Names are resolved lazily so that
``import derive`` (and ``derive --help``) does not pay for importing SymPy.

>>> import derive
>>> derive.output_size(32, 3, padding=1)
32
>>> derive.verify("ceiling(a/b) == floor((a + b - 1)/b)").status.value
'proved'

A hand derivation, in LaTeX or plain text, is checked step by step by ``grade_text`` (or
``grade_file``); the report prints as the command line's text, and Jupyter displays it with
every step typeset and marked:

>>> report = derive.grade_text(r"\frac{d}{dx} x^2 = x")
>>> report.verdict.value, report.first_wrong.line, report.first_wrong.column
('refuted', 1, 20)
>>> print(report)
<text>: REFUTED; the first wrong step is line 1, column 20
  line   1           \frac{d}{dx} x^2
  line   1  REFUTED  x   (...)
             read as: x
...
  The two sides differ when x=1:
    left side: \frac{d}{dx} x^2 = 2
    right side: x = 1
...
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "Claim": "derive.check.claim",
    "DeriveError": "derive.errors",
    "Layer": "derive.conv.layers",
    "Merge": "derive.conv.layers",
    "Status": "derive.check.verdict",
    "analyze": "derive.analysis",
    "Verdict": "derive.check.verdict",
    "check_derivation": "derive.check.derivation",
    "conv_matrix": "derive.conv.toeplitz",
    "conv_matrix_2d": "derive.conv.toeplitz",
    "grade_file": "derive.grade.report",
    "grade_text": "derive.grade.report",
    "im2col": "derive.conv.im2col",
    "output_size": "derive.conv.shapes",
    "pool_output_size": "derive.conv.shapes",
    "receptive_field": "derive.conv.receptive",
    "transposed_output_size": "derive.conv.shapes",
    "verify": "derive.check.engine",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name == "numeric":
        return importlib.import_module("derive.numeric")
    raise AttributeError(f"module 'derive' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
