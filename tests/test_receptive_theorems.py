"""Araujo et al.'s closed forms proved equal to the recurrence; symbolic depth; the
'k - 1 per layer' mistake refuted."""

from __future__ import annotations

import pytest
import sympy

from derive.check.engine import check_exprs, verify
from derive.conv.layers import Layer
from derive.conv.receptive import receptive_field, repeated_receptive_field
from derive.conv.theorems import (
    closed_form_induction, common_mistakes, receptive_field_theorems,
    repeated_layer_theorems,
)
from derive.symbols import sym


@pytest.mark.parametrize("theorem", receptive_field_theorems((1, 2, 3)), ids=lambda t: t.name)
def test_closed_forms_equal_recurrence_at_fixed_depth(theorem) -> None:
    verdict = theorem.check()
    assert verdict.proved, verdict.explain()


@pytest.mark.parametrize("theorem", repeated_layer_theorems(), ids=lambda t: t.name)
def test_symbolic_depth(theorem) -> None:
    verdict = theorem.check()
    assert verdict.proved, verdict.explain()


def test_induction_over_depth() -> None:
    steps = closed_form_induction()
    checked = [s for s in steps if s.verdict is not None]
    assert len(checked) >= 6
    assert all(s.verdict.proved for s in checked), [s.verdict.explain() for s in checked]
    assert any("peel" in s.why for s in steps)


def test_geometric_and_linear_forms() -> None:
    L = sym("L", nonnegative=True)
    k, s = sym("k"), sym("s")
    rf = repeated_receptive_field(L, k, s)
    assert isinstance(rf.size, sympy.Piecewise)
    linear, geometric = rf.size.args[0][0], rf.size.args[1][0]
    assert check_exprs(linear, 1 + L * (k - 1)).proved
    assert check_exprs(geometric, 1 + (k - 1) * (s ** L - 1) / (s - 1), assume=["s >= 2"]).proved


def test_an_incorrect_closed_form_is_refuted() -> None:
    """Guard against a checker that proves everything: a wrong geometric sum is refuted."""
    L = sym("L", nonnegative=True)
    k, s = sym("k"), sym("s")
    size = repeated_receptive_field(L, k, s).size.args[1][0]
    v = check_exprs(size, 1 + (k - 1) * s ** L, assume=["s >= 2"])
    assert v.refuted


@pytest.mark.parametrize("theorem", [t for t in common_mistakes()
                                     if t.name.startswith("mistake-rf")], ids=lambda t: t.name)
def test_k_minus_one_per_layer_is_refuted(theorem) -> None:
    verdict = theorem.check()
    assert verdict.refuted, verdict.explain()
    ce = verdict.counterexample
    assert ce["s"] >= 2 and all(v <= 4 for v in ce.values())
    depth = ce.get("L", 2)
    true_size = receptive_field([Layer("conv", kernel=ce["k"], stride=ce["s"])] * depth).size
    assert verdict.lhs_value == true_size != verdict.rhs_value


def test_typed_receptive_field_claim() -> None:
    v = verify("k*s + k - s == 1 + 2*(k - 1)")
    assert v.refuted and v.counterexample["s"] >= 2
