r"""How the LaTeX reader reads common notation, and the verdicts that follow from it.

Each construct has one reading, the conventional one, or is refused with both readings
(derive/check/latex.py's module docstring states the rules).  Every false statement below
was PROVED by an earlier reader (Leibniz notation read as a fraction, function application
as a product, an operator name taking one factor, a remark as a factor); none may be
PROVED now.
"""

from __future__ import annotations

import pytest
import sympy

from derive.check.latex import parse_latex_chain, parse_latex_claim, parse_latex_expression
from derive.check.verdict import Status
from derive.errors import ParseError
from derive.grade.report import grade_text

L = parse_latex_expression
x, y, n, a, b, m, K, i = sympy.symbols("x y n a b m K i")
w, X = sympy.IndexedBase("w"), sympy.IndexedBase("x")


def verdict(text: str, assume: str = "") -> Status:
    head = f"% assume: {assume}\n" if assume else ""
    return grade_text(head + text, fmt="latex").verdict


def never_proved(text: str, assume: str = "") -> Status | None:
    """The verdict, or None when the reader refuses the text; never PROVED."""
    try:
        status = verdict(text, assume)
    except ParseError:
        return None
    assert status is not Status.PROVED, text
    return status


# --- 1. Leibniz notation is a derivative --------------------------------------------------

@pytest.mark.parametrize("latex, expected", [
    (r"\frac{d}{dx} x^2", sympy.Derivative(x**2, x)),
    (r"\frac{d}{dx} x^2 + 1", sympy.Derivative(x**2, x) + 1),
    (r"2 \frac{d}{dx} x^2", 2 * sympy.Derivative(x**2, x)),
    (r"\frac{d}{dx} 2x", sympy.Derivative(2 * x, x)),
    (r"\frac{\mathrm{d}}{\mathrm{d}x}(x^3)", sympy.Derivative(x**3, x)),
    (r"\frac{\mathrm d}{\mathrm d x} x^3", sympy.Derivative(x**3, x)),
    (r"\frac{d(x^2)}{dx}", sympy.Derivative(x**2, x)),
    (r"\frac{d x^2}{dx}", sympy.Derivative(x**2, x)),
    (r"\frac{d^2}{dx^2} x^3", sympy.Derivative(x**3, (x, 2))),
    (r"\frac{d y}{d x}", sympy.Derivative(sympy.Function("y")(x), x)),
    (r"\frac{\mathrm{d}y}{\mathrm{d}x}", sympy.Derivative(sympy.Function("y")(x), x)),
    (r"\frac{\partial L}{\partial w_k}",
     sympy.Derivative(sympy.Function("L")(w[sympy.Symbol("k")]), w[sympy.Symbol("k")])),
    (r"\frac{\partial}{\partial w_m} \sum_{u=0}^{K-1} w_u x_{i+u}",
     sympy.Derivative(sympy.Sum(w[sympy.Symbol("u", integer=True)]
                                * X[i + sympy.Symbol("u", integer=True)],
                                (sympy.Symbol("u", integer=True), 0, K - 1)), w[m])),
])
def test_leibniz_notation_is_a_derivative(latex: str, expected) -> None:
    assert L(latex) == expected


def test_plain_d_without_the_other_half_is_the_letter_d() -> None:
    d = sympy.Symbol("d")
    assert L(r"\frac{d}{2}") == d / 2
    assert L(r"\frac{a}{dx}") == a / (d * x)


@pytest.mark.parametrize("latex, pattern", [
    (r"\frac{d}{d}", "ambiguous.*derivative.*fraction"),
    (r"\frac{dx}{d}", "ambiguous"),
    (r"\frac{d}{d x y}", "ambiguous"),
    (r"\frac{d}{dx}", "needs an expression"),
    (r"\frac{d}{dx} = 1", "needs an expression"),
    (r"\partial x", "Leibniz"),
    (r"\mathrm{d} x", "Leibniz"),
    (r"\frac{d^2}{dx} x", "orders"),
])
def test_unclear_leibniz_forms_are_refused_with_their_position(latex: str, pattern: str) -> None:
    with pytest.raises(ParseError, match=pattern) as info:
        parse_latex_chain(latex)
    assert info.value.line == 1 and info.value.column is not None


def test_derivative_verdicts() -> None:
    assert verdict(r"$$ \frac{d}{dx} x^2 = 2x $$") is Status.PROVED
    assert verdict(r"$$ \frac{d}{dx} x^2 = x $$") is Status.REFUTED
    assert verdict(r"$$\frac{\mathrm{d}}{\mathrm{d}x}(x^3) = x^2$$") is Status.REFUTED
    never_proved(r"$$\frac{dL}{dw} = \frac{L}{w}$$")
    never_proved(r"$$\frac{dy}{dx} = 2x$$")
    never_proved("\\begin{align*} y &= x^2 \\\\ \\frac{dy}{dx} &= 2x \\end{align*}")


@pytest.mark.parametrize("d", [r"\frac{d}{d w_m}", r"\frac{\partial}{\partial w_m}"])
def test_course_identity_derivative_of_a_correlation(d: str) -> None:
    text = rf"$$ {d} \sum_{{u=0}}^{{K-1}} w_u x_{{i+u}} = x_{{i+m}} $$"
    assert verdict(text, "m >= 0; m <= K - 1") is Status.PROVED
    # without the upper bound the weight may lie outside the kernel: refuted there
    assert verdict(text, "m >= 0") is Status.REFUTED


# --- 2. function application ------------------------------------------------------------

def test_function_application_reads_an_unknown_function() -> None:
    sigma, g = sympy.Function("sigma"), sympy.Function("g")
    lhs, rhs = parse_latex_claim(r"\sigma(a + b) = \sigma(a) + \sigma(b)")
    assert (lhs, rhs) == (sigma(a + b), sigma(a) + sigma(b))
    lhs, rhs = parse_latex_claim(r"g(a+b) = g(a) + g(b)")
    assert (lhs, rhs) == (g(a + b), g(a) + g(b))
    assert parse_latex_claim(r"g(x, y) = g(y, x)")[0] == g(x, y)
    assert L(r"\sigma(x)^2") == sympy.Function("sigma")(x) ** 2
    assert L(r"\mathrm{ReLU}(x)") == sympy.Max(0, x)       # the rectifier is known
    assert L(r"\operatorname{softmax}(x)") == sympy.Function("softmax")(x)
    assert L(r"f{\left(x \right)} + 1") == sympy.Function("f")(x) + 1   # SymPy's form


def test_size_letters_before_parentheses_stay_products() -> None:
    D = sympy.Symbol("D")
    assert L("D(K-1)") == D * (K - 1)
    assert L("a(b+c)") == a * (b + sympy.Symbol("c"))
    assert verdict(r"$$ D(K-1) + 1 = DK - D + 1 $$") is Status.PROVED
    assert verdict(r"$$ a(b + c) = ab + ac $$") is Status.PROVED


@pytest.mark.parametrize("text", [
    r"$$ f(x) = f x $$",
    r"$$ \lambda(x + y) = \lambda x + \lambda y $$",
    r"$$ \sigma(a) = \sigma a $$",
])
def test_a_name_applied_and_used_alone_is_refused_with_both_readings(text: str) -> None:
    with pytest.raises(ParseError, match=r"ambiguous.*\\cdot.*function"):
        parse_latex_chain(text)
    assert parse_latex_chain(r"\lambda \cdot (x + y) = \lambda x + \lambda y").exprs[0] == \
        sympy.Symbol("lambda") * (x + y)


@pytest.mark.parametrize("text", [
    r"$$\sigma(a + b) = \sigma(a) + \sigma(b)$$",
    r"$$g(a+b) = g(a) + g(b)$$",
    r"$$f(2x) = 2 f(x)$$",
    r"$$f(0) = 0$$",
    r"$$\left\lfloor \frac{f(x)}{x} \right\rfloor = \frac{f(x)}{x}$$",
])
def test_false_function_laws_are_refuted(text: str) -> None:
    assert verdict(text) is Status.REFUTED


# --- 3. operator names take the juxtaposed product ----------------------------------------

@pytest.mark.parametrize("latex, plain", [
    (r"\log 2n", sympy.log(2 * n)),
    (r"\sin 2x", sympy.sin(2 * x)),
    (r"\ln ab", sympy.log(a * b)),
    (r"\exp 2x", sympy.exp(2 * x)),
    (r"\log_2 2n", sympy.log(2 * n) / sympy.log(2)),
    (r"2 \sin x \cos x", 2 * sympy.sin(x) * sympy.cos(x)),
    (r"\sin x^2", sympy.sin(x**2)),
    (r"\log n + 1", sympy.log(n) + 1),
    (r"\log(2) n", n * sympy.log(2)),
    (r"\sin x \cdot y", y * sympy.sin(x)),
])
def test_operator_name_arguments(latex: str, plain) -> None:
    assert L(latex) == plain


def test_operator_name_verdicts() -> None:
    assert verdict(r"$$\log 2n = n \log 2$$") is Status.REFUTED
    assert verdict(r"$$\sin 2x = 2 \sin x \cos x$$") in (Status.PROVED, Status.TESTED)
    assert verdict(r"$$\ln ab = \ln a + \ln b$$", "a >= 1; b >= 1") in (Status.PROVED,
                                                                            Status.TESTED)


# --- 4. remarks and e -------------------------------------------------------------------

def test_text_after_or_before_an_expression_is_a_remark() -> None:
    chain = parse_latex_chain(r"a + a = 2a \text{ terms}")
    assert chain.exprs == [2 * a, 2 * a]
    assert chain.links[1].because == "terms"
    assert L(r"a \quad \text{done}") == a
    assert L(r"\text{so } a") == a
    assert verdict(r"$$ a + a = 2a \text{ terms} $$") is Status.PROVED
    assert verdict("\\begin{align*} a + a &= 2a \\quad \\text{done} \\end{align*}") \
        is Status.PROVED
    # names stay names
    assert L(r"C_{\text{in}} K") == sympy.Symbol("C_in") * K
    assert L(r"\mathrm{out} + \text{size}") == sympy.Symbol("out") + sympy.Symbol("size")


def test_text_between_factors_or_with_spaces_alone_is_refused() -> None:
    with pytest.raises(ParseError, match="between factors"):
        L(r"a \text{ or } b")
    with pytest.raises(ParseError, match="remark"):
        L(r"\text{ x} + 1")


def test_e_is_eulers_number_unless_declared() -> None:
    assert L("e") is sympy.E
    assert L("e^{x}") == sympy.exp(x)
    assert L("e_1") == sympy.Symbol("e_1")
    assert parse_latex_chain("% symbols: e\n$$ e + 1 $$").exprs == [sympy.Symbol("e") + 1]
    assert parse_latex_chain("% assume: e >= 2\n$$ e $$").exprs == [sympy.Symbol("e")]
    assert L(r"\sum_{e=1}^{3} e") == sympy.Sum(sympy.Symbol("e", integer=True),
                                               (sympy.Symbol("e", integer=True), 1, 3))
    assert verdict(r"$$ e^{x} e^{y} = e^{x + y} $$") in (Status.PROVED, Status.TESTED)
    never_proved(r"$$ \frac{d}{dx} e^{x} = e $$")


# --- 5. definitions and multi-column rows -------------------------------------------------

def test_subscripted_name_starting_a_chain_is_a_plain_symbol() -> None:
    chain = parse_latex_chain("\\begin{align*} r_L &= 2 + 1 \\\\ &= 3 \\end{align*}")
    assert chain.exprs[0] == sympy.Symbol("r_L")
    chain = parse_latex_chain("\\begin{align*} y_i &= \\sum_{k=0}^{K-1} w_k x_{i+k} "
                              "\\end{align*}")
    assert chain.exprs[0] == sympy.Symbol("y_i")
    report = grade_text("\\begin{align*} r_L &= K - 1 \\\\ &= K - 2 + 1 \\end{align*}",
                        fmt="latex")
    assert [d.name for d in report.definitions] == ["r_L"]
    assert report.verdict is Status.PROVED
    # elsewhere subscripts keep their meaning
    assert L("y_i") == sympy.IndexedBase("y")[i]
    assert parse_latex_chain("a = y_i").exprs[1] == sympy.IndexedBase("y")[i]
    assert parse_latex_claim("w_k = w_k")[0] == w[sympy.Symbol("k")]


def test_multi_column_align_rows_are_separate_equations() -> None:
    chain = parse_latex_chain("\\begin{align*} a &= b & c &= d \\end{align*}")
    assert chain.exprs == list(sympy.symbols("a b c d"))
    assert chain.relations == ["=", None, "="]
    chain = parse_latex_chain("\\begin{eqnarray*} a &=& b \\\\ &=& c \\end{eqnarray*}")
    assert chain.relations == ["=", "="]
    good = "\\begin{align*} 1 + a + a &= 1 + 2a & b b &= b^2 \\end{align*}"
    bad = "\\begin{align*} 1 + a + a &= 1 + 2a & b b &= 2b \\end{align*}"
    assert verdict(good) is Status.PROVED
    report = grade_text(bad, fmt="latex")
    assert [s.status for s in report.steps] == [Status.PROVED, Status.REFUTED]
    with pytest.raises(ParseError, match="multi-column"):
        parse_latex_chain("a &= b & c &= d \\\\ &= e")


# --- forms the printer or people write that have two readings -----------------------------

@pytest.mark.parametrize("latex, pattern", [
    (r"- a \bmod 2", "ambiguous"),                      # (-a) mod 2 or -(a mod 2)
    (r"1 \bmod 2 \bmod a", "ambiguous"),                # (1 mod 2) mod a or 1 mod (2 mod a)
    (r"\sum_{k=0}^{n} w_k \bmod 2", "ambiguous"),       # sum of remainders or remainder of sum
    (r"\log n \sum_{k=1}^{n} k", "ambiguous"),          # log(n) * sum or log(n * sum)
])
def test_two_readings_are_refused(latex: str, pattern: str) -> None:
    with pytest.raises(ParseError, match=pattern):
        L(latex)


def test_unambiguous_neighbours_still_read() -> None:
    assert L(r"(-a) \bmod 2") == sympy.Mod(-a, 2)
    assert L(r"-(a \bmod 2)") == -sympy.Mod(a, 2)
    assert L(r"a - b \bmod 2") == a - sympy.Mod(b, 2)
    assert L(r"\log \sum_{k=1}^{n} k") == sympy.log(sympy.Sum(
        sympy.Symbol("k", integer=True), (sympy.Symbol("k", integer=True), 1, n)))
    assert L(r"\log(n) \sum_{k=1}^{n} k") == sympy.log(n) * sympy.Sum(
        sympy.Symbol("k", integer=True), (sympy.Symbol("k", integer=True), 1, n))
