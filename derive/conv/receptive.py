"""Receptive fields: size, jump (effective stride) and start (effective padding).

Design rule: one forward recurrence over the layer specs of :mod:`derive.conv.layers` is the
definition; the closed forms of Araujo et al. (Distill, 2019) are theorems about it, proved in
:mod:`derive.conv.theorems`.  Going from the input towards the output, a layer with effective
kernel ``k = d(k0 - 1) + 1``, stride ``s`` and left padding ``p`` maps ``(size, jump, start)``
to ``(size + (k - 1)*jump, jump*s, start + p*jump)``; the network's input starts as
``(1, 1, 0)``.  ``start`` is the effective padding ``P0``: output feature ``f`` sees input
positions ``f*jump - start`` to ``f*jump - start + size - 1``.

Merges (residual ``add``, ``concat``) take the union of the branches' fields after an
alignment check: all branches must have the same jump and the same centre, else the field of
the merged feature is not a single regular window and a ConfigurationError says why.

Numbers in, numbers out; SymPy expressions in, SymPy expressions out.

>>> from derive.conv.layers import Layer
>>> receptive_field([Layer("conv", kernel=3, padding=1), Layer("maxpool", kernel=2, stride=2)])
ReceptiveField(size=4, jump=2, start=1)
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Iterable, Sequence, Union

import sympy

from derive.symbols import as_expr

from derive.conv.layers import LAYER_KINDS, Layer, Merge
from derive.errors import ConfigurationError, UnsupportedError

Value = Union[int, sympy.Expr]

__all__ = [
    "PASS_THROUGH_KINDS",
    "ReceptiveField",
    "closed_form_field",
    "layer_geometry",
    "RecurrenceRow",
    "receptive_field",
    "receptive_field_size",
    "receptive_field_steps",
    "receptive_field_table",
    "repeated_receptive_field",
    "step",
]

#: kinds that map every position to itself (kernel 1, stride 1, no padding)
PASS_THROUGH_KINDS = ("identity", "bn", "act", "dropout")
#: kinds with a sliding window
WINDOW_KINDS = ("conv", "pool", "avgpool", "maxpool")


def _plain(value: Any) -> Value:
    """Sympy integers become ``int``; other expressions stay symbolic."""
    if isinstance(value, bool):
        raise ConfigurationError(f"got {value!r} where a size was expected")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, sympy.Basic):
        if value.is_Integer:
            return int(value)
        return value  # type: ignore[return-value]
    raise ConfigurationError(f"got {value!r} where an integer or a SymPy expression was expected")


@dataclass(frozen=True)
class ReceptiveField:
    """The field of one output feature map, in input coordinates.

    ``size`` input positions per feature, ``jump`` input positions between neighbouring
    features (the effective stride), ``start`` the effective padding: feature ``f`` starts
    at input position ``f*jump - start``.

    >>> rf = ReceptiveField(size=3, jump=2, start=1)
    >>> rf.interval(0), rf.interval(4), rf.center(4)
    ((-1, 1), (7, 9), 8)
    """

    size: Value
    jump: Value
    start: Value

    def interval(self, f: Value = 0) -> tuple[Value, Value]:
        """First and last input positions seen by output feature ``f`` (0-based)."""
        first = _plain(sympy.expand(f * self.jump - self.start)) if _symbolic(
            f, self.jump, self.start) else f * self.jump - self.start
        last = first + self.size - 1
        return first, _plain(sympy.expand(last)) if _symbolic(last) else last

    def center(self, f: Value = 0) -> Value | sympy.Rational:
        """Centre of feature ``f``'s field: ``-start + f*jump + (size - 1)/2``.

        A half-integer (a SymPy ``Rational``) when ``size`` is even.

        >>> ReceptiveField(4, 2, 1).center(0)
        1/2
        """
        value = sympy.Integer(0) - self.start + f * self.jump + sympy.Rational(1, 2) * (
            self.size - 1)
        value = sympy.expand(value)
        return int(value) if value.is_Integer else value

    def as_tuple(self) -> tuple[Value, Value, Value]:
        """``(size, jump, start)``."""
        return self.size, self.jump, self.start


INPUT_FIELD = ReceptiveField(1, 1, 0)


def _symbolic(*values: Any) -> bool:
    return any(isinstance(v, sympy.Basic) and not v.is_Integer for v in values)


def _pick(value: Any, axis: int, name: str, field: str) -> Any:
    if isinstance(value, (tuple, list)):
        if len(value) == 0 or axis >= len(value):
            raise ConfigurationError(
                f"got {field}={value!r} in layer {name!r}; no entry for axis {axis}")
        return value[axis]
    return value


def _check(value: Any, minimum: int, field: str, name: str) -> Value:
    v = _plain(value)
    if isinstance(v, int):
        if v < minimum:
            raise ConfigurationError(
                f"got {field}={v} in layer {name!r}; {field} must be an integer >= {minimum}")
    elif (v - minimum).is_negative:
        raise ConfigurationError(
            f"got {field}={v} in layer {name!r}; {field} must be an integer >= {minimum}")
    return v


def layer_geometry(layer: Layer, axis: int = 0) -> tuple[Value, Value, Value]:
    """``(effective kernel, stride, left padding)`` of a layer along ``axis``.

    Pass-through layers (identity, bn, act, dropout) are ``(1, 1, 0)``.  A pooling layer's
    stride defaults to its kernel only when given as ``None``.

    >>> layer_geometry(Layer("conv", kernel=3, dilation=2, padding=2))
    (5, 1, 2)
    """
    name = layer.name or layer.kind
    if layer.kind not in LAYER_KINDS:
        raise ConfigurationError(
            f"got kind={layer.kind!r} in layer {name!r}; kind must be one of "
            f"{', '.join(LAYER_KINDS)}")
    if layer.kind in PASS_THROUGH_KINDS:
        return 1, 1, 0
    if layer.kind not in WINDOW_KINDS:
        if layer.kind == "deconv":
            raise UnsupportedError(
                f"layer {name!r} of kind 'deconv': a transposed convolution's field depends "
                "on the output position (fractional stride); not supported")
        raise UnsupportedError(
            f"layer {name!r} of kind {layer.kind!r} sees the whole input; its receptive field "
            "depends on the input size and is not a sliding window")
    k = _check(_pick(layer.kernel, axis, name, "kernel"), 1, "kernel", name)
    stride = layer.stride
    if stride is None:
        stride = layer.kernel
    s = _check(_pick(stride, axis, name, "stride"), 1, "stride", name)
    p = _check(_pick(layer.padding, axis, name, "padding"), 0, "padding", name)
    d = _check(_pick(layer.dilation, axis, name, "dilation"), 1, "dilation", name)
    eff = d * (k - 1) + 1
    return _plain(eff) if not isinstance(eff, int) else eff, s, p


def step(field: ReceptiveField, kernel: Value, stride: Value = 1,
         padding: Value = 0) -> ReceptiveField:
    """One layer of the forward recurrence (``kernel`` is the effective kernel).

    ``size + (kernel - 1)*jump``, ``jump*stride``, ``start + padding*jump``.

    >>> step(ReceptiveField(3, 1, 1), kernel=2, stride=2)
    ReceptiveField(size=4, jump=2, start=1)
    """
    size = field.size + (kernel - 1) * field.jump
    jump = field.jump * stride
    start = field.start + padding * field.jump
    return ReceptiveField(_norm(size), _norm(jump), _norm(start))


def _norm(value: Any) -> Value:
    if isinstance(value, sympy.Basic):
        value = sympy.expand(value) if not value.has(sympy.Piecewise) else value
        return int(value) if value.is_Integer else value
    return value


def _equal(a: Value, b: Value) -> bool | None:
    if not _symbolic(a, b):
        return a == b
    diff = sympy.simplify(sympy.expand(a - b))
    if diff == 0:
        return True
    if diff.is_zero is False:
        return False
    return None


def _merge(fields: Sequence[ReceptiveField], merge: Merge, strict: bool) -> ReceptiveField:
    name = merge.name or f"merge ({merge.how})"
    first = fields[0]
    for i, other in enumerate(fields[1:], start=1):
        same_jump = _equal(first.jump, other.jump)
        if same_jump is None:
            raise UnsupportedError(
                f"cannot decide whether branches 0 and {i} of {name!r} have the same jump "
                f"({first.jump} vs {other.jump})")
        if not same_jump:
            raise ConfigurationError(
                f"branches of {name!r} are not aligned: branch 0 has jump {first.jump}, "
                f"branch {i} has jump {other.jump}; a merge needs equal effective strides")
        if strict:
            same_center = _equal(first.center(0), other.center(0))
            if same_center is None:
                raise UnsupportedError(
                    f"cannot decide whether branches 0 and {i} of {name!r} are centred alike "
                    f"({first.center(0)} vs {other.center(0)})")
            if not same_center:
                raise ConfigurationError(
                    f"branches of {name!r} are not aligned: feature 0 is centred at "
                    f"{first.center(0)} in branch 0 and at {other.center(0)} in branch {i}; "
                    "pass strict=False to take the union anyway")
    lefts = [f.interval(0)[0] for f in fields]
    rights = [f.interval(0)[1] for f in fields]
    if _symbolic(*lefts, *rights):
        left, right = sympy.Min(*lefts), sympy.Max(*rights)
    else:
        left, right = min(lefts), max(rights)
    return ReceptiveField(_norm(right - left + 1), first.jump, _norm(-left))


def _walk(items: Iterable[Any], field: ReceptiveField, axis: int, strict: bool,
          rows: list[tuple[str, ReceptiveField]] | None, prefix: str = "") -> ReceptiveField:
    for index, item in enumerate(items):
        if isinstance(item, Layer):
            k, s, p = layer_geometry(item, axis)
            field = step(field, k, s, p)
            label = item.name or f"{item.kind}{index}"
        elif isinstance(item, Merge):
            if item.how not in ("add", "concat"):
                raise ConfigurationError(
                    f"got how={item.how!r} in merge {item.name!r}; how must be 'add' or "
                    "'concat'")
            if not item.branches:
                raise ConfigurationError(f"merge {item.name!r} has no branches")
            fields = [_walk(branch, field, axis, strict, None) for branch in item.branches]
            field = _merge(fields, item, strict)
            label = item.name or f"merge{index}"
        else:
            raise ConfigurationError(
                f"got {item!r} at position {index}; expected a Layer or a Merge")
        if rows is not None:
            rows.append((prefix + label, field))
    return field


def receptive_field(layers: Sequence[Layer | Merge], axis: int = 0, *,
                    strict: bool = True) -> ReceptiveField:
    """Receptive field of the last layer's features in input coordinates.

    ``axis`` picks the entry of pair-valued kernels/strides/paddings.  ``strict=False``
    accepts merges whose branches are centred differently (the union is still returned).

    >>> from derive.conv.layers import Layer
    >>> alexnet_head = [Layer("conv", kernel=11, stride=4), Layer("maxpool", kernel=3, stride=2)]
    >>> receptive_field(alexnet_head)
    ReceptiveField(size=19, jump=8, start=0)
    >>> from derive.symbols import syms
    >>> K, S = syms("K S")
    >>> receptive_field([Layer("conv", kernel=K, stride=S)] * 2)
    ReceptiveField(size=K*S + K - S, jump=S**2, start=0)
    """
    return _walk(layers, INPUT_FIELD, axis, strict, None)


def receptive_field_table(layers: Sequence[Layer | Merge], axis: int = 0, *,
                          strict: bool = True) -> list[tuple[str, ReceptiveField]]:
    """The field after every top-level item: ``[(name, ReceptiveField), ...]``.

    Unnamed items are labelled ``kind`` + position (``conv0``, ``merge3``).

    >>> from derive.conv.layers import Layer
    >>> [(n, f.size) for n, f in receptive_field_table([Layer("conv", kernel=3, name="c1"),
    ...                                                  Layer("conv", kernel=3)])]
    [('c1', 3), ('conv1', 5)]
    """
    rows: list[tuple[str, ReceptiveField]] = []
    _walk(layers, INPUT_FIELD, axis, strict, rows)
    return rows


@dataclass(frozen=True)
class RecurrenceRow:
    """One top-level item of a network with the field before and after it.

    ``kernel`` is the effective kernel ``d(k - 1) + 1`` (``None`` for a merge); ``why``
    spells the recurrence with the numbers substituted, for worked solutions.
    """

    name: str
    kernel: Value | None
    stride: Value | None
    padding: Value | None
    before: ReceptiveField
    after: ReceptiveField
    why: str


def receptive_field_steps(layers: Sequence[Layer | Merge], axis: int = 0, *,
                          strict: bool = True) -> list[RecurrenceRow]:
    """The recurrence written out item by item (for tables and worked solutions).

    >>> from derive.conv.layers import Layer
    >>> rows = receptive_field_steps([Layer("conv", kernel=3, name="c1"),
    ...                               Layer("conv", kernel=3, dilation=2, name="c2")])
    >>> rows[1].why
    'size 3 + (5 - 1)*1 = 7; jump 1*1 = 1; start 0 + 0*1 = 0'
    """
    rows: list[RecurrenceRow] = []
    field = INPUT_FIELD
    for index, item in enumerate(layers):
        before = field
        if isinstance(item, Layer):
            k, s, p = layer_geometry(item, axis)
            field = step(field, k, s, p)
            why = (f"size {before.size} + ({k} - 1)*{before.jump} = {field.size}; "
                   f"jump {before.jump}*{s} = {field.jump}; "
                   f"start {before.start} + {p}*{before.jump} = {field.start}")
            rows.append(RecurrenceRow(item.name or f"{item.kind}{index}", k, s, p, before,
                                      field, why))
        else:
            field = _walk([item], field, axis, strict, None)
            name = getattr(item, "name", "") or f"merge{index}"
            how = getattr(item, "how", "?")
            why = (f"union of the {len(item.branches)} branches' fields ({how}): size "
                   f"{field.size}, jump {field.jump}, start {field.start}")
            rows.append(RecurrenceRow(name, None, None, None, before, field, why))
    return rows


# --------------------------------------------------------------------------- closed forms

def closed_form_field(layers: Sequence[Layer], axis: int = 0) -> ReceptiveField:
    """Araujo et al.'s closed forms evaluated directly on a chain (no merges).

    ``size = 1 + sum_l (k_l - 1) prod_{i<l} s_i``, ``jump = prod_l s_l``,
    ``start = sum_l p_l prod_{i<l} s_i``: an independent route to the same numbers as the
    recurrence (:func:`receptive_field`); :mod:`derive.conv.theorems` proves they agree.

    >>> from derive.conv.layers import Layer
    >>> closed_form_field([Layer("conv", kernel=11, stride=4), Layer("maxpool", kernel=3, stride=2)])
    ReceptiveField(size=19, jump=8, start=0)
    """
    geometry = []
    for index, item in enumerate(layers):
        if not isinstance(item, Layer):
            raise ConfigurationError(
                f"got {type(item).__name__} at position {index}; the closed forms cover a "
                "chain of layers (use receptive_field for merges)")
        geometry.append(layer_geometry(item, axis))
    size: Any = 1
    start: Any = 0
    for l, (k, _, p) in enumerate(geometry):
        before = _product(s for _, s, _ in geometry[:l])
        size = size + (k - 1) * before
        start = start + p * before
    jump = _product(s for _, s, _ in geometry)
    return ReceptiveField(_norm(size), _norm(jump), _norm(start))


def _product(values: Iterable[Any]) -> Any:
    out: Any = 1
    for v in values:
        out = out * v
    return out


def _clean(expr: Any) -> Value:
    """Tidy a SymPy summation result: fold Piecewise, evaluate each branch's condition."""
    expr = sympy.piecewise_fold(expr)
    if isinstance(expr, sympy.Piecewise):
        pieces = []
        for value, cond in expr.args:
            if isinstance(cond, sympy.Eq) and isinstance(cond.lhs, sympy.Symbol):
                value = value.subs(cond.lhs, cond.rhs)
            pieces.append((sympy.factor(sympy.cancel(value)), cond))
        return sympy.Piecewise(*pieces)
    return _norm(sympy.factor(sympy.cancel(expr)) if isinstance(expr, sympy.Basic) else expr)


def repeated_receptive_field(depth: Value, kernel: Value, stride: Value = 1,
                             padding: Value = 0, dilation: Value = 1) -> ReceptiveField:
    """Field of ``depth`` identical layers, by SymPy summation of the closed forms.

    ``depth`` may be a symbol (``L``).  A geometric sum when the stride exceeds 1, linear
    when it is 1; a symbolic stride gives a ``Piecewise`` with both branches.  The result is
    proved equal to the recurrence in :mod:`derive.conv.theorems`.

    >>> from derive.symbols import syms
    >>> L, = syms("L")
    >>> repeated_receptive_field(L, 3)
    ReceptiveField(size=2*L + 1, jump=1, start=0)
    >>> repeated_receptive_field(L, 3, stride=2, padding=1)
    ReceptiveField(size=2*2**L - 1, jump=2**L, start=2**L - 1)
    >>> repeated_receptive_field(4, 3, stride=2).size
    31
    """
    layer = Layer("conv", kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    k, s, p = layer_geometry(layer)
    if isinstance(depth, bool) or not (isinstance(depth, numbers.Integral) or (
            isinstance(depth, sympy.Expr) and depth.is_integer is not False)):
        raise ConfigurationError(f"got depth={depth!r}; depth must be an integer >= 0")
    if isinstance(depth, numbers.Integral) and depth < 0:
        raise ConfigurationError(f"got depth={depth}; depth must be an integer >= 0")
    l = sympy.Symbol("l", integer=True, positive=True)
    growth = _clean(sympy.Sum((k - 1) * s ** (l - 1), (l, 1, depth)).doit())
    size = sympy.piecewise_fold(1 + growth) if isinstance(growth, sympy.Basic) else 1 + growth
    start = sympy.Sum(p * s ** (l - 1), (l, 1, depth)).doit()
    jump = sympy.Integer(s) ** depth if isinstance(s, int) else s ** depth
    return ReceptiveField(_norm(size), _norm(as_expr(jump)), _clean(start))


# Bits allowed in stride**depth for numeric arguments, as for the claim parser's constant
# powers: a claim such as receptive_field_size(10**9, 3, 3) must not compute 3**(10**9).
_MAX_JUMP_BITS = 4_096
# Above this many layers a symbolic stride gets the geometric closed form, not a sum of
# ``depth`` powers of the stride (SymPy would expand 10**9 terms).
_MAX_EXPANDED_LAYERS = 64


def _is_integer_value(value: Any) -> bool:
    return (isinstance(value, numbers.Integral) and not isinstance(value, bool)) or bool(
        getattr(value, "is_Integer", False))


def receptive_field_size(depth: Value, kernel: Value, stride: Value = 1,
                         dilation: Value = 1) -> Value:
    """Receptive-field size of ``depth`` identical convolutions (``depth = 1``: one layer,
    whose field is its effective kernel ``dilation*(kernel - 1) + 1``).  The size of
    :func:`repeated_receptive_field`; padding shifts a field but never changes its size, so
    it is not an argument.  The claim language's ``receptive_field_size``.

    >>> receptive_field_size(1, 3, dilation=2), receptive_field_size(3, 3, 2)
    (5, 15)
    >>> from derive.symbols import syms
    >>> L, K, S = syms("L K S")
    >>> receptive_field_size(L, K)
    K*L - L + 1
    >>> receptive_field_size(100, K, S).args[1]
    ((K - 1)*(S**100 - 1)/(S - 1) + 1, True)
    """
    if _is_integer_value(depth) and _is_integer_value(stride):
        if int(stride) > 1 and int(depth) * math.log2(int(stride)) > _MAX_JUMP_BITS:
            raise ConfigurationError(
                f"got depth={depth} with stride={stride}; the field's jump stride**depth "
                f"would have more than {_MAX_JUMP_BITS:,} bits")
    elif _is_integer_value(depth) and int(depth) > _MAX_EXPANDED_LAYERS:
        n = sympy.Dummy("n", integer=True, nonnegative=True)
        size = repeated_receptive_field(n, kernel, stride, 0, dilation).size
        return _norm(size.subs(n, int(depth)))
    return repeated_receptive_field(depth, kernel, stride, 0, dilation).size
