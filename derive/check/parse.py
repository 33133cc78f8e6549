"""The claim language: Python-like infix text read by a whitelist, never executed.

Text is parsed with :mod:`ast` and every node is translated by hand into a SymPy object.
Anything not on the whitelist (attribute access, calls of unknown functions, lambdas,
comprehensions, strings, dunder names) is refused with the piece and its column.
Identifiers are plain symbols, including the letters SymPy reserves (``S``, ``N``, ``E``,
``I``, ``Q``, ``O``); decimal literals are exact rationals (``1.15`` is ``23/20``).

>>> parse_expression("floor((H + 2*P - K)/S) + 1")
floor((H - K + 2*P)/S) + 1
>>> parse_claim("ceiling(a/b) == floor((a + b - 1)/b)")
(ceiling(a/b), floor((a + b - 1)/b))
>>> parse_expression("1.15 * S")
23*S/20
"""

from __future__ import annotations

import ast
import importlib
import math
import warnings
from typing import Any, Callable

import sympy

from derive.errors import ParseError

MAX_CHARS = 20_000        # longer text is refused before parsing
MAX_DEPTH = 120           # nesting of brackets / expression tree
MAX_INT_BITS = 4_096      # integer literals and constant powers stay this small
MAX_FACTORIAL = 1_000

# Calls the claim language knows: name -> builder(args) -> SymPy object.
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "floor": sympy.floor,
    "ceiling": sympy.ceiling,
    "ceil": sympy.ceiling,
    "Mod": sympy.Mod,
    "mod": sympy.Mod,
    "Abs": sympy.Abs,
    "abs": sympy.Abs,
    "Min": sympy.Min,
    "min": sympy.Min,
    "Max": sympy.Max,
    "max": sympy.Max,
    "binomial": sympy.binomial,
    "sqrt": sympy.sqrt,
    "exp": sympy.exp,
    "log": sympy.log,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "KroneckerDelta": sympy.KroneckerDelta,
}

# Named engine quantities usable inside claims: name -> (module, attribute).  They are
# resolved lazily so that parsing a plain claim never imports the mathematics modules.
ENGINE_FUNCTIONS: dict[str, tuple[str, str]] = {
    "output_size": ("derive.conv.shapes", "output_size"),
    "pool_output_size": ("derive.conv.shapes", "pool_output_size"),
    "transposed_output_size": ("derive.conv.shapes", "transposed_output_size"),
    "receptive_field_size": ("derive.conv.receptive", "receptive_field_size"),
    "params_conv": ("derive.conv.costs", "params_conv"),
    "flops_conv": ("derive.conv.costs", "flops_conv"),
}

_CONSTANTS = {"pi": sympy.pi, "oo": sympy.oo}

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: sympy.floor(a / b),
    ast.Mod: sympy.Mod,
}

_NODE_WORDS = {
    ast.Attribute: "attribute access", ast.Lambda: "a lambda", ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension", ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator expression", ast.Starred: "a starred expression",
    ast.NamedExpr: "an assignment expression", ast.IfExp: "a conditional expression",
    ast.Dict: "a dictionary", ast.Set: "a set", ast.List: "a list", ast.JoinedStr: "an f-string",
    ast.Await: "await", ast.Yield: "yield", ast.BoolOp: "'and'/'or'", ast.Slice: "a slice",
}


# Primed names (u', c'') are common in index calculus.  Python would read the quote as a
# string, so a quote right after a name character becomes MODIFIER LETTER PRIME, a letter
# Python accepts in names; one character for one keeps the columns.
PRIME = "\u02b9"
def _source(text: Any) -> str:
    """The text as the parser reads it (size-checked, primes made name characters).

    >>> _shown(_source("u'' + f('a')")) == "u'' + f('a')", _source("u''")[1:] == PRIME * 2
    (True, True)
    """
    out: list[str] = []
    quote = None                      # inside a string literal (refused later, kept intact)
    for ch in _check_size(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch == "'" and out and (out[-1].isalnum() or out[-1] in ("_", PRIME)):
            ch = PRIME
        elif ch in "'\"":
            quote = ch
        out.append(ch)
    return "".join(out)


def _shown(text: str) -> str:
    return text.replace(PRIME, "'")


def _col(node: ast.AST, text: str) -> int | None:
    off = getattr(node, "col_offset", None)     # a UTF-8 byte offset into the first line
    if off is None:
        return None
    line = text.splitlines()[0] if text else ""
    return len(line.encode()[:off].decode(errors="ignore")) + 1


def _fail(message: str, node: ast.AST | None, text: str) -> ParseError:
    """A ParseError that quotes the offending piece of text and gives its column."""
    if node is None:
        return ParseError(message, text=_shown(text))
    piece = _shown(ast.get_source_segment(text, node) or "")
    if piece:
        piece = piece if len(piece) <= 40 else piece[:37] + "..."
        message = f"{message}: {piece!r}"
    return ParseError(_shown(message), text=_shown(text), column=_col(node, text))


def _check_size(text: Any) -> str:
    if not isinstance(text, str):
        raise ParseError(f"a claim must be text, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ParseError(f"input is {len(text):,} characters long; the limit is {MAX_CHARS:,}")
    if "\x00" in text:
        raise ParseError("input contains a NUL byte", column=text.index("\x00") + 1)
    depth = best = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            best = max(best, depth)
        elif ch in ")]}":
            depth -= 1
    if best > MAX_DEPTH:
        raise ParseError(f"brackets nested {best} deep; the limit is {MAX_DEPTH}")
    return text


def _parse_tree(text: str) -> ast.expr:
    """Parse text already passed through :func:`_source`."""
    if not text.strip():
        raise ParseError("empty expression")
    try:
        # Python's tokenizer warns (on stderr) about text such as ``1if``; for a claim that
        # is malformed input, so the warning becomes the error the user sees.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ParseError(f"not a well-formed expression: {exc.msg}", text=_shown(text),
                         column=exc.offset) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ParseError(f"expression too deeply nested or malformed ({type(exc).__name__})",
                         text=_shown(text)) from None
    # Depth of the tree, iteratively: long operator chains are as deep as brackets.
    stack = [(tree.body, 1)]
    while stack:
        node, d = stack.pop()
        if d > MAX_DEPTH * 2:
            raise ParseError(f"expression nested more than {MAX_DEPTH * 2} levels deep",
                             text=_shown(text), column=_col(node, text))
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return tree.body


class _Builder:
    """Translate a whitelisted ast into SymPy, node by node."""

    def __init__(self, text: str, symbols: dict[str, sympy.Symbol] | None) -> None:
        self.text = text.strip()
        self.symbols = symbols if symbols is not None else {}
        self.bound: dict[str, sympy.Symbol] = {}

    def symbol(self, name: str, node: ast.AST) -> sympy.Symbol:
        if name.startswith("_"):
            raise _fail(f"name {name!r} is not allowed (names may not start with '_')",
                        node, self.text)
        if name in self.bound:
            return self.bound[name]
        name = _shown(name)
        if name not in self.symbols:
            self.symbols[name] = sympy.Symbol(name)
        return self.symbols[name]

    def build(self, node: ast.AST) -> Any:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            word = _NODE_WORDS.get(type(node), type(node).__name__)
            raise _fail(f"{word} is not allowed in a claim", node, self.text)
        try:
            return method(node)
        except ParseError:
            raise
        except ZeroDivisionError:
            raise _fail("division by zero", node, self.text) from None
        except (ValueError, TypeError, IndexError, ArithmeticError, RecursionError) as exc:
            # SymPy refused to build this piece (e.g. Mod(x, 0), an empty index)
            raise _fail(f"cannot build this expression ({type(exc).__name__}: "
                        f"{str(exc)[:80]})", node, self.text) from None

    # -- leaves --------------------------------------------------------------------------
    def _Constant(self, node: ast.Constant) -> Any:
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _fail(f"literal {v!r} is not allowed (only numbers)", node, self.text)
        if isinstance(v, int):
            if v.bit_length() > MAX_INT_BITS:
                raise _fail("integer literal too large", node, self.text)
            return sympy.Integer(v)
        src = ast.get_source_segment(self.text, node) or repr(v)
        if not math.isfinite(v):
            raise _fail(f"number {src} is not finite", node, self.text)
        return sympy.Rational(src.replace("_", ""))

    def _Name(self, node: ast.Name) -> Any:
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        if node.id in _FUNCTIONS or node.id in ENGINE_FUNCTIONS or node.id in (
                "Sum", "Product", "Rational", "Derivative"):
            raise _fail(f"{node.id!r} is a function; call it with arguments", node, self.text)
        return self.symbol(node.id, node)

    # -- operators -----------------------------------------------------------------------
    def _BinOp(self, node: ast.BinOp) -> Any:
        if isinstance(node.op, ast.BitXor):
            raise _fail("'^' is not a power here; write '**'", node, self.text)
        left, right = self.build(node.left), self.build(node.right)
        if isinstance(node.op, ast.Pow):
            return self._power(left, right, node)
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise _fail(f"operator {type(node.op).__name__} is not allowed", node, self.text)
        if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right == 0:
            raise _fail("division by zero", node, self.text)
        return op(left, right)

    def _power(self, base: Any, exp: Any, node: ast.AST) -> Any:
        # A rational exponent p/q evaluates an integer power of size about p/q too.
        if base.is_number and exp.is_number and exp.is_Rational:
            b = abs(base)
            if b not in (0, 1) and b.is_Integer and int(abs(exp)) * max(1, int(b).bit_length()) > MAX_INT_BITS:
                raise _fail("constant power too large to evaluate", node, self.text)
        if exp.is_number and exp.is_Rational and abs(exp) > MAX_INT_BITS:
            raise _fail("exponent too large", node, self.text)
        if base == 0 and exp.is_number and exp.is_negative:
            raise _fail("division by zero", node, self.text)
        return sympy.Pow(base, exp)

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        operand = self.build(node.operand)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return operand
        raise _fail(f"operator {type(node.op).__name__} is not allowed", node, self.text)

    def _Subscript(self, node: ast.Subscript) -> Any:
        if not isinstance(node.value, ast.Name):
            raise _fail("only a plain name can be indexed, as in x[i + k]", node, self.text)
        name = node.value.id
        if name.startswith("_"):
            raise _fail(f"name {name!r} is not allowed", node, self.text)
        idx = node.slice
        parts = idx.elts if isinstance(idx, ast.Tuple) else [idx]
        if not parts:
            raise _fail("an indexed name needs at least one index, as in x[i]", node, self.text)
        indices = [self.build(p) for p in parts]
        return sympy.IndexedBase(name)[tuple(indices)]

    def _Tuple(self, node: ast.Tuple) -> Any:
        raise _fail("a tuple is only allowed as the limits of Sum or Product", node, self.text)

    def _Call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name):
            word = "attribute access" if isinstance(node.func, ast.Attribute) else "this call"
            raise _fail(f"{word} is not allowed in a claim", node.func, self.text)
        name = node.func.id
        if name in ("Sum", "Product"):
            return self._sum(node, sympy.Sum if name == "Sum" else sympy.Product)
        if node.keywords and name not in ENGINE_FUNCTIONS:
            raise _fail(f"{name}() takes no keyword arguments", node, self.text)
        if name == "Derivative":
            return self._derivative(node)
        if name == "Rational":
            args = [self.build(a) for a in node.args]
            if len(args) != 2 or not all(a.is_Integer for a in args) or args[1] == 0:
                raise _fail("Rational takes two integers, the second non-zero", node, self.text)
            return sympy.Rational(args[0], args[1])
        if name in _FUNCTIONS:
            args = [self.build(a) for a in node.args]
            if name in ("factorial",) or (name == "binomial" and any(
                    a.is_number and abs(a) > MAX_FACTORIAL for a in args)):
                raise _fail(f"{name} argument too large", node, self.text)
            try:
                return _FUNCTIONS[name](*args)
            except TypeError as exc:
                raise _fail(f"wrong arguments for {name}(): {exc}", node, self.text) from None
        if name in ENGINE_FUNCTIONS:
            return self._engine_call(name, node)
        if name.startswith("__"):
            raise _fail(f"name {name!r} is not allowed", node.func, self.text)
        raise _fail(f"unknown function {name!r}; known: "
                    f"{', '.join(sorted(set(_FUNCTIONS) | set(ENGINE_FUNCTIONS) | {'Sum', 'Product', 'Rational', 'Derivative'}))}",
                    node.func, self.text)

    def _derivative(self, node: ast.Call) -> Any:
        """``Derivative(expr, v)``: by a name or an array entry, left unevaluated (the
        checker evaluates it exactly at each point, or proves the claim)."""
        args = [self.build(a) for a in node.args]
        if len(args) != 2 or not isinstance(args[1], (sympy.Symbol, sympy.Indexed)):
            raise _fail("Derivative takes an expression and a name or an array entry, "
                        "e.g. Derivative(Sum(w[u]*x[u], (u, 0, K - 1)), w[m])", node,
                        self.text)
        return sympy.Derivative(args[0], args[1])

    def _engine_call(self, name: str, node: ast.Call) -> Any:
        module, attr = ENGINE_FUNCTIONS[name]
        func = getattr(importlib.import_module(module), attr)
        args = [self.build(a) for a in node.args]
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise _fail("** arguments are not allowed", node, self.text)
            kwargs[kw.arg] = self.build(kw.value)
        try:
            return func(*args, **kwargs)
        except TypeError as exc:
            raise _fail(f"wrong arguments for {name}(): {exc}", node, self.text) from None

    def _sum(self, node: ast.Call, kind: type) -> Any:
        name = node.func.id  # type: ignore[attr-defined]
        if len(node.args) < 2 or node.keywords:
            raise _fail(f"{name} takes an expression and limits (i, a, b)", node, self.text)
        limits = []
        names = []
        for lim in node.args[1:]:
            if not (isinstance(lim, ast.Tuple) and len(lim.elts) == 3
                    and isinstance(lim.elts[0], ast.Name)):
                raise _fail(f"limits of {name} must look like (i, a, b)", lim, self.text)
            var = lim.elts[0].id
            if var.startswith("_"):
                raise _fail(f"name {var!r} is not allowed", lim, self.text)
            lo, hi = self.build(lim.elts[1]), self.build(lim.elts[2])
            names.append(var)
            limits.append((var, lo, hi))
        saved = dict(self.bound)
        symbols_made = []
        for var, lo, hi in limits:
            s = sympy.Symbol(_shown(var), integer=True)
            self.bound[var] = s
            symbols_made.append((s, lo, hi))
        try:
            body = self.build(node.args[0])
        finally:
            self.bound = saved
        return kind(body, *symbols_made)


def parse_expression(text: str, symbols: dict[str, sympy.Symbol] | None = None) -> Any:
    """Parse one expression (no ``==``) into SymPy.

    >>> parse_expression("x[i + k] * w[k]")
    w[k]*x[i + k]
    >>> parse_expression("__import__('os')")
    Traceback (most recent call last):
    ...
    derive.errors.ParseError: name '__import__' is not allowed: '__import__' (at column 1)
    """
    src = _source(text)
    node = _parse_tree(src)
    if isinstance(node, ast.Compare):
        raise _fail("expected an expression, found a comparison", node, src)
    return _timed(lambda: _Builder(src, symbols).build(node), src)


def parse_relation(text: str, symbols: dict[str, sympy.Symbol] | None = None
                   ) -> tuple[list[Any], list[str]]:
    """Parse ``a OP b OP c ...`` into the operands and operator symbols.

    >>> parse_relation("1 <= k <= 5")
    ([1, k, 5], ['<=', '<='])
    """
    src = _source(text)
    node = _parse_tree(src)
    builder = _Builder(src, symbols)
    if not isinstance(node, ast.Compare):
        return _timed(lambda: [builder.build(node)], src), []
    ops = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">",
           ast.GtE: ">="}
    names = []
    for op in node.ops:
        if type(op) not in ops:
            raise _fail(f"comparison {type(op).__name__} is not allowed", node, src)
        names.append(ops[type(op)])
    operands = _timed(lambda: [builder.build(node.left)]
                      + [builder.build(c) for c in node.comparators], src)
    return operands, names


PARSE_BUDGET = 2.0   # seconds to build one input (SymPy evaluates as it builds)


def _timed(build: Callable[[], Any], text: str) -> Any:
    """Run ``build`` under the parse budget; a runaway SymPy evaluation is bad input."""
    from derive.check.budget import time_limit
    from derive.errors import BudgetExceeded
    try:
        with time_limit(PARSE_BUDGET):
            return build()
    except BudgetExceeded:
        raise ParseError(f"this expression takes more than {PARSE_BUDGET:g} s to build; "
                         f"simplify it", text=_shown(text)) from None


def parse_claim(text: str, symbols: dict[str, sympy.Symbol] | None = None) -> tuple[Any, Any]:
    """Parse ``lhs == rhs``.

    >>> parse_claim("x == y + 1")
    (x, y + 1)
    """
    operands, ops = parse_relation(text, symbols)
    if ops != ["=="]:
        if not ops:
            raise ParseError("a claim needs '==' between its two sides", text=text)
        raise ParseError(f"a claim is 'lhs == rhs', got the comparison(s) {' '.join(ops)}",
                         text=text)
    return operands[0], operands[1]
