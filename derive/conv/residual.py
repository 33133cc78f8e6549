"""Residual networks: the path expansion of the Jacobian and the shortcut of a block.

Design rule: the expansion is computed twice, independently, and the two must agree.  For
``h_l = h_{l-1} + F_l(h_{l-1})`` the chain rule gives

    dh_n/dh_0 = (I + J_n)(I + J_{n-1}) ... (I + J_1),      J_l = dF_l/dh at h_{l-1},

a product of matrices that do not commute.  :func:`expand_residual` expands it with SymPy
(non-commutative symbols, the identity written as ``1``) and, separately, enumerates the
``2^n`` paths (a path picks, at every block, the shortcut ``I`` or the branch ``J_l``; its
term is the ordered product of the branches it took, latest block on the left).  The two
term sets are compared; counts by length are ``binomial(n, k)`` in closed form
(:func:`path_count_by_length`), and their sum ``2^n`` is proved by the checker
(:func:`path_count_identity`).  Nothing is materialized beyond ``n = 12``
(:data:`MAX_MATERIALIZED`); counts work for any ``n``, symbolic included.

Pre- vs post-activation blocks (:class:`BlockForm`) are compositions of named operations;
the operations a signal meets on the shortcut are what decide whether a clean identity path
survives: ``h_L = h_l + sum F_i`` holds for pre-activation and is refuted (with a
counterexample from the checker) for post-activation, where a ReLU sits on the sum.

>>> e = expand_residual(3)
>>> e.counts()
{0: 1, 1: 3, 2: 3, 3: 1}
>>> [p.label for p in e.by_length()[2]]
['J_2 J_1', 'J_3 J_1', 'J_3 J_2']
>>> path_count(1000) == 2**1000
True
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import sympy

from derive.errors import ConfigurationError, InputError, check_positive_int

__all__ = [
    "BLOCK_FORMS",
    "MAX_MATERIALIZED",
    "ActivationComparison",
    "BlockForm",
    "CheckedStep",
    "NumericCheck",
    "Path",
    "PathTreeNode",
    "ResidualExpansion",
    "block_form",
    "compare_activation",
    "expand_residual",
    "forward_equations",
    "jacobian_product",
    "jacobians",
    "loss_gradient",
    "numeric_path_check",
    "path_count",
    "path_count_by_length",
    "path_count_identity",
    "path_counts",
    "path_tree",
    "paths",
    "unrolled_forward",
]

MAX_MATERIALIZED = 12
"""Largest ``n`` whose ``2^n`` path terms are built explicitly."""

IDENTITY_LABEL = "I"


# ---------------------------------------------------------------------------- symbols
def _check_n(n: Any, *, materialize: bool) -> int:
    n = check_positive_int("n", n)
    if materialize and n > MAX_MATERIALIZED:
        raise ConfigurationError(
            f"got n={n}; materializing 2**{n} path terms needs n <= {MAX_MATERIALIZED} "
            f"(use path_count(n) or path_counts(n) for the closed form)")
    return n


def _nc(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, commutative=False)


@functools.lru_cache(maxsize=64)
def jacobians(n: int, letter: str = "J") -> tuple[sympy.Symbol, ...]:
    """The block Jacobians ``J_1, ..., J_n`` as non-commuting symbols.

    >>> J = jacobians(2)
    >>> J, J[1] * J[0] == J[0] * J[1]
    ((J_1, J_2), False)
    """
    n = _check_n(n, materialize=False)
    if not isinstance(letter, str) or not letter.isidentifier():
        raise InputError(f"got letter={letter!r}; letter must be a name such as 'J'")
    return tuple(_nc(f"{letter}_{l}") for l in range(1, n + 1))


def jacobian_product(n: int) -> sympy.Expr:
    """``(1 + J_n) ... (1 + J_1)`` unexpanded, in chain-rule order (``1`` is the identity).

    >>> jacobian_product(2)
    (1 + J_2)*(1 + J_1)
    """
    n = _check_n(n, materialize=False)
    J = jacobians(n)
    return sympy.Mul(*[1 + J[l] for l in reversed(range(n))], evaluate=False)


# ---------------------------------------------------------------------------- paths
@dataclass(frozen=True)
class Path:
    """One path through ``n`` residual blocks: ``blocks`` are the (ascending) indices of
    the blocks whose branch ``F_l`` it goes through; at every other block it takes the
    shortcut.  Its Jacobian term is the product of those ``J_l``, latest block leftmost."""

    n: int
    blocks: tuple[int, ...]

    @property
    def length(self) -> int:
        """Number of Jacobian factors (branches taken)."""
        return len(self.blocks)

    @property
    def is_identity(self) -> bool:
        """True for the path that takes every shortcut: its term is the identity."""
        return not self.blocks

    @property
    def term(self) -> sympy.Expr:
        """``J_{b_k} ... J_{b_1}`` (``1``, the identity, for the identity path).

        >>> Path(3, (1, 3)).term
        J_3*J_1
        """
        J = jacobians(self.n)
        return sympy.Mul(*[J[b - 1] for b in reversed(self.blocks)]) if self.blocks else \
            sympy.Integer(1)

    @property
    def label(self) -> str:
        """``"J_3 J_1"``, or ``"I"`` for the identity path."""
        if not self.blocks:
            return IDENTITY_LABEL
        return " ".join(f"J_{b}" for b in reversed(self.blocks))

    @property
    def latex(self) -> str:
        """``"J_{3} J_{1}"`` or ``"I"``."""
        if not self.blocks:
            return IDENTITY_LABEL
        return " ".join(f"J_{{{b}}}" for b in reversed(self.blocks))

    @property
    def route(self) -> tuple[str, ...]:
        """Per block 1..n, ``"branch"`` or ``"skip"``.

        >>> Path(3, (2,)).route
        ('skip', 'branch', 'skip')
        """
        taken = set(self.blocks)
        return tuple("branch" if l in taken else "skip" for l in range(1, self.n + 1))


def paths(n: int) -> tuple[Path, ...]:
    """All ``2^n`` paths, by length and then lexicographically (materialized, n <= 12).

    >>> [p.label for p in paths(2)]
    ['I', 'J_1', 'J_2', 'J_2 J_1']
    """
    n = _check_n(n, materialize=True)
    return tuple(Path(n, combo) for k in range(n + 1)
                 for combo in itertools.combinations(range(1, n + 1), k))


@dataclass(frozen=True)
class ResidualExpansion:
    """``dh_n/dh_0`` expanded: the product, SymPy's expansion and the enumerated paths."""

    n: int
    product: sympy.Expr
    expanded: sympy.Expr
    paths: tuple[Path, ...]

    @property
    def terms(self) -> tuple[sympy.Expr, ...]:
        """The terms of SymPy's expansion (the identity is ``1``)."""
        return tuple(sympy.Add.make_args(self.expanded))

    @property
    def identity_path(self) -> Path:
        """The path through every shortcut (term ``I``)."""
        return self.paths[0]

    def by_length(self) -> dict[int, tuple[Path, ...]]:
        """Paths grouped by the number of Jacobian factors, ``0..n``."""
        out: dict[int, list[Path]] = {k: [] for k in range(self.n + 1)}
        for p in self.paths:
            out[p.length].append(p)
        return {k: tuple(v) for k, v in out.items()}

    def counts(self) -> dict[int, int]:
        """Number of enumerated paths of each length (compare :func:`path_count_by_length`)."""
        return {k: len(v) for k, v in self.by_length().items()}

    def terms_by_length(self) -> dict[int, sympy.Expr]:
        """SymPy's expansion split by term degree: ``{0: 1, 1: J_1 + J_2 + ..., ...}``."""
        out: dict[int, list[sympy.Expr]] = {k: [] for k in range(self.n + 1)}
        for t in self.terms:
            out[_degree(t)].append(t)
        return {k: sympy.Add(*v) for k, v in out.items()}

    def agrees(self) -> bool:
        """True when SymPy's expansion and the path enumeration give the same terms, each
        exactly once with coefficient 1."""
        terms = self.terms
        return len(terms) == len(self.paths) and set(terms) == {p.term for p in self.paths}


def _degree(term: sympy.Expr) -> int:
    if term == 1:
        return 0
    return sum(int(e) for _, e in (f.as_base_exp() for f in sympy.Mul.make_args(term)))


def expand_residual(n: int) -> ResidualExpansion:
    """Expand ``(I + J_n)...(I + J_1)`` (non-commuting) and enumerate its paths, n <= 12.

    >>> e = expand_residual(2)
    >>> e.expanded
    1 + J_1 + J_2 + J_2*J_1
    >>> e.agrees()
    True
    """
    n = _check_n(n, materialize=True)
    product = jacobian_product(n)
    return ResidualExpansion(n, product, sympy.expand(product), paths(n))


def loss_gradient(n: int) -> sympy.Expr:
    """``dL/dh_0 = g (I + J_n) ... (I + J_1)`` expanded, with ``g = dL/dh_n`` a row vector
    (a non-commuting symbol, so it stays on the left of every term).

    >>> loss_gradient(1)
    g + g*J_1
    """
    n = _check_n(n, materialize=True)
    return sympy.expand(_nc("g") * jacobian_product(n))


# ---------------------------------------------------------------------------- counting
def path_count(n: Any) -> Any:
    """Number of paths through ``n`` blocks, ``2**n`` (any ``n``, symbolic included).

    >>> path_count(3), path_count(sympy.Symbol("n", integer=True, positive=True))
    (8, 2**n)
    """
    if isinstance(n, sympy.Basic) and not n.is_Integer:
        if n.is_integer is False or n.is_negative:
            raise ConfigurationError(f"got n={n}; n must be a non-negative integer")
        return 2 ** n
    n = check_positive_int("n", n, minimum=0)
    return 2 ** n


def path_count_by_length(n: Any, k: Any) -> Any:
    """Number of paths with exactly ``k`` Jacobian factors, ``binomial(n, k)``: a path is
    the set of blocks whose branch it takes.

    >>> path_count_by_length(12, 3)
    220
    >>> n, k = sympy.symbols("n k", integer=True, nonnegative=True)
    >>> path_count_by_length(n, k)
    binomial(n, k)
    """
    if isinstance(n, sympy.Basic) and not n.is_Integer or isinstance(k, sympy.Basic) and \
            not k.is_Integer:
        return sympy.binomial(n, k)
    n = check_positive_int("n", n, minimum=0)
    k = check_positive_int("k", k, minimum=0)
    return math.comb(n, k)


def path_counts(n: int) -> dict[int, int]:
    """``{k: binomial(n, k)}`` for ``k = 0..n`` from the closed form (any integer ``n``;
    nothing is materialized).

    >>> path_counts(4)
    {0: 1, 1: 4, 2: 6, 3: 4, 4: 1}
    >>> sum(path_counts(1000).values()) == path_count(1000)
    True
    """
    n = check_positive_int("n", n, minimum=0)
    out = {}
    c = 1
    for k in range(n + 1):   # binomial(n, k+1) = binomial(n, k) (n - k)/(k + 1)
        out[k] = c
        c = c * (n - k) // (k + 1)
    return out


def path_count_identity(budget: float | None = None) -> Any:
    """The checker's verdict on ``Sum(binomial(n, k), (k, 0, n)) == 2**n`` for every
    integer ``n >= 0`` (the paths of every length add up to all ``2^n`` paths).

    >>> path_count_identity().status.value
    'proved'
    """
    from derive.check.engine import check_exprs

    n = sympy.Symbol("n", integer=True, nonnegative=True)
    k = sympy.Symbol("k", integer=True, nonnegative=True)
    lhs = sympy.Sum(path_count_by_length(n, k), (k, 0, n))
    return check_exprs(lhs, path_count(n), assume=("n >= 0", "k >= 0"), budget=budget)


# ---------------------------------------------------------------------------- records
@dataclass(frozen=True)
class CheckedStep:
    """One step of an argument: ``statement`` in words, the equation ``lhs == rhs`` and the
    checker's verdict on it (None when the step follows from earlier ones, which the
    statement then says)."""

    statement: str
    lhs: Any
    rhs: Any
    verdict: Any = None


@dataclass(frozen=True)
class NumericCheck:
    """A numeric comparison: ``max_abs_diff`` over ``trials`` random instances."""

    method: str
    trials: int
    max_abs_diff: float
    tolerance: float

    @property
    def agrees(self) -> bool:
        return self.max_abs_diff <= self.tolerance


def numeric_path_check(n: int, dim: int = 3, trials: int = 3, seed: int = 0,
                       scale: float = 0.5) -> NumericCheck:
    """Random ``dim x dim`` matrices ``J_l``: the product ``(I + J_n)...(I + J_1)`` against
    the sum of the materialized path terms (each evaluated as an ordered matrix product).

    >>> numeric_path_check(4).agrees
    True
    """
    import numpy as np

    n = _check_n(n, materialize=True)
    dim = check_positive_int("dim", dim)
    trials = check_positive_int("trials", trials)
    rng = np.random.default_rng(seed)
    worst = 0.0
    scale_seen = 1.0
    ps = paths(n)
    for _ in range(trials):
        J = [scale * rng.standard_normal((dim, dim)) for _ in range(n)]
        product = np.eye(dim)
        for l in range(n):                     # (I + J_n) ... (I + J_1): J_1 acts first
            product = (np.eye(dim) + J[l]) @ product
        total = np.zeros((dim, dim))
        for p in ps:
            term = np.eye(dim)
            for b in p.blocks:                 # ascending: earliest block applied first
                term = J[b - 1] @ term
            total += term
        worst = max(worst, float(np.max(np.abs(product - total))))
        scale_seen = max(scale_seen, float(np.max(np.abs(product))))
    tol = 1e-13 * len(ps) * scale_seen      # rounding of 2^n summed products
    return NumericCheck(f"NumPy: product of (I + J_l) vs sum of the {len(ps)} path terms, "
                        f"random {dim}x{dim} matrices", trials, worst, tol)


# ---------------------------------------------------------------------------- tree
@dataclass(frozen=True)
class PathTreeNode:
    """A node of the binary path tree: after passing ``block`` (0 at the root) by
    ``choice`` (``"root"``, ``"skip"`` or ``"branch"``), the product so far is ``term``."""

    block: int
    choice: str
    term: sympy.Expr
    children: tuple["PathTreeNode", ...] = ()

    @property
    def label(self) -> str:
        """The partial product as text (``"I"`` for none)."""
        if self.term == 1:
            return IDENTITY_LABEL
        return " ".join(str(f) for f in sympy.Mul.make_args(self.term))

    def walk(self, depth: int = 0) -> Iterator[tuple[int, "PathTreeNode"]]:
        """Depth-first ``(depth, node)`` pairs, root first."""
        yield depth, self
        for c in self.children:
            yield from c.walk(depth + 1)

    def leaves(self) -> list["PathTreeNode"]:
        """The ``2^n`` leaves, skip before branch at every level."""
        return [node for _, node in self.walk() if not node.children]

    def rows(self) -> list[dict[str, Any]]:
        """Flat rows for drawing: ``id``, ``parent`` (None for the root), ``depth``,
        ``block``, ``choice``, ``label``; ids are depth-first positions."""
        out: list[dict[str, Any]] = []

        def visit(node: PathTreeNode, parent: int | None, depth: int) -> None:
            me = len(out)
            out.append({"id": me, "parent": parent, "depth": depth, "block": node.block,
                        "choice": node.choice, "label": node.label})
            for c in node.children:
                visit(c, me, depth + 1)

        visit(self, None, 0)
        return out


def path_tree(n: int) -> PathTreeNode:
    """The binary tree of paths: level ``l`` chooses skip (``I``) or branch (``J_l``).

    >>> t = path_tree(2)
    >>> [leaf.label for leaf in t.leaves()]
    ['I', 'J_2', 'J_1', 'J_2 J_1']
    """
    n = _check_n(n, materialize=True)
    J = jacobians(n)

    def grow(block: int, choice: str, term: sympy.Expr) -> PathTreeNode:
        if block == n:
            return PathTreeNode(block, choice, term)
        nxt = block + 1
        return PathTreeNode(block, choice, term, (
            grow(nxt, "skip", term),
            grow(nxt, "branch", J[nxt - 1] * term),
        ))

    return grow(0, "root", sympy.Integer(1))


# ---------------------------------------------------------------------------- forward
def _h(l: int) -> sympy.Symbol:
    return sympy.Symbol(f"h_{l}")


def forward_equations(n: int, form: "BlockForm | str | None" = None) -> list[sympy.Eq]:
    """``h_l = h_{l-1} + F_l(h_{l-1})`` for ``l = 1..n``; with a :class:`BlockForm` (or its
    name) the branch and the operations after the sum are written out.

    >>> forward_equations(2)
    [Eq(h_1, h_0 + F_1(h_0)), Eq(h_2, h_1 + F_2(h_1))]
    >>> forward_equations(1, "post-activation")[0]
    Eq(h_1, ReLU(h_0 + BN_1b(Conv_1b(ReLU(BN_1a(Conv_1a(h_0)))))))
    """
    n = _check_n(n, materialize=False)
    if form is None:
        return [sympy.Eq(_h(l), _h(l - 1) + sympy.Function(f"F_{l}")(_h(l - 1)))
                for l in range(1, n + 1)]
    bf = block_form(form) if isinstance(form, str) else form
    return [sympy.Eq(_h(l), bf.expression(_h(l - 1), l)) for l in range(1, n + 1)]


def unrolled_forward(n: int, start: int = 0) -> sympy.Eq:
    """``h_n = h_start + F_{start+1}(h_start) + ... + F_n(h_{n-1})`` (additive blocks).

    >>> unrolled_forward(3, 1)
    Eq(h_3, h_1 + F_2(h_1) + F_3(h_2))
    """
    n = _check_n(n, materialize=False)
    start = check_positive_int("start", start, minimum=0)
    if start >= n:
        raise ConfigurationError(f"got start={start} with n={n}; start must be < n")
    terms = [sympy.Function(f"F_{l}")(_h(l - 1)) for l in range(start + 1, n + 1)]
    return sympy.Eq(_h(n), _h(start) + sympy.Add(*terms))


# ---------------------------------------------------------------------------- block forms
_OP_NAMES = {"conv": "Conv", "bn": "BN", "relu": "ReLU"}


@dataclass(frozen=True)
class BlockForm:
    """A residual block as compositions: ``after_add(shortcut(x) + branch(x))``, each a
    sequence of operations applied left to right (``"conv"``, ``"bn"``, ``"relu"``).

    The operations the identity path meets are ``shortcut + after_add``
    (:attr:`shortcut_path`); the block keeps a clean identity path when there are none.
    """

    name: str
    branch: tuple[str, ...]
    after_add: tuple[str, ...] = ()
    shortcut: tuple[str, ...] = ()

    @property
    def shortcut_path(self) -> tuple[str, ...]:
        """Operations applied to ``x`` along the path that skips the branch."""
        return self.shortcut + self.after_add

    @property
    def clean_identity(self) -> bool:
        """True when the shortcut path is the identity map."""
        return not self.shortcut_path

    def expression(self, x: sympy.Expr, l: int) -> sympy.Expr:
        """The block output for input ``x`` in block ``l`` (undefined SymPy functions;
        the two convolutions and batch norms of a block are ``a`` and ``b``)."""
        def apply(ops: Sequence[str], value: sympy.Expr, counter: dict[str, int]) -> sympy.Expr:
            for op in ops:
                if op == "relu":
                    value = sympy.Function("ReLU")(value)
                    continue
                counter[op] = counter.get(op, 0) + 1
                tag = "ab"[counter[op] - 1] if counter[op] <= 2 else str(counter[op])
                value = sympy.Function(f"{_OP_NAMES[op]}_{l}{tag}")(value)
            return value

        counter: dict[str, int] = {}
        branch = apply(self.branch, x, counter)
        short = apply(self.shortcut, x, counter)
        return apply(self.after_add, short + branch, counter)

    def scalar_step(self, h: sympy.Expr, f: sympy.Expr) -> sympy.Expr:
        """One block on a single coordinate, with the branch output ``f`` as a value:
        ``after_add(h + f)`` (ReLU is ``Max(0, .)``).  Only ReLU may follow the sum."""
        if self.shortcut:
            raise ConfigurationError(
                f"got shortcut={self.shortcut!r}; the scalar model needs an identity shortcut")
        value = h + f
        for op in self.after_add:
            if op != "relu":
                raise ConfigurationError(
                    f"got after_add containing {op!r}; the scalar model supports only 'relu'")
            value = sympy.Max(0, value)
        return value

    def block_jacobian(self, l: int) -> sympy.Expr:
        """``dh_l/dh_{l-1}``: ``1 + J_l`` for pre-activation, ``D_l (1 + J_l)`` when a ReLU
        follows the sum (``D_l`` the diagonal 0/1 mask of its derivative)."""
        jac = 1 + _nc(f"J_{l}")
        if self.shortcut:
            jac = _nc(f"S_{l}") + _nc(f"J_{l}")
        for op in self.after_add:
            mask = {"relu": "D", "bn": "B", "conv": "C"}[op]
            jac = _nc(f"{mask}_{l}") * jac
        return jac


BLOCK_FORMS: dict[str, BlockForm] = {
    "post-activation": BlockForm("post-activation", ("conv", "bn", "relu", "conv", "bn"),
                                 after_add=("relu",)),
    "pre-activation": BlockForm("pre-activation", ("bn", "relu", "conv", "bn", "relu", "conv")),
}
"""The two ResNet block layouts of exercise 8.15: the original (ReLU after the sum) and the
pre-activation one (batch norm and ReLU moved into the branch)."""


def block_form(name: str) -> BlockForm:
    """A named block layout (``"pre-activation"`` or ``"post-activation"``).

    >>> block_form("pre-activation").clean_identity
    True
    """
    try:
        return BLOCK_FORMS[name]
    except (KeyError, TypeError):
        raise InputError(f"got form={name!r}; known block forms: "
                         f"{', '.join(sorted(BLOCK_FORMS))}") from None


def _exact(value: Any) -> sympy.Expr:
    """A counterexample value (int or Fraction) as an exact SymPy number."""
    from fractions import Fraction
    if isinstance(value, Fraction):
        return sympy.Rational(value.numerator, value.denominator)
    if isinstance(value, sympy.Basic):
        return value
    return sympy.Integer(int(value))


@dataclass(frozen=True)
class ActivationComparison:
    """What a stack of ``n`` blocks of one form does to the identity path.

    ``claim`` is ``(h_n, h_0 + f_1 + ... + f_n)`` on one coordinate with ``f_l`` the branch
    outputs as real values, ``verdict`` the checker's verdict on it (proved for a clean
    shortcut, refuted with a counterexample otherwise), ``jacobian`` the expanded product of
    the block Jacobians and ``identity_term`` its term without any ``J`` (the gradient
    through the shortcuts only).  ``zero_branch`` evaluates the stack at the verdict's
    counterexample (or at ``h_0 = -1``, all ``f_l = 0`` for a clean form): input and both
    sides.
    """

    form: BlockForm
    n: int
    equations: tuple[sympy.Eq, ...]
    claim: tuple[sympy.Expr, sympy.Expr]
    verdict: Any
    jacobian: sympy.Expr
    identity_term: sympy.Expr
    zero_branch: dict[str, Any] = field(default_factory=dict)

    @property
    def clean_identity(self) -> bool:
        """True when ``h_n = h_0 + sum f_l`` was proved and the shortcut term is ``I``."""
        return bool(self.verdict.proved) and self.identity_term == 1


def compare_activation(form: "BlockForm | str", n: int = 3,
                       budget: float | None = None) -> ActivationComparison:
    """Stack ``n`` blocks of ``form`` and check whether the identity path survives.

    >>> pre = compare_activation("pre-activation", 2)
    >>> pre.verdict.status.value, pre.identity_term
    ('proved', 1)
    >>> post = compare_activation("post-activation", 2)
    >>> post.verdict.status.value, post.identity_term
    ('refuted', D_2*D_1)
    """
    from derive.check.engine import check_exprs

    bf = block_form(form) if isinstance(form, str) else form
    n = _check_n(n, materialize=True)
    h0 = sympy.Symbol("h_0")
    fs = [sympy.Symbol(f"f_{l}") for l in range(1, n + 1)]
    h = h0
    for f in fs:
        h = bf.scalar_step(h, f)
    rhs = h0 + sympy.Add(*fs)
    assume = tuple(f"{s.name} real" for s in [h0, *fs])
    verdict = check_exprs(h, rhs, assume=assume, budget=budget)
    jac = sympy.expand(sympy.Mul(*[bf.block_jacobian(l) for l in range(n, 0, -1)]))
    identity = sympy.Add(*[t for t in sympy.Add.make_args(jac)
                           if not any(str(s).startswith("J_") for s in t.free_symbols)])
    if verdict.refuted and verdict.counterexample:
        point = {s: _exact(verdict.counterexample.get(s.name, 0)) for s in [h0, *fs]}
    else:
        point = {s: sympy.Integer(-1 if s is h0 else 0) for s in [h0, *fs]}
    zero_branch = {"input": {s.name: point[s] for s in [h0, *fs]},
                   "stack": h.xreplace(point), "identity_sum": rhs.xreplace(point)}
    return ActivationComparison(bf, n, tuple(forward_equations(n, bf)), (h, rhs), verdict,
                                jac, identity, zero_branch)
