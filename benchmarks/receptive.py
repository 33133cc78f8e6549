"""Receptive fields: a 1,000-layer network numerically, and the closed form for symbolic
depth L derived and proved.

Figures (each timed over several runs):
- the recurrence over a 1,000-layer chain (3x3 convolutions, every tenth one with stride
  2, so the jump reaches 2**100), against Araujo et al.'s closed forms evaluated directly
  (sums of products, quadratic in the depth) as the baseline;
- the per-layer table of the same network;
- the closed form for L identical layers with symbolic L, k, s, p (SymPy summation);
- its proof: induction over L for the general closed forms, and the geometric/linear forms
  against the recurrence step, all through the checker (cache cleared before each run).

    python -m benchmarks.receptive [--quick]
"""

from __future__ import annotations

import sys
from typing import Any

from benchmarks._timing import measure, print_table, row


def _network(depth: int) -> list[Any]:
    from derive.conv.layers import Layer

    return [Layer("conv", kernel=3, stride=2 if (i + 1) % 10 == 0 else 1, padding=1,
                  name=f"conv{i + 1}") for i in range(depth)]


def _clear_checker_cache() -> None:
    from derive.check import engine

    cache = getattr(engine, "_CACHE", None)
    if isinstance(cache, dict):
        cache.clear()


def _prove_symbolic_depth() -> list[Any]:
    from derive.conv.theorems import closed_form_induction, repeated_layer_theorems

    _clear_checker_cache()
    verdicts = [s.verdict for s in closed_form_induction() if s.verdict is not None]
    verdicts += [t.check() for t in repeated_layer_theorems()]
    return verdicts


def run(quick: bool) -> list[dict[str, Any]]:
    """Timed figures as rows (figure, median_s, min_s, max_s, baseline, ratio)."""
    from derive.conv.receptive import (
        closed_form_field, receptive_field, receptive_field_table, repeated_receptive_field,
    )
    from derive.symbols import sym

    repeats = 3 if quick else 7
    net = _network(1000)
    rows = []
    recurrence = measure(lambda: receptive_field(net), repeats)
    closed = measure(lambda: closed_form_field(net), max(1, repeats // 2))
    rows.append(row("1,000-layer net: closed forms, direct sums (baseline)", closed))
    rows.append(row("1,000-layer net: receptive_field (recurrence)", recurrence,
                    "closed forms, direct sums", closed))
    rows.append(row("1,000-layer net: receptive_field_table (per layer)",
                    measure(lambda: receptive_field_table(net), repeats)))
    L = sym("L", nonnegative=True)
    k, s, p = sym("k"), sym("s"), sym("p", nonnegative=True)
    rows.append(row("symbolic depth L: closed form by SymPy summation",
                    measure(lambda: repeated_receptive_field(L, k, s, p), repeats)))
    rows.append(row("symbolic depth L: proofs (induction + geometric/linear)",
                    measure(_prove_symbolic_depth, 1 if quick else 3)))
    return rows


def _report() -> None:
    from derive.conv.receptive import receptive_field, repeated_receptive_field
    from derive.symbols import sym

    rf = receptive_field(_network(1000))
    out = sys.stderr
    print("1,000 layers of 3x3 convolutions (padding 1), every tenth with stride 2:", file=out)
    print(f"  size  = {rf.size} ({len(str(rf.size))} digits)", file=out)
    print(f"  jump  = 2**{rf.jump.bit_length() - 1}", file=out)
    print(f"  start = {rf.start} ({len(str(rf.start))} digits)", file=out)
    L = sym("L", nonnegative=True)
    k, s, p = sym("k"), sym("s"), sym("p", nonnegative=True)
    sym_rf = repeated_receptive_field(L, k, s, p)
    print("L identical layers (kernel k, stride s, padding p):", file=out)
    for name in ("size", "jump", "start"):
        print(f"  {name:5} = {getattr(sym_rf, name)}", file=out)
    verdicts = _prove_symbolic_depth()
    proved = sum(v.proved for v in verdicts)
    print(f"  proofs: {proved}/{len(verdicts)} checks proved", file=out)
    print(file=out)


if __name__ == "__main__":
    _report()
    print_table(run("--quick" in sys.argv[1:]))
