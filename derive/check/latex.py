r"""LaTeX input: formulas and derivations typed in LaTeX, read into SymPy by our own grammar.

Design rule: LaTeX is data.  A document is split into rows (``\\`` of an ``align``
environment), each row is parsed by the LALR grammar in ``latex.lark``, and the tree is
translated into SymPy node by node from a whitelist; nothing is evaluated, and neither
SymPy's ``parse_latex`` nor ``sympify`` is used.  Anything the grammar does not know is a
:class:`~derive.errors.ParseError` naming the piece with its line and column.

What is read, and how:

* Environments ``align``/``align*``/``equation``/``gather``/``multline``/``eqnarray``
  (starred or not), ``$$ ... $$``, ``\[ ... \]``; inline ``$ ... $`` only when a document has
  no display mathematics; otherwise the whole text is one bare formula.  ``&``, ``\nonumber``,
  ``\label{..}``, ``\quad``, ``\,`` and other spacing are ignored.  After ``&&`` the rest of
  an ``align`` row is a justification (kept as text, not parsed).  ``% assume: ...`` and
  ``% because: ...`` comment lines are returned as annotations.
* Each row is a chain ``a = b \le c``; a row that starts with a relation (``&= b``)
  continues the previous row, a row that starts with an expression starts a new chain.
  A multi-column ``align`` row ``a &= b & c &= d`` is two equations (every second ``&``
  starts one, except eqnarray's ``a &=& b``); a row continuing a multi-column row is
  refused (which column would it continue?).
* A name being defined: the left-most expression of a row that starts a chain and is
  followed by a relation, when it is one subscripted name (``r_L &= ..``, ``y_i &= ..``,
  ``K_1 = ..``), is the plain symbol ``r_L``/``y_i``/``K_1``, as in the plain-text claim
  language (so the grader treats it as a definition).  Everywhere else, and in
  :func:`parse_latex_claim`, subscripts keep the meaning documented below.
* ``\frac``/``\dfrac``/``\tfrac``, ``\sqrt``, ``\binom``; ``\lfloor``/``\rfloor``,
  ``\lceil``/``\rceil`` (with or without ``\left``/``\right``); ``( )``, ``[ ]``, ``{ }``;
  ``\left| \right|`` or ``\lvert \rvert`` for absolute values; ``^`` powers;
  ``\cdot``, ``\times``, ``/``, ``\div``, ``\bmod``/``\mod``; implicit multiplication
  (``2P``, ``D(K-1)``, ``a(b+c)`` are products).  ``a / b c`` is refused as ambiguous, and
  so are ``-a \bmod 2``, ``a \bmod b \bmod c`` and ``\sum_{k=0}^{n} w_k \bmod 2`` (write
  parentheses).
* Function application (an unknown function is SymPy's ``Function(name)(args)``, which the
  checker evaluates as an arbitrary function, never as a product): a Greek letter, one of
  ``f``, ``g``, ``h``, or a multi-letter ``\mathrm{..}``/``\text{..}`` name that is not a
  known function, followed by ``( .. )`` is applied to it: ``\sigma(a+b)`` is
  ``sigma(a + b)``, ``g(x, y)`` is ``g(x, y)``, ``\mathrm{ReLU}(x)`` is ``ReLU(x)``.  Any
  letter followed by SymPy's braced ``{\left( .. \right)}`` is applied too (``y{\left(x
  \right)}``).  A name both applied and used alone in the same text (``f(x) = f x``,
  ``\lambda(x+y) = \lambda x + \lambda y``) is refused with both readings: write
  ``\lambda \cdot (x + y)`` for a product.  Every other letter followed by ``( .. )`` is a
  product (the course writes sizes so: ``D(K-1)``, ``S(n-1)``).  In a lone formula
  without any relation (nothing is checked) ``f``/``g``/``h`` keep the product reading
  (``f(x)`` is ``f*x``).  ``\operatorname{..}`` of an unknown name applied to
  parentheses is an unknown function too (``\operatorname{softmax}(z)``); alone it is
  refused.
* Operator names without parentheses take the juxtaposed product that follows, up to the
  next ``+``/``-``/relation, operator (``\cdot``, ``/``) or function at that level (a
  ``\sum`` after other factors, ``\log n \sum ..``, is refused as ambiguous):
  ``\log 2n`` is ``log(2*n)``, ``\sin 2x`` is ``sin(2*x)``, ``\ln ab`` is ``log(a*b)``,
  ``\sin x \cos x`` is ``sin(x)*cos(x)``, ``\sin x^2`` is ``sin(x**2)``; with parentheses,
  the argument is the parentheses: ``\log(2) n`` is ``n*log(2)``.
* Leibniz notation is a derivative (``Derivative(expr, var)``): ``\frac{d}{dx} E``,
  ``\frac{\mathrm{d}}{\mathrm{d}x} E``, ``\frac{\partial}{\partial w_m} E`` apply to the
  product that follows (as a sum's body does); ``\frac{dE}{dx}`` differentiates ``E``;
  ``\frac{d^2}{dx^2}`` is the second derivative.  The variable is a name or an array entry
  (``w_m``).  In ``\frac{dy}{dx}`` a plain name ``y`` is an unknown function ``y(x)``, so
  nothing specific is ever proved about it.  ``\frac{d}{d}``, ``\frac{dx}{d}`` or a
  denominator that is not ``d`` and one variable are refused with both readings; ``d``
  without the other half (``\frac{d}{2}``, ``\frac{a}{dx}``) is the letter ``d``;
  ``\partial`` and ``\mathrm{d}`` outside Leibniz notation are refused.
* Remarks: ``\text{..}`` (``\textrm``, ``\textit``, ...) juxtaposed before or after the
  factors of a product (``2a \text{ terms}``, ``a \quad \text{done}``) is a remark, kept
  as the link's ``because`` and never a factor; between factors it is refused.  A
  ``\text{..}`` standing alone as an operand is a name (``\text{size}``) unless it has
  spaces; ``\mathrm{..}`` is always a name (``C_{\text{in}}`` is ``C_in``).
* ``e`` is Euler's number (``e^{x}`` is ``exp(x)``) unless declared a quantity: a
  ``% symbols: e`` comment line, ``e`` in a ``% assume:`` line, a summation variable
  ``e``, or ``e`` in the ``symbols`` argument.  ``e_1`` is a subscripted name as usual.
* ``\sum_{k=a}^{b}`` and ``\prod``: the body is the product that follows (up to the next
  ``+``/``-`` at the same level); ``k`` inside the body *is* the bound variable (an integer
  symbol), so the sum means what it shows.
* Names: single letters (``ab`` is ``a*b``), Greek letters (``\alpha`` is ``alpha``),
  ``\mathrm{..}``/``\text{..}`` names (``\_`` allowed), ``\pi``.  Functions: ``\max``,
  ``\min``, ``\log`` (``\log_2``), ``\ln``, ``\exp``, ``\sin``, ``\cos``, ``\tan``,
  ``\tanh``, ``\operatorname{ReLU}`` (``max(0, x)``), and ``\operatorname{..}``
  (or ``\mathrm{..}``) of a known function, including the engine's named quantities such as
  ``\operatorname{output\_size}(H, K, P, S, D)``.
* Numbers: integers, and decimals as exact rationals (``1.15`` is ``23/20``); thousands
  grouped as ``73{,}856`` or ``73\,856`` (groups of exactly three digits).
* Sentence punctuation closing a row (``x = 2.``, ``a &= b, \\``) is not mathematics.
* ``\approx`` is a relation (``~=``, a numeric step for the grader); ``\implies``,
  ``\Rightarrow``, ``\Longrightarrow`` between equations start a new equation that
  follows from the ones before (relation ``=>``).
* ``\dots`` (``\cdots``, ``\ldots``) between added terms stands for the terms of the one
  pattern the written terms show (:mod:`derive.check.elision`): ``1 + 2 + \dots + n`` is
  ``Sum(k, (k, 1, n))``, ``1 + s + \dots + s^{L-1}`` is ``Sum(s**k, (k, 0, L - 1))``;
  anything else with dots is refused with the reason.
* ``\left. E \right|_{x=a}`` is E evaluated at x = a (``Subs``); no other use of
  ``\left.`` or ``\right.`` is read (a bracket split across rows: write it on one row).

Subscripts (the documented choice):

* a run of two or more letters, or a ``\text``/``\mathrm`` name, is part of the name:
  ``H_{out}`` is the symbol ``H_out``, ``C_{\text{in}}`` is ``C_in``, ``x_{ik}`` is ``x_ik``.
  Because ``x_{ik}`` could also be read as two indices, it is refused when ``x`` is indexed
  elsewhere in the same text or when ``i`` or ``k`` is a summation variable in scope: write
  ``x_{i,k}`` for two indices.
* a letter, an expression, or a comma list is an index: ``w_k`` is ``IndexedBase('w')[k]``,
  ``x_{i+k}`` is ``x[i + k]``, ``x_{i,k}`` is ``x[i, k]``, ``x_{2k}`` is ``x[2*k]``.
* an integer is part of the name (``K_1`` is the symbol ``K_1``, as in the plain-text claim
  language) unless the same letter is indexed by a variable somewhere in the same text, in
  which case every subscript of that letter is an index (so ``w_0 x_i + w_1 x_{i+1}`` is
  the expansion of ``\sum_{k=0}^{1} w_k x_{i+k}``).

>>> parse_latex_expression(r"\left\lfloor \frac{H + 2P - K}{S} \right\rfloor + 1")
floor((H - K + 2*P)/S) + 1
>>> chain = parse_latex_chain(r"\begin{align*} y &= D(K-1) + 1 \\ &= DK - D + 1 \end{align*}")
>>> chain.exprs, chain.relations
([y, D*(K - 1) + 1, D*K - D + 1], ['=', '='])
>>> parse_latex_expression(r"\sum_{k=0}^{K-1} w_{k} x_{i+k}")
Sum(w[k]*x[i + k], (k, 0, K - 1))
"""

from __future__ import annotations

import bisect
import importlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import sympy

from derive.errors import ConfigurationError, ParseError

MAX_LATEX_CHARS = 100_000   # a longer document is refused before parsing
MAX_ROWS = 1_000            # rows (lines of an align environment) in one document
MAX_NESTING = 60            # brackets / braces / floors nested inside each other
MAX_TREE_DEPTH = 120        # depth of the parsed formula (sums, signs, fractions ...)
MAX_NUMBER_DIGITS = 400     # digits of one number literal
MAX_INT_BITS = 4_096        # constant powers stay this small
MAX_BINOMIAL = 1_000        # numeric arguments of \binom

_GRAMMAR = Path(__file__).with_name("latex.lark")

_RELATIONS = {"=": "=", "<": "<", ">": ">", r"\le": "<=", r"\leq": "<=", r"\leqslant": "<=",
              r"\ge": ">=", r"\geq": ">=", r"\geqslant": ">=", r"\ne": "!=", r"\neq": "!=",
              r"\lt": "<", r"\gt": ">", r"\approx": "~="}

# Between equations, ``\implies`` (``\Rightarrow``): the link starts a new equation that
# follows from the ones before; the grader checks it under them.
IMPLIES = "=>"

_GREEK_ALIASES = {"varepsilon": "epsilon", "vartheta": "theta", "varphi": "phi",
                  "varrho": "rho"}

# Functions of the LaTeX commands and of \operatorname{..} names: name -> (builder, arity).
# arity None: any number of arguments in parentheses; 1: may also be applied without them.
def _relu(x: Any) -> Any:
    from derive.check.parse import relu
    return relu(x)


_MATH_FUNCTIONS: dict[str, tuple[Any, int | None]] = {
    "max": (sympy.Max, None), "min": (sympy.Min, None),
    "log": (sympy.log, 1), "ln": (sympy.log, 1), "exp": (sympy.exp, 1),
    "sin": (sympy.sin, 1), "cos": (sympy.cos, 1),
    "floor": (sympy.floor, 1), "ceil": (sympy.ceiling, 1), "ceiling": (sympy.ceiling, 1),
    "abs": (sympy.Abs, 1), "mod": (sympy.Mod, None), "binomial": (sympy.binomial, None),
    "sqrt": (sympy.sqrt, 1), "tan": (sympy.tan, 1), "tanh": (sympy.tanh, 1),
    "ReLU": (_relu, 1), "relu": (_relu, 1),
}

# Names of terminals, as an error message says them.
_TERMINAL_WORDS = {
    "REL": "a relation such as '='", "PLUS": "'+'", "MINUS": "'-'",
    "MULOP": r"an operator such as '\cdot'", "SUB": "'_'", "SUP": "'^'", "COMMA": "','",
    "LBRACE": "'{'", "RBRACE": "'}'", "LPAREN": "'('", "RPAREN": "')'", "LBRACK": "'['",
    "RBRACK": "']'", "LFLOOR": r"'\lfloor'", "RFLOOR": r"'\rfloor'", "LCEIL": r"'\lceil'",
    "RCEIL": r"'\rceil'", "LABS": r"'\left|'", "RABS": r"'\right|'", "FRAC": r"'\frac'",
    "SQRT": r"'\sqrt'", "BINOM": r"'\binom'", "BIGOP": r"'\sum'", "FUNC": "a function",
    "NAMECMD": r"a '\mathrm{...}' name", "GREEK": "a Greek letter", "CONSTANT": r"'\pi'",
    "NUMBER": "a number", "LETTER": "a letter", "UNKNOWN_COMMAND": "a command",
    "IMPLIES": r"'\implies'", "DOTS": r"'\dots'", "LEVAL": r"'\left.'",
    "$END": "the end of the formula",
}


# ---------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Link:
    """One expression of a chain, where it was written, and how it relates to the previous.

    ``relation`` is ``None`` for the first expression of a chain, otherwise one of ``=``,
    ``<``, ``<=``, ``>``, ``>=``, ``!=``.  ``line``/``column`` (1-based) point at the first
    character of the expression; ``because`` is a justification written after ``&&``.
    """

    expr: Any
    relation: str | None
    line: int
    column: int
    text: str
    because: str = ""
    divisors: tuple[Any, ...] = ()   # what it divides by, kept where SymPy cancelled it


@dataclass(frozen=True)
class Annotation:
    """A ``% assume: ...`` or ``% because: ...`` comment line."""

    kind: str       # "assume" or "because"
    text: str
    line: int


@dataclass(frozen=True)
class LatexChain:
    """The expressions of a LaTeX derivation, in order, with their relations and places."""

    links: tuple[Link, ...]
    annotations: tuple[Annotation, ...] = field(default_factory=tuple)

    @property
    def exprs(self) -> list[Any]:
        """The expressions, in order."""
        return [link.expr for link in self.links]

    @property
    def relations(self) -> list[str | None]:
        """Relation of each expression to the one before (one fewer than ``exprs``)."""
        return [link.relation for link in self.links[1:]]


# ---------------------------------------------------------------------------------------
# Public functions


PARSE_BUDGET = 2.0   # seconds to build one LaTeX input (SymPy evaluates as it builds)


def parse_latex_chain(text: str, symbols: dict[str, sympy.Symbol] | None = None,
                      *, definitions: bool = True) -> LatexChain:
    r"""Read a LaTeX formula or derivation into a chain of SymPy expressions.

    >>> c = parse_latex_chain(r"$$ \frac{a}{b} = a \cdot b^{-1} \le a $$")
    >>> c.exprs, c.relations, c.links[1].column
    ([a/b, a/b, a], ['=', '<='], 18)
    """
    from derive.check.budget import time_limit
    from derive.errors import BudgetExceeded
    doc = _Document(_check_text(text))
    try:
        with time_limit(PARSE_BUDGET):
            return doc.parse(symbols if symbols is not None else {}, definitions)
    except BudgetExceeded:
        raise ParseError(f"this formula takes more than {PARSE_BUDGET:g} s to build; "
                         f"simplify it", text=text) from None


def parse_latex_expression(text: str, symbols: dict[str, sympy.Symbol] | None = None) -> Any:
    r"""Read one LaTeX formula (no relation) into SymPy.

    >>> parse_latex_expression(r"D(K-1) + 1")
    D*(K - 1) + 1
    >>> parse_latex_expression(r"\frac{1}{2}\,x_{i,k} + 1.5")
    x[i, k]/2 + 3/2
    """
    chain = parse_latex_chain(text, symbols)
    if len(chain.links) != 1:
        where = chain.links[1] if len(chain.links) > 1 else None
        raise ParseError("expected one formula without '=' or other relations",
                         text=text, line=where.line if where else None,
                         column=where.column if where else None)
    return chain.links[0].expr


def parse_latex_claim(text: str, symbols: dict[str, sympy.Symbol] | None = None, *,
                      divisors: list[list[Any]] | None = None) -> tuple[Any, Any]:
    r"""Read ``lhs = rhs`` written in LaTeX; ``divisors``, when given, receives what each
    side divides by (kept where SymPy cancelled it, as in ``rac{x}{x}``).

    >>> parse_latex_claim(r"\lceil a/b \rceil = \lfloor (a + b - 1)/b \rfloor")
    (ceiling(a/b), floor((a + b - 1)/b))
    """
    chain = parse_latex_chain(text, symbols, definitions=False)
    if len(chain.links) != 2 or chain.links[1].relation != "=":
        raise ParseError("a claim is 'lhs = rhs' with exactly one '='", text=text)
    if divisors is not None:
        divisors.extend([list(chain.links[0].divisors), list(chain.links[1].divisors)])
    return chain.links[0].expr, chain.links[1].expr


# ---------------------------------------------------------------------------------------
# The parser object (built once per process)


@lru_cache(maxsize=1)
def _parser() -> Any:
    from lark import Lark

    return Lark(_GRAMMAR.read_text(encoding="utf-8"), start="row", parser="lalr",
                lexer="contextual", propagate_positions=True, maybe_placeholders=False)


def _check_text(text: Any) -> str:
    if not isinstance(text, str):
        raise ParseError(f"LaTeX input must be text, got {type(text).__name__}")
    if len(text) > MAX_LATEX_CHARS:
        raise ParseError(f"LaTeX input is {len(text):,} characters long; the limit is "
                         f"{MAX_LATEX_CHARS:,}")
    bad = re.search(r"[\x00-\x08\x0b\x0e-\x1f\x7f]", text)
    if bad:
        raise ParseError(f"LaTeX input contains the control character {bad.group()!r}",
                         text=text, **_where(text, bad.start()))
    return text


def _where(text: str, offset: int) -> dict[str, int]:
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return {"line": line, "column": offset - start + 1}


# ---------------------------------------------------------------------------------------
# Documents: comments, math spans, rows

_ENVS = ("align", "align*", "equation", "equation*", "gather", "gather*", "multline",
         "multline*", "eqnarray", "eqnarray*", "displaymath", "flalign", "flalign*",
         "alignat", "alignat*")
_DISPLAY_OPEN = re.compile(r"\\begin\s*\{(" + "|".join(re.escape(e) for e in _ENVS) + r")\}"
                           r"|\$\$|(?<!\\)\\\[")
_ANNOTATION = re.compile(r"^\s*(assume|because)\s*:\s*(.*?)\s*$", re.IGNORECASE)
_RELATION_ONLY = re.compile(r"\s*(?:=|<|>|\\(?:leq|le|geq|ge|neq|ne|lt|gt|leqslant|geqslant|approx)"
                            r"(?![a-zA-Z]))\s*\Z")
_ROW_BREAK = re.compile(r"\\\\\*?(?:\s*\[[^\]\n]*\])?")
_FRAC_DIGITS = re.compile(r"\\[dtc]?frac\s*\d\d")
_BARE_SUM = re.compile(r"\\(?:sum|prod)(?![a-zA-Z])"
                       r"(?!(?:\s*\\limits(?![a-zA-Z]))?\s*(?:_\s*\{\s*[a-zA-Z]\s*=|\^))")
_SYMBOLS = re.compile(r"^\s*symbols\s*:\s*(.*?)\s*$", re.IGNORECASE)
_NAME_CONTENT = re.compile(r"\\(\w+)\s*\{([^{}]*)\}")


class _Document:
    """A LaTeX text, its line starts, comments blanked out, math located and parsed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.annotations: list[Annotation] = []
        self.declared: set[str] = set()   # names declared as quantities (% symbols: e)
        self.given_names: set[str] = set()
        self.clean = self._strip_comments(text)

    # -- positions ---------------------------------------------------------------------
    def position(self, offset: int) -> tuple[int, int]:
        i = bisect.bisect_right(self.line_starts, offset) - 1
        return i + 1, offset - self.line_starts[i] + 1

    def error(self, message: str, offset: int) -> ParseError:
        line, column = self.position(offset)
        return ParseError(message, text=self.text, line=line, column=column)

    # -- comments ----------------------------------------------------------------------
    def _strip_comments(self, text: str) -> str:
        out = []
        for number, line in enumerate(text.split("\n"), start=1):
            cut = None
            stripped = line.lstrip()
            if stripped.startswith("#"):
                cut = len(line) - len(stripped)
            else:
                for m in re.finditer(r"%", line):
                    if m.start() == 0 or line[m.start() - 1] != "\\":
                        cut = m.start()
                        break
            if cut is None:
                out.append(line)
                continue
            comment = line[cut + 1:]
            m = _ANNOTATION.match(comment)
            if m and m.group(2):
                self.annotations.append(Annotation(m.group(1).lower(), m.group(2), number))
                if m.group(1).lower() == "assume":
                    self.declared.update(re.findall(r"(?<![\\\w])e(?!\w)", m.group(2)))
            m = _SYMBOLS.match(comment)
            if m:
                self.declared.update(re.findall(r"[A-Za-z]\w*", m.group(1)))
            out.append(line[:cut] + " " * (len(line) - cut))
        return "\n".join(out)

    # -- math spans --------------------------------------------------------------------
    def spans(self) -> list[tuple[int, int]]:
        """(start, end) offsets of the mathematics, in order of appearance."""
        text = self.clean
        spans: list[tuple[int, int]] = []
        pos = 0
        while True:
            m = _DISPLAY_OPEN.search(text, pos)
            if m is None:
                break
            if m.group(1):
                closer = re.compile(r"\\end\s*\{" + re.escape(m.group(1)) + r"\}")
            elif m.group() == "$$":
                closer = re.compile(r"\$\$")
            else:
                closer = re.compile(r"(?<!\\)\\\]")
            end = closer.search(text, m.end())
            if end is None:
                raise self.error(f"'{m.group()}' is never closed", m.start())
            spans.append((m.end(), end.start()))
            pos = end.end()
        if spans:
            return spans
        if re.search(r"\\begin\s*\{|\\documentclass", text):
            raise self.error("no mathematics found: expected an align/equation environment, "
                             "$$ ... $$ or \\[ ... \\]", 0)
        inline = []
        pos = 0
        while True:
            start = _find_dollar(text, pos)
            if start < 0:
                break
            end = _find_dollar(text, start + 1)
            if end < 0:
                raise self.error("'$' is never closed", start)
            inline.append((start + 1, end))
            pos = end + 1
        return inline or [(0, len(text))]

    def rows(self) -> list[tuple[int, int, str, int]]:
        """(start, end, justification, column) of every row (every equation column of a
        multi-column ``align`` row) of every span."""
        rows: list[tuple[int, int, str, int]] = []
        for start, end in self.spans():
            pos = start
            for brk in _row_breaks(self.clean, start, end):
                rows.extend(self._columns(*self._row(pos, brk.start())))
                pos = brk.end()
            rows.extend(self._columns(*self._row(pos, end)))
            if len(rows) > MAX_ROWS:
                raise self.error(f"more than {MAX_ROWS:,} rows; the limit is {MAX_ROWS:,}",
                                 start)
        return rows

    def _row(self, start: int, end: int) -> tuple[int, int, str]:
        """A row; text after ``&&`` (at brace depth 0) is its justification."""
        text = self.clean
        for i in _ampersands(text, start, end):
            j = i + 1
            while j < end and text[j] in " \t":
                j += 1
            if j < end and text[j] == "&":
                return start, i, _plain_words(text[j + 1:end])
        return start, end, ""

    def _columns(self, start: int, end: int, because: str) -> list[tuple[int, int, str, int]]:
        """The equations of one ``align`` row: ``a &= b & c &= d`` is two equations (every
        second ``&`` at brace depth 0 starts a new one, unless only a relation stands
        between it and the one before, as in eqnarray's ``a &=& b``)."""
        text = self.clean
        marks = list(_ampersands(text, start, end))
        cuts = []
        for k in range(1, len(marks), 2):
            between = text[marks[k - 1] + 1:marks[k]]
            if _RELATION_ONLY.match(between):
                continue
            cuts.append(marks[k])
        out = []
        pos = start
        for n, cut in enumerate(cuts):
            out.append((pos, cut, "", n))
            pos = cut + 1
        out.append((pos, end, because, len(cuts)))
        return out

    # -- parsing -----------------------------------------------------------------------
    def parse(self, symbols: dict[str, sympy.Symbol], definitions: bool = True) -> LatexChain:
        from lark.exceptions import LarkError

        # names the caller declared (the symbols argument), before this text adds its own:
        # \mathit{e} elsewhere in the text must not turn a bare e into the letter
        self.given_names = set(symbols)
        trees = []
        multi = False      # the previous row had several equation columns
        for start, end, because, column in self.rows():
            end = _without_punctuation(self.clean, start, end)
            if column and not self.clean[start:end].strip():
                continue
            if not self.clean[start:end].strip():
                continue
            self._check_nesting(start, end)
            self._check_habits(start, end)
            try:
                tree = _parser().parse(self.clean[start:end])
            except LarkError as exc:
                raise self._lark_error(exc, start, end) from None
            except RecursionError:
                raise self.error("formula nested too deeply", start) from None
            self._check_depth(tree, start)
            leads = bool(tree.children) and _is_relation(tree.children[0])
            if leads and (column or multi):
                raise self.error("a row that continues a multi-column align row is ambiguous "
                                 "(which column does it continue?); write one equation "
                                 "per row", start + _start(tree.children[0]))
            multi = column > 0
            trees.append((tree, start, because))
        if not trees:
            raise ParseError("no formula found (the LaTeX input is empty)", text=self.text)
        indexed = _indexed_bases(tree for tree, _, _ in trees)
        lone = len(trees) == 1 and not any(_is_relation(c) for c in trees[0][0].children)
        functions = _function_uses(self, [(t, s) for t, s, _ in trees], lone)
        links: list[Link] = []
        for t, (tree, start, because) in enumerate(trees):
            builder = _Builder(self, start, indexed, symbols, functions)
            # a name being defined: the left-most expression of a row that starts a chain
            followed = any(getattr(c, "type", None) == "REL" for c in tree.children[1:]) or (
                t + 1 < len(trees) and bool(trees[t + 1][0].children)
                and getattr(trees[t + 1][0].children[0], "type", None) == "REL")
            try:
                row_links = builder.row(tree, definitions and followed)
            except RecursionError:
                raise self.error("formula nested too deeply", start) from None
            except ParseError:
                raise
            except (TypeError, ValueError, ArithmeticError, NotImplementedError,
                    AttributeError, IndexError) as exc:
                # SymPy refused to build a piece (e.g. max over a symbolic sum)
                raise self.error(f"cannot build this formula ({type(exc).__name__}: "
                                 f"{str(exc)[:80]})", start) from None
            if row_links and row_links[0].relation is not None and not links:
                raise self.error(f"the formula starts with '{row_links[0].relation}' but "
                                 f"nothing comes before it", start + _start(tree.children[0]))
            if because and row_links:
                target = next((i for i, lk in enumerate(row_links) if lk.relation), 0)
                lk = row_links[target]
                row_links[target] = Link(lk.expr, lk.relation, lk.line, lk.column, lk.text,
                                         because)
            links.extend(row_links)
        return LatexChain(tuple(links), tuple(self.annotations))

    def _check_nesting(self, start: int, end: int) -> None:
        depth = 0
        for m in re.finditer(r"\\[lr](?:floor|ceil|vert)|\\left|\\right|[{(\[]|[})\]]",
                             self.clean[start:end]):
            tok = m.group()
            if tok in ("{", "(", "[") or tok.startswith(("\\l",)):
                if tok == "\\left":
                    continue   # \left( counts once, through its bracket
                depth += 1
                if depth > MAX_NESTING:
                    raise self.error(f"brackets nested more than {MAX_NESTING} deep",
                                     start + m.start())
            elif tok != "\\right":
                depth -= 1

    def _check_habits(self, start: int, end: int) -> None:
        """Refuse LaTeX shorthands that the grammar would otherwise read differently."""
        row = self.clean[start:end]
        m = _FRAC_DIGITS.search(row)
        if m:
            raise self.error(r"write the digits of a fraction in braces, as in \frac{1}{2}",
                             start + m.start())
        m = _BARE_SUM.search(row)
        if m:
            raise self.error(r"write the range of a sum or product as \sum_{k=a}^{b}",
                             start + m.start())

    def _check_depth(self, tree: Any, start: int) -> None:
        from lark import Tree

        stack = [(tree, 0)]
        while stack:
            node, depth = stack.pop()
            if depth > MAX_TREE_DEPTH:
                raise self.error(f"formula nested more than {MAX_TREE_DEPTH} levels deep",
                                 start + _start(node))
            for i, child in enumerate(node.children):
                if isinstance(child, Tree):
                    same_spine = (i == 0 and _family(child.data) is not None
                                  and _family(child.data) == _family(node.data))
                    stack.append((child, depth if same_spine else depth + 1))

    def _lark_error(self, exc: Exception, start: int, end: int) -> ParseError:
        from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

        bar = re.search(r"\\(?:left|right)\s*\.", self.clean[start:end])
        if bar is not None:
            return self.error(f"'{bar.group()}' is read only in the evaluation bar "
                              r"\left. E \right|_{x=a}; for a bracket split across rows, write "
                              "the bracketed expression on one row", start + bar.start())
        unknown = _first_unknown_command(self.clean, start, end)
        if unknown is not None:
            what, offset = unknown
            if what in (r"\left", r"\right"):
                return self.error(f"unsupported delimiter after {what} (use it with "
                                  r"( [ \lfloor \lceil or |)", offset)
            return self.error(f"unsupported LaTeX command {what}", offset)
        if isinstance(exc, UnexpectedToken):
            tok = exc.token
            if tok.type == "$END":
                return self.error(f"the formula ends too early; expected "
                                  f"{_expected(exc.expected)}", end)
            if tok.type == "UNKNOWN_COMMAND":
                return self.error(f"unsupported LaTeX command {tok}", start + tok.start_pos)
            return self.error(f"unexpected {str(tok)!r}; expected {_expected(exc.expected)}",
                              start + tok.start_pos)
        if isinstance(exc, UnexpectedCharacters):
            offset = start + exc.pos_in_stream
            ch = self.clean[offset]
            if ch == "\\":
                m = re.match(r"\\(?:[a-zA-Z]+|.)", self.clean[offset:end])
                what = m.group() if m else "\\"
                if what == "\\\\":
                    return self.error("a row break '\\\\' is not allowed here", offset)
                if what in (r"\left", r"\right"):
                    return self.error(f"unsupported delimiter after {what} (use it with "
                                      r"( [ \lfloor \lceil or |)", offset)
                return self.error(f"unsupported LaTeX command {what}", offset)
            if ch == "|":
                return self.error(r"write absolute values as \left| ... \right| or "
                                  r"\lvert ... \rvert", offset)
            if ch == "$":
                return self.error("unexpected '$' (math delimiters do not match)", offset)
            return self.error(f"unexpected character {ch!r}", offset)
        if isinstance(exc, UnexpectedEOF):
            return self.error("the formula ends too early", end)
        return self.error(f"cannot read this formula ({type(exc).__name__})", start)


def _is_relation(child: Any) -> bool:
    """A relation token of a row: ``=``, ``\\le``, ``\\approx`` ... or ``\\implies``."""
    return getattr(child, "type", None) in ("REL", "IMPLIES")


def _without_punctuation(text: str, start: int, end: int) -> int:
    """The end of a row without the sentence punctuation that closes a displayed formula
    (``x = 2.`` or ``a &= b, \\\\``); spacing commands such as ``\\,`` stay."""
    stop = end
    while stop > start and text[stop - 1].isspace():
        stop -= 1
    if (stop > start and text[stop - 1] in ".,;" and (stop - 1 == start
                                                       or text[stop - 2] != "\\")
            and not re.search(r"\\(?:left|right)\s*\Z", text[start:stop - 1])):
        return stop - 1
    return end


def _first_unknown_command(text: str, start: int, end: int) -> tuple[str, int] | None:
    """The first ``\\command`` in ``text[start:end]`` that no terminal of the grammar reads."""
    known = _known_command_patterns()
    for m in re.finditer(r"\\[a-zA-Z]+", text[:end]):
        if m.start() < start:
            continue
        if m.start() > 0 and text[m.start() - 1] == "\\":
            continue
        if not any(p.match(text, m.start(), end) for p in known):
            return m.group(), m.start()
    return None


@lru_cache(maxsize=1)
def _known_command_patterns() -> list[re.Pattern[str]]:
    out = []
    for term in _parser().terminals:
        if term.name != "UNKNOWN_COMMAND":
            out.append(re.compile(term.pattern.to_regexp()))
    out.append(re.compile(_parser().get_terminal("SPACING").pattern.to_regexp()))
    return out


def _ampersands(text: str, start: int, end: int) -> Iterator[int]:
    """Offsets of the ``&`` column marks of ``text[start:end]`` at brace depth 0 (an escaped
    ``\\&`` is not one)."""
    depth = 0
    i = start
    while i < end:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "&" and depth == 0:
            yield i
        i += 1


def _find_dollar(text: str, pos: int) -> int:
    while True:
        i = text.find("$", pos)
        if i <= 0 or text[i - 1] != "\\":
            return i
        pos = i + 1


def _row_breaks(text: str, start: int, end: int) -> Iterator[re.Match[str]]:
    """``\\`` row breaks between ``start`` and ``end`` at brace depth 0."""
    depth = 0
    i = start
    while i < end:
        ch = text[i]
        if ch == "\\":
            if text.startswith("\\\\", i) and depth == 0:
                m = _ROW_BREAK.match(text, i, end)
                if m is not None:   # always, since the text starts with two backslashes
                    yield m
                    i = m.end()
                    continue
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        i += 1


def _plain_words(text: str) -> str:
    r"""``\text{by the lemma}`` -> ``by the lemma`` (a justification is kept as words)."""
    words = _NAME_CONTENT.sub(lambda m: m.group(2), text)
    words = words.replace("&", " ").replace("~", " ")
    return " ".join(words.split())


def _expected(names: Any) -> str:
    words = sorted({_TERMINAL_WORDS.get(n, n) for n in names if n != "UNKNOWN_COMMAND"})
    if len(words) > 6:
        return "a formula"
    return ", ".join(words) or "something else"


def _start(node: Any) -> int:
    pos = getattr(node, "start_pos", None)
    if pos is None:
        meta = getattr(node, "meta", None)
        pos = getattr(meta, "start_pos", 0) if meta is not None and not meta.empty else 0
    return pos or 0


def _end(node: Any) -> int:
    pos = getattr(node, "end_pos", None)
    if pos is None:
        meta = getattr(node, "meta", None)
        pos = getattr(meta, "end_pos", 0) if meta is not None and not meta.empty else 0
    return pos or 0


def _family(data: str) -> str | None:
    if data in ("add", "sub"):
        return "sum"
    if data in ("binop", "implicit"):
        return "product"
    return None


# ---------------------------------------------------------------------------------------
# Subscripts


def _name_of_command(token: str) -> str:
    r"""``\mathrm{output\_size}`` -> ``output_size`` (not yet validated)."""
    m = _NAME_CONTENT.match(token)
    content = m.group(2) if m else ""
    content = content.replace(r"\_", "_").replace(r"\ ", " ").replace("~", " ")
    return content.strip()


def _letter_run(node: Any) -> str | None:
    """The letters of ``ab...`` when ``node`` is a juxtaposition of two or more letters."""
    from lark import Tree

    if not (isinstance(node, Tree) and node.data == "implicit"):
        return None
    letters: list[str] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Tree) and n.data == "implicit":
            stack.extend(reversed(n.children))
        elif isinstance(n, Tree) and n.data == "letter":
            letters.append(str(n.children[0]))
        else:
            return None
    return "".join(letters)


def _classify_subscript(subarg: Any) -> tuple[str, Any]:
    """("name", suffix, from_letters) / ("literal", digits) / ("index", [nodes])."""
    from lark import Token, Tree

    children = subarg.children
    if len(children) == 1:
        tok = children[0]
        if tok.type == "NAMECMD":
            return "name", (_name_of_command(tok), False)
        if tok.type == "NUMBER" and "." not in tok:
            return "literal", tok
        return "index", [tok]
    exprs = [c for c in children[1].children if not (isinstance(c, Token) and c.type == "COMMA")]
    if len(exprs) == 1:
        e = exprs[0]
        run = _letter_run(e)
        if run:
            return "name", (run, True)
        if isinstance(e, Tree) and e.data == "number" and "." not in e.children[0]:
            return "literal", e.children[0]
        if isinstance(e, Tree) and e.data == "name":
            return "name", (_name_of_command(e.children[0]), False)
    return "index", exprs


def _base_name(primary: Any) -> str | None:
    """Name of a letter, Greek letter or ``\\mathrm`` name that carries a subscript."""
    from lark import Tree

    if not isinstance(primary, Tree):
        return None
    if primary.data == "letter":
        return str(primary.children[0])
    if primary.data == "greek":
        name = str(primary.children[0])[1:]
        return _GREEK_ALIASES.get(name, name)
    if primary.data == "name":
        return _name_of_command(primary.children[0])
    return None


def _indexed_bases(trees: Iterator[Any]) -> set[str]:
    """Letters indexed by a variable or an expression anywhere in the document."""
    out: set[str] = set()
    for tree in trees:
        for node in tree.iter_subtrees():
            if node.data != "script":
                continue
            base = _base_name(node.children[0])
            if base is None:
                continue
            for marker, arg in zip(node.children[1::2], node.children[2::2]):
                if marker.type == "SUB" and _classify_subscript(arg)[0] == "index":
                    out.add(base)
    return out


# ---------------------------------------------------------------------------------------
# Tree -> SymPy


_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


class _Builder:
    """Translate one row's tree into SymPy, with summation variables in scope."""

    def __init__(self, doc: _Document, offset: int, indexed: set[str],
                 symbols: dict[str, sympy.Symbol], functions: set[str] | None = None) -> None:
        self.doc = doc
        self.offset = offset
        self.indexed = indexed
        self.symbols = symbols
        self.functions = functions or set()   # names applied as unknown functions
        self.bound: dict[str, sympy.Symbol] = {}
        self.remarks: list[str] = []           # \text{..} remarks of the link being built
        self.divisors: list[Any] = []          # what the link divides by (x/x is 1 built)

    # -- helpers -----------------------------------------------------------------------
    def fail(self, message: str, node: Any) -> ParseError:
        return self.doc.error(message, self.offset + _start(node))

    def source(self, node: Any) -> str:
        return self.doc.text[self.offset + _start(node):self.offset + _end(node)]

    def symbol(self, name: str) -> Any:
        if name in self.bound:
            return self.bound[name]
        if name not in self.symbols:
            self.symbols[name] = sympy.Symbol(name)
        return self.symbols[name]

    # -- rows --------------------------------------------------------------------------
    def row(self, tree: Any, definitions: bool = True) -> list[Link]:
        links: list[Link] = []
        relation: str | None = None
        for child in tree.children:
            if getattr(child, "type", None) == "REL":
                relation = _RELATIONS[str(child)]
                continue
            if getattr(child, "type", None) == "IMPLIES":
                relation = IMPLIES
                continue
            line, column = self.doc.position(self.offset + _start(child))
            self.remarks, self.divisors = [], []
            name = self.defined_name(child) if (definitions and not links
                                                and relation is None) else None
            value = name if name is not None else self.build(child)
            links.append(Link(value, relation, line, column,
                              " ".join(self.source(child).split()),
                              "; ".join(self.remarks), tuple(self.divisors)))
            relation = None
        if relation is not None:
            raise self.fail(f"nothing after '{relation}'", tree.children[-1])
        return links

    def defined_name(self, node: Any) -> Any:
        """``r_L`` / ``y_i`` / ``y_{i}`` starting a chain: the plain symbol ``r_L``, a name
        being defined (as in the plain-text claim language), not an array entry."""
        from lark import Token, Tree

        if not (isinstance(node, Tree) and node.data == "script"
                and [str(m) for m in node.children[1::2]] == ["_"]):
            return None
        base = _base_name(node.children[0])
        if base is None or not _IDENT.match(base) or base in self.functions:
            return None
        kind, data = _classify_subscript(node.children[2])
        if kind == "literal" and len(data) == 1 or kind == "name" and _IDENT.match(data[0]):
            return self.symbol(f"{base}_{data if kind == 'literal' else data[0]}")
        if kind != "index":
            return None
        if len(data) != 1:
            return None
        item = data[0]
        if isinstance(item, Tree) and item.data in ("letter", "greek"):
            item = item.children[0]
        if not isinstance(item, Token) or item.type not in ("LETTER", "GREEK"):
            return None
        suffix = str(item)[1:] if item.type == "GREEK" else str(item)
        return self.symbol(f"{base}_{_GREEK_ALIASES.get(suffix, suffix)}")

    # -- dispatch ----------------------------------------------------------------------
    def build(self, node: Any) -> Any:
        from lark import Token

        if isinstance(node, Token):
            return self.token(node)
        method = getattr(self, f"_{node.data}", None)
        if method is None:  # pragma: no cover - grammar and builder out of step
            raise self.fail(f"unsupported construct {node.data!r}", node)
        return method(node)

    def token(self, tok: Any) -> Any:
        if tok.type == "NUMBER":
            return self.number(tok)
        if tok.type == "LETTER":
            if (str(tok) == "e" and "e" not in self.bound and "e" not in self.doc.declared
                    and "e" not in self.doc.given_names):
                return sympy.E    # Euler's number, unless declared (% symbols: e)
            return self.symbol(str(tok))
        if tok.type == "GREEK":
            name = str(tok)[1:]
            return self.symbol(_GREEK_ALIASES.get(name, name))
        if tok.type == "CONSTANT":
            return sympy.pi
        if tok.type == "NAMECMD":
            return self.name(tok)
        raise self.fail(f"unexpected {str(tok)!r}", tok)  # pragma: no cover

    def number(self, tok: Any) -> Any:
        text = re.sub(r"\{,\}|\\,", "", str(tok))     # 73{,}856 and 73\,856 group thousands
        if len(text) > MAX_NUMBER_DIGITS:
            raise self.fail(f"number with {len(text)} digits; the limit is "
                            f"{MAX_NUMBER_DIGITS}", tok)
        return sympy.Rational(text) if "." in text else sympy.Integer(text)

    def name(self, tok: Any) -> Any:
        name = _name_of_command(str(tok))
        if _is_text_command(tok) and _raw_content(str(tok)) != name:
            raise self.fail(f"{str(tok)!r} is a remark, not a quantity name; put remarks "
                            "after && or in a '% because:' comment", tok)
        if str(tok).startswith(r"\operatorname") or name in _MATH_FUNCTIONS or \
                name in _engine_functions():
            raise self.fail(f"function {name!r} needs its arguments in parentheses", tok)
        if not _IDENT.match(name):
            raise self.fail(f"{str(tok)!r} is not a quantity name (names are letters, digits "
                            "and '_'); put remarks after && or in a '% because:' comment",
                            tok)
        return self.symbol(name)

    # -- leaves as trees ---------------------------------------------------------------
    def _number(self, node: Any) -> Any:
        return self.number(node.children[0])

    def _letter(self, node: Any) -> Any:
        return self.token(node.children[0])

    _greek = _constant = _letter

    def _diff(self, node: Any) -> Any:
        raise self.fail(f"the differential {node.children[0]} is read only in Leibniz "
                        r"notation, \frac{d}{dx} ... or \frac{dy}{dx}", node)

    def _name(self, node: Any) -> Any:
        return self.name(node.children[0])

    def _func(self, node: Any) -> Any:
        raise self.fail(f"function {node.children[0]} needs an argument", node)

    def _dots(self, node: Any) -> Any:
        raise self.fail(r"'\dots' is read only between the terms of a sum, as in "
                        r"1 + 2 + \dots + n; write \sum_{k=a}^{b} ... (or a product "
                        r"\prod_{k=a}^{b} ...) instead", node)

    def _evalbar(self, node: Any) -> Any:
        """``\\left. E \\right|_{x=a}``: E with x replaced by a (SymPy's ``Subs``)."""
        ch = node.children
        if str(ch[6]) != "=":
            raise self.fail(r"an evaluation bar is written \left. ... \right|_{x=a}", ch[6])
        var = self.symbol(str(ch[5]))
        point = self.build(ch[7])
        saved = dict(self.bound)
        self.bound.pop(str(ch[5]), None)
        try:
            body = self.build(ch[1])
        finally:
            self.bound = saved
        return sympy.Subs(body, var, point)

    def _unknown_command(self, node: Any) -> Any:
        raise self.fail(f"unsupported LaTeX command {node.children[0]}", node)

    # -- groups and brackets -----------------------------------------------------------
    def _group(self, node: Any) -> Any:
        return self.build(node.children[1])

    _bracket = _group

    def _paren(self, node: Any) -> Any:
        args = self.arglist(node.children[1])
        if len(args) != 1:
            raise self.fail("a comma list '(a, b)' is only allowed as the arguments of a "
                            "function", node)
        return args[0]

    def arglist(self, node: Any) -> list[Any]:
        return [self.build(c) for c in node.children if getattr(c, "type", None) != "COMMA"]

    def _floor(self, node: Any) -> Any:
        return sympy.floor(self.build(node.children[1]))

    def _ceil(self, node: Any) -> Any:
        return sympy.ceiling(self.build(node.children[1]))

    def _abs(self, node: Any) -> Any:
        return sympy.Abs(self.build(node.children[1]))

    def _frac(self, node: Any) -> Any:
        leibniz = self.leibniz(node)
        if leibniz is not None:
            operand, var, order = leibniz
            if operand is None:
                raise self.fail(f"the derivative {' '.join(self.source(node).split())} needs "
                                "an expression after it", node)
            return sympy.Derivative(operand, (var, order))
        num, den = self.frac_arg(node.children[1]), self.frac_arg(node.children[2])
        return self.divide(num, den, node.children[2])

    def leibniz(self, node: Any) -> tuple[Any, Any, int] | None:
        """``(operand or None, variable, order)`` when the fraction ``node`` is Leibniz
        notation (``\\frac{d}{dx}``, ``\\frac{dy}{dx}``, ``\\frac{\\partial L}{\\partial w_k}``,
        ``\\frac{d^2}{dx^2}``); ``None`` for an ordinary fraction."""
        num, den = _unwrap(node.children[1]), _unwrap(node.children[2])
        num_items, den_items = _flatten(num), _flatten(den)
        n_kind, n_order = _differential(num_items[0][1])
        d_kind, _ = _differential(den_items[0][1])
        if n_kind is None and d_kind is None:
            return None
        if n_kind is None or d_kind is None:
            if "operator" in (n_kind, d_kind):
                raise self.fail(r"a differential (\partial, \mathrm{d}) on one side of a "
                                r"fraction only; a derivative is \frac{d}{dx} or "
                                r"\frac{dy}{dx}", node)
            return None     # \frac{d}{2}, \frac{a}{dx}: an ordinary fraction of the letter d
        text = " ".join(self.source(node).split())
        both = (f"{text} reads either as a derivative or as a fraction of the letter d; "
                r"write \frac{d}{dx} (or \frac{dy}{dx}) for a derivative, or "
                r"\frac{d \cdot y}{d \cdot x} for a fraction")
        if len(den_items) != 2 or den_items[1][0] != "implicit":
            raise self.fail(f"ambiguous: {both}", node)
        if any(op != "implicit" for op, _ in num_items[1:]):
            raise self.fail(f"ambiguous: {both}", node)
        var, d_order = self.derivative_variable(den_items[1][1], node)
        if d_order != n_order:
            raise self.fail(f"the orders of {text} differ ({n_order} above, {d_order} below)",
                            node)
        if len(num_items) == 1:
            return None, var, n_order
        operand = self.product([("first", num_items[1][1])] + num_items[2:])
        if isinstance(operand, sympy.Symbol) and operand != var and operand.name not in (
                str(s) for s in self.bound.values()):
            operand = sympy.Function(operand.name)(var)   # y of dy/dx: an unknown function of x
        return operand, var, n_order

    def derivative_variable(self, node: Any, frac: Any) -> tuple[Any, int]:
        from lark import Tree

        order = 1
        if isinstance(node, Tree) and node.data == "script" and str(node.children[-2]) == "^":
            sup = self.build(node.children[-1])
            if not (sup.is_Integer and 1 <= int(sup) <= 10):
                raise self.fail("the order of a derivative is a small positive integer", node)
            order = int(sup)
            rest = node.children[:-2]
            node = rest[0] if len(rest) == 1 else Tree("script", rest, node.meta)
        var = self.build(node)
        if not isinstance(var, (sympy.Symbol, sympy.Indexed)):
            raise self.fail(f"a derivative is taken with respect to a name or an array entry, "
                            f"not {sympy.sstr(var)}", node)
        return var, order

    def frac_arg(self, node: Any) -> Any:
        from lark import Tree

        if isinstance(node, Tree) and node.data == "number" and len(node.children[0]) > 1:
            raise self.fail(r"LaTeX reads only the first digit as this argument; write "
                            r"the argument in braces, as in \frac{1}{2}", node)
        return self.build(node)

    def _sqrt(self, node: Any) -> Any:
        return sympy.sqrt(self.frac_arg(node.children[1]))

    def _root(self, node: Any) -> Any:
        degree = self.build(node.children[2])
        if degree == 0:
            raise self.fail("a root of degree 0", node)
        return sympy.root(self.frac_arg(node.children[4]), degree)

    def _binom(self, node: Any) -> Any:
        n, k = self.frac_arg(node.children[1]), self.frac_arg(node.children[2])
        if any(a.is_number and abs(a) > MAX_BINOMIAL for a in (n, k)):
            raise self.fail(f"binomial argument larger than {MAX_BINOMIAL}", node)
        return sympy.binomial(n, k)

    def divide(self, num: Any, den: Any, node: Any) -> Any:
        if den == 0:
            raise self.fail("division by zero", node)
        self.divides_by(den)
        return num / den

    def divides_by(self, den: Any) -> None:
        """Record a divisor before SymPy can cancel it (the checker needs it non-zero);
        one that depends on a summation variable is left to the evaluator's terms."""
        if isinstance(den, sympy.Basic) and den.free_symbols and not (
                den.free_symbols & set(self.bound.values())):
            self.divisors.append(den)

    # -- sums and signs ----------------------------------------------------------------
    def _add(self, node: Any) -> Any:
        terms: list[tuple[str, Any]] = []
        while _family(node.data) == "sum":
            terms.append((node.data, node.children[2]))
            node = node.children[0]
        terms.append(("add", node))
        terms.reverse()
        if any(_is_dots(child) for _, child in terms):
            return self.elided(terms)
        parts = []
        for op, child in terms:
            value = self.build(child)
            parts.append(value if op == "add" else -value)
        return sympy.Add(*parts)

    def elided(self, terms: list[tuple[str, Any]]) -> Any:
        """``t_1 + t_2 + \\dots + t_n``: the sum it abbreviates, or a refusal saying why."""
        from derive.check.elision import elided_sum

        at = next(k for k, (_, child) in enumerate(terms) if _is_dots(child))
        dots = terms[at][1]
        how = (r"; write the sum as \sum_{k=a}^{b} ... instead")
        if any(op != "add" for op, _ in terms) or at == 0 or at != len(terms) - 2:
            raise self.fail(r"'\dots' is read only as t_1 + t_2 + \dots + t_n (terms added, "
                            r"the dots before the last term)" + how, dots)
        before = [self.build(child) for _, child in terms[:at]]
        last = self.build(terms[-1][1])
        try:
            return elided_sum(before, last)
        except ValueError as exc:
            raise self.fail(f"cannot tell which terms '\\dots' stands for: {exc}" + how,
                            dots) from None

    _sub = _add

    def _neg(self, node: Any) -> Any:
        inner = node.children[1]
        if any(op in (r"\bmod", r"\mod") for op, _ in _flatten(inner)):
            text = " ".join(self.source(inner).split())
            raise self.fail(f"'-{text}' is ambiguous: write (-...) \\bmod ... for the remainder "
                            f"of the negative number, or -(... \\bmod ...) for the negative "
                            f"of the remainder", node)
        return -self.build(inner)

    def _pos(self, node: Any) -> Any:
        return self.build(node.children[1])

    # -- products ----------------------------------------------------------------------
    def _binop(self, node: Any) -> Any:
        items: list[tuple[str, Any]] = []
        while _family(node.data) == "product":
            op = "implicit" if node.data == "implicit" else str(node.children[1])
            items.append((op, node.children[-1]))
            node = node.children[0]
        items.append(("first", node))
        items.reverse()
        return self.product(items)

    _implicit = _binop

    def strip_remarks(self, items: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        """``\\text{..}`` juxtaposed before or after the factors of a product is a remark,
        not a factor; between factors it is refused."""
        marks = [_is_remark(node) for _, node in items]
        if len(items) < 2 or all(marks) or not any(marks):
            return items
        lo, hi = 0, len(items)
        while marks[lo]:
            lo += 1
        while marks[hi - 1]:
            hi -= 1
        for k, (op, node) in enumerate(items):
            if k > 0 and marks[k] and op != "implicit" or marks[k] and lo <= k < hi:
                raise self.fail(f"{' '.join(self.source(node).split())!r} between factors is "
                                "neither a quantity nor a remark; put remarks after && or in "
                                "a '% because:' comment", node)
            if marks[k]:
                self.remarks.append(_plain_words(self.source(node)))
        if lo < len(items) and items[lo][0] != "implicit" and lo > 0:
            raise self.fail("a remark cannot be followed by an operator", items[lo][1])
        kept = items[lo:hi]
        return [("first", kept[0][1])] + kept[1:]

    def product(self, items: list[tuple[str, Any]]) -> Any:
        from lark import Tree

        items = self.strip_remarks(items)
        # 1. function calls: a function followed by its argument(s); derivative operators
        values: list[tuple[str, Any, Any]] = []   # (operator, value, node)
        i = 0
        while i < len(items):
            op, node = items[i]
            if isinstance(node, Tree) and node.data == "frac":
                leibniz = self.leibniz(node)
                if leibniz is not None:
                    operand, var, order = leibniz
                    if operand is None:    # d/dx applies to the rest of the product
                        if i + 1 >= len(items) or items[i + 1][0] != "implicit":
                            raise self.fail(f"the derivative "
                                            f"{' '.join(self.source(node).split())} needs an "
                                            "expression right after it", node)
                        operand = self.product([("first", items[i + 1][1])] + items[i + 2:])
                        i = len(items)
                    else:
                        i += 1
                    values.append((op, sympy.Derivative(operand, (var, order)), node))
                    continue
            function = self.callable(node)
            if function is not None:
                if i + 1 >= len(items) or items[i + 1][0] != "implicit":
                    raise self.fail(f"function {function[0]} needs an argument", node)
                if function[2] == 1 and not _is_call_argument(items[i + 1][1]):
                    # \log 2n is log(2n): the argument runs over the juxtaposed factors
                    j = i + 1
                    while (j < len(items) and items[j][0] == "implicit"
                           and self.callable(items[j][1]) is None
                           and not (_is_frac(items[j][1]) and self.leibniz(items[j][1]))):
                        if j > i + 1 and _is_bigop(items[j][1]):
                            raise self.fail(f"ambiguous: write {function[0]}(..) followed by "
                                            r"the \sum, or the whole argument in parentheses",
                                            items[j][1])
                        j += 1
                    arg = self.product([("first", items[i + 1][1])] + items[i + 2:j])
                    values.append((op, self.call(function, node, None, arg), node))
                    i = j
                    continue
                values.append((op, self.call(function, node, items[i + 1][1]), node))
                i += 2
                continue
            name = (_applied_name(node, items[i + 1][1]) if i + 1 < len(items)
                    and items[i + 1][0] == "implicit" else None)
            if name is not None and name in self.functions:
                unknown = (name, sympy.Function(name), None, None, None)
                values.append((op, self.call(unknown, node, items[i + 1][1]), node))
                i += 2
                continue
            if op == "implicit" and _is_bare_number(node):
                raise self.fail(r"a number written right after a factor is ambiguous; "
                                r"use \cdot", node)
            values.append((op, self.build(node), node))
            i += 1
        # 2. fold left to right
        result = values[0][1]
        previous = "first"
        for op, value, node in values[1:]:
            if op == "implicit" and previous in ("/", r"\div", r"\bmod", r"\mod"):
                raise self.fail(f"'{previous} ... ' followed by a product is ambiguous; use "
                                r"\frac{..}{..} or parentheses", node)
            if op in ("/", r"\div"):
                result = self.divide(result, value, node)
            elif op in (r"\bmod", r"\mod"):
                if previous in (r"\bmod", r"\mod"):
                    raise self.fail(r"'a \bmod b \bmod c' is ambiguous; write parentheses", node)
                if value == 0:
                    raise self.fail("modulo zero", node)
                self.divides_by(value)
                result = sympy.Mod(result, value)
            else:
                result = result * value
            previous = op
        return result

    def callable(self, node: Any) -> tuple[str, Any, int | None, Any, Any] | None:
        """(name, builder, arity, log base node, power) when ``node`` is a function to
        apply; ``power`` is n of ``\\sin^{n} x`` (the n-th power of the value), else None."""
        from lark import Tree

        if not isinstance(node, Tree):
            return None
        base = power = None
        head = node
        if node.data == "script":
            markers = [str(m) for m in node.children[1::2]]
            head = node.children[0]
            if not isinstance(head, Tree) or head.data not in ("func", "name"):
                return None
            if head.data == "name" and self.callable(head) is None:
                return None      # a name with scripts, not a function
            if markers == ["^"]:
                power = self.function_power(node.children[2])
            elif markers != ["_"]:
                raise self.fail("a function may carry a subscript (a logarithm's base) or a "
                                r"power (\sin^{2} x), not both", node)
            else:
                base = node.children[2]
        if head.data == "func":
            name = str(head.children[0])[1:]
        elif head.data == "name":
            name = _name_of_command(str(head.children[0]))
            if name not in _MATH_FUNCTIONS and name not in _engine_functions():
                return None     # an unknown function (\operatorname{softmax}(x)) or a name
        else:
            return None
        if base is not None and name not in ("log",):
            raise self.fail(f"function {name} takes no subscript", node)
        if name in _MATH_FUNCTIONS:
            builder, arity = _MATH_FUNCTIONS[name]
        else:
            builder, arity = None, None
        return name, builder, arity, base, power

    def function_power(self, node: Any) -> Any:
        """n of ``\\sin^{n} x``: a positive whole number (``\\sin^{-1}`` is the inverse
        function, not a power, and is refused)."""
        value = self.build(node)
        if not (value.is_Integer and value >= 1):
            raise self.fail(r"a power written on a function name must be a positive whole "
                            r"number (\sin^{2} x is (\sin x)^2); write \arcsin or "
                            r"(\sin x)^{-1} instead", node)
        return value

    def call(self, function: tuple[str, Any, int | None, Any, Any], fnode: Any, arg: Any,
             built: Any = None) -> Any:
        value = self.call_value(function[:4], fnode, arg, built)
        return value if function[4] is None else self.power(value, function[4], fnode)

    def call_value(self, function: tuple[str, Any, int | None, Any], fnode: Any, arg: Any,
                   built: Any = None) -> Any:
        from lark import Tree

        name, builder, arity, base = function
        power = None
        arg = _brace_paren(arg)
        if built is not None:
            args = [built]
            if base is not None:
                args = args + [self.build(_subarg_node(base))]
            try:
                return builder(*args)
            except Exception as exc:  # a SymPy refusal of these arguments is bad input
                raise self.fail(f"wrong arguments for {name}: {exc}", fnode) from None
        if isinstance(arg, Tree) and arg.data == "script" and isinstance(
                arg.children[0], Tree) and arg.children[0].data == "paren":
            markers = [str(m) for m in arg.children[1::2]]
            if markers != ["^"]:
                raise self.fail("only a power may follow a function's parentheses", arg)
            power = self.build(arg.children[2])
            arg = arg.children[0]
        if isinstance(arg, Tree) and arg.data == "paren":
            args = self.arglist(arg.children[1])
        elif arity == 1:
            args = [self.build(arg)]
        elif arity == 2 and builder is not None:
            raise self.fail(f"function {name} needs its arguments in parentheses", arg)
        else:
            raise self.fail(f"function {name} needs its arguments in parentheses", arg)
        if builder is None:
            value = self.engine_call(name, args, fnode)
        else:
            if base is not None:
                args = args + [self.build(_subarg_node(base))]
            if name == "binomial" and any(a.is_number and abs(a) > MAX_BINOMIAL for a in args):
                raise self.fail(f"binomial argument larger than {MAX_BINOMIAL}", fnode)
            if name == "mod" and len(args) == 2 and args[1] == 0:
                raise self.fail("modulo zero", fnode)
            if arity == 2 and len(args) != 2:
                raise self.fail(f"function {name} takes two arguments", fnode)
            try:
                value = builder(*args)
            except Exception as exc:  # a SymPy refusal of these arguments is bad input
                raise self.fail(f"wrong arguments for {name}: {exc}", fnode) from None
        return value if power is None else self.power(value, power, fnode)

    def engine_call(self, name: str, args: list[Any], node: Any) -> Any:
        module, attr = _engine_functions()[name]
        try:
            func = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            raise self.fail(f"the engine quantity {name} is not available in this build",
                            node) from None
        try:
            return func(*args)
        except TypeError as exc:
            raise self.fail(f"wrong arguments for {name}: {exc}", node) from None
        except ConfigurationError as exc:
            raise self.fail(f"{name}: {exc}", node) from None

    # -- scripts -----------------------------------------------------------------------
    def _script(self, node: Any) -> Any:
        from lark import Tree

        head = node.children[0]
        sub = sup = None
        for marker, arg in zip(node.children[1::2], node.children[2::2]):
            if marker.type == "SUB":
                if sub is not None:
                    raise self.fail("double subscript", marker)
                sub = arg
            else:
                if sup is not None:
                    raise self.fail("double superscript", marker)
                sup = arg
        if isinstance(head, Tree) and head.data == "func":
            raise self.fail(f"function {head.children[0]} needs an argument", head)
        if sub is None:
            value = self.build(head)
        else:
            base = _base_name(head)
            if base is None or (head.data == "name" and self.callable(head) is not None):
                raise self.fail("only a letter or a name can carry a subscript", sub)
            if not _IDENT.match(base):
                raise self.fail(f"{base!r} is not a quantity name", head)
            value = self.subscripted(base, sub)
        if sup is None:
            return value
        if isinstance(sup, Tree) and sup.data == "number" and len(sup.children[0]) > 1:
            raise self.fail("LaTeX raises only the first digit; write the exponent in braces, "
                            "as in x^{23}", sup)
        return self.power(value, self.build(sup), sup)

    def subscripted(self, base: str, sub: Any) -> Any:
        kind, data = _classify_subscript(sub)
        if kind == "literal":
            if len(data) > 1 and len(sub.children) == 1:
                raise self.fail("LaTeX takes only the first digit as the subscript; write "
                                f"{base}_{{{data}}}", sub)
            if base in self.indexed:
                return sympy.IndexedBase(base)[sympy.Integer(str(data))]
            return self.symbol(f"{base}_{data}")
        if kind == "name":
            suffix, from_letters = data
            if not _IDENT.match(suffix) and not suffix.isdigit():
                raise self.fail(f"subscript {suffix!r} is not a name", sub)
            if from_letters:
                clash = [ch for ch in suffix if ch in self.bound]
                if clash or base in self.indexed:
                    why = (f"'{clash[0]}' is a summation variable here" if clash else
                           f"'{base}' is indexed elsewhere")
                    raise self.fail(f"subscript {base}_{{{suffix}}} is ambiguous ({why}): "
                                    f"write {base}_{{{','.join(suffix)}}} for separate indices "
                                    rf"or {base}_{{\text{{{suffix}}}}} for a name", sub)
            return self.symbol(f"{base}_{suffix}")
        indices = [self.build(n) for n in data]
        return sympy.IndexedBase(base)[tuple(indices)]

    def power(self, base: Any, exp: Any, node: Any) -> Any:
        if exp.is_number and exp.is_Integer:
            if abs(int(exp)) > MAX_INT_BITS:
                raise self.fail("exponent too large", node)
            if base.is_number and base.is_Rational:
                size = max(1, int(abs(base.p)).bit_length(), int(base.q).bit_length())
                if abs(base) not in (0, 1) and abs(int(exp)) * size > MAX_INT_BITS:
                    raise self.fail("constant power too large to evaluate", node)
        if base == 0 and exp.is_number and exp.is_negative:
            raise self.fail("division by zero", node)
        return sympy.Pow(base, exp)

    # -- sums and products over an index -----------------------------------------------
    def _bigop_lohi(self, node: Any) -> Any:
        ch = node.children
        return self.bigop(ch[0], var=ch[3], rel=ch[4], lower=ch[5], upper=ch[8], body=ch[9])

    def _bigop_hilo(self, node: Any) -> Any:
        ch = node.children
        return self.bigop(ch[0], var=ch[5], rel=ch[6], lower=ch[7], upper=ch[2], body=ch[9])

    def bigop(self, op: Any, *, var: Any, rel: Any, lower: Any, upper: Any, body: Any) -> Any:
        if str(rel) != "=":
            raise self.fail(r"the range of a sum is written \sum_{k=a}^{b}", rel)
        if any(op in (r"\bmod", r"\mod") for op, _ in _flatten(body)):
            raise self.fail(r"'\bmod' after a sum's body is ambiguous: write "
                            r"\left(\sum ...\right) \bmod m for the remainder of the sum, or "
                            r"\sum \left(... \bmod m\right) for a sum of remainders", op)
        lo, hi = self.build(lower), self.build(upper)
        name = str(var)
        index = sympy.Symbol(name, integer=True)
        saved = dict(self.bound)
        self.bound[name] = index
        try:
            value = self.build(body)
        finally:
            self.bound = saved
        kind = sympy.Sum if str(op).startswith(r"\sum") else sympy.Product
        return kind(value, (index, lo, hi))


def _unwrap(node: Any) -> Any:
    from lark import Tree

    while isinstance(node, Tree) and node.data == "group":
        node = node.children[1]
    return node


def _flatten(node: Any) -> list[tuple[str, Any]]:
    """The factors of a product node as (operator, node), the first with ``"first"``."""
    from lark import Tree

    items: list[tuple[str, Any]] = []
    while isinstance(node, Tree) and _family(node.data) == "product":
        op = "implicit" if node.data == "implicit" else str(node.children[1])
        items.append((op, node.children[-1]))
        node = node.children[0]
    items.append(("first", node))
    items.reverse()
    return items


def _differential(node: Any) -> tuple[str | None, int]:
    """("d", order) for the letter d (or d^n), ("operator", order) for \\partial or
    \\mathrm{d}, (None, 1) for anything else."""
    from lark import Tree

    order = 1
    if (isinstance(node, Tree) and node.data == "script"
            and [str(m) for m in node.children[1::2]] == ["^"]):
        sup = node.children[2]
        if not (isinstance(sup, Tree) and sup.data == "number" and sup.children[0].isdigit()):
            return None, 1
        order = int(sup.children[0])
        node = node.children[0]
    if isinstance(node, Tree) and node.data == "diff":
        return "operator", order
    if isinstance(node, Tree) and node.data == "letter" and str(node.children[0]) == "d":
        return "d", order
    return None, 1


def _is_dots(node: Any) -> bool:
    from lark import Tree

    node = _unwrap(node)
    return isinstance(node, Tree) and node.data == "dots"


def _is_bigop(node: Any) -> bool:
    from lark import Tree

    return isinstance(node, Tree) and node.data.startswith("bigop")


def _is_frac(node: Any) -> bool:
    from lark import Tree

    return isinstance(node, Tree) and node.data == "frac"


def _brace_paren(node: Any) -> Any:
    """``{( .. )}`` -> ``( .. )``; anything else unchanged."""
    from lark import Tree

    inner = _unwrap(node)
    if isinstance(inner, Tree) and inner.data == "paren":
        return inner
    return node


def _is_call_argument(node: Any) -> bool:
    """``( .. )`` or ``( .. )^n`` right after a function (also in braces, as SymPy prints
    ``\\sigma{\\left(x \\right)}``)."""
    from lark import Tree

    node = _brace_paren(node)
    if isinstance(node, Tree) and node.data == "script" and isinstance(
            node.children[0], Tree) and node.children[0].data == "paren":
        return True
    return isinstance(node, Tree) and node.data == "paren"




def _is_text_command(tok: Any) -> bool:
    return re.match(r"\\text(?:rm|it|sf|bf)?\s*\{", str(tok)) is not None


def _raw_content(token: str) -> str:
    m = _NAME_CONTENT.match(token)
    return (m.group(2) if m else "").replace(r"\_", "_")


def _is_remark(node: Any) -> bool:
    from lark import Tree

    return isinstance(node, Tree) and node.data == "name" and _is_text_command(node.children[0])


# Single Latin letters that are functions when applied to parentheses (other letters
# followed by parentheses are products, as in D(K-1) and a(b+c)).
_FUNCTION_LETTERS = frozenset("fgh")


def _applied_name(left: Any, right: Any, lone: bool = False) -> str | None:
    """The function name when ``left right`` is an application: ``right`` is ``( .. )`` and
    ``left`` a function name (f, g, h only outside a lone formula), or ``right`` is SymPy's
    braced ``{\\left( .. \\right)}`` and ``left`` any letter or name."""
    from lark import Tree

    if not _is_call_argument(right):
        return None
    inner = right.children[0] if (isinstance(right, Tree) and right.data == "script") else right
    braced = isinstance(inner, Tree) and inner.data == "group"
    if braced and isinstance(left, Tree) and left.data == "letter":
        return str(left.children[0])
    return _function_name(left, letters=not lone)


def _function_name(node: Any, letters: bool = True) -> str | None:
    """The name of a node that is a function when parentheses follow it: a Greek letter,
    f, g or h, or a multi-letter \\mathrm/\\text name that is not a known function."""
    from lark import Tree

    if not isinstance(node, Tree):
        return None
    if node.data == "greek":
        name = str(node.children[0])[1:]
        return _GREEK_ALIASES.get(name, name)
    if node.data == "letter" and letters and str(node.children[0]) in _FUNCTION_LETTERS:
        return str(node.children[0])
    if node.data == "name":
        name = _name_of_command(str(node.children[0]))
        if (len(name) > 1 and _IDENT.match(name) and name not in _MATH_FUNCTIONS
                and name not in _engine_functions()):
            return name
    return None


def _function_uses(doc: "_Document", trees: list[tuple[Any, int]], lone: bool) -> set[str]:
    """Names applied to parentheses somewhere in the document (unknown functions).  A name
    both applied and used alone is refused as ambiguous.  In a lone formula without a
    relation (nothing is checked), f, g and h keep the product reading."""
    from lark import Tree

    applied: dict[str, tuple[Any, int]] = {}
    heads: set[int] = set()
    for tree, start in trees:
        for node in tree.iter_subtrees():
            if node.data == "implicit":
                left = node.children[0]
                if isinstance(left, Tree) and _family(left.data) == "product":
                    left = left.children[-1]
                name = _applied_name(left, node.children[1], lone)
                if name is not None:
                    applied.setdefault(name, (left, start))
                    heads.add(id(left))
            elif node.data == "script" and any(str(m) == "_" for m in node.children[1::2]):
                heads.add(id(node.children[0]))
    if not applied:
        return set()
    for tree, start in trees:
        for node in tree.iter_subtrees():
            if id(node) in heads:
                continue
            name = _function_name(node) if node.data != "letter" else (
                str(node.children[0]) if str(node.children[0]) in applied else None)
            if name in applied:
                where, offset = applied[name]
                shown = " ".join(doc.text[offset + _start(where):offset + _end(where)].split())
                raise doc.error(f"'{shown}' is ambiguous: it is applied to an argument here and "
                                f"used as a quantity at line {doc.position(offset + _start(node))[0]}, "
                                f"column {doc.position(offset + _start(node))[1]}; "
                                f"write {shown} \\cdot (...) for a product, or use {shown} only "
                                f"as a function, {shown}(...)", offset + _start(where))
    return set(applied)


def _subarg_node(subarg: Any) -> Any:
    """The expression node inside a subscript argument (for a logarithm's base)."""
    children = subarg.children
    if len(children) == 1:
        return children[0]
    exprs = [c for c in children[1].children if getattr(c, "type", None) != "COMMA"]
    return exprs[0]


def _is_bare_number(node: Any) -> bool:
    from lark import Token, Tree

    if isinstance(node, Token):
        return node.type == "NUMBER"
    return isinstance(node, Tree) and node.data == "number"


@lru_cache(maxsize=1)
def _engine_functions() -> dict[str, tuple[str, str]]:
    """The engine's named quantities (the same table as the plain-text claim language)."""
    try:
        from derive.check.parse import ENGINE_FUNCTIONS
    except ImportError:  # pragma: no cover - the claim language is part of the package
        return {}
    return dict(ENGINE_FUNCTIONS)
