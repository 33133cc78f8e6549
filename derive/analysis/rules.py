"""Per-operation symbolic rules: output shape, receptive-field step, parameters, FLOPs.

Each traced operation (:mod:`derive.analysis.trace`) maps abstract input tensors (shapes whose
spatial sides are closed forms, :mod:`derive.analysis.sizes`) to an abstract output and one
:class:`Row`.  What is counted follows :mod:`derive.conv.costs`: one multiply-add per
(output element, weight tap) for convolutions and dense layers (the bias add folded in), the
scatter count ``input elements x kernel taps x out/groups`` for transposed convolutions, one
multiply-add per element for batch norm, layer norm, residual sums and gates, ``k`` taps per
output of average pooling; activations and max pooling do no multiply-adds.  An operation
without a rule gets a ``not modelled`` row and everything that depends on it stays
underived (``None``), never guessed.

Receptive fields follow :func:`derive.conv.receptive.step` per input axis.  A feature that
depends on the whole input along an axis (after global pooling, a dense layer over spatial
features, a squeeze-and-excitation gate) has the field ``"global"``; after upsampling,
transposed convolution or pixel shuffle one output feature no longer sees one regular window
(neighbouring features see the same inputs), reported as ``"irregular"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import sympy

from derive.analysis.sizes import (FloorForm, as_expr, conv_axis, is_symbolic, pool_axis,
                                  scale_axis, transposed_axis)
from derive.conv.receptive import ReceptiveField, step
from derive.errors import ConfigurationError

__all__ = ["GLOBAL", "IRREGULAR", "Context", "Row", "Tensor", "apply"]

GLOBAL = "global"
IRREGULAR = "irregular"
CONSTANT = "constant"
MIX = "mix"             # a dim that holds spatial positions flattened with others   # a parameter tensor: depends on no input position


@dataclass(frozen=True)
class Tensor:
    """An abstract tensor: ``shape`` entries are sizes (``None`` when not derived), ``tags``
    say which input axis a dimension indexes (``None`` for batch, channels, features), and
    ``fields`` is the receptive field per input axis."""

    shape: tuple
    tags: tuple
    fields: tuple

    @property
    def known(self) -> bool:
        return all(d is not None for d in self.shape)


@dataclass
class Row:
    """One operation of the analysis."""

    name: str
    op: str
    status: str                      # "modelled", "not modelled", "shape only"
    shape: tuple | None = None       # output shape (batch included)
    fields: tuple = ()
    params: int = 0
    params_actual: int | None = None  # sum(numel) of the module's own parameters
    macs: Any = 0                    # multiply-adds (None: not modelled)
    linear: bool = False             # a convolution or dense layer (the GEMM count)
    note: str = ""
    node: int | None = None          # index of the traced op (to match meta-device shapes)


@dataclass
class Context:
    """What the rules collect for the conditions and the checks."""

    axes: int
    rows: list[Row] = field(default_factory=list)
    positives: list[tuple[str, Any]] = field(default_factory=list)
    strided: list[tuple[str, Any, Any, int]] = field(default_factory=list)
    merges: list[tuple[str, int, list]] = field(default_factory=list)
    constraints: list[tuple[str, str, Any, int]] = field(default_factory=list)
    steps: list[tuple[str, Any, Callable[[Any], Any], Any]] = field(default_factory=list)
    seen_modules: set = field(default_factory=set)
    broadcasting: set = field(default_factory=set)   # merges where a side of 1 broadcasts


# -- helpers ---------------------------------------------------------------------------------

def _tuple(v: Any, n: int) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def _numel(shape: tuple) -> Any:
    out: Any = 1
    for d in shape:
        if d is None:
            return None
        out = out * as_expr(d)
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, FloorForm) and isinstance(b, FloorForm):
        return a == b
    ea, eb = as_expr(a), as_expr(b)
    if not is_symbolic(ea) and not is_symbolic(eb):
        return int(ea) == int(eb)
    return sympy.expand(ea - eb) == 0


def _union(fields: list) -> Any:
    fields = [f for f in fields if f != CONSTANT] or [CONSTANT]
    if fields == [CONSTANT]:
        return CONSTANT
    if any(f is None for f in fields):
        return None
    if any(f == GLOBAL for f in fields):
        return GLOBAL
    if any(f == IRREGULAR for f in fields):
        return IRREGULAR
    if len({f.jump for f in fields}) != 1:
        return IRREGULAR
    left = min(-f.start for f in fields)
    right = max(-f.start + f.size - 1 for f in fields)
    return ReceptiveField(right - left + 1, fields[0].jump, -left)


def _module_params(mod: Any) -> int:
    return sum(p.numel() for p in mod.parameters(recurse=False))


def _row(ctx: Context, name: str, op: str, out: Tensor | None, **kw: Any) -> Row:
    row = Row(name, op, kw.pop("status", "modelled"), out.shape if out else None,
              out.fields if out else (), **kw)
    ctx.rows.append(row)
    if out is not None:
        for d in out.shape:
            if is_symbolic(d):
                ctx.positives.append((name, d))
    return row


def _unknown(x: Tensor | None, ctx: Context) -> Tensor:
    return Tensor((None,), (None,), (None,) * ctx.axes)


# -- windows (conv, pool) ---------------------------------------------------------------------

def _window(ctx: Context, name: str, x: Tensor, nd: int, kernel: Any, stride: Any,
            padding: Any, dilation: Any, how: str, ceil_mode: bool = False) -> Tensor:
    """Apply a sliding window over the last ``nd`` dims; ``how`` is conv, pool."""
    k, s, d = _tuple(kernel, nd), _tuple(stride, nd), _tuple(dilation, nd)
    shape, fields = list(x.shape), list(x.fields)
    for i in range(nd):
        dim = len(shape) - nd + i
        n = shape[dim]
        eff = d[i] * (k[i] - 1) + 1
        if padding == "same":
            left, right = (eff - 1) // 2, eff - 1 - (eff - 1) // 2
        elif padding == "valid":
            left = right = 0
        else:
            left = right = _tuple(padding, nd)[i]
        try:
            out = (conv_axis(n, k[i], left, s[i], d[i], right_padding=right) if how == "conv"
                   else pool_axis(n, k[i], left, s[i], d[i], ceil_mode))
        except ConfigurationError as exc:
            raise exc.with_context(f"at layer {name!r} (input side {n}); give a larger input")
        if how == "conv":
            nested = (lambda e, k=k[i], p=left, s=s[i], dl=d[i], r=right:
                      conv_axis(e, k, p, s, dl, right_padding=r))
        else:
            nested = (lambda e, k=k[i], p=left, s=s[i], dl=d[i], c=ceil_mode:
                      pool_axis(e, k, p, s, dl, c))
        if not is_symbolic(out) and int(out) < 1:
            from derive.errors import InputError
            raise InputError(f"got input side {n} at layer {name!r}: its output side would be "
                             f"{out}; give a larger input")
        shape[dim] = out
        if isinstance(out, FloorForm) and isinstance(n, FloorForm):
            ctx.steps.append((name, out, nested, n))
        if s[i] > 1:
            ctx.strided.append((name, n, out, s[i]))
        tag = x.tags[dim]
        if isinstance(tag, int) and isinstance(fields[tag], ReceptiveField):
            fields[tag] = step(fields[tag], eff, s[i], left)
    return Tensor(tuple(shape), x.tags, tuple(fields))


def _adaptive(ctx: Context, x: Tensor, nd: int, size: Any) -> tuple[Tensor, Any]:
    sizes = _tuple(size, nd)
    shape, fields = list(x.shape), list(x.fields)
    taps: Any = 1
    for i in range(nd):
        dim = len(shape) - nd + i
        n, m = shape[dim], sizes[i]
        if m is None:
            m = n
        tag = x.tags[dim]
        if _same(n, m):
            t = 1
        elif m == 1:
            t = as_expr(n)
            if isinstance(tag, int):
                fields[tag] = GLOBAL if fields[tag] is not None else None
        elif not is_symbolic(n):
            n = int(n)
            t = sum(-(-(j + 1) * n // m) - (j * n // m) for j in range(m)) / sympy.Integer(m)
            if isinstance(tag, int) and isinstance(fields[tag], ReceptiveField):
                fields[tag] = step(fields[tag], n // m, n // m, 0) if n % m == 0 else IRREGULAR
        else:
            t = None
            if isinstance(tag, int):
                fields[tag] = IRREGULAR
        taps = None if (taps is None or t is None) else taps * t
        shape[dim] = m
    return Tensor(tuple(shape), x.tags, tuple(fields)), taps


# -- module rules ------------------------------------------------------------------------------

_PASS_MODULES = {
    "ReLU", "ReLU6", "SiLU", "GELU", "Hardswish", "Hardsigmoid", "Sigmoid", "Tanh",
    "LeakyReLU", "ELU", "SELU", "CELU", "Mish", "Softplus", "Hardtanh", "Softmax",
    "LogSoftmax", "Identity", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
    "AlphaDropout", "StochasticDepth", "PReLU",
}
_NORMS = {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm",
          "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LocalResponseNorm"}


def _conv_module(ctx: Context, name: str, mod: Any, x: Tensor) -> Tensor:
    import torch.nn as nn

    nd = len(mod.kernel_size)
    g = mod.groups
    cin, cout = mod.in_channels, mod.out_channels
    ktaps = math.prod(mod.kernel_size)
    params = cout * (cin // g) * ktaps + (cout if mod.bias is not None else 0)
    c_dim = len(x.shape) - nd - 1
    if x.shape[c_dim] is not None and not _same(x.shape[c_dim], cin):
        ctx.constraints.append((name, f"input channels {as_expr(x.shape[c_dim])} must be "
                                      f"{cin}", x.shape[c_dim], cin))
    if isinstance(mod, nn.modules.conv._ConvTransposeNd):
        shape, fields = list(x.shape), list(x.fields)
        for i in range(nd):
            dim = len(shape) - nd + i
            out = transposed_axis(shape[dim], mod.kernel_size[i], mod.padding[i],
                                  mod.stride[i], mod.dilation[i], mod.output_padding[i])
            if isinstance(out, FloorForm) and isinstance(shape[dim], FloorForm):
                a = (mod.kernel_size[i], mod.padding[i], mod.stride[i], mod.dilation[i],
                     mod.output_padding[i])
                from derive.conv.shapes import transposed_output_size
                ctx.steps.append((name, out, lambda e, a=a: transposed_output_size(e, *a),
                                  shape[dim]))
            shape[dim] = out
            if isinstance(x.tags[dim], int) and fields[x.tags[dim]] is not None:
                fields[x.tags[dim]] = (fields[x.tags[dim]] if fields[x.tags[dim]] == GLOBAL
                                       else IRREGULAR)
        shape[c_dim] = cout
        out_t = Tensor(tuple(shape), x.tags, tuple(fields))
        macs = _numel(x.shape[:c_dim] + x.shape[c_dim + 1:])
        macs = None if macs is None else macs * cin * (cout // g) * ktaps
        params = cin * (cout // g) * ktaps + (cout if mod.bias is not None else 0)
        _row(ctx, name, type(mod).__name__, out_t, params=params,
             params_actual=_module_params(mod), macs=macs, linear=True)
        return out_t
    out_t = _window(ctx, name, x, nd, mod.kernel_size, mod.stride, mod.padding, mod.dilation,
                    "conv")
    shape = list(out_t.shape)
    shape[c_dim] = cout
    out_t = Tensor(tuple(shape), out_t.tags, out_t.fields)
    n = _numel(out_t.shape)
    _row(ctx, name, type(mod).__name__, out_t, params=params,
         params_actual=_module_params(mod),
         macs=None if n is None else n * (cin // g) * ktaps, linear=True,
         note=f"padding={mod.padding!r}" if isinstance(mod.padding, str) else "")
    return out_t


def _module(ctx: Context, name: str, mod: Any, args: tuple, kwargs: dict) -> Any:
    import torch.nn as nn

    cls = type(mod).__name__
    x = args[0] if args else None
    if not isinstance(x, Tensor) or not x.known or any(
            isinstance(a, Tensor) and not a.known for a in args):
        return _not_modelled(ctx, name, cls, x, mod, "an input was not derived")
    if len(args) > 1 or kwargs:
        return _not_modelled(ctx, name, cls, x, mod, "no rule for a call with extra arguments")
    if isinstance(mod, nn.modules.conv._ConvNd):
        return _conv_module(ctx, name, mod, x)
    if isinstance(mod, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d,
                        nn.AvgPool3d)):
        nd = int(cls[-2])
        dil = getattr(mod, "dilation", 1)
        out = _window(ctx, name, x, nd, mod.kernel_size, mod.stride or mod.kernel_size,
                      mod.padding, dil, "pool", mod.ceil_mode)
        macs = 0
        if cls.startswith("Avg"):
            n = _numel(out.shape)
            macs = n * math.prod(_tuple(mod.kernel_size, nd))
        _row(ctx, name, cls, out, macs=macs,
             note="ceil_mode" if mod.ceil_mode else "")
        return out
    if cls.startswith("Adaptive") and cls[-2].isdigit():
        nd = int(cls[-2])
        out, taps = _adaptive(ctx, x, nd, mod.output_size)
        macs: Any = 0
        if cls.startswith("AdaptiveAvg"):
            n = _numel(out.shape)
            macs = None if taps is None else n * taps
        _row(ctx, name, cls, out, macs=macs,
             note="" if macs is not None else "FLOPs not modelled: windows vary with the size")
        return out
    if cls in _NORMS:
        params = _module_params(mod)   # gamma/beta: as many as the normalized features
        expected = 0
        if cls.startswith("BatchNorm") or cls.startswith("InstanceNorm"):
            expected = 2 * mod.num_features if mod.affine else 0
        elif cls == "GroupNorm":
            expected = 2 * mod.num_channels if mod.affine else 0
        elif cls == "LayerNorm":
            width = math.prod(mod.normalized_shape)
            expected = (width if mod.weight is not None else 0) + (
                width if mod.bias is not None else 0)
        _row(ctx, name, cls, x, params=expected, params_actual=params,
             macs=_numel(x.shape) if cls != "LocalResponseNorm" else 0)
        return x
    if cls in _PASS_MODULES:
        params = mod.num_parameters if cls == "PReLU" else 0
        _row(ctx, name, cls, x, params=params, params_actual=_module_params(mod))
        return x
    if isinstance(mod, nn.Linear):
        return _linear(ctx, name, x, mod)
    if isinstance(mod, nn.Flatten):
        return _flatten(ctx, name, x, mod.start_dim, mod.end_dim, cls)
    if isinstance(mod, (nn.PixelShuffle, nn.PixelUnshuffle)):
        return _pixel_shuffle(ctx, name, x, mod.upscale_factor if cls == "PixelShuffle"
                              else mod.downscale_factor, cls == "PixelShuffle", cls)
    if isinstance(mod, nn.Upsample):
        return _upsample(ctx, name, x, mod.size, mod.scale_factor, cls)
    return _not_modelled(ctx, name, cls, x, mod, "no rule for this module")


def _not_modelled(ctx: Context, name: str, op: str, x: Any, mod: Any, why: str) -> Tensor:
    # the module's parameters (all of them) are counted, not derived
    actual = sum(p.numel() for p in mod.parameters()) if hasattr(mod, "parameters") else 0
    _row(ctx, name, op, None, status="not modelled", params=actual, params_actual=actual,
         macs=None, linear=True, note=f"not modelled: {why}; shapes after it are not derived")
    return _unknown(x, ctx)


def _linear(ctx: Context, name: str, x: Tensor, mod: Any) -> Tensor:
    last = x.shape[-1]
    if not _same(last, mod.in_features):
        ctx.constraints.append((name, f"{_text(last)} = {mod.in_features} (Linear "
                                      "in_features)", last, mod.in_features))
    fields = list(x.fields)
    if x.tags[-1] == MIX or is_symbolic(last):
        fields = [GLOBAL if f not in (None, CONSTANT) else f for f in fields]
    elif isinstance(x.tags[-1], int) and fields[x.tags[-1]] not in (None, CONSTANT):
        fields[x.tags[-1]] = GLOBAL
    out = Tensor(x.shape[:-1] + (mod.out_features,), x.tags[:-1] + (None,), tuple(fields))
    n = _numel(out.shape)
    params = mod.in_features * mod.out_features + (mod.out_features if mod.bias is not None
                                                   else 0)
    _row(ctx, name, "Linear", out, params=params, params_actual=_module_params(mod),
         macs=n * mod.in_features, linear=True)
    return out


def _text(d: Any) -> str:
    return d.text() if isinstance(d, FloorForm) else str(as_expr(d))


def _flatten(ctx: Context, name: str, x: Tensor, start: int, end: int, op: str,
             row: bool = True) -> Tensor:
    r = len(x.shape)
    start, end = start % r, end % r
    merged = _numel(x.shape[start:end + 1])
    merged = merged if not isinstance(merged, sympy.Basic) or not merged.is_Integer else int(
        merged)
    spatial = any(t is not None for t in x.tags[start:end + 1])
    fields = x.fields          # flattening moves values, it does not change what they see
    tag = MIX if spatial else None
    if end == start:
        tag = x.tags[start]
    out = Tensor(x.shape[:start] + (merged,) + x.shape[end + 1:],
                 x.tags[:start] + (tag,) + x.tags[end + 1:], fields)
    if row:
        _row(ctx, name, op, out)
    return out


def _pixel_shuffle(ctx: Context, name: str, x: Tensor, r: int, up: bool, op: str) -> Tensor:
    shape, fields = list(x.shape), list(x.fields)
    c = len(shape) - 3
    shape[c] = as_expr(shape[c]) // (r * r) if up else as_expr(shape[c]) * r * r
    for dim in (-2, -1):
        n = shape[dim]
        if up:
            shape[dim] = scale_axis(n, r)
        else:
            shape[dim] = scale_axis(n, sympy.Rational(1, r))
            ctx.strided.append((name, n, shape[dim], r))
            ctx.constraints.append((name, f"{_text(n)} divisible by {r}", n, -r))
        tag = x.tags[dim]
        if isinstance(tag, int) and isinstance(fields[tag], ReceptiveField):
            fields[tag] = IRREGULAR if up else step(fields[tag], r, r, 0)
    out = Tensor(tuple(shape), x.tags, tuple(fields))
    _row(ctx, name, op, out)
    return out


def _upsample(ctx: Context, name: str, x: Tensor, size: Any, scale: Any, op: str) -> Tensor:
    shape, fields = list(x.shape), list(x.fields)
    nd = len(shape) - 2
    if size is not None:
        sizes = _tuple(size, nd)
        for i in range(nd):
            shape[2 + i] = sizes[i]
    else:
        scales = _tuple(scale, nd)
        for i in range(nd):
            f = sympy.Rational(scales[i]) if not isinstance(scales[i], float) or \
                scales[i].is_integer() else sympy.Rational(scales[i])
            shape[2 + i] = scale_axis(shape[2 + i], f)
    for i in range(nd):
        tag = x.tags[2 + i]
        if isinstance(tag, int) and isinstance(fields[tag], ReceptiveField):
            fields[tag] = IRREGULAR
    out = Tensor(tuple(shape), x.tags, tuple(fields))
    _row(ctx, name, op, out)
    return out


# -- functions and methods ---------------------------------------------------------------------

_ELEMENTWISE = {"add", "iadd", "sub", "isub", "mul", "imul", "truediv", "div", "itruediv"}
_PASS_FUNCS = {"relu", "relu_", "relu6", "silu", "gelu", "hardswish", "hardsigmoid", "sigmoid",
               "tanh", "leaky_relu", "elu", "selu", "softmax", "log_softmax", "dropout",
               "dropout2d", "stochastic_depth", "contiguous", "clone", "hardtanh", "mish",
               "sigmoid_", "tanh_", "float", "detach"}


def _broadcast(ctx: Context, name: str, op: str, a: Tensor, b: Any) -> Tensor:
    if not isinstance(b, Tensor):
        _row(ctx, name, op, a, macs=_numel(a.shape))
        return a
    ra, rb = len(a.shape), len(b.shape)
    r = max(ra, rb)
    sa = (1,) * (r - ra) + a.shape
    sb = (1,) * (r - rb) + b.shape
    ta = (None,) * (r - ra) + a.tags
    tb = (None,) * (r - rb) + b.tags
    shape, tags = [], []
    for i in range(r):
        da, db = sa[i], sb[i]
        if isinstance(da, int) and da == 1:
            shape.append(db)
            tags.append(tb[i])
        elif isinstance(db, int) and db == 1:
            shape.append(da)
            tags.append(ta[i])
        else:
            if not _same(da, db):
                ctx.merges.append((name, i, [da, db]))
                ctx.broadcasting.add(name)
            shape.append(da)
            tags.append(ta[i] if ta[i] is not None else tb[i])
    fields = tuple(_union([fa, fb]) for fa, fb in zip(a.fields, b.fields))
    out = Tensor(tuple(shape), tuple(tags), fields)
    _row(ctx, name, op, out, macs=_numel(out.shape))
    return out


def _cat(ctx: Context, name: str, xs: list, dim: int) -> Tensor:
    first = xs[0]
    r = len(first.shape)
    dim %= r
    shape = list(first.shape)
    total: Any = 0
    for t in xs:
        for i in range(r):
            if i != dim and not _same(t.shape[i], first.shape[i]):
                ctx.merges.append((name, i, [x.shape[i] for x in xs]))
        total = total + as_expr(t.shape[dim])
    shape[dim] = int(total) if not is_symbolic(total) else total
    fields = [_union([t.fields[a] for t in xs]) for a in range(len(first.fields))]
    if isinstance(first.tags[dim], int):
        fields[first.tags[dim]] = IRREGULAR
    out = Tensor(tuple(shape), first.tags, tuple(fields))
    _row(ctx, name, "cat", out)
    return out


def _reshape(ctx: Context, name: str, x: Tensor, dims: tuple, op: str) -> Tensor:
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    total = _numel(x.shape)
    known: Any = 1
    for d in dims:
        if not (isinstance(d, int) and d == -1):
            known = known * as_expr(d)
    shape = []
    for d in dims:
        if isinstance(d, int) and d == -1:
            rest = sympy.cancel(sympy.sympify(total) / known)
            if not rest.is_polynomial() and rest.is_Integer is not True:
                rest = sympy.simplify(rest)
            shape.append(int(rest) if rest.is_Integer else rest)
        else:
            shape.append(d)
    # keep the axis tags of trailing dims that are the input's own spatial sides
    tags = [None] * len(shape)
    j = len(x.shape) - 1
    for i in range(len(shape) - 1, -1, -1):
        if j >= 0 and isinstance(x.tags[j], int) and _same(shape[i], x.shape[j]):
            tags[i] = x.tags[j]
            j -= 1
        else:
            break
    lost = {t for t in x.tags if t is not None} - {t for t in tags if t is not None}
    if lost:   # the unmatched dims now hold spatial positions mixed with others
        tags = [MIX if t is None and i < len(shape) and not _same(shape[i], 1) else t
                for i, t in enumerate(tags)]
    fields = tuple(IRREGULAR if a in lost and isinstance(f, ReceptiveField) else f
                   for a, f in enumerate(x.fields))
    out = Tensor(tuple(shape), tuple(tags), fields)
    _row(ctx, name, op, out)
    return out


def _permute(ctx: Context, name: str, x: Tensor, order: tuple, op: str) -> Tensor:
    if len(order) == 1 and isinstance(order[0], (tuple, list)):
        order = tuple(order[0])
    r = len(x.shape)
    order = tuple(o % r for o in order)
    out = Tensor(tuple(x.shape[o] for o in order), tuple(x.tags[o] for o in order), x.fields)
    _row(ctx, name, op, out)
    return out


def _reduce(ctx: Context, name: str, x: Tensor, dims: Any, keepdim: bool, op: str) -> Tensor:
    r = len(x.shape)
    dims = sorted(d % r for d in _tuple(dims, 1))
    fields = list(x.fields)
    shape, tags = [], []
    for i in range(r):
        if i in dims:
            if x.tags[i] == MIX:
                fields = [GLOBAL if f not in (None, CONSTANT) else f for f in fields]
            elif isinstance(x.tags[i], int) and fields[x.tags[i]] is not None:
                fields[x.tags[i]] = GLOBAL
            if keepdim:
                shape.append(1)
                tags.append(None)
        else:
            shape.append(x.shape[i])
            tags.append(x.tags[i])
    out = Tensor(tuple(shape), tuple(tags), tuple(fields))
    _row(ctx, name, op, out, macs=_numel(x.shape) if op == "mean" else 0)
    return out


def _arith(fn: Any, args: tuple) -> Any:
    vals = [as_expr(a) for a in args]
    out = fn(*vals)
    if isinstance(out, sympy.Basic) and out.is_Integer:
        return int(out)
    return out


def _function(ctx: Context, name: str, fname: str, fn: Any, args: tuple, kwargs: dict) -> Any:
    tensors = [a for a in args if isinstance(a, Tensor)]
    if isinstance(fn, type) and issubclass(fn, tuple):   # a namedtuple of outputs
        return fn(*args, **kwargs)
    if fname == "_assert":
        cond = args[0]
        if isinstance(cond, sympy.Eq) and not is_symbolic(cond.rhs):
            ctx.constraints.append((name, f"{cond.lhs} = {cond.rhs} (asserted)", cond.lhs,
                                    int(cond.rhs)))
        elif cond is False or cond is sympy.false:
            ctx.constraints.append((name, "an assertion that fails", 0, 1))
        return None
    if fname == "eq" and not tensors:
        a, b = (as_expr(v) for v in args)
        eq = sympy.Eq(a, b)
        return eq if isinstance(eq, sympy.Eq) else bool(eq)
    if not tensors and fname not in ("cat", "concat", "stack"):
        if fname == "getitem":
            return args[0][args[1]]
        if fname == "getattr":
            return getattr(args[0], args[1])
        try:
            return _arith(fn, args)
        except Exception:
            return None
    x = args[0] if args else None
    if isinstance(x, Tensor) and not x.known or any(not t.known for t in tensors):
        return _not_modelled(ctx, name, fname, x, None, "an input was not derived")
    if fname in _ELEMENTWISE:
        a, b = args[0], args[1]
        if not isinstance(a, Tensor):
            a, b = b, a
        return _broadcast(ctx, name, fname.lstrip("i") if fname != "imul" else "mul", a, b)
    if fname in _PASS_FUNCS:
        _row(ctx, name, fname, x)
        return x
    if fname in ("layer_norm", "group_norm", "batch_norm", "instance_norm"):
        _row(ctx, name, fname, x, macs=_numel(x.shape),
             note="its weights are counted where they are read")
        return x
    if fname == "expand":
        sizes = tuple(args[1:]) if len(args) > 1 else tuple(kwargs["size"])
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        lead = len(sizes) - len(x.shape)
        shape = tuple(x.shape[i - lead] if isinstance(d, int) and d == -1 else d
                      for i, d in enumerate(sizes))
        out = Tensor(shape, (None,) * lead + x.tags, x.fields)
        _row(ctx, name, fname, out)
        return out
    if fname == "chunk":
        chunks = args[1] if len(args) > 1 else kwargs["chunks"]
        dim = (args[2] if len(args) > 2 else kwargs.get("dim", 0)) % len(x.shape)
        n = x.shape[dim]
        if is_symbolic(n) or int(n) % chunks:
            return _not_modelled(ctx, name, fname, x, None, "a chunk of a symbolic or "
                                 "non-divisible size")
        part = Tensor(x.shape[:dim] + (int(n) // chunks,) + x.shape[dim + 1:], x.tags,
                      x.fields)
        _row(ctx, name, fname, part, note=f"{chunks} equal parts")
        return tuple(part for _ in range(chunks))
    if fname in ("cat", "concat"):
        xs = list(args[0])
        if any(not isinstance(t, Tensor) or not t.known for t in xs):
            return _not_modelled(ctx, name, fname, None, None, "an input was not derived")
        return _cat(ctx, name, xs, kwargs.get("dim", args[1] if len(args) > 1 else 0))
    if fname == "flatten":
        return _flatten(ctx, name, x, kwargs.get("start_dim", args[1] if len(args) > 1 else 0),
                        kwargs.get("end_dim", args[2] if len(args) > 2 else -1), fname)
    if fname in ("reshape", "view"):
        return _reshape(ctx, name, x, tuple(args[1:]) or tuple(kwargs.get("shape", ())), fname)
    if fname == "permute":
        return _permute(ctx, name, x, tuple(args[1:]) or tuple(kwargs["dims"]), fname)
    if fname == "transpose":
        a0, a1 = (args[1], args[2]) if len(args) > 2 else (kwargs["dim0"], kwargs["dim1"])
        order = list(range(len(x.shape)))
        order[a0], order[a1] = order[a1], order[a0]
        return _permute(ctx, name, x, tuple(order), fname)
    if fname == "mean":
        dims = args[1] if len(args) > 1 else kwargs.get("dim")
        if dims is None:
            return _not_modelled(ctx, name, fname, x, None, "a reduction over all dims")
        return _reduce(ctx, name, x, dims, bool(kwargs.get("keepdim", args[2] if len(args) > 2
                                                            else False)), fname)
    if fname in ("adaptive_avg_pool2d", "adaptive_max_pool2d", "adaptive_avg_pool1d"):
        nd = 2 if fname.endswith("2d") else 1
        out, taps = _adaptive(ctx, x, nd, args[1] if len(args) > 1 else kwargs["output_size"])
        macs = (None if taps is None else _numel(out.shape) * taps) if "avg" in fname else 0
        _row(ctx, name, fname, out, macs=macs)
        return out
    if fname in ("max_pool2d", "avg_pool2d"):
        k = args[1] if len(args) > 1 else kwargs["kernel_size"]
        s = kwargs.get("stride", args[2] if len(args) > 2 else None) or k
        p = kwargs.get("padding", args[3] if len(args) > 3 else 0)
        cm = kwargs.get("ceil_mode", False)
        out = _window(ctx, name, x, 2, k, s, p, 1, "pool", cm)
        macs = _numel(out.shape) * math.prod(_tuple(k, 2)) if fname == "avg_pool2d" else 0
        _row(ctx, name, fname, out, macs=macs)
        return out
    if fname == "interpolate":
        return _upsample(ctx, name, x, kwargs.get("size", args[1] if len(args) > 1 else None),
                         kwargs.get("scale_factor", args[2] if len(args) > 2 else None), fname)
    if fname in ("pixel_shuffle", "pixel_unshuffle"):
        return _pixel_shuffle(ctx, name, x, args[1], fname == "pixel_shuffle", fname)
    if fname == "size":
        if len(args) > 1 or "dim" in kwargs:
            d = args[1] if len(args) > 1 else kwargs["dim"]
            return x.shape[d]
        return tuple(x.shape)
    if fname == "dim":
        return len(x.shape)
    if fname == "getattr" and args[1] == "shape":
        return tuple(x.shape)
    return _not_modelled(ctx, name, fname, x, None, "no rule for this function")


def _fname(target: Any) -> str:
    if isinstance(target, str):
        return target
    return getattr(target, "__name__", str(target))


def apply(ctx: Context, op: Any, args: tuple, kwargs: dict) -> Any:
    """The value of one traced operation (appending its row to ``ctx.rows``)."""
    if op.kind == "call_module":
        seen = id(op.module) in ctx.seen_modules
        ctx.seen_modules.add(id(op.module))
        before = len(ctx.rows)
        out = _module(ctx, op.name, op.module, args, kwargs)
        if seen and len(ctx.rows) > before:   # a module called again: parameters shared
            ctx.rows[-1].params = 0
            ctx.rows[-1].params_actual = 0
            ctx.rows[-1].note = (ctx.rows[-1].note + "; parameters shared with an earlier call"
                                 ).lstrip("; ")
        for r in ctx.rows[before:]:
            r.node = op.index
        return out
    fname = _fname(op.target)
    if op.kind == "call_method":
        fn = None
    else:
        fn = op.target
    before = len(ctx.rows)
    out = _function(ctx, op.name, fname, fn, args, kwargs)
    for r in ctx.rows[before:]:
        r.node = op.index
    return out


def parameter_row(ctx: Context, op: Any) -> Any:
    """A parameter or buffer read with ``get_attr``: its numel is counted as read."""
    import torch

    value = op.module
    if isinstance(value, torch.Tensor):
        is_param = isinstance(value, torch.nn.Parameter)
        n = value.numel() if is_param else 0
        row = Row(op.name, "parameter" if is_param else "buffer", "modelled", tuple(value.shape),
                  (), params=n, params_actual=n, macs=0,
                  note="a parameter tensor used directly; counted from its shape")
        row.node = op.index
        ctx.rows.append(row)
        return Tensor(tuple(value.shape), (None,) * value.dim(), (CONSTANT,) * ctx.axes)
    return value


def opaque_row(ctx: Context, op: Any) -> Tensor:
    """A tensor made outside the recorded leaf modules (hook fallback)."""
    row = Row(op.name, "opaque", "not modelled", None, (), macs=None,
              note=f"not modelled: made outside a leaf module (seen with shape "
                   f"{list(op.observed)}); shapes after it are not derived")
    row.node = op.index
    ctx.rows.append(row)
    return Tensor((None,), (None,), (None,) * ctx.axes)


def substitute(value: Any, refs: Callable[[Any], Any]) -> Any:
    """Replace every :class:`~derive.analysis.trace.Ref` in ``value`` by its value."""
    from derive.analysis.trace import Ref, map_leaves

    return map_leaves(value, lambda v: refs(v) if isinstance(v, Ref) else v)

