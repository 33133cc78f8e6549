"""Residual path expansion: SymPy's expansion, the path enumeration and the closed-form
counts against brute force (bit masks, finite differences, substitution)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
from hypothesis import example, given, settings, strategies as st

from derive.conv.residual import (
    MAX_MATERIALIZED, Path, block_form, compare_activation, expand_residual, forward_equations,
    jacobian_product, jacobians, loss_gradient, numeric_path_check, path_count,
    path_count_by_length, path_count_identity, path_counts, path_tree, paths, unrolled_forward,
)
from derive.errors import ConfigurationError, InputError


def popcount_histogram(n: int) -> dict[int, int]:
    """Brute force: count the subsets of n blocks by size, from bit masks."""
    out = {k: 0 for k in range(n + 1)}
    for mask in range(2 ** n):
        out[bin(mask).count("1")] += 1
    return out


@example(n=1)
@example(n=3)
@given(st.integers(min_value=1, max_value=8))
@settings(max_examples=12, deadline=None)
def test_expansion_terms_by_degree_match_bit_masks(n: int) -> None:
    e = expand_residual(n)
    assert e.agrees()
    by_degree = {k: len(sympy.Add.make_args(v)) if v != 0 else 0
                 for k, v in e.terms_by_length().items()}
    assert by_degree == popcount_histogram(n)
    assert e.counts() == popcount_histogram(n)


def test_twelve_blocks_are_materialized() -> None:
    e = expand_residual(MAX_MATERIALIZED)
    assert len(e.terms) == 4096 and e.agrees()
    assert e.counts()[6] == 924


def test_thirteen_blocks_are_refused_with_the_argument_named() -> None:
    with pytest.raises(ConfigurationError, match=r"got n=13"):
        expand_residual(13)
    with pytest.raises(ConfigurationError, match=r"n must be an integer >= 1"):
        paths(0)


@given(st.integers(min_value=0, max_value=16))
def test_closed_form_counts_match_bit_masks(n: int) -> None:
    assert path_counts(n) == popcount_histogram(n)
    assert path_count(n) == sum(popcount_histogram(n).values())


@example(n=1000)
@given(st.integers(min_value=0, max_value=1200))
@settings(max_examples=30)
def test_closed_form_counts_for_large_n(n: int) -> None:
    counts = path_counts(n)
    k = n // 3
    assert counts[k] == math.comb(n, k) == path_count_by_length(n, k)
    assert sum(counts.values()) == path_count(n) == 2 ** n


def test_symbolic_counts_and_the_checked_identity() -> None:
    n, k = sympy.symbols("n k", integer=True, nonnegative=True)
    assert path_count_by_length(n, k) == sympy.binomial(n, k)
    assert path_count(n) == 2 ** n
    v = path_count_identity()
    assert v.proved, v.explain()


def test_jacobians_do_not_commute_and_keep_chain_rule_order() -> None:
    J1, J2 = jacobians(2)
    terms = set(sympy.Add.make_args(expand_residual(2).expanded))
    assert J2 * J1 in terms and J1 * J2 not in terms
    assert jacobian_product(3).args[0] == 1 + jacobians(3)[2]   # latest block leftmost


def test_identity_path_is_singled_out() -> None:
    e = expand_residual(4)
    assert e.identity_path.is_identity and e.identity_path.term == 1
    assert e.identity_path.label == "I"
    assert sum(p.is_identity for p in e.paths) == 1
    assert Path(4, (1, 3)).route == ("branch", "skip", "branch", "skip")


@given(st.integers(min_value=1, max_value=7), st.integers(min_value=0, max_value=2 ** 16))
@settings(max_examples=15, deadline=None)
def test_numeric_product_equals_sum_of_paths(n: int, seed: int) -> None:
    check = numeric_path_check(n, dim=3, trials=2, seed=seed)
    assert check.agrees, check


def _net(As: list[np.ndarray], h: np.ndarray) -> np.ndarray:
    for A in As:
        h = h + np.tanh(A @ h)
    return h


def test_path_sum_is_the_true_jacobian_of_a_residual_network() -> None:
    """Finite differences of h_n(h_0) for tanh branches: only the chain-rule order of
    the path terms (latest block on the left) reproduces it."""
    rng = np.random.default_rng(3)
    n, d = 4, 3
    As = [rng.standard_normal((d, d)) for _ in range(n)]
    h0 = rng.standard_normal(d)
    # the Jacobian of every branch at its own input
    Js, h = [], h0
    for A in As:
        Js.append(np.diag(1 - np.tanh(A @ h) ** 2) @ A)
        h = h + np.tanh(A @ h)
    total = np.zeros((d, d))
    reversed_total = np.zeros((d, d))
    for p in paths(n):
        term = np.eye(d)
        for factor in p.term.args if p.term.is_Mul else ([p.term] if p.length else []):
            term = term @ Js[int(str(factor).split("_")[1]) - 1]
        total += term
        wrong = np.eye(d)
        for b in reversed(p.blocks):
            wrong = Js[b - 1] @ wrong
        reversed_total += wrong
    eps = 1e-6
    fd = np.column_stack([(_net(As, h0 + eps * e) - _net(As, h0 - eps * e)) / (2 * eps)
                          for e in np.eye(d)])
    assert np.allclose(total, fd, atol=1e-6)
    assert not np.allclose(reversed_total, fd, atol=1e-3)


def test_path_tree_leaves_are_the_paths() -> None:
    t = path_tree(3)
    leaves = t.leaves()
    assert len(leaves) == 8
    assert {leaf.label for leaf in leaves} == {p.label for p in paths(3)}
    rows = t.rows()
    assert len(rows) == 2 ** 4 - 1 and rows[0]["parent"] is None
    assert all(rows[r["parent"]]["depth"] == r["depth"] - 1 for r in rows[1:])
    assert sum(r["choice"] == "branch" for r in rows) == 7


def test_loss_gradient_has_one_term_per_path() -> None:
    g = loss_gradient(3)
    terms = sympy.Add.make_args(g)
    assert len(terms) == 8
    assert all(sympy.Mul.make_args(t)[0] == sympy.Symbol("g", commutative=False) for t in terms)


def test_forward_equations_unroll_by_substitution() -> None:
    eqs = forward_equations(3)
    expr = eqs[-1].rhs
    for eq in reversed(eqs[:-1]):        # substitute h_2, then h_1 ... only at the top level
        expr = expr.subs(eq.lhs, eq.rhs)
    unrolled = unrolled_forward(3, 0).rhs
    for eq in reversed(eqs[:-1]):
        unrolled = unrolled.subs(eq.lhs, eq.rhs)
    assert sympy.expand(expr - unrolled) == 0
    with pytest.raises(ConfigurationError, match="start"):
        unrolled_forward(2, 2)


def test_block_forms_put_the_nonlinearity_where_the_papers_do() -> None:
    post, pre = block_form("post-activation"), block_form("pre-activation")
    assert post.shortcut_path == ("relu",) and not post.clean_identity
    assert pre.shortcut_path == () and pre.clean_identity
    F = sympy.Function
    h0 = sympy.Symbol("h_0")
    relu = F("ReLU")
    branch_pre = F("Conv_1b")(relu(F("BN_1b")(F("Conv_1a")(relu(F("BN_1a")(h0))))))
    assert forward_equations(1, pre)[0].rhs == h0 + branch_pre
    branch_post = F("BN_1b")(F("Conv_1b")(relu(F("BN_1a")(F("Conv_1a")(h0)))))
    assert forward_equations(1, post)[0].rhs == relu(h0 + branch_post)
    with pytest.raises(InputError, match="known block forms"):
        block_form("mid-activation")


@pytest.mark.parametrize("n", [1, 3])
def test_pre_activation_keeps_the_identity_path(n: int) -> None:
    c = compare_activation("pre-activation", n)
    assert c.verdict.proved and c.identity_term == 1 and c.clean_identity


@pytest.mark.parametrize("n", [1, 3])
def test_post_activation_puts_relu_on_the_sum(n: int) -> None:
    c = compare_activation("post-activation", n)
    assert c.verdict.refuted and not c.clean_identity
    inp = c.zero_branch["input"]
    # brute force: evaluate the stack by hand at the counterexample
    h = float(inp["h_0"])
    for l in range(1, n + 1):
        h = max(0.0, h + float(inp[f"f_{l}"]))
    assert h == float(c.zero_branch["stack"])
    assert h != float(c.zero_branch["identity_sum"])
    masks = [sympy.Symbol(f"D_{l}", commutative=False) for l in range(n, 0, -1)]
    assert c.identity_term == sympy.Mul(*masks)
    assert len(sympy.Add.make_args(c.jacobian)) == 2 ** n
