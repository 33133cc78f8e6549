"""Frequency response of 1D and 2D kernels: the discrete-time Fourier transform, symbolic.

Design rule: the response is built once from the kernel's entries,

    H(omega) = sum_k w[k] exp(-i omega (k - c)),     c = (K - 1)/2 (centred kernel),

and every property is read off that one expression: its value at 0 and at pi, its real
and imaginary parts, the closed forms (checked against it by the checker, assumptions
``omega real``), the half-power cutoff (solved symbolically, then substituted back and
checked), and NumPy cross-checks (FFT of the zero-padded kernel, :func:`fft_cross_check`).

Structural facts (a convolution multiplies responses, a separable kernel's response
factors) are checked on the kernel's Laurent polynomial ``P(z) = sum_k w[k] z^(k - c)``,
where they are polynomial identities (exact and fast); ``H(omega) = P(exp(-i omega))``.
Real and imaginary parts come from Euler's formula (:func:`euler_lemma`, checked once).

Convention: this is the transfer function of convolution with ``w``.  A deep-learning
"convolution" is a cross-correlation, whose response is the complex conjugate for a real
kernel: same magnitude, opposite phase.  Low-pass and high-pass are statements about the
magnitude, so they hold for both.  In 2D the first kernel axis (rows) is vertical
(``omega_y``), the second (columns) horizontal (``omega_x``).

>>> r = frequency_response([1, 2, 1])
>>> r.real, r.imag
(2*cos(omega) + 2, 0)
>>> binomial_analysis(2).cutoff
2*acos(2**(3/4)/2)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Sequence

import sympy

from derive.conv.residual import CheckedStep, NumericCheck
from derive.errors import ConfigurationError, InputError, check_positive_int

__all__ = [
    "OMEGA",
    "OMEGA_X",
    "OMEGA_Y",
    "SIGMA",
    "SOBEL_X",
    "FilterAnalysis",
    "FrequencyResponse",
    "SobelAnalysis",
    "binomial_analysis",
    "binomial_kernel",
    "euler_lemma",
    "fft_cross_check",
    "fft_response",
    "frequency_response",
    "gaussian_analysis",
    "gaussian_kernel",
    "half_power_cutoff",
    "separable_factors",
    "sobel_analysis",
]

Z = sympy.Symbol("z", positive=True)
Z_X = sympy.Symbol("z_x", positive=True)
Z_Y = sympy.Symbol("z_y", positive=True)
"""Formal variables of the Laurent polynomials (``z = exp(-i omega)`` on the unit circle)."""
OMEGA = sympy.Symbol("omega", real=True)
OMEGA_X = sympy.Symbol("omega_x", real=True)
OMEGA_Y = sympy.Symbol("omega_y", real=True)
SIGMA = sympy.Symbol("sigma", positive=True)

SOBEL_X: tuple[tuple[int, ...], ...] = ((-1, 0, 1), (-2, 0, 2), (-1, 0, 1))
"""The Sobel kernel of exercise 8.26(b): responds to horizontal changes."""

_REAL = ("omega real", "omega_x real", "omega_y real")
HALF_POWER = "half power: |H(omega)|^2 = |H(0)|^2 / 2"


# ---------------------------------------------------------------------------- kernels
def _weight(name: str, v: Any) -> sympy.Expr:
    if isinstance(v, bool):
        raise InputError(f"got {name}={v!r}; kernel entries must be real numbers")
    if isinstance(v, sympy.Basic):
        if v.is_real is False or (v.is_number and not v.is_real):
            raise InputError(f"got {name}={v}; kernel entries must be real")
        return v
    if isinstance(v, int):
        return sympy.Integer(v)
    if isinstance(v, Fraction):
        return sympy.Rational(v.numerator, v.denominator)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise InputError(f"got {name}={v!r}; kernel entries must be finite")
        exact = Fraction(repr(v))            # the decimal the user wrote, exactly
        return sympy.Rational(exact.numerator, exact.denominator)
    try:
        import numpy as np
        if isinstance(v, np.integer):
            return sympy.Integer(int(v))
        if isinstance(v, np.floating):
            return _weight(name, float(v))
    except ImportError:  # pragma: no cover
        pass
    raise InputError(f"got {name}={v!r}; kernel entries must be real numbers")


def _kernel(kernel: Any) -> tuple[Any, int]:
    """``(entries, dims)``: a tuple of weights (1D) or a tuple of equal-length rows (2D)."""
    try:
        import numpy as np
        if isinstance(kernel, np.ndarray):
            kernel = kernel.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(kernel, sympy.MatrixBase):
        kernel = kernel.tolist()
    if not isinstance(kernel, (list, tuple)) or len(kernel) == 0:
        raise InputError(f"got kernel={kernel!r}; expected a non-empty sequence of numbers "
                         f"or of equal-length rows")
    if all(isinstance(r, (list, tuple)) for r in kernel):
        width = len(kernel[0])
        if width == 0 or any(len(r) != width for r in kernel):
            raise InputError(f"got kernel rows of lengths {[len(r) for r in kernel]}; "
                             f"a 2D kernel needs equal, non-zero row lengths")
        return tuple(tuple(_weight(f"kernel[{i}][{j}]", v) for j, v in enumerate(r))
                     for i, r in enumerate(kernel)), 2
    if any(isinstance(r, (list, tuple)) for r in kernel):
        raise InputError(f"got kernel={kernel!r}; mix of numbers and rows")
    return tuple(_weight(f"kernel[{i}]", v) for i, v in enumerate(kernel)), 1


def binomial_kernel(order: int) -> tuple[sympy.Rational, ...]:
    """``binomial(order, k) / 2**order``: ``order`` repeated averagings of neighbours.

    >>> binomial_kernel(2)
    (1/4, 1/2, 1/4)
    """
    order = check_positive_int("order", order)
    return tuple(sympy.Rational(math.comb(order, k), 2 ** order) for k in range(order + 1))


def gaussian_kernel(sigma: float, radius: int | None = None) -> Any:
    """A sampled Gaussian ``exp(-k^2 / (2 sigma^2))`` on ``k = -radius..radius``
    (default ``radius = ceil(4 sigma)``), normalized to sum 1, as a NumPy array.

    >>> gaussian_kernel(1.0, 1).round(4).tolist()
    [0.2741, 0.4519, 0.2741]
    """
    import numpy as np

    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma > 0 \
            or not math.isfinite(sigma):
        raise ConfigurationError(f"got sigma={sigma!r}; sigma must be a finite number > 0")
    if radius is None:
        radius = max(1, math.ceil(4 * sigma))
    radius = check_positive_int("radius", radius)
    k = np.arange(-radius, radius + 1, dtype=float)
    g = np.exp(-k ** 2 / (2.0 * float(sigma) ** 2))
    return g / g.sum()


# ---------------------------------------------------------------------------- response
@dataclass(frozen=True)
class FrequencyResponse:
    """``H`` of a kernel: ``expr`` (sum of complex exponentials), its ``real`` and ``imag``
    parts (real-valued trigonometric sums), over ``variables`` (``(omega,)`` in 1D,
    ``(omega_x, omega_y)`` in 2D); ``centers`` are the kernel origins per axis."""

    kernel: tuple[Any, ...]
    dims: int
    variables: tuple[sympy.Symbol, ...]
    centers: tuple[sympy.Rational, ...]
    expr: sympy.Expr
    real: sympy.Expr
    imag: sympy.Expr
    polynomial: sympy.Expr

    @property
    def z_variables(self) -> tuple[sympy.Symbol, ...]:
        """``(z,)`` or ``(z_x, z_y)``: ``H = polynomial`` at ``z = exp(-i omega)``."""
        return (Z,) if self.dims == 1 else (Z_X, Z_Y)

    @property
    def magnitude_squared(self) -> sympy.Expr:
        """``real**2 + imag**2``."""
        return self.real ** 2 + self.imag ** 2

    @property
    def magnitude(self) -> sympy.Expr:
        """``|H|``; ``Abs(real)`` when the imaginary part vanishes identically."""
        if self.imag == 0:
            return sympy.Abs(self.real)
        return sympy.sqrt(self.magnitude_squared)

    @property
    def dc_gain(self) -> sympy.Expr:
        """``H`` at zero frequency: the sum of the weights."""
        return sympy.simplify(self.expr.subs({v: 0 for v in self.variables}))

    def at(self, *omegas: Any) -> Any:
        """``H`` evaluated numerically (NumPy complex) at the given frequencies.

        >>> complex(frequency_response([1, 2, 1]).at(0.0))
        (4+0j)
        """
        if len(omegas) != self.dims:
            raise InputError(f"got {len(omegas)} frequencies for a {self.dims}D kernel; "
                             f"expected {self.dims}")
        return self._numeric()(*omegas)

    def magnitude_at(self, *omegas: Any) -> Any:
        """``|H|`` evaluated numerically."""
        import numpy as np
        return np.abs(self.at(*omegas))

    def _numeric(self) -> Callable[..., Any]:
        return _lambdify(self.variables, self.expr)


@functools.lru_cache(maxsize=256)
def _lambdify(variables: tuple[sympy.Symbol, ...], expr: sympy.Expr) -> Callable[..., Any]:
    import numpy as np
    f = sympy.lambdify(variables, expr, "numpy")

    def call(*omegas: Any) -> Any:
        out = f(*[np.asarray(o, dtype=float) for o in omegas])
        shape = np.broadcast(*[np.asarray(o) for o in omegas]).shape
        return np.broadcast_to(np.asarray(out, dtype=complex), shape).copy() if shape else \
            complex(out)

    return call


def frequency_response(kernel: Any, *, centered: bool = True) -> FrequencyResponse:
    """The DTFT of a 1D kernel (a sequence) or 2D kernel (a sequence of rows).

    With ``centered`` the origin is the middle of the kernel (``(K - 1)/2``, a half
    integer for even ``K``), otherwise the first entry.

    >>> frequency_response([-1, 0, 1]).expr
    -exp(I*omega) + exp(-I*omega)
    >>> frequency_response([[1, 1]], centered=False).expr
    1 + exp(-I*omega_x)
    """
    entries, dims = _kernel(kernel)
    if dims == 1:
        c = sympy.Rational(len(entries) - 1, 2) if centered else sympy.Integer(0)
        terms = [(w, ((OMEGA, k - c),)) for k, w in enumerate(entries)]
        variables: tuple[sympy.Symbol, ...] = (OMEGA,)
        centers: tuple[sympy.Rational, ...] = (c,)
    else:
        rows, cols = len(entries), len(entries[0])
        cy = sympy.Rational(rows - 1, 2) if centered else sympy.Integer(0)
        cx = sympy.Rational(cols - 1, 2) if centered else sympy.Integer(0)
        terms = [(entries[m][n], ((OMEGA_Y, m - cy), (OMEGA_X, n - cx)))
                 for m in range(rows) for n in range(cols)]
        variables = (OMEGA_X, OMEGA_Y)
        centers = (cy, cx)
    expr = sympy.Add(*[w * sympy.exp(-sympy.I * sum(v * d for v, d in phase))
                       for w, phase in terms])
    real = sympy.Add(*[w * sympy.cos(sum(v * d for v, d in phase)) for w, phase in terms])
    imag = -sympy.Add(*[w * sympy.sin(sum(v * d for v, d in phase)) for w, phase in terms])
    zs = {OMEGA: Z, OMEGA_X: Z_X, OMEGA_Y: Z_Y}
    poly = sympy.Add(*[w * sympy.Mul(*[zs[v] ** d for v, d in phase]) for w, phase in terms])
    return FrequencyResponse(entries, dims, variables, centers, expr, real, imag, poly)


@functools.lru_cache(maxsize=1)
def euler_lemma() -> CheckedStep:
    """``exp(-i theta) = cos(theta) - i sin(theta)`` for real ``theta``, checked: with it,
    :attr:`FrequencyResponse.real` and ``imag`` are the parts of ``expr`` term by term.

    >>> euler_lemma().verdict.status.value
    'proved'
    """
    theta = sympy.Symbol("theta", real=True)
    lhs, rhs = sympy.exp(-sympy.I * theta), sympy.cos(theta) - sympy.I * sympy.sin(theta)
    return CheckedStep("Euler's formula (real and imaginary part of each term)", lhs, rhs,
                       _check(lhs, rhs, ("theta real",)))


# ---------------------------------------------------------------------------- numeric
def fft_response(kernel: Any, size: int = 64, *, centered: bool = True) -> tuple[Any, Any]:
    """``(omegas, H)`` from NumPy's FFT of the zero-padded kernel, at ``omega = 2 pi m /
    size``, with the centring phase applied.  In 2D ``omegas`` is ``(omega_x, omega_y)``
    grids and ``H[m_y, m_x]``.

    >>> w, h = fft_response([1, 2, 1], 4)
    >>> (h.real.round(6) + 0.0).tolist()
    [4.0, 2.0, 0.0, 2.0]
    """
    import numpy as np

    entries, dims = _kernel(kernel)
    size = check_positive_int("size", size)
    arr = np.array([[float(v) for v in r] for r in entries] if dims == 2 else
                   [float(v) for v in entries])
    if any(s > size for s in arr.shape):
        raise ConfigurationError(f"got size={size} for a kernel of shape {arr.shape}; size "
                                 f"must be at least the kernel length")
    om = 2 * np.pi * np.arange(size) / size
    if dims == 1:
        c = (arr.shape[0] - 1) / 2 if centered else 0.0
        return om, np.fft.fft(arr, size) * np.exp(1j * om * c)
    cy = (arr.shape[0] - 1) / 2 if centered else 0.0
    cx = (arr.shape[1] - 1) / 2 if centered else 0.0
    wy, wx = np.meshgrid(om, om, indexing="ij")
    return (wx, wy), np.fft.fft2(arr, (size, size)) * np.exp(1j * (wy * cy + wx * cx))


def fft_cross_check(response: FrequencyResponse, size: int = 64) -> NumericCheck:
    """Compare the symbolic response with NumPy's FFT on the ``size``-point grid.

    >>> fft_cross_check(frequency_response(SOBEL_X)).agrees
    True
    """
    import numpy as np

    omegas, h = fft_response([list(r) for r in response.kernel] if response.dims == 2
                             else list(response.kernel), size,
                             centered=any(c != 0 for c in response.centers))
    sym = response.at(*omegas) if response.dims == 2 else response.at(omegas)
    diff = float(np.max(np.abs(np.asarray(sym) - h)))
    scale = max(1.0, float(np.max(np.abs(h))))
    return NumericCheck(f"numpy.fft of the kernel zero-padded to {size} points per axis",
                        int(np.size(h)), diff, 1e-12 * scale * size)


def half_power_cutoff(response: FrequencyResponse, tol: float = 1e-12) -> float | None:
    """Numeric half-power frequency in ``(0, pi]`` of a 1D response whose magnitude
    decreases from ``omega = 0`` (bisection); None when ``|H|^2`` stays above half.

    >>> round(half_power_cutoff(frequency_response(binomial_kernel(2))), 6)
    1.143718
    """
    import numpy as np

    if response.dims != 1:
        raise ConfigurationError(f"got a {response.dims}D response; the cutoff is defined "
                                 f"here for 1D responses")
    ref = float(abs(response.at(0.0))) ** 2
    if ref == 0:
        raise ConfigurationError("the response is zero at omega = 0; no low-pass cutoff")

    def f(w: float) -> float:
        return float(abs(response.at(w))) ** 2 / ref - 0.5

    lo, hi = 0.0, float(np.pi)
    if f(hi) > 0:
        return None
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


# ---------------------------------------------------------------------------- analyses
@dataclass(frozen=True)
class FilterAnalysis:
    """Why a kernel is low-pass, with its cutoff.

    ``gain`` is ``|H(omega)|`` on ``[0, pi]`` in closed form, ``steps`` the checked chain that
    derives it, ``derivative`` its slope (``derivative_form`` the factored slope whose sign
    shows the decrease; ``monotone`` the verdict on that sign), ``cutoff`` the exact
    half-power frequency and ``cutoff_value`` its float (None when it depends on a symbol
    such as ``sigma``), ``numeric`` NumPy cross-checks.
    """

    name: str
    kernel: tuple[Any, ...] | None
    gain: sympy.Expr
    steps: tuple[CheckedStep, ...]
    dc_gain: sympy.Expr
    nyquist_gain: sympy.Expr
    derivative: sympy.Expr
    derivative_form: sympy.Expr
    monotone: Any
    cutoff: sympy.Expr
    cutoff_value: float | None
    level: str
    numeric: tuple[NumericCheck, ...]

    @property
    def low_pass(self) -> bool:
        """The gain does not increase on ``[0, pi]`` (slope <= 0 proved or sampled), so it
        is largest at ``omega = 0``."""
        from derive.check.verdict import Status
        return self.monotone.status in (Status.PROVED, Status.TESTED)


# Trigonometric checks go through SymPy's simplify; a roomy budget keeps a loaded machine
# from turning a proof into "unknown".
_BUDGET = 60.0


def _check(lhs: Any, rhs: Any, assume: Sequence[str] = _REAL) -> Any:
    from derive.check.engine import check_exprs
    return check_exprs(lhs, rhs, assume=assume, budget=_BUDGET)


def _grid_sign(expr: sympy.Expr, var: sympy.Symbol, lo: float, hi: float, *, nonpositive: bool,
               points: int = 2001, subs: dict | None = None) -> Any:
    """Verdict on ``expr <= 0`` (or ``>= 0``) sampled on ``points`` of ``[lo, hi]``."""
    import numpy as np
    from derive.check.verdict import Status, Verdict

    f = sympy.lambdify(var, expr.subs(subs or {}), "numpy")
    xs = np.linspace(lo, hi, points)
    vals = np.broadcast_to(np.asarray(f(xs), dtype=float), xs.shape)
    bad = np.where(vals > 1e-12)[0] if nonpositive else np.where(vals < -1e-12)[0]
    word = "<= 0" if nonpositive else ">= 0"
    claim = f"{expr} {word} for {var} in [{lo:g}, {hi:g}]"
    if bad.size:
        i = int(bad[0])
        return Verdict(Status.REFUTED, f"sampled on {points} points", claim=claim,
                       counterexample={var.name: float(xs[i])}, lhs_value=float(vals[i]),
                       rhs_value=0, instances=points)
    return Verdict(Status.TESTED, f"sign sampled on {points} evenly spaced points",
                   claim=claim, instances=points)


@functools.lru_cache(maxsize=16)
def binomial_analysis(order: int = 2) -> FilterAnalysis:
    """The binomial kernel ``binomial(order, k)/2**order`` is low-pass with
    ``|H| = cos(omega/2)**order`` and half-power cutoff ``2 acos(2**(-1/(2 order)))``.

    >>> a = binomial_analysis(2)
    >>> a.gain, a.dc_gain, a.nyquist_gain
    (cos(omega/2)**2, 1, 0)
    >>> {s.verdict.status.value for s in a.steps if s.verdict is not None}
    {'proved'}
    """
    import numpy as np

    order = check_positive_int("order", order)
    kernel = binomial_kernel(order)
    half = (sympy.Rational(1, 2), sympy.Rational(1, 2))
    repeated = (sympy.Integer(1),)
    for _ in range(order):
        repeated = tuple(sympy.Add(*[repeated[j] * half[k - j] for j in range(len(repeated))
                                     if 0 <= k - j < 2]) for k in range(len(repeated) + 1))
    resp = frequency_response(kernel)
    half_resp = frequency_response(half)
    base = sympy.cos(OMEGA / 2)
    steps = [
        CheckedStep(f"the kernel is {order} repeated convolutions of [1/2, 1/2]",
                    sympy.ImmutableMatrix(kernel), sympy.ImmutableMatrix(repeated),
                    _check(sympy.ImmutableMatrix(kernel), sympy.ImmutableMatrix(repeated), ())),
        CheckedStep("so its polynomial is the product of the factors' polynomials "
                    "(convolution theorem), and H(omega) = P(exp(-i omega)) likewise",
                    resp.polynomial, half_resp.polynomial ** order,
                    _check(resp.polynomial, half_resp.polynomial ** order, ())),
        euler_lemma(),
        CheckedStep("the centred pair [1/2, 1/2]: real part cos(omega/2)", half_resp.real,
                    base, _check(half_resp.real, base)),
        CheckedStep("and imaginary part 0", half_resp.imag, sympy.Integer(0),
                    _check(half_resp.imag, sympy.Integer(0))),
        CheckedStep(f"hence H = cos(omega/2)^{order}, and as cos(omega/2) >= 0 on [0, pi], "
                    f"|H| = cos(omega/2)^{order} there (follows from the steps above)",
                    resp.magnitude, base ** order, None),
    ]
    gain = base ** order
    dc, nyq = gain.subs(OMEGA, 0), gain.subs(OMEGA, sympy.pi)
    deriv = sympy.diff(gain, OMEGA)
    form = -sympy.Rational(order, 2) * base ** (order - 1) * sympy.sin(OMEGA / 2)
    steps.append(CheckedStep("slope of the gain", deriv, form, _check(deriv, form)))
    monotone = _grid_sign(form, OMEGA, 0.0, math.pi, nonpositive=True)
    c = sympy.Symbol("c", positive=True)
    roots = [r for r in sympy.solve(sympy.Eq(c ** (2 * order), sympy.Rational(1, 2)), c)
             if r.is_positive]
    if len(roots) != 1:  # pragma: no cover - the equation has one positive root
        raise ConfigurationError(f"expected one positive root for cos(omega/2), got {roots}")
    cutoff = 2 * sympy.acos(roots[0])
    steps.append(CheckedStep("half-power cutoff: |H(omega_c)|^2 = 1/2 (cos(omega/2) = c, "
                             "solved for c > 0)", (gain ** 2).subs(OMEGA, cutoff),
                             sympy.Rational(1, 2),
                             _check((gain ** 2).subs(OMEGA, cutoff), sympy.Rational(1, 2))))
    xs = np.linspace(0, np.pi, 257)
    closed = np.cos(xs / 2) ** order
    numeric = (
        fft_cross_check(resp),
        NumericCheck("closed form cos(omega/2)^order vs the symbolic response at 257 points",
                     xs.size, float(np.max(np.abs(resp.at(xs) - closed))), 1e-12),
        NumericCheck("bisection on |H|^2 = 1/2 vs the exact cutoff", 1,
                     abs(float(half_power_cutoff(resp) or 0) - float(cutoff)), 1e-9),
    )
    return FilterAnalysis(f"binomial kernel of order {order}", kernel, gain, tuple(steps), dc,
                          nyq, deriv, form, monotone, cutoff, float(cutoff), HALF_POWER,
                          numeric)


@functools.lru_cache(maxsize=1)
def _gaussian_transform() -> tuple[sympy.Expr, sympy.Expr]:
    x = sympy.Symbol("x", real=True)
    density = sympy.exp(-x ** 2 / (2 * SIGMA ** 2)) / (sympy.sqrt(2 * sympy.pi) * SIGMA)
    raw = sympy.integrate(density * sympy.exp(-sympy.I * OMEGA * x), (x, -sympy.oo, sympy.oo))
    return density, sympy.expand(raw)


@functools.lru_cache(maxsize=16)
def gaussian_analysis(sigmas: tuple[float, ...] = (1.0, 2.0, 3.0)) -> FilterAnalysis:
    """A Gaussian kernel of width ``sigma`` is low-pass with ``|H| ~ exp(-sigma^2 omega^2/2)``
    and half-power cutoff ``sqrt(log 2)/sigma``: the width alone sets the cutoff.

    The closed form is the Fourier transform of the continuous Gaussian (integrated by
    SymPy); the sampled kernel's DTFT is its periodization, checked numerically for each
    ``sigma`` in ``sigmas`` (the approximation needs ``sigma`` of about 1 or more).

    >>> a = gaussian_analysis()
    >>> a.gain, a.cutoff
    (exp(-omega**2*sigma**2/2), sqrt(log(2))/sigma)
    """
    import numpy as np

    for s in sigmas:
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not s > 0:
            raise ConfigurationError(f"got sigma={s!r} in sigmas; each must be a number > 0")
    density, transform = _gaussian_transform()
    gain = sympy.exp(-SIGMA ** 2 * OMEGA ** 2 / 2)
    assume = ("omega real", "sigma real", "sigma positive")
    steps = [CheckedStep("Fourier transform of the Gaussian density (SymPy integration)",
                         transform, gain, _check(transform, gain, assume))]
    dc, nyq = gain.subs(OMEGA, 0), gain.subs(OMEGA, sympy.pi)
    deriv = sympy.diff(gain, OMEGA)
    form = -SIGMA ** 2 * OMEGA * gain
    steps.append(CheckedStep("slope of the gain", deriv, form, _check(deriv, form, assume)))
    t = sympy.Symbol("t", nonnegative=True)
    from derive.check.verdict import Status, Verdict
    if form.subs(OMEGA, t).is_nonpositive:
        monotone = Verdict(Status.PROVED, "sign from SymPy's assumptions (sigma > 0, "
                           "omega >= 0, exp > 0)", claim=f"{form} <= 0 for omega >= 0")
    else:  # pragma: no cover - SymPy decides this sign
        monotone = _grid_sign(form, OMEGA, 0.0, math.pi, nonpositive=True, subs={SIGMA: 1})
    roots = [r for r in sympy.solve(sympy.Eq(gain ** 2, sympy.Rational(1, 2)), OMEGA)
             if r.is_positive]
    if len(roots) != 1:  # pragma: no cover
        raise ConfigurationError(f"expected one positive half-power frequency, got {roots}")
    cutoff = roots[0]
    steps.append(CheckedStep("half-power cutoff: |H(omega_c)|^2 = 1/2, solved for omega_c > 0",
                             (gain ** 2).subs(OMEGA, cutoff), sympy.Rational(1, 2),
                             _check((gain ** 2).subs(OMEGA, cutoff), sympy.Rational(1, 2),
                                    assume)))
    numeric = []
    xs = np.linspace(0, np.pi, 257)
    gain_f = sympy.lambdify((OMEGA, SIGMA), gain, "numpy")
    for s in sigmas:
        radius = max(1, math.ceil(4 * s))
        resp = frequency_response(gaussian_kernel(float(s), radius))
        # Poisson summation: sampling the Gaussian periodizes its transform.
        periodized = sum(gain_f(xs + 2 * np.pi * m, s) for m in range(-8, 9))
        normalizer = sum(gain_f(2 * np.pi * m, s) for m in range(-8, 9))
        tail = math.erfc((radius + 0.5) / (math.sqrt(2) * s))      # mass cut off
        numeric.append(NumericCheck(
            f"sigma={s:g}: DTFT of the sampled kernel (radius {radius}) vs the periodized "
            f"transform sum_m exp(-sigma^2 (omega + 2 pi m)^2/2) (Poisson summation)",
            xs.size, float(np.max(np.abs(resp.at(xs) - periodized / normalizer))),
            4 * tail + 1e-12))
        alias = float(2 * sum(gain_f(np.pi * (2 * m - 1), s) for m in range(1, 9)))
        numeric.append(NumericCheck(
            f"sigma={s:g}: sampled kernel vs exp(-sigma^2 omega^2/2) itself; the tolerance is "
            f"the aliased terms at omega = pi ({alias:.1e}) plus the cut-off mass",
            xs.size, float(np.max(np.abs(resp.at(xs) - gain_f(xs, s)))),
            2 * alias + 4 * tail + 1e-12))
        numeric.append(NumericCheck(
            f"sigma={s:g}: bisection cutoff of the sampled kernel vs sqrt(log 2)/sigma", 1,
            abs(float(half_power_cutoff(resp) or 0) - float(cutoff.subs(SIGMA, s))), 2e-3))
        numeric.append(fft_cross_check(resp, 128))
    return FilterAnalysis("Gaussian kernel", None, gain, tuple(steps), dc, nyq, deriv, form,
                          monotone, cutoff, None, HALF_POWER, tuple(numeric))


def separable_factors(kernel: Any) -> tuple[tuple[sympy.Expr, ...], tuple[sympy.Expr, ...]]:
    """``(column, row)`` with ``kernel == outer(column, row)`` for a rank-1 2D kernel; the
    column is scaled to a positive sum when it has a non-zero sum.

    >>> separable_factors(SOBEL_X)
    ((1, 2, 1), (-1, 0, 1))
    """
    entries, dims = _kernel(kernel)
    if dims != 2:
        raise InputError("got a 1D kernel; separable_factors needs a 2D kernel")
    m = sympy.Matrix(entries)
    if m.rank() != 1:
        raise ConfigurationError(f"got a kernel of rank {m.rank()}; only rank-1 kernels are "
                                 f"separable")
    i0, j0 = next((i, j) for i in range(m.rows) for j in range(m.cols) if m[i, j] != 0)
    col = [m[i, j0] for i in range(m.rows)]
    row = [m[i0, j] / m[i0, j0] for j in range(m.cols)]
    if sum(col) < 0:
        col, row = [-v for v in col], [-v for v in row]
    return tuple(col), tuple(row)


@dataclass(frozen=True)
class SobelAnalysis:
    """A separable 2D kernel read through its factors.

    ``horizontal`` is the response of the row factor in ``omega_x``, ``vertical`` of the
    column factor in ``omega_y``; ``gain`` is ``|H|`` in closed form, ``zero_at_dc_x`` is
    ``H(0, omega_y)`` (0: constant rows are removed), ``peak_x`` is where the horizontal
    gain on ``[0, pi]`` is largest, ``nyquist_x`` its value at ``pi``.
    """

    kernel: tuple[Any, ...]
    column: tuple[Any, ...]
    row: tuple[Any, ...]
    response: FrequencyResponse
    horizontal: sympy.Expr
    vertical: sympy.Expr
    gain: sympy.Expr
    steps: tuple[CheckedStep, ...]
    zero_at_dc_x: sympy.Expr
    peak_x: sympy.Expr
    nyquist_x: sympy.Expr
    vertical_analysis: FilterAnalysis | None
    numeric: tuple[NumericCheck, ...]

    @property
    def horizontal_kind(self) -> str:
        """What the horizontal factor does, in words derived from its values."""
        if self.zero_at_dc_x != 0:
            return "passes horizontally constant signals (not a high-pass)"
        if self.nyquist_x == 0:
            return (f"removes horizontally constant signals and passes horizontal changes, "
                    f"most strongly at omega_x = {self.peak_x}; it is zero again at "
                    f"omega_x = pi, so strictly a band-pass (a smoothed derivative)")
        return "removes horizontally constant signals: a horizontal high-pass"


@functools.lru_cache(maxsize=8)
def _sobel(kernel: tuple[tuple[Any, ...], ...]) -> SobelAnalysis:
    import numpy as np

    col, row = separable_factors(kernel)
    full = frequency_response(kernel)
    px = frequency_response(row).polynomial.subs(Z, Z_X)
    py = frequency_response(col).polynomial.subs(Z, Z_Y)
    outer = sympy.ImmutableMatrix([[a * b for b in row] for a in col])
    steps = [
        CheckedStep("the kernel is the outer product column x row", sympy.ImmutableMatrix(
            full.kernel), outer, _check(sympy.ImmutableMatrix(full.kernel), outer, ())),
        CheckedStep("so its polynomial factors into the column's in z_y times the row's in "
                    "z_x, and H(omega_x, omega_y) into the column's response in omega_y times "
                    "the row's in omega_x", full.polynomial, py * px,
                    _check(full.polynomial, py * px, ())),
        euler_lemma(),
    ]
    horiz = _closed_1d(row, OMEGA_X, steps, "row")
    vert = _closed_1d(col, OMEGA_Y, steps, "column")
    gain = sympy.Abs(horiz) * sympy.Abs(vert)
    steps.append(CheckedStep("|H| = |row factor| |column factor| (|ab| = |a||b|, follows "
                             "from the steps above)", full.magnitude, gain, None))
    zero_dc = full.polynomial.subs(Z_X, 1)
    steps.append(CheckedStep("H(0, omega_y) = 0 for every omega_y (omega_x = 0 is z_x = 1)",
                             zero_dc, sympy.Integer(0), _check(zero_dc, sympy.Integer(0), ())))
    hmag = sympy.Abs(horiz)
    power = sympy.expand(horiz * sympy.conjugate(horiz))
    crit = [r for r in sympy.solve(sympy.diff(power, OMEGA_X), OMEGA_X)
            if r.is_real and 0 < r < sympy.pi]
    peak = max([sympy.Integer(0), sympy.pi, *crit],
               key=lambda r: float(power.subs(OMEGA_X, r)))
    nyq = sympy.simplify(hmag.subs(OMEGA_X, sympy.pi))
    vert_analysis = None
    if sum(col) != 0 and list(col) == [sympy.Integer(math.comb(len(col) - 1, k))
                                       for k in range(len(col))]:
        vert_analysis = binomial_analysis(len(col) - 1)
    xs = np.linspace(0, np.pi, 65)
    wx, wy = np.meshgrid(xs, xs)
    closed = sympy.lambdify((OMEGA_X, OMEGA_Y), gain, "numpy")(wx, wy)
    numeric = (
        fft_cross_check(full),
        NumericCheck("closed-form |H| vs the symbolic response on a 65 x 65 grid", wx.size,
                     float(np.max(np.abs(np.abs(full.at(wx, wy)) - closed))), 1e-12),
    )
    return SobelAnalysis(full.kernel, col, row, full, horiz, vert, gain, tuple(steps), zero_dc,
                         peak, nyq, vert_analysis, numeric)


def _closed_1d(weights: Sequence[Any], var: sympy.Symbol, steps: list[CheckedStep],
               name: str) -> sympy.Expr:
    """A closed trigonometric form of a 1D factor's response, checked and logged."""
    r = frequency_response(list(weights))
    real, imag = r.real.subs(OMEGA, var), r.imag.subs(OMEGA, var)
    parts = []
    for part in (real, imag):
        closed = sympy.trigsimp(sympy.fu(part))
        half = sympy.cos(var / 2) ** 2
        if part.has(sympy.cos) and not part.has(sympy.sin):
            ratio = sympy.simplify(part / half)
            if ratio.is_number:
                closed = ratio * half
        parts.append(closed)
    for label, part, closed in (("real", real, parts[0]), ("imaginary", imag, parts[1])):
        steps.append(CheckedStep(f"the {name} factor's response: {label} part", part, closed,
                                 _check(part, closed)))
    return parts[0] + sympy.I * parts[1]


def sobel_analysis(kernel: Any = SOBEL_X) -> SobelAnalysis:
    """Frequency analysis of a separable 2D kernel, by default Sobel's.

    >>> a = sobel_analysis()
    >>> a.horizontal, a.vertical, a.zero_at_dc_x, a.peak_x
    (-2*I*sin(omega_x), 4*cos(omega_y/2)**2, 0, pi/2)
    """
    entries, dims = _kernel(kernel)
    if dims != 2:
        raise InputError("got a 1D kernel; sobel_analysis needs a 2D kernel")
    return _sobel(entries)
