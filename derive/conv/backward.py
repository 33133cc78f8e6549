"""The backward pass of a convolution, derived from the indexed-sum forward pass.

Design rule: no gradient formula is typed in.  Each one is *derived*: the forward pass of
:mod:`derive.conv.model` is differentiated termwise (``d x[t]/d x[m]`` is a Kronecker
delta), the deltas are summed out and the sums re-indexed, every step by a checked rule of
:mod:`derive.check.reindex`.  The results, for symbolic sizes:

- ``dL/dw[u] = Sum_i g[i] x_pad[S*i + D*u]``: the cross-correlation of the (padded) input
  with the upstream gradient ``g = dL/dy``;
- ``dL/dx[m] = Sum_u w[u] g_s[m + P - D*u]``: the *full convolution* of the stride-dilated
  gradient ``g_s`` (``S - 1`` zeros between entries of ``g``) with ``w``; with the **kernel
  flip** ``u = K - 1 - u'`` it is the cross-correlation of ``g_s`` padded by ``D*(K-1) - P``
  with the flipped kernel ``w[K - 1 - u']`` (channels exchanged in the multi-channel case),
  and it equals ``W_conv^T g`` (:func:`transpose_chain`);
- ``dL/db[o] = Sum_{n, i, j} g[n, o, i, j]``.

Padding enters the derivation as an embedding, ``x_pad[t] = Sum_q [t = q + P] x[q]``,
which equals the model's padding rule (:func:`padding_lemma`, proved by the same rules).

For concrete sizes the derived 2D formulas (batch, channels, stride, dilation, padding) are
instantiated and compared with the Jacobian read off the model (``conv_matrix_2d(...).T``)
for every configuration up to a stated bound (:func:`prove_backward_bounded`), and checked
numerically on larger random ones against :func:`derive.numeric.conv2d_backward`, the
sparse Toeplitz transpose and central finite differences (:func:`check_backward_numeric`).

>>> chain = input_gradient()
>>> chain.proved
True
>>> [s.rule for s in chain.rewrites][-1]
"re-indexing u = K - u' - 1"
"""

from __future__ import annotations

import functools
import itertools
import random
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Sequence

import sympy

from derive.check.reindex import ChainBuilder, CheckedChain, SearchLimits, meet
from derive.check.verdict import Status, Verdict
from derive.conv.model import C_, I_, J_, N_, O_, U_, V_, ConvModel, Step, conv_model
from derive.errors import ConfigurationError, InputError, check_positive_int
from derive.symbols import sym

__all__ = [
    "Forward",
    "JX",
    "axis_forward",
    "backward_steps",
    "bias_gradient",
    "check_backward_numeric",
    "check_gradient_claim",
    "evaluate_expr",
    "forward",
    "gradient_formula",
    "input_gradient",
    "input_gradient_unit_stride",
    "padding_lemma",
    "prove_backward_bounded",
    "transpose_chain",
    "weight_gradient",
]


def _idx(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, integer=True, nonnegative=True)


# index symbols of the derivations (the model's own n, o, i, j, c, u, v are reused)
JX = J_                                     # column index of the 1D Toeplitz matrix
M_, L_ = _idx("m"), _idx("l")               # input position of a gradient entry
Q1, Q2 = _idx("q"), _idx("r")               # positions inside the embedding of the padding
NB, CB = _idx("n'"), _idx("c'")             # batch / input channel of a gradient entry
OB = _idx("o'")                             # output channel of a weight/bias gradient entry
UF, VF = _idx("u'"), _idx("v'")             # flipped taps (input gradient) / taps (weight)

G = sympy.IndexedBase("g")                  # g = dL/dy, the upstream gradient

# cross-check effort: plain 1D/2D are cheap; batch and channels nest many sums
_LIGHT = SearchLimits(bound=4, points=120)
_HEAVY = SearchLimits(bound=2, points=40)


@dataclass(frozen=True)
class Forward:
    """A forward pass read off :func:`derive.conv.model.conv_model`, in the form the
    derivations need.

    ``rhs`` is ``y[out_index]`` (the model's Sum, plus ``b[o]`` with channels);
    ``out_limits`` the ranges of the output indices (output sizes as symbols ``outs``,
    whose values are the model's derived counts); ``padding(*idx)`` the model's padding rule
    for ``x_pad[idx]`` and ``embedding(*idx)`` the same as a sum of Kronecker deltas.
    """

    model: ConvModel
    dims: int
    channels: bool
    out_index: tuple[sympy.Symbol, ...]
    out_limits: tuple[tuple[Any, Any, Any], ...]
    outs: tuple[sympy.Symbol, ...]
    rhs: Any
    padding: Callable[..., Any] = field(repr=False)

    x = ConvModel.x
    x_pad = ConvModel.x_pad
    w = ConvModel.w
    b = ConvModel.b
    g = G

    @property
    def sizes(self) -> tuple[Any, ...]:
        return self.model.size

    @property
    def K(self) -> Any:  # noqa: N802 - the kernel size symbol
        return self.model.kernel[0]

    @property
    def S(self) -> Any:  # noqa: N802
        return self.model.stride[0]

    @property
    def P(self) -> Any:  # noqa: N802
        return self.model.padding[0]

    @property
    def D(self) -> Any:  # noqa: N802
        return self.model.dilation[0]

    # 1D conveniences (single channel)
    @property
    def n(self) -> Any:
        return self.model.size[0]

    @property
    def out(self) -> Any:
        return self.outs[0]

    @property
    def q(self) -> sympy.Symbol:
        return Q1

    @property
    def model_rhs(self) -> Any:
        return self.rhs

    def embedding(self, *idx: Any) -> Any:
        """``x_pad[idx]`` written as ``Sum_q [t = q + P] x[q]`` over each spatial axis."""
        lead, pos = idx[: len(idx) - self.dims], idx[len(idx) - self.dims:]
        qs = (Q1, Q2)[: self.dims]
        body = self.x[tuple(lead) + qs]
        for a in range(self.dims):
            body = sympy.KroneckerDelta(pos[a], qs[a] + self.model.padding[a]) * body
        return sympy.Sum(body, *[(qs[a], 0, self.model.size[a] - 1) for a in range(self.dims)])

    @property
    def embedded(self) -> Any:
        """``rhs`` with every ``x_pad`` entry replaced by its embedding."""
        return self.rhs.replace(lambda e: isinstance(e, sympy.Indexed) and e.base == self.x_pad,
                                lambda e: self.embedding(*e.indices))

    def entry_delta(self, j: Any) -> Any:
        """The 1D Toeplitz entry before its last step, as derived by
        :func:`derive.conv.toeplitz.toeplitz_entry` (``Sum_u w[u] [S i + D u = j + P]``)."""
        from derive.conv.toeplitz import toeplitz_entry
        chain = toeplitz_entry()
        return chain.rewrites[-2].after.xreplace({JX: j})

    def loss_sum(self, body: Any) -> Any:
        """``Sum over the output indices of g[out] * body``."""
        return sympy.Sum(self.g[self.out_index] * body, *self.out_limits)


def _strip(e: Any, lead: int) -> Any:
    """Drop the first ``lead`` indices of every x, x_pad and w entry (single channel view)."""
    bases = (ConvModel.x, ConvModel.x_pad, ConvModel.w)
    return e.replace(lambda q: isinstance(q, sympy.Indexed) and q.base in bases,
                     lambda q: q.base[q.indices[lead:]])


def forward(dims: int = 1, channels: bool = False) -> Forward:
    """The forward pass for symbolic sizes: single channel (``channels=False``: ``y[i] =
    Sum_u w[u] x_pad[S*i + D*u]``, 1D or 2D) or with batch, channels and bias (groups 1).

    >>> forward(1).rhs
    Sum(w[u]*x_pad[D*u + S*i], (u, 0, K - 1))
    >>> forward(2, channels=True).rhs
    b[o] + Sum(w[o, c, u, v]*x_pad[n, c, D*u + S*i, D*v + S*j], (c, 0, C_in - 1), (u, 0, K - 1), (v, 0, K - 1))
    """
    if dims not in (1, 2):
        raise ConfigurationError(f"got dims={dims!r}; dims must be 1 or 2")
    outs = (sym("O"),) if dims == 1 else (sym("O_h"), sym("O_w"))
    spatial = (I_, J_)[:dims]
    if channels:
        model = conv_model(dims, groups=1, bias=True)
        rhs = model.expr
        out_index = (N_, O_) + spatial
        out_limits = ((N_, 0, model.batch - 1), (O_, 0, model.out_channels - 1)) + tuple(
            (spatial[a], 0, outs[a] - 1) for a in range(dims))
    else:
        model = conv_model(dims, batch=1, in_channels=1, out_channels=1, bias=False)
        if dims == 1:
            rhs = model.axis_view(0).rhs
        else:
            s = model.sum
            rhs = _strip(sympy.Sum(s.function.xreplace({C_: 0}), *s.limits[1:]), 2)
        out_index = spatial
        out_limits = tuple((spatial[a], 0, outs[a] - 1) for a in range(dims))
    rule = model.padding_rule()
    pattern = rule.lhs.indices                # (n, c, i[, j])

    def padding(*idx: Any) -> Any:
        full = idx if channels else (N_, C_) + tuple(idx)
        value = rule.rhs.xreplace(dict(zip(pattern, full)))
        return value if channels else _strip(value, 2)

    return Forward(model, dims, channels, out_index, out_limits, outs, rhs, padding)


def axis_forward() -> Forward:
    """The 1D single-channel forward pass (an adapter on the model's :meth:`axis_view`)."""
    return forward(1, channels=False)


def _ranges(fw: Forward, target: str) -> dict:
    size = fw.model.size
    if target == "x":
        pos = (M_, L_)[: fw.dims]
        r = {pos[a]: (0, size[a] - 1) for a in range(fw.dims)}
        if fw.channels:
            r.update({NB: (0, fw.model.batch - 1), CB: (0, fw.model.in_channels - 1)})
        return r
    if target == "w":
        taps = (UF, VF)[: fw.dims]
        r = {taps[a]: (0, fw.model.kernel[a] - 1) for a in range(fw.dims)}
        if fw.channels:
            r.update({OB: (0, fw.model.out_channels - 1), CB: (0, fw.model.in_channels - 1)})
        return r
    return {OB: (0, fw.model.out_channels - 1)}


def _limits(fw: Forward) -> SearchLimits:
    return _HEAVY if (fw.channels or fw.dims == 2) else _LIGHT


def _gs_words(fw: Forward) -> str:
    return ("$g_s$, the upstream gradient with $S - 1$ zeros stuffed between neighbouring "
            "entries (zero outside), read at $m + P - D*u$")


# --------------------------------------------------------------------------- lemmas

@functools.lru_cache(maxsize=None)
def padding_lemma() -> CheckedChain:
    """``Sum_q [t = q + P] x[q]`` equals the model's padding rule for ``x_pad[t]``.

    >>> padding_lemma().proved
    True
    """
    fw = axis_forward()
    t = _idx("t")
    left = ChainBuilder(sympy.Symbol("x_pad[t]"), fw.embedding(t),
                        "the padding as an embedding: $x_pad[t] = x[q]$ where $t = q + P$",
                        {}, limits=_LIGHT)
    left.eliminate(Q1).normalize()
    right = ChainBuilder(sympy.Symbol("x_pad[t]"), fw.padding(t), "the model's padding rule",
                         {}, limits=_LIGHT)
    right.normalize()
    return meet(left.build(), right.build())


# --------------------------------------------------------------------------- derivations

@functools.lru_cache(maxsize=None)
def input_gradient(dims: int = 1, channels: bool = False) -> CheckedChain:
    """Derive ``dL/dx`` from the forward pass, for symbolic sizes.

    The last two steps are the full convolution of the stride-dilated gradient with ``w``
    and, after the kernel flip, the cross-correlation with the flipped kernel.

    >>> c = input_gradient()
    >>> c.result
    Sum(Piecewise((g[(-D*(K - u' - 1) + P + m)/S]*w[K - u' - 1], (-D*(K - u' - 1) + P + m >= 0) & Eq(Mod(-D*(K - u' - 1) + P + m, S), 0) & (S*(O - 1) >= -D*(K - u' - 1) + P + m)), (0, True)), (u', 0, K - 1))
    """
    fw = forward(dims, channels)
    pos = (M_, L_)[:dims]
    lead = (NB, CB) if channels else ()
    wrt = fw.x[lead + pos]
    lhs = sympy.Symbol(f"dL/dx[{', '.join(map(str, lead + pos))}]")
    start = fw.loss_sum(sympy.Derivative(fw.embedded, wrt))
    b = ChainBuilder(lhs, start,
                     "chain rule: $L$ depends on $x$ only through $y$, and $g$ is the "
                     "derivative of $L$ with respect to $y$; the padding is written as an "
                     "embedding (padding lemma)", _ranges(fw, "x"),
                     limits=_limits(fw))
    b.differentiate(note="the bias does not depend on $x$" if channels else "")
    b.merge()
    qs = (Q1, Q2)[:dims]
    if channels:
        b.eliminate(N_, partner=NB).drop()
        b.eliminate(C_, partner=CB).drop()
    for a in range(dims):
        b.eliminate(qs[a], partner=pos[a]).drop()
    outs = (I_, J_)[:dims]
    for a in range(dims):
        note = ""
        if a == dims - 1:
            note = (("along each axis " if dims == 2 else "")
                    + "this is $Sum(w[u]*g_s[m + P - D*u], (u, 0, K - 1))$: the full "
                    "convolution of the stride-dilated upstream gradient $g_s$ ($S - 1$ zeros "
                    "between entries of $g$) with the kernel")
        b.eliminate(outs[a], partner=pos[a], note=note)
    taps, flips = (U_, V_)[:dims], (UF, VF)[:dims]
    for a in range(dims):
        note = ""
        if a == dims - 1:
            note = ("the kernel flip: $w[K - 1 - u']$ is the flipped kernel, so the input "
                    "gradient is the cross-correlation of $g_s$, zero-padded by "
                    "$D*(K - 1) - P$ on each side, with the flipped kernel"
                    + (" (input and output channels exchanged)" if channels else ""))
        b.reindex(taps[a], fw.model.kernel[a] - 1 - flips[a], flips[a], note=note)
    b.define(sympy.Eq(sympy.Symbol("g_s[t]"), _gs_definition(fw)), _gs_words(fw))
    return b.build()


def _gs_definition(fw: Forward) -> Any:
    t = _idx("t")
    return sympy.Piecewise((G[t / fw.S], sympy.Eq(sympy.Mod(t, fw.S), 0) & (t >= 0)
                            & (t <= fw.S * (fw.outs[0] - 1))), (0, True))


@functools.lru_cache(maxsize=None)
def weight_gradient(dims: int = 1, channels: bool = False) -> CheckedChain:
    """Derive ``dL/dw``: the cross-correlation of the padded input with ``g``.

    >>> weight_gradient().result
    Sum(g[i]*x_pad[D*u' + S*i], (i, 0, O - 1))
    """
    fw = forward(dims, channels)
    taps = (UF, VF)[:dims]
    lead = (OB, CB) if channels else ()
    wrt = fw.w[lead + taps]
    lhs = sympy.Symbol(f"dL/dw[{', '.join(map(str, lead + taps))}]")
    start = fw.loss_sum(sympy.Derivative(fw.rhs, wrt))
    b = ChainBuilder(lhs, start, "chain rule: $g$ is the derivative of $L$ with respect to "
                     "$y$, and $y$ is linear in $w$",
                     _ranges(fw, "w"), limits=_limits(fw))
    b.differentiate()
    b.merge()
    if channels:
        b.eliminate(O_, partner=OB).drop()
        b.eliminate(C_, partner=CB).drop()
    model_taps = (U_, V_)[:dims]
    for a in range(dims):
        note = ""
        if a == dims - 1:
            note = ("the cross-correlation of the padded input with the upstream gradient "
                    "$g$ ($g$ read with step $S$, the kernel offset $u'$ with step $D$)"
                    + ("; summed over the batch" if channels else ""))
        b.eliminate(model_taps[a], partner=taps[a]).drop(note=note)
    return b.build()


@functools.lru_cache(maxsize=None)
def bias_gradient(dims: int = 2) -> CheckedChain:
    """Derive ``dL/db[o']``: the sum of ``g`` over the batch and the spatial positions.

    >>> bias_gradient(1).result
    Sum(g[n, o', i], (n, 0, N - 1), (i, 0, O - 1))
    """
    fw = forward(dims, channels=True)
    wrt = fw.b[OB]
    start = fw.loss_sum(sympy.Derivative(fw.rhs, wrt))
    b = ChainBuilder(sympy.Symbol("dL/db[o']"), start,
                     "chain rule: $g$ is the derivative of $L$ with respect to $y$",
                     _ranges(fw, "b"), limits=_limits(fw))
    b.differentiate(note="the convolution sum does not depend on $b$")
    b.merge()
    b.eliminate(O_, partner=OB).drop(note="the sum of $g$ over batch and space")
    return b.build()


@functools.lru_cache(maxsize=None)
def input_gradient_unit_stride() -> CheckedChain:
    """``dL/dx[m]`` at stride and dilation 1 with the summation bounds made explicit: the
    derived full convolution (before the flip) specialised to ``S = D = 1``, then the
    ``Piecewise`` turned into limits by the bound-intersection rule:
    ``Sum_{u = max(0, m + P - O + 1)}^{min(K - 1, m + P)} w[u] g[m + P - u]``.

    >>> c = input_gradient_unit_stride()
    >>> c.proved
    True
    >>> c.result
    Piecewise((Sum(g[P + m - u]*w[u], (u, Max(0, -O + P + m + 1), Min(K - 1, P + m))), Min(K - 1, P + m) >= Max(0, -O + P + m + 1)), (0, True))
    """
    fw = axis_forward()
    full = input_gradient().rewrites[-2].after          # before the flip
    start = full.xreplace({fw.S: sympy.Integer(1), fw.D: sympy.Integer(1)})
    b = ChainBuilder(sympy.Symbol("dL/dx[m]"), start,
                     "the derived full convolution at $S = 1$ and $D = 1$ (an identity for all "
                     "$S$ and $D$ holds in particular there)", _ranges(fw, "x"), limits=_LIGHT)
    b.intersect(U_, note="the full convolution of $g$ with $w$, taps clipped to the overlap")
    return b.build()


@functools.lru_cache(maxsize=None)
def transpose_chain() -> CheckedChain:
    """``(W^T g)[m]`` with the Toeplitz entry of :func:`derive.conv.toeplitz.toeplitz_entry`,
    rewritten by the same rules into the flipped form of :func:`input_gradient`: the input
    gradient is the transposed convolution matrix applied to ``g``.

    >>> c = transpose_chain()
    >>> c.proved, c.result == input_gradient().result
    (True, True)
    """
    fw = axis_forward()
    entry = fw.entry_delta(M_)                        # W[i, m]
    start = sympy.Sum(entry * G[I_], (I_, 0, fw.out - 1))
    b = ChainBuilder(sympy.Symbol("(W^T g)[m]"), start,
                     "transpose times vector: entry $m$ of the product is "
                     "$Sum(W[i, m]*g[i], (i, 0, O - 1))$",
                     _ranges(fw, "x"), limits=_LIGHT)
    b.merge()
    b.eliminate(I_, note="the same expression as the derived input gradient before the flip")
    b.reindex(U_, fw.K - 1 - UF, UF, note="the kernel flip")
    return b.build()


def gradient_formula(which: str = "x", dims: int = 1, channels: bool = False) -> Any:
    """The derived gradient (last expression of the chain) for ``which`` in x, w, b."""
    return _chain(which, dims, channels).result


def _chain(which: str, dims: int, channels: bool) -> CheckedChain:
    if which == "x":
        return input_gradient(dims, channels)
    if which == "w":
        return weight_gradient(dims, channels)
    if which == "b":
        return bias_gradient(dims)
    raise InputError(f"got which={which!r}; which must be 'x', 'w' or 'b'")


def backward_steps(which: str = "x", dims: int = 2, channels: bool = False) -> list[Step]:
    """The derivation as ``(expr, why)`` steps for a worked solution (exercise 8.23).

    The first step is the chain rule; every later step is backed by a checked rule (see
    :func:`input_gradient` etc. for the verdicts).

    >>> steps = backward_steps("w", dims=1)
    >>> steps[-1].expr
    Sum(g[i]*x_pad[D*u' + S*i], (i, 0, O - 1))
    """
    return [Step(e, why) for e, why in _chain(which, dims, channels).steps]


# --------------------------------------------------------------------------- claims

def check_gradient_claim(candidate: Any, which: str = "x", *, budget: float | None = None,
                         assume: Sequence[str] = ()) -> Verdict:
    """Check a user's 1D gradient formula against the derived one.

    ``candidate`` is a SymPy expression or claim-language text (read by the whitelist
    parser) in the names of :func:`input_gradient` / :func:`weight_gradient`: arrays
    ``w``, ``g``, ``x`` (``x_pad`` for the weight gradient), sizes ``H``, ``K``, ``S``,
    ``P``, ``D``, the gradient position ``m`` (or ``u'`` written ``up``).  The output size
    ``O`` is replaced by the model's count ``floor((H + 2P - D(K-1) - 1)/S) + 1``.

    >>> check_gradient_claim("Sum(w[u]*g[m - u], (u, Max(0, m - O + 1), Min(K - 1, m)))",
    ...                      assume=["S == 1", "D == 1", "P == 0"]).status.value
    'tested'
    >>> v = check_gradient_claim("Sum(w[u]*g[m + u], (u, Max(0, -m), Min(K - 1, O - 1 - m)))",
    ...                          assume=["S == 1", "D == 1", "P == 0"])
    >>> v.status.value
    'refuted'
    """
    from derive.check.engine import check_exprs
    from derive.check.parse import parse_expression
    from derive.conv.shapes import output_size

    fw = axis_forward()
    derived = _chain(which, 1, False).result
    if isinstance(candidate, str):
        names = {"m": M_, "up": UF, "H": fw.n, "K": fw.K, "S": fw.S, "P": fw.P, "D": fw.D,
                 "O": fw.out}
        expr = parse_expression(candidate, names)
    elif isinstance(candidate, sympy.Basic):
        expr = candidate
    else:
        raise InputError(f"got candidate={candidate!r}; expected text or a SymPy expression")
    count = output_size(fw.n, fw.K, fw.P, fw.S, fw.D)
    lhs = derived.xreplace({fw.out: count})
    rhs = expr.xreplace({fw.out: count})
    fixed: list[Any] = list(assume) + ["H + 2*P >= D*(K - 1) + 1"]
    pos = sympy.Symbol(M_.name if which == "x" else UF.name)   # plain: no early evaluation
    top = sympy.Symbol("H") if which == "x" else sympy.Symbol("K")
    fixed += [sympy.Ge(pos, 0), sympy.Le(pos, top - 1)]
    return check_exprs(lhs, rhs, assume=fixed, budget=budget)


# --------------------------------------------------------------------------- evaluation

class _ArrayInstance:
    """An evaluator instance whose arrays are given (reading outside them is an error)."""

    def __init__(self, values: dict[str, Fraction], arrays: dict[str, Any]) -> None:
        from derive.check.evaluate import Instance

        self._inner = Instance(values, random.Random(0))
        self.values = self._inner.values
        self.exact = self._inner.exact
        self.arrays = arrays

    def indexed(self, base: str, idx: tuple) -> Any:
        arr = self.arrays[base]
        key = tuple(int(i) for i in idx)
        if any(i.denominator != 1 for i in idx) or any(
                not 0 <= k < s for k, s in zip(key, arr.shape)) or len(key) != arr.ndim:
            raise IndexError(f"{base}[{', '.join(map(str, idx))}] is outside the array")
        return arr[key]


def evaluate_expr(expr: Any, sizes: dict[str, int], arrays: dict[str, Any],
                  index: Sequence[sympy.Symbol], shape: Sequence[int]) -> Any:
    """Evaluate a derived expression at every index in ``shape`` with concrete sizes and
    arrays (exact: entries are used as given; integers and Fractions stay exact, SymPy
    symbols give polynomials).  Returns a NumPy object array.

    >>> import numpy as np
    >>> c = input_gradient()
    >>> g = np.array([1, 2, 3], dtype=object); w = np.array([1, 0, -1], dtype=object)
    >>> list(evaluate_expr(c.result, {"K": 3, "S": 1, "P": 0, "D": 1, "O": 3},
    ...                    {"g": g, "w": w}, [M_], [5]))
    [1, 2, 2, -2, -3]
    """
    import numpy as np

    from derive.check.evaluate import compile_expr

    f = compile_expr(expr)
    out = np.empty(tuple(shape), dtype=object)
    vals = {k: Fraction(int(v)) for k, v in sizes.items()}
    names = [s.name for s in index]
    for pos in itertools.product(*(range(s) for s in shape)):
        point = dict(vals)
        point.update({n: Fraction(p) for n, p in zip(names, pos)})
        inst = _ArrayInstance(point, arrays)
        value = f(inst, {})  # type: ignore[arg-type]
        out[pos] = _clean(value)
    return out


def _clean(v: Any) -> Any:
    if isinstance(v, Fraction):
        return int(v) if v.denominator == 1 else v
    if isinstance(v, sympy.Basic):
        return sympy.expand(v)
    return v


# --------------------------------------------------------------------------- bounded proofs

def _sizes_2d(H: int, W: int, K: int, S: int, P: int, D: int, N: int, cin: int, cout: int,
              oh: int, ow: int) -> dict[str, int]:
    return {"H": H, "W": W, "K": K, "S": S, "P": P, "D": D, "N": N, "C_in": cin,
            "C_out": cout, "O_h": oh, "O_w": ow}


def _symbolic_arrays(N: int, cin: int, cout: int, K: int, oh: int, ow: int
                     ) -> tuple[Any, Any]:
    import numpy as np

    w = np.empty((cout, cin, K, K), dtype=object)
    for idx in itertools.product(*(range(s) for s in w.shape)):
        w[idx] = ConvModel.w[idx]
    g = np.empty((N, cout, oh, ow), dtype=object)
    for idx in itertools.product(*(range(s) for s in g.shape)):
        g[idx] = G[idx]
    return w, g


def prove_backward_bounded(max_hw: int = 3, max_k: int = 3, max_s: int = 2, max_d: int = 2,
                           max_p: int = 1, max_c: int = 2, batch: int = 1) -> Verdict:
    """For every 2D configuration up to the bounds (square kernels, ``H, W <= max_hw``,
    in/out channels ``<= max_c``, groups 1), the derived ``dL/dx`` with batch and channels,
    instantiated, equals ``conv_matrix_2d(w).T @ vec(g)`` (the Jacobian read off the model),
    and the derived ``dL/dw`` equals the coefficient of ``w`` in ``g . y``; every entry is
    compared as a polynomial in the entries of ``w``, ``g`` and ``x``.

    >>> v = prove_backward_bounded(2, 2, 2, 1, 1, 1)
    >>> v.status.value, v.method.split(" (")[0]
    ('proved', 'finite expansion for all H, W <= 2, K <= 2, S <= 2, D <= 1, P <= 1, C_in, C_out <= 1, N = 1')
    """
    import numpy as np

    from derive.check.engine import check_exprs
    from derive.conv.toeplitz import conv_matrix_2d

    for name, v in (("max_hw", max_hw), ("max_k", max_k), ("max_s", max_s), ("max_d", max_d),
                    ("max_c", max_c), ("batch", batch)):
        check_positive_int(name, v)
    check_positive_int("max_p", max_p, minimum=0)
    gx = input_gradient(2, channels=True).result
    gw = weight_gradient(2, channels=True).result
    count = 0
    for H, W, K, S, D, P, cin, cout in itertools.product(
            range(1, max_hw + 1), range(1, max_hw + 1), range(1, max_k + 1),
            range(1, max_s + 1), range(1, max_d + 1), range(0, max_p + 1),
            range(1, max_c + 1), range(1, max_c + 1)):
        span = D * (K - 1) + 1
        if span > H + 2 * P or span > W + 2 * P:
            continue
        oh, ow = (H + 2 * P - span) // S + 1, (W + 2 * P - span) // S + 1
        sizes = _sizes_2d(H, W, K, S, P, D, batch, cin, cout, oh, ow)
        w, g = _symbolic_arrays(batch, cin, cout, K, oh, ow)
        derived = evaluate_expr(gx, sizes, {"w": w, "g": g}, [NB, CB, M_, L_],
                                [batch, cin, H, W])
        mat = conv_matrix_2d((H, W), w.tolist(), P, S, D)
        ref = np.empty((batch, cin, H, W), dtype=object)
        for n in range(batch):
            col = mat.T * sympy.ImmutableMatrix(list(g[n].ravel()))
            ref[n] = np.array(list(col), dtype=object).reshape(cin, H, W)
        v = check_exprs(sympy.ImmutableMatrix(list(derived.ravel())),
                        sympy.ImmutableMatrix(list(ref.ravel())))
        if v.status is Status.PROVED:
            v = _check_weight_gradient(gw, sizes, w, g, mat)
        count += 1
        if v.status is not Status.PROVED:
            where = f"H={H}, W={W}, K={K}, S={S}, D={D}, P={P}, C_in={cin}, C_out={cout}"
            return Verdict(v.status, f"at {where}: {v.method}", claim="derived gradients",
                           counterexample=v.counterexample, lhs_value=v.lhs_value,
                           rhs_value=v.rhs_value)
    bounds = (f"H, W <= {max_hw}, K <= {max_k}, S <= {max_s}, D <= {max_d}, P <= {max_p}, "
              f"C_in, C_out <= {max_c}, N = {batch}")
    return Verdict(Status.PROVED,
                   f"finite expansion for all {bounds} ({count} configurations whose kernel "
                   "fits; dL/dx against conv_matrix_2d(w).T @ g and dL/dw against the "
                   "coefficients of g . y, each entry an exact polynomial identity checked by the "
                   "checker)",
                   claim="derived dL/dx and dL/dw (2D, channels, stride, dilation, padding)",
                   instances=count)


def _check_weight_gradient(gw: Any, sizes: dict[str, int], w: Any, g: Any, mat: Any) -> Verdict:
    """dL/dw from the derived formula vs the coefficients of ``w`` in ``g . (W(w) x)``."""
    import numpy as np

    from derive.check.engine import check_exprs

    N, cin, cout, K = sizes["N"], sizes["C_in"], sizes["C_out"], sizes["K"]
    H, W, P = sizes["H"], sizes["W"], sizes["P"]
    xpad = np.empty((N, cin, H + 2 * P, W + 2 * P), dtype=object)
    for idx in itertools.product(*(range(s) for s in xpad.shape)):
        h, ww = idx[2] - P, idx[3] - P
        inside = 0 <= h < H and 0 <= ww < W
        xpad[idx] = ConvModel.x[idx[0], idx[1], h, ww] if inside else sympy.Integer(0)
    derived = evaluate_expr(gw, sizes, {"g": g, "x_pad": xpad}, [OB, CB, UF, VF],
                            [cout, cin, K, K])
    total = sympy.Integer(0)
    for n in range(N):
        xv = sympy.ImmutableMatrix([ConvModel.x[(n,) + idx] for idx in itertools.product(
            range(cin), range(H), range(W))])
        y = mat * xv
        total += sum(gi * yi for gi, yi in zip(g[n].ravel(), y))
    total = sympy.expand(total)
    ref = [total.coeff(ConvModel.w[idx]) for idx in itertools.product(
        range(cout), range(cin), range(K), range(K))]
    return check_exprs(sympy.ImmutableMatrix(list(derived.ravel())), sympy.ImmutableMatrix(ref))


# --------------------------------------------------------------------------- numeric checks

def check_backward_numeric(cases: int = 6, seed: int = 0, *, max_size: int = 9,
                           finite_differences: bool = True) -> Verdict:
    """Random larger 2D cases (batch, channels, groups, stride, dilation, padding): the
    derived formulas evaluated exactly on integer data agree with
    :func:`derive.numeric.conv2d_backward`, with the sparse Toeplitz transpose
    (:func:`derive.numeric.conv2d_matrix`), and with central finite differences.

    >>> check_backward_numeric(1, finite_differences=False, max_size=5).status.value
    'tested'
    """
    import numpy as np

    from derive import numeric

    check_positive_int("cases", cases)
    rng = np.random.default_rng(seed)
    gx_expr = input_gradient(2, channels=True).result
    gw_expr = weight_gradient(2, channels=True).result
    done = 0
    worst = 0.0
    while done < cases:
        H, W = (int(v) for v in rng.integers(3, max_size + 1, size=2))
        K = int(rng.integers(1, 4))
        S, D = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        P = int(rng.integers(0, 3))
        groups = int(rng.choice([1, 2]))
        cin, cout = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
        N = int(rng.integers(1, 3))
        span = D * (K - 1) + 1
        if span > H + 2 * P or span > W + 2 * P:
            continue
        oh, ow = (H + 2 * P - span) // S + 1, (W + 2 * P - span) // S + 1
        x = rng.integers(-4, 5, size=(N, cin, H, W)).astype(float)
        w = rng.integers(-4, 5, size=(cout, cin // groups, K, K)).astype(float)
        g = rng.integers(-4, 5, size=(N, cout, oh, ow)).astype(float)
        gx, gw, gb = numeric.conv2d_backward(x, w, g, stride=S, padding=P, dilation=D,
                                             groups=groups)
        where = (f"N={N}, C_in={cin}, C_out={cout}, groups={groups}, H={H}, W={W}, K={K}, "
                 f"S={S}, D={D}, P={P}")
        # the derived formulas, one group at a time (groups act block-diagonally)
        ref_x = np.zeros_like(gx)
        ref_w = np.zeros_like(gw)
        cg, og = cin // groups, cout // groups
        xpad = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
        for k in range(groups):
            sizes = _sizes_2d(H, W, K, S, P, D, N, cg, og, oh, ow)
            wk = w[k * og:(k + 1) * og].astype(int).astype(object)
            gk = g[:, k * og:(k + 1) * og].astype(int).astype(object)
            xk = xpad[:, k * cg:(k + 1) * cg].astype(int).astype(object)
            ref_x[:, k * cg:(k + 1) * cg] = evaluate_expr(
                gx_expr, sizes, {"w": wk, "g": gk}, [NB, CB, M_, L_], [N, cg, H, W]
            ).astype(float)
            ref_w[k * og:(k + 1) * og] = evaluate_expr(
                gw_expr, sizes, {"g": gk, "x_pad": xk}, [OB, CB, UF, VF], [og, cg, K, K]
            ).astype(float)
        mat = numeric.conv2d_matrix((cin, H, W), w, stride=S, padding=P, dilation=D,
                                    groups=groups)
        via_t = np.stack([(mat.T @ g[n].ravel()).reshape(cin, H, W) for n in range(N)])
        checks = [("derived dL/dx vs numeric.conv2d_backward", ref_x, gx),
                  ("derived dL/dw vs numeric.conv2d_backward", ref_w, gw),
                  ("W^T g (sparse Toeplitz) vs derived dL/dx", via_t, ref_x),
                  ("dL/db vs sum of g", gb, g.sum(axis=(0, 2, 3)))]
        if finite_differences:
            def loss_x(xx: Any) -> float:
                return float((numeric.conv2d(xx, w, stride=S, padding=P, dilation=D,
                                             groups=groups) * g).sum())

            def loss_w(ww: Any) -> float:
                return float((numeric.conv2d(x, ww, stride=S, padding=P, dilation=D,
                                             groups=groups) * g).sum())
            dx = rng.standard_normal(x.shape)
            dw = rng.standard_normal(w.shape)
            fd_x = numeric.directional_derivative(loss_x, x, dx)
            fd_w = numeric.directional_derivative(loss_w, w, dw)
            checks += [("finite difference along a random direction (x)",
                        np.array(fd_x), np.array((ref_x * dx).sum())),
                       ("finite difference along a random direction (w)",
                        np.array(fd_w), np.array((ref_w * dw).sum()))]
        for name, a, b in checks:
            err = float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if np.size(a) else 0.0
            scale = max(1.0, float(np.max(np.abs(b))) if np.size(b) else 1.0)
            tol = 1e-6 * scale if name.startswith("finite") else 1e-9
            if err > tol:
                return Verdict(Status.REFUTED, f"{name} differs by {err:.3g} at {where}",
                               claim="derived backward pass", counterexample={"case": where},
                               lhs_value=err, rhs_value=0, instances=done)
            worst = max(worst, err / scale if name.startswith("finite") else worst)
        done += 1
    return Verdict(Status.TESTED,
                   f"{cases} random cases (sizes up to {max_size}, groups 1 or 2): derived "
                   "formulas evaluated exactly = numeric.conv2d_backward = sparse W^T g"
                   + (f"; finite differences agree (relative error <= {worst:.1e})"
                      if finite_differences else ""),
                   claim="derived backward pass", instances=cases)
