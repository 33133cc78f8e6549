"""Mutation operators: the slips people make in convolution algebra, as rewrites of SymPy
expressions.

Design rule: an operator rewrites exactly *one place* of an expression (one constant, one
floor, one index, one term) and returns ``(description, mutant)`` pairs; it never decides
whether a mutant is still true.  Deciding that is the job of an independent judge (brute
force in ``tests/test_mutation.py``) and of the checker under test, never of this module.
The operators, in the order :func:`mutants` applies them:

=====================  ================================================================
family                 what it does (one occurrence at a time)
=====================  ================================================================
``constant``           a rational constant ``c`` becomes ``c + 1`` or ``c - 1``
``drop-floor``         ``floor(x)`` or ``ceiling(x)`` becomes ``x``
``swap-floor-ceiling`` ``floor(x)`` becomes ``ceiling(x)`` and back
``flip``               in an index ``A - k`` the flip is dropped (``K-1-k`` becomes ``k``
                       when ``k`` runs over ``0..K-1``; a free ``-k`` becomes ``+k``), or
                       an unflipped summation index ``k`` is flipped (``k`` -> ``lo+hi-k``)
``swap-index``         two symbols inside one index expression trade places, or the
                       indices of ``x[i, j]`` are reversed
``stride``             a stride or dilation (``S``, ``s``, ``D``, ``d``, ``*stride*``,
                       ``*dilation*``, or ``s[l]``/``D[l]``) is doubled or replaced by 1
``drop-term``          one argument of a sum (an ``Add``) is dropped
``sum-bound``          a bound of a ``Sum``/``Product`` moves by one
``swap-symbols``       two free symbols of the whole expression trade places
=====================  ================================================================

Matrices are mutated entry by entry.  Bound variables, the names of indexed arrays and the
variables of derivatives are never rewritten, so every mutant is a well-formed expression
over the same names.

>>> K, k, i = sympy.symbols("K k i", integer=True)
>>> x = sympy.IndexedBase("x")
>>> e = sympy.Sum(x[i + K - 1 - k], (k, 0, K - 1))
>>> [d for d, m in mutants(e, families=("flip",))]
['flip: drop the flip of k in x[K + i - k - 1] -> x[i + k]']
"""

from __future__ import annotations

import random
import re
from typing import Any, Callable, Iterator, Sequence

import sympy
from sympy.core.function import AppliedUndef

Path = tuple[int, ...]
Pair = tuple[str, Any]
Scope = dict[Any, tuple[Any, Any]]        # bound variable -> (lower, upper)

STRIDE_NAMES = frozenset({"S", "s", "D", "d"})
_STRIDE_WORDS = ("stride", "dilation")
_LIMITED = (sympy.Sum, sympy.Product, sympy.Integral)
MAX_SHOWN = 60   # characters of a subexpression shown in a description


# ---------------------------------------------------------------------------------------
# Walking an expression: every rewritable place, with the bound variables in scope


def _places(expr: Any, path: Path = (), scope: Scope | None = None
            ) -> Iterator[tuple[Path, Any, Scope]]:
    """Every subexpression that may be rewritten, with its path and the sum ranges around it.

    Skipped: the array name of an ``Indexed``, the variable of a sum/integral limit, the
    variables of a ``Derivative``/``Subs``, and the inside of matrices (see :func:`mutants`).
    """
    scope = {} if scope is None else scope
    yield path, expr, scope
    if not isinstance(expr, sympy.Basic) or expr.is_Atom or isinstance(
            expr, (sympy.IndexedBase, sympy.MatrixBase)):
        return
    if isinstance(expr, sympy.Indexed):
        for j, idx in enumerate(expr.indices, start=1):
            yield from _places(idx, path + (j,), scope)
        return
    if isinstance(expr, _LIMITED):
        inner = dict(scope)
        for j, lim in enumerate(expr.limits, start=1):
            if len(lim) == 3:
                for t in (1, 2):
                    yield from _places(lim[t], path + (j, t), scope)
                inner[lim[0]] = (lim[1], lim[2])
        yield from _places(expr.function, path + (0,), inner)
        return
    if isinstance(expr, sympy.Derivative):
        yield from _places(expr.expr, path + (0,), scope)
        return
    if isinstance(expr, sympy.Subs):
        yield from _places(expr.expr, path + (0,), scope)
        for t, point in enumerate(expr.point):
            yield from _places(point, path + (2, t), scope)
        return
    for j, arg in enumerate(expr.args):
        yield from _places(arg, path + (j,), scope)


def replace_at(expr: Any, path: Path, new: Any) -> Any:
    """``expr`` with the subexpression at ``path`` (indices into ``.args``) replaced.

    >>> a, b = sympy.symbols("a b")
    >>> replace_at(sympy.floor(a / b) + 1, (1,), a / b)
    a/b + 1
    """
    if not path:
        return new
    args = list(expr.args)
    args[path[0]] = replace_at(args[path[0]], path[1:], new)
    return expr.func(*args)


def _show(e: Any) -> str:
    text = sympy.sstr(e)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."


# ---------------------------------------------------------------------------------------
# The operators: each yields (description, path, replacement)

Edit = tuple[str, Path, Any]


def _constant(expr: Any) -> Iterator[Edit]:
    for path, node, _ in _places(expr):
        if isinstance(node, sympy.Rational) and path:
            parent = _at(expr, path[:-1])
            for delta in (1, -1):
                yield (f"{node} -> {node + delta} in {_show(parent)}", path, node + delta)


def _drop_floor(expr: Any) -> Iterator[Edit]:
    for path, node, _ in _places(expr):
        if isinstance(node, (sympy.floor, sympy.ceiling)):
            yield f"{_show(node)} -> {_show(node.args[0])}", path, node.args[0]


def _swap_floor_ceiling(expr: Any) -> Iterator[Edit]:
    for path, node, _ in _places(expr):
        if isinstance(node, sympy.floor):
            new = sympy.ceiling(node.args[0])
        elif isinstance(node, sympy.ceiling):
            new = sympy.floor(node.args[0])
        else:
            continue
        yield f"{_show(node)} -> {_show(new)}", path, new


def _flip(expr: Any) -> Iterator[Edit]:
    for path, node, scope in _places(expr):
        if not isinstance(node, sympy.Indexed):
            continue
        for j, idx in enumerate(node.indices, start=1):
            for k in sorted(idx.free_symbols, key=lambda s: s.name):
                if not isinstance(k, sympy.Symbol):
                    continue
                slope = sympy.diff(idx, k)
                if slope == -1:
                    if k in scope:
                        lo, hi = scope[k]
                        new_idx = idx.xreplace({k: lo + hi - k})
                    else:
                        new_idx = idx + 2 * k
                    word = "drop the flip of"
                elif slope == 1 and k in scope:   # only a summation index is flipped
                    lo, hi = scope[k]
                    new_idx = idx.xreplace({k: lo + hi - k})
                    word = "flip"
                else:
                    continue
                new = replace_at(node, (j,), new_idx)
                yield f"{word} {k} in {_show(node)} -> {_show(new)}", path, new


def _swap_index(expr: Any) -> Iterator[Edit]:
    for path, node, _ in _places(expr):
        if not isinstance(node, sympy.Indexed):
            continue
        names = sorted(set().union(*(i.free_symbols for i in node.indices)),
                       key=lambda s: s.name)
        names = [s for s in names if isinstance(s, sympy.Symbol)]
        for a_pos, a in enumerate(names):
            for b in names[a_pos + 1:]:
                new = sympy.Indexed(node.base, *[i.xreplace({a: b, b: a})
                                                 for i in node.indices])
                yield f"swap {a} and {b} in {_show(node)} -> {_show(new)}", path, new
        if len(node.indices) >= 2:
            new = sympy.Indexed(node.base, *reversed(node.indices))
            yield f"reverse the indices of {_show(node)} -> {_show(new)}", path, new


def is_stride_name(name: str) -> bool:
    """Whether a symbol or array name stands for a stride or a dilation.

    >>> [n for n in ["S", "s_2", "D", "stride", "dilation_h", "K", "Sx"] if is_stride_name(n)]
    ['S', 's_2', 'D', 'stride', 'dilation_h']
    """
    lowered = name.lower()
    return name.split("_")[0] in STRIDE_NAMES or any(w in lowered for w in _STRIDE_WORDS)


def _stride(expr: Any) -> Iterator[Edit]:
    for path, node, _ in _places(expr):
        if isinstance(node, sympy.Symbol) and not isinstance(node, sympy.Dummy):
            name = node.name
        elif isinstance(node, sympy.Indexed):
            name = str(node.base.label)
        else:
            continue
        if not is_stride_name(name):
            continue
        yield f"{_show(node)} -> 2*{_show(node)}", path, 2 * node
        yield f"{_show(node)} -> 1", path, sympy.Integer(1)


def _drop_term(expr: Any) -> Iterator[Edit]:
    for path, node, _ in _places(expr):
        if isinstance(node, sympy.Add):
            for j, term in enumerate(node.args):
                rest = node.args[:j] + node.args[j + 1:]
                yield f"drop {_show(term)} from {_show(node)}", path, sympy.Add(*rest)


def _sum_bound(expr: Any) -> Iterator[Edit]:
    for path, node, _ in _places(expr):
        if not isinstance(node, (sympy.Sum, sympy.Product)):
            continue
        for j, lim in enumerate(node.limits, start=1):
            if len(lim) != 3:
                continue
            for t, word in ((1, "lower"), (2, "upper")):
                for delta in (1, -1):
                    new = lim[t] + delta
                    yield (f"{word} bound of {lim[0]}: {_show(lim[t])} -> {_show(new)}",
                           path + (j, t), new)


def _swap_symbols(expr: Any) -> Iterator[Edit]:
    free = sorted((s for s in expr.free_symbols if isinstance(s, sympy.Symbol)
                   and s.is_commutative is not False), key=lambda s: s.name)
    labels = {b.label for b in expr.atoms(sympy.IndexedBase)}
    free = [s for s in free if s not in labels]
    for a_pos, a in enumerate(free):
        for b in free[a_pos + 1:]:
            yield f"swap {a} and {b}", (), expr.xreplace({a: b, b: a})


OPERATORS: dict[str, Callable[[Any], Iterator[Edit]]] = {
    "constant": _constant,
    "drop-floor": _drop_floor,
    "swap-floor-ceiling": _swap_floor_ceiling,
    "flip": _flip,
    "swap-index": _swap_index,
    "stride": _stride,
    "drop-term": _drop_term,
    "sum-bound": _sum_bound,
    "swap-symbols": _swap_symbols,
}


def _at(expr: Any, path: Path) -> Any:
    for j in path:
        expr = expr.args[j]
    return expr


# ---------------------------------------------------------------------------------------
# Public functions


def family(description: str) -> str:
    """The operator family of a mutant's description.

    >>> family("constant: 1 -> 2 in K - 1")
    'constant'
    >>> family("entry (0, 1): drop-term: drop 1 from K + 1")
    'drop-term'
    """
    head = re.sub(r"^entry \(\d+, \d+\): ", "", description)
    return head.split(":", 1)[0]


def mutants(expr: Any, families: Sequence[str] | None = None) -> list[Pair]:
    """Every single-place mutant of ``expr`` as ``(description, mutant)`` pairs, without
    duplicates and without mutants equal to ``expr``.

    ``families`` restricts the operators (keys of :data:`OPERATORS`).  A matrix is mutated
    one entry at a time (descriptions start with ``entry (i, j):``).  Anything that is not
    a SymPy object has no mutants.

    >>> H, K, S = sympy.symbols("H K S", integer=True, positive=True)
    >>> for d, m in mutants(sympy.floor((H - K) / S) + 1, ("drop-floor", "stride")):
    ...     print(d, "|", m)
    drop-floor: floor((H - K)/S) -> (H - K)/S | 1 + (H - K)/S
    stride: S -> 2*S | floor((H - K)/(2*S)) + 1
    stride: S -> 1 | H - K + 1
    """
    names = list(OPERATORS) if families is None else list(families)
    unknown = [n for n in names if n not in OPERATORS]
    if unknown:
        from derive.errors import InputError
        raise InputError(f"got families={unknown!r}; the operator families are "
                         f"{', '.join(OPERATORS)}")
    if isinstance(expr, sympy.MatrixBase):
        return _matrix_mutants(expr, names)
    if not isinstance(expr, sympy.Basic):
        return []
    out: list[Pair] = []
    seen = {expr}
    for name in names:
        try:
            edits = list(OPERATORS[name](expr))
        except (TypeError, ValueError, AttributeError, NotImplementedError):
            continue   # an operator that cannot read this expression has no mutants here
        for detail, path, new in edits:
            try:
                mutant = replace_at(expr, path, new)
            except (TypeError, ValueError, AttributeError, ZeroDivisionError,
                    NotImplementedError, IndexError):
                continue
            if mutant in seen:
                continue
            seen.add(mutant)
            out.append((f"{name}: {detail}", mutant))
    return out


def _matrix_mutants(matrix: Any, names: list[str]) -> list[Pair]:
    m = sympy.ImmutableMatrix(matrix)
    out: list[Pair] = []
    for i in range(m.rows):
        for j in range(m.cols):
            for desc, entry in mutants(m[i, j], names):
                rows = m.tolist()
                rows[i][j] = entry
                out.append((f"entry ({i}, {j}): {desc}", sympy.ImmutableMatrix(rows)))
    return out


def sample(pairs: Sequence[Pair], limit: int, seed: str) -> list[Pair]:
    """At most ``limit`` pairs, chosen deterministically from ``seed``, spread over the
    operator families (round robin in :data:`OPERATORS` order from a family picked by the
    seed, shuffled within a family).

    >>> a, b = sympy.symbols("a b")
    >>> picked = sample(mutants(sympy.floor(a / b) + 2), 3, seed="demo")
    >>> [family(d) for d, _ in picked]
    ['constant', 'drop-floor', 'swap-floor-ceiling']
    """
    if limit < 0:
        from derive.errors import InputError
        raise InputError(f"got limit={limit}; limit must be an integer >= 0")
    groups: dict[str, list[Pair]] = {}
    for pair in pairs:
        groups.setdefault(family(pair[0]), []).append(pair)
    rng = random.Random(seed)
    order = [n for n in OPERATORS if n in groups] + [n for n in groups if n not in OPERATORS]
    queues = []
    for name in order:
        items = list(groups[name])
        rng.shuffle(items)
        queues.append(items)
    if queues:   # start the round robin at a family chosen by the seed: fair over many steps
        start = rng.randrange(len(queues))
        queues = queues[start:] + queues[:start]
    out: list[Pair] = []
    while len(out) < limit and any(queues):
        for q in queues:
            if q and len(out) < limit:
                out.append(q.pop(0))
    return out
