"""The backward pass derived from the forward model: chains, wrong formulas, numerics."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from derive.check.engine import verify
from derive.check.verdict import Status
from derive.conv import backward as B
from derive.conv.model import I_, Step

# --------------------------------------------------------------------------- brute force


def agrees(verdict) -> bool:
    """Not refuted: proved, or no counterexample among the sampled instances."""
    return verdict.status in (Status.PROVED, Status.TESTED) and verdict.instances > 0


def brute_forward_1d(x, w, padding, stride, dilation):
    xp = [0] * padding + list(x) + [0] * padding
    span = dilation * (len(w) - 1) + 1
    return [sum(w[u] * xp[i + dilation * u] for u in range(len(w)))
            for i in range(0, len(xp) - span + 1, stride)]


def brute_gradients_1d(x, w, g, padding, stride, dilation):
    """L = g . y is linear in x and in w: each partial derivative is L at a unit vector."""
    def loss(xx, ww):
        return sum(a * b for a, b in zip(g, brute_forward_1d(xx, ww, padding, stride, dilation)))
    n, k = len(x), len(w)
    gx = [loss([int(t == m) for t in range(n)], w) for m in range(n)]
    gw = [loss(x, [int(t == u) for t in range(k)]) for u in range(k)]
    return gx, gw


# --------------------------------------------------------------------------- chains


@pytest.mark.parametrize("build", [
    lambda: B.input_gradient(1), lambda: B.weight_gradient(1), lambda: B.bias_gradient(1),
    lambda: B.input_gradient(2), lambda: B.weight_gradient(2),
    lambda: B.input_gradient(2, channels=True), lambda: B.weight_gradient(2, channels=True),
    lambda: B.bias_gradient(2), B.padding_lemma, B.transpose_chain,
    B.input_gradient_unit_stride])
def test_every_step_is_proved_by_a_named_rule(build) -> None:
    chain = build()
    assert chain.proved, chain.explain()
    for r in chain.rewrites:
        assert r.verdict.status is Status.PROVED
        definition = r.verdict.method.startswith("definition")
        assert "side conditions checked" in r.verdict.method or definition
        assert r.verdict.instances > 0 or definition


def test_input_gradient_names_the_flip_and_the_padding() -> None:
    chain = B.input_gradient()
    last = chain.rewrites[-1]
    assert last.rule == "re-indexing u = K - u' - 1"
    whys = [why for _, why in chain.steps]
    assert "kernel flip" in whys[-1] and "D*(K - 1) - P" in whys[-1]
    assert "full convolution" in whys[-2] and "stride-dilated" in whys[-2]
    w = sympy.IndexedBase("w")
    K = next(s for s in chain.result.free_symbols if s.name == "K")
    up = B.UF
    assert chain.result.has(w[K - 1 - up])          # the flipped kernel
    assert chain.definitions and "zeros" in chain.definitions[0][1]


def test_weight_and_bias_gradients() -> None:
    fw = B.forward(2, channels=True)
    gw = B.weight_gradient(2, channels=True).result
    n, i, j = (s for s in (sympy.Symbol("n", integer=True, nonnegative=True),
                           sympy.Symbol("i", integer=True, nonnegative=True),
                           sympy.Symbol("j", integer=True, nonnegative=True)))
    assert isinstance(gw, sympy.Sum)
    assert {lim[0].name for lim in gw.limits} == {"n", "i", "j"}      # batch and space
    assert gw.function.has(fw.x_pad)                                   # input with g
    gb = B.bias_gradient(2).result
    assert {lim[0].name for lim in gb.limits} == {"n", "i", "j"}
    assert gb.function == B.G[n, B.OB, i, j]


def test_backward_steps_for_a_worked_solution() -> None:
    steps = B.backward_steps("x", dims=2)
    assert all(isinstance(s, Step) for s in steps)
    assert steps[0].why.startswith("chain rule")
    assert len(steps) == len(B.input_gradient(2).rewrites) + 1
    book = B.input_gradient(2).to_book(label="8.23(b)")
    assert book.status is Status.PROVED
    assert book.steps[0].verdict is None and all(s.verdict.proved for s in book.steps[1:])


def test_sympy_summation_of_a_delta_is_refuted_by_the_checker() -> None:
    """Why the rule exists: SymPy drops the divisibility condition."""
    D, K = sympy.symbols("D K", integer=True, positive=True)
    u = sympy.Symbol("u", integer=True, nonnegative=True)
    a = sympy.Symbol("a", integer=True, nonnegative=True)
    w = sympy.IndexedBase("w")
    s = sympy.Sum(sympy.KroneckerDelta(a, D * u) * w[u], (u, 0, K - 1))
    from derive.check.engine import check_exprs
    assert check_exprs(s, s.doit(), assume=["a >= 0"]).refuted
    from derive.check.reindex import eliminate_delta
    assert eliminate_delta(s, u).proved


# --------------------------------------------------------------------------- wrong formulas


def _gs(fw, t):
    S, O = fw.S, fw.out
    return sympy.Piecewise((B.G[t / S], sympy.Eq(sympy.Mod(t, S), 0) & (t >= 0)
                            & (t <= S * (O - 1))), (0, True))


def test_wrong_input_gradients_are_refuted_with_small_counterexamples() -> None:
    fw = B.axis_forward()
    K, P, D, m, v = fw.K, fw.P, fw.D, B.M_, B.UF
    w = fw.w
    right = sympy.Sum(w[K - 1 - v] * _gs(fw, m + P - D * (K - 1) + D * v), (v, 0, K - 1))
    full = sympy.Sum(w[B.U_] * _gs(fw, m + P - D * B.U_), (B.U_, 0, K - 1))
    assert agrees(B.check_gradient_claim(right))
    assert agrees(B.check_gradient_claim(full))      # the full convolution, before the flip
    wrong = {
        "no flip": sympy.Sum(w[v] * _gs(fw, m + P - D * (K - 1) + D * v), (v, 0, K - 1)),
        "padding D(K-1) without subtracting P":
            sympy.Sum(w[K - 1 - v] * _gs(fw, m - D * (K - 1) + D * v), (v, 0, K - 1)),
        "padding K - 1 ignoring the dilation":
            sympy.Sum(w[K - 1 - v] * _gs(fw, m + P - (K - 1) + D * v), (v, 0, K - 1)),
        "no zero stuffing (g instead of g_s)":
            sympy.Sum(w[K - 1 - v] * B.G[m + P - D * (K - 1) + D * v], (v, 0, K - 1)),
    }
    for name, formula in wrong.items():
        verdict = B.check_gradient_claim(formula)
        assert verdict.refuted, name
        sizes = {k: v_ for k, v_ in verdict.counterexample.items() if "[" not in k}
        assert all(v_ <= 12 for v_ in sizes.values()), (name, sizes)
        assert verdict.lhs_value != verdict.rhs_value


def test_typed_unit_stride_formulas() -> None:
    """A student's typed formula for S = D = 1, P = 0 (clipped full convolution)."""
    ok = B.check_gradient_claim("Sum(w[u]*g[m - u], (u, Max(0, m - O + 1), Min(K - 1, m)))",
                                assume=["S == 1", "D == 1", "P == 0"])
    assert agrees(ok)
    no_flip = B.check_gradient_claim(
        "Sum(w[u]*g[m + u], (u, Max(0, -m), Min(K - 1, O - 1 - m)))",
        assume=["S == 1", "D == 1", "P == 0"])
    assert no_flip.refuted and no_flip.counterexample
    # the same through derive.verify, both sides typed: flip vs no flip
    v = verify("Sum(w[u]*g[m - u], (u, Max(0, m - O + 1), Min(K - 1, m))) == "
               "Sum(w[u]*g[m + u], (u, Max(0, -m), Min(K - 1, O - 1 - m)))",
               assume=["m >= 0"])
    assert v.refuted
    assert max(v.counterexample[k] for k in ("K", "O", "m")) <= 4


def test_wrong_weight_gradient_is_refuted() -> None:
    fw = B.axis_forward()
    S, D, up, i = fw.S, fw.D, B.UF, I_
    right = sympy.Sum(B.G[i] * fw.x_pad[S * i + D * up], (i, 0, fw.out - 1))
    swapped = sympy.Sum(B.G[i] * fw.x_pad[D * i + S * up], (i, 0, fw.out - 1))
    assert agrees(B.check_gradient_claim(right, "w"))
    assert B.check_gradient_claim(swapped, "w").refuted


# --------------------------------------------------------------------------- numerics

configs_1d = st.tuples(st.integers(1, 8), st.integers(1, 4), st.integers(0, 2),
                       st.integers(1, 3), st.integers(1, 3)).filter(
    lambda c: c[4] * (c[1] - 1) + 1 <= c[0] + 2 * c[2])


@given(configs_1d, st.data())
@example((5, 3, 1, 2, 1), None)
@example((7, 3, 0, 2, 2), None)
@settings(max_examples=40, deadline=None)
def test_derived_1d_formulas_match_brute_force(cfg, data) -> None:
    n, k, p, s, d = cfg
    out = (n + 2 * p - d * (k - 1) - 1) // s + 1
    if data is None:
        x, w, g = list(range(1, n + 1)), [2, -1, 3][:k], [1 - 2 * t for t in range(out)]
    else:
        x = data.draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n))
        w = data.draw(st.lists(st.integers(-5, 5), min_size=k, max_size=k))
        g = data.draw(st.lists(st.integers(-5, 5), min_size=out, max_size=out))
    gx_ref, gw_ref = brute_gradients_1d(x, w, g, p, s, d)
    sizes = {"K": k, "S": s, "P": p, "D": d, "O": out, "H": n}
    arrays = {"w": np.array(w, dtype=object), "g": np.array(g, dtype=object),
              "x_pad": np.array([0] * p + x + [0] * p, dtype=object)}
    for chain in (B.input_gradient(), ):
        assert list(B.evaluate_expr(chain.result, sizes, arrays, [B.M_], [n])) == gx_ref
    full = B.input_gradient().rewrites[-2].after          # before the flip
    assert list(B.evaluate_expr(full, sizes, arrays, [B.M_], [n])) == gx_ref
    assert list(B.evaluate_expr(B.weight_gradient().result, sizes, arrays, [B.UF], [k])) \
        == gw_ref
    if s == 1 and d == 1:
        clipped = B.input_gradient_unit_stride().result
        assert list(B.evaluate_expr(clipped, sizes, arrays, [B.M_], [n])) == gx_ref
    # the Toeplitz transpose gives the same numbers
    from derive.conv.toeplitz import conv_matrix
    assert (conv_matrix(n, w, p, s, d).T @ np.array(g, dtype=float)).tolist() == \
        [float(v) for v in gx_ref]


def test_bounded_2d_proof_small() -> None:
    v = B.prove_backward_bounded(2, 2, 2, 2, 1, 1)
    assert v.proved, v.explain()
    assert v.method.startswith("finite expansion for all H, W <= 2, K <= 2, S <= 2, D <= 2, "
                               "P <= 1, C_in, C_out <= 1")


@pytest.mark.slow
def test_bounded_2d_proof_stated_bound() -> None:
    v = B.prove_backward_bounded(batch=2)
    assert v.proved, v.explain()


def test_random_larger_cases_numerically() -> None:
    v = B.check_backward_numeric(cases=3, seed=1)
    assert v.status is Status.TESTED, v.explain()
    assert "finite differences agree" in v.method


@pytest.mark.slow
def test_many_random_larger_cases() -> None:
    assert B.check_backward_numeric(cases=30, seed=7, max_size=14).status is Status.TESTED


# --------------------------------------------------------------------------- PyTorch


def _derived_2d(x, w, g, stride, padding, dilation, groups):
    """The derived dL/dx, dL/dw, dL/db evaluated exactly, group by group."""
    n, cin, h, wd = x.shape
    cout, cg, k, _ = w.shape
    og = cout // groups
    oh, ow = g.shape[2:]
    gx = np.zeros(x.shape, dtype=object)
    gw = np.zeros(w.shape, dtype=object)
    xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ex, ew = B.input_gradient(2, True).result, B.weight_gradient(2, True).result
    for grp in range(groups):
        sizes = B._sizes_2d(h, wd, k, stride, padding, dilation, n, cg, og, oh, ow)
        wk = w[grp * og:(grp + 1) * og].astype(object)
        gk = g[:, grp * og:(grp + 1) * og].astype(object)
        gx[:, grp * cg:(grp + 1) * cg] = B.evaluate_expr(ex, sizes, {"w": wk, "g": gk},
                                                         [B.NB, B.CB, B.M_, B.L_],
                                                         [n, cg, h, wd])
        gw[grp * og:(grp + 1) * og] = B.evaluate_expr(
            ew, sizes, {"g": gk, "x_pad": xpad[:, grp * cg:(grp + 1) * cg].astype(object)},
            [B.OB, B.CB, B.UF, B.VF], [og, cg, k, k])
    return gx.astype(float), gw.astype(float), g.sum(axis=(0, 2, 3)).astype(float)


@pytest.mark.torch
def test_exercise_8_23_c_against_pytorch_autograd() -> None:
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    rng = np.random.default_rng(823)
    x = rng.integers(-3, 4, size=(1, 1, 5, 5)).astype(np.float64)
    w = rng.integers(-3, 4, size=(1, 1, 3, 3)).astype(np.float64)
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv2d(xt, wt).sum().backward()       # g = ones
    gx, gw, _ = _derived_2d(x.astype(int), w.astype(int), np.ones((1, 1, 3, 3), dtype=int),
                            1, 0, 1, 1)
    assert np.array_equal(xt.grad.numpy(), gx)
    assert np.array_equal(wt.grad.numpy(), gw)


@pytest.mark.torch
@given(st.integers(0, 2 ** 32 - 1))
@settings(max_examples=12, deadline=None)
def test_pytorch_autograd_float64_channels_groups_stride_dilation(seed) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 2]))
    cin, cout = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    k, s, d, p = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(1, 3)), \
        int(rng.integers(0, 2))
    h, wd = int(rng.integers(d * (k - 1) + 1, 8)), int(rng.integers(d * (k - 1) + 1, 8))
    n = int(rng.integers(1, 3))
    x = rng.integers(-3, 4, size=(n, cin, h, wd))
    w = rng.integers(-3, 4, size=(cout, cin // groups, k, k))
    oh, ow = (h + 2 * p - d * (k - 1) - 1) // s + 1, (wd + 2 * p - d * (k - 1) - 1) // s + 1
    g = rng.integers(-3, 4, size=(n, cout, oh, ow))
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    bt = torch.zeros(cout, dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.conv2d(xt, wt, bt, stride=s, padding=p, dilation=d, groups=groups)
    (y * torch.tensor(g, dtype=torch.float64)).sum().backward()
    gx, gw, gb = _derived_2d(x, w, g, s, p, d, groups)
    assert np.allclose(xt.grad.numpy(), gx, atol=1e-9)
    assert np.allclose(wt.grad.numpy(), gw, atol=1e-9)
    assert np.allclose(bt.grad.numpy(), gb, atol=1e-9)


def test_errors() -> None:
    from derive.errors import ConfigurationError, InputError
    with pytest.raises(InputError, match="which must be 'x', 'w' or 'b'"):
        B.gradient_formula("y")
    with pytest.raises(ConfigurationError, match="dims must be 1 or 2"):
        B.forward(3)
    with pytest.raises(InputError, match="expected text or a SymPy expression"):
        B.check_gradient_claim(3.5)
