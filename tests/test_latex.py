r"""The LaTeX reader: constructs against the plain-text parser, bound variables of sums,
subscript rules, documents and positions, clear errors, and fuzzing (ParseError or a
result, fast, never another exception)."""

from __future__ import annotations

import random
import time

import pytest
import sympy
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from derive.check.latex import (MAX_LATEX_CHARS, MAX_NESTING, parse_latex_chain,
                                parse_latex_claim, parse_latex_expression)
from derive.check.parse import parse_expression
from derive.errors import ParseError

L = parse_latex_expression


# --- constructs: the LaTeX reading equals the plain-text reading ------------------------

PAIRS = [
    (r"\frac{H + 2P - K}{S} + 1", "(H + 2*P - K)/S + 1"),
    (r"\dfrac{a}{b}", "a/b"),
    (r"\tfrac{1}{2} x", "x/2"),
    (r"\left\lfloor \frac{H + 2P - K}{S} \right\rfloor + 1", "floor((H + 2*P - K)/S) + 1"),
    (r"\lfloor a/b \rfloor", "floor(a/b)"),
    (r"\lceil a/b \rceil", "ceiling(a/b)"),
    (r"\left\lceil \frac{a}{b} \right\rceil", "ceiling(a/b)"),
    (r"\left( a + b \right) c", "(a + b)*c"),
    (r"D(K-1)", "D*(K - 1)"),
    (r"2P", "2*P"),
    (r"2 \cdot P", "2*P"),
    (r"a \times b", "a*b"),
    (r"ab", "a*b"),
    (r"a \div b", "a/b"),
    (r"a \bmod b", "Mod(a, b)"),
    (r"a \mod b", "Mod(a, b)"),
    (r"x^2 + x^{K-1}", "x**2 + x**(K - 1)"),
    (r"2^{n} k", "2**n*k"),
    (r"-a - b", "-a - b"),
    (r"a \cdot -b", "-(a*b)"),
    (r"\sqrt{x}", "sqrt(x)"),
    (r"\sqrt[3]{x}", "x**Rational(1, 3)"),
    (r"\binom{n}{2}", "binomial(n, 2)"),
    (r"\max(a, b) + \min(a, b)", "Max(a, b) + Min(a, b)"),
    (r"\max(a, b)^2", "Max(a, b)**2"),
    (r"\log_2(n)", "log(n)/log(2)"),
    (r"\left| x - y \right|", "Abs(x - y)"),
    (r"\lvert x \rvert", "Abs(x)"),
    (r"1.15 S", "23*S/20"),
    (r"0.5", "Rational(1, 2)"),
    (r"\mathrm{out} + \text{size}", "out + size"),
    (r"\operatorname{output\_size}(H, K, P, S, D)", "output_size(H, K, P, S, D)"),
    (r"\mathrm{output\_size}(H, K, P, S, D)", "output_size(H, K, P, S, D)"),
    (r"\operatorname{floor}(x / 2)", "floor(x/2)"),
    (r"\alpha \beta", "alpha*beta"),
    (r"\pi r^2", "pi*r**2"),
    (r"S N E I Q", "S*N*E*I*Q"),
    (r"\sum_{k=0}^{K-1} w_{k} x_{i+k}", "Sum(w[k]*x[i + k], (k, 0, K - 1))"),
    (r"\sum\limits_{k=1}^{n} k", "Sum(k, (k, 1, n))"),
    (r"\sum^{n}_{k=1} k", "Sum(k, (k, 1, n))"),
    (r"\prod_{i=1}^{L} S_{i}", "Product(S[i], (i, 1, L))"),
    (r"x_{i,k}", "x[i, k]"),
    (r"x_{2k}", "x[2*k]"),
    (r"x_{i - 1}", "x[i - 1]"),
    (r"a\,b \quad + \; c \!", "a*b + c"),
]


@pytest.mark.parametrize("latex, plain", PAIRS)
def test_latex_reads_like_the_claim_language(latex: str, plain: str) -> None:
    assert L(latex) == parse_expression(plain)


def test_implicit_product_is_never_a_call() -> None:
    D, K = sympy.symbols("D K")
    assert L("D(K-1)") == D * (K - 1)
    assert L("f(x)") == sympy.Symbol("f") * sympy.Symbol("x")
    assert not L("D(K-1)").atoms(sympy.Function)


def test_decimals_are_exact() -> None:
    assert L("1.15") == sympy.Rational(23, 20)
    assert L(r"0.1 + 0.2") == sympy.Rational(3, 10)


# --- subscripts -------------------------------------------------------------------------

def test_subscript_rules() -> None:
    w, x = sympy.IndexedBase("w"), sympy.IndexedBase("x")
    i, k = sympy.symbols("i k")
    assert L("w_{k}") == w[k]
    assert L("w_k") == w[k]
    assert L("x_{i+k}") == x[i + k]
    assert L("x_{i,k}") == x[i, k]
    assert L("H_{out}") == sympy.Symbol("H_out")
    assert L(r"C_{\text{in}}") == sympy.Symbol("C_in")
    assert L(r"C_{\mathrm{out}}") == sympy.Symbol("C_out")
    assert L("x_{ik}") == sympy.Symbol("x_ik")         # documented: a run of letters is a name
    assert L("K_1 + K_{2}") == sympy.Symbol("K_1") + sympy.Symbol("K_2")
    # a letter indexed by a variable somewhere makes all its subscripts indices
    assert L("w_0 + w_k") == w[0] + w[k]


def test_ambiguous_run_subscripts_are_refused() -> None:
    with pytest.raises(ParseError, match="ambiguous"):
        L(r"\sum_{k=0}^{K-1} x_{ik}")
    with pytest.raises(ParseError, match="ambiguous"):
        L(r"x_{ik} + x_{i}")
    assert L(r"\sum_{k=0}^{K-1} x_{i,k}") == sympy.Sum(
        sympy.IndexedBase("x")[sympy.Symbol("i"), sympy.Symbol("k", integer=True)],
        (sympy.Symbol("k", integer=True), 0, sympy.Symbol("K") - 1))


def test_multi_digit_script_shorthand_is_refused() -> None:
    with pytest.raises(ParseError, match="braces"):
        L("x^23")
    with pytest.raises(ParseError, match="first digit"):
        L("x_12")
    with pytest.raises(ParseError, match="braces"):
        L(r"\frac12")


# --- bound variables of sums and products ------------------------------------------------

def test_sum_bound_variable_is_the_summand_variable() -> None:
    s = L(r"\sum_{k=0}^{2} w_k x_{i+k}")
    w, x, i = sympy.IndexedBase("w"), sympy.IndexedBase("x"), sympy.Symbol("i")
    explicit = w[0] * x[i] + w[1] * x[i + 1] + w[2] * x[i + 2]
    assert sympy.expand(s.doit()) == explicit
    # and the expansion typed in LaTeX in the same formula reads as the same indexed names
    chain = parse_latex_chain(r"\sum_{k=0}^{2} w_k x_{i+k} = w_0 x_i + w_1 x_{i+1} + w_2 x_{i+2}")
    assert sympy.expand(chain.exprs[0].doit() - chain.exprs[1]) == 0


def test_sum_scope_ends_with_the_sum() -> None:
    n, k = sympy.symbols("n k")
    e = L(r"\sum_{k=1}^{n} k + k")      # the second k is free
    assert sympy.simplify(e.doit() - (n * (n + 1) / 2 + k)) == 0
    e = L(r"\sum_{k=1}^{n} (k + 1)")    # parentheses keep it inside
    assert sympy.simplify(e.doit() - (n * (n + 1) / 2 + n)) == 0


def test_nested_sums_and_shadowing() -> None:
    e = L(r"\sum_{i=1}^{2} \sum_{j=1}^{3} i j")
    assert e.doit() == (1 + 2) * (1 + 2 + 3)
    e = L(r"\sum_{k=1}^{2} \sum_{k=1}^{3} k")    # the inner k shadows the outer one
    assert e.doit() == 2 * 6


@settings(deadline=None)
@given(st.integers(0, 6), st.integers(-3, 3))
def test_sum_of_indexed_terms_matches_expansion(upper: int, shift: int) -> None:
    e = L(rf"\sum_{{k=0}}^{{{upper}}} w_{{k}} x_{{i+k+{shift}}}" if shift >= 0 else
          rf"\sum_{{k=0}}^{{{upper}}} w_{{k}} x_{{i+k-{-shift}}}")
    w, x, i = sympy.IndexedBase("w"), sympy.IndexedBase("x"), sympy.Symbol("i")
    explicit = sum((w[k] * x[i + k + shift] for k in range(upper + 1)), sympy.Integer(0))
    assert sympy.expand(e.doit() - explicit) == 0


# --- round trips: independent constructions ----------------------------------------------

_SYMS = sympy.symbols("a b c H K P S")


@st.composite
def _expr_and_latex(draw, depth: int = 3):
    """A random expression built twice: as SymPy directly, and as LaTeX text."""
    if depth == 0 or draw(st.booleans()):
        if draw(st.booleans()):
            n = draw(st.integers(0, 40))
            return sympy.Integer(n), f"{{{n}}}"
        s = draw(st.sampled_from(_SYMS))
        return s, f"{{{s.name}}}"
    kind = draw(st.sampled_from(["+", "-", "cdot", "frac", "floor", "ceil", "paren", "pow"]))
    a, la = draw(_expr_and_latex(depth - 1))
    b, lb = draw(_expr_and_latex(depth - 1))
    if kind == "+":
        return a + b, f"{la} + {lb}"
    if kind == "-":
        return a - b, rf"{la} - \left({lb}\right)"
    if kind == "cdot":
        return a * b, rf"\left({la}\right) \cdot \left({lb}\right)"
    if kind == "frac":
        if b == 0:
            return a, la
        return a / b, rf"\frac{{{la}}}{{{lb}}}"
    if kind == "floor":
        return sympy.floor(a), rf"\left\lfloor {la} \right\rfloor"
    if kind == "ceil":
        return sympy.ceiling(a), rf"\lceil {la} \rceil"
    if kind == "paren":
        return a, rf"\left( {la} \right)"
    e = draw(st.integers(0, 3))
    return a ** e, rf"\left({la}\right)^{{{e}}}"


@settings(max_examples=150, deadline=None)
@given(_expr_and_latex())
def test_random_formulas_read_back_exactly(pair) -> None:
    expr, latex = pair
    assert sympy.simplify(L(latex) - expr) == 0 if expr.has(sympy.floor, sympy.ceiling) \
        else sympy.expand(L(latex) - expr) == 0


@settings(max_examples=100, deadline=None)
@given(_expr_and_latex())
def test_sympy_latex_output_reads_back(pair) -> None:
    expr, _ = pair
    assert L(sympy.latex(expr)) == expr or sympy.simplify(L(sympy.latex(expr)) - expr) == 0


# --- documents, rows, positions ----------------------------------------------------------

ALIGN = r"""
\begin{align*}
H_{out} &= \left\lfloor \frac{H + 2P - K}{S} \right\rfloor + 1 \nonumber \\
        &= \left\lfloor \frac{H + 2P - K + S}{S} \right\rfloor \label{eq:one} && \text{add one} \\[2pt]
        &\le H + 2P
\end{align*}
"""


def test_align_environment_rows_relations_positions() -> None:
    chain = parse_latex_chain(ALIGN)
    assert len(chain.exprs) == 4
    assert chain.relations == ["=", "=", "<="]
    assert [lk.line for lk in chain.links] == [3, 3, 4, 5]
    assert chain.links[2].column == ALIGN.splitlines()[3].index(r"\left") + 1
    assert chain.links[2].because == "add one"
    assert chain.exprs[0] == sympy.Symbol("H_out")


@pytest.mark.parametrize("wrapper", ["$$ {} $$", r"\[ {} \]", r"\begin{{equation}} {} \end{{equation}}",
                                     "{}", r"\begin{{align}} {} \end{{align}}",
                                     r"$$\begin{{aligned}} {} \end{{aligned}}$$"])
def test_display_forms(wrapper: str) -> None:
    chain = parse_latex_chain(wrapper.format("a = b = c"))
    assert chain.exprs == list(sympy.symbols("a b c"))
    assert chain.relations == ["=", "="]


def test_row_break_with_spacing_is_not_display_math() -> None:
    assert parse_latex_chain(r"a &= b \\[3pt] &= c").relations == ["=", "="]
    assert parse_latex_chain(r"\[ a &= b \\[1em] &= c \]").exprs == list(sympy.symbols("a b c"))


def test_rows_starting_with_an_expression_start_new_chains() -> None:
    chain = parse_latex_chain(r"a &= b \\ c &= d \\ &= e")
    assert chain.relations == ["=", None, "=", "="]


def test_comments_and_annotations() -> None:
    chain = parse_latex_chain("% assume: s >= 2\n$$ a = b % a comment with $ and \\frac\n$$\n"
                              "% because: algebra\n")
    assert [(a.kind, a.text, a.line) for a in chain.annotations] == [
        ("assume", "s >= 2", 1), ("because", "algebra", 4)]
    assert chain.exprs == list(sympy.symbols("a b"))


def test_claim_and_expression_helpers() -> None:
    lhs, rhs = parse_latex_claim(r"\lceil a/b \rceil = \lfloor (a + b - 1)/b \rfloor")
    assert (lhs, rhs) == (parse_expression("ceiling(a/b)"),
                          parse_expression("floor((a + b - 1)/b)"))
    with pytest.raises(ParseError):
        parse_latex_claim("a < b")
    with pytest.raises(ParseError, match="without '='"):
        parse_latex_expression("a = b")


# --- errors: clear, with positions --------------------------------------------------------

@pytest.mark.parametrize("text, pattern, column", [
    (r"a + \foo b", r"unsupported LaTeX command \\foo", 5),
    (r"\frac{a}{b", "ends too early", 11),
    (r"a + }", "unexpected '}'", 5),
    (r"|x|", "absolute values", 1),
    (r"a / b c", "ambiguous", 7),
    (r"2 3", "ambiguous", 3),
    (r"\frac{1}{0}", "division by zero", 9),
    (r"a \bmod 0", "modulo zero", 9),
    (r"\sum_k a_k", "range of a sum", 1),
    (r"\sum_{k<0}^{n} k", "range of a sum", 1),
    (r"= a", "nothing comes before", 1),
    (r"\text{by the lemma} + 1", "not a quantity name", 1),
    (r"\operatorname{foo} + 1", "needs its arguments in parentheses", 1),
    (r"\max + 1", "needs an argument", 1),
    (r"x_1_2", "double subscript", 4),
    (r"2^{100000}", "too large", 3),
    (r"\left. x \right|", r"evaluation bar", 1),
    (r"\left. x + 1 \right)", r"evaluation bar", 1),
    (r"1 + 2 \cdot \dots", r"\\dots", 13),
    (r"a = ", "ends too early|nothing after", None),
])
def test_errors_name_the_piece_and_its_position(text: str, pattern: str, column) -> None:
    with pytest.raises(ParseError, match=pattern) as info:
        L(text) if "=" not in text else parse_latex_chain(text)
    assert info.value.line == 1
    if column is not None:
        assert info.value.column == column


def test_error_line_inside_a_document() -> None:
    text = "\\begin{align*}\n a &= b \\\\\n   &= c + \\unknowncmd \n\\end{align*}"
    with pytest.raises(ParseError) as info:
        parse_latex_chain(text)
    assert (info.value.line, info.value.column) == (3, 11)


@pytest.mark.parametrize("text", ["", "   ", "$$ $$", r"\begin{align*} \end{align*}",
                                  r"\begin{align*} a = b", "$$ a = b", r"\documentclass{article}"])
def test_empty_or_unclosed_documents(text: str) -> None:
    with pytest.raises(ParseError):
        parse_latex_chain(text)


# --- fuzzing: ParseError or a result, quickly, never another exception --------------------

TOKENS = [r"\frac", r"\sum_{k=0}^{n}", r"\prod_{i=1}^{3}", r"\left(", r"\right)", r"\lfloor",
          r"\rfloor", r"\lceil", r"\rceil", "{", "}", "(", ")", "[", "]", "_", "^", "=", "+", "-",
          r"\cdot", "/", r"\bmod", "&", r"\\", "x", "k", "2", "0", "1.5", ",", r"\max",
          r"\operatorname{output\_size}", r"\mathrm{H}", r"\alpha", r"\le", "|", "$$", "%",
          r"\text{a b}", r"\sqrt", r"\binom", r"\left|", r"\right|", r"\log_", "w_{k}", "x_{i+k}",
          r"\begin{align*}", r"\end{align*}", r"\nonumber", r"\quad", "\n", " ", r"\foo"]

FUZZ_SECONDS = 3.0


def _survives(text: str) -> None:
    start = time.perf_counter()
    try:
        parse_latex_chain(text)
    except ParseError:
        pass
    assert time.perf_counter() - start < FUZZ_SECONDS


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
@example("\x00")
@example("\\")
@example("}{")
def test_fuzz_random_text(text: str) -> None:
    _survives(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
@example([r"\sum_{k=0}^{n}"] * 30 + ["k"])
@example(["-"] * 200 + ["x"])
@example(["x", "^", "{", "2", "^", "{", "2", "^", "{", "9", "}", "}", "}"])
def test_fuzz_token_soup(tokens: list[str]) -> None:
    _survives(" ".join(tokens))


@pytest.mark.parametrize("opener, closer", [("{", "}"), ("(", ")"), (r"\left(", r"\right)"),
                                            (r"\lfloor ", r"\rfloor "), (r"\frac{1}{", "}"),
                                            ("x^{", "}"), (r"\sqrt{", "}")])
@pytest.mark.parametrize("depth", [MAX_NESTING // 2, MAX_NESTING + 5, 5_000])
def test_deep_nesting(opener: str, closer: str, depth: int) -> None:
    text = opener * depth + "x" + closer * depth
    start = time.perf_counter()
    try:
        parse_latex_chain(text)
    except ParseError as exc:
        assert "nested" in str(exc) or "limit" in str(exc)
    assert time.perf_counter() - start < FUZZ_SECONDS


def test_long_flat_sums_are_fine_and_huge_input_is_refused() -> None:
    n = 2_000
    e = L(" + ".join("x" for _ in range(n)))
    assert e == n * sympy.Symbol("x")
    e = L(r" \cdot ".join("x" for _ in range(n)))
    assert e == sympy.Symbol("x") ** n
    with pytest.raises(ParseError, match="limit"):
        L("x + " * (MAX_LATEX_CHARS // 4 + 1) + "x")
    with pytest.raises(ParseError, match="nested"):
        L("-" * 1_000 + "x")


def test_fuzz_mutated_documents() -> None:
    rng = random.Random(20240607)
    base = ALIGN
    for _ in range(200):
        chars = list(base)
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(len(chars))
            op = rng.random()
            if op < 0.4:
                del chars[pos]
            elif op < 0.8:
                chars.insert(pos, rng.choice("{}()[]\\^_&=+-$%|x1 "))
            else:
                chars[pos] = rng.choice("{}\\^_")
        _survives("".join(chars))
