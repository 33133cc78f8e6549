"""Frequency responses against a direct numeric DTFT written here, the filtering of complex
exponentials, and brute-force cutoffs by bisection."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
from hypothesis import example, given, settings, strategies as st

from derive.conv.frequency import (
    OMEGA, OMEGA_X, OMEGA_Y, SIGMA, SOBEL_X, Z, binomial_analysis, binomial_kernel,
    euler_lemma, fft_cross_check, fft_response, frequency_response, gaussian_analysis,
    gaussian_kernel, half_power_cutoff, separable_factors, sobel_analysis,
)
from derive.errors import ConfigurationError, InputError

weights = st.integers(min_value=-5, max_value=5)
kernels_1d = st.lists(weights, min_size=1, max_size=7)
kernels_2d = st.integers(1, 4).flatmap(lambda r: st.integers(1, 4).flatmap(
    lambda c: st.lists(st.lists(weights, min_size=c, max_size=c), min_size=r, max_size=r)))
omegas = st.floats(min_value=-math.pi, max_value=math.pi, allow_nan=False)


def dtft_1d(w: list[float], omega: float, centered: bool = True) -> complex:
    c = (len(w) - 1) / 2 if centered else 0.0
    return sum(v * np.exp(-1j * omega * (k - c)) for k, v in enumerate(w))


def dtft_2d(w: list[list[float]], wx: float, wy: float) -> complex:
    cy, cx = (len(w) - 1) / 2, (len(w[0]) - 1) / 2
    return sum(v * np.exp(-1j * (wy * (m - cy) + wx * (n - cx)))
               for m, row in enumerate(w) for n, v in enumerate(row))


def bisect(f, lo: float, hi: float) -> float:
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) > 0 else (lo, mid)
    return (lo + hi) / 2


@example(w=[1, 2, 1], omega=math.pi, centered=True)
@example(w=[3], omega=0.5, centered=False)
@given(kernels_1d, omegas, st.booleans())
@settings(max_examples=40, deadline=None)
def test_response_1d_matches_direct_dtft(w: list[int], omega: float, centered: bool) -> None:
    r = frequency_response(w, centered=centered)
    want = dtft_1d(w, omega, centered)
    assert abs(complex(r.at(omega)) - want) < 1e-9
    re = float(sympy.N(r.real.subs(OMEGA, omega)))
    im = float(sympy.N(r.imag.subs(OMEGA, omega)))
    assert abs(re - want.real) < 1e-9 and abs(im - want.imag) < 1e-9
    mag = float(sympy.N(r.magnitude.subs(OMEGA, omega)))
    assert abs(mag - abs(want)) < 1e-9
    poly = complex(sympy.N(r.polynomial.subs(Z, sympy.exp(-sympy.I * omega))))
    assert abs(poly - want) < 1e-9


@given(kernels_2d, omegas, omegas)
@settings(max_examples=30, deadline=None)
def test_response_2d_matches_direct_dtft(w: list[list[int]], wx: float, wy: float) -> None:
    r = frequency_response(w)
    assert abs(complex(r.at(wx, wy)) - dtft_2d(w, wx, wy)) < 1e-9


@given(kernels_1d, st.integers(min_value=1, max_value=63))
@settings(max_examples=25, deadline=None)
def test_filtering_an_exponential_scales_it_by_the_magnitude(w: list[int], m: int) -> None:
    """Both convolution and cross-correlation multiply exp(i omega n) by a number of
    modulus |H(omega)|: the response describes either up to a conjugate phase."""
    omega = 2 * math.pi * m / 64
    n = np.arange(40)
    x = np.exp(1j * omega * n)
    gain = abs(dtft_1d(w, omega))
    conv = np.convolve(x, np.asarray(w, float), mode="valid")
    corr = np.correlate(x, np.asarray(w, float), mode="valid")
    assert np.allclose(np.abs(conv), gain, atol=1e-9)
    assert np.allclose(np.abs(corr), gain, atol=1e-9)
    assert abs(float(frequency_response(w).magnitude_at(omega)) - gain) < 1e-9


@given(kernels_1d, st.integers(min_value=8, max_value=40))
@settings(max_examples=20, deadline=None)
def test_fft_agrees_with_direct_dtft(w: list[int], size: int) -> None:
    om, h = fft_response(w, size)
    want = np.array([dtft_1d(w, o) for o in om])
    assert np.allclose(h, want, atol=1e-9)
    assert fft_cross_check(frequency_response(w), size).agrees


def test_fft_2d_and_uncentered() -> None:
    (wx, wy), h = fft_response([[1, -2, 0], [3, 1, 1]], 8)
    want = np.vectorize(lambda a, b: dtft_2d([[1, -2, 0], [3, 1, 1]], a, b))(wx, wy)
    assert np.allclose(h, want)
    om, h1 = fft_response([1, 2], 8, centered=False)
    assert np.allclose(h1, [dtft_1d([1, 2], o, centered=False) for o in om])


@given(st.integers(min_value=1, max_value=10), omegas)
@settings(max_examples=30, deadline=None)
def test_binomial_gain_is_cos_power(order: int, omega: float) -> None:
    w = [math.comb(order, k) / 2 ** order for k in range(order + 1)]
    assert [float(v) for v in binomial_kernel(order)] == w
    assert abs(abs(dtft_1d(w, omega)) - abs(math.cos(omega / 2)) ** order) < 1e-12


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_binomial_analysis_against_brute_force(order: int) -> None:
    a = binomial_analysis(order)
    assert all(s.verdict.proved for s in a.steps if s.verdict is not None)
    assert a.gain == sympy.cos(OMEGA / 2) ** order
    assert (a.dc_gain, a.nyquist_gain) == (1, 0)
    assert a.low_pass and a.monotone.status.value in ("proved", "tested")
    w = [math.comb(order, k) / 2 ** order for k in range(order + 1)]
    brute = bisect(lambda o: abs(dtft_1d(w, o)) ** 2 - 0.5, 0.0, math.pi)
    assert abs(a.cutoff_value - brute) < 1e-9
    assert all(c.agrees for c in a.numeric)
    xs = np.linspace(0, math.pi, 200)
    mags = np.abs([dtft_1d(w, o) for o in xs])
    assert np.all(np.diff(mags) <= 1e-12) and mags[0] == pytest.approx(1.0)


def test_binomial_121_cutoff_has_the_expected_closed_form() -> None:
    a = binomial_analysis(2)
    assert sympy.simplify(a.cutoff - 2 * sympy.acos(2 ** sympy.Rational(-1, 4))) == 0
    assert a.cutoff_value == pytest.approx(1.1437177404, abs=1e-9)


def test_euler_lemma_is_proved() -> None:
    assert euler_lemma().verdict.proved


@given(st.floats(min_value=1.0, max_value=4.0))
@settings(max_examples=8, deadline=None)
def test_sampled_gaussian_cutoff_is_sqrt_log2_over_sigma(sigma: float) -> None:
    radius = math.ceil(5 * sigma)
    k = np.arange(-radius, radius + 1)
    g = np.exp(-k ** 2 / (2 * sigma ** 2))
    g /= g.sum()
    assert np.allclose(gaussian_kernel(sigma, radius), g)
    brute = bisect(lambda o: abs(dtft_1d(list(g), o)) ** 2 - 0.5, 0.0, math.pi)
    cutoff = gaussian_analysis().cutoff
    assert abs(brute - float(cutoff.subs(SIGMA, sigma))) < 1e-3


def test_gaussian_analysis() -> None:
    a = gaussian_analysis()
    assert a.gain == sympy.exp(-SIGMA ** 2 * OMEGA ** 2 / 2)
    assert a.cutoff == sympy.sqrt(sympy.log(2)) / SIGMA
    assert all(s.verdict.proved for s in a.steps if s.verdict is not None)
    assert a.monotone.proved and a.low_pass
    assert all(c.agrees for c in a.numeric), [c for c in a.numeric if not c.agrees]
    # wider kernel, lower cutoff: sigma alone sets it
    assert float(a.cutoff.subs(SIGMA, 2)) == pytest.approx(float(a.cutoff.subs(SIGMA, 1)) / 2)


def test_sobel_is_a_horizontal_derivative_and_a_vertical_smoother() -> None:
    a = sobel_analysis()
    assert (a.column, a.row) == ((1, 2, 1), (-1, 0, 1))
    assert all(s.verdict.proved for s in a.steps if s.verdict is not None)
    assert a.horizontal == -2 * sympy.I * sympy.sin(OMEGA_X)
    assert a.vertical == 4 * sympy.cos(OMEGA_Y / 2) ** 2
    assert a.zero_at_dc_x == 0 and a.peak_x == sympy.pi / 2 and a.nyquist_x == 0
    assert "band-pass" in a.horizontal_kind
    assert a.vertical_analysis is not None and a.vertical_analysis.kernel == binomial_kernel(2)
    assert all(c.agrees for c in a.numeric)
    rng = np.random.default_rng(0)
    gain = sympy.lambdify((OMEGA_X, OMEGA_Y), a.gain)
    for wx, wy in rng.uniform(-math.pi, math.pi, size=(20, 2)):
        assert abs(dtft_2d(SOBEL_X, 0.0, wy)) < 1e-12          # constant rows vanish
        assert abs(gain(wx, wy) - abs(dtft_2d(SOBEL_X, wx, wy))) < 1e-9
    xs = np.linspace(0, math.pi / 2, 50)
    assert np.all(np.diff([abs(dtft_2d(SOBEL_X, x, 0.0)) for x in xs]) > 0)


def test_separable_factors_and_rank_check() -> None:
    col, row = separable_factors([[2, 4], [-1, -2]])
    assert [[c * r for r in row] for c in col] == [[2, 4], [-1, -2]]
    with pytest.raises(ConfigurationError, match="rank 2"):
        separable_factors([[1, 0], [0, 1]])


def test_half_power_cutoff_none_and_errors() -> None:
    assert half_power_cutoff(frequency_response([1, 0, 0.1])) is None
    with pytest.raises(ConfigurationError, match="zero at omega = 0"):
        half_power_cutoff(frequency_response([-1, 0, 1]))
    with pytest.raises(ConfigurationError, match="1D"):
        half_power_cutoff(frequency_response(SOBEL_X))


@pytest.mark.parametrize("bad, match", [
    ([], "non-empty"), ([[1, 2], [3]], "equal"), ([1, [2]], "mix"), ([True], "real numbers"),
    ([float("nan")], "finite"), ([sympy.I], "real"), ("121", "non-empty sequence"),
])
def test_bad_kernels_are_refused(bad, match: str) -> None:
    with pytest.raises(InputError, match=match):
        frequency_response(bad)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="sigma"):
        gaussian_kernel(0.0)
    with pytest.raises(ConfigurationError, match="order"):
        binomial_kernel(0)
    with pytest.raises(InputError, match="2 frequencies"):
        frequency_response([1, 2]).at(0.1, 0.2)
