"""Views of an :class:`~derive.analysis.Analysis`: terminal table, JSON dict, Markdown, LaTeX.

Every view states the FLOP convention.  Sizes print as derived (``floor((H + 3)/4)``);
nothing depends on the machine or on timing.

>>> size_text(7), field_text("global")
('7', 'global')
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import sympy

from derive.analysis.sizes import FloorForm, as_expr

__all__ = ["expr_text", "field_text", "latex", "markdown", "size_text", "table", "to_dict"]

_UNITS = {"mac": "multiply-adds", "flop2": "FLOPs (1 multiply-add = 2 FLOPs)"}


def size_text(d: Any) -> str:
    """A size as text."""
    if d is None:
        return "?"
    if isinstance(d, FloorForm):
        return d.text()
    return str(as_expr(d))


def field_text(f: Any) -> str:
    """``size/jump/start``, ``global``, ``irregular`` or ``?``."""
    if f is None:
        return "?"
    if isinstance(f, str):
        return f
    return f"{f.size}/{f.jump}/{f.start}"


def expr_text(expr: Any) -> str:
    """A closed form with each ``floor((x + A)/M)`` written as derived (SymPy would print
    ``floor(x/M + A/M)``).

    >>> from derive.symbols import sym
    >>> H = sym("H")
    >>> expr_text(64 * sympy.floor((H + 3) / 4) ** 2 + 5)
    '64*floor((H + 3)/4)**2 + 5'
    """
    expr = sympy.sympify(expr)
    names: dict = {}
    for f in expr.atoms(sympy.floor):
        arg = f.args[0]
        free = list(arg.free_symbols)
        if len(free) != 1:
            continue
        x = free[0]
        poly = sympy.Poly(arg, x) if arg.is_polynomial(x) else None
        if poly is None or poly.degree() != 1:
            continue
        a, b = poly.all_coeffs()
        if a.p != 1 or not (b * a.q).is_Integer:
            continue
        form = FloorForm(x, 1, int(b * a.q), int(a.q), 0)
        names[f] = sympy.Symbol(form.text())
    return sympy.sstr(expr.xreplace(names)) if names else sympy.sstr(expr)


def _count_text(v: Any, factor: int = 1) -> str:
    if v is None:
        return "not modelled"
    v = sympy.sympify(v) * factor
    return f"{int(v):,}" if v.is_Integer else expr_text(v)


def _shape(analysis: Any, shape: Any) -> str:
    if shape is None:
        return "?"
    shown = shape if len(analysis.input_shape) == len(shape) else shape[1:]
    return "(" + ", ".join(size_text(d) for d in shown) + ")"


def _factor(analysis: Any) -> int:
    return 2 if analysis.convention == "flop2" else 1


def _field_dict(f: Any) -> Any:
    if f is None or isinstance(f, str):
        return f
    return {"size": int(f.size), "jump": int(f.jump), "start": int(f.start)}


def to_dict(analysis: Any) -> dict[str, Any]:
    """Everything as JSON-ready values (closed forms as strings)."""
    k = _factor(analysis)
    rows = []
    for r in analysis.rows:
        rows.append({
            "name": r.name, "op": r.op, "status": r.status,
            "shape": None if r.shape is None else [size_text(d) for d in r.shape],
            "receptive_field": [_field_dict(f) for f in r.fields],
            "params": r.params,
            "flops": None if r.macs is None else _count_text(r.macs, k),
            "note": r.note})
    return {
        "name": analysis.name,
        "input": [size_text(d) for d in analysis.input_shape],
        "bindings": analysis.bindings,
        "trace": {"method": analysis.method, "note": analysis.note},
        "convention": {"name": analysis.convention, "unit": _UNITS[analysis.convention]},
        "params": analysis.params,
        "params_module": analysis.params_module,
        "params_unused": analysis.unused_params,
        "flops": {"value": _count_text(analysis.flops, 1) if analysis.flops is not None
                  else None, "what": "convolutions and dense layers",
                  "convention": analysis.convention},
        "flops_all": {"value": _count_text(analysis.flops_all, 1)
                      if analysis.flops_all is not None else None,
                      "what": "every modelled layer", "convention": analysis.convention},
        "receptive_field": [_field_dict(f) for f in analysis.receptive_field],
        "conditions": analysis.conditions.to_dict(),
        "not_modelled": [r.name for r in analysis.not_modelled],
        "checks": None if analysis.checks is None else analysis.checks.to_dict(),
        "rows": rows,
    }


def _lines(analysis: Any) -> list[str]:
    out = []
    for a in analysis.conditions.axes:
        how = "" if a.derived else " (found by scanning)"
        out.append(f"every layer has a positive output iff {a.symbol} >= "
                   f"{a.smallest_positive}{how}" + (f" (bound set by {a.binding_layer})"
                                                    if a.binding_layer else ""))
        out.append(f"every strided layer maps n to exactly n/stride iff {a.exact_text}")
    for m in analysis.conditions.mismatches:
        out.append(f"shapes disagree at {m['layer']} (dim {m['dim']}: "
                   f"{' vs '.join(m['sides'])}), e.g. at side(s) {m['counterexamples']}")
    for c in analysis.conditions.constraints:
        out.append(f"{c['layer']} needs {c['condition']}"
                   + (f"; holds at sides {c['satisfied_at']}" if c["symbolic"] else ""))
    if analysis.symbols:
        sv = analysis.conditions.smallest_valid
        out.append(f"smallest valid square input side: {sv if sv is not None else 'none found'}")
    return out


def table(analysis: Any) -> str:
    """A terminal table with a total line, the conditions and the checks."""
    k = _factor(analysis)
    head = ["layer", "op", "output shape", "RF (size/jump/start)", "params",
            f"{analysis.convention}"]
    body = []
    for r in analysis.rows:
        rf = " ".join(field_text(f) for f in r.fields) if r.shape is not None else "?"
        body.append([r.name, r.op if r.status == "modelled" else f"{r.op} (not modelled)",
                     _shape(analysis, r.shape), rf, f"{r.params:,}",
                     _count_text(r.macs, k) if r.macs != 0 else "0"])
    total = ["total (all layers)", "", "", " ".join(field_text(f) for f in analysis.receptive_field),
             f"{analysis.params:,}", _count_text(analysis.flops_all, 1)]
    widths = [max(len(row[i]) for row in [head, total] + body) for i in range(len(head))]
    widths = [min(w, 60) for w in widths]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 4 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths)))

    lines = [f"{analysis.name}: input {_shape(analysis, analysis.input_shape)}; "
             f"FLOPs in {analysis.convention} ({_UNITS[analysis.convention]})"]
    if analysis.bindings:
        lines.append("bound: " + ", ".join(f"{k_} = {v}" for k_, v in analysis.bindings.items()))
    if analysis.note:
        lines.append(analysis.note)
    lines += [fmt(head), fmt(["-" * w for w in widths])] + [fmt(b) for b in body]
    lines += [fmt(["-" * w for w in widths]), fmt(total)]
    lines.append(f"convolutions and dense layers: {_count_text(analysis.flops, 1)} "
                 f"{_UNITS[analysis.convention]}")
    lines += _lines(analysis)
    if analysis.unused_params:
        lines.append(f"{analysis.unused_params:,} parameters belong to modules this forward "
                     "pass does not call (not in the total)")
    if analysis.not_modelled:
        roots = [r for r in analysis.not_modelled if "input was not derived" not in r.note]
        rest = len(analysis.not_modelled) - len(roots)
        first: dict[str, str] = {}
        for r in roots:
            first.setdefault(r.op, r.name)
        counts = Counter(r.op for r in roots)
        lines.append("not modelled: " + ", ".join(
            f"{op} (at {first[op]}{f' and {n - 1} more' if n > 1 else ''})"
            for op, n in counts.items())
            + (f"; {rest} rows after them are not derived" if rest else ""))
    if analysis.checks is not None:
        lines.append("checks: " + analysis.checks.summary())
    return "\n".join(lines)


def markdown(analysis: Any) -> str:
    """A Markdown table plus the conditions."""
    k = _factor(analysis)
    lines = [f"**{analysis.name}**, input `{_shape(analysis, analysis.input_shape)}`, FLOPs "
             f"in `{analysis.convention}` ({_UNITS[analysis.convention]})", "",
             "| layer | op | output shape | RF | params | FLOPs |", "|---|---|---|---|--:|--:|"]
    for r in analysis.rows:
        rf = " ".join(field_text(f) for f in r.fields) if r.shape is not None else "?"
        lines.append(f"| `{r.name}` | {r.op}{'' if r.status == 'modelled' else ' (not modelled)'}"
                     f" | `{_shape(analysis, r.shape)}` | {rf} | {r.params:,} | "
                     f"`{_count_text(r.macs, k)}` |")
    lines.append(f"| **total** | | | | {analysis.params:,} | "
                 f"`{_count_text(analysis.flops_all, 1)}` |")
    lines.append("")
    lines += [f"- {t}" for t in _lines(analysis)]
    return "\n".join(lines)


def _tex(d: Any) -> str:
    if d is None:
        return "?"
    if isinstance(d, FloorForm):
        x = str(d.var) + (f" {'+' if d.A > 0 else '-'} {abs(d.A)}" if d.A else "")
        inner = x if d.M == 1 else rf"\left\lfloor \frac{{{x}}}{{{d.M}}} \right\rfloor"
        out = inner if d.Q == 1 else f"{d.Q}{inner}"
        return out + (f" {'+' if d.B > 0 else '-'} {abs(d.B)}" if d.B else "")
    return sympy.latex(as_expr(d))


def latex(analysis: Any) -> str:
    """A LaTeX ``tabular`` of the layers (needs no package beyond the standard ones)."""
    k = _factor(analysis)
    lines = [r"\begin{tabular}{llllrl}", r"\hline",
             r"layer & op & output shape & RF & params & FLOPs (" + analysis.convention + r") \\",
             r"\hline"]
    for r in analysis.rows:
        shape = "?" if r.shape is None else "$(" + ", ".join(
            _tex(d) for d in (r.shape if len(analysis.input_shape) == len(r.shape)
                              else r.shape[1:])) + ")$"
        rf = " ".join(field_text(f) for f in r.fields) if r.shape is not None else "?"
        flops = "not modelled" if r.macs is None else "$" + sympy.latex(
            sympy.sympify(r.macs) * k) + "$"
        name = r.name.replace("_", r"\_")
        lines.append(f"\\texttt{{{name}}} & {r.op.replace('_', chr(92) + '_')} & {shape} & "
                     f"{rf} & {r.params} & {flops} \\\\")
    lines += [r"\hline", f"total & & & & {analysis.params} & "
              f"${sympy.latex(sympy.sympify(analysis.flops_all)) if analysis.flops_all is not None else '?'}$ \\\\",
              r"\hline", r"\end{tabular}"]
    return "\n".join(lines)
