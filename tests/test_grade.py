"""Grading derivation files: the wrong line is found, correct work passes, LaTeX and plain
text agree, annotations apply where documented, malformed files are clear errors."""

from __future__ import annotations

import dataclasses
import json

import pytest
import sympy

from derive.check.verdict import Status
from derive.cli import main
from derive.errors import InputError, ParseError
from derive.grade import grade_file, grade_text
from derive.grade.reader import MAX_FILE_BYTES, MAX_LINE_CHARS, MAX_LINES, read_text
from derive.grade.notebook import derive_cell, report_html, report_latex

# The output size, derived in five lines.  WRONG drops the floor on line 3.
CORRECT = """\
floor((H + 2*P - D*(K - 1) - 1)/S) + 1
floor((H + 2*P - D*K + D - 1)/S) + 1
floor((H + 2*P - D*K + D - 1 + S)/S)
floor((H + 2*P - D*K + D + S - 1)/S)
output_size(H, K, P, S, D)
"""
WRONG = """\
floor((H + 2*P - D*(K - 1) - 1)/S) + 1
floor((H + 2*P - D*K + D - 1)/S) + 1
(H + 2*P - D*K + D - 1 + S)/S
(H + 2*P - D*K + D + S - 1)/S
output_size(H, K, P, S, D)
"""
CORRECT_TEX = r"""
\begin{align*}
  & \left\lfloor \frac{H + 2P - D(K-1) - 1}{S} \right\rfloor + 1 \\
  &= \left\lfloor \frac{H + 2P - DK + D - 1}{S} \right\rfloor + 1 \\
  &= \left\lfloor \frac{H + 2P - DK + D - 1 + S}{S} \right\rfloor \\
  &= \left\lfloor \frac{H + 2P - DK + D + S - 1}{S} \right\rfloor \\
  &= \operatorname{output\_size}(H, K, P, S, D)
\end{align*}
"""
WRONG_TEX = r"""
\begin{align*}
  & \left\lfloor \frac{H + 2P - D(K-1) - 1}{S} \right\rfloor + 1 \\
  &= \left\lfloor \frac{H + 2P - DK + D - 1}{S} \right\rfloor + 1 \\
  &= \frac{H + 2P - DK + D - 1 + S}{S} \\
  &= \frac{H + 2P - DK + D + S - 1}{S} \\
  &= \operatorname{output\_size}(H, K, P, S, D)
\end{align*}
"""


def _value(text: str, point: dict) -> sympy.Expr:
    """A line's value at a point, computed independently with SymPy substitution."""
    from derive.check.parse import parse_expression
    expr = parse_expression(text)
    return expr.subs({sympy.Symbol(k): v for k, v in point.items()})


def test_wrong_derivation_is_reported_at_line_3_with_a_counterexample(tmp_path) -> None:
    path = tmp_path / "work.txt"
    path.write_text(WRONG)
    report = grade_file(path)
    assert report.verdict is Status.REFUTED
    assert report.exit_code == 1
    wrong = report.first_wrong
    assert (wrong.line, wrong.column, wrong.previous_line) == (3, 1, 2)
    point = wrong.verdict.counterexample
    assert point and set(point) <= set("HKPSD")
    # both lines' values at the counterexample, checked independently, differ as reported
    lines = WRONG.splitlines()
    assert _value(lines[1], point) == wrong.verdict.lhs_value
    assert _value(lines[2], point) == wrong.verdict.rhs_value
    assert _value(lines[1], point) != _value(lines[2], point)
    assert [s.line for s in report.steps] == [2, 3, 4, 5]
    assert report.steps[0].status in (Status.PROVED, Status.TESTED)
    text = report.explain()
    assert "line 3, column 1" in text and "^" in text and "REFUTED" in text


def test_correct_derivation_every_step_proved_or_tested(tmp_path) -> None:
    path = tmp_path / "work.txt"
    path.write_text(CORRECT)
    report = grade_file(path)
    assert [s.status for s in report.steps] and all(
        s.status in (Status.PROVED, Status.TESTED) for s in report.steps)
    assert report.first_wrong is None
    assert report.exit_code in (0, 3)
    assert report.exit_code == (0 if report.verdict is Status.PROVED else 3)


@pytest.mark.parametrize("plain, tex", [(CORRECT, CORRECT_TEX), (WRONG, WRONG_TEX)])
def test_latex_gives_the_same_verdicts_as_plain_text(tmp_path, plain: str, tex: str) -> None:
    (tmp_path / "a.txt").write_text(plain)
    (tmp_path / "a.tex").write_text(tex)
    text_report = grade_file(tmp_path / "a.txt")
    tex_report = grade_file(tmp_path / "a.tex")
    assert tex_report.fmt == "latex"
    assert [s.status for s in tex_report.steps] == [s.status for s in text_report.steps]
    assert tex_report.verdict is text_report.verdict
    for a, b in zip(text_report.steps, tex_report.steps):
        assert sympy.simplify(a.expr - b.expr) == 0


def test_json_shape(tmp_path) -> None:
    data = grade_text(WRONG).to_dict()
    json.dumps(data)
    assert data["verdict"] == "refuted"
    assert data["first_wrong_line"] == 3
    step = data["steps"][1]
    assert {"line", "verdict", "method", "counterexample", "previous_value", "value",
            "column", "previous_line"} <= set(step)
    assert step["line"] == 3 and step["verdict"] == "refuted" and step["counterexample"]


def test_cli_file_words_json_and_exit_codes(tmp_path, capsys) -> None:
    path = tmp_path / "work.txt"
    path.write_text(WRONG)
    assert main(["verify", "--file", str(path)]) == 1
    out = capsys.readouterr().out
    assert "line 3" in out
    assert main(["verify", "--json", "--file", str(path)]) == 1
    assert json.loads(capsys.readouterr().out)["steps"][1]["line"] == 3
    path.write_text(CORRECT)
    assert main(["verify", "--file", str(path)]) in (0, 3)


# --- the file format -----------------------------------------------------------------------

def test_lhs_rhs_lines_are_claims_of_their_own() -> None:
    r = grade_text("ceiling(a/b) == floor((a + b - 1)/b)\n(a + b)**2 == a**2 + b**2\n")
    assert [s.status for s in r.steps][1] is Status.REFUTED
    assert r.steps[0].status is Status.PROVED
    assert [(s.line, s.previous_line) for s in r.steps] == [(1, 1), (2, 2)]


def test_leading_relation_and_chains_on_one_line() -> None:
    r = grade_text("x*(x + 1)\n= x**2 + x == x*x + x\n<= x**2 + 2*x")
    assert [s.relation for s in r.steps] == ["=", "==", "<="]
    assert [s.status for s in r.steps][:2] == [Status.PROVED, Status.PROVED]
    assert r.steps[2].status is Status.UNKNOWN and "not checked" in r.steps[2].verdict.method


def test_definitions_label_and_later_use() -> None:
    text = ("H_out = floor((H + 2*P - K)/S) + 1\n"
            "floor((H + 2*P - K + S)/S)\n"
            "H_out = output_size(H, K, P, S)\n"
            "H_out + 1 == floor((H + 2*P - K)/S) + 3\n")
    r = grade_text(text)
    assert [d.name for d in r.definitions] == ["H_out"]
    assert [s.line for s in r.steps] == [2, 3, 4]
    assert r.steps[0].status is Status.PROVED
    assert r.steps[1].status in (Status.PROVED, Status.TESTED)   # definition vs the engine
    assert r.steps[2].status is Status.REFUTED                   # the definition is used


def test_assumptions_apply_below_their_line() -> None:
    before = grade_text("# assume: s >= 2\nfloor((s + 1)/s)\n1\n")
    assert before.steps[0].status in (Status.PROVED, Status.TESTED)
    assert before.steps[0].assume == ("s >= 2",)
    after = grade_text("floor((s + 1)/s)\n1\n# assume: s >= 2\n")
    assert after.steps[0].status is Status.REFUTED
    assert after.steps[0].verdict.counterexample == {"s": 1}
    both = grade_text("# assume: s >= 2; t >= 3\nfloor((s + 1)/s)\n1\n")
    assert both.steps[0].assume == ("s >= 2", "t >= 3")
    cli = grade_text("floor((s + 1)/s)\n1\n", assume=["s >= 2"])
    assert cli.steps[0].status in (Status.PROVED, Status.TESTED)


def test_because_annotations() -> None:
    r = grade_text("# because: distribute\na*(b + c)\na*b + a*c\n"
                   "a*c + a*b  # because: commute\n")
    assert [s.because for s in r.steps] == ["distribute", "commute"]
    tex = grade_text("% because: distribute\n$$ a(b + c) = ab + ac $$", fmt="latex")
    assert tex.steps[0].because == "distribute"
    tex = grade_text(r"\begin{align*} a(b+c) &= ab + ac && \text{distribute} \end{align*}")
    assert tex.steps[0].because == "distribute"
    tex = grade_text("\\begin{align*}\n a(b+c) &= ab + ac \\\\\n &= ac + ab % because: commute\n"
                     "\\end{align*}")
    assert [s.because for s in tex.steps] == ["", "commute"]


def test_latex_assume_comment() -> None:
    r = grade_text("% assume: s >= 2\n$$ \\left\\lfloor \\frac{s+1}{s} \\right\\rfloor = 1 $$")
    assert r.steps[0].status in (Status.PROVED, Status.TESTED)


def test_parse_error_points_at_the_line_and_column() -> None:
    with pytest.raises(ParseError) as info:
        read_text("a + b\nb + a\n  c +* d\n")
    assert info.value.line == 3 and info.value.column is not None
    with pytest.raises(ParseError) as info:
        read_text("a\nb + __import__('os')\n")
    assert info.value.line == 2 and info.value.column == 5


# --- malformed files -------------------------------------------------------------------------

@pytest.mark.parametrize("content, error, words", [
    (b"", InputError, "empty"),
    (b"   \n\n  \t\n", InputError, "empty"),
    (b"# only a comment\n", InputError, "no expression"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", InputError, "not a text file"),
    (b"a + b\n\xff\xfe broken", InputError, "not UTF-8"),
    (b"a\x07 + b\nb", ParseError, "control character"),
    (b"\\begin{align*} a &= \\frac{b}{c \\end{align*}", ParseError, "ends too early"),
    (b"$$ a = \\frac{b}{c $$", ParseError, "ends too early"),
    (b"$$ a = b", ParseError, "never closed"),
    (b"a + (b\nb\n", ParseError, "line 1"),
    (("x\n" * (MAX_LINES + 8_000)).encode(), InputError, "lines"),
    (b"x + " * (MAX_LINE_CHARS // 4 + 10) + b"x\n", ParseError, "characters long"),
    (b"= a\nb\n", ParseError, "no expression before it"),
    (b"a ==\n", ParseError, "missing expression"),
    (b"# assume: s >= \na\nb\n", ParseError, "assumption"),
])
def test_malformed_files_are_clear_errors(tmp_path, capsys, content: bytes, error, words) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(error, match=words):
        grade_file(path)
    # the command line: exit 2, one line, no traceback
    assert main(["verify", "--file", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip()


def test_ten_thousand_lines_and_oversized_files(tmp_path) -> None:
    path = tmp_path / "long.txt"
    path.write_text("x + 1\n" * 10_000)
    with pytest.raises(InputError, match="10,000 lines"):
        grade_file(path)
    path.write_bytes(b"x" * (MAX_FILE_BYTES + 1))
    with pytest.raises(InputError, match="bytes"):
        grade_file(path)
    with pytest.raises(InputError, match="cannot read"):
        grade_file(tmp_path / "missing.txt")
    with pytest.raises(InputError, match="directory"):
        grade_file(tmp_path)
    with pytest.raises(InputError, match="format"):
        grade_file(path, fmt="pdf")


def test_a_single_expression_has_nothing_to_check() -> None:
    r = grade_text("x + 1")
    assert r.steps == () and r.verdict is Status.UNKNOWN and r.exit_code == 3
    assert "no step" in r.explain()


# --- notebook display ----------------------------------------------------------------------

def test_html_and_latex_reprs_carry_marks() -> None:
    good, bad = grade_text(CORRECT), grade_text(WRONG)
    assert "&#10004;" in good._repr_html_() or "&#8776;" in good._repr_html_()
    assert "&#10008;" in bad._repr_html_() and "line 3" in bad._repr_html_()
    latex = bad._repr_latex_()
    assert latex.startswith("$$") and r"\times" in latex and r"\begin{aligned}" in latex
    assert report_html(good) == good._repr_html_()
    assert report_latex(good).count(r"\\") == len(good.steps)
    html_escaped = report_html(grade_text("a*b\n<= a*b + 1"))
    assert "<text>" not in html_escaped and "&lt;text&gt;" not in html_escaped  # a placeholder
    assert "<code>a*b</code>" in html_escaped and "&le; <code>a*b + 1</code>" in html_escaped
    named = report_html(dataclasses.replace(grade_text("a*b\nb*a"), source="a<b&c.txt"))
    assert "a&lt;b&amp;c.txt: proved" in named and "a<b" not in named


def test_cell_magic_function_and_bad_input(capsys) -> None:
    report = derive_cell('--assume "s >= 2"', "floor((s + 1)/s)\n1")
    assert report is not None and report.steps[0].assume == ("s >= 2",)
    assert derive_cell("--latex", r"$$ a(b+c) = ab + ac $$").verdict is Status.PROVED
    assert derive_cell("", "a +") is None
    assert "derive:" in capsys.readouterr().out
    assert derive_cell("--unknown-option", "a") is None


def test_ipython_extension_registers_the_magic() -> None:
    IPython = pytest.importorskip("IPython", reason="IPython not installed")
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython() or IPython.get_ipython()
    ip.run_line_magic("load_ext", "derive.grade.notebook")
    result = ip.run_cell_magic("derive", "", "2*(x + 1)\n2*x + 2")
    assert result.verdict is Status.PROVED
