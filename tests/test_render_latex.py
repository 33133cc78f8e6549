"""Blocks -> LaTeX: every checked line carries its mark, number and justification."""

from __future__ import annotations

import re

import numpy as np
import pytest
import sympy

from derive.book.model import (
    OUT_OF_SCOPE, Answer, Check, Derivation, DerivationStep, Explanation, Figure, MatrixView,
    Part, PartResult, Problem, ProblemResult, Table, Text,
)
from derive.check.verdict import Status, Verdict
from derive.errors import ProblemError
from derive.render import latex
from derive.render.steps import index_rows, step_numbers, verdict_text
from derive.symbols import sym

H, K, S = sym("H"), sym("K"), sym("S")
PROVED = Verdict(Status.PROVED, "canonical form")
TESTED = Verdict(Status.TESTED, "random sampling", instances=500)
REFUTED = Verdict(Status.REFUTED, "search", counterexample={"K": 3, "H": 2}, lhs_value=1,
                  rhs_value=0)


def chain(*verdicts: Verdict | None) -> Derivation:
    steps = [DerivationStep(H - K + i, f"why {i}", v) for i, v in enumerate(verdicts)]
    return Derivation("H_out", tuple(steps), ("H >= K",))


def part_with(*blocks: object, label: str = "a") -> PartResult:
    return PartResult(Part(label, "prompt", lambda s: None), tuple(blocks))


def test_derivation_lines_marks_and_numbers() -> None:
    d = chain(None, PROVED, TESTED)
    pr = part_with(d)
    tex = latex.render_derivation(d, step_numbers(pr))
    lines = tex.split(r" \\" + "\n")
    assert r"H_{\mathrm{out}} &= H - K" in lines[0] and r"\notag" in lines[0]
    assert r"\StepTag{1}{\MarkProved}" in lines[1] and r"\WhyShort{why 1}" in lines[1]
    assert r"\StepTag{2}{\MarkTested}" in lines[2]
    assert r"\Assuming{$H \geq K$}" in tex
    assert "(1) proved: canonical form; (2) tested numerically on 500 instances" in tex
    assert tex.count(r"\begin{align*}") == 1 and tex.count(r"\end{align*}") == 1


def test_refuted_step_is_unequal_and_shows_the_counterexample() -> None:
    d = chain(None, REFUTED)
    tex = latex.render_derivation(d, step_numbers(part_with(d)))
    assert r"&\neq" in tex and r"\MarkRefuted" in tex
    assert r"\Refutation{step 1: refuted at H=2, K=3: left side 1, right side 0}" in tex


def test_numeric_check_and_claim() -> None:
    c = Check(16, 16, Verdict(Status.PROVED, "exact evaluation, cross-checked by loops"),
              "H=32", "numeric")
    tex = latex.render_check(c, {id(c): 4})
    assert r"16 &= 16 && \WhyShort{H=32} \StepTag{4}{\MarkProved}" in tex
    assert r"\HowChecked{(4) cross-check, proved: exact evaluation, cross-checked by loops}" \
        in tex
    claim = Check(H + K, K + H, TESTED, kind="claim")
    assert r"\MarkTested" in latex.render_check(claim, {id(claim): 1})


def test_explanation_is_marked_not_machine_checked() -> None:
    tex = latex.render_block(Explanation("50% of it & more", ("8.2(a)",)), {})
    assert tex.startswith(r"\begin{explanation}") and r"50\% of it \& more" in tex
    assert "Rests on the checked results: 8.2(a)." in tex


def test_answer_is_boxed() -> None:
    assert latex.render_block(Answer("H_out", sympy.floor(H / S)), {}) == (
        r"\Answer{H_{\mathrm{out}} = \left\lfloor \frac{H}{S} \right\rfloor}")
    assert latex.render_block(Answer("params", 1728, "weights"), {}) == (
        r"\Answer{\text{params} = 1728\ \text{weights}}")


def test_table_alignment_and_cells() -> None:
    tex = latex.render_table(Table(("layer", "size"), (("conv_1", 32), ("pool", H)), "cap"))
    assert r"\begin{tabular}{@{}ll@{}}" in tex  # H is not a number: left-aligned
    assert r"conv\_1 & $32$ \\" in tex and r"\captionof{table}{cap}" in tex
    tex = latex.render_table(Table(("a", "b"), ((1, 2.5),)))
    assert r"{@{}rr@{}}" in tex
    with pytest.raises(ProblemError, match="1 cells"):
        latex.render_table(Table(("a", "b"), ((1,),)))


def test_matrices_and_figures() -> None:
    tex = latex.render_matrix(MatrixView("T", sympy.Matrix([[1, 0], [0, 1]]), "identity"))
    assert tex.startswith(r"\[ T = \begin{bmatrix}1 & 0\\0 & 1\end{bmatrix} \]")
    fits = latex.render_matrix(MatrixView("M", np.ones((2, 20), dtype=int)))
    assert fits.startswith(r"\[ M = ") and "FitMath" not in fits   # 20 one-digit columns
    wide = latex.render_matrix(MatrixView("M", np.full((2, 20), 12345)))
    assert wide.startswith(r"\begin{center}\FitMath{1\linewidth}{M = \begin{bmatrix}")
    huge = latex.value_tex(np.zeros((20, 20)))
    assert "array of shape" in huge and r"20 \times 20" in huge
    fig = latex.render_figure(Figure(r"\draw (0,0) -- (1,1);", "<svg/>", "a_b", "f"))
    assert r"\begin{tikzpicture}" in fig and r"\captionof{figure}{a\_b}" in fig


def test_unknown_block_type_is_an_error() -> None:
    with pytest.raises(TypeError, match="not a block"):
        latex.render_block(object(), {})


def test_assumptions_are_transliterated_not_evaluated() -> None:
    assert latex.assumption_tex("P >= 0") == r"P \geq 0"
    assert latex.assumption_tex("H_in != 2*K") == r"H_{\mathrm{in}} \neq 2 \, K"
    # Text is typeset, never run: a call is just tokens.
    assert latex.assumption_tex("__import__('os')") == (
        r"\_\_import\_\_ ( ' \mathit{os} ' )")


def _problem() -> ProblemResult:
    d = chain(None, PROVED, TESTED)
    c = Check(3, 3, PROVED, "count", "numeric")
    parts = (
        PartResult(Part("a", "Derive & check", lambda s: None), (Text("so: 100%"), d, c)),
        PartResult(Part("b", "Explain", lambda s: None, scope="explanation"),
                   (Explanation("because", ("a",)),)),
        PartResult(Part("c", "Train", None, scope=OUT_OF_SCOPE, reason="needs data"), ()),
        PartResult(Part("d", "Broken", lambda s: None), (), error="while solving x(d): boom"),
    )
    return ProblemResult(Problem("x-1", "practice", "T_1 {x}", "State $5.", parts,
                                 source="s"), parts)


def test_problem_body_parts_and_marks() -> None:
    body = latex.render_problem_body(_problem())
    assert r"\ProblemHead{x-1}{T\_1 \{x\}}{s}{prob:x-1}" in body
    assert r"State \$5." in body
    heads = re.findall(r"\\PartHead\{\((\w)\)\}\{[^}]*\}\{(\\\w+)\}", body)
    assert heads == [("a", r"\MarkTested"), ("b", r"\MarkExplained"),
                     ("c", r"\MarkOutOfScope"), ("d", r"\MarkError")]
    assert r"\begin{outofscope}" in body and "needs data" in body
    assert r"\begin{solveerror}" in body and "while solving x(d): boom" in body
    assert body.count(r"\StepTag") == 3


def test_index_rows_match_the_rendered_step_numbers() -> None:
    result = _problem()
    rows = index_rows(result)
    numbered = [(r["part"], r["n"], r["status"]) for r in rows if r["n"] != ""]
    assert numbered == [("x-1(a)", 1, "proved"), ("x-1(a)", 2, "tested"),
                        ("x-1(a)", 3, "proved")]
    kinds = [(r["short"], r["status"]) for r in rows if r["n"] == ""]
    assert kinds == [("(b)", "explanation"), ("(c)", "out-of-scope"), ("(d)", "error")]
    body = latex.render_problem_body(result)
    assert re.findall(r"\\StepTag\{(\d)\}", body) == ["1", "2", "3"]


def test_verdict_texts() -> None:
    assert verdict_text(PROVED) == "proved: canonical form"
    assert verdict_text(Verdict(Status.PROVED, "lemma", lemmas=("l1",))) == (
        "proved: lemma (lemmas: l1)")
    assert verdict_text(Verdict(Status.PROVED, "lemma", lemmas=("l1",)), lemmas=False) == (
        "proved: lemma")
    assert verdict_text(Verdict(Status.UNKNOWN, "budget")) == "unknown: budget"
    assert verdict_text(Verdict(Status.ERROR, "bad")) == "check failed: bad"


def test_indexed_left_hand_side() -> None:
    y, i = sympy.IndexedBase("y"), sympy.Symbol("i", integer=True)
    d = Derivation(y[i], (DerivationStep(i + 1, "def", None),))
    lines = latex.render_derivation(d, {}).splitlines()
    assert lines[:2] == [r"\DisplayStart", r"\begin{align*}"]
    assert lines[2].startswith("y_{i} &= i + 1")


def test_consecutive_checks_share_one_display() -> None:
    c1, c2 = Check(1, 1, PROVED, kind="numeric"), Check(H, H, TESTED)
    pr = part_with(Text("t"), c1, c2, Text("u"), Check(2, 2, PROVED))
    assert [type(b).__name__ if not isinstance(b, list) else len(b)
            for b in latex.group_checks(pr.blocks)] == ["Text", 2, "Text", 1]
    blocks = latex.part_context(pr)["blocks"]
    assert len(blocks) == 4 and blocks[1].count(r"\begin{align*}") == 1
    assert r"\StepTag{1}{\MarkProved} \\" + "\n" + r"H &= H && \WhyShort{claim} \StepTag{2}{\MarkTested}" \
        in blocks[1]
    assert "(1) cross-check, proved: canonical form; (2) claim, tested numerically" in blocks[1]


def test_long_justifications_wrap_in_a_column() -> None:
    long = "count the outputs i = 0, 1, ..., i_max: the last tap must stay inside"
    d = Derivation("y", (DerivationStep(H, long, None), DerivationStep(H, "same", PROVED)))
    tex = latex.render_derivation(d, step_numbers(part_with(d)))
    assert r"\Why{count the outputs i = 0, 1, ..., i\_max" in tex
    assert r"\WhyShort{same}" in tex


# -- layout of wide content: the estimate picks a layout, LaTeX shrinks what is left --------
def _proved() -> Verdict:
    return Verdict(Status.PROVED, method="entry by entry")


def test_a_narrow_check_shares_the_aligned_display() -> None:
    a = Check(H + H, 2 * H, _proved(), "collect terms", "claim", "")
    b = Check(H * 2, 2 * H, _proved(), "", "claim", "")
    tex = latex.render_checks([a, b], {id(a): 1, id(b): 2})
    assert tex.count(r"\begin{align*}") == 1 and "gather" not in tex


def test_a_wide_check_gets_a_display_of_its_own() -> None:
    x = sympy.symbols("x0:40")
    long = sum(sympy.Symbol(f"w{i}") * x[i] for i in range(40))
    short = Check(H + H, 2 * H, _proved(), "", "claim", "")
    wide = Check(long, long, _proved(), "expand", "claim", "")
    tex = latex.render_checks([short, wide], {id(short): 1, id(wide): 2})
    assert tex.count(r"\begin{align*}") == 1 and tex.count(r"\begin{gather*}") == 1
    assert r"\FitMath" in tex.split(r"\begin{gather*}")[1]
    assert "(2) expand; claim, proved" in tex             # the justification moves to the note


def test_a_huge_matrix_claim_shows_one_entry_and_says_so() -> None:
    w = sympy.Matrix(1, 4, sympy.symbols("w0:4"))
    product = w * sympy.Matrix(4, 9, sympy.symbols("x0:36"))
    c = Check(product, product, _proved(), "", "claim", "")
    tex = latex.render_checks([c], {id(c): 1})
    assert r"\left[w_{0} x_{0} + w_{1} x_{9} + w_{2} x_{18} + w_{3} x_{27}\right]_{1,1}" in tex
    assert "entry (1, 1) of the 1 x 9 matrices shown, all 9 entries checked" in tex


def test_a_wide_chain_puts_justifications_under_the_steps() -> None:
    x = sympy.symbols("x0:30")
    long = sum(x)
    d = Derivation("s", (DerivationStep(long, "the sum", None),
                         DerivationStep(long, "regroup", _proved())), (), "")
    tex = latex.render_derivation(d, {id(d.steps[1]): 1})
    assert r"\WhyBelow{regroup}" in tex and r"\Why{" not in tex and r"\WhyShort" not in tex
    narrow = Derivation("s", (DerivationStep(H, "given", None),
                              DerivationStep(H, "same", _proved())), (), "")
    assert r"\WhyShort{same}" in latex.render_derivation(narrow, {})


def test_wide_tables_and_answers_wrap() -> None:
    terms = " + ".join(f"D_{i} J_{i}" for i in range(12))
    wide = latex.render_table(Table(("block", "expansion"),
                                    (("post-activation", sympy.Symbol("y") + sum(
                                        sympy.Symbol(f"J{i}") for i in range(30))),)))
    assert r"\begin{tabularx}{\linewidth}" in wide and "X" in wide.split("\n")[1]
    assert r"\begin{tabular}{@{}lr@{}}" in latex.render_table(Table(("a", "b"), (("x", 1),)))
    text = latex.render_answer(Answer("rule", "keep the shortcut only when " + terms))
    assert text.startswith(r"\AnswerText{$\text{rule}$ = keep the shortcut")
