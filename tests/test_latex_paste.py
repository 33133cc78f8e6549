r"""LaTeX as people paste it: thousands separators, sentence punctuation, \operatorname,
\approx as a numeric step, \implies between equations, \dots in sums, the evaluation bar.

Each form gives the same verdict through ``--file``, ``--batch`` (a JSON line) and the
library call; the false ones are never proved; the unreadable ones are refused with line,
column and what to write instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from derive.check.verdict import Status
from derive.cli import main
from derive.errors import ParseError
from derive.grade.batch import grade_item
from derive.grade.report import grade_text

P, T, R, U = Status.PROVED, Status.TESTED, Status.REFUTED, Status.UNKNOWN

CASES = [
    # the examples of the reading rules: Leibniz notation, applied functions, operator names
    (r"$$ \frac{d}{dx} x^2 = 2x $$", P),
    (r"$$ \frac{d}{dx} x^2 = x $$", R),
    (r"$$ \frac{\mathrm{d}}{\mathrm{d}x}(x^3) = x^2 $$", R),
    (r"$$ \frac{dL}{dw} = \frac{L}{w} $$", (R, T, U)),
    ("% assume: m >= 0, m <= K - 1\n"
     r"$$ \frac{d}{d w_m} \sum_{u=0}^{K-1} w_u x_{i+u} = x_{i+m} $$", P),
    (r"$$ \sigma(a + b) = \sigma(a) + \sigma(b) $$", (R, T, U)),
    (r"$$ g(a+b) = g(a) + g(b) $$", (R, T, U)),
    (r"$$ \log 2n = n \log 2 $$", R),
    (r"$$ \sin 2x = 2 \sin x \cos x $$", (P, T)),
    (r"$$ \exp 2x = (\exp x)^2 $$", (P, T)),
    ("\\begin{align*} 2a + 3a &= 5a \\text{ terms} \\\\ &= 5a \\quad \\text{done} \\end{align*}", P),
    (r"$$ e^{\ln 2} = 2 $$", P),
    ("\\begin{align*} r_L &= 1 + 2L \\\\ &= 2L + 1 \\\\ &= 2L \\end{align*}", R),
    ("\\begin{align*} a + a &= 2a & b b &= b^2 \\end{align*}", P),
    # thousands separators
    (r"$$ 3 \times 3 \times 64 \times 128 = 73{,}728 $$", P),
    (r"$$ 3 \times 3 \times 64 \times 128 = 73\,729 $$", R),
    (r"$$ 1{,}000{,}000 = 10^6 $$", P),
    # sentence punctuation after a formula
    ("\\begin{align*} a(b + c) &= ab + ac, \\\\ &= ac + ab. \\end{align*}", P),
    ("\\begin{align*} (a + b)^2 &= a^2 + b^2, \\\\ &= b^2 + a^2. \\end{align*}", R),
    (r"$$ x + x = 2x. $$", P),
    # the rectifier and other operator names
    (r"$$ \operatorname{ReLU}(x) = \max(x, 0) $$", P),
    ("% assume: a real, b real\n"
     r"$$ \operatorname{ReLU}(a + b) = \operatorname{ReLU}(a) + \operatorname{ReLU}(b) $$", R),
    ("% assume: x real\n" r"$$ \mathrm{ReLU}(x) - \mathrm{ReLU}(-x) = x $$", (P, T)),
    ("% assume: x real\n" r"$$ \mathrm{ReLU}(x) + \mathrm{ReLU}(-x) = x $$", R),
    # \approx: a numeric step within half a unit of the last decimal written
    (r"$$ \pi \approx 3.1416 $$", P),
    (r"$$ \frac{1}{3} \approx 0.333 $$", P),
    (r"$$ \frac{2}{3} \approx 0.666 $$", R),
    ("\\begin{align*} \\sqrt{2} &\\approx 1.41421 \\\\ &\\approx 1.414 \\end{align*}", P),
    (r"$$ \pi \approx 3.2 $$", R),
    (r"$$ \frac{H}{3} \approx 0.33 $$", U),
    # \implies: the next equation is checked under the ones before
    (r"$$ x = 2 \implies x^2 = 4 $$", P),
    (r"$$ 2a = 6 \implies a = 3 $$", P),
    (r"$$ 2a = 6 \Rightarrow a = 4 $$", R),
    ("\\begin{align*} 3x + 1 &= 7 \\\\ &\\implies x = 2 \\end{align*}", P),
    # \dots between the terms of a sum of one pattern
    (r"$$ \sum_{k=1}^{n} k = 1 + 2 + \dots + n $$", P),
    (r"$$ 1 + 3 + 5 + \cdots + (2n - 1) = n^2 $$", P),
    (r"$$ 1 + 2 + \dots + n = n^2 $$", R),
    ("% assume: s >= 2\n" r"$$ 1 + s + s^2 + \dots + s^{L-1} = \frac{s^L - 1}{s - 1} $$", P),
    # the evaluation bar
    (r"$$ \left. \frac{d}{dx} x^3 \right|_{x=2} = 12 $$", P),
    (r"$$ \left. \frac{d}{dx} x^3 \right|_{x=2} = 11 $$", R),
]


def _batch(text: str) -> Status:
    row = grade_item(json.dumps({"id": "s", "derivation": text, "format": "latex"}))
    assert row["verdict"] != "error", row
    return Status(row["status"])          # the checker's status ("verdict" is the grader's)


@pytest.mark.parametrize("text, expected", CASES)
def test_pasted_forms_get_the_right_verdict_everywhere(text: str, expected: Any,
                                                       tmp_path: Path, capsys) -> None:
    allowed = expected if isinstance(expected, tuple) else (expected,)
    got = grade_text(text, fmt="latex").verdict
    assert got in allowed
    assert _batch(text) is got
    path = tmp_path / "step.tex"
    path.write_text(text, encoding="utf-8")
    code = main(["verify", "--file", str(path), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == got.value
    assert code == {P: 0, R: 1, T: 3, U: 3}[got]


def test_approximate_steps_say_so_and_show_both_values() -> None:
    step = grade_text(r"$$ \pi \approx 3.1416 $$", fmt="latex").steps[0]
    assert step.relation == "~="
    assert step.verdict.method.startswith("approximate: |lhs - rhs| <= 5e-05")
    assert step.verdict.lhs_value.startswith("3.14159265")
    wrong = grade_text(r"$$ \frac{2}{3} \approx 0.666 $$", fmt="latex")
    assert "> 0.0005" in wrong.steps[0].verdict.method
    assert "0.666666" in wrong.explain()


def test_implications_show_the_equation_they_follow_from() -> None:
    step = grade_text(r"$$ 2a = 6 \implies a = 3 $$", fmt="latex").steps[-1]
    assert any("2*a == 6" in a for a in step.assume), step.assume


def test_a_false_implication_is_not_proved_on_reals() -> None:
    r = grade_text("% assume: x real\n$$ x^2 = 4 \\implies x = 2 $$", fmt="latex")
    assert r.verdict is not Status.PROVED


@pytest.mark.parametrize("text, column, words", [
    (r"$$ 1 + 2 + 4 + \dots + n $$", 16, "not term 3"),
    (r"$$ x_1 y_n + \dots + x_n y_1 $$", 14, "not a term of the pattern"),
    (r"$$ 1 - 2 + \dots + n $$", 12, r"terms added"),
    (r"$$ 1 \cdot 2 \cdots n $$", 14, r"\sum"),
    (r"$$ \left( a + b \right. $$", 17, "evaluation bar"),
    (r"$$ \left. a + b \right) $$", 4, "evaluation bar"),
])
def test_unreadable_pasted_forms_are_refused_with_the_place_and_the_fix(
        text: str, column: int, words: str) -> None:
    with pytest.raises(ParseError) as info:
        grade_text(text, fmt="latex")
    assert info.value.line == 1 and info.value.column == column, str(info.value)
    assert words in str(info.value)


def test_assumptions_separated_by_commas_as_written_in_the_course() -> None:
    text = ("% assume: m >= 0, m <= K - 1\n"
            r"$$ \frac{d}{d w_m} \sum_{u=0}^{K-1} w_u x_{i+u} = x_{i+m} $$")
    r = grade_text(text, fmt="latex")
    assert r.verdict is Status.PROVED
    assert r.steps[0].assume == ("m >= 0", "m <= K - 1")
    plain = grade_text("# assume: a, b real\n(a - b)**2\na**2 - 2*a*b + b**2\n")
    assert plain.verdict is Status.PROVED
