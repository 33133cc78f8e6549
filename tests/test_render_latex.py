"""Blocks -> LaTeX: every checked line carries its mark, number and justification."""

from __future__ import annotations

import re

import numpy as np
import pytest
import sympy

from derive.book import Sheet, written
from derive.book.model import (
    OUT_OF_SCOPE, Answer, Check, Derivation, DerivationStep, Explanation, Figure, MatrixView,
    Part, PartResult, Problem, ProblemResult, Table, Text,
)
from derive.check.verdict import Status, Verdict
from derive.errors import ProblemError
from derive.render import build as B
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


def test_a_cross_check_is_a_table_row_not_an_equation() -> None:
    c = Check(16, 16, Verdict(Status.PROVED, "exact evaluation, cross-checked by loops"),
              "output size at $H = 32$", "numeric")
    tex = latex.render_check(c, {id(c): 4})
    assert tex.startswith(r"\begin{CrossChecks}") and "&=" not in tex
    assert (r"output size at $H = 32$ & \FitMath{0.18\linewidth}{16} & "
            r"\FitMath{0.18\linewidth}{16} & loops & \MarkCrossChecked\enspace equal") in tex
    assert r"\StepTag" not in tex   # cross-checks are not numbered among the steps
    floats = Check(0.30000000000000004, 0.3, Verdict(Status.TESTED, "x: agree to within 1e-12",
                                                     instances=1), "sum", "numeric",
                   method="float sum", tol=1e-12)
    tex = latex.render_check(floats, {})
    assert r"equal to within $10^{-12}$" in tex and "0.30000000000000004" not in tex


def test_an_optional_package_cross_check_reads_the_same_whether_it_ran() -> None:
    ran = Check(2.0, 2.0, Verdict(Status.TESTED, "m", instances=1), "root", "optional",
                requires="torch", method="PyTorch's sqrt", tol=1e-12)
    absent = Check(2.0, None, Verdict(Status.UNKNOWN, "torch is not installed here"), "root",
                   "optional", requires="torch", method="PyTorch's sqrt", tol=1e-12)
    assert latex.render_check(ran, {}) == latex.render_check(absent, {})
    assert "compared where PyTorch is installed" in latex.render_check(absent, {})


def test_claim_is_a_numbered_display() -> None:
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
        PartResult(Part("a", "Derive & check $x_pad$", lambda s: None),
                   (Text("so: 100%"), d, c)),
        PartResult(Part("b", "Explain", lambda s: None, scope="explanation"),
                   (Explanation("because", ("a",)),)),
        PartResult(Part("c", "Train", None, scope=OUT_OF_SCOPE, reason="needs data"), ()),
        PartResult(Part("d", "Broken", lambda s: None), (), error="while solving x(d): boom"),
    )
    return ProblemResult(Problem("x-1", "practice", "T_1 {x}", r"State \$5.", parts,
                                 source="s"), parts)


def test_problem_body_parts_and_marks() -> None:
    body = latex.render_problem_body(_problem())
    assert r"\ProblemHead{x-1}{T\_1 \{x\}}{s}{prob:x-1}" in body
    assert r"State \$5." in body                          # \$ is a literal dollar
    assert r"Derive \& check $x_{\mathrm{pad}}$" in body  # $...$ is maths
    heads = re.findall(r"^\\PartHead\{\((\w)\)\}.*\{(\\Mark\w+)\}$", body, re.M)
    assert heads == [("a", r"\MarkTested"), ("b", r"\MarkExplained"),
                     ("c", r"\MarkOutOfScope"), ("d", r"\MarkError")]
    assert r"\begin{outofscope}" in body and "needs data" in body
    assert r"\begin{solveerror}" in body and "while solving x(d): boom" in body
    # the derivation's two steps are numbered; the cross-check is a table row, unnumbered
    assert body.count(r"\StepTag") == 2 and body.count(r"\begin{CrossChecks}") == 1


def test_index_rows_match_the_rendered_step_numbers() -> None:
    result = _problem()
    rows = index_rows(result)
    numbered = [(r["part"], r["n"], r["status"], r["kind"], r["instances"])
                for r in rows if r["n"] != ""]
    assert numbered == [("x-1(a)", 1, "proved", "claim", 0),
                        ("x-1(a)", 2, "tested", "claim", 500)]
    kinds = [(r["short"], r["kind"], r["status"]) for r in rows if r["n"] == ""]
    assert kinds == [("(a)", "cross-check", "cross-checked"),
                     ("(b)", "explanation", "explanation"),
                     ("(c)", "out-of-scope", "out-of-scope"), ("(d)", "error", "error")]
    body = latex.render_problem_body(result)
    assert re.findall(r"\\StepTag\{(\d)\}", body) == ["1", "2"]


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


def test_consecutive_checks_split_into_claims_and_cross_check_tables() -> None:
    c1, c2 = Check(1, 1, PROVED, kind="numeric"), Check(written("H + H"), 2 * H, TESTED)
    c3, c4 = Check(written("K + K"), 2 * K, PROVED), Check(K * H, H * K, PROVED)
    pr = part_with(Text("t"), c1, c2, c3, Text("u"), c4)
    assert [type(b).__name__ if not isinstance(b, list) else len(b)
            for b in latex.group_checks(pr.blocks)] == ["Text", 3, "Text", 1]
    blocks = latex.part_context(pr)["blocks"]
    table, display = blocks[1].split("\n\n")
    assert table.startswith(r"\begin{CrossChecks}") and table.endswith(r"\end{CrossChecks}")
    assert display.count(r"\begin{align*}") == 1
    # the claims are numbered 1, 2, 3 across the blocks; the cross-check is not numbered
    assert (r"H + H &= 2 H && \WhyShort{claim} \StepTag{1}{\MarkTested} \\" + "\n"
            + r"K + K &= 2 K && \WhyShort{claim} \StepTag{2}{\MarkProved}") in display
    assert "(1) tested numerically on 500 instances" in display
    assert r"\StepTag{3}{\MarkProved}" in blocks[3]
    # a cross-check between two claims splits their display around its table
    mixed = latex.render_checks([c2, c1, c3], step_numbers(part_with(c2, c1, c3)))
    assert [m.group(0) for m in re.finditer(r"\\begin\{(align\*|CrossChecks)\}", mixed)] == [
        r"\begin{align*}", r"\begin{CrossChecks}", r"\begin{align*}"]
    assert re.findall(r"\\StepTag\{(\d)\}", mixed) == ["1", "2"]


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
    assert "(2) expand; proved: entry by entry" in tex    # the justification moves to the note


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


# -- cross-checks: a comparison table, never an equation ------------------------------------
def test_the_cross_check_table_has_one_row_of_five_cells_per_check() -> None:
    sheet = Sheet()
    a = sheet.numeric(16, 16, method="brute-force enumeration", why="output size at $H = 32$")
    b = sheet.numeric(3, 3, method="direct loops", why="taps")
    tex = latex.render_checks([a, b], {})
    rows = tex.splitlines()
    assert rows[0] == r"\begin{CrossChecks}" and rows[-1] == r"\end{CrossChecks}"
    assert [r.count(" & ") for r in rows[1:-1]] == [4, 4]      # 5 columns, 2 rows
    assert rows[1] == (r"output size at $H = 32$ & \FitMath{0.18\linewidth}{16} & "
                       r"\FitMath{0.18\linewidth}{16} & brute-force enumeration & "
                       r"\MarkCrossChecked\enspace equal \\")


def test_cross_check_floats_are_rounded_and_agree_to_within_the_tolerance() -> None:
    engine = np.array([0.1 + 0.2, 1.0 - 1.0 + 8.9e-16, 2.0])   # residues of one machine
    c = Sheet().numeric(engine, np.array([0.3, 0.0, 2.0]), method="NumPy loops",
                        why="outputs", tol=1e-12)
    assert c.verdict.method == "NumPy loops: agree to within 1e-12"   # not the residue
    tex = latex.render_check(c, {})
    assert "8.9" not in tex and "0.30000000000000004" not in tex and "e-16" not in tex
    assert tex.count(r"\left(0.3, 0.0, 2.0\right)") == 2       # engine and reference alike
    assert r"\MarkCrossChecked\enspace equal to within $10^{-12}$" in tex


def test_a_disagreeing_cross_check_is_a_refuted_row() -> None:
    c = Sheet().numeric(31, 32, method="brute force", why="size")
    tex = latex.render_check(c, {})
    assert r"\MarkRefuted\enspace differ: 31 against 32" in tex and "&=" not in tex


def _with_torch(monkeypatch: pytest.MonkeyPatch, sqrt: object) -> Check:
    """A cross-check against "torch": a stand-in module, or (``sqrt=None``) none at all."""
    import sys
    import types
    module = None
    if sqrt is not None:
        module = types.ModuleType("torch")
        module.sqrt = sqrt
    monkeypatch.setitem(sys.modules, "torch", module)   # None: the import fails
    return Sheet().numeric_if_installed("torch", 2.0, lambda t: t.sqrt(4.0),
                                        method="PyTorch's sqrt", why="root", tol=1e-12)


def test_an_optional_package_row_is_byte_identical_with_and_without_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ran = _with_torch(monkeypatch, lambda x: x ** 0.5)
    absent = _with_torch(monkeypatch, None)
    assert ran.verdict.status is Status.TESTED and absent.verdict.status is Status.UNKNOWN
    assert latex.render_check(ran, {}) == latex.render_check(absent, {})
    assert r"root & \FitMath{0.18\linewidth}{2.0} & --- & PyTorch's sqrt & " \
           r"\MarkCrossChecked\enspace compared where PyTorch is installed \\" \
        in latex.render_check(absent, {})
    assert part_with(ran).status == part_with(absent).status
    problem = Problem("o-1", "practice", "t", "s", (Part("a", "p"),))
    rows = [index_rows(ProblemResult(problem, (part_with(c),))) for c in (ran, absent)]
    assert rows[0] == rows[1] and rows[0][0]["kind"] == "conditional"
    # where the package is installed and disagrees, the row says so
    wrong = _with_torch(monkeypatch, lambda x: 3.0)
    assert r"\MarkRefuted\enspace differ: 2.0 against 3.0" in latex.render_check(wrong, {})


# -- a part's mark --------------------------------------------------------------------------
CLAIM = Check(written("H + H"), 2 * H, PROVED)
AGREES = Check(3, 3, PROVED, kind="numeric")
DIFFERS = Check(3, 4, REFUTED, kind="numeric")
NOT_RUN = Check(2.0, None, Verdict(Status.UNKNOWN, "torch is not installed here"),
                kind="optional", requires="torch")


@pytest.mark.parametrize("scope,blocks,status", [
    ("checked", (AGREES,), "cross-checked"),                     # only cross-checks
    ("checked", (CLAIM, AGREES), "proved"),                      # claims decide
    ("explanation", (CLAIM, AGREES), "explanation"),             # what the part asks
    ("explanation", (CLAIM, Check(H, K, REFUTED)), "refuted"),   # refuted wins
    ("checked", (CLAIM, DIFFERS), "refuted"),                    # a failed cross-check too
    ("explanation", (DIFFERS,), "refuted"),
    ("checked", (NOT_RUN,), "explanation"),                      # nothing agreed here
])
def test_part_status_rules(scope: str, blocks: tuple, status: str) -> None:
    pr = PartResult(Part("a", "p", lambda s: None, scope=scope), blocks)
    assert pr.status == status
    assert latex.part_context(pr)["mark"] == latex.MARKS[status]


def test_the_cross_checked_mark() -> None:
    assert latex.mark("cross-checked") == r"\MarkCrossChecked"


# -- identical sides are refused ------------------------------------------------------------
def test_a_claim_whose_sides_print_the_same_is_refused() -> None:
    sheet = Sheet()
    with pytest.raises(ProblemError, match=r"the two sides of the claim print the same \(2 H\)"):
        sheet.claim(H + H, 2 * H)                    # SymPy made the left side 2*H already
    with pytest.raises(ProblemError, match="Sheet.numeric"):
        sheet.claim(32, 32)
    assert sheet.blocks == []                        # nothing refused enters the solution
    c = sheet.claim(written("H + H"), 2 * H, why="collect terms")
    assert r"H + H &= 2 H" in latex.render_check(c, {id(c): 1})


def test_a_derivation_with_a_repeated_line_is_refused() -> None:
    sheet = Sheet()
    with pytest.raises(ProblemError, match="the left side and the first step print the same"):
        sheet.derive("H", [(H, "given"), (written("H + 0"), "add zero")])
    with pytest.raises(ProblemError, match=r"steps 1 and 2 print the same \(H \+ 1\)"):
        sheet.derive("y", [(H + 1, "start"), (1 + H, "commute")])
    with pytest.raises(ProblemError, match="steps 2 and 3"):
        sheet.derive("y", [(written("H + H"), "a"), (2 * H, "b"), (H * 2, "c")])
    assert sheet.blocks == []
    d = sheet.derive("y", [(written("H + H"), "start"), (2 * H, "collect terms")])
    assert d.status is Status.PROVED


# -- long vectors and tall matrices ---------------------------------------------------------
def test_vectors_longer_than_twelve_show_their_ends_and_length() -> None:
    summary = r"\left(0, 1, 2, 3, 4, 5, \ldots, 18, 19\right)\ \text{(20 values)}"
    for vector in (np.arange(20), list(range(20)), np.arange(20).reshape(20, 1),
                   sympy.Matrix(20, 1, list(range(20))), sympy.Matrix(1, 20, list(range(20)))):
        assert latex.value_tex(vector) == summary
    assert latex.value_tex(np.arange(12)) == (
        r"\left(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11\right)")   # twelve are shown in full
    assert r"\text{(13 values)}" in latex.value_tex(tuple(range(13)))


def test_matrices_taller_than_twelve_rows_show_their_shape() -> None:
    assert latex.value_tex(np.zeros((13, 2), dtype=int)) == (
        r"\text{(array of shape } 13 \times 2\text{)}")
    assert latex.value_tex(np.zeros((12, 2), dtype=int)).startswith(r"\begin{bmatrix}")


# -- the index of checks and the counts: one row per part, each kind of evidence as itself ---
def _rows(part: str, *rows: tuple[str, str, int]) -> list[dict]:
    return [{"part": part, "kind": k, "status": s, "instances": n} for k, s, n in rows]


ENTRIES = [
    {"id": "e-1",
     "parts": [{"label": "a", "status": "tested", "error": ""},
               {"label": "b", "status": "explanation", "error": ""}],
     "index": _rows("e-1(a)", ("claim", "proved", 0), ("claim", "proved", 0),
                    ("claim", "tested", 200), ("cross-check", "cross-checked", 0),
                    ("conditional", "cross-checked", 0))
              + _rows("e-1(b)", ("explanation", "explanation", 0), ("code", "explanation", 0),
                      ("experiment", "explanation", 0))},
    {"id": "e-2",
     "parts": [{"label": "", "status": "refuted", "error": ""}],
     "index": _rows("e-2", ("claim", "refuted", 0), ("cross-check", "refuted", 0))},
]


def test_evidence_words_and_part_summaries() -> None:
    assert [(p["short"], p["status"], p["what"]) for p in B.part_summaries(ENTRIES[0])] == [
        ("(a)", "tested", "2 claims proved, 1 claim tested on 200 instances, 1 cross-check, "
                          "1 comparison with PyTorch where installed"),
        ("(b)", "explanation", "1 explanation, 1 code listing, 1 experiment")]
    assert B.part_summaries(ENTRIES[1]) == [
        {"short": "", "status": "refuted", "what": "1 refuted, 1 cross-check"}]
    assert B.evidence_words(_rows("x", ("claim", "tested", 1))) == (
        "1 claim tested on 1 instance")
    assert B.evidence_words([]) == "nothing checked"


def test_totals_count_each_kind_of_evidence() -> None:
    t = B.totals(ENTRIES)
    assert (t["problems"], t["parts"], t["steps"]) == (2, 3, 4)
    assert (t["proved"], t["tested"], t["instances"]) == (2, 1, 200)
    # only agreeing cross-checks count; a comparison with an optional package separately
    assert (t["cross_checks"], t["conditional"]) == (1, 1)
    assert (t["explanations"], t["code"], t["experiments"], t["out_of_scope"]) == (1, 1, 1, 0)
    assert (t["refuted"], t["errors"]) == (2, 0)
    assert t["part_marks"] == {"tested": 1, "explanation": 1, "refuted": 1}


def test_part_summaries_of_a_solved_problem() -> None:
    result = _problem()
    entry = {"id": "x-1", "index": index_rows(result),
             "parts": [{"label": pr.part.label, "status": pr.status} for pr in result.parts]}
    assert [(p["short"], p["status"], p["what"]) for p in B.part_summaries(entry)] == [
        ("(a)", "tested", "1 claim proved, 1 claim tested on 500 instances, 1 cross-check"),
        ("(b)", "explanation", "1 explanation"),
        ("(c)", "out-of-scope", "1 out of scope"),
        ("(d)", "error", "nothing checked")]
