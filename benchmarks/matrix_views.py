"""Symbolic matrix views: Toeplitz construction and its proof as the input grows.

For a 1D input of length 8, 16, 32 and 64 (kernel 3, padding 1): the time to build the
symbolic Toeplitz matrix from the model's index map, and the time to prove ``W @ x`` equal
to the model's expanded sums entry by entry with the checker (uncached).  Ratios are against
the size-8 figure.  The full run adds 2D (8x8 and 16x16 inputs, 3x3 kernel) and the
symbolic-size re-indexing proofs (Toeplitz and the input gradient).

    python -m benchmarks.matrix_views [--quick]
"""

from __future__ import annotations

import sys
from typing import Any

from benchmarks._timing import measure, print_table, row

SIZES = (8, 16, 32, 64)


def _build(n: int) -> Any:
    from derive.conv.toeplitz import conv_matrix, symbolic_kernel
    return conv_matrix(n, symbolic_kernel((3,)), padding=1)


def _prove(n: int) -> bool:
    from derive.check.claim import Claim
    from derive.check.engine import check_claim
    from derive.conv.toeplitz import proof_sides
    lhs, rhs = proof_sides(n, 3, padding=1)
    return check_claim(Claim.from_exprs(lhs, rhs)).proved


def _build_2d(n: int) -> Any:
    from derive.conv.toeplitz import conv_matrix_2d, symbolic_kernel
    return conv_matrix_2d((n, n), symbolic_kernel((3, 3)), padding=1)


def _prove_2d(n: int) -> bool:
    from derive.check.claim import Claim
    from derive.check.engine import check_claim
    from derive.conv.toeplitz import conv_matrix_2d, _model
    import itertools
    import sympy
    model = _model((n, n), (3, 3), 1, 1, 1, 1, 1, 1)
    w = [[model.w[0, 0, u, v] for v in range(3)] for u in range(3)]
    x = sympy.ImmutableMatrix([model.x[0, 0, i, j] for i, j in itertools.product(range(n),
                                                                                 range(n))])
    lhs = sympy.ImmutableMatrix(conv_matrix_2d((n, n), w, padding=1) * x)
    rhs = sympy.ImmutableMatrix([model.expand((0, 0, i, j)) for i, j in itertools.product(
        range(n), range(n))])
    return check_claim(Claim.from_exprs(lhs, rhs)).proved


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Rows: construction and proof time for each size, ratio against size 8."""
    reps = 1 if quick else 3
    _build(4)                       # imports and first-call costs out of the figures
    rows: list[dict[str, Any]] = []
    build = {n: measure(lambda n=n: _build(n), 3 if quick else 7) for n in SIZES}
    proofs: dict[int, list[float]] = {}
    for n in SIZES:
        ok = _prove(n)
        if not ok:  # pragma: no cover - a failed proof is a bug, not a timing
            raise RuntimeError(f"Toeplitz proof failed at n={n}")
        proofs[n] = measure(lambda n=n: _prove(n), 1 if (quick or n >= 32) else reps)
    for n in SIZES:
        base = None if n == SIZES[0] else build[SIZES[0]]
        rows.append(row(f"symbolic Toeplitz 1D build, n={n}, k=3, p=1", build[n],
                        None if base is None else f"n={SIZES[0]}", base))
    for n in SIZES:
        base = None if n == SIZES[0] else proofs[SIZES[0]]
        rows.append(row(f"Toeplitz proof W@x == model (checker), n={n}", proofs[n],
                        None if base is None else f"n={SIZES[0]}", base))
    if not quick:
        b8 = measure(lambda: _build_2d(8), reps)
        b16 = measure(lambda: _build_2d(16), 1)
        rows.append(row("symbolic Toeplitz 2D build, 8x8, 3x3, p=1", b8))
        rows.append(row("symbolic Toeplitz 2D build, 16x16, 3x3, p=1", b16, "8x8", b8))
        p8 = measure(lambda: _prove_2d(8), 1)
        p16 = measure(lambda: _prove_2d(16), 1)
        rows.append(row("Toeplitz 2D proof W@vec(x) == model, 8x8", p8))
        rows.append(row("Toeplitz 2D proof W@vec(x) == model, 16x16", p16, "8x8", p8))
        from derive.conv import backward, toeplitz
        rows.append(row("symbolic-size proof: Toeplitz = model (re-indexing rules)",
                        measure(toeplitz.toeplitz_proof_1d, 1)))
        backward.input_gradient.cache_clear()
        rows.append(row("symbolic-size derivation: dL/dx 1D (re-indexing rules)",
                        measure(lambda: (backward.input_gradient.cache_clear(),
                                         backward.input_gradient()), 1)))
    return rows


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv))
