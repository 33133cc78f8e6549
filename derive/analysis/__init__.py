"""Analysis of a user's own PyTorch network: per-layer closed forms in the input sides.

``analyze(module, input=("C", "H", "W"))`` traces the module (:mod:`.trace`), applies one
symbolic rule per operation (:mod:`.rules`): output shape as a closed form in ``H`` and
``W`` (floors and all), receptive field (size, jump, start) per axis, parameters and FLOPs
in a stated convention; derives the valid input sizes (:mod:`.conditions`); and checks the
closed forms symbolically with the checker and numerically against the module run on the
meta device (:mod:`.crosscheck`).  :mod:`.render` prints the table, JSON, Markdown, LaTeX.

Input entries are names (SymPy symbols, positive integers) or numbers; a leading batch
dimension is optional.  A symbolic channel count is bound to the first layer's
``in_channels``.  PyTorch is needed to call :func:`analyze`, not to import this package.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Sequence

import sympy

from derive.errors import InputError, UnsupportedError

__all__ = ["Analysis", "analyze"]


@dataclass
class Analysis:
    """The result of :func:`analyze` (see :mod:`derive.analysis.render` for its views)."""

    name: str
    input_shape: tuple
    symbols: list
    convention: str
    rows: list
    conditions: Any
    method: str
    note: str = ""
    bindings: dict = field(default_factory=dict)
    checks: Any = None
    params_module: int | None = None
    unused_params: int = 0
    # what the checks need: the rules' collections, the trace, the module, the full input
    _ctx: Any = field(default=None, repr=False)
    _trace: Any = field(default=None, repr=False)
    _module: Any = field(default=None, repr=False)
    _full_input: tuple = field(default=(), repr=False)
    _meta_module: Any = field(default=None, repr=False)

    @property
    def params(self) -> int:
        """Total learnable parameters (derived per layer, each module once)."""
        return sum(r.params for r in self.rows)

    @property
    def macs(self) -> Any:
        """Multiply-adds of convolutions and dense layers (None if any is not modelled)."""
        return _total([r.macs for r in self.rows if r.linear])

    @property
    def macs_all(self) -> Any:
        """Multiply-adds of every modelled layer (norms, pools, sums included)."""
        return _total([r.macs for r in self.rows])

    @property
    def flops(self) -> Any:
        """:attr:`macs` in the convention (``flop2``: twice)."""
        m = self.macs
        return None if m is None else m * (2 if self.convention == "flop2" else 1)

    @property
    def flops_all(self) -> Any:
        m = self.macs_all
        return None if m is None else m * (2 if self.convention == "flop2" else 1)

    @property
    def not_modelled(self) -> list:
        return [r for r in self.rows if r.status == "not modelled"]

    @property
    def receptive_field(self) -> tuple:
        """Per-axis fields of the last row whose fields are all derived and not all global
        (the deepest feature map that still sees a window of the input)."""
        from derive.analysis.rules import CONSTANT
        for r in reversed(self.rows):
            if r.fields and all(f is not None and f != CONSTANT for f in r.fields) and any(
                    not isinstance(f, str) for f in r.fields):
                return r.fields
        return ()

    def table(self) -> str:
        from derive.analysis.render import table
        return table(self)

    def to_dict(self) -> dict:
        from derive.analysis.render import to_dict
        return to_dict(self)

    def markdown(self) -> str:
        from derive.analysis.render import markdown
        return markdown(self)

    def latex(self) -> str:
        from derive.analysis.render import latex
        return latex(self)

    def __str__(self) -> str:
        return self.table()


def _total(values: list) -> Any:
    if any(v is None for v in values):
        return None
    total = sympy.Add(*[sympy.sympify(v) for v in values])
    if total.is_Integer:
        return int(total)
    return sympy.expand(total) if len(total.free_symbols) else total


def _entry(value: Any, position: int) -> Any:
    from derive.symbols import sym

    if isinstance(value, bool):
        raise InputError(f"got input={value!r} at position {position}; give a positive "
                         "integer or a name")
    if isinstance(value, int):
        if value < 1:
            raise InputError(f"got input entry {value} at position {position}; sizes must "
                             "be >= 1")
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return _entry(int(text), position)
        if not text.isidentifier():
            raise InputError(f"got input entry {value!r} at position {position}; give a "
                             "positive integer or a name such as H")
        return sym(text)
    if isinstance(value, sympy.Symbol):
        return sym(value.name)
    raise InputError(f"got input entry {value!r} at position {position}; give a positive "
                     "integer or a name")


def _spatial_rank(module: Any) -> int:
    import torch.nn as nn
    for m in module.modules():
        if isinstance(m, nn.modules.conv._ConvNd):
            return len(m.kernel_size)
        for cls, nd in ((nn.MaxPool1d, 1), (nn.AvgPool1d, 1), (nn.BatchNorm1d, 1),
                        (nn.MaxPool3d, 3), (nn.AvgPool3d, 3)):
            if isinstance(m, cls):
                return nd
    return 2


def _first_channels(module: Any) -> int | None:
    import torch.nn as nn
    for m in module.modules():
        if isinstance(m, nn.modules.conv._ConvNd):
            return m.in_channels
        if isinstance(m, (nn.modules.batchnorm._BatchNorm,)):
            return m.num_features
    return None


def analyze(module: Any, input: Sequence[Any] = ("C", "H", "W"), *,
            convention: str = "mac", check: bool = True, progress: bool = False,
            name: str | None = None) -> Analysis:
    """Analyze ``module`` at an input of shape ``input`` (names or numbers).

    ``check`` runs the symbolic and meta-device cross-checks (:mod:`.crosscheck`);
    ``progress`` draws a bar on stderr for large models.
    """
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise InputError("analyze needs PyTorch: install the extra, pip install "
                         "'derive[torch]'") from exc
    from derive.analysis import rules
    from derive.analysis.conditions import derive_conditions
    from derive.analysis.sizes import FloorForm
    from derive.analysis.trace import trace_module
    from derive.conv.costs import check_convention
    from derive.conv.receptive import ReceptiveField

    convention = check_convention(convention)
    if not isinstance(module, torch.nn.Module):
        raise InputError(f"got module={module!r}; analyze needs a torch.nn.Module")
    if isinstance(input, (str, bytes)) or not isinstance(input, (tuple, list)):
        raise InputError(f"got input={input!r}; give a tuple such as ('C', 'H', 'W')")
    entries = [_entry(v, i) for i, v in enumerate(input)]
    nd = _spatial_rank(module)
    if len(entries) == nd + 1:
        entries = [1] + entries
        batch_given = False
    elif len(entries) == nd + 2:
        batch_given = True
    else:
        raise InputError(f"got input={tuple(input)!r}: {len(entries)} entries; this module has "
                         f"{nd} spatial axes, so give (C, {', '.join('HWD'[:nd])}) or with a "
                         "batch size in front")
    bindings: dict = {}
    if isinstance(entries[1], sympy.Symbol):
        c = _first_channels(module)
        if c is None:
            raise UnsupportedError(f"cannot bind the channel count {entries[1]}: the module "
                                   "has no convolution or batch norm; give a number")
        bindings[str(entries[1])] = c
        entries[1] = c
    if isinstance(entries[0], sympy.Symbol):
        raise UnsupportedError("a symbolic batch size is not supported; give a number or "
                               "leave the batch out")
    symbols = []
    shape = []
    for e in entries:
        if isinstance(e, sympy.Symbol):
            if e not in symbols:
                symbols.append(e)
            shape.append(FloorForm.of(e))
        else:
            shape.append(e)
    example = tuple(224 if isinstance(e, sympy.Symbol) else int(e) for e in entries)
    traced = trace_module(module, example)
    ctx = rules.Context(axes=nd)
    tags = (None, None) + tuple(range(nd))
    x = rules.Tensor(tuple(shape), tags, (ReceptiveField(1, 1, 0),) * nd)
    values: dict[int, Any] = {}
    total = len(traced.ops)
    for i, op in enumerate(traced.ops):
        if progress and total > 100 and i % 10 == 0:
            done = int(30 * i / total)
            print(f"\rtracing [{'#' * done}{'.' * (30 - done)}] {i}/{total}", end="",
                  file=sys.stderr, flush=True)
        args = rules.substitute(op.args, lambda r: values[r.index])
        kwargs = rules.substitute(op.kwargs, lambda r: values[r.index])
        if op.kind == "input":
            values[i] = x
        elif op.kind == "output":
            values[i] = args[0]
        elif op.kind == "get_attr":
            values[i] = rules.parameter_row(ctx, op)
        elif op.kind == "opaque":
            values[i] = rules.opaque_row(ctx, op)
        else:
            values[i] = rules.apply(ctx, op, args, kwargs)
    if progress and total > 100:
        print(f"\rtracing [{'#' * 30}] {total}/{total}", file=sys.stderr, flush=True)
    conditions = derive_conditions(ctx, symbols)
    params_module = sum(p.numel() for p in module.parameters())
    analysis = Analysis(name or type(module).__name__,
                        tuple(shape) if batch_given else tuple(shape[1:]), symbols, convention,
                        ctx.rows, conditions, traced.method, traced.note, bindings,
                        params_module=params_module, _ctx=ctx, _trace=traced, _module=module,
                        _full_input=tuple(entries))
    analysis.unused_params = params_module - analysis.params
    if check:
        from derive.analysis.crosscheck import crosscheck
        analysis.checks = crosscheck(analysis)
    return analysis
