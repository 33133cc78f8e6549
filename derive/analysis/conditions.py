"""Valid input sizes: the smallest side with every output positive, the residues at which
every strided layer divides exactly, and branch merges whose shapes disagree.

Why a scan of one period decides: every side in floor form ``Q*floor((x + A)/M) + B``
(:mod:`derive.analysis.sizes`) satisfies ``f(x + M) = f(x) + Q``, so "stride ``s`` maps
``n`` to exactly ``n/s``" (``n(x) = s*out(x)``) and "two branches have the same side"
hold at ``x`` iff they hold at ``x + L`` for ``L`` the lcm of the ``M`` involved when the
slopes ``Q/M`` agree.  The smallest positive side is read off each form exactly.  When a
side is not in floor form the same scan is run, and the result says it was found by
scanning (not derived).

>>> from derive.symbols import sym
>>> from derive.analysis.sizes import FloorForm
>>> residues_text("H", {0}, 32)
'H ≡ 0 (mod 32)'
>>> minimal_modulus({1, 3, 5, 7}, 8)
({1}, 2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import sympy

from derive.analysis.sizes import FloorForm, evaluate, is_symbolic

__all__ = ["AxisConditions", "Conditions", "derive_conditions", "minimal_modulus",
           "residues_text"]

_SCAN_LIMIT = 4096


@dataclass
class AxisConditions:
    """Conditions on one input side ``symbol``."""

    symbol: str
    smallest_positive: int
    binding_layer: str
    exact_residues: list[int]
    exact_modulus: int
    exact_text: str
    derived: bool                    # floor forms only: the period argument applies

    def to_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "smallest_positive": self.smallest_positive,
                "binding_layer": self.binding_layer,
                "exact_division": {"residues": self.exact_residues,
                                   "modulus": self.exact_modulus, "text": self.exact_text},
                "how": "derived from the floor forms" if self.derived
                else "found by scanning one period"}


@dataclass
class Conditions:
    """All conditions; ``smallest_valid`` is for square inputs (every side the same)."""

    axes: list[AxisConditions] = field(default_factory=list)
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    constraints: list[dict[str, Any]] = field(default_factory=list)
    smallest_valid: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"axes": [a.to_dict() for a in self.axes], "mismatches": self.mismatches,
                "constraints": self.constraints, "smallest_valid": self.smallest_valid}


def minimal_modulus(residues: set[int], period: int) -> tuple[set[int], int]:
    """The smallest modulus ``m | period`` whose classes make up ``residues`` (mod period).

    >>> minimal_modulus({0, 16}, 32)
    ({0}, 16)
    """
    for m in sorted(d for d in range(1, period + 1) if period % d == 0):
        reduced = {r % m for r in residues}
        if {r for r in range(period) if r % m in reduced} == set(residues):
            return reduced, m
    return set(residues), period


def residues_text(symbol: str, residues: set[int] | list[int], modulus: int) -> str:
    """``H ≡ r (mod m)`` (or a list of residues, or "every H").

    >>> residues_text("W", [1, 3], 4), residues_text("H", [0], 1)
    ('W ≡ 1 or 3 (mod 4)', 'every H')
    """
    residues = sorted(residues)
    if modulus == 1:
        return f"every {symbol}" if residues else f"no {symbol}"
    if not residues:
        return f"no {symbol}"
    return f"{symbol} ≡ {' or '.join(map(str, residues))} (mod {modulus})"


def _vars(d: Any) -> set:
    if isinstance(d, FloorForm):
        return {d.var}
    if isinstance(d, sympy.Basic):
        return set(d.free_symbols)
    return set()


def _value(d: Any, x: int, var: Any) -> int | None:
    try:
        return evaluate(d, {var: x})
    except Exception:
        return None


def _axis(var: Any, ctx: Any) -> AxisConditions:
    forms = [(n, d) for n, d in ctx.positives if _vars(d) == {var}]
    derived = all(isinstance(d, FloorForm) for _, d in forms)
    best, binding = 1, ""
    for n, d in forms:
        if isinstance(d, FloorForm) and d.smallest_positive() > best:
            best, binding = d.smallest_positive(), n
    general = [(n, d) for n, d in forms if not isinstance(d, FloorForm)]
    if general:   # scan: sides grow with the input side
        for x in range(best, _SCAN_LIMIT):
            bad = [n for n, d in general if (_value(d, x, var) or 0) < 1]
            if not bad:
                break
            best, binding = x + 1, bad[0]
    period = 1
    for _, d in forms:
        if isinstance(d, FloorForm):
            period = math.lcm(period, d.M)
    period = min(period, _SCAN_LIMIT)
    strided = [(n, a, b, s) for n, a, b, s in ctx.strided if _vars(a) | _vars(b) == {var}]
    good = set()
    for x in range(best, best + period):
        if all(_value(a, x, var) == s * _value(b, x, var) for _, a, b, s in strided):
            good.add(x % period)
    residues, modulus = minimal_modulus(good, period)
    return AxisConditions(str(var), best, binding, sorted(residues), modulus,
                          residues_text(str(var), residues, modulus), derived)


def _square(ctx: Any, symbols: list, x: int) -> dict:
    return {v: x for v in symbols}


def derive_conditions(ctx: Any, symbols: list) -> Conditions:
    """Conditions on the symbolic input sides ``symbols`` from what the rules collected."""
    out = Conditions()
    for var in symbols:
        out.axes.append(_axis(var, ctx))
    start = max([a.smallest_positive for a in out.axes] or [1])
    period = 1
    for _, d in ctx.positives:
        if isinstance(d, FloorForm):
            period = math.lcm(period, d.M)
    stop = start + 2 * min(period, _SCAN_LIMIT) + 8
    for name, dim, dims in ctx.merges:
        bad, broadcast = [], []
        for x in (range(start, stop) if any(is_symbolic(d) for d in dims) else [None]):
            vals = {evaluate(d, _square(ctx, symbols, x)) for d in dims}
            if len(vals) > 1:
                if name in ctx.broadcasting and len(vals - {1}) == 1:
                    broadcast.append(x)      # PyTorch broadcasts a side of 1 silently
                else:
                    bad.append(x)
        if bad or broadcast:
            out.mismatches.append({
                "layer": name, "dim": dim,
                "sides": [d.text() if isinstance(d, FloorForm) else str(d) for d in dims],
                "counterexamples": bad[:6] if bad != [None] else ["the given size"],
                "broadcasts_at": broadcast[:6] if broadcast != [None] else ["the given size"],
                "fails_at_every_scanned_size": len(bad) == stop - start})
    # sides named by an assertion (ViT's "H == 224") are candidates beyond the scan
    named = sorted({v for _, _, _, v in ctx.constraints if v > stop})
    for name, text, d, value in ctx.constraints:
        sat = []
        if is_symbolic(d):
            for x in [*range(start, stop), *named]:
                v = evaluate(d, _square(ctx, symbols, x))
                if (value < 0 and v % -value == 0) or v == value:
                    sat.append(x)
        out.constraints.append({"layer": name, "condition": text,
                                "satisfied_at": sat[:6] if is_symbolic(d) else [],
                                "symbolic": is_symbolic(d)})
    for x in [*range(start, stop), *named] if symbols else ():
        point = _square(ctx, symbols, x)
        if any(len({evaluate(d, point) for d in dims}) > 1 for _, _, dims in ctx.merges):
            continue   # a failing or a silently broadcast merge is not a valid size
        ok = True
        for _, _, d, value in ctx.constraints:
            v = evaluate(d, point)
            if not ((value < 0 and v % -value == 0) or v == value):
                ok = False
        if ok:
            out.smallest_valid = x
            break
    return out
