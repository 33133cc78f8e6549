"""Claims with their own ground truth, for the whole-pipeline soundness fuzzer.

Design: the fuzzer must not trust anything it tests.  Claims are generated here as a small
expression tree of our own (:class:`Num`, :class:`Sym`, :class:`Op`, :class:`Call`,
:class:`Pow`, :class:`Neg`, :class:`Big`), rendered to the claim language's text, and
handed to ``derive.verify`` as text.  The ground truth is computed from the *tree* (never
from the text the engine parses, never with SymPy, never with derive's evaluator) by
:func:`evaluate`, in exact :class:`fractions.Fraction` arithmetic, at every point of a
finite domain computed by :func:`solve_domain` from the assumptions' own structured facts
(ints while values are integral, for speed).  A symbol without an upper bound is checked
on a prefix of its values (up to ``PREFIX_TOP``) plus a few far probes (``FAR_VALUES``),
which can only expose false proofs visible there.

Semantics encoded here (the convention the engine is being changed to):

* every symbol is an integer; by default a positive one (``P`` and ``p`` default to
  ``>= 0``); the domain is the intersection of all assumptions, in any order; an explicit
  lower bound (``x >= c``, ``x > c``, ``x positive``, ``x nonnegative``) or the words
  ``integer`` / ``negative`` replace the *default* lower bound; explicit bounds intersect;
  strict bounds convert exactly for integers (``x < 5.5`` is ``x <= 5``); ``odd`` / ``even``
  restrict parity; an empty intersection is a contradiction;
* ``/``, ``//``, ``%`` and ``Mod`` are undefined on a zero divisor, and so is a zero base
  with a negative exponent; ``%``/``Mod`` take the sign of the divisor; ``//`` is
  ``floor(a/b)``;
* ``binomial(n, k)`` for integers: ``n (n-1) ... (n-k+1) / k!`` for ``k >= 0`` (0 when
  ``k > n >= 0``) and 0 for ``k < 0``;
* ``Sum(f, (j, lo, hi))`` over ``hi < lo`` is empty (0) and such a ``Product`` is 1; in the
  multi-limit form ``Sum(f, (j, 1, k), (k, 1, n))`` the *first* limit is the innermost sum;
  a bound variable shadows a free symbol of the same name only inside its sum;
* a side is undefined at a point if any part of it is (``0*(1/x)`` is undefined at 0).

Meaning the fuzzer does not define (a non-integer sum limit or binomial argument) raises
:class:`OutOfGrammar`, and the generator throws such a claim away.

Every decision of the generator is one ``rng.randint`` call on a :class:`random.Random`;
under Hypothesis that is ``st.randoms(use_true_random=False)``, whose calls are shrinkable
draws (every choice lists its simplest option first).  True claims come from rewrites of
the left side meant to keep its value (:func:`rewrites`), false ones from small mutations
(:func:`mutations`); neither intent is trusted: :func:`judge_claim` decides.  Claims stay
small (``MAX_CLAIM_NODES``), as the engine's cost grows with the text.
"""

from __future__ import annotations

import ast
import itertools
import math
import random
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Iterator, Sequence, TypeVar, Union

T = TypeVar("T")

# ---------------------------------------------------------------------------------------
# Errors of evaluation


class Undefined(ArithmeticError):
    """A side has no value at this point (division or Mod by zero, 0 to a negative power)."""


class OutOfGrammar(ValueError):
    """The claim means something the fuzzer does not define; the generator discards it."""


class TooCostly(RuntimeError):
    """Evaluating at this point would take too long (a long sum at a far point)."""


# ---------------------------------------------------------------------------------------
# Expression trees


@dataclass(frozen=True)
class Num:
    """A rational constant; ``style`` picks how it is written (the value never changes)."""
    value: Fraction
    style: str = "plain"        # plain | slash | rational | decimal | float_int


@dataclass(frozen=True)
class Sym:
    name: str


@dataclass(frozen=True)
class Op:
    """A binary operator: ``+ - * / // %``."""
    op: str
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class Neg:
    arg: "Node"


@dataclass(frozen=True)
class Pow:
    base: "Node"
    exp: int


@dataclass(frozen=True)
class Call:
    """``floor``, ``ceiling``, ``Abs``, ``Min``, ``Max``, ``Mod``, ``binomial``."""
    fn: str
    args: tuple["Node", ...]


@dataclass(frozen=True)
class Limit:
    var: str
    lo: "Node"
    hi: "Node"


@dataclass(frozen=True)
class Big:
    """``Sum`` or ``Product``; ``limits[0]`` is the innermost (SymPy's order)."""
    kind: str
    body: "Node"
    limits: tuple[Limit, ...]


Node = Union[Num, Sym, Op, Neg, Pow, Call, Big]

CALLS = ("floor", "ceiling", "Abs", "Min", "Max", "Mod", "binomial")


def children(e: Node) -> tuple[Node, ...]:
    if isinstance(e, Op):
        return (e.left, e.right)
    if isinstance(e, (Neg,)):
        return (e.arg,)
    if isinstance(e, Pow):
        return (e.base,)
    if isinstance(e, Call):
        return e.args
    if isinstance(e, Big):
        return (e.body,) + tuple(x for lim in e.limits for x in (lim.lo, lim.hi))
    return ()


def with_children(e: Node, kids: Sequence[Node]) -> Node:
    if isinstance(e, Op):
        return Op(e.op, kids[0], kids[1])
    if isinstance(e, Neg):
        return Neg(kids[0])
    if isinstance(e, Pow):
        return Pow(kids[0], e.exp)
    if isinstance(e, Call):
        return Call(e.fn, tuple(kids))
    if isinstance(e, Big):
        lims = tuple(Limit(lim.var, kids[1 + 2 * i], kids[2 + 2 * i])
                     for i, lim in enumerate(e.limits))
        return Big(e.kind, kids[0], lims)
    return e


def positions(e: Node, path: tuple[int, ...] = ()) -> Iterator[tuple[int, ...]]:
    """Paths of every subterm, the root first."""
    yield path
    for i, c in enumerate(children(e)):
        yield from positions(c, path + (i,))


def at(e: Node, path: tuple[int, ...]) -> Node:
    for i in path:
        e = children(e)[i]
    return e


def replace_at(e: Node, path: tuple[int, ...], new: Node) -> Node:
    if not path:
        return new
    kids = list(children(e))
    kids[path[0]] = replace_at(kids[path[0]], path[1:], new)
    return with_children(e, kids)


def size(e: Node) -> int:
    return 1 + sum(size(c) for c in children(e))


def free_symbols(e: Node) -> set[str]:
    """Names free in ``e``: a bound variable is bound in its body and in the limits of
    the sums *inside* it in the multi-limit form, not in its own limits."""
    if isinstance(e, Sym):
        return {e.name}
    if isinstance(e, Big):
        out = free_symbols(e.body) - {lim.var for lim in e.limits}
        for i, lim in enumerate(e.limits):
            outer = {o.var for o in e.limits[i + 1:]}
            out |= (free_symbols(lim.lo) | free_symbols(lim.hi)) - outer
        return out
    out: set[str] = set()
    for c in children(e):
        out |= free_symbols(c)
    return out


def substitute(e: Node, name: str, new: Node) -> Node:
    """``e`` with the free occurrences of ``name`` replaced by ``new`` (no capture check:
    callers only substitute what the ground truth re-judges anyway)."""
    if isinstance(e, Sym):
        return new if e.name == name else e
    if isinstance(e, Big):
        names = [lim.var for lim in e.limits]
        lims = []
        for i, lim in enumerate(e.limits):
            if name in names[i + 1:]:
                lims.append(lim)
            else:
                lims.append(Limit(lim.var, substitute(lim.lo, name, new),
                                  substitute(lim.hi, name, new)))
        body = e.body if name in names else substitute(e.body, name, new)
        return Big(e.kind, body, tuple(lims))
    kids = children(e)
    return with_children(e, [substitute(c, name, new) for c in kids]) if kids else e


# ---------------------------------------------------------------------------------------
# Rendering to the claim language (fully bracketed: the text's meaning is the tree's)


def _decimal(v: Fraction) -> str | None:
    """``v`` as a terminating decimal, when it is one."""
    d = v.denominator
    twos = fives = 0
    while d % 2 == 0:
        d //= 2
        twos += 1
    while d % 5 == 0:
        d //= 5
        fives += 1
    if d != 1:
        return None
    places = max(twos, fives, 1)
    scaled = abs(v) * 10 ** places
    whole, frac = divmod(int(scaled), 10 ** places)
    text = f"{whole}.{frac:0{places}d}".rstrip("0")
    if text.endswith("."):
        text += "0"
    return ("-" if v < 0 else "") + text


def render_num(n: Num) -> str:
    v = n.value
    if v.denominator == 1:
        body = f"{abs(v.numerator)}.0" if n.style == "float_int" else str(abs(v.numerator))
        return f"(-{body})" if v < 0 else body
    dec = _decimal(v) if n.style == "decimal" else None
    if dec is not None:
        return f"({dec})" if v < 0 else dec
    if n.style == "rational":
        return f"Rational({v.numerator}, {v.denominator})"
    return f"({v.numerator}/{v.denominator})"


def render(e: Node, top: bool = False) -> str:
    if isinstance(e, Num):
        return render_num(e)
    if isinstance(e, Sym):
        return e.name
    if isinstance(e, Op):
        text = f"{render(e.left)} {e.op} {render(e.right)}"
        return text if top else f"({text})"
    if isinstance(e, Neg):
        return f"-{render(e.arg)}" if top else f"(-{render(e.arg)})"
    if isinstance(e, Pow):
        base = render(e.base)
        if isinstance(e.base, Pow):     # ** is right-associative: (x**2)**3
            base = f"({base})"
        exp = str(e.exp) if e.exp >= 0 else f"({e.exp})"
        return f"{base}**{exp}"
    if isinstance(e, Call):
        return f"{e.fn}({', '.join(render(a, True) for a in e.args)})"
    if isinstance(e, Big):
        lims = ", ".join(f"({lim.var}, {render(lim.lo, True)}, {render(lim.hi, True)})"
                         for lim in e.limits)
        return f"{e.kind}({render(e.body, True)}, {lims})"
    raise TypeError(f"not a node: {e!r}")


# ---------------------------------------------------------------------------------------
# The ground-truth evaluator


@dataclass
class Cost:
    """Counts evaluation steps; past ``limit`` the evaluation gives up (TooCostly)."""
    limit: int = 400_000
    steps: int = 0

    def spend(self, n: int = 1) -> None:
        self.steps += n
        if self.steps > self.limit:
            raise TooCostly(f"more than {self.limit} evaluation steps")


def binomial(n: int, k: int) -> int:
    """Binomial coefficient for integers (Concrete Mathematics' convention).

    >>> binomial(5, 2), binomial(5, 7), binomial(-3, 2), binomial(4, -1)
    (10, 0, 6, 0)
    """
    if k < 0:
        return 0
    if n >= 0:
        return math.comb(n, k) if k <= n else 0
    return (-1) ** k * math.comb(k - n - 1, k)


Value = Union[int, Fraction]      # ints while integral: much faster than Fractions


def _norm(v: Fraction) -> Value:
    """An integral Fraction as an int (sum limits and binomial arguments must be ints)."""
    return v.numerator if v.denominator == 1 else v


def evaluate(e: Node, env: dict[str, Value], cost: Cost | None = None) -> Value:
    """The exact value of ``e`` at ``env`` (an int when integral, else a Fraction); raises
    :class:`Undefined`, :class:`OutOfGrammar` or :class:`TooCostly`."""
    cost = cost if cost is not None else Cost()
    cost.spend()
    if isinstance(e, Num):
        return _norm(e.value)
    if isinstance(e, Sym):
        try:
            return env[e.name]
        except KeyError:
            raise OutOfGrammar(f"no value for {e.name}") from None
    if isinstance(e, Op):
        a, b = evaluate(e.left, env, cost), evaluate(e.right, env, cost)
        if e.op in ("+", "-", "*"):
            r = a + b if e.op == "+" else a - b if e.op == "-" else a * b
            return _norm(r) if isinstance(r, Fraction) else r
        if b == 0:
            raise Undefined(f"{e.op} by zero")
        if e.op == "/":
            return _norm(Fraction(a) / b)
        if e.op == "//":
            return math.floor(Fraction(a) / b)
        if e.op == "%":
            return _mod(a, b)
        raise OutOfGrammar(f"operator {e.op}")
    if isinstance(e, Neg):
        return -evaluate(e.arg, env, cost)
    if isinstance(e, Pow):
        b = evaluate(e.base, env, cost)
        if b == 0 and e.exp < 0:
            raise Undefined("zero to a negative power")
        if abs(Fraction(b).numerator).bit_length() * abs(e.exp) > 20_000:
            raise TooCostly("power too large")
        return _norm(Fraction(b) ** e.exp)
    if isinstance(e, Call):
        args = [evaluate(a, env, cost) for a in e.args]
        if e.fn == "floor":
            return math.floor(args[0])
        if e.fn == "ceiling":
            return math.ceil(args[0])
        if e.fn == "Abs":
            return abs(args[0])
        if e.fn == "Min":
            return min(args)
        if e.fn == "Max":
            return max(args)
        if e.fn == "Mod":
            if args[1] == 0:
                raise Undefined("Mod by zero")
            return _mod(args[0], args[1])
        if e.fn == "binomial":
            n, k = _integer(args[0], "binomial's n"), _integer(args[1], "binomial's k")
            cost.spend(max(0, min(k, abs(n) + k)))
            return binomial(n, k)
        raise OutOfGrammar(f"function {e.fn}")
    if isinstance(e, Big):
        return _big(e, len(e.limits) - 1, dict(env), cost)
    raise TypeError(f"not a node: {e!r}")


def _integer(v: Value, what: str) -> int:
    if isinstance(v, Fraction):
        raise OutOfGrammar(f"{what} is not an integer ({v})")
    return v


def _mod(a: Value, b: Value) -> Value:
    """``a - b*floor(a/b)``: the result has the sign of ``b``."""
    if isinstance(a, int) and isinstance(b, int):
        return a % b
    return _norm(Fraction(a) - b * math.floor(Fraction(a) / b))


def _big(e: Big, i: int, env: dict[str, Value], cost: Cost) -> Value:
    if i < 0:
        return evaluate(e.body, env, cost)
    lim = e.limits[i]
    lo = _integer(evaluate(lim.lo, env, cost), "a sum's lower limit")
    hi = _integer(evaluate(lim.hi, env, cost), "a sum's upper limit")
    total: Value = 0 if e.kind == "Sum" else 1
    if hi < lo:
        return total          # empty range: 0 for a sum, 1 for a product
    cost.spend(hi - lo + 1)
    saved = env.get(lim.var)
    for j in range(lo, hi + 1):
        env[lim.var] = j
        term = _big(e, i - 1, env, cost)
        total = total + term if e.kind == "Sum" else total * term
    if saved is None:
        env.pop(lim.var, None)
    else:
        env[lim.var] = saved
    return _norm(total) if isinstance(total, Fraction) else total


# ---------------------------------------------------------------------------------------
# Assumptions and domains

KIND_WORDS = ("positive", "nonnegative", "negative", "integer", "odd", "even")
NONNEGATIVE_DEFAULT = frozenset({"P", "p"})
PREFIX_TOP = 40                     # an unbounded symbol is brute-forced up to this value
FAR_VALUES = (100, 1001, 5001, 40_000)   # plus a few far probes (judged when cheap)
FAR_PROBE_STEPS = 3_000                  # evaluation steps a far probe may take


@dataclass(frozen=True)
class Fact:
    """One primitive fact: ``name rel value`` (rel in >=, >, <=, <) or ``name word``."""
    name: str
    rel: str
    value: Fraction | None = None


@dataclass(frozen=True)
class Assumption:
    text: str
    facts: tuple[Fact, ...]


@dataclass(frozen=True)
class SymbolRange:
    """A symbol's integer values: ``lower..upper`` (``upper`` None: unbounded above)."""
    name: str
    lower: int
    upper: int | None
    parity: int | None = None

    def contains(self, v: int) -> bool:
        return (v >= self.lower and (self.upper is None or v <= self.upper)
                and (self.parity is None or v % 2 == self.parity))

    def values(self) -> list[int]:
        """Every value, or the prefix ``lower..PREFIX_TOP`` of an unbounded range."""
        top = self.upper if self.upper is not None else max(PREFIX_TOP, self.lower + 7)
        return [v for v in range(self.lower, top + 1) if self.contains(v)]

    def describe(self) -> str:
        hi = "oo" if self.upper is None else str(self.upper)
        par = {None: "", 0: " even", 1: " odd"}[self.parity]
        return f"{self.name} in {self.lower}..{hi}{par}"


class Contradiction(ValueError):
    """The assumptions leave no value for some symbol."""


class Unbounded(ValueError):
    """A symbol has no lower bound (the fuzzer never generates that)."""


def default_lower(name: str) -> int:
    return 0 if name in NONNEGATIVE_DEFAULT else 1


def solve_domain(names: Sequence[str], assumptions: Sequence[Assumption]) -> dict[str, SymbolRange]:
    """Each symbol's range under the assumptions (see the module docstring).

    >>> r = solve_domain(["x"], [parse_assumption("x <= 4"), parse_assumption("x < 3.5")])
    >>> r["x"].describe()
    'x in 1..3'
    >>> solve_domain(["x"], [parse_assumption("x positive"), parse_assumption("x >= 5")])["x"].lower
    5
    """
    facts: dict[str, list[Fact]] = {n: [] for n in names}
    for a in assumptions:
        for f in a.facts:
            facts.setdefault(f.name, []).append(f)
    out = {}
    for name, fs in facts.items():
        lowers: list[int] = []
        uppers: list[int] = []
        parities: set[int] = set()
        drops_default = False
        for f in fs:
            v = f.value
            if f.rel == ">=":
                lowers.append(math.ceil(v))
            elif f.rel == ">":
                lowers.append(math.floor(v) + 1)
            elif f.rel == "<=":
                uppers.append(math.floor(v))
            elif f.rel == "<":
                uppers.append(math.ceil(v) - 1)
            elif f.rel == "positive":
                lowers.append(1)
            elif f.rel == "nonnegative":
                lowers.append(0)
            elif f.rel == "negative":
                uppers.append(-1)
                drops_default = True
            elif f.rel == "integer":
                drops_default = True
            elif f.rel in ("odd", "even"):
                parities.add(1 if f.rel == "odd" else 0)
            else:
                raise ValueError(f"unknown fact {f}")
        if lowers:
            lower = max(lowers)
        elif drops_default:
            raise Unbounded(f"{name} has no lower bound")
        else:
            lower = default_lower(name)
        upper = min(uppers) if uppers else None
        if len(parities) > 1:
            raise Contradiction(f"{name} both odd and even")
        parity = next(iter(parities)) if parities else None
        r = SymbolRange(name, lower, upper, parity)
        if upper is not None and not r.values():
            raise Contradiction(f"no value left for {name}")
        out[name] = r
    return out


# ---------------------------------------------------------------------------------------
# Ground truth of a claim


@dataclass
class Truth:
    """What brute force says: ``true`` when both sides are defined and equal at every
    checked point (then ``points`` were checked), else the first ``witness`` found with
    both sides' values there; ``exhaustive`` when the checked points are the whole
    domain (no symbol is unbounded above)."""
    true: bool
    exhaustive: bool
    points: int
    witness: dict[str, int] | None = None
    witness_values: tuple[Any, Any] | None = None   # each a value or UNDEFINED


UNDEFINED = "undefined"


def side_value(e: Node, env: dict[str, Value], cost: Cost) -> Value | str:
    try:
        return evaluate(e, env, cost)
    except Undefined:
        return UNDEFINED


def domain_points(ranges: dict[str, SymbolRange]) -> tuple[list[dict[str, int]], int, bool]:
    """Brute-force points: the whole finite domain (or its prefix for unbounded symbols)
    followed by far probes for unbounded ones; how many points precede the probes; and
    whether that is the whole domain."""
    names = sorted(ranges)
    grids = [ranges[n].values() for n in names]
    points = [dict(zip(names, combo)) for combo in itertools.product(*grids)]
    grid_size = len(points)
    unbounded = [n for n in names if ranges[n].upper is None]
    for n in unbounded:
        r = ranges[n]
        for far in FAR_VALUES:
            v = far if r.contains(far) else far + 1
            if v > r.lower + len(r.values()) and r.contains(v):
                points.append({m: (v if m == n else ranges[m].values()[0]) for m in names})
    return points, grid_size, not unbounded


def _sides(lhs: Node, rhs: Node, points: list[dict[str, int]], grid: int, strict: bool = True
           ) -> Iterator[tuple[dict[str, int], Any, Any]]:
    """Both sides at each point.  A far probe (index >= ``grid``) too costly is skipped; a
    domain point too costly or outside the grammar raises OutOfGrammar when ``strict``,
    else it is skipped too."""
    for k, point in enumerate(points):
        cost = Cost(400_000 if k < grid else FAR_PROBE_STEPS)
        try:
            a, b = side_value(lhs, dict(point), cost), side_value(rhs, dict(point), cost)
        except (TooCostly, OutOfGrammar) as exc:
            if strict and k < grid:
                raise OutOfGrammar(f"at {point}: {exc}") from None
            continue
        yield point, a, b


def judge_claim(lhs: Node, rhs: Node, ranges: dict[str, SymbolRange]) -> Truth:
    """Brute force over the domain, up to the first point where the claim fails (points
    after a witness are not visited: a false claim may leave the grammar there, which
    changes nothing: the witness stands)."""
    points, grid, exhaustive = domain_points(ranges)
    truth = Truth(True, exhaustive, 0)
    for point, a, b in _sides(lhs, rhs, points, grid):
        truth.points += 1
        if a == UNDEFINED or b == UNDEFINED or a != b:
            truth.true = False
            truth.witness, truth.witness_values = dict(point), (a, b)
            break
    return truth


def undefined_points(lhs: Node, rhs: Node, ranges: dict[str, SymbolRange]) -> tuple[int, int]:
    """How many checked points leave a side undefined, out of how many (points outside the
    grammar, which a false claim may have beyond its witness, are not counted)."""
    points, grid, _ = domain_points(ranges)
    seen = bad = 0
    for _point, a, b in _sides(lhs, rhs, points, grid, strict=False):
        seen += 1
        bad += a == UNDEFINED or b == UNDEFINED
    return bad, seen


def value_at(lhs: Node, rhs: Node, point: dict[str, int]) -> tuple[Any, Any]:
    """Both sides at one point (to check a counterexample); may raise TooCostly or
    OutOfGrammar."""
    cost = Cost(400_000)
    return side_value(lhs, dict(point), cost), side_value(rhs, dict(point), cost)


# ---------------------------------------------------------------------------------------
# Parsing our own texts (for pinned examples): Python's ast, never SymPy or derive


def parse_expr(text: str) -> Node:
    """A claim-language expression as a tree.

    >>> render(parse_expr("Sum(j, (j, 1, k), (k, 1, n)) + x % 3"), top=True)
    'Sum(j, (j, 1, k), (k, 1, n)) + (x % 3)'
    """
    tree = ast.parse(text.strip(), mode="eval").body
    return _from_ast(tree, text.strip())


def parse_claim(text: str) -> tuple[Node, Node]:
    tree = ast.parse(text.strip(), mode="eval").body
    if not (isinstance(tree, ast.Compare) and len(tree.ops) == 1
            and isinstance(tree.ops[0], ast.Eq)):
        raise ValueError(f"not a claim 'lhs == rhs': {text}")
    src = text.strip()
    return _from_ast(tree.left, src), _from_ast(tree.comparators[0], src)


_AST_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
            ast.Mod: "%"}
_REL = {ast.GtE: ">=", ast.Gt: ">", ast.LtE: "<=", ast.Lt: "<"}
_FLIP = {">=": "<=", ">": "<", "<=": ">=", "<": ">"}


def _from_ast(node: ast.AST, src: str) -> Node:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
            and not isinstance(node.value, bool):
        if isinstance(node.value, int):
            return Num(Fraction(node.value))
        piece = ast.get_source_segment(src, node) or repr(node.value)
        return Num(Fraction(piece.replace("_", "")), "decimal")   # exact, as the claim means
    if isinstance(node, ast.Name):
        return Sym(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _from_ast(node.operand, src)
        if isinstance(node.op, ast.UAdd):
            return inner
        return Num(-inner.value, inner.style) if isinstance(inner, Num) else Neg(inner)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        exp = _from_ast(node.right, src)
        if not (isinstance(exp, Num) and exp.value.denominator == 1):
            raise ValueError("only integer constant exponents")
        return Pow(_from_ast(node.left, src), int(exp.value))
    if isinstance(node, ast.BinOp) and type(node.op) in _AST_OPS:
        return Op(_AST_OPS[type(node.op)], _from_ast(node.left, src), _from_ast(node.right, src))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        fn = node.func.id
        if fn == "Rational":
            p, q = (_from_ast(a, src) for a in node.args)
            assert isinstance(p, Num) and isinstance(q, Num)
            return Num(p.value / q.value, "rational")
        if fn in ("Sum", "Product"):
            lims = []
            for lim in node.args[1:]:
                assert isinstance(lim, ast.Tuple) and isinstance(lim.elts[0], ast.Name)
                lims.append(Limit(lim.elts[0].id, _from_ast(lim.elts[1], src),
                                  _from_ast(lim.elts[2], src)))
            return Big(fn, _from_ast(node.args[0], src), tuple(lims))
        if fn in CALLS:
            return Call(fn, tuple(_from_ast(a, src) for a in node.args))
    raise ValueError(f"not in the fuzzer's grammar: {ast.dump(node)[:80]}")


def parse_assumption(text: str) -> Assumption:
    """An assumption text as facts: ``x >= 2``, ``1 < x <= 5``, ``x, y positive``."""
    words = text.replace(",", " ").split()
    if len(words) >= 2 and words[-1] in KIND_WORDS and all(w.isidentifier() for w in words[:-1]):
        return Assumption(text, tuple(Fact(n, words[-1]) for n in words[:-1]))
    tree = ast.parse(text.strip(), mode="eval").body
    if not isinstance(tree, ast.Compare):
        raise ValueError(f"not a comparison: {text}")
    operands = [_from_ast(x, text.strip()) for x in [tree.left, *tree.comparators]]
    facts = []
    for a, op, b in zip(operands, tree.ops, operands[1:]):
        rel = _REL[type(op)]
        if isinstance(a, Sym) and not free_symbols(b):
            facts.append(Fact(a.name, rel, evaluate(b, {})))
        elif isinstance(b, Sym) and not free_symbols(a):
            facts.append(Fact(b.name, _FLIP[rel], evaluate(a, {})))
        else:
            raise ValueError(f"not a bound on one symbol: {text}")
    return Assumption(text, tuple(facts))


# ---------------------------------------------------------------------------------------
# Decisions: every choice is one ``rng.randint`` call.  Hypothesis hands in its own
# ``random.Random`` (``st.randoms(use_true_random=False)``), whose calls are draws it can
# shrink (towards each range's low end, which is why every choice lists its simplest option
# first); a campaign outside Hypothesis may pass any seeded ``random.Random``.


def pick(rng: random.Random, options: Sequence[T]) -> T:
    """One of ``options`` (the first is the simplest)."""
    return options[rng.randint(0, len(options) - 1)]


def weighted(rng: random.Random, options: Sequence[tuple[int, T]]) -> T:
    total = sum(w for w, _ in options)
    r = rng.randint(0, total - 1)
    for w, v in options:
        if r < w:
            return v
        r -= w
    raise AssertionError("unreachable")


def build(rng: random.Random, options: Sequence[tuple[int, Callable[[], T]]]) -> T:
    """Call one of the weighted thunks (only the chosen alternative draws anything)."""
    return weighted(rng, options)()


def chance(rng: random.Random, percent: int) -> bool:
    """True with about ``percent`` % probability (False is the simple outcome)."""
    return rng.randint(0, 99) >= 100 - percent


# ---------------------------------------------------------------------------------------
# Generating expressions

FREE_NAMES = ("x", "n", "a", "b", "k", "m", "c", "y", "p", "P", "H", "a_q", "n_shifted",
              "H_shifted")
FREE_WEIGHTS = (6, 6, 5, 4, 4, 3, 3, 3, 2, 2, 2, 2, 2, 2)
BOUND_NAMES = ("j", "i", "t", "k", "n", "m", "x", "n_shifted")
FRACTIONS = (Fraction(1, 2), Fraction(3, 2), Fraction(-1, 2), Fraction(1, 3), Fraction(5, 4),
             Fraction(2, 5), Fraction(-7, 3), Fraction(1, 10))
NUM_STYLES = ("plain", "slash", "decimal", "rational")


@dataclass
class Scope:
    free: list[str]
    bound: list[str] = field(default_factory=list)
    depth_big: int = 0

    def inner(self, var: str) -> "Scope":
        return Scope(self.free, self.bound + [var], self.depth_big + 1)


# Integer constants (weight, value); one in 30 is written as a float ("2.0").
INTEGERS = ((6, 1), (6, 2), (5, 0), (4, 3), (3, -1), (2, 4), (2, 5), (1, -2), (1, -3),
            (1, 7), (1, 10))
NUMBERS = ([(29 * w, Num(Fraction(v))) for w, v in INTEGERS]
           + [(w, Num(Fraction(v), "float_int")) for w, v in INTEGERS])
FRACTION_NUMBERS = [(1, Num(v, style)) for v in FRACTIONS for style in NUM_STYLES]


def gen_num(rng: random.Random, integer_only: bool = False) -> Num:
    """A constant (one in seven a fraction, in one of its spellings): a single draw."""
    if integer_only:
        return weighted(rng, NUMBERS)
    total = sum(w for w, _ in NUMBERS)
    return weighted(rng, NUMBERS + [(total // (6 * len(FRACTION_NUMBERS)), n)
                                    for _, n in FRACTION_NUMBERS])


def gen_sym(rng: random.Random, scope: Scope) -> Sym:
    """A free symbol or, inside a sum, more often a bound index: a single draw."""
    options = [(2, name) for name in scope.free] + [
        (3 * len(scope.free), name) for name in scope.bound[::-1]]
    return Sym(weighted(rng, options))


def gen_leaf(rng: random.Random, scope: Scope, integer_only: bool = False) -> Node:
    if not chance(rng, 35):
        return gen_sym(rng, scope)
    return gen_num(rng, integer_only)


def gen_int(rng: random.Random, scope: Scope) -> Node:
    """Integer-valued terms (sum limits, binomial arguments)."""
    s = lambda: gen_sym(rng, scope)  # noqa: E731
    c = lambda: gen_num(rng, integer_only=True)  # noqa: E731
    one, two, three, zero = (Num(Fraction(v)) for v in (1, 2, 3, 0))
    return build(rng, [(5, s), (3, lambda: Op("-", s(), one)), (3, c),
                       (2, lambda: Op("+", s(), c())), (2, lambda: Op("-", s(), c())),
                       (1, lambda: Call("floor", (Op("/", s(), two),))),
                       (1, lambda: Op("*", two, s())), (1, lambda: Op("//", s(), three)),
                       (1, lambda: Call("Max", (Op("-", s(), c()), zero)))])


def gen_expr(rng: random.Random, depth: int, scope: Scope, top: bool = False) -> Node:
    if depth <= 0 or (not top and chance(rng, 25)):
        return gen_leaf(rng, scope)
    kind = weighted(rng, [(4, "add"), (3, "sub"), (4, "mul"), (4, "floor"), (2, "mod"),
                         (2, "ceiling"), (1, "div"), (1, "floordiv"), (1, "neg"), (1, "abs"),
                         (2, "minmax"), (2, "pow"), (1, "binomial"),
                         (3 if scope.depth_big < 2 else 0, "sum"),
                         (1 if scope.depth_big < 1 else 0, "product")])
    sub = lambda: gen_expr(rng, depth - 1, scope)  # noqa: E731
    if kind in ("add", "sub", "mul"):
        return Op({"add": "+", "sub": "-", "mul": "*"}[kind], sub(), sub())
    if kind in ("floor", "ceiling"):
        inner = Op("/", sub(), gen_divisor(rng, scope)) if chance(rng, 75) else sub()
        if chance(rng, 15):
            inner = Op("+", inner, gen_num(rng))
        return Call(kind, (inner,))
    if kind == "mod":
        a, b = sub(), gen_divisor(rng, scope)
        return Call("Mod", (a, b)) if chance(rng, 50) else Op("%", a, b)
    if kind == "div":
        return Op("/", sub(), gen_divisor(rng, scope))
    if kind == "floordiv":
        return Op("//", sub(), gen_divisor(rng, scope))
    if kind == "neg":
        return Neg(sub())
    if kind == "abs":
        return Call("Abs", (sub(),))
    if kind == "minmax":
        args = tuple(sub() for _ in range(3 if chance(rng, 15) else 2))
        return Call(pick(rng, ("Min", "Max")), args)
    if kind == "pow":
        return Pow(gen_expr(rng, min(depth - 1, 1), scope), weighted(
            rng, [(5, 2), (2, 3), (2, -1), (1, 0), (1, 1), (1, -2)]))
    if kind == "binomial":
        k = gen_num(rng, integer_only=True) if chance(rng, 60) else gen_int(rng, scope)
        return Call("binomial", (gen_int(rng, scope), k))
    return gen_big(rng, depth, scope, "Sum" if kind == "sum" else "Product")


def gen_divisor(rng: random.Random, scope: Scope) -> Node:
    return build(rng, [(4, lambda: Num(Fraction(pick(rng, (2, 3, 4, 5, 7))))),
                       (4, lambda: gen_sym(rng, scope)),
                       (2, lambda: Op("+", gen_sym(rng, scope), gen_num(rng, True))),
                       (1, lambda: Op("-", gen_sym(rng, scope), gen_num(rng, True))),
                       (1, lambda: Num(pick(rng, FRACTIONS), "decimal")),
                       (1, lambda: gen_expr(rng, 1, scope))])


def gen_big(rng: random.Random, depth: int, scope: Scope, kind: str) -> Node:
    taken = set(scope.bound)
    var = weighted(rng, [(8, "j"), (4, "i"), (2, "t"), (2, "k"), (1, "n"), (1, "m"),
                        (1, "n_shifted")])
    if var in taken:
        var = next(v for v in BOUND_NAMES if v not in taken)
    lo = build(rng, [(6, lambda: Num(Fraction(1))), (4, lambda: Num(Fraction(0))),
                     (2, lambda: gen_num(rng, True)), (2, lambda: gen_int(rng, scope))])
    hi = gen_int(rng, scope)
    inner = scope.inner(var)
    if kind == "Product":
        body = build(rng, [(3, lambda: Sym(var)),
                           (2, lambda: Op("+", Sym(var), gen_num(rng, True))),
                           (2, lambda: gen_num(rng, True)), (1, lambda: gen_sym(rng, scope)),
                           (1, lambda: Op("/", Sym(var), gen_divisor(rng, inner)))])
        return Big("Product", body, (Limit(var, lo, hi),))
    shape = weighted(rng, [(4, "plain"), (2, "nested"), (2, "multi")])
    if shape == "plain" or scope.depth_big >= 1:
        body = build(rng, [(3, lambda: Num(Fraction(1))), (4, lambda: Sym(var)),
                           (2, lambda: Op("*", Sym(var), gen_sym(rng, scope))),
                           (5, lambda: gen_expr(rng, depth - 1, inner))])
        return Big("Sum", body, (Limit(var, lo, hi),))
    # a sum inside a sum, its limits depending on the outer index
    var2 = next(v for v in ("j", "i", "t", "m") if v != var and v not in taken)
    inner2 = inner.inner(var2)
    lo2 = weighted(rng, [(5, Num(Fraction(1))), (2, Num(Fraction(0))), (1, Sym(var))])
    hi2 = build(rng, [(5, lambda: Sym(var)), (2, lambda: Op("-", Sym(var), Num(Fraction(1)))),
                      (1, lambda: gen_int(rng, inner))])
    body = build(rng, [(3, lambda: Num(Fraction(1))), (3, lambda: Sym(var2)),
                       (2, lambda: Op("*", Sym(var), Sym(var2))),
                       (2, lambda: gen_expr(rng, 1, inner2))])
    if shape == "nested":
        return Big("Sum", Big("Sum", body, (Limit(var2, lo2, hi2),)), (Limit(var, lo, hi),))
    return Big("Sum", body, (Limit(var2, lo2, hi2), Limit(var, lo, hi)))


# ---------------------------------------------------------------------------------------
# Value-preserving rewrites (mostly: the ground truth decides) and mutations


def _is_int_num(e: Node) -> bool:
    return isinstance(e, Num) and e.value.denominator == 1


def rewrites(e: Node, rng: random.Random) -> list[Node]:
    """Candidate rewrites of the node ``e`` itself, meant to keep its value."""
    one, zero, two = Num(Fraction(1)), Num(Fraction(0)), Num(Fraction(2))
    out: list[Node] = []
    if isinstance(e, Num):
        out.append(Num(e.value, pick(rng, NUM_STYLES + ("float_int",))))
        out.append(Op("+", Num(e.value - 1), one))
    if isinstance(e, Sym):
        out += [Op("+", e, zero), Op("*", one, e), Op("-", Op("+", e, two), two)]
    if isinstance(e, Op):
        a, b = e.left, e.right
        if e.op in ("+", "*"):
            out.append(Op(e.op, b, a))
        if e.op == "-":
            out += [Op("+", a, Neg(b)), Op("+", a, Op("*", Num(Fraction(-1)), b))]
        if e.op == "*" and isinstance(b, Op) and b.op in ("+", "-"):
            out.append(Op(b.op, Op("*", a, b.left), Op("*", a, b.right)))
        if e.op == "*" and isinstance(a, Op) and a.op in ("+", "-"):
            out.append(Op(a.op, Op("*", a.left, b), Op("*", a.right, b)))
        if e.op == "//":
            out.append(Call("floor", (Op("/", a, b),)))
        if e.op == "%":
            out += [Call("Mod", (a, b)), Op("-", a, Op("*", b, Call("floor", (Op("/", a, b),))))]
        if e.op == "/":
            out.append(Op("*", a, Pow(b, -1)))
    if isinstance(e, Neg):
        out.append(Op("-", Num(Fraction(0)), e.arg))
    if isinstance(e, Pow):
        if e.exp == 2:
            out.append(Op("*", e.base, e.base))
        if e.exp >= 2:
            out.append(Op("*", e.base, Pow(e.base, e.exp - 1)))
        if e.exp == -1:
            out.append(Op("/", one, e.base))
        if e.exp == 0:
            out.append(one)
    if isinstance(e, Call):
        args = e.args
        if e.fn == "Mod":
            a, b = args
            out += [Op("%", a, b), Op("-", a, Op("*", b, Call("floor", (Op("/", a, b),)))),
                    Call("Mod", (Op("+", a, b), b))]
        if e.fn in ("floor", "ceiling"):
            x = args[0]
            other = "ceiling" if e.fn == "floor" else "floor"
            out.append(Neg(Call(other, (Neg(x),))))
            m = gen_num(rng, integer_only=True)
            out.append(Op("-", Call(e.fn, (Op("+", x, m),)), m))
            if isinstance(x, Op) and x.op == "+" and _is_int_num(x.right):
                out.append(Op("+", Call(e.fn, (x.left,)), x.right))
            if isinstance(x, Op) and x.op == "/":
                a, b = x.left, x.right
                if e.fn == "floor":
                    out.append(Op("//", a, b))
                    out.append(Op("/", Op("-", a, Call("Mod", (a, b))), b))
                    if isinstance(a, Call) and a.fn == "floor" and isinstance(a.args[0], Op) \
                            and a.args[0].op == "/":
                        out.append(Call("floor", (Op("/", a.args[0].left,
                                                     Op("*", a.args[0].right, b)),)))
                else:
                    out.append(Call("floor", (Op("/", Op("-", Op("+", a, b), one), b),)))
        if e.fn == "Abs":
            out += [Call("Max", (args[0], Neg(args[0]))), Call("Abs", (Neg(args[0]),))]
        if e.fn in ("Min", "Max"):
            other = "Max" if e.fn == "Min" else "Min"
            out.append(Call(e.fn, tuple(reversed(args))))
            out.append(Neg(Call(other, tuple(Neg(a) for a in args))))
            if len(args) == 2:
                a, b = args
                sign = "+" if e.fn == "Max" else "-"
                out.append(Op("/", Op(sign, Op("+", a, b), Call("Abs", (Op("-", a, b),))), two))
        if e.fn == "binomial":
            n, k = args
            if _is_int_num(k) and k.value == 2:
                out.append(Op("/", Op("*", n, Op("-", n, one)), two))
            if _is_int_num(k) and k.value == 1:
                out.append(n)
            if _is_int_num(k) and k.value == 0:
                out.append(one)
            out.append(Call("binomial", (n, Op("-", n, k))))
            out.append(Op("+", Call("binomial", (Op("-", n, one), Op("-", k, one))),
                          Call("binomial", (Op("-", n, one), k))))
    if isinstance(e, Big):
        out += _big_rewrites(e, rng)
    return out


def _big_rewrites(e: Big, rng: random.Random) -> list[Node]:
    one = Num(Fraction(1))
    out: list[Node] = []
    lim = e.limits[-1]
    inner_lims = e.limits[:-1]
    inner = Big(e.kind, e.body, inner_lims) if inner_lims else e.body
    # shift the outermost index by one
    shifted = substitute(inner, lim.var, Op("+", Sym(lim.var), one))
    out.append(_rebuild(e.kind, shifted,
                        Limit(lim.var, Op("-", lim.lo, one), Op("-", lim.hi, one))))
    # rename the outermost index (sometimes to a name free elsewhere in the claim)
    new = pick(rng, ("u", "k", "n", "x", "j", "a_q"))
    if new != lim.var and new not in free_symbols(inner) and new not in {l.var for l in inner_lims}:
        out.append(_rebuild(e.kind, substitute(inner, lim.var, Sym(new)),
                            Limit(new, lim.lo, lim.hi)))
    # nested form <-> multi-limit form
    if len(e.limits) > 1:
        out.append(Big(e.kind, Big(e.kind, e.body, inner_lims), (lim,)))
    if isinstance(e.body, Big) and e.body.kind == e.kind and len(e.limits) == 1 \
            and lim.var not in {l.var for l in e.body.limits}:
        out.append(Big(e.kind, e.body.body, e.body.limits + e.limits))
    if len(e.limits) == 1 and e.kind == "Sum":
        body = e.body
        if body == one:
            out.append(Call("Max", (Op("+", Op("-", lim.hi, lim.lo), one), Num(Fraction(0)))))
        if body == Sym(lim.var) and lim.lo in (one, Num(Fraction(0))):
            out.append(Op("/", Op("*", lim.hi, Op("+", lim.hi, one)), Num(Fraction(2))))
        if isinstance(body, Op) and body.op in ("+", "-"):
            out.append(Op(body.op, Big("Sum", body.left, e.limits),
                          Big("Sum", body.right, e.limits)))
        if isinstance(body, Op) and body.op == "*" and lim.var not in free_symbols(body.left):
            out.append(Op("*", body.left, Big("Sum", body.right, e.limits)))
        # split off the last term
        last = substitute(body, lim.var, lim.hi)
        out.append(Op("+", Big("Sum", body, (Limit(lim.var, lim.lo, Op("-", lim.hi, one)),)), last))
    if len(e.limits) == 1 and e.kind == "Product":
        last = substitute(e.body, lim.var, lim.hi)
        out.append(Op("*", Big("Product", e.body, (Limit(lim.var, lim.lo, Op("-", lim.hi, one)),)),
                      last))
    return out


def _rebuild(kind: str, inner: Node, lim: Limit) -> Big:
    """``inner`` summed over ``lim`` (outermost), kept in the multi-limit form when
    ``inner`` is itself a multi-limit sum of the same kind."""
    if isinstance(inner, Big) and inner.kind == kind and len(inner.limits) > 1:
        return Big(kind, inner.body, inner.limits + (lim,))
    return Big(kind, inner, (lim,))


def mutations(e: Node, rng: random.Random) -> list[Node]:
    """Small changes of the node ``e`` itself that usually change its value."""
    one = Num(Fraction(1))
    out: list[Node] = []
    if isinstance(e, Num):
        out += [Num(e.value + 1, e.style), Num(e.value - 1, e.style), Num(-e.value, e.style)]
    if isinstance(e, Sym):
        out += [Op("+", e, one), Op("-", e, one), Sym(pick(rng, FREE_NAMES[:6]))]
    if isinstance(e, Op):
        swap = {"+": "-", "-": "+", "*": "+", "/": "//", "//": "/", "%": "//"}
        out.append(Op(swap[e.op], e.left, e.right))
        if e.op == "-":
            out.append(Op("-", e.right, e.left))
    if isinstance(e, Call):
        if e.fn in ("floor", "ceiling"):
            out += [e.args[0], Call("ceiling" if e.fn == "floor" else "floor", e.args)]
        if e.fn in ("Min", "Max"):
            out.append(Call("Max" if e.fn == "Min" else "Min", e.args))
        if e.fn == "Abs":
            out.append(e.args[0])
        if e.fn == "Mod":
            out.append(Call("Mod", (e.args[1], e.args[0])))
        if e.fn == "binomial":
            out.append(Call("binomial", (Op("+", e.args[0], one), e.args[1])))
    if isinstance(e, Pow):
        out.append(Pow(e.base, e.exp + 1))
    if isinstance(e, Big):
        lim = e.limits[-1]
        for lo, hi in ((Op("+", lim.lo, one), lim.hi), (Op("-", lim.lo, one), lim.hi),
                       (lim.lo, Op("+", lim.hi, one)), (lim.lo, Op("-", lim.hi, one))):
            out.append(Big(e.kind, e.body, e.limits[:-1] + (Limit(lim.var, lo, hi),)))
        if len(e.limits) > 1:   # swap the order of the limits (wrong when they depend)
            out.append(Big(e.kind, e.body, tuple(reversed(e.limits))))
    return out


def transform(e: Node, rng: random.Random, steps: int,
              candidates: Callable[[Node, random.Random], list[Node]]) -> Node:
    for _ in range(steps):
        paths = list(positions(e))
        for _attempt in range(4):
            path = pick(rng, paths)
            options = candidates(at(e, path), rng)
            if options:
                e = replace_at(e, path, pick(rng, options))
                break
    return e


# ---------------------------------------------------------------------------------------
# Generating assumptions


def _bound_text(v: Fraction, rng: random.Random) -> str:
    n = Num(v, pick(rng, ("plain", "decimal", "slash", "rational")))
    text = render_num(n)
    return text[1:-1] if text.startswith("(") and text.endswith(")") else text


def lower_statement(rng: random.Random, name: str, lo: int) -> Assumption:
    """One statement making ``lo`` the lower bound of ``name``, in one of several forms."""
    L, half = Fraction(lo), Fraction(2 * lo - 1, 2)
    forms = [("{n} >= {v}", ">=", L), ("{n} > {v}", ">", L - 1), ("{n} > {v}", ">", half),
             ("{v} <= {n}", ">=", L), ("{v} < {n}", ">", L - 1)]
    words = ["positive"] if lo == 1 else ["nonnegative"] if lo == 0 else []
    return _statement(rng, name, forms, words)


def upper_statement(rng: random.Random, name: str, hi: int, words: bool = True) -> Assumption:
    """One statement making ``hi`` the upper bound of ``name``."""
    H, half = Fraction(hi), Fraction(2 * hi + 1, 2)
    forms = [("{n} <= {v}", "<=", H), ("{n} < {v}", "<", H + 1), ("{n} < {v}", "<", half),
             ("{v} >= {n}", "<=", H)]
    return _statement(rng, name, forms, ["negative"] if hi == -1 and words else [])


def _statement(rng: random.Random, name: str, forms: list[tuple[str, str, Fraction]],
               words: list[str]) -> Assumption:
    i = rng.randint(0, len(forms) + len(words) - 1)
    if i >= len(forms):
        w = words[i - len(forms)]
        return Assumption(f"{name} {w}", (Fact(name, w),))
    pattern, rel, v = forms[i]
    return Assumption(pattern.format(n=name, v=_bound_text(v, rng)), (Fact(name, rel, v),))


def gen_assumptions(rng: random.Random, name: str, lo: int, hi: int | None,
                    parity: int | None) -> list[Assumption]:
    """Statements whose intersection is meant to be ``lo..hi`` (with ``parity``); the
    statements are then solved independently, so a slip here only changes the domain."""
    out: list[Assumption] = []
    chained = hi is not None and chance(rng, 25)
    if chained:
        lo_op, lo_v = pick(rng, (("<=", Fraction(lo)), ("<", Fraction(lo - 1)),
                                ("<", Fraction(2 * lo - 1, 2))))
        hi_op, hi_v = pick(rng, (("<=", Fraction(hi)), ("<", Fraction(hi + 1)),
                                ("<", Fraction(2 * hi + 1, 2))))
        facts = (Fact(name, _FLIP[lo_op], lo_v), Fact(name, hi_op, hi_v))
        low, high = _bound_text(lo_v, rng), _bound_text(hi_v, rng)
        if chance(rng, 20):   # written from the top: hi >= x >= lo
            text = f"{high} {_FLIP[hi_op]} {name} {_FLIP[lo_op]} {low}"
        else:
            text = f"{low} {lo_op} {name} {hi_op} {high}"
        out.append(Assumption(text, facts))
    else:
        relies_on_default = lo == default_lower(name) and chance(rng, 35)
        if not relies_on_default:
            out.append(lower_statement(rng, name, lo))
        if hi is not None:
            out.append(upper_statement(rng, name, hi))
    # redundant, weaker statements (overlapping bounds in random order)
    for _ in range(weighted(rng, [(5, 0), (3, 1), (2, 2)])):
        extra = weighted(rng, [(3, "lower"), (3, "upper"), (2, "word"), (1, "same")])
        has_lower = any(f.rel in (">=", ">", "positive", "nonnegative")
                        for a in out for f in a.facts)
        if extra == "lower":
            d = pick(rng, (1, 2, 5))
            out.append(lower_statement(rng, name, lo - d))
        elif extra == "upper" and hi is not None:
            d = pick(rng, (1, 2, 7))
            out.append(upper_statement(rng, name, hi + d))
        elif extra == "word":
            words = ["integer"] if has_lower else []
            if lo >= 1:
                words.append("positive")
            if lo >= 0:
                words.append("nonnegative")
            if hi is not None and hi <= -1 and has_lower:
                words.append("negative")
            if words:
                w = pick(rng, words)
                out.append(Assumption(f"{name} {w}", (Fact(name, w),)))
        elif extra == "same" and out:
            out.append(pick(rng, out))
    if parity is not None:
        w = "odd" if parity else "even"
        out.append(Assumption(f"{name} {w}", (Fact(name, w),)))
    # shuffle: the domain must not depend on the order
    shuffled: list[Assumption] = []
    while out:
        shuffled.append(out.pop(rng.randint(0, len(out) - 1)))
    return shuffled


# ---------------------------------------------------------------------------------------
# Cases


@dataclass
class Case:
    """One generated claim, its assumptions, its domain and its ground truth."""
    lhs: Node
    rhs: Node
    assumptions: list[Assumption]
    ranges: dict[str, SymbolRange]
    truth: Truth
    origin: str = "generated"
    given_text: str | None = None      # the text of a pinned claim, as written

    @property
    def text(self) -> str:
        if self.given_text is not None:
            return self.given_text
        return f"{render(self.lhs, True)} == {render(self.rhs, True)}"

    @property
    def assume(self) -> list[str]:
        return [a.text for a in self.assumptions]

    @property
    def prefix_only(self) -> bool:
        return not self.truth.exhaustive

    def describe(self) -> str:
        dom = "; ".join(r.describe() for _, r in sorted(self.ranges.items())) or "no symbols"
        return f"claim:   {self.text}\nassume:  {self.assume!r}\ndomain:  {dom}" + (
            "  (brute force on a prefix up to "
            f"{PREFIX_TOP} plus far probes)" if self.prefix_only else "")

    def __repr__(self) -> str:   # what Hypothesis prints for a falsifying example
        return f"Case({self.text!r}, assume={self.assume!r})"


def case_from_text(claim: str, assume: Sequence[str] = (), origin: str = "pinned") -> Case:
    """A case from texts (pinned examples), through our own parser and domain solver."""
    lhs, rhs = parse_claim(claim)
    assumptions = [parse_assumption(a) for a in assume]
    names = sorted(free_symbols(lhs) | free_symbols(rhs))
    ranges = solve_domain(names, assumptions)
    return Case(lhs, rhs, assumptions, ranges, judge_claim(lhs, rhs, ranges), origin, claim)


MAX_POINTS = 150         # points of a finite domain (the engine pays ~0.1 ms a point)
MAX_VALUES = 10          # values of one bounded symbol
MAX_SIDE_NODES = 11      # tree nodes of the generated left side
MAX_CLAIM_NODES = 22     # both sides (the engine's cost grows with the text)


def gen_ranges(rng: random.Random, names: list[str], prefix: bool
               ) -> dict[str, tuple[int, int | None, int | None]]:
    """Target ranges ``(lo, hi, parity)`` per name; one unbounded name when ``prefix``."""
    targets: dict[str, tuple[int, int | None, int | None]] = {}
    budget = MAX_POINTS if not prefix else 8
    unbounded = pick(rng, names) if prefix and names else None
    for n in names:
        lo = weighted(rng, [(6, default_lower(n)), (4, 1), (4, 0), (2, 2), (2, -2), (1, -3),
                           (1, 3), (1, -1)])
        if n == unbounded:
            targets[n] = (lo, None, None)
            continue
        width = rng.randint(0, 5 if prefix else 7)
        while width > 0 and (width + 1) > budget:
            width -= 1
        hi = lo + width
        if lo < 0 and chance(rng, 15):     # an all-negative range, stated with 'negative'
            hi = min(hi, -1)
        budget = max(1, budget // (hi - lo + 1))
        parity = None
        if hi - lo >= 2 and chance(rng, 12):
            parity = rng.randint(0, 1)
        targets[n] = (lo, hi, parity)
    return targets


def shared_kind(rng: random.Random, ranges: dict[str, SymbolRange]) -> Assumption | None:
    """Now and then a kind word for two symbols at once (``a, b positive``), chosen to hold
    on their ranges (``nonnegative`` may still widen a default lower bound of 1 to 0)."""
    if len(ranges) < 2 or not chance(rng, 8):
        return None
    a, b = sorted(ranges)[:2] if chance(rng, 50) else sorted(ranges)[-2:]
    low = min(ranges[a].lower, ranges[b].lower)
    word = "positive" if low >= 1 and chance(rng, 70) else "nonnegative" if low >= 0 else None
    if word is None:
        return None
    sep = pick(rng, (", ", " "))
    return Assumption(f"{a}{sep}{b} {word}", (Fact(a, word), Fact(b, word)))


def gen_case(rng: random.Random) -> Case:
    """A claim with a finite (or, one time in eight, prefix-checked) domain."""
    for _attempt in range(30):
        prefix = chance(rng, 12)
        count = weighted(rng, [(4, 1), (5, 2), (2, 3)])
        names: list[str] = []
        for _ in range(count):
            n = weighted(rng, list(zip(FREE_WEIGHTS, FREE_NAMES)))
            if n not in names:
                names.append(n)
        scope = Scope(names)
        lhs = gen_expr(rng, weighted(rng, [(5, 2), (2, 3), (3, 1)]), scope, top=True)
        if size(lhs) > MAX_SIDE_NODES:
            continue
        how = weighted(rng, [(45, "rewrite"), (30, "mutant"), (10, "independent"),
                            (12, "rewrite-mutant"), (3, "same")])
        if how == "rewrite":
            rhs = transform(lhs, rng, rng.randint(1, 3), rewrites)
        elif how == "mutant":
            rhs = transform(lhs, rng, 1, mutations)
        elif how == "rewrite-mutant":
            rhs = transform(transform(lhs, rng, rng.randint(1, 2), rewrites), rng, 1, mutations)
        elif how == "independent":
            rhs = gen_expr(rng, pick(rng, (1, 2)), scope)
        else:
            rhs = lhs
        if size(lhs) + size(rhs) > MAX_CLAIM_NODES:
            continue
        if chance(rng, 30):
            lhs, rhs = rhs, lhs
        free = sorted(free_symbols(lhs) | free_symbols(rhs))
        targets = gen_ranges(rng, free, prefix)
        assumptions: list[Assumption] = []
        for n in free:
            assumptions += gen_assumptions(rng, n, *targets[n])
        if assumptions and chance(rng, 30):   # mix the symbols' statements
            mixed: list[Assumption] = []
            while assumptions:
                mixed.append(assumptions.pop(rng.randint(0, len(assumptions) - 1)))
            assumptions = mixed
        try:
            ranges = solve_domain(free, assumptions)
            shared = shared_kind(rng, ranges)
            if shared is not None:    # one statement for two symbols: 'a, b positive'
                assumptions.insert(rng.randint(0, len(assumptions)), shared)
                ranges = solve_domain(free, assumptions)
        except (Contradiction, Unbounded):
            continue
        finite = [len(r.values()) for r in ranges.values() if r.upper is not None]
        if math.prod(finite) > MAX_POINTS or max(finite, default=0) > MAX_VALUES or \
                len(finite) < len(ranges) - 1:
            continue
        try:
            truth = judge_claim(lhs, rhs, ranges)
        except (OutOfGrammar, TooCostly):
            continue
        return Case(lhs, rhs, assumptions, ranges, truth, how + (" (prefix)" if prefix else ""))
    lhs = rhs = Sym("x")     # pragma: no cover - generation kept failing
    a = [Assumption("x <= 3", (Fact("x", "<=", Fraction(3)),))]
    r = solve_domain(["x"], a)
    return Case(lhs, rhs, a, r, judge_claim(lhs, rhs, r), "fallback")


# ---------------------------------------------------------------------------------------
# Contradictory assumptions


def gen_contradiction(rng: random.Random) -> tuple[str, list[Assumption], str]:
    """A claim (text) and assumptions that leave some symbol no value, with a label."""
    name = pick(rng, ("x", "n", "k", "P", "a_q"))
    other = pick(rng, ("y", "m"))
    kind = weighted(rng, [(3, "odd-even"), (3, "bounds"), (2, "strict-gap"),
                         (2, "positive-negative"), (1, "parity-point"), (1, "below-default")])
    lo = rng.randint(-3, 6)
    if kind == "odd-even":
        bad = [Assumption(f"{name} odd", (Fact(name, "odd"),)),
               Assumption(f"{name} even", (Fact(name, "even"),)),
               upper_statement(rng, name, lo + 6)]
        if lo < default_lower(name):
            bad.append(lower_statement(rng, name, lo))
    elif kind == "bounds":
        gap = rng.randint(1, 4)
        bad = [lower_statement(rng, name, lo + gap), upper_statement(rng, name, lo)]
    elif kind == "strict-gap":      # lo < x < lo + 1 has no integer
        bad = [Assumption(f"{name} > {lo}", (Fact(name, ">", Fraction(lo)),)),
               Assumption(f"{name} < {lo + 1}", (Fact(name, "<", Fraction(lo + 1)),))]
        if chance(rng, 50):
            bad = [Assumption(f"{lo} < {name} < {lo + 1}",
                              (Fact(name, ">", Fraction(lo)), Fact(name, "<", Fraction(lo + 1))))]
    elif kind == "positive-negative":
        bad = [Assumption(f"{name} positive", (Fact(name, "positive"),)),
               Assumption(f"{name} negative", (Fact(name, "negative"),))]
    elif kind == "parity-point":
        v = lo
        bad = [Assumption(f"{v} <= {name} <= {v}", (Fact(name, ">=", Fraction(v)),
                                                    Fact(name, "<=", Fraction(v)))),
               Assumption(f"{name} {'even' if v % 2 else 'odd'}",
                          (Fact(name, "even" if v % 2 else "odd"),))]
    else:                           # only an upper bound, below the default lower bound
        top = default_lower(name) - 1
        bad = [upper_statement(rng, name, top, words=False)]
    good = [Assumption(f"{other} <= 4", (Fact(other, "<=", Fraction(4)),))]
    statements = bad + good
    shuffled: list[Assumption] = []
    while statements:
        shuffled.append(statements.pop(rng.randint(0, len(statements) - 1)))
    claim = pick(rng, (f"{name} + {other} == {other} + {name}", f"{name} == {name}",
                      f"floor({name}/2) + {other} == {other}"))
    return claim, shuffled, kind
