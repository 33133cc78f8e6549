"""Convolution (cross-correlation) as an indexed sum: the single source of truth.

Design rule: every size and every concrete value of a convolution is read off one SymPy
expression, never typed in beside it::

    y[n, o, i, j] = b[o] + Sum_c Sum_u Sum_v w[o, c, u, v] * x_pad[n, g(o) + c, S*i + D*u, S*j + D*v]

with ``c < C_in/G`` running over the input channels of output channel ``o``'s group and
``g(o) = (C_in/G) * floor(o / (C_out/G))`` the first input channel of that group.  ``x_pad``
is the input with ``P`` zeros on each side of every spatial axis.

From the expression the engine derives the number of valid output positions (the largest
``i`` whose window stays inside the padded input; :meth:`ConvModel.derive_output_size`) and,
for concrete sizes, expands the sums into explicit polynomials in the entries of ``x``,
``w`` and ``b`` (:meth:`ConvModel.expand`) that can be compared with brute force.

>>> m = conv_model(1, size=5, kernel=3, stride=2, padding=1, dilation=1, batch=1,
...                in_channels=1, out_channels=1, bias=False)
>>> m.derive_output_size(0).count
3
>>> m.expand((0, 0, 1))
w[0, 0, 0]*x[0, 0, 1] + w[0, 0, 1]*x[0, 0, 2] + w[0, 0, 2]*x[0, 0, 3]
"""

from __future__ import annotations

import itertools
import numbers
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Sequence, Union

import sympy

from derive.symbols import as_expr

from derive.errors import ConfigurationError, UnsupportedError
from derive.symbols import sym

Value = Union[int, sympy.Expr]

__all__ = [
    "ConvModel",
    "OutputSizeDerivation",
    "Step",
    "conv_model",
]

_INDEX_NAMES = ("n", "o", "i", "j", "c", "u", "v")


def _index(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, integer=True, nonnegative=True)


N_, O_, I_, J_, C_, U_, V_ = (_index(n) for n in _INDEX_NAMES)
SPATIAL_OUT = (I_, J_)
TAPS = (U_, V_)


class Step(NamedTuple):
    """One line of a derivation: a SymPy expression or relation and why it holds."""

    expr: Any
    why: str


@dataclass(frozen=True)
class OutputSizeDerivation:
    """The output size along one axis as derived from the model.

    ``count`` is the number of valid output positions and ``last`` the largest valid index.
    ``steps`` is the argument (the model along the axis, the window condition, the bound on
    the index: relations, for display); ``chain`` is the same result as a chain of equal
    values (a sum of ones over the valid indices, then its value) that the checker can
    verify step by step.
    """

    count: Value
    last: Value
    steps: tuple[Step, ...]
    chain: tuple[Step, ...] = ()


def _value(name: str, value: Any, minimum: int) -> Value:
    if isinstance(value, bool):
        raise ConfigurationError(f"got {name}={value!r}; {name} must be an integer >= {minimum}")
    if isinstance(value, numbers.Integral) or (isinstance(value, sympy.Basic)
                                                and value.is_Integer):
        v = int(value)  # type: ignore[arg-type]
        if v < minimum:
            raise ConfigurationError(f"got {name}={v}; {name} must be an integer >= {minimum}")
        return v
    if isinstance(value, sympy.Expr) and value.free_symbols and value.is_integer is not False:
        if (value - minimum).is_negative:
            raise ConfigurationError(
                f"got {name}={value}; {name} must be an integer >= {minimum}")
        return value
    raise ConfigurationError(
        f"got {name}={value!r}; {name} must be an integer >= {minimum} or a SymPy expression")


def _per_axis(name: str, value: Any, dims: int, default: Any, minimum: int) -> tuple[Value, ...]:
    if value is None:
        value = default
    if isinstance(value, (tuple, list)):
        if len(value) != dims:
            raise ConfigurationError(
                f"got {name}={tuple(value)!r}; expected {dims} value(s), one per spatial axis")
        return tuple(_value(name, v, minimum) for v in value)
    return tuple(_value(name, value, minimum) for _ in range(dims))


def _maths(value: Any) -> str:
    """``value`` as inline mathematics of a justification: ``$...$`` around its text in the
    claim language (a relation's ``==`` as ``=``; a string is taken as written).

    >>> _maths(sympy.Symbol("S") * I_), _maths(sympy.Eq(U_, 0)), _maths("i_max + 1")
    ('$S*i$', '$u = 0$', '$i_max + 1$')
    """
    if isinstance(value, str):
        return f"${value}$"
    if isinstance(value, sympy.Rel):
        ops = {"==": "=", "!=": "!=", "<=": "<=", ">=": ">=", "<": "<", ">": ">"}
        return f"${sympy.sstr(value.lhs)} {ops[value.rel_op]} {sympy.sstr(value.rhs)}$"
    return f"${sympy.sstr(value)}$"


def _is_num(v: Any) -> bool:
    return isinstance(v, int)


@dataclass(frozen=True)
class ConvModel:
    """A 1D or 2D grouped, strided, padded, dilated cross-correlation as an indexed sum.

    Build one with :func:`conv_model`.  ``expr`` is the right-hand side of
    ``y[n, o, i(, j)] = expr``; :attr:`equation` is the whole equation.
    """

    dims: int
    batch: Value
    in_channels: Value
    out_channels: Value
    groups: Value
    size: tuple[Value, ...]
    kernel: tuple[Value, ...]
    stride: tuple[Value, ...]
    padding: tuple[Value, ...]
    dilation: tuple[Value, ...]
    bias: bool
    expr: sympy.Expr = field(repr=False)

    # the arrays, as SymPy IndexedBase objects
    x = sympy.IndexedBase("x")
    x_pad = sympy.IndexedBase("x_pad")
    w = sympy.IndexedBase("w")
    b = sympy.IndexedBase("b")
    y = sympy.IndexedBase("y")

    # ------------------------------------------------------------------ structure
    @property
    def out_indices(self) -> tuple[sympy.Symbol, ...]:
        """``(n, o, i)`` or ``(n, o, i, j)``."""
        return (N_, O_) + SPATIAL_OUT[: self.dims]

    @property
    def equation(self) -> sympy.Eq:
        """``Eq(y[n, o, i, j], b[o] + Sum(...))``."""
        return sympy.Eq(self.y[self.out_indices], self.expr, evaluate=False)

    @property
    def sum(self) -> sympy.Sum:
        """The ``Sum`` part of the model (channels and kernel taps)."""
        sums = [a for a in sympy.Add.make_args(self.expr) if isinstance(a, sympy.Sum)]
        if len(sums) != 1:  # pragma: no cover - guarded by construction
            raise UnsupportedError("the model must contain exactly one Sum")
        return sums[0]

    def limits(self) -> dict[sympy.Symbol, tuple[Value, Value]]:
        """Summation variable -> (first, last) value, read from the Sum."""
        return {lim[0]: (lim[1], lim[2]) for lim in self.sum.limits}

    def padded_access(self) -> sympy.Indexed:
        """The ``x_pad[...]`` term inside the sum."""
        hits = [a for a in self.sum.function.atoms(sympy.Indexed) if a.base == self.x_pad]
        if len(hits) != 1:  # pragma: no cover - guarded by construction
            raise UnsupportedError("the model must read x_pad exactly once")
        return hits[0]

    def padded_size(self, axis: int) -> Value:
        """Length ``H + 2P`` of the padded input along spatial ``axis``."""
        return self.size[axis] + 2 * self.padding[axis]

    def window_index(self, axis: int = 0) -> sympy.Expr:
        """The padded-input position read along ``axis``, e.g. ``D*u + S*i``.

        >>> conv_model(2).window_index(1)
        D*v + S*j
        """
        self._check_axis(axis)
        return self.padded_access().indices[2 + axis]

    def axis_view(self, axis: int = 0) -> sympy.Eq:
        """The model along one axis for one channel: ``y[i] = Sum_u w[u] x_pad[S i + D u]``.

        Built from the model's own index expression and tap limits.

        >>> conv_model(1).axis_view(0)
        Eq(y[i], Sum(w[u]*x_pad[D*u + S*i], (u, 0, K - 1)))
        """
        idx = self.window_index(axis)
        tap = TAPS[axis]
        lo, hi = self.limits()[tap]
        return sympy.Eq(self.y[SPATIAL_OUT[axis]],
                        sympy.Sum(self.w[tap] * self.x_pad[idx], (tap, lo, hi)),
                        evaluate=False)

    def padding_rule(self) -> sympy.Eq:
        """Definition of ``x_pad`` from ``x``: shifted by ``P``, zero outside the input."""
        pos = SPATIAL_OUT[: self.dims]
        inside = sympy.And(*[sympy.And(self.padding[a] <= pos[a],
                                       pos[a] <= self.size[a] + self.padding[a] - 1)
                             for a in range(self.dims)])
        shifted = self.x[(N_, C_) + tuple(pos[a] - self.padding[a] for a in range(self.dims))]
        return sympy.Eq(self.x_pad[(N_, C_) + pos],
                        sympy.Piecewise((shifted, inside), (0, True)), evaluate=False)

    def _check_axis(self, axis: int) -> None:
        if not isinstance(axis, int) or not 0 <= axis < self.dims:
            raise ConfigurationError(
                f"got axis={axis!r}; axis must be 0{' or 1' if self.dims == 2 else ''}")

    # ------------------------------------------------------------------ derived sizes
    def derive_output_size(self, axis: int = 0) -> OutputSizeDerivation:
        """Count the output positions whose window lies inside the padded input.

        The window of output ``i`` reads ``idx(i, u)`` for every tap ``u`` in the Sum's
        range.  ``idx`` is linear in ``i`` and ``u`` with positive coefficients, so the
        window is inside iff its first tap is ``>= 0`` and its last tap is ``<= H + 2P - 1``;
        solving the second for the integer ``i`` gives the largest index.

        >>> d = conv_model(1).derive_output_size()
        >>> d.count
        floor((-D*K + D + H + 2*P - 1)/S) + 1
        """
        self._check_axis(axis)
        idx = self.window_index(axis)
        out = SPATIAL_OUT[axis]
        tap = TAPS[axis]
        lo, hi = self.limits()[tap]
        a = sympy.diff(idx, out)
        t = sympy.diff(idx, tap)
        if (a.free_symbols & {out, tap}) or (t.free_symbols & {out, tap}):
            raise UnsupportedError(f"window index {idx} is not linear in {out} and {tap}")
        if a.is_positive is not True or t.is_positive is not True:
            raise UnsupportedError(
                f"cannot tell that the window index {idx} increases with {out} and {tap}")
        n_pad = self.padded_size(axis)
        last_tap = idx.subs(tap, hi)
        first_tap = idx.subs(tap, lo)
        rest = sympy.expand(last_tap - a * out)
        bound = (n_pad - 1 - rest) / a
        last = sympy.floor(bound)
        first_rest = sympy.expand(first_tap - a * out)
        first = sympy.ceiling(-first_rest / a)
        if first.is_nonpositive:
            first = sympy.Integer(0)  # output indices start at 0
        else:  # pragma: no cover - the model always starts its windows at 0
            raise UnsupportedError(f"first valid index {first} is not 0")
        count = last - first + 1
        k_hi = hi
        m = _maths
        first_at, last_at = (m(f"{tap} = {sympy.sstr(e)}") for e in (lo, k_hi))
        steps = [
            Step(self.axis_view(axis),
                 f"the model along axis {axis}: output {m(out)} reads the padded input at "
                 f"{m(idx)} for the taps {m(tap)} from {m(lo)} to {m(k_hi)}"),
            Step(sympy.And(sympy.Le(0, first_tap, evaluate=False),
                           sympy.Le(last_tap, n_pad - 1, evaluate=False)),
                 f"the window is valid when its first tap (at {first_at}) and its last tap "
                 f"(at {last_at}) lie in the padded input, positions {m(0)} to "
                 f"{m(n_pad - 1)}; the index grows with {m(tap)} because its coefficient "
                 f"{m(t)} is positive"),
            Step(sympy.Le(out, bound, evaluate=False),
                 f"the first tap is at least {m(0)} for every {m(f'{out} >= 0')}; solve the "
                 f"last-tap condition for {m(out)}, dividing by {m(f'{sympy.sstr(a)} > 0')}"),
            Step(sympy.Eq(sympy.Symbol(f"{out}_max"), last, evaluate=False),
                 f"the largest integer {m(out)} allowed"),
            Step(count, f"the valid outputs are {m(out)} from {m(0)} to {m(f'{out}_max')}"),
        ]
        chain = [
            Step(sympy.Sum(sympy.Integer(1), (out, first, last)),
                 f"count the outputs {m(out)} from {m(0)} to {m(f'{out}_max')}: by the model, "
                 f"output {m(out)} reads the padded input at {m(idx)} for the taps {m(tap)} "
                 f"from {m(lo)} to {m(k_hi)}; its last tap {m(last_tap)} must be at most "
                 f"{m(n_pad - 1)} (the padded input has {m(n_pad)} positions), so "
                 f"{m(f'{out}_max = {sympy.sstr(last)}')}"),
            Step(count, f"a sum of ones over {m(out)} from {m(0)} to {m(f'{out}_max')} has "
                        f"{m(f'{out}_max + 1')} terms"),
        ]
        if _is_num(count) or (isinstance(count, sympy.Basic) and count.is_Integer):
            if int(count) < 1:
                raise ConfigurationError(
                    f"got kernel={self.kernel[axis]} (dilation={self.dilation[axis]}) on "
                    f"n={self.size[axis]} with padding={self.padding[axis]}: no window fits "
                    "inside the padded input")
            count = int(count)
            last = int(last)
            chain[-1] = Step(count, chain[-1].why)
        return OutputSizeDerivation(count, last, tuple(steps), tuple(chain))

    @property
    def output_shape(self) -> tuple[Value, ...]:
        """``(batch, out_channels, *spatial output sizes)``, derived from the model."""
        spatial = tuple(self.derive_output_size(a).count for a in range(self.dims))
        return (self.batch, self.out_channels) + spatial

    @property
    def input_shape(self) -> tuple[Value, ...]:
        return (self.batch, self.in_channels) + self.size

    @property
    def weight_shape(self) -> tuple[Value, ...]:
        """``(C_out, C_in/G, K, ...)`` as in PyTorch."""
        return (self.out_channels, _div(self.in_channels, self.groups)) + self.kernel

    # ------------------------------------------------------------------ concrete sums
    def _numbers(self) -> dict[str, int]:
        values = {"batch": self.batch, "in_channels": self.in_channels,
                  "out_channels": self.out_channels, "groups": self.groups}
        for a in range(self.dims):
            for name in ("size", "kernel", "stride", "padding", "dilation"):
                values[f"{name}[{a}]"] = getattr(self, name)[a]
        bad = {k: v for k, v in values.items() if not _is_num(v)}
        if bad:
            raise ConfigurationError(
                "expanding the model needs concrete sizes; got symbolic "
                + ", ".join(f"{k}={v}" for k, v in sorted(bad.items())))
        return values  # type: ignore[return-value]

    def expand(self, at: Sequence[int]) -> sympy.Expr:
        """The explicit sum for output ``y[at]`` (concrete sizes only).

        The Sum is evaluated term by term and every ``x_pad`` entry is replaced by the
        matching ``x`` entry or by 0 in the padding (:meth:`padding_rule`).
        """
        self._numbers()
        at = tuple(int(v) for v in at)
        shape = self.output_shape
        if len(at) != len(shape) or any(not 0 <= v < s for v, s in zip(at, shape)):
            raise ConfigurationError(f"got at={at}; output indices must lie in shape {shape}")
        point = dict(zip(self.out_indices, (sympy.Integer(v) for v in at)))
        # evaluate the Sum term by term over its (now concrete) limits
        function = self.sum.function.xreplace(point)
        ranges = []
        for var, lo, hi in self.sum.limits:
            lo, hi = as_expr(lo).xreplace(point), as_expr(hi).xreplace(point)
            ranges.append([(var, sympy.Integer(v)) for v in range(int(lo), int(hi) + 1)])
        terms = [function.xreplace(dict(combo)) for combo in itertools.product(*ranges)]
        body = sympy.Add(*terms)
        if self.bias:
            body = self.b[point[O_]] + body
        return body.xreplace(self._unpad_map(body))

    def _unpad_map(self, expr: sympy.Expr) -> dict[sympy.Indexed, Any]:
        mapping: dict[sympy.Indexed, Any] = {}
        for ref in expr.atoms(sympy.Indexed):
            if ref.base != self.x_pad:
                continue
            n, c, *pos = (int(v) for v in ref.indices)
            shifted = [p - self.padding[a] for a, p in enumerate(pos)]
            if all(0 <= q < self.size[a] for a, q in enumerate(shifted)):  # type: ignore[operator]
                mapping[ref] = self.x[(n, c) + tuple(shifted)]
            else:
                mapping[ref] = sympy.Integer(0)
        return mapping

    def expand_all(self) -> dict[tuple[int, ...], sympy.Expr]:
        """Every output entry as an explicit sum (concrete sizes only)."""
        shape = self.output_shape
        return {at: self.expand(at) for at in itertools.product(*(range(s) for s in shape))}

    def evaluate(self, x: Any, w: Any, b: Any = None) -> Any:
        """The output as a NumPy object array, by substituting values into the expanded
        sums (exact for integer or rational inputs).  Shapes as in PyTorch: ``x`` is
        ``input_shape``, ``w`` is ``weight_shape``, ``b`` has ``out_channels`` entries."""
        import numpy as np

        self._numbers()
        xa, wa = np.asarray(x, dtype=object), np.asarray(w, dtype=object)
        if xa.shape != self.input_shape:
            raise ConfigurationError(f"got x of shape {xa.shape}; expected {self.input_shape}")
        if wa.shape != self.weight_shape:
            raise ConfigurationError(f"got w of shape {wa.shape}; expected {self.weight_shape}")
        values: dict[Any, Any] = {}
        for arr, base in ((xa, self.x), (wa, self.w)):
            for pos in itertools.product(*(range(s) for s in arr.shape)):
                values[base[pos]] = as_expr(arr[pos]) if not isinstance(
                    arr[pos], sympy.Basic) else arr[pos]
        if self.bias:
            ba = np.zeros(self.out_channels, dtype=object) if b is None else np.asarray(
                b, dtype=object)
            if ba.shape != (self.out_channels,):
                raise ConfigurationError(
                    f"got b of shape {ba.shape}; expected ({self.out_channels},)")
            for o in range(self.out_channels):  # type: ignore[arg-type]
                values[self.b[o]] = ba[o]
        out = np.empty(self.output_shape, dtype=object)
        for at, e in self.expand_all().items():
            out[at] = e.xreplace(values)
        return out


def _div(a: Value, b: Value) -> Value:
    if _is_num(a) and _is_num(b):
        return a // b  # type: ignore[operator]
    return a / b


def conv_model(dims: int = 2, *, size: Any = None, kernel: Any = None, stride: Any = None,
               padding: Any = None, dilation: Any = None, batch: Any = None,
               in_channels: Any = None, out_channels: Any = None, groups: Any = 1,
               bias: bool = True) -> ConvModel:
    """Build the indexed-sum model; omitted quantities are the standard symbols.

    Defaults: ``size`` H (1D) or (H, W), ``kernel`` K, ``stride`` S, ``padding`` P,
    ``dilation`` D on every axis, ``batch`` N, ``in_channels`` C_in, ``out_channels`` C_out.

    >>> conv_model(1, groups=sym("G")).equation
    Eq(y[n, o, i], b[o] + Sum(w[o, c, u]*x_pad[n, C_in*floor(G*o/C_out)/G + c, D*u + S*i], (c, 0, C_in/G - 1), (u, 0, K - 1)))
    """
    if dims not in (1, 2):
        raise ConfigurationError(f"got dims={dims!r}; dims must be 1 or 2")
    size_t = _per_axis("size", size, dims, (sym("H"), sym("W"))[:dims] if size is None
                       else size, 1)
    kernel_t = _per_axis("kernel", kernel, dims, sym("K"), 1)
    stride_t = _per_axis("stride", stride, dims, sym("S"), 1)
    padding_t = _per_axis("padding", padding, dims, sym("P"), 0)
    dilation_t = _per_axis("dilation", dilation, dims, sym("D"), 1)
    n = _value("batch", sym("N") if batch is None else batch, 1)
    cin = _value("in_channels", sym("C_in") if in_channels is None else in_channels, 1)
    cout = _value("out_channels", sym("C_out") if out_channels is None else out_channels, 1)
    g = _value("groups", groups, 1)
    for name, c in (("in_channels", cin), ("out_channels", cout)):
        if _is_num(c) and _is_num(g) and c % g:  # type: ignore[operator]
            raise ConfigurationError(
                f"got {name}={c} with groups={g}; {name} must be divisible by groups")
    for a in range(dims):
        eff = dilation_t[a] * (kernel_t[a] - 1) + 1
        room = size_t[a] + 2 * padding_t[a]
        if as_expr(room - eff).is_negative:
            raise ConfigurationError(
                f"got kernel={kernel_t[a]} (effective width {eff}) wider than the padded "
                f"input {room} on axis {a}; the kernel must fit inside the padded input")
    cin_g = _div(cin, g)
    cout_g = _div(cout, g)
    group_first = cin_g * sympy.floor(O_ / cout_g) if not (_is_num(g) and g == 1) else 0
    taps = TAPS[:dims]
    pos = tuple(stride_t[a] * SPATIAL_OUT[a] + dilation_t[a] * taps[a] for a in range(dims))
    body = ConvModel.w[(O_, C_) + taps] * ConvModel.x_pad[(N_, group_first + C_) + pos]
    limits = [(C_, 0, cin_g - 1)] + [(taps[a], 0, kernel_t[a] - 1) for a in range(dims)]
    expr = sympy.Sum(body, *limits)
    if bias:
        expr = ConvModel.b[O_] + expr
    return ConvModel(dims, n, cin, cout, g, size_t, kernel_t, stride_t, padding_t, dilation_t,
                     bias, expr)
