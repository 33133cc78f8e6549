"""Given values in derivations (``# given: H = 32``), single ``=`` in assumptions, and the
hints a report gives when numbers are substituted without values or a divisor may vanish."""

from __future__ import annotations

import json

import pytest

from derive.check.verdict import Status
from derive.cli import main
from derive.errors import ParseError
from derive.grade import grade_file, grade_text

# A worked example: the output size at H = 32, K = 5, P = 2, S = 1.
NUMBERS = """\
floor((H - K + 2*P)/S) + 1
(32 - 5 + 4)/1 + 1
32
"""


def test_given_line_fixes_the_values_for_the_steps_below() -> None:
    r = grade_text("# given: H = 32, K = 5, P = 2, S = 1\n" + NUMBERS)
    assert [s.status for s in r.steps] == [Status.PROVED, Status.PROVED]
    assert r.steps[0].assume == ("H == 32", "K == 5", "P == 2", "S == 1")
    assert r.exit_code == 0
    # a given written below a step does not apply to it
    late = grade_text(NUMBERS + "# given: H = 32, K = 5, P = 2, S = 1\n")
    assert late.steps[0].status is Status.REFUTED


def test_wrong_arithmetic_with_given_values_is_still_refuted() -> None:
    r = grade_text("# given: H = 32, K = 5, P = 2, S = 1\n"
                   "floor((H - K + 2*P)/S) + 1\n(32 - 5 + 4)/1 + 1\n33\n")
    assert r.steps[0].status is Status.PROVED
    assert r.steps[1].status is Status.REFUTED and r.first_wrong.line == 4
    assert "substitutes numbers" not in r.explain()     # values were given


def test_given_in_latex() -> None:
    tex = "% given: H = 32, K = 5\n$$ H - K + 1 = 28 $$\n"
    r = grade_text(tex, fmt="latex")
    assert r.verdict is Status.PROVED and r.steps[0].assume == ("H == 32", "K == 5")
    wrong = grade_text("% given: H = 32, K = 5\n$$ H - K + 1 = 29 $$\n", fmt="latex")
    assert wrong.verdict is Status.REFUTED


def test_given_values_must_be_name_equals_number() -> None:
    from derive.grade.reader import given_assumptions
    assert given_assumptions("H = 32; K == 5, x=-1, r = 3/2") == \
        "H == 32; K == 5; x == -1; r == 3/2"
    with pytest.raises(ParseError, match="must be a number") as info:
        grade_text("# given: H = 32, K = x\nH\n32\n")
    assert info.value.line == 1 and info.value.column == 18    # the item "K = x"
    with pytest.raises(ParseError, match="NAME = number"):
        grade_text("# given: H >= 32\nH\n32\n")
    with pytest.raises(ParseError, match="NAME = number"):
        grade_text("% given: 2 = H\n$$ H = 2 $$\n", fmt="latex")


def test_contradictory_given_and_assumption_is_bad_input() -> None:
    r = grade_text("# given: H = 32\n# assume: H <= 10\n2*H\n64\n")
    assert r.steps[0].status is Status.ERROR
    assert "contradictory" in r.steps[0].verdict.method


def test_single_equals_in_assume_is_an_equality() -> None:
    from derive.grade.reader import split_assumptions
    # before: '# assume: H = 32' was a syntax error
    assert split_assumptions("H = 32; s >= 2; a == b; c != d; e <= 1") == [
        "H == 32", "s >= 2", "a == b", "c != d", "e <= 1"]
    r = grade_text("# assume: H = 32\nH + 1\n33\n")
    assert r.verdict is Status.PROVED and r.steps[0].assume == ("H == 32",)
    cli = grade_text("H + 1\n33\n", assume=["H = 32"])
    assert cli.verdict is Status.PROVED


def test_cli_given_option_and_single_equals_assume(capsys) -> None:
    assert main(["verify", "--given", "H=32, K=5", "H - K == 27"]) == 0
    assert "PROVED" in capsys.readouterr().out
    assert main(["verify", "--given", "H=32", "--given", "K=5", "H - K == 28"]) == 1
    capsys.readouterr()
    assert main(["verify", "--assume", "H = 3", "H == 3"]) == 0
    capsys.readouterr()
    assert main(["verify", "--given", "H=x", "H == 3"]) == 2
    assert "must be a number" in capsys.readouterr().err


def test_substituted_numbers_without_values_say_what_to_declare(tmp_path, capsys) -> None:
    r = grade_text(NUMBERS)
    wrong = r.first_wrong
    assert wrong is not None and wrong.line == 2 and wrong.status is Status.REFUTED
    assert wrong.hint == ("line 2 substitutes numbers for H, K, P, S; declare them with "
                          "`# given: H = ..., K = ..., P = ..., S = ...`")
    assert wrong.hint in r.explain()
    assert r.to_dict()["steps"][0]["hint"] == wrong.hint
    path = tmp_path / "work.txt"
    path.write_text(NUMBERS)
    assert main(["verify", "--file", str(path)]) == 1
    assert "declare them with `# given: H = ..." in capsys.readouterr().out
    assert main(["verify", "--json", "--file", str(path)]) == 1
    assert "# given:" in json.loads(capsys.readouterr().out)["steps"][0]["hint"]
    # a refuted step that keeps its symbols gets no such hint
    assert grade_text("(a + b)**2\na**2 + b**2\n").first_wrong.hint == ""


def test_latex_hint_uses_percent_comments() -> None:
    r = grade_text("$$ H - K + 1 = 28 $$", fmt="latex")
    assert r.first_wrong.hint.endswith("`% given: H = ..., K = ...`")


def test_undefined_point_surfaces_the_assumption_to_add() -> None:
    r = grade_text("(s**L - 1)/(s - 1)\nSum(s**k, (k, 0, L - 1))\n")
    step = r.steps[0]
    assert step.status is Status.REFUTED and step.verdict.undefined_side
    assert "add an assumption that excludes it, such as" in step.hint
    assert "add an assumption that excludes it" in r.explain()
    data = r.to_dict()["steps"][0]
    assert data["detail"].startswith("add an assumption") and data["hint"] == step.hint
    proved = grade_text("# assume: s >= 2\n(s**L - 1)/(s - 1)\nSum(s**k, (k, 0, L - 1))\n")
    assert proved.verdict is Status.PROVED and proved.steps[0].hint == ""


def test_divisor_not_shown_non_zero_suggests_an_assumption() -> None:
    r = grade_text("# assume: x - y != 0\nx/(x - y)\nx/(x - y) + 0\n")
    step = r.steps[0]
    assert step.status is Status.TESTED and "could not be shown non-zero" in step.verdict.method
    assert step.hint == ("the divisor x - y may be zero; add an assumption that excludes it, "
                         "such as `# assume: x - y > 0` (or `< 0`)")
    assert "hint: the divisor x - y may be zero" in r.explain()
    # the suggestion works
    fixed = grade_text("# assume: x - y > 0\nx/(x - y)\nx/(x - y) + 0\n")
    assert fixed.verdict is Status.PROVED
