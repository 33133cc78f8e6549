"""Checks of every closed form: symbolically by the checker, numerically on the meta device.

* Each collapsed floor form is compared with the engine's nested form built from the
  layer's own rule (:mod:`derive.conv.shapes` on the previous closed form) by
  :func:`derive.check.engine.check_exprs`; the verdict's status is reported as it is
  (``proved``, or ``unknown`` when the checker could not decide within its budget).
* The module itself, moved to the meta device (no memory, no arithmetic), is run at several
  input sides: the smallest valid one, one below it (it must fail), sides that are not
  multiples of the total stride, and a side at which every stride divides.  Every derived
  shape is compared with the shape PyTorch produced.  That is "tested at N sizes", not a
  proof.  (A module traced through hooks that reads tensor values runs on the CPU with a
  zero input instead.)  A side the conditions rule out must fail to run, and does.
* Each layer's derived parameter count is compared with ``sum(p.numel())`` of its module.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from derive.analysis.sizes import FloorForm, evaluate

__all__ = ["Checks", "crosscheck", "meta_shapes", "sizes_to_run"]


@dataclass
class Checks:
    """What was checked and how."""

    symbolic: dict[str, int] = field(default_factory=dict)   # status -> count
    sizes: list[int] = field(default_factory=list)
    shape_comparisons: int = 0
    shape_failures: list[str] = field(default_factory=list)
    expected_failures: list[int] = field(default_factory=list)   # invalid as derived, and fail
    underived_failures: list[str] = field(default_factory=list)  # beyond not-modelled rows
    boundary: str = ""
    params_compared: int = 0
    params_failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.shape_failures and not self.params_failures and \
            not self.symbolic.get("refuted")

    def to_dict(self) -> dict[str, Any]:
        return {"symbolic_steps": dict(sorted(self.symbolic.items())),
                "meta_device_sizes": self.sizes,
                "shape_comparisons": self.shape_comparisons,
                "shape_failures": self.shape_failures, "boundary": self.boundary,
                "failed_as_derived": self.expected_failures,
                "failed_beyond_not_modelled_rows": self.underived_failures,
                "params_compared": self.params_compared,
                "params_failures": self.params_failures}

    def summary(self) -> str:
        sym = ", ".join(f"{n} {k}" for k, n in sorted(self.symbolic.items())) or "none"
        text = (f"symbolic steps: {sym}; shapes tested on {len(self.sizes)} input sizes "
                f"{self.sizes} ({self.shape_comparisons} comparisons, "
                f"{len(self.shape_failures)} disagreements); parameters compared with "
                f"sum(numel) for {self.params_compared} layers "
                f"({len(self.params_failures)} disagreements)")
        if self.expected_failures:
            text += f"; sides {self.expected_failures} fail, as derived"
        if self.underived_failures:
            text += (f"; {len(self.underived_failures)} runs failed for reasons inside "
                     "not-modelled rows")
        if self.boundary:
            text += f"; {self.boundary}"
        return text


def sizes_to_run(analysis: Any, count: int = 5) -> list[int]:
    """Square input sides to run: the smallest valid one, its neighbours, sides that are
    not multiples of the total stride, one at which every stride divides."""
    if not analysis.symbols:
        return []
    cond = analysis.conditions
    start = cond.smallest_valid or max(a.smallest_positive for a in cond.axes)
    modulus = max([a.exact_modulus for a in cond.axes] or [1])
    candidates = [start, start + 1, start + 3, start + modulus + 1, 2 * modulus + 3]
    first = cond.axes[0]
    exact = [x for x in range(start, start + modulus + 1)
             if x % first.exact_modulus in first.exact_residues]
    if exact:
        candidates.append(exact[0] + modulus)
    out: list[int] = []
    for c in candidates:
        if c >= start and c not in out and c <= 1024:
            out.append(c)
    x = start + 2
    while len(out) < count:
        if x not in out:
            out.append(x)
        x += 1
    return sorted(out)


def meta_shapes(analysis: Any, side: int | dict) -> dict[int, tuple]:
    """Op index -> shape of the module's run on the meta device at input side(s) ``side``."""
    import torch

    full = []
    for e in analysis._full_input:
        if isinstance(e, int):
            full.append(e)
        else:
            full.append(side[e] if isinstance(side, dict) else side)
    traced = analysis._trace
    x = torch.empty(tuple(full), device="meta")
    if traced.method == "fx":
        gm = _meta_copy(analysis)
        index = {node: i for i, node in enumerate(gm.graph.nodes)}
        out: dict[int, tuple] = {}

        class Recorder(torch.fx.Interpreter):
            def run_node(self, node: Any) -> Any:
                value = super().run_node(node)
                if isinstance(value, torch.Tensor):
                    out[index[node]] = tuple(int(v) for v in value.shape)
                return value

        with torch.no_grad():
            Recorder(gm).run(x)
        return out
    from derive.analysis.trace import run_copy

    calls: list[tuple] = []

    def hook(name: Any, mod: Any, args: Any, output: Any, _x: Any) -> None:
        if name is None:
            calls.clear()
        elif isinstance(output, torch.Tensor):
            calls.append((name, tuple(int(v) for v in output.shape)))

    run_copy(analysis._module, tuple(full), hook)
    # the analysis's module ops are in call order, like these calls
    module_ops = [op.index for op in traced.ops if op.kind == "call_module"]
    return {index: shape for index, (_, shape) in zip(module_ops, calls)}


def _valid(analysis: Any, side: int) -> bool:
    """Whether the derived conditions allow square input side ``side``."""
    if not analysis.symbols:
        return True
    ctx = analysis._ctx
    point = {v: side for v in analysis.symbols}
    if any(evaluate(d, point) < 1 for _, d in ctx.positives):
        return False
    for name, _, dims in ctx.merges:
        vals = {evaluate(d, point) for d in dims}
        if len(vals) > 1 and not (name in ctx.broadcasting and len(vals - {1}) == 1):
            return False
    for _, _, d, value in ctx.constraints:
        v = evaluate(d, point)
        if not ((value < 0 and v % -value == 0) or v == value):
            return False
    return True


def _meta_copy(analysis: Any) -> Any:
    cached = analysis._meta_module
    if cached is None:
        source = analysis._trace.graph_module if analysis._trace.method == "fx" else \
            analysis._module
        cached = copy.deepcopy(source).to("meta").eval()
        analysis._meta_module = cached
    return cached


def _symbolic(analysis: Any, checks: Checks, budget: float = 2.0) -> None:
    from derive.check.engine import check_exprs

    seen = set()
    for name, out, nested, before in analysis._ctx.steps:
        nested_expr = nested(before.expr())
        key = (str(out.expr()), str(nested_expr))
        if key in seen:
            continue
        seen.add(key)
        if isinstance(nested_expr, FloorForm):
            nested_expr = nested_expr.expr()
        verdict = check_exprs(out.expr(), nested_expr, budget=budget)
        status = verdict.status.value
        checks.symbolic[status] = checks.symbolic.get(status, 0) + 1


def crosscheck(analysis: Any, sizes: list[int] | None = None, symbolic: bool = True) -> Checks:
    """Run every check on ``analysis`` and return what was found."""
    checks = Checks()
    if symbolic:
        _symbolic(analysis, checks)
    for r in analysis.rows:
        if r.params_actual is not None and r.status == "modelled":
            checks.params_compared += 1
            if r.params != r.params_actual:
                checks.params_failures.append(f"{r.name}: derived {r.params}, module has "
                                              f"{r.params_actual}")
    sizes = sizes_to_run(analysis) if sizes is None else sizes
    if not analysis.symbols:
        sizes = [0]   # the one concrete input
    for side in sizes:
        valid = _valid(analysis, side)
        try:
            actual = meta_shapes(analysis, side)
        except Exception as exc:
            why = (f"side {side}: the module failed to run on the meta device "
                   f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]})")
            if not valid:
                checks.expected_failures.append(side)
            elif analysis.not_modelled:
                checks.underived_failures.append(why)
            else:
                checks.shape_failures.append(why)
            continue
        if not valid and not analysis.not_modelled:
            checks.shape_failures.append(f"side {side}: derived invalid, but the module ran")
        point = {v: side for v in analysis.symbols}
        for r in analysis.rows:
            if r.shape is None or r.node not in actual or r.op in ("parameter", "buffer"):
                continue
            derived = tuple(evaluate(d, point) for d in r.shape)
            checks.shape_comparisons += 1
            if derived != actual[r.node]:
                checks.shape_failures.append(f"{r.name} at side {side}: derived {derived}, "
                                             f"module gives {actual[r.node]}")
    checks.sizes = [s for s in sizes if s]
    if analysis.symbols and analysis.conditions.axes:
        below = max(a.smallest_positive for a in analysis.conditions.axes) - 1
        if below >= 1:
            try:
                meta_shapes(analysis, below)
                checks.boundary = (f"side {below} (one below the smallest positive) ran "
                                   "without error: the derived bound disagrees")
                checks.shape_failures.append(checks.boundary)
            except Exception:
                checks.boundary = (f"side {below}, one below the smallest positive side, "
                                   "fails on the meta device as derived")
    return checks

