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

A chain of ``+``/``-`` (or of ``*``/``/``) is flat, as SymPy's ``Add`` and ``Mul`` are: it
counts as one level of nesting and is translated in one loop, so a sum of thousands of terms
is read while brackets, calls and powers nested more than :data:`MAX_DEPTH` deep are not.

>>> parse_claim(" + ".join(["a"] * 3000) + " == 3000*a")
(3000*a, 3000*a)
"""

from __future__ import annotations

import ast
import importlib
import io
import keyword
import math
import tokenize
import warnings
from typing import Any, Callable

import sympy

from derive.errors import BudgetExceeded, DeriveError, ParseError

MAX_CHARS = 20_000        # longer text is refused before parsing
MAX_DEPTH = 120           # nesting of brackets / expression tree (an operator chain is 1)
MAX_INT_BITS = 4_096      # integer literals and constant powers stay this small
MAX_FACTORIAL = 1_000

def relu(x: Any, evaluate: bool = True) -> Any:
    """The rectifier, ``max(0, x)`` (``relu``/``ReLU`` in claims, ``\\operatorname{ReLU}``)."""
    return sympy.Max(0, x, evaluate=evaluate)


# Calls the claim language knows: name -> builder(args) -> SymPy object.
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "relu": relu,
    "ReLU": relu,
    "tan": sympy.tan,
    "tanh": sympy.tanh,
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
    "macs_conv": ("derive.conv.costs", "macs_conv"),
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

# Operators whose left-nested chains are flat (n-ary Add and Mul in SymPy); ``//`` and ``%``
# are not: each one is a floor or a Mod around everything to its left.
_CHAINS: dict[type, str] = {ast.Add: "+", ast.Sub: "+", ast.Mult: "*", ast.Div: "*"}


def _chain(node: ast.AST) -> str | None:
    """The chain a node belongs to (``"+"`` or ``"*"``), or None."""
    return _CHAINS.get(type(node.op)) if isinstance(node, ast.BinOp) else None


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
        body = _python_parse(text.strip())
    except SyntaxError as exc:
        raise ParseError(f"not a well-formed expression: {exc.msg}", text=_shown(text),
                         column=exc.offset) from None
    except RecursionError:
        # Python builds its tree recursively and stops at a few thousand chained operators
        # (the number depends on the version); the chains outside brackets are read in pieces.
        flat = _parse_long_chains(text.strip())
        if flat is None:
            raise ParseError("expression too deeply nested for Python's parser (deep "
                             "nesting, or a very long operator chain inside brackets)",
                             text=_shown(text)) from None
        body = flat
    except (MemoryError, ValueError) as exc:
        raise ParseError(f"expression too deeply nested or malformed ({type(exc).__name__})",
                         text=_shown(text)) from None
    # Depth of the tree, iteratively; a chain of + - (or * /) is one level, as in SymPy.
    stack = [(body, 1)]
    while stack:
        node, d = stack.pop()
        if d > MAX_DEPTH * 2:
            raise ParseError(f"expression nested more than {MAX_DEPTH * 2} levels deep",
                             text=_shown(text), column=_col(node, text))
        link = _chain(node)
        stack.extend((child, d if link and child is node.left and _chain(child) == link
                      else d + 1) for child in ast.iter_child_nodes(node))
    return body


def _python_parse(text: str) -> ast.expr:
    # Python's tokenizer warns (on stderr) about text such as ``1if``; for a claim that is
    # malformed input, so the warning becomes the error the user sees.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return ast.parse(text, mode="eval").body


# Operators that split the top level of a long one-line expression, loosest first.
_SPLIT_LEVELS: tuple[dict[str, type], ...] = (
    {"==": ast.Eq, "!=": ast.NotEq, "<": ast.Lt, "<=": ast.LtE, ">": ast.Gt, ">=": ast.GtE},
    {"+": ast.Add, "-": ast.Sub},
    {"*": ast.Mult, "/": ast.Div, "//": ast.FloorDiv, "%": ast.Mod, "@": ast.MatMult},
)
# Outside brackets, anything looser than these (a conditional, 'and', '|', a lambda, a
# tuple...) makes the splitting unsafe: such text is left to the error.
_LOOSE = {"|", "&", "^", "<<", ">>", ",", ":", ":=", "=", ";", "->"}


def _parse_long_chains(text: str) -> ast.expr | None:
    """The tree ``ast.parse`` would build for a one-line ``text`` whose top-level operator
    chains are too long for it, or None.  The text outside brackets is split at its
    comparisons, then at binary ``+ -``, then at ``* / // %``; each piece is parsed alone
    (its positions shifted into ``text``) and the pieces are joined left to right, as
    Python's grammar joins them.

    >>> ast.dump(_parse_long_chains("a - 2*b == c")) == ast.dump(_python_parse("a - 2*b == c"))
    True
    """
    if len(text.splitlines()) > 1:
        return None
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
                  if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.COMMENT,
                                    tokenize.ENDMARKER)]
    except (tokenize.TokenError, SyntaxError):
        return None
    if not tokens:
        return None
    offset = [0]                                 # character index -> UTF-8 byte offset
    for ch in text:
        offset.append(offset[-1] + len(ch.encode()))
    # Mark the binary operators outside brackets with their level; unary + - are not marks.
    level: dict[int, int] = {}
    depth = 0
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.NAME and keyword.iskeyword(tok.string) and tok.string not in (
                "True", "False", "None"):
            if depth == 0:
                return None
        elif tok.type not in (tokenize.NAME, tokenize.NUMBER, tokenize.STRING, tokenize.OP):
            return None                                      # f-strings and the like
        elif tok.type != tokenize.OP:
            continue
        elif tok.string in ("(", "[", "{"):
            depth += 1
        elif tok.string in (")", "]", "}"):
            depth -= 1
        elif depth == 0:
            if tok.string in _LOOSE:
                return None
            prev = tokens[i - 1] if i else None
            binary = prev is not None and (prev.type in (tokenize.NAME, tokenize.NUMBER,
                                                         tokenize.STRING)
                                           or prev.string in (")", "]", "}"))
            for lv, ops in enumerate(_SPLIT_LEVELS):
                if tok.string in ops and (binary or lv != 1):
                    level[i] = lv
    return _join(tokens, 0, len(tokens), 0, level, text, offset)


def _join(tokens: list[tokenize.TokenInfo], lo: int, hi: int, lv: int, level: dict[int, int],
          text: str, offset: list[int]) -> ast.expr | None:
    """The tree of ``tokens[lo:hi]``, split at the marks of level ``lv`` and tighter."""
    if lv == len(_SPLIT_LEVELS):
        return _piece(tokens[lo:hi], text, offset)
    cuts = [i for i in range(lo, hi) if level.get(i) == lv]
    bounds = [lo] + [c + 1 for c in cuts]
    ends = cuts + [hi]
    parts = []
    for a, b in zip(bounds, ends):
        if a >= b:
            return None
        part = _join(tokens, a, b, lv + 1, level, text, offset)
        if part is None:
            return None
        parts.append(part)
    start = offset[tokens[lo].start[1]]
    place = dict(lineno=1, col_offset=start, end_lineno=1)
    if lv == 0 and cuts:
        ops = [_SPLIT_LEVELS[0][tokens[c].string]() for c in cuts]
        return ast.Compare(parts[0], ops, parts[1:], end_col_offset=offset[tokens[hi - 1].end[1]],
                           **place)
    node = parts[0]
    for c, part, b in zip(cuts, parts[1:], ends[1:]):
        node = ast.BinOp(node, _SPLIT_LEVELS[lv][tokens[c].string](), part,
                         end_col_offset=offset[tokens[b - 1].end[1]], **place)
    return node


def _piece(tokens: list[tokenize.TokenInfo], text: str, offset: list[int]) -> ast.expr | None:
    """One operand, parsed by Python, its positions moved to where it stands in ``text``."""
    lo, hi = tokens[0].start[1], tokens[-1].end[1]
    try:
        node = _python_parse(text[lo:hi])
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return None
    shift = offset[lo]
    for sub in ast.walk(node):
        if hasattr(sub, "col_offset"):
            sub.col_offset += shift
            sub.end_col_offset += shift
    return node


class _Builder:
    """Translate a whitelisted ast into SymPy, node by node."""

    def __init__(self, text: str, symbols: dict[str, sympy.Symbol] | None,
                 divisors: list[Any] | None = None) -> None:
        self.text = text.strip()
        self.symbols = symbols if symbols is not None else {}
        self.bound: dict[str, sympy.Symbol] = {}
        # What the text divides by, recorded before SymPy can cancel it (x/x is 1 once
        # built, but the claim is undefined at x = 0); divisors under a sum are left to
        # the evaluator, which sees each term.
        self.divisors = divisors if divisors is not None else []
        self.ranges: list[tuple[Any, Any, Any]] = []   # the sums around, innermost first

    def divides_by(self, divisor: Any) -> None:
        """Record a divisor; inside sums, as the product of its values over their ranges
        (zero exactly when some term divides by zero; 1 over an empty range)."""
        if not isinstance(divisor, sympy.Basic) or divisor.is_number:
            return
        if self.ranges:
            divisor = sympy.Product(divisor, *self.ranges)
        self.divisors.append(divisor)

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
        if _chain(node):
            return self._flat(node)
        if isinstance(node.op, ast.BitXor):
            raise _fail("'^' is not a power here; write '**'", node, self.text)
        left, right = self.build(node.left), self.build(node.right)
        if isinstance(node.op, ast.Pow):
            return self._power(left, right, node)
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise _fail(f"operator {type(node.op).__name__} is not allowed", node, self.text)
        if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)):
            if right == 0:
                raise _fail("division by zero", node, self.text)
            self.divides_by(right)
        try:
            return op(left, right)
        except (ValueError, TypeError, RecursionError):
            if not isinstance(node.op, ast.Mod):
                raise
            return sympy.Mod(left, right, evaluate=False)   # as in Mod(...) calls, below

    def _flat(self, node: ast.BinOp) -> Any:
        """A chain ``t0 + t1 - t2 ...`` (or ``f0 * f1 / f2 ...``) in one loop and one SymPy
        ``Add`` (``Mul``): ``a - b`` is ``Add(a, -b)`` and ``a / b`` is ``Mul(a, b**-1)``,
        just as SymPy evaluates them pair by pair."""
        link = _chain(node)
        links: list[ast.BinOp] = []
        while _chain(node) == link:              # walk down the left spine, no recursion
            links.append(node)                   # type: ignore[arg-type]
            node = node.left                     # type: ignore[attr-defined]
        items = [self.build(node)]
        for op in reversed(links):
            right = self.build(op.right)
            if isinstance(op.op, ast.Sub):
                right = -right
            elif isinstance(op.op, ast.Div):
                if right == 0:
                    raise _fail("division by zero", op, self.text)
                self.divides_by(right)
                right = sympy.Pow(right, -1)
            items.append(right)
        return sympy.Add(*items) if link == "+" else sympy.Mul(*items)

    def _power(self, base: Any, exp: Any, node: ast.AST) -> Any:
        if exp.is_number and exp.is_negative:
            self.divides_by(base)
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
            if name in ("Mod", "mod") and len(args) == 2:
                self.divides_by(args[1])
            if name in ("factorial",) or (name == "binomial" and any(
                    a.is_number and abs(a) > MAX_FACTORIAL for a in args)):
                raise _fail(f"{name} argument too large", node, self.text)
            try:
                try:
                    value = _FUNCTIONS[name](*args)
                except (ValueError, TypeError, RecursionError):
                    # SymPy failed while simplifying (Mod(binomial(x, 2), 1/2) raises
                    # "Integers expected"): keep the call as written; the checker
                    # evaluates it at points
                    value = _FUNCTIONS[name](*args, evaluate=False)
                if isinstance(value, sympy.Basic) and value.has(sympy.zoo, sympy.nan) and not any(
                        isinstance(x, sympy.Basic) and x.has(sympy.zoo, sympy.nan) for x in args):
                    # SymPy decided too early (binomial(-1, x) is zoo for a symbol x, though
                    # it is (-1)**x at every integer x >= 0): keep the call as written
                    value = _FUNCTIONS[name](*args, evaluate=False)
                return value
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
        """Call an engine quantity; whatever it refuses is this claim's error, a ParseError
        that names the function and (in the engine's message) the argument."""
        module, attr = ENGINE_FUNCTIONS[name]
        try:
            func = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            raise _fail(f"the engine quantity {name}() is not available in this build",
                        node.func, self.text) from None
        args = [self.build(a) for a in node.args]
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise _fail("** arguments are not allowed", node, self.text)
            if kw.arg.startswith("_"):
                raise _fail(f"argument name {kw.arg!r} is not allowed", kw, self.text)
            kwargs[kw.arg] = self.build(kw.value)
        try:
            value = func(*args, **kwargs)
        except BudgetExceeded:
            raise                                # the parse budget's own stop, reported there
        except DeriveError as exc:
            raise _fail(f"{name}(): {exc}", node, self.text) from None
        except TypeError as exc:
            raise _fail(f"wrong arguments for {name}(): {exc}", node, self.text) from None
        except (ValueError, ArithmeticError) as exc:
            raise _fail(f"{name}() cannot take these arguments ({type(exc).__name__}: "
                        f"{str(exc)[:80]})", node, self.text) from None
        if isinstance(value, bool) or not isinstance(value, (int, sympy.Basic)):
            raise _fail(f"{name}() gave {type(value).__name__}, not a number or an expression",
                        node, self.text)
        return sympy.Integer(value) if isinstance(value, int) else value

    def _sum(self, node: ast.Call, kind: type) -> Any:
        name = node.func.id  # type: ignore[attr-defined]
        if len(node.args) < 2 or node.keywords:
            raise _fail(f"{name} takes an expression and limits (i, a, b)", node, self.text)
        for lim in node.args[1:]:
            if not (isinstance(lim, ast.Tuple) and len(lim.elts) == 3
                    and isinstance(lim.elts[0], ast.Name)):
                raise _fail(f"limits of {name} must look like (i, a, b)", lim, self.text)
            if lim.elts[0].id.startswith("_"):
                raise _fail(f"name {lim.elts[0].id!r} is not allowed", lim, self.text)
        # As in SymPy, the first range is the innermost: in Sum(f, (j, 1, k), (k, 1, n))
        # the k of j's range is the outer index.  So the ranges are read from the last one
        # in, each with the variables of the ranges after it bound.
        saved, saved_ranges = dict(self.bound), list(self.ranges)
        symbols_made = []
        try:
            for lim in reversed(node.args[1:]):
                var = lim.elts[0].id                                # type: ignore[attr-defined]
                lo, hi = self.build(lim.elts[1]), self.build(lim.elts[2])  # type: ignore[attr-defined]
                s = sympy.Symbol(_shown(var), integer=True)
                self.bound[var] = s
                symbols_made.append((s, lo, hi))
                self.ranges.insert(0, (s, lo, hi))
            body = self.build(node.args[0])
        finally:
            self.bound, self.ranges = saved, saved_ranges
        limits = list(reversed(symbols_made))
        # An empty range makes the whole sum 0 (the product 1), as the checker counts; SymPy
        # would evaluate a constant one by Karr's rule (Sum(1, (k, 1, -1)) = -1) as it builds.
        if any((hi - lo).is_number and (hi - lo) < 0 for _, lo, hi in limits):
            return sympy.Integer(0 if kind is sympy.Sum else 1)
        if kind is sympy.Product and body == 0:
            # SymPy takes a product of zeros for zero even over an empty range
            return _zero_product(limits)
        with sympy.evaluate(True):  # a sum read as written would keep SymPy's factor 1
            built = kind(body, *limits)  # (its orientation) in front of the body
        if built.is_number and _terms(limits) <= MAX_WRITTEN_TERMS:
            # a constant sum written out now, by the convention above: SymPy would
            # otherwise compare it (in Min, Max, floor) by its own evaluation
            from derive.check.evaluate import Declined, _write_out
            try:
                return _write_out(built).doit()
            except Declined:
                pass
        return built


MAX_WRITTEN_TERMS = 10_000   # a constant sum up to this long is written out as it is read


def _terms(limits: list[tuple[Any, Any, Any]]) -> int:
    """How many terms constant limits span (innermost first; the count stops a little
    past :data:`MAX_WRITTEN_TERMS`)."""
    def count(k: int, env: dict) -> int:
        if k < 0:
            return 1
        var, lo, hi = limits[k]
        a, b = lo.xreplace(env), hi.xreplace(env)
        if not (a.is_Integer and b.is_Integer):
            return MAX_WRITTEN_TERMS + 1
        total = 0
        for j in range(int(a), int(b) + 1):
            total += count(k - 1, {**env, var: sympy.Integer(j)})
            if total > MAX_WRITTEN_TERMS:
                break
        return total
    return count(len(limits) - 1, {})


def _zero_product(limits: list[tuple[Any, Any, Any]]) -> Any:
    """``Product(0, *limits)`` as the checker counts it: 0 when the ranges visit a point,
    1 when one is empty (innermost first, as SymPy's limits)."""
    (_, lo, hi), rest = limits[0], limits[1:]
    inner = sympy.Piecewise((0, hi >= lo), (1, True))
    return sympy.Product(inner, *rest) if rest else inner


def parse_expression(text: str, symbols: dict[str, sympy.Symbol] | None = None, *,
                     divisors: list[Any] | None = None) -> Any:
    """Parse one expression (no ``==``) into SymPy; ``divisors``, when given, receives what
    the text divides by (even where SymPy cancels it).

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
    return _timed(lambda: _Builder(src, symbols, divisors).build(node), src)


def parse_relation(text: str, symbols: dict[str, sympy.Symbol] | None = None, *,
                   divisors: list[list[Any]] | None = None) -> tuple[list[Any], list[str]]:
    """Parse ``a OP b OP c ...`` into the operands and operator symbols; ``divisors``, when
    given, receives one list per operand of what it divides by.

    >>> parse_relation("1 <= k <= 5")
    ([1, k, 5], ['<=', '<='])
    """
    src = _source(text)
    node = _parse_tree(src)
    builder = _Builder(src, symbols)

    def operand(n: ast.AST) -> Any:
        start = len(builder.divisors)
        value = builder.build(n)
        if divisors is not None:
            divisors.append(builder.divisors[start:])
        return value

    if not isinstance(node, ast.Compare):
        return _timed(lambda: [operand(node)], src), []
    ops = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">",
           ast.GtE: ">="}
    names = []
    for op in node.ops:
        if type(op) not in ops:
            raise _fail(f"comparison {type(op).__name__} is not allowed", node, src)
        names.append(ops[type(op)])
    operands = _timed(lambda: [operand(node.left)] + [operand(c) for c in node.comparators],
                      src)
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


def parse_claim(text: str, symbols: dict[str, sympy.Symbol] | None = None, *,
                divisors: list[list[Any]] | None = None) -> tuple[Any, Any]:
    """Parse ``lhs == rhs``; ``divisors``, when given, receives what each side divides by.

    >>> parse_claim("x == y + 1")
    (x, y + 1)
    >>> found = []
    >>> parse_claim("x/x == Mod(6, x - 3)", divisors=found), found
    ((1, Mod(6, x - 3)), [[x], [x - 3]])
    """
    operands, ops = parse_relation(text, symbols, divisors=divisors)
    if ops != ["=="]:
        if not ops:
            raise ParseError("a claim needs '==' between its two sides", text=text)
        raise ParseError(f"a claim is 'lhs == rhs', got the comparison(s) {' '.join(ops)}",
                         text=text)
    return operands[0], operands[1]
