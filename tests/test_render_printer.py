"""The printer: our notation, from one table."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from derive.render import printer
from derive.render.printer import NOTATION, DerivePrinter, to_latex
from derive.symbols import sym

H, K, S, P, D = (sym(n) for n in "HKSPD")


def test_floor_and_ceiling_brackets() -> None:
    assert to_latex(sympy.floor(H / S)) == r"\left\lfloor \frac{H}{S} \right\rfloor"
    assert to_latex(sympy.ceiling(H / S)) == r"\left\lceil \frac{H}{S} \right\rceil"
    assert to_latex(sympy.floor(H / S) ** 2) == (
        r"\left(\left\lfloor \frac{H}{S} \right\rfloor\right)^{2}")


def test_output_size_rule_reads_in_the_usual_order() -> None:
    expr = sympy.floor((H + 2 * P - D * (K - 1) - 1) / S) + 1
    assert to_latex(expr) == (r"\left\lfloor \frac{H + 2 P - D \left(K - 1\right) - 1}{S} "
                              r"\right\rfloor + 1")
    assert to_latex(1 - K) == "1 - K"
    assert to_latex(-H - K) == "- H - K"


def test_indexed_as_subscripts_and_flipped_kernel() -> None:
    x, w = sympy.IndexedBase("x"), sympy.IndexedBase("w_flip")
    i, k = sympy.symbols("i k", integer=True)
    assert to_latex(x[S * i + D * k]) == "x_{D k + S i}"
    assert to_latex(w[k]) == r"\overleftarrow{w}_{k}"
    assert to_latex(sympy.IndexedBase("x_pad")[k + 1]) == r"x_{\mathrm{pad}}\left[k + 1\right]"
    assert to_latex(sympy.Function("flip")(sympy.Symbol("w"))) == r"\overleftarrow{w}"
    assert to_latex(sympy.IndexedBase("X")[i, k]) == "X_{i, k}"


def test_symbol_names() -> None:
    assert to_latex(sympy.Symbol("H_out")) == r"H_{\mathrm{out}}"
    assert to_latex(sympy.Symbol("C_in")) == r"C_{\mathrm{in}}"
    assert to_latex(sympy.Symbol("K_eff")) == r"K_{\mathrm{eff}}"
    assert to_latex(sympy.Symbol("S_1")) == "S_{1}"
    assert to_latex(sympy.Symbol("alpha")) == r"\alpha"
    assert to_latex(sympy.Symbol("stride")) == "S"
    assert to_latex(sympy.Symbol("Hout")) == r"\mathit{Hout}"


def test_toeplitz_and_matrices() -> None:
    w = sympy.Symbol("w")
    assert to_latex(sympy.Function("Toeplitz")(w)) == r"\mathbf{T}\!\left[w\right]"
    assert to_latex(sympy.Function("ToeplitzBlock")(w, 2)) == r"\mathbf{T}_{2}\!\left[w\right]"
    assert to_latex(sympy.Matrix([[1, 2], [3, 4]])) == (
        r"\begin{bmatrix}1 & 2\\3 & 4\end{bmatrix}")
    assert to_latex(sympy.MatrixSymbol("T_1", 2, 2)) == r"\mathbf{T}_{1}"


def test_notation_lives_in_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(NOTATION["functions"], "floor", r"\operatorname{{fl}}({0})")
    assert DerivePrinter().doprint(sympy.floor(H / S)) == r"\operatorname{fl}(\frac{H}{S})"
    monkeypatch.setitem(NOTATION["symbols"], "H_out", "Z")
    assert DerivePrinter().doprint(sympy.Symbol("H_out")) == "Z"


@pytest.mark.parametrize("value, tex", [
    (32, "32"),
    (True, r"\text{true}"),
    (0.5, "0.5"),
    (1e-12, r"1 \times 10^{-12}"),
    (2.5e20, r"2.5 \times 10^{20}"),
    (float("inf"), r"\infty"),
    ((1, 64, 16, 16), r"\left(1, 64, 16, 16\right)"),
    ("C_in & more", r"\text{C\_in \& more}"),
    (sympy.Rational(2, 3), r"\frac{2}{3}"),
])
def test_plain_values(value: object, tex: str) -> None:
    assert to_latex(value) == tex


def test_numpy_values() -> None:
    assert to_latex(np.int64(3)) == "3"
    assert to_latex(np.array([[1, 2], [3, 4]])) == r"\begin{bmatrix}1 & 2 \\ 3 & 4\end{bmatrix}"
    assert to_latex(np.zeros((2, 2, 2))) == (r"\text{array of shape }\left(2, 2, 2\right)")


def test_printer_is_reused() -> None:
    to_latex(H)
    assert isinstance(printer._PRINTER, DerivePrinter)


def test_numpy_floats_and_long_floats() -> None:
    assert to_latex(np.float64(0.5)) == "0.5"
    assert to_latex((np.float64(0.4986805555555556), 1.0)) == r"\left(0.498681, 1.0\right)"
