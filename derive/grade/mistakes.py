"""The course's common mistakes, as data, and a matcher that names them.

Design rule: a mistake is named only when the checker proves it.  The catalogue
(``mistakes.json`` beside this module) lists each mistake with an *operation*, a named
rewrite from the small registry :data:`OPERATIONS` that turns a correct expression into
the one the mistake produces (``D -> 1``: the dilation ignored; ``+ (-1)``: the + 1 of
the output size left out ...).  :func:`name_mistake` applies each entry's operation to the
expression the student's line should equal and asks
:func:`derive.check.engine.check_exprs` whether the student's line equals that mistaken
form.  The first entry proved equal names the mistake, and only if the mistaken form
really differs from the correct one (the checker refutes their equality with a
counterexample).  No text is compared anywhere.

Where an entry applies is said twice: in words (``applies``) and, for the operations that
could fire outside their topic, by a guard (``when``): symbol names that must occur
(``symbols``), expression kinds of which one must occur (``functions``) or none may occur
(``without``); the kinds are ``floor``, ``ceiling``, ``Sum``, ``Product``, ``Piecewise``
and ``Indexed``.  An expression without free symbols (a number) is never matched: a wrong
number can be wrong in too many ways to name one.

>>> from derive.symbols import syms
>>> from derive.conv.shapes import output_size
>>> from derive.check.parse import parse_expression
>>> H, K, P, S, D = syms("H K P S D")
>>> correct = output_size(H, K, P, S, D)
>>> name_mistake(correct, parse_expression("floor((H + 2*P - D*(K - 1) - 1)/S)")).name
'missing-plus-one'
>>> name_mistake(correct, parse_expression("floor((H + 2*P - K)/S) + 1")).title
'dilation ignored in the kernel extent'
>>> name_mistake(correct, parse_expression("floor((H + 2*P - D*(K - 1) - 1)/S) + 1")) is None
True

When nothing matches, :func:`in_words` states the difference with numbers instead:

>>> in_words({"S": 2, "H": 5, "K": 3, "P": 0}, 3, 2)
'with H = 5, K = 3, P = 0, S = 2 your line gives 3; the previous line gives 2'
"""

from __future__ import annotations

import functools
import itertools
import json
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

import sympy

from derive.errors import DeriveError

__all__ = [
    "CatalogueError",
    "Guard",
    "Mistake",
    "MistakeEntry",
    "OPERATIONS",
    "Operation",
    "catalogue",
    "in_words",
    "name_mistake",
    "read_catalogue",
]

#: seconds for one check of :func:`name_mistake` (a smaller ``budget`` argument wins)
CHECK_BUDGET = 2.0

Transform = Callable[[Any], Any]


class CatalogueError(DeriveError):
    """The mistake catalogue is malformed (names the entry and the offending field)."""


# --------------------------------------------------------------------------- data

@dataclass(frozen=True)
class Mistake:
    """A named mistake, as grading feedback shows it.

    >>> Mistake("missing-plus-one", "missing + 1 in the output size", "...").name
    'missing-plus-one'
    """

    name: str
    title: str
    feedback: str


@dataclass(frozen=True)
class Guard:
    """Where an entry may fire, by the shape of the correct expression.

    ``symbols``: one of these symbol names occurs; ``functions``: one of these kinds
    occurs; ``without``: none of these kinds occurs.  An empty part always holds.

    >>> from derive.symbols import syms
    >>> H, K = syms("H K")
    >>> Guard(symbols=("H", "W")).holds(sympy.floor(H / K))
    True
    >>> Guard(without=("floor",)).holds(sympy.floor(H / K))
    False
    """

    symbols: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()
    without: tuple[str, ...] = ()

    def holds(self, expr: Any) -> bool:
        """Whether ``expr`` passes every part of the guard."""
        if self.symbols and not _names(expr) & set(self.symbols):
            return False
        if self.functions and not any(_has_kind(expr, k) for k in self.functions):
            return False
        return not any(_has_kind(expr, k) for k in self.without)


@dataclass(frozen=True)
class Operation:
    """An operation of :data:`OPERATIONS` with its arguments, ready to apply.

    >>> from derive.symbols import syms
    >>> H, = syms("H")
    >>> Operation.make("offset", {"add": "-1"})(H + 1)
    H
    """

    op: str
    args: Mapping[str, Any] = field(default_factory=dict, hash=False)
    transform: Transform = field(default=lambda e: e, compare=False, hash=False, repr=False)

    @classmethod
    def make(cls, op: str, args: Mapping[str, Any]) -> "Operation":
        """Look ``op`` up in the registry and prepare it (its arguments are checked here)."""
        if op not in OPERATIONS:
            raise CatalogueError(f"got op={op!r}; op must be one of "
                                 + ", ".join(sorted(OPERATIONS)))
        return cls(op, MappingProxyType(dict(args)), OPERATIONS[op](args))

    def __call__(self, expr: Any) -> Any:
        return self.transform(expr)


@dataclass(frozen=True)
class MistakeEntry:
    """One catalogue entry: the mistake, where it applies, and how it is produced."""

    name: str
    title: str
    applies: str
    operation: Operation
    feedback: str
    when: Guard = Guard()

    @property
    def mistake(self) -> Mistake:
        """What :func:`name_mistake` returns for this entry."""
        return Mistake(self.name, self.title, self.feedback)

    def mistaken(self, correct: Any) -> Any | None:
        """The form ``correct`` takes under this mistake, or ``None`` when the entry does
        not apply (a number, a failed guard, or an operation that changes nothing).

        >>> from derive.symbols import syms
        >>> H, K, D = syms("H K D")
        >>> entry = next(e for e in catalogue() if e.name == "dilation-ignored")
        >>> entry.mistaken(H - D*(K - 1)), entry.mistaken(H - K)
        (H - K + 1, None)
        """
        expr = sympy.sympify(correct)
        if not _names(expr) or not self.when.holds(expr):
            return None
        try:
            out = self.operation(expr)
        except (TypeError, ValueError, ArithmeticError, AttributeError):
            return None   # SymPy could not rebuild the rewritten expression
        return None if out == expr else out


# --------------------------------------------------------------------------- helpers

_KINDS: dict[str, Any] = {
    "floor": sympy.floor,
    "ceiling": sympy.ceiling,
    "Sum": sympy.Sum,
    "Product": sympy.Product,
    "Piecewise": sympy.Piecewise,
    "Indexed": sympy.Indexed,
}


def _has_kind(expr: Any, kind: str) -> bool:
    return bool(expr.atoms(_KINDS[kind])) if kind in _KINDS else False


def _names(expr: Any) -> set[str]:
    """Names of the free symbols (and of the arrays) of ``expr``."""
    names = {s.name for s in expr.free_symbols if isinstance(s, sympy.Symbol)}
    names |= {str(i.base.label) for i in expr.atoms(sympy.Indexed)}
    return names


def _text_args(op: str, args: Mapping[str, Any], key: str) -> Any:
    if key not in args:
        raise CatalogueError(f"operation {op!r} needs the argument {key!r}; got {dict(args)!r}")
    return args[key]


def _parse(op: str, text: Any) -> Any:
    from derive.check.parse import parse_expression
    if not isinstance(text, str):
        raise CatalogueError(f"operation {op!r}: got {text!r}; expressions are written as text")
    try:
        return parse_expression(text)
    except DeriveError as exc:
        raise CatalogueError(f"operation {op!r}: cannot read {text!r}: {exc}") from None


def _aligned(value: Any, expr: Any) -> Any:
    """``value`` with its symbols replaced by the same-named symbols of ``expr``."""
    own = {s.name: s for s in expr.free_symbols if isinstance(s, sympy.Symbol)}
    return value.xreplace({s: own[s.name] for s in value.free_symbols
                           if isinstance(s, sympy.Symbol) and s.name in own})


def _name_list(op: str, args: Mapping[str, Any], key: str) -> tuple[str, ...]:
    names = _text_args(op, args, key)
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        raise CatalogueError(f"operation {op!r}: got {key}={names!r}; {key} must be a "
                             "non-empty list of names")
    return tuple(names)


def _matches(name: str, names: Sequence[str]) -> bool:
    """``S`` matches ``S``, ``S_1``, ``S_l`` (a name and its subscripted forms)."""
    return name.split("_")[0] in names


# --------------------------------------------------------------------------- operations

OPERATIONS: dict[str, Callable[[Mapping[str, Any]], Transform]] = {}


def _operation(name: str) -> Callable[[Callable[[Mapping[str, Any]], Transform]],
                                      Callable[[Mapping[str, Any]], Transform]]:
    def register(factory: Callable[[Mapping[str, Any]], Transform]
                 ) -> Callable[[Mapping[str, Any]], Transform]:
        OPERATIONS[name] = factory
        return factory
    return register


@_operation("subs")
def _subs(args: Mapping[str, Any]) -> Transform:
    """``{"with": {"D": "1"}}``: every symbol so named becomes the expression (at once).

    >>> from derive.symbols import syms
    >>> H, P = syms("H P")
    >>> _subs({"with": {"P": "P/2"}})(H + 2*P)
    H + P
    """
    table = _text_args("subs", args, "with")
    if not isinstance(table, dict) or not table:
        raise CatalogueError(f"operation 'subs': got with={table!r}; expected a mapping "
                             "from symbol names to expressions")
    parsed = {name: _parse("subs", text) for name, text in table.items()}

    def apply(expr: Any) -> Any:
        mapping = {s: _aligned(parsed[s.name], expr) for s in expr.free_symbols
                   if isinstance(s, sympy.Symbol) and s.name in parsed}
        return expr.xreplace(mapping) if mapping else expr
    return apply


@_operation("offset")
def _offset(args: Mapping[str, Any]) -> Transform:
    """``{"add": "-1"}``: the whole expression plus a constant or expression.

    >>> from derive.symbols import syms
    >>> H, = syms("H")
    >>> _offset({"add": "-1"})(sympy.floor(H / 2) + 1)
    floor(H/2)
    """
    added = _parse("offset", _text_args("offset", args, "add"))
    return lambda expr: expr + _aligned(added, expr)


@_operation("scale")
def _scale(args: Mapping[str, Any]) -> Transform:
    """``{"by": "2"}``: the whole expression times a factor.

    >>> from derive.symbols import syms
    >>> C, K = syms("C K")
    >>> _scale({"by": "1/2"})(2*C*K**2)
    C*K**2
    """
    factor = _parse("scale", _text_args("scale", args, "by"))
    return lambda expr: expr * _aligned(factor, expr)


@_operation("swap_function")
def _swap_function(args: Mapping[str, Any]) -> Transform:
    """``{"from": "floor", "to": "ceiling"}``: every call of one rounding function becomes
    the other.

    >>> from derive.symbols import syms
    >>> H, S = syms("H S")
    >>> _swap_function({"from": "floor", "to": "ceiling"})(sympy.floor(H / S) + 1)
    ceiling(H/S) + 1
    """
    rounding = {"floor": sympy.floor, "ceiling": sympy.ceiling}
    old, new = (_text_args("swap_function", args, k) for k in ("from", "to"))
    for value in (old, new):
        if value not in rounding:
            raise CatalogueError(f"operation 'swap_function': got {value!r}; expected one "
                                 "of floor, ceiling")
    return lambda expr: expr.replace(rounding[old], rounding[new])


@_operation("unflip")
def _unflip(args: Mapping[str, Any]) -> Transform:
    """``{"array": "w"}``: in the entries of that array inside a ``Sum``, an index that is
    the reflection ``lo + hi - u`` of a summation variable ``u`` (running from ``lo`` to
    ``hi``) becomes ``u``, and an index ``u`` becomes ``lo + hi - u``.  Other arrays keep
    their indices.

    >>> u, K = sympy.Symbol("u", integer=True), sympy.Symbol("K", integer=True)
    >>> w, g = sympy.IndexedBase("w"), sympy.IndexedBase("g")
    >>> _unflip({"array": "w"})(sympy.Sum(w[K - 1 - u] * g[u], (u, 0, K - 1)))
    Sum(g[u]*w[u], (u, 0, K - 1))
    """
    array = _text_args("unflip", args, "array")
    if not isinstance(array, str):
        raise CatalogueError(f"operation 'unflip': got array={array!r}; expected a name")

    def flip_sum(s: Any) -> Any:
        reflect = {v: lo + hi - v for v, lo, hi in s.limits}

        def index(i: Any) -> Any:
            for v, mirror in reflect.items():
                if i == v:
                    return mirror
                if sympy.expand(i - mirror) == 0:
                    return v
            return i

        body = s.function.replace(
            lambda e: isinstance(e, sympy.Indexed) and str(e.base.label) == array,
            lambda e: e.base[tuple(index(i) for i in e.indices)])
        return sympy.Sum(body, *s.limits)

    return lambda expr: expr.replace(lambda e: isinstance(e, sympy.Sum), flip_sum)


@_operation("range_shift")
def _range_shift(args: Mapping[str, Any]) -> Transform:
    """``{"by": 1}``: the upper limit of every range of every ``Sum`` moved by ``by``.

    >>> k, K = sympy.Symbol("k", integer=True), sympy.Symbol("K", integer=True)
    >>> _range_shift({"by": 1})(sympy.Sum(sympy.IndexedBase("w")[k], (k, 0, K - 1)))
    Sum(w[k], (k, 0, K))
    """
    by = _text_args("range_shift", args, "by")
    if isinstance(by, bool) or not isinstance(by, int) or by == 0:
        raise CatalogueError(f"operation 'range_shift': got by={by!r}; expected a non-zero "
                             "integer")

    def shift(s: Any) -> Any:
        return sympy.Sum(s.function, *[(v, lo, hi + by) for v, lo, hi in s.limits])

    return lambda expr: expr.replace(lambda e: isinstance(e, sympy.Sum), shift)


@_operation("bias_per_input_channel")
def _bias_per_input_channel(args: Mapping[str, Any]) -> Transform:
    """``{"channels": [["C_in", "C_out"], ...]}``: with the first pair of names that both
    occur, every term of the expanded count that has the output channels but not the input
    channels (the biases) is multiplied by the input channels.

    >>> from derive.symbols import syms
    >>> C, M, K = syms("C M K")
    >>> _bias_per_input_channel({"channels": [["C", "M"]]})((K**2*C + 1)*M)
    C*K**2*M + C*M
    """
    pairs = _text_args("bias_per_input_channel", args, "channels")
    if not (isinstance(pairs, list) and pairs and all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(n, str) for n in p)
            for p in pairs)):
        raise CatalogueError("operation 'bias_per_input_channel': got channels="
                             f"{pairs!r}; expected a list of [input, output] name pairs")

    def apply(expr: Any) -> Any:
        own = {s.name: s for s in expr.free_symbols if isinstance(s, sympy.Symbol)}
        for c_in, c_out in pairs:
            if c_in in own and c_out in own:
                a, b = own[c_in], own[c_out]
                terms = sympy.Add.make_args(sympy.expand(expr))
                return sympy.Add(*[t * a if t.has(b) and not t.has(a) else t
                                   for t in terms])
        return expr
    return apply


@_operation("no_jump")
def _no_jump(args: Mapping[str, Any]) -> Transform:
    """``{"strides": ["S", "s"], "kernels": ["K", "k"]}``: every stride (a symbol or an
    array entry so named, subscripts allowed) becomes 1 and a product of strides becomes 1,
    which drops the jump from a receptive-field growth.  The operation acts only on an
    expression where a stride multiplies a kernel term and no stride divides or sits in a
    floor or ceiling (an output size): elsewhere it changes nothing.

    >>> from derive.symbols import syms
    >>> K, S = syms("K S")
    >>> op = _no_jump({"strides": ["S"], "kernels": ["K"]})
    >>> op(K*S + K - S), op(sympy.floor((K - 1)/S) + 1)
    (2*K - 1, floor((K - 1)/S) + 1)
    """
    strides = _name_list("no_jump", args, "strides")
    kernels = _name_list("no_jump", args, "kernels")

    def is_stride(e: Any) -> bool:
        if isinstance(e, sympy.Symbol):
            return _matches(e.name, strides)
        if isinstance(e, sympy.Indexed):
            return _matches(str(e.base.label), strides)
        return False

    def mentions(e: Any, names: Sequence[str]) -> bool:
        return any(_matches(n, names) for n in _names(e))

    def divides(expr: Any) -> bool:
        for r in expr.atoms(sympy.floor, sympy.ceiling):
            if mentions(r, strides):
                return True
        return any(is_stride(p.base) and p.exp.is_negative
                   for p in expr.atoms(sympy.Pow))

    def scales_kernel(expr: Any) -> bool:
        """Some product (after expansion) has a stride and a kernel factor."""
        return any(isinstance(node, sympy.Mul) and mentions(node, strides)
                   and mentions(node, kernels)
                   for node in sympy.preorder_traversal(sympy.expand(expr)))

    def apply(expr: Any) -> Any:
        if divides(expr) or not scales_kernel(expr):
            return expr
        ones = {e: sympy.Integer(1) for e in expr.atoms(sympy.Symbol, sympy.Indexed)
                if is_stride(e)}
        out = expr.xreplace(ones)
        return out.replace(lambda e: isinstance(e, sympy.Product) and e.function == 1,
                           lambda e: sympy.Integer(1))
    return apply


# --------------------------------------------------------------------------- catalogue

_FIELDS = ("name", "title", "applies", "operation", "feedback")


def read_catalogue(text: str) -> tuple[MistakeEntry, ...]:
    """Entries from catalogue JSON text (a list of objects), every field checked.

    >>> read_catalogue('[{"name": "x", "title": "t", "applies": "a", "feedback": "f",'
    ...                ' "operation": {"op": "offset", "add": "1"}}]')[0].operation.op
    'offset'
    >>> read_catalogue('[{"name": "x", "title": "t", "applies": "a", "feedback": "f",'
    ...                ' "operation": {"op": "rotate"}}]')
    Traceback (most recent call last):
    ...
    derive.grade.mistakes.CatalogueError: entry 'x': got op='rotate'; op must be one of ...
    """
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogueError(f"the mistake catalogue is not valid JSON: {exc}") from None
    if not isinstance(raw, list):
        raise CatalogueError("the mistake catalogue must be a list of entries")
    entries: list[MistakeEntry] = []
    seen: set[str] = set()
    for position, item in enumerate(raw):
        entries.append(_entry(item, position))
        if entries[-1].name in seen:
            raise CatalogueError(f"entry {entries[-1].name!r} appears twice")
        seen.add(entries[-1].name)
    return tuple(entries)


def _entry(item: Any, position: int) -> MistakeEntry:
    label = repr(item.get("name")) if isinstance(item, dict) else f"#{position}"
    if not isinstance(item, dict):
        raise CatalogueError(f"entry {label}: expected an object, got {item!r}")
    for key in _FIELDS:
        value = item.get(key)
        wanted = dict if key == "operation" else str
        if not isinstance(value, wanted) or not value:
            raise CatalogueError(f"entry {label}: got {key}={value!r}; {key} must be a "
                                 f"non-empty {'object' if wanted is dict else 'text'}")
    extra = set(item) - set(_FIELDS) - {"when"}
    if extra:
        raise CatalogueError(f"entry {label}: unknown field(s) {', '.join(sorted(extra))}")
    args = {k: v for k, v in item["operation"].items() if k != "op"}
    try:
        operation = Operation.make(item["operation"].get("op"), args)
        when = _guard(item.get("when", {}))
    except CatalogueError as exc:
        raise exc.with_context(f"entry {label}") from None
    return MistakeEntry(item["name"], item["title"], item["applies"], operation,
                        item["feedback"], when)


def _guard(raw: Any) -> Guard:
    if not isinstance(raw, dict):
        raise CatalogueError(f"got when={raw!r}; when must be an object")
    unknown = set(raw) - {"symbols", "functions", "without"}
    if unknown:
        raise CatalogueError(f"got when keys {sorted(unknown)}; expected symbols, functions, "
                             "without")
    parts: dict[str, tuple[str, ...]] = {}
    for key, value in raw.items():
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise CatalogueError(f"got when.{key}={value!r}; expected a list of names")
        if key != "symbols":
            bad = [v for v in value if v not in _KINDS]
            if bad:
                raise CatalogueError(f"got when.{key}={value!r}; kinds are "
                                     + ", ".join(_KINDS))
        parts[key] = tuple(value)
    return Guard(**parts)


@functools.lru_cache(maxsize=1)
def catalogue() -> tuple[MistakeEntry, ...]:
    """The course's common mistakes, in matching order, read once from ``mistakes.json``.

    >>> [e.name for e in catalogue()][:3]
    ['missing-plus-one', 'dilation-ignored', 'padding-counted-once']
    """
    text = resources.files("derive.grade").joinpath("mistakes.json").read_text("utf-8")
    return read_catalogue(text)


# --------------------------------------------------------------------------- matching

def name_mistake(correct: Any, written: Any, assume: Sequence[Any] = (),
                 budget: float | None = None) -> Mistake | None:
    """The catalogued mistake that turns ``correct`` into ``written``, or ``None``.

    ``correct`` is what the student's line should equal (the previous line or the reference
    answer), ``written`` the student's expression, ``assume`` the assumption texts in force.
    Entries are tried in catalogue order; each check gets at most ``budget`` seconds
    (default and cap :data:`CHECK_BUDGET`).  An entry is named when the checker proves
    ``written`` equal to the entry's mistaken form of ``correct`` *and* refutes the
    mistaken form's equality with ``correct`` (so the mistake is a real difference under
    the assumptions).

    >>> from derive.symbols import syms
    >>> from derive.conv.costs import flops_conv
    >>> from derive.check.parse import parse_expression
    >>> C, M, K, H = syms("C M K H")
    >>> name_mistake(flops_conv(C, M, K, H), parse_expression("H**2*M*C*K**2")).name
    'macs-for-flops'
    """
    from derive.check.engine import check_exprs

    seconds = min(budget if budget is not None else CHECK_BUDGET, CHECK_BUDGET)
    correct, written = sympy.sympify(correct), sympy.sympify(written)
    taken = _names(correct) | _names(written)
    written = _bound_canonical(written, taken)
    for entry in catalogue():
        mistaken = entry.mistaken(correct)
        if mistaken is None:
            continue
        mistaken = _bound_canonical(mistaken, taken)
        try:
            if not check_exprs(written, mistaken, assume, seconds).proved:
                continue
            if check_exprs(_bound_canonical(correct, taken), mistaken, assume,
                           seconds).refuted:
                return entry.mistake
        except DeriveError:
            continue   # a form the checker cannot take names nothing
    return None


def _bound_canonical(expr: Any, taken: set[str]) -> Any:
    """``expr`` with the variables of its sums and products renamed in order of appearance
    (``b_0``, ``b_1`` ... as integers, avoiding the names in ``taken``).

    Renaming a bound variable changes no value; it lets the checker see that
    ``Sum(w[u], (u, 0, K - 1))`` and ``Sum(w[v], (v, 0, K - 1))`` are the same sum,
    whatever names and SymPy assumptions their variables came with.

    >>> u, v, K = sympy.symbols("u v K", integer=True)
    >>> w = sympy.IndexedBase("w")
    >>> (_bound_canonical(sympy.Sum(w[u], (u, 0, K)), set())
    ...  == _bound_canonical(sympy.Sum(w[v], (v, 0, K)), set()))
    True
    """
    if not expr.has(sympy.Sum, sympy.Product):
        return expr
    prefix = "b"
    while any(n == prefix or n.startswith(prefix + "_") for n in taken):
        prefix += "b"
    count = itertools.count()

    def walk(e: Any) -> Any:   # outermost first, so a rewrite inside keeps outer names
        if isinstance(e, (sympy.Sum, sympy.Product)):
            e = e.xreplace({v: sympy.Symbol(f"{prefix}_{next(count)}", integer=True)
                            for v, *_ in e.limits if isinstance(v, sympy.Symbol)})
            return type(e)(walk(e.function),
                           *[(v, walk(lo), walk(hi)) for v, lo, hi in e.limits])
        if not e.args or not e.has(sympy.Sum, sympy.Product):
            return e
        return e.func(*[walk(a) for a in e.args])

    return walk(expr)


def in_words(names_values: Mapping[str, object], written_value: object,
             correct_value: object, written_label: str = "your line",
             correct_label: str = "the previous line") -> str:
    """The difference at one point, in words: the fallback feedback when no mistake is
    named.  Names are sorted; values are shown as given.

    >>> in_words({"K": 3, "H": 5}, 3, 2, correct_label="the answer")
    'with H = 5, K = 3 your line gives 3; the answer gives 2'
    >>> in_words({}, 7, 6)
    'your line gives 7; the previous line gives 6'
    """
    point = ", ".join(f"{name} = {names_values[name]}" for name in sorted(names_values))
    head = f"with {point} " if point else ""
    return f"{head}{written_label} gives {written_value}; {correct_label} gives {correct_value}"
