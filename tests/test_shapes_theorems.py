"""Dumoulin & Visin's relationships and the padding/pooling rules as checked theorems;
wrong formulas refuted with small counterexamples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from derive.check.engine import check_exprs, verify
from derive.conv.shapes import output_size
from derive.conv.theorems import (
    common_mistakes, dumoulin_visin_theorems, model_output_size_theorem,
    padding_and_pooling_theorems,
)

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
if not REFERENCE.exists():
    REFERENCE = Path("/work/shared/reference")
CONV_ARITHMETIC = json.loads((REFERENCE / "conv_arithmetic.json").read_text())

DV = {t.name: t for t in dumoulin_visin_theorems()}
# the one relationship whose proof needs a remainder lemma the checker does not have
NOT_PROVED = {"DV14r"}


def test_every_relationship_of_the_paper_is_stated() -> None:
    numbers = {r["n"] for r in CONV_ARITHMETIC["relationships"]}
    stated = {int("".join(ch for ch in name[2:] if ch.isdigit())) for name in DV}
    assert stated == numbers
    for t in DV.values():
        number = int("".join(ch for ch in t.name[2:] if ch.isdigit()))
        assert t.source.endswith(f"relationship {number}")


@pytest.mark.parametrize("name", sorted(DV))
def test_dumoulin_visin_relationship(name: str) -> None:
    verdict = DV[name].check()
    assert not verdict.refuted, verdict.explain()
    if name in NOT_PROVED:
        assert verdict.status.value in ("proved", "tested"), verdict.explain()
    else:
        assert verdict.proved, verdict.explain()


def test_substitution_is_applied() -> None:
    lhs, rhs = DV["DV13"].sides()
    assert "m" in {s.name for s in rhs.free_symbols}
    assert "i" not in {s.name for s in lhs.free_symbols | rhs.free_symbols}


def test_dropping_a_side_condition_is_caught() -> None:
    """DV13 without the divisibility substitution is false: the checker finds why."""
    t = DV["DV13"]
    v = check_exprs(t.lhs, t.rhs, assume=["i + 2*p >= k"])
    assert v.refuted
    ce = v.counterexample
    assert (ce["i"] + 2 * ce.get("p", 0) - ce["k"]) % ce["s"] != 0


def test_model_theorem_is_proved() -> None:
    assert model_output_size_theorem(2, 1).check().proved


@pytest.mark.parametrize("theorem", padding_and_pooling_theorems(), ids=lambda t: t.name)
def test_padding_and_pooling(theorem) -> None:
    verdict = theorem.check()
    assert not verdict.refuted, verdict.explain()
    if theorem.name not in ("same-padding", "pool-ceil-no-drop"):
        assert verdict.proved, verdict.explain()


def test_pool_ceil_drop_is_needed() -> None:
    """Without the last-window check, ceil mode would count a window starting in the right
    padding: the checker refutes the naive ceiling formula once padding is allowed."""
    from derive.conv.shapes import pool_output_size
    from derive.symbols import sym
    import sympy

    n, k, s, p = (sym(x) for x in ("n", "k", "s", "p"))
    v = check_exprs(pool_output_size(n, k, p, s, ceil_mode=True),
                    sympy.ceiling((n + 2 * p - k) / s) + 1,
                    assume=["n + 2*p >= k", "2*p <= k"])
    assert v.refuted, v.explain()


# ----------------------------------------------------------------- wrong formulas

@pytest.mark.parametrize("theorem", [t for t in common_mistakes()
                                     if not t.name.startswith("mistake-rf")],
                         ids=lambda t: t.name)
def test_wrong_size_formulas_are_refuted(theorem) -> None:
    verdict = theorem.check()
    assert verdict.refuted, verdict.explain()
    ce = verdict.counterexample
    assert all(abs(v) <= 6 for v in ce.values()), ce
    # the counterexample is a valid configuration and both values are right
    n, k, p, s, d = ce["H"], ce["K"], ce.get("P", 0), ce["S"], ce.get("D", 1)
    assert d * (k - 1) + 1 <= n + 2 * p
    assert verdict.lhs_value == output_size(n, k, p, s, d)
    assert verdict.lhs_value != verdict.rhs_value


def test_typed_claims_are_refuted() -> None:
    missing_dilation = verify(
        "floor((H + 2*P - D*(K - 1) - 1)/S) + 1 == floor((H + 2*P - K)/S) + 1",
        assume=["H + 2*P >= D*(K - 1) + 1"])
    assert missing_dilation.refuted and missing_dilation.counterexample["D"] >= 2
    missing_floor = verify("floor((H + 2*P - K)/S) + 1 == (H + 2*P - K)/S + 1",
                           assume=["H + 2*P >= K"])
    assert missing_floor.refuted and missing_floor.counterexample["S"] >= 2
    right = verify("floor((H + 2*P - D*(K - 1) - 1)/S) + 1 == "
                   "floor((H + 2*P - K - (K - 1)*(D - 1))/S) + 1",
                   assume=["H + 2*P >= D*(K - 1) + 1"])
    assert right.proved
