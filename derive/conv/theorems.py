"""Output-size and receptive-field facts stated as checkable theorems.

Design rule: a theorem is data (left side, right side, side conditions, source), its left
side is computed by the engine's own functions (:mod:`derive.conv.shapes`,
:mod:`derive.conv.receptive`, :mod:`derive.conv.model`) and its right side is the published
formula; :meth:`Theorem.check` hands both to the checker.  Nothing here decides truth.

Side conditions that are divisibility statements are expressed by substitution: "``s``
divides ``i + 2p - k``" becomes ``i = s*m + k - 2p`` with ``m >= 0`` (Dumoulin & Visin,
relationship 13).

>>> th = {t.name: t for t in dumoulin_visin_theorems()}
>>> th["DV13"].check().status.value
'proved'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import sympy

from derive.symbols import as_expr

from derive.conv.layers import Layer
from derive.conv.model import conv_model
from derive.conv.receptive import (
    ReceptiveField, receptive_field, repeated_receptive_field, step,
)
from derive.conv.shapes import (
    full_padding, half_padding, output_size, pool_output_size, same_padding,
    transposed_output_size,
)
from derive.symbols import sym

__all__ = [
    "InductionStep",
    "Theorem",
    "check_all",
    "closed_form_induction",
    "common_mistakes",
    "dumoulin_visin_theorems",
    "model_output_size_theorem",
    "padding_and_pooling_theorems",
    "receptive_field_theorems",
    "repeated_layer_theorems",
]

DV = "Dumoulin & Visin (2016), relationship"
ARAUJO = "Araujo, Norris & Sim (Distill, 2019)"


@dataclass(frozen=True)
class Theorem:
    """``lhs == rhs`` under ``assume``, after applying ``substitution`` to both sides.

    ``lhs`` comes from the engine, ``rhs`` is the formula being checked; ``statement`` says
    it in words and ``source`` names where the formula is published.
    """

    name: str
    statement: str
    lhs: Any
    rhs: Any
    assume: tuple[Any, ...] = ()
    source: str = ""
    substitution: tuple[tuple[Any, Any], ...] = ()
    note: str = ""

    def sides(self) -> tuple[Any, Any]:
        """Both sides with the substitution applied."""
        sub = dict(self.substitution)
        lhs = as_expr(self.lhs)
        rhs = as_expr(self.rhs)
        if sub:
            lhs, rhs = lhs.subs(sub), rhs.subs(sub)
        return lhs, rhs

    def check(self, budget: float | None = None) -> Any:
        """The checker's :class:`~derive.check.verdict.Verdict` for this theorem."""
        from derive.check.engine import check_exprs

        lhs, rhs = self.sides()
        return check_exprs(lhs, rhs, assume=self.assume, budget=budget)


def check_all(theorems: Sequence[Theorem], budget: float | None = None) -> list[tuple[Theorem, Any]]:
    """``[(theorem, verdict), ...]`` in order."""
    return [(t, t.check(budget)) for t in theorems]


# --------------------------------------------------------------------------- the model

def model_output_size_theorem(dims: int = 2, axis: int = 0) -> Theorem:
    """The count derived from the indexed-sum model equals :func:`output_size`'s form.

    >>> model_output_size_theorem().check().proved
    True
    """
    model = conv_model(dims)
    derived = model.derive_output_size(axis).count
    n, k, p, s, d = (model.size[axis], model.kernel[axis], model.padding[axis],
                     model.stride[axis], model.dilation[axis])
    return Theorem(
        "model-output-size",
        "the number of output positions whose window lies inside the padded input, derived "
        "from the indexed-sum model, equals floor((H + 2P - D(K-1) - 1)/S) + 1",
        derived, output_size(n, k, p, s, d),
        assume=(f"{n} + 2*{p} >= {d}*({k} - 1) + 1",),
        source="PyTorch's Conv2d shape rule")


# --------------------------------------------------------------------------- Dumoulin & Visin

def dumoulin_visin_theorems() -> list[Theorem]:
    """The 15 relationships of Dumoulin & Visin, plus the direct-convolution equivalents of
    the transposed cases, each stated on the engine's size functions.

    Names are ``DV1`` .. ``DV15`` (``DV8d`` etc. for the equivalent direct convolution).

    >>> [t.name for t in dumoulin_visin_theorems()][:4]
    ['DV1', 'DV2', 'DV3', 'DV4']
    """
    i, k, s, p, d, m, a = (sym(x) for x in ("i", "k", "s", "p", "d", "m", "a"))
    n = sym("n", nonnegative=True)
    it = sympy.Symbol("i'", integer=True, positive=True)   # input of the transposed conv
    T: list[Theorem] = []

    def add(name: str, statement: str, lhs: Any, rhs: Any, assume: Sequence[Any] = (),
            substitution: Sequence[tuple[Any, Any]] = (), note: str = "") -> None:
        number = "".join(ch for ch in name[2:] if ch.isdigit())
        T.append(Theorem(name, statement, lhs, rhs, tuple(assume), f"{DV} {number}",
                         tuple(substitution), note))

    add("DV1", "no padding, unit stride: o = (i - k) + 1",
        output_size(i, k), (i - k) + 1, ["i >= k"])
    add("DV2", "padding p, unit stride: o = (i - k) + 2p + 1",
        output_size(i, k, p), (i - k) + 2 * p + 1, ["i + 2*p >= k"])
    add("DV3", "half (same) padding k = 2n + 1, p = n, unit stride: o = i",
        output_size(i, 2 * n + 1, n), i, ["n >= 0"])
    add("DV4", "full padding p = k - 1, unit stride: o = i + (k - 1)",
        output_size(i, k, k - 1), i + (k - 1))
    add("DV5", "no padding, stride s: o = floor((i - k)/s) + 1",
        output_size(i, k, 0, s), sympy.floor((i - k) / s) + 1, ["i >= k"])
    add("DV6", "padding p, stride s: o = floor((i + 2p - k)/s) + 1",
        output_size(i, k, p, s), sympy.floor((i + 2 * p - k) / s) + 1, ["i + 2*p >= k"])
    add("DV7", "pooling, no padding, stride s: o = floor((i - k)/s) + 1",
        pool_output_size(i, k, 0, s), sympy.floor((i - k) / s) + 1, ["i >= k"])
    add("DV8", "transpose of (s = 1, p = 0): o' = i' + (k - 1)",
        transposed_output_size(it, k), it + (k - 1))
    add("DV8d", "transpose of (s = 1, p = 0) as a direct convolution with p' = k - 1",
        output_size(it, k, k - 1), it + (k - 1))
    add("DV9", "transpose of (s = 1, p): o' = i' + (k - 1) - 2p",
        transposed_output_size(it, k, p), it + (k - 1) - 2 * p,
        [sympy.Ge(it + k - 1 - 2 * p, 1)])
    add("DV9d", "transpose of (s = 1, p) as a direct convolution with p' = k - p - 1",
        output_size(it, k, k - p - 1), it + (k - 1) - 2 * p,
        ["p <= k - 1", sympy.Ge(it + k - 1 - 2 * p, 1)])
    add("DV10", "transpose of half padding (k = 2n + 1, p = n): o' = i'",
        transposed_output_size(it, 2 * n + 1, n), it, ["n >= 0"])
    add("DV10d", "transpose of half padding as a direct convolution with p' = k - p - 1 = n",
        output_size(it, 2 * n + 1, n), it, ["n >= 0"])
    add("DV11", "transpose of full padding (p = k - 1): o' = i' - (k - 1)",
        transposed_output_size(it, k, k - 1), it - (k - 1), [sympy.Ge(it, k)])
    add("DV11d", "transpose of full padding as a direct convolution with p' = 0",
        output_size(it, k), it - (k - 1), [sympy.Ge(it, k)])
    add("DV12", "transpose of (p = 0, s) when s divides i - k: o' = s(i' - 1) + k, and the "
        "transposed convolution gives back the input size i",
        transposed_output_size(output_size(i, k, 0, s), k, 0, s), i, ["m >= 0"],
        [(i, s * m + k)],
        note="divisibility by substitution: i = s*m + k; then i' = m + 1 and o' = s*m + k")
    add("DV12f", "transpose of (p = 0, s): o' = s(i' - 1) + k",
        transposed_output_size(it, k, 0, s), s * (it - 1) + k)
    add("DV13", "transpose of (p, s) when s divides i + 2p - k: the transposed convolution "
        "gives back i, o' = s(i' - 1) + k - 2p",
        transposed_output_size(output_size(i, k, p, s), k, p, s), i,
        ["m >= 0", "s*m + k - 2*p >= 1"], [(i, s * m + k - 2 * p)],
        note="divisibility by substitution: i = s*m + k - 2p")
    add("DV13f", "transpose of (p, s): o' = s(i' - 1) + k - 2p",
        transposed_output_size(it, k, p, s), s * (it - 1) + k - 2 * p,
        [sympy.Ge(s * (it - 1) + k - 2 * p, 1)])
    add("DV14", "transpose, general: with a = (i + 2p - k) mod s as output padding the "
        "transposed convolution gives back i, o' = s(i' - 1) + a + k - 2p",
        transposed_output_size(output_size(i, k, p, s), k, p, s,
                               output_padding=sympy.Mod(i + 2 * p - k, s)), i,
        ["i + 2*p >= k"])
    add("DV14r", "transpose, general, remainder written out: i = s*m + a + k - 2p with "
        "0 <= a <= s - 1",
        transposed_output_size(output_size(i, k, p, s), k, p, s, output_padding=a), i,
        ["m >= 0", "a >= 0", "a <= s - 1", "s*m + a + k - 2*p >= 1"],
        [(i, s * m + a + k - 2 * p)],
        note="needs floor((s*m + a)/s) = m for 0 <= a < s")
    add("DV15", "dilation d: o = floor((i + 2p - k - (k - 1)(d - 1))/s) + 1",
        output_size(i, k, p, s, d),
        sympy.floor((i + 2 * p - k - (k - 1) * (d - 1)) / s) + 1,
        ["i + 2*p >= k + (k - 1)*(d - 1)"])
    return T


# --------------------------------------------------------------------------- padding, pooling

def padding_and_pooling_theorems() -> list[Theorem]:
    """Full, half and ``SAME`` padding, and PyTorch's pooling rules, as theorems.

    >>> {t.name: t.check().status.value for t in padding_and_pooling_theorems()}["pool-ceil-rounding"]
    'proved'
    """
    n, k, s, d = (sym(x) for x in ("n", "k", "s", "d"))
    p = sym("p", nonnegative=True)
    m = sym("m", nonnegative=True)
    left, right = same_padding(n, k, s)
    eff = d * (k - 1) + 1
    return [
        Theorem("full-padding",
                "full padding p = d(k - 1) at stride 1 gives o = n + d(k - 1): every partial "
                "overlap of the dilated kernel with the input is an output",
                output_size(n, k, full_padding(k, d), 1, d), n + d * (k - 1)),
        Theorem("half-padding",
                "half padding floor(d(k - 1)/2) keeps the size at stride 1 for odd kernels "
                "(k = 2m + 1)",
                output_size(n, 2 * m + 1, half_padding(2 * m + 1, d), 1, d), n),
        Theorem("same-padding",
                "TensorFlow's SAME padding (total (ceil(n/s) - 1)s + k - n, non-negative when "
                "k >= s) gives ceil(n/s) outputs",
                output_size(n + left + right, k, 0, s), sympy.ceiling(n / s), ("k >= s",),
                note="padding enters only through n + (left + right)"),
        Theorem("pool-floor",
                "pooling without ceil_mode follows the convolution rule",
                pool_output_size(n, k, p, s, d), output_size(n, k, p, s, d),
                ("n + 2*p >= d*(k - 1) + 1",)),
        Theorem("pool-ceil-rounding",
                "PyTorch's ceil_mode count before the last-window check, floor((n + 2p - "
                "d(k - 1) - 1 + (s - 1))/s) + 1, is the rounded-up division",
                sympy.floor((n + 2 * p - eff + s - 1) / s) + 1,
                sympy.ceiling((n + 2 * p - eff) / s) + 1, ("n + 2*p >= d*(k - 1) + 1",),
                source="PyTorch pooling_output_shape"),
        Theorem("pool-ceil-no-drop",
                "without padding and with k >= s, ceil_mode never drops the last window: "
                "o = ceil((n - k)/s) + 1",
                pool_output_size(n, k, 0, s, ceil_mode=True), sympy.ceiling((n - k) / s) + 1,
                ("k >= s", "n >= k"), source="PyTorch pooling_output_shape"),
    ]


# --------------------------------------------------------------------------- receptive fields

def _chain_symbols(depth: int) -> list[tuple[sympy.Symbol, sympy.Symbol, sympy.Symbol]]:
    return [(sym(f"k{l}"), sym(f"s{l}"), sym(f"p{l}", nonnegative=True))
            for l in range(1, depth + 1)]


def _closed_forms(params: Sequence[tuple[Any, Any, Any]]) -> ReceptiveField:
    """Araujo's closed forms, written as the published sums over layers 1..L."""
    L = len(params)
    prod = lambda upto: sympy.Mul(*[params[i][1] for i in range(upto)])  # noqa: E731
    size = 1 + sum(((params[l][0] - 1) * prod(l) for l in range(L)), sympy.Integer(0))
    start = sum((params[l][2] * prod(l) for l in range(L)), sympy.Integer(0))
    return ReceptiveField(size, prod(L), start)


def receptive_field_theorems(depths: Sequence[int] = (1, 2, 3, 4)) -> list[Theorem]:
    """Recurrence (:func:`receptive_field`) against Araujo's closed forms, the backward
    recurrence and the centre formula, for chains of the given depths with symbolic
    per-layer kernel ``k_l``, stride ``s_l`` and padding ``p_l``.

    >>> all(t.check().proved for t in receptive_field_theorems((2,)))
    True
    """
    out: list[Theorem] = []
    f = sym("f", nonnegative=True)
    for L in depths:
        params = _chain_symbols(L)
        layers = [Layer("conv", kernel=k, stride=s, padding=p) for k, s, p in params]
        rec = receptive_field(layers)
        closed = _closed_forms(params)
        for field_name, what in (("size", "r0 = 1 + sum (k_l - 1) prod_{i<l} s_i"),
                                 ("jump", "S0 = prod s_l"),
                                 ("start", "P0 = sum p_l prod_{i<l} s_i")):
            out.append(Theorem(
                f"RF-{field_name}-L{L}",
                f"{L} layers: the recurrence's {field_name} equals the closed form {what}",
                getattr(rec, field_name), getattr(closed, field_name), (), ARAUJO))
        # Araujo's backward recurrence, from the output (r = 1, S = 1, P = 0) to the input
        r_b, j_b, p_b = sympy.Integer(1), sympy.Integer(1), sympy.Integer(0)
        for k, s, p in reversed(params):
            r_b, j_b, p_b = s * r_b + (k - s), s * j_b, s * p_b + p
        out.append(Theorem(
            f"RF-backward-L{L}",
            f"{L} layers: the backward recurrence r_in = s r_out + (k - s), from the output "
            "to the input, gives the same size as the forward recurrence",
            rec.size, r_b, (), ARAUJO))
        out.append(Theorem(
            f"RF-backward-padding-L{L}",
            f"{L} layers: the backward recurrence P_in = s P_out + p gives the same start",
            rec.start, p_b, (), ARAUJO))
        # centre: compose the per-layer maps "output f -> centre of its window"
        c = f
        for k, s, p in reversed(params):
            c = -p + s * c + sympy.Rational(1, 2) * (k - 1)
        out.append(Theorem(
            f"RF-center-L{L}",
            f"{L} layers: composing each layer's map f -> -p + f s + (k - 1)/2 gives the "
            "centre -P0 + f S0 + (r0 - 1)/2",
            rec.center(f), c, (), ARAUJO))
    return out


def repeated_layer_theorems() -> list[Theorem]:
    """For ``L`` identical layers (symbolic depth): the summation result of
    :func:`repeated_receptive_field` satisfies the recurrence step and the base case, and
    equals Araujo's sum; stride ``s >= 2`` (geometric) and stride 1 (linear) separately.

    >>> [t.check().status.value for t in repeated_layer_theorems()][:3]
    ['proved', 'proved', 'proved']
    """
    L = sym("L", nonnegative=True)
    k, s = sym("k"), sym("s")
    p = sym("p", nonnegative=True)
    l = sympy.Symbol("l", integer=True, positive=True)
    out: list[Theorem] = []
    cases = (("s>=2", s, ["s >= 2"], "geometric sum"),
             ("s=1", sympy.Integer(1), [], "linear"))
    for tag, stride, assume, how in cases:
        rf = repeated_receptive_field(L, k, stride, p)
        size, start = _branch(rf.size, stride), _branch(rf.start, stride)
        jump = rf.jump
        nxt = step(ReceptiveField(size, jump, start), k, stride, p)
        for name, closed, stepped in (("size", size, nxt.size), ("jump", jump, nxt.jump),
                                      ("start", start, nxt.start)):
            out.append(Theorem(
                f"RF-repeat-{name}-step-{tag}",
                f"L identical layers ({how}, {tag}): the closed-form {name} at depth L + 1 "
                "equals one recurrence step applied to depth L",
                as_expr(closed).subs(L, L + 1), stepped, tuple(assume), ARAUJO))
            out.append(Theorem(
                f"RF-repeat-{name}-base-{tag}",
                f"L identical layers ({tag}): at depth 0 the closed-form {name} is the "
                "input's own field",
                as_expr(closed).subs(L, 0), getattr(ReceptiveField(1, 1, 0), name),
                tuple(assume),
                ARAUJO))
        out.append(Theorem(
            f"RF-repeat-size-sum-{tag}",
            f"L identical layers ({tag}): the size equals Araujo's sum "
            "1 + sum_{l=1..L} (k - 1) s^(l-1)",
            1 + sympy.Sum((k - 1) * stride ** (l - 1), (l, 1, L)), size, tuple(assume),
            ARAUJO))
    return out


def _branch(expr: Any, stride: Any) -> Any:
    """The general (stride != 1) branch of a Piecewise closed form; other values as is."""
    if isinstance(expr, sympy.Piecewise) and stride != 1:
        for value, cond in expr.args:
            if cond is sympy.true:
                return value
    return expr


@dataclass(frozen=True)
class InductionStep:
    """One step of a proof by induction: what is claimed, why, and the checker's verdict
    (``None`` for a step that holds by definition)."""

    statement: str
    why: str
    verdict: Any = None


def closed_form_induction() -> list[InductionStep]:
    """Proof, for every depth ``L``, that Araujo's closed forms satisfy the recurrence.

    With ``R(L) = 1 + Sum_{l=1}^{L} (k_l - 1) Prod_{i=1}^{l-1} s_i``,
    ``J(L) = Prod_{i=1}^{L} s_i`` and ``Q(L) = Sum_{l=1}^{L} p_l Prod_{i=1}^{l-1} s_i``:
    base case ``L = 0`` gives ``(1, 1, 0)``; peeling the last term of each sum and product
    (the definition of a finite sum) turns ``(R, J, Q)(L + 1)`` into an expression in
    ``R(L), J(L), Q(L)`` and layer ``L + 1``'s parameters, which the checker compares with
    one step of the recurrence.

    >>> all(s.verdict is None or s.verdict.proved for s in closed_form_induction())
    True
    """
    from derive.check.engine import check_exprs

    L = sym("L", nonnegative=True)
    l, i = (sympy.Symbol(n, integer=True, positive=True) for n in ("l", "i"))
    k, s, p = sympy.IndexedBase("k"), sympy.IndexedBase("s"), sympy.IndexedBase("p")
    prod_before = lambda upto: sympy.Product(s[i], (i, 1, upto))  # noqa: E731
    R = lambda n: 1 + sympy.Sum((k[l] - 1) * prod_before(l - 1), (l, 1, n))  # noqa: E731
    J = lambda n: prod_before(n)  # noqa: E731
    Q = lambda n: sympy.Sum(p[l] * prod_before(l - 1), (l, 1, n))  # noqa: E731

    steps: list[InductionStep] = []
    for name, expr, value in (("R", R(0), 1), ("J", J(0), 1), ("Q", Q(0), 0)):
        steps.append(InductionStep(
            f"{name}(0) = {value}, the input's own field",
            "empty sums are 0 and empty products 1 (evaluated by SymPy)",
            check_exprs(expr.doit(), value)))

    # peel the last term: the definition of a finite sum / product
    peeled = {
        "R": R(L) + (k[L + 1] - 1) * prod_before(L),
        "J": J(L) * s[L + 1],
        "Q": Q(L) + p[L + 1] * prod_before(L),
    }
    steps.append(InductionStep(
        "R(L+1) = R(L) + (k_{L+1} - 1) J(L); J(L+1) = J(L) s_{L+1}; "
        "Q(L+1) = Q(L) + p_{L+1} J(L)",
        "peel the term l = L + 1 off each sum and product (definition of finite sums)"))
    for name, whole, part in (("R", R(L + 1), peeled["R"]), ("J", J(L + 1), peeled["J"]),
                              ("Q", Q(L + 1), peeled["Q"])):
        verdicts = [check_exprs(*_plain_entries(whole.subs(L, n).doit(), part.subs(L, n).doit()))
                    for n in range(4)]
        worst = next((v for v in verdicts if not v.proved), verdicts[-1])
        steps.append(InductionStep(
            f"peeling of {name} at L = 0, 1, 2, 3",
            "the peeled form expanded term by term (a sanity check of the definition, "
            "not part of the general argument)", worst))
    # the peeled forms against one step of the recurrence, with the depth-L pieces opaque
    r, j, q = sympy.symbols("R_L J_L Q_L", integer=True, positive=True)
    opaque = {R(L) - 1: r - 1, J(L): j, Q(L): q}   # R(L) - 1 is the Sum itself
    nxt = step(ReceptiveField(r, j, q), k[L + 1], s[L + 1], p[L + 1])
    for name, got, want in (("size", peeled["R"], nxt.size), ("jump", peeled["J"], nxt.jump),
                            ("start", peeled["Q"], nxt.start)):
        lhs = got.xreplace(opaque)
        steps.append(InductionStep(
            f"{name}: peeled closed form at L + 1 == recurrence step from depth L",
            "canonical form with R(L), J(L), Q(L) as opaque terms",
            check_exprs(lhs, want)))
    return steps


def _plain_entries(*exprs: Any) -> tuple[Any, ...]:
    """Replace concrete entries ``k[2]`` by symbols ``k_2`` (positive integers)."""
    entries = set().union(*(e.atoms(sympy.Indexed) for e in exprs))
    names = {e: sympy.Symbol(f"{e.base}_{'_'.join(map(str, e.indices))}", integer=True,
                             positive=True) for e in entries}
    return tuple(e.xreplace(names) for e in exprs)


# --------------------------------------------------------------------------- mistakes

def common_mistakes() -> list[Theorem]:
    """Wrong formulas a student might write; each should be refuted by the checker with a
    small counterexample inside the valid configurations.

    >>> [t.check().refuted for t in common_mistakes()]
    [True, True, True, True]
    """
    H, K, P, S, D, L = (sym(x) for x in ("H", "K", "P", "S", "D", "L"))
    k, s = sym("k"), sym("s")
    fits = "H + 2*P >= D*(K - 1) + 1"
    two = receptive_field([Layer("conv", kernel=k, stride=s)] * 2)
    return [
        Theorem("mistake-missing-dilation",
                "output size without the dilation: floor((H + 2P - K)/S) + 1",
                output_size(H, K, P, S, D), sympy.floor((H + 2 * P - K) / S) + 1, (fits,)),
        Theorem("mistake-missing-floor",
                "output size without the floor: (H + 2P - K)/S + 1",
                output_size(H, K, P, S), (H + 2 * P - K) / S + 1, ("H + 2*P >= K",)),
        Theorem("mistake-rf-ignores-stride",
                "two layers' receptive field grows by k - 1 per layer whatever the stride: "
                "1 + 2(k - 1)", two.size, 1 + 2 * (k - 1)),
        Theorem("mistake-rf-ignores-stride-L",
                "L identical layers' receptive field is 1 + L(k - 1) whatever the stride "
                "(here s >= 2)",
                _branch(repeated_receptive_field(L, k, s).size, s), 1 + L * (k - 1),
                ("s >= 2",)),
    ]
