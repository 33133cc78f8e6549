"""How the book typesets mathematics: one SymPy ``LatexPrinter`` subclass, one notation table.

Design rule: every notational decision (floor and ceiling brackets, how a stride, a dilation,
an effective kernel or a flipped kernel is written, how a Toeplitz block is named, indexed
quantities as subscripts) lives in :data:`NOTATION` below.  The printer methods only look
the table up and recurse through ``self._print``; they hold no notation of their own, and no
other module builds mathematics by string concatenation.

>>> import sympy
>>> from derive.symbols import sym
>>> H, K, S, P = sym("H"), sym("K"), sym("S"), sym("P")
>>> to_latex(sympy.floor((H + 2*P - K) / S) + 1)
'\\\\left\\\\lfloor \\\\frac{H + 2 P - K}{S} \\\\right\\\\rfloor + 1'
"""

from __future__ import annotations

import re

from fractions import Fraction
from typing import Any

import sympy
from sympy.printing.latex import LatexPrinter, greek_letters_set

from derive.render.escape import escape_latex

# --------------------------------------------------------------------------------------------
# The notation table.  Keys are looked up by the printer; values are LaTeX templates whose
# ``{0}``, ``{1}``, ... are the printed arguments (``{{`` and ``}}`` are literal braces).
# --------------------------------------------------------------------------------------------
NOTATION: dict[str, dict[str, str]] = {
    # Applied functions (SymPy classes or undefined functions, by name).
    "functions": {
        "floor": r"\left\lfloor {0} \right\rfloor",
        "ceiling": r"\left\lceil {0} \right\rceil",
        # A kernel read backwards (the flip of the input gradient), 1D or both axes in 2D.
        "flip": r"\overleftarrow{{{0}}}",
        "rot180": r"\operatorname{{rot}}_{{180}}\left({0}\right)",
        # Toeplitz (convolution-matrix) views of a kernel; a block of a block-Toeplitz matrix.
        "Toeplitz": r"\mathbf{{T}}\!\left[{0}\right]",
        "toeplitz": r"\mathbf{{T}}\!\left[{0}\right]",
        "ToeplitzBlock": r"\mathbf{{T}}_{{{1}}}\!\left[{0}\right]",
        "im2col": r"\operatorname{{im2col}}\left({0}\right)",
        # Effective kernel of a dilated kernel, and the stride/dilation operators.
        "keff": r"K_{{\mathrm{{eff}}}}\left({0}, {1}\right)",
        "strided": r"{0}\!\downarrow_{{{1}}}",
        "dilated": r"{0}\!\uparrow^{{{1}}}",
        "relu": r"\operatorname{{ReLU}}\left({0}\right)",
        # window_max(expr, u, last_u, v, last_v): the largest value of expr over a 2D window
        # of taps 0 <= u <= last_u, 0 <= v <= last_v (max pooling)
        "window_max": r"\max_{{\substack{{0 \leq {1} \leq {2}\\0 \leq {3} \leq {4}}}}} {0}",
    },
    # Symbol names (single symbols), by exact name.
    "symbols": {
        "stride": "S",
        "dilation": "D",
        "padding": "P",
        "kernel": "K",
        "output_padding": r"P_{\mathrm{out}}",
        "op": r"P_{\mathrm{out}}",
        "K_eff": r"K_{\mathrm{eff}}",
        "RF": "R",
        "rf": "R",
    },
    # Suffixes of symbol or IndexedBase names: ``w_flip`` is the flipped kernel of ``w``.
    "suffixes": {
        "flip": r"\overleftarrow{{{0}}}",
        "T": r"{0}^{{\mathsf{{T}}}}",
    },
}


class DerivePrinter(LatexPrinter):
    """SymPy's LaTeX printer with the notation of :data:`NOTATION`.

    >>> import sympy
    >>> DerivePrinter().doprint(sympy.Symbol("H_out"))
    'H_{\\\\mathrm{out}}'
    >>> x = sympy.IndexedBase("x"); i, k = sympy.symbols("i k")
    >>> DerivePrinter().doprint(x[2*i + k])
    'x_{2 i + k}'
    """

    printmethod = "_derive_latex"

    # Constants print themselves through ``_latex`` in SymPy; with our own print method
    # name they need explicit rules.
    def _print_Pi(self, expr: Any) -> str:
        return r"\pi"

    def _print_Exp1(self, expr: Any) -> str:
        return "e"

    def _print_ImaginaryUnit(self, expr: Any) -> str:
        return "i"

    def _print_Infinity(self, expr: Any) -> str:
        return r"\infty"

    def _print_NegativeInfinity(self, expr: Any) -> str:
        return r"-\infty"

    def _print_ComplexInfinity(self, expr: Any) -> str:
        return r"\tilde{\infty}"

    def _print_NaN(self, expr: Any) -> str:
        return r"\text{NaN}"

    def _print_EulerGamma(self, expr: Any) -> str:
        return r"\gamma"
    _default_settings = {**LatexPrinter._default_settings, "mat_str": "bmatrix",
                         "mat_delim": "", "mat_symbol_style": "bold"}

    # -- functions --------------------------------------------------------------------------
    def _print_Function(self, expr: Any, exp: str | None = None) -> str:
        out = self._from_table(expr)
        if out is None:
            return super()._print_Function(expr, exp)
        return self._with_exponent(out, exp)

    def _print_floor(self, expr: Any, exp: str | None = None) -> str:
        return self._with_exponent(self._from_table(expr) or "", exp)

    _print_ceiling = _print_floor

    def _from_table(self, expr: Any) -> str | None:
        template = NOTATION["functions"].get(type(expr).__name__)
        if template is None:
            return None
        return template.format(*[self._print(a) for a in expr.args])

    @staticmethod
    def _with_exponent(out: str, exp: str | None) -> str:
        return out if exp is None else r"\left(%s\right)^{%s}" % (out, exp)

    # -- what the LaTeX reader must read back as written ---------------------------------
    def _print_Mul(self, expr: Any) -> str:
        # sigma (a + b) would read back as sigma applied to a + b: a name that can be a
        # function (Greek letters, f, g, h, words) before parentheses gets a \cdot
        out = super()._print_Mul(expr)
        if not any(isinstance(f, sympy.Symbol) and _applicable(f.name) for f in expr.args):
            return out
        return _APPLIED_LOOKING.sub(r"\1 \\cdot \\left(", out)

    def _print_Mod(self, expr: Any, exp: str | None = None) -> str:
        # operands in parentheses unless they are atoms: '1 \bmod 2 a' and '- a \bmod 2'
        # are ambiguous to a reader
        left, right = (r"\left(%s\right)" % self._print(a) if _compound(a) else self._print(a)
                       for a in expr.args)
        out = rf"{left} \bmod {right}"
        return out if exp is None else r"\left(%s\right)^{%s}" % (out, exp)

    def _print_Subs(self, subs: Any) -> str:
        expr, old, new = subs.args
        if len(old) != 1:
            return super()._print_Subs(subs)
        return r"\left. %s \right|_{%s=%s}" % (self._print(expr), self._print(old[0]),
                                                  self._print(new[0]))

    # -- symbols and indexed quantities ----------------------------------------------------
    def _print_Symbol(self, expr: Any, style: str = "plain") -> str:
        if expr in self._settings["symbol_names"]:
            return self._settings["symbol_names"][expr]
        if expr.name == "e":      # the letter e, not Euler's number
            return r"\mathit{e}"
        return self._name(expr.name)

    def _name(self, name: str) -> str:
        table = NOTATION["symbols"]
        if name in table:
            return table[name]
        if "_" in name:
            base, _, sub = name.rpartition("_")
            if sub in NOTATION["suffixes"] and base:
                return NOTATION["suffixes"][sub].format(self._name(base))
            base, _, sub = name.partition("_")
            if base and sub:
                return f"{self._name(base)}_{{{self._subscript(sub)}}}"
        if len(name) > 1 and name.isalpha() and not _is_greek(name):
            return r"\mathit{%s}" % name
        return super()._print_Symbol(sympy.Symbol(name))

    def _subscript(self, sub: str) -> str:
        if "_" in sub:  # several levels: H_out_l -> H_{out, l}
            return ", ".join(self._subscript(s) for s in sub.split("_") if s)
        if sub.isalpha() and len(sub) > 1 and not _is_greek(sub):
            return r"\mathrm{%s}" % sub
        return super()._print_Symbol(sympy.Symbol(sub))

    def _print_IndexedBase(self, expr: Any) -> str:
        return self._name(str(expr.label))

    def _print_Indexed(self, expr: Any) -> str:
        base = self._print(expr.base)
        indices = ", ".join(self._print(i) for i in expr.indices)
        if "_" in base or "^" in base:  # already subscripted: index in brackets
            return r"%s\left[%s\right]" % (base, indices)
        return f"{base}_{{{indices}}}"

    def _print_MatrixSymbol(self, expr: Any) -> str:
        name = self._name(expr.name)
        head, sep, rest = name.partition("_")
        return r"\mathbf{%s}%s%s" % (head, sep, rest)

    # -- sums: positive terms first (H + 2P - K rather than H - K + 2P) ---------------------
    def _as_ordered_terms(self, expr: Any, order: str | None = None) -> list[Any]:
        terms = super()._as_ordered_terms(expr, order=order)
        if not isinstance(expr, sympy.Add):
            return terms
        terms = sorted(terms, key=lambda t: (bool(t.is_number), _negative(t)))
        if _negative(terms[0]):  # never open with a minus when a positive term exists
            first = next((i for i, t in enumerate(terms) if not _negative(t)), 0)
            terms.insert(0, terms.pop(first))
        return terms


def _negative(term: Any) -> bool:
    coeff = term.as_coeff_Mul()[0]
    return bool(coeff.is_number and coeff.is_negative)


def _applicable(name: str) -> bool:
    """A name that the LaTeX reader applies to parentheses that follow it."""
    return _is_greek(name) or name in ("f", "g", "h") or (
        len(name) > 1 and name.isalnum() and "_" not in name)


def _compound(value: Any) -> bool:
    """An operand of \\bmod that needs parentheses: sums, products, remainders, signs and
    fractions (floors, powers and names are delimited already)."""
    return (isinstance(value, (sympy.Add, sympy.Mul, sympy.Mod))
            or (value.is_number and not (value.is_Integer and value >= 0))
            or value.could_extract_minus_sign())


# a function-like name (\sigma, f, \mathit{size}) followed by a parenthesised factor
_APPLIED_LOOKING = re.compile(
    r"((?<![\\\w])[fgh]|\\mathit\{[A-Za-z0-9]{2,}\}|\\(?:%s)(?![A-Za-z])) \\left\("
    % "|".join(sorted(greek_letters_set | {"lambda", "Lambda"}, key=len, reverse=True)))


def _is_greek(name: str) -> bool:
    from sympy.printing.latex import greek_letters_set
    return name.lower() in greek_letters_set or name in ("lamda", "Lamda")


_PRINTER: DerivePrinter | None = None


def to_latex(value: Any) -> str:
    """LaTeX maths for an engine value (SymPy object, number, tuple, array or text).

    >>> to_latex((1, 64, 16, 16))
    '\\\\left(1, 64, 16, 16\\\\right)'
    >>> to_latex(0.125)
    '0.125'
    >>> to_latex("C_in")
    '\\\\text{C\\\\_in}'
    """
    global _PRINTER
    if _PRINTER is None:
        _PRINTER = DerivePrinter()
    return _value(value, _PRINTER)


def _value(value: Any, printer: DerivePrinter) -> str:
    if isinstance(value, bool):
        return r"\text{%s}" % ("true" if value else "false")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # also NumPy's float64, a float subclass
        return _float(float(value))
    if isinstance(value, Fraction):
        return printer.doprint(sympy.Rational(value.numerator, value.denominator))
    if isinstance(value, str):
        return r"\text{%s}" % escape_latex(value)
    if isinstance(value, (tuple, list)):
        return r"\left(%s\right)" % ", ".join(_value(v, printer) for v in value)
    if type(value).__module__ == "numpy":
        import numpy as np
        arr = np.asarray(value)
        if arr.ndim == 0:
            return _value(arr.item(), printer)
        if arr.ndim <= 2:
            rows = arr.reshape(1, -1) if arr.ndim == 1 else arr
            return r"\begin{bmatrix}%s\end{bmatrix}" % r" \\ ".join(
                " & ".join(_value(x.item() if hasattr(x, "item") else x, printer) for x in r)
                for r in rows)
        return r"\text{array of shape }%s" % _value(tuple(arr.shape), printer)
    if isinstance(value, (sympy.Basic, sympy.MatrixBase)) or hasattr(value, "_sympy_"):
        return printer.doprint(value)
    return r"\text{%s}" % escape_latex(str(value))


def _float(x: float) -> str:
    """Shortest round-trip form when short, else 6 significant digits; powers of ten
    written as such.

    >>> _float(0.25), _float(0.4986805555555556), _float(3e-12)
    ('0.25', '0.498681', '3 \\\\times 10^{-12}')
    """
    text = repr(x)
    if len(text) > 10 and text not in ("inf", "-inf", "nan"):
        text = f"{x:.6g}"
    if text in ("inf", "-inf", "nan"):
        return {"inf": r"\infty", "-inf": r"-\infty", "nan": r"\mathrm{NaN}"}[text]
    if "e" in text:
        mant, _, expo = text.partition("e")
        return r"%s \times 10^{%d}" % (mant, int(expo))
    return text
