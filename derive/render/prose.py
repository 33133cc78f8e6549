r"""Prose with inline mathematics.

Design rule: author text is data (see :mod:`derive.render.escape`), with one markup: a
segment between dollar signs is *mathematics in the claim language* (``$x_pad$``,
``$S*i + D*u$``, ``$H*W$``, ``$Sum(w[u]*x[i + u], (u, 0, K - 1))$``, ``$k <= K - 1$``). It is
parsed as written (nothing is simplified) and typeset by the project's printer, so prose
can never show program notation: ``x_pad`` reads :math:`x_{\mathrm{pad}}`, and a typo in
the maths is a build error naming the text, not a garbled page.  ``\$`` is a literal dollar.

>>> prose_latex("the window $S*i + D*u$ moves by $S$")
'the window $D u + S i$ moves by $S$'
>>> prose_markdown("a cost of $H*W$ & more")
'a cost of $H W$ \\& more'
"""

from __future__ import annotations

import functools
import re
from typing import Any

from derive.errors import InputError

# $...$ segments; "\$" is a literal dollar sign and never opens or closes one.
_MATH = re.compile(r"(?<!\\)\$(.+?)(?<!\\)\$", re.S)

_POWER_OF_TEN = re.compile(r"(?:(\d+(?:\.\d+)?)\s*\*\s*)?10\s*\*\*\s*\(?\s*(-?\d+)\s*\)?")

_RELATIONS = {"==": "=", "!=": r"\neq", "<": "<", "<=": r"\leq", ">": ">", ">=": r"\geq"}


def split(text: str) -> list[tuple[bool, str]]:
    """``text`` as ``(is_math, piece)`` pairs, in order; an unmatched dollar sign is an
    :class:`~derive.errors.InputError`.

    >>> split("a $x$ b")
    [(False, 'a '), (True, 'x'), (False, ' b')]
    """
    out: list[tuple[bool, str]] = []
    pos = 0
    for m in _MATH.finditer(text):
        if m.start() > pos:
            out.append((False, text[pos:m.start()]))
        out.append((True, m.group(1)))
        pos = m.end()
    rest = text[pos:]
    if re.search(r"(?<!\\)\$", rest):
        raise InputError(f"unmatched '$' in the text {_clip(text)!r}: inline mathematics "
                         f"is written between two dollar signs (a literal dollar is \\$)")
    if rest:
        out.append((False, rest))
    return [(m, p.replace("\\$", "$") if not m else p) for m, p in out]


@functools.lru_cache(maxsize=4096)
def math_tex(source: str) -> str:
    r"""The LaTeX of one inline formula in the claim language, as written.

    >>> math_tex("x_pad"), math_tex("k <= K - 1"), math_tex("x/x"), math_tex("H = 32")
    ('x_{\\mathrm{pad}}', 'k \\leq K - 1', '\\frac{x}{x}', 'H = 32')
    """
    import sympy

    from derive.check.parse import parse_relation
    power = _POWER_OF_TEN.fullmatch(source.strip())
    if power:  # SymPy evaluates numeric powers even unevaluated: a tolerance stays 10^{-12}
        mant, exp = power.groups()
        return (f"{mant} \\cdot " if mant else "") + f"10^{{{exp}}}"
    from derive.errors import ParseError
    from derive.render.printer import to_latex
    if "<-" in source.replace(" ", ""):
        # Python would read "R <- R + 1" as the comparison R < -R + 1
        raise InputError(f"cannot read the inline mathematics ${source}$: an update "
                         f"'<-' is not mathematics; say it in words (R grows by ...)")
    # Prose writes "H = 32" for the claim language's "H == 32".
    relation = re.sub(r"(?<![=<>!])=(?!=)", "==", source)
    try:
        try:
            with sympy.evaluate(False):
                operands, ops = parse_relation(relation)
            operands = [_tidy(o) for o in operands]
        except ParseError:
            raise
        except Exception:  # SymPy cannot build some functions unevaluated: build them
            operands, ops = parse_relation(relation)
    except ParseError as exc:
        raise InputError(f"cannot read the inline mathematics ${source}$: {exc}") from None
    out = to_latex(operands[0])
    for op, operand in zip(ops, operands[1:]):
        out += f" {_RELATIONS[op]} {to_latex(operand)}"
    return out


def _tidy(expr: Any) -> Any:
    """An unevaluated product as a reader writes it: nested products flattened, factors of
    1 dropped (``1/x`` is built as ``1 * x**-1``), a factor -1 first (printed as a sign)."""
    import sympy
    if not isinstance(expr, sympy.Basic) or not expr.args:
        return expr
    args = [_tidy(a) for a in expr.args]
    if isinstance(expr, sympy.Mul):
        flat: list[Any] = []
        for a in args:
            flat.extend(a.args if isinstance(a, sympy.Mul) else [a])
        negative = sum(1 for a in flat if a == -1) % 2 == 1
        rest = [a for a in flat if a not in (1, -1)]
        if not rest:
            return sympy.Integer(-1 if negative else 1)
        body = rest[0] if len(rest) == 1 else sympy.Mul(*rest, evaluate=False)
        return sympy.Mul(-1, body, evaluate=False) if negative else body
    try:
        return expr.func(*args, evaluate=False)
    except TypeError:
        return expr.func(*args)


def prose_latex(text: str) -> str:
    """Author text as LaTeX: prose escaped, ``$...$`` typeset."""
    from derive.render.escape import escape_latex
    return "".join(f"${math_tex(p)}$" if m else escape_latex(p) for m, p in split(text))


def prose_latex_paragraphs(text: str) -> str:
    """Like :func:`prose_latex`, blank lines kept as paragraph breaks."""
    paras = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(prose_latex(" ".join(p.split())) for p in paras)


def prose_markdown(text: str, *, in_table: bool = False) -> str:
    """Author text as Markdown: prose escaped, ``$...$`` typeset."""
    from derive.render.escape import escape_markdown
    from derive.render.markdown import inline
    return "".join(inline(math_tex(p), in_table=in_table) if m else escape_markdown(p)
                   for m, p in split(text))


def prose_markdown_paragraphs(text: str) -> str:
    """Like :func:`prose_markdown`, blank lines kept as paragraph breaks."""
    paras = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(prose_markdown(" ".join(p.split())) for p in paras)


def plain(text: str) -> str:
    """Author text for a terminal: the maths as written, without dollar signs.

    >>> plain("cost $H*W$")
    'cost H*W'
    """
    return "".join(p for _m, p in split(text))


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


# The engine's own notes (how a line was checked, counterexamples) are written for a
# terminal; on a page their operators read as symbols and their formulas as maths.
_E_NUMBER = re.compile(r"\b(\d+(?:\.\d+)?)e([-+]?)0*(\d+)\b")
_FORMULA = re.compile(
    r"(?<![\w$\\])(?:[A-Za-z]\w*\[[^\]]+\]|[A-Za-z0-9]\w*(?:'|\b))"
    r"(?:\s*(?:\*\*|\*|/)\s*(?:[A-Za-z]\w*\[[^\]]+\]|\w+'?|\([^()]*\)))+"
    r"|(?<![\w$\\])[A-Za-z]\w*\[[^\]]+\]"
    r"|(?<![\w$\\])[A-Za-z]+_[A-Za-z0-9]+\b")
_WORDS = {"<=": "≤", ">=": "≥", "!=": "≠", "==": "=", "KroneckerDelta": "Kronecker delta",
          "Piecewise": "piecewise", "->": "→"}


def engine_note(text: str) -> str:
    r"""An engine note as prose with ``$...$`` maths: formulas typeset, ``<=`` as ≤,
    ``1e-12`` as a power of ten; anything that does not read as a formula stays text.

    >>> engine_note("sizes <= 2; agree to within 1e-12; weight W_in[k]*x[i + k]")
    'sizes ≤ 2; agree to within $10**(-12)$; weight $W_in[k]*x[i + k]$'
    """
    text = text.replace("$", r"\$")

    def number(m: re.Match) -> str:
        mant, sign, exp = m.group(1), m.group(2), m.group(3)
        power = f"10**({'-' if sign == '-' else ''}{exp})"
        return f"${power}$" if mant in ("1", "1.0") else f"${mant}*{power}$"

    text = _E_NUMBER.sub(number, text)

    def formula(m: re.Match) -> str:
        src = m.group(0)
        try:
            math_tex(src)
        except Exception:  # not a formula after all: leave the words alone
            return src.replace("**", "^").replace("*", "×")
        return f"${src}$"

    pieces = split(text)
    out = []
    for is_math, piece in pieces:
        if is_math:
            out.append(f"${piece}$")
            continue
        for word, shown in _WORDS.items():
            piece = piece.replace(word, shown)
        out.append(_FORMULA.sub(formula, piece.replace("$", r"\$")))
    return "".join(out)
