r"""Author text with inline maths: ``$...$`` holds the claim language, typeset as written;
``\$`` is a literal dollar; engine notes read as prose with maths."""

from __future__ import annotations

import pytest

from derive.errors import InputError
from derive.render.prose import (
    engine_note, math_tex, plain, prose_latex, prose_latex_paragraphs, prose_markdown,
    prose_markdown_paragraphs, split,
)


def test_split_into_prose_and_maths() -> None:
    assert split("a $x$ b $S*i$") == [(False, "a "), (True, "x"), (False, " b "), (True, "S*i")]
    assert split(r"costs \$5, or $n$ \$") == [(False, "costs $5, or "), (True, "n"),
                                               (False, " $")]
    assert split("no maths") == [(False, "no maths")]
    assert split("") == []


@pytest.mark.parametrize("text", ["a $x", "$x$ and $", "$", r"\$$x"])
def test_an_unmatched_dollar_is_an_error_naming_the_text(text: str) -> None:
    with pytest.raises(InputError, match="unmatched '\\$' in the text") as err:
        split(text)
    assert repr(text) in str(err.value) and r"a literal dollar is \$" in str(err.value)
    with pytest.raises(InputError):
        prose_latex(text)
    with pytest.raises(InputError):
        prose_markdown(text)


def test_a_long_text_is_clipped_in_the_error() -> None:
    with pytest.raises(InputError, match=r"'the first words of a long statement.*\.\.\.'"):
        split("the first words of a long statement that goes on and on, costing $5 in all")


def test_maths_is_typeset_as_written_nothing_simplified() -> None:
    assert math_tex("x_pad") == r"x_{\mathrm{pad}}"
    assert math_tex("x + x") == "x + x"              # not 2 x
    assert math_tex("x/x") == r"\frac{x}{x}"         # not 1
    assert math_tex("2*3") == r"2 \cdot 3"           # not 6
    assert math_tex("H*W") == "H W"
    assert math_tex("Sum(w[u]*x[i + u], (u, 0, K - 1))") == (
        r"\sum_{u=0}^{K - 1} w_{u} x_{i + u}")      # no factor 1 from SymPy's Sum


def test_relations_and_a_single_equals_sign() -> None:
    assert math_tex("k <= K - 1") == r"k \leq K - 1"
    assert math_tex("0 <= k < K") == r"0 \leq k < K"
    assert math_tex("a != b") == r"a \neq b"
    assert math_tex("a >= b") == r"a \geq b"
    assert math_tex("H = 32") == "H = 32"            # prose writes = for equality
    assert math_tex("H == 32") == "H = 32"


def test_powers_of_ten_stay_powers_of_ten() -> None:
    assert math_tex("10**(-12)") == "10^{-12}"
    assert math_tex("2.5*10**(-9)") == r"2.5 \cdot 10^{-9}"


def test_unreadable_maths_is_an_error_naming_the_formula() -> None:
    with pytest.raises(InputError, match=r"cannot read the inline mathematics \$x \+\* \$"):
        prose_latex("see $x +* $ here")


def test_latex_output() -> None:
    assert prose_latex("the window $S*i + D*u$ moves by $S$") == (
        "the window $D u + S i$ moves by $S$")
    assert prose_latex(r"50% & \$5 with $x_pad$ and x_pad") == (
        r"50\% \& \$5 with $x_{\mathrm{pad}}$ and x\_pad")   # only the maths is typeset
    assert prose_latex_paragraphs("a $x$\n\n b   c\n d") == "a $x$\n\nb c d"


def test_markdown_output() -> None:
    assert prose_markdown(r"a cost of $H*W$ & \$5 *not bold*") == (
        r"a cost of $H W$ \& \$5 \*not bold\*")
    assert prose_markdown("x_pad $x_pad$") == r"x\_pad $x_{\mathrm{pad}}$"
    # in a table cell a bar would end the cell, even inside maths
    assert prose_markdown("$Abs(x)$", in_table=True) == r"$\left\vert {x}\right\vert$"
    assert prose_markdown_paragraphs("a\n\nb $H = 1$") == "a\n\nb $H = 1$"


def test_plain_text_for_a_terminal() -> None:
    assert plain(r"cost $H*W$ and \$5") == "cost H*W and $5"


def test_engine_notes_read_as_prose_with_maths() -> None:
    assert engine_note("sizes <= 2, K >= 1, H != K") == "sizes ≤ 2, K ≥ 1, H ≠ K"
    assert engine_note("agree to within 1e-12") == "agree to within $10**(-12)$"
    assert engine_note("within 2.5e-09") == "within $2.5*10**(-9)$"
    assert engine_note("weight W_in[k]*x[i + k]") == "weight $W_in[k]*x[i + k]$"
    assert engine_note("KroneckerDelta(i, j) -> Piecewise") == (
        "Kronecker delta(i, j) → piecewise")
    assert engine_note("it costs $5") == r"it costs \$5"           # a dollar stays a dollar
    assert engine_note("refuted at H=2, K=3: left side 1, right side 0") == (
        "refuted at H=2, K=3: left side 1, right side 0")           # nothing to typeset


def test_engine_notes_on_the_page() -> None:
    note = engine_note("tested with K <= 3 to within 1e-12; sum of C_in*K**2")
    assert prose_latex(note) == (r"tested with K \ensuremath{\leq} 3 to within $10^{-12}$; "
                                 r"sum of $C_{\mathrm{in}} K^{2}$")
    assert prose_markdown(note) == ("tested with K ≤ 3 to within $10^{-12}$; "
                                    r"sum of $C_{\mathrm{in}} K^{2}$")
    assert prose_latex(engine_note("costs $5")) == r"costs \$5"
