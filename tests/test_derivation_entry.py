"""``derive.check_derivation`` and ``check_chain``: every stand-alone claim is checked
wherever it stands, and a derivation that checked nothing is never "proved"."""

from __future__ import annotations

import pytest
import sympy
from sympy import Eq, floor

import derive
from derive.check.derivation import check_chain, check_derivation
from derive.check.verdict import Status
from derive.cli import main
from derive.errors import InputError, ParseError

a = sympy.Symbol("a")
FALSE_CLAIM = Eq(floor(a / 2) + floor((a + 1) / 2), a + 1, evaluate=False)   # a = 1: 1 != 2
TRUE_CLAIM = Eq(floor(a / 2) + floor((a + 1) / 2), a, evaluate=False)


@pytest.mark.parametrize("claim", [FALSE_CLAIM, (FALSE_CLAIM.lhs, FALSE_CLAIM.rhs),
                                   "floor(a/2) + floor((a + 1)/2) == a + 1"])
def test_a_false_claim_alone_is_refuted(claim) -> None:
    r = check_derivation([claim])
    assert r.status is Status.REFUTED
    assert r.first_failure is r.steps[0]
    assert r.steps[0].verdict.counterexample == {"a": 1}


def test_a_first_claim_is_checked_and_the_chain_continues_from_its_right_side() -> None:
    r = check_derivation([TRUE_CLAIM, "a + 0", "2*a"], whys=["lemma", "tidy", "oops"])
    assert [s.index for s in r.steps] == [1, 2, 3]
    assert [s.why for s in r.steps] == ["lemma", "tidy", "oops"]
    assert [s.verdict.status for s in r.steps] == [Status.PROVED, Status.PROVED,
                                                  Status.REFUTED]
    assert r.first_failure.index == 3
    assert r.steps[2].verdict.lhs_value == 1 and r.steps[2].verdict.rhs_value == 2


def test_a_claim_anywhere_is_checked_on_its_own() -> None:
    r = check_derivation(["2*a", "a + a", FALSE_CLAIM, "a + 1"])
    assert r.steps[0].verdict is None
    assert [s.verdict.status for s in r.steps[1:]] == [Status.PROVED, Status.REFUTED,
                                                      Status.PROVED]
    assert r.first_failure.index == 3


def test_an_empty_derivation_is_bad_input() -> None:
    with pytest.raises(InputError, match=r"got steps=\[\]"):
        check_derivation([])
    with pytest.raises(InputError, match="got steps='a == b'"):
        check_derivation("a == b")                   # text, not a list of steps


def test_a_single_expression_checks_nothing_and_says_so() -> None:
    r = check_derivation(["a + b"])
    assert r.status is Status.UNKNOWN
    assert r.checked == 0
    assert "nothing to check" in r.explain()


def test_truth_values_and_other_relations_are_not_steps() -> None:
    # Eq(a, a + 1) is evaluated by SymPy to False as it is built: not an expression.
    with pytest.raises(InputError, match=r"steps\[0\]=False"):
        check_derivation([Eq(a, a + 1)])
    with pytest.raises(InputError, match=r"steps\[1\]"):
        check_derivation([a, sympy.Le(a, 2)])
    with pytest.raises(ParseError, match="comparison with <"):
        check_derivation(["a", "a < 2"])


def test_more_reasons_than_steps_is_bad_input() -> None:
    with pytest.raises(InputError, match="whys"):
        check_derivation(["a", "a"], whys=["x", "y", "z"])


def test_check_chain_refuses_a_first_claim_it_cannot_report() -> None:
    # Its verdicts line up with exprs[1:], so a first claim has no place: refused, not
    # dropped (it used to be silently skipped).
    with pytest.raises(InputError, match="stand-alone claim"):
        check_chain([FALSE_CLAIM])
    verdicts = check_chain([2 * a, a + a, FALSE_CLAIM, a + 1])
    assert [v.status for v in verdicts] == [Status.PROVED, Status.REFUTED, Status.PROVED]


def test_the_public_entry_point() -> None:
    assert derive.check_derivation([FALSE_CLAIM]).status is Status.REFUTED


def test_a_one_line_derivation_file_says_nothing_was_checked(tmp_path, capsys) -> None:
    path = tmp_path / "one.txt"
    path.write_text("a + b\n")
    assert main(["verify", "--file", str(path)]) == 3
    assert "no step to check" in capsys.readouterr().out
    path.write_text("floor(a/2) + floor((a + 1)/2) = a + 1\n")
    assert main(["verify", "--file", str(path)]) == 1
