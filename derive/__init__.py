"""derive: machine-checked mathematics for convolutional networks.

The public API is the sorted ``__all__`` below.  Names are resolved lazily so that
``import derive`` (and ``derive --help``) does not pay for importing SymPy.

>>> import derive
>>> derive.output_size(32, 3, padding=1)
32
>>> derive.verify("ceiling(a/b) == floor((a + b - 1)/b)").status.value
'proved'
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
    "Verdict": "derive.check.verdict",
    "check_derivation": "derive.check.derivation",
    "conv_matrix": "derive.conv.toeplitz",
    "conv_matrix_2d": "derive.conv.toeplitz",
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
