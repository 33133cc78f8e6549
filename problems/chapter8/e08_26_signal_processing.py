"""Exercise 8.26: convolution layers read as filters (frequency responses).

The responses start from the engine's discrete-time Fourier transforms of the taps
(:mod:`derive.conv.frequency`) and are worked out here step by step, each step checked: the
Gaussian's transform by completing the square, the binomial and Sobel responses by Euler's
formula and the half-angle formula, the cutoffs substituted back.  NumPy sums, quadrature and
FFTs written in this module cross-check the results.  Parts (c) and (d) are explanations;
each rests on a small computation done here (the band-pass response of a Gabor kernel;
aliasing of a stride-2 subsampling and its removal by a binomial blur, whose response
vanishes at the highest frequency).
"""

from derive.book import EXPLANATION, Part, Problem, Sheet, written

SIGMA = 2.0


# Trigonometric and exponential identities are slow to settle; like the engine's frequency
# analyses, these checks get a roomy time budget, so a loaded machine cannot turn a proof
# into "unknown".
_BUDGET = 60.0


def _refuse_identical(a, b) -> None:
    from derive.errors import ProblemError
    from derive.render.latex import value_tex
    if value_tex(a) == value_tex(b):
        raise ProblemError(f"both sides print the same ({value_tex(a)})")


def _claim(sheet: Sheet, lhs, rhs, *, why: str = "", assume=()) -> None:
    """``sheet.claim`` with the roomy budget."""
    from derive.book.model import Check
    from derive.check.engine import check_exprs
    _refuse_identical(lhs, rhs)
    verdict = check_exprs(lhs, rhs, assume=sheet.assume + tuple(assume), budget=_BUDGET)
    sheet.add(Check(lhs, rhs, verdict, why))


def _derive(sheet: Sheet, lhs, steps, *, assume=()) -> None:
    """``sheet.derive`` with the roomy budget."""
    from derive.book.model import Derivation, DerivationStep
    from derive.check.derivation import check_chain
    exprs = [e for e, _ in steps]
    for a, b in zip(exprs, exprs[1:]):
        _refuse_identical(a, b)
    assumptions = sheet.assume + tuple(assume)
    verdicts = check_chain(exprs, assume=assumptions, budget=_BUDGET)
    rows = [DerivationStep(steps[0][0], steps[0][1], None)]
    rows += [DerivationStep(e, why, v) for (e, why), v in zip(steps[1:], verdicts)]
    sheet.add(Derivation(lhs, tuple(rows), assumptions))


def _dtft(kernel, omegas):
    """Independent: H(omega) = sum_k w[k] exp(-i omega (k - c)), centred, with NumPy."""
    import numpy as np
    w = np.asarray(kernel, dtype=float)
    k = np.arange(w.size) - (w.size - 1) / 2
    return (w[None, :] * np.exp(-1j * np.outer(omegas, k))).sum(axis=1)


def _half_power(kernel) -> float:
    """Independent: first grid frequency where |H|^2 drops to half its DC value."""
    import numpy as np
    grid = np.linspace(0, np.pi, 200001)
    power = np.abs(_dtft(kernel, grid)) ** 2
    return float(grid[np.argmax(power <= power[0] / 2)])


def _quadrature_transform(sigma: float, omegas):
    """Independent: the Fourier integral of the Gaussian density by the trapezoidal rule
    (the density is even, so only the cosine part remains)."""
    import numpy as np
    x = np.linspace(-12 * sigma, 12 * sigma, 200001)
    density = np.exp(-x ** 2 / (2 * sigma ** 2)) / (np.sqrt(2 * np.pi) * sigma)
    return np.array([np.trapezoid(density * np.cos(w * x), x) for w in omegas])


def _with_method(verdict, how: str):
    """The verdict of a check, its method prefixed by the argument it backs."""
    import dataclasses
    return dataclasses.replace(verdict, method=f"{how}; {verdict.method}")


def _gaussian_transform(sheet: Sheet):
    """The Fourier transform of the Gaussian density, by completing the square."""
    import sympy

    from derive.book.model import Derivation, DerivationStep
    from derive.check.engine import check_exprs
    from derive.conv.frequency import OMEGA, SIGMA as S

    x = sympy.Symbol("x", real=True)
    norm = sympy.sqrt(2 * sympy.pi) * S
    exponent = -x ** 2 / (2 * S ** 2) - sympy.I * OMEGA * x
    shift = sympy.I * S ** 2 * OMEGA
    square = -(x + shift) ** 2 / (2 * S ** 2)
    gain = sympy.exp(-S ** 2 * OMEGA ** 2 / 2)
    assume = ["x real", "omega real", "sigma positive"]
    _claim(sheet, exponent, square - S ** 2 * OMEGA ** 2 / 2, assume=assume,
                why="complete the square in $x$")
    infinite = (x, -sympy.oo, sympy.oo)
    start = sympy.Integral(sympy.exp(exponent) / norm, infinite)
    middle = gain * sympy.Integral(sympy.exp(square) / norm, infinite)
    # equal integrands (their exponents agree) give equal integrals
    same = _with_method(check_exprs(exponent, square - S ** 2 * OMEGA ** 2 / 2, assume=assume,
                                    budget=_BUDGET),
                        "the integrands agree: their exponents are equal")
    total = sympy.integrate(sympy.exp(square) / norm, infinite)
    one = _with_method(check_exprs(total, sympy.Integer(1), assume=assume, budget=_BUDGET),
                       "the shifted density integrated by SymPy")
    H = sympy.Function("H")
    sheet.add(Derivation(H(OMEGA), (
        DerivationStep(start, "the Fourier transform of the Gaussian density: its "
                              "integral against $exp(-i*omega*x)$", None),
        DerivationStep(middle, "complete the square (the claim above) and take the factor "
                               "free of $x$ out of the integral", same),
        DerivationStep(gain, "the density shifted by $i*sigma**2*omega$ still integrates "
                             "to 1", one),
    ), ("omega real", "sigma > 0")))
    return gain


def solve_a(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.frequency import (
        OMEGA, SIGMA as S, binomial_analysis, frequency_response, gaussian_analysis,
        gaussian_kernel,
    )

    H = sympy.Function("H")
    omega_c = sympy.Symbol("omega_c", positive=True)
    sheet.text("A convolution with a fixed kernel $w$ multiplies each frequency $omega$ of "
               "the input by the kernel's frequency response $H$, the sum over the taps $k$ of "
               "$w[k]*exp(-i*omega*k)$. Low-pass means that $Abs(H)$ is largest at "
               "$omega = 0$ and falls towards $omega = pi$. For a Gaussian of width "
               "$sigma$ the response is the Fourier transform of its density:")
    g = gaussian_analysis()
    gain = _gaussian_transform(sheet)
    checks = [0.0, 0.25, 0.5, 1.0]
    sheet.numeric([float(gain.subs({S: SIGMA, OMEGA: w})) for w in checks],
                  list(_quadrature_transform(SIGMA, checks)), tol=1e-9,
                  why=f"$H$ at $sigma = {SIGMA:g}$ and $omega$ = 0, 0.25, 0.5 and 1",
                  method="the Fourier integral by NumPy's trapezoidal rule")
    _claim(sheet, sympy.Derivative(gain, OMEGA), g.derivative_form, assume=["omega real"],
                why="the slope of the gain (chain rule)")
    sheet.text(f"For $omega >= 0$ the slope is at most 0 ($sigma > 0$ and the exponential is "
               f"positive), so $Abs(H)$ falls monotonically from its value {g.dc_gain} at "
               f"$omega = 0$. Half power: $exp(-(sigma**2*omega_c**2)) = Rational(1, 2)$ gives "
               f"$sigma**2*omega_c**2 = log(2)$, whose positive root is the cutoff. Checking "
               f"it:")
    with sympy.evaluate(False):
        at_cutoff = sympy.Pow(gain.subs(OMEGA, g.cutoff), 2)
    _derive(sheet, sympy.Abs(H(omega_c)) ** 2, [
        (at_cutoff, "the gain squared at $omega_c = sqrt(log(2))/sigma$"),
        (sympy.Rational(1, 2), "evaluate: half the power at $omega = 0$")],
        assume=["sigma > 0"])
    kernel = gaussian_kernel(SIGMA)
    radius = (kernel.size - 1) // 2
    sheet.text(f"A layer uses a sampled kernel: here the taps $exp(-(k**2/(2*sigma**2)))$ "
               f"for $k$ from ${-radius}$ to ${radius}$ at $sigma = {SIGMA:g}$, divided by "
               f"their sum. "
               f"Its cutoff is close to the continuous one:")
    sheet.numeric(float(g.cutoff.subs(S, SIGMA)), _half_power(kernel), tol=2e-3,
                  why=f"half-power frequency at $sigma = {SIGMA:g}$",
                  method="the sampled kernel: first point of a 200001-point grid on "
                         "$0 <= omega <= pi$ where a NumPy DTFT has half its power at 0")
    sheet.text("The smallest binomial approximation of a Gaussian, the kernel (1, 2, 1)/4, "
               "has an exact response (the engine's transform of its three taps, centred):")
    b = binomial_analysis(2)
    taps = [sympy.Rational(1, 4), sympy.Rational(1, 2), sympy.Rational(1, 4)]
    resp = frequency_response(taps)
    _derive(sheet, H(OMEGA), [
        (resp.expr, "one term per tap, at offsets $-1$, $0$ and $1$"),
        (sympy.Rational(1, 2) + sympy.cos(OMEGA) / 2,
         "Euler: $exp(i*omega) + exp(-i*omega) = 2*cos(omega)$"),
        (b.gain, "half-angle formula: $1 + cos(omega) = 2*cos(omega/2)**2$")],
        assume=["omega real"])
    _claim(sheet, sympy.Derivative(b.gain, OMEGA), b.derivative_form, assume=["omega real"],
                why="the slope of the gain (chain rule)")
    sheet.text("On $0 <= omega <= pi$ the response is not negative, so it is the gain, and "
               "its slope is at most 0 (sine and cosine of $omega/2$ are not negative there): "
               "the gain falls from 1 at $omega = 0$ to 0 at $omega = pi$. Half power needs "
               "the fourth power of $cos(omega_c/2)$ to be $Rational(1, 2)$:")
    with sympy.evaluate(False):
        binomial_at_cutoff = sympy.Pow(sympy.cos(b.cutoff / 2), 4)
    _derive(sheet, sympy.Abs(H(omega_c)) ** 2, [
        (binomial_at_cutoff, "the gain squared at the engine's cutoff"),
        (sympy.Rational(1, 2), "evaluate")])
    eighths = np.pi * np.arange(9) / 8
    closed = sympy.lambdify(OMEGA, b.gain, "numpy")(eighths)
    sheet.numeric(list(closed), list(np.abs(_dtft([0.25, 0.5, 0.25], eighths))), tol=1e-12,
                  why="$Abs(H)$ of (1, 2, 1)/4 at $omega = k*pi/8$, $k$ = 0 to 8",
                  method="the three taps summed directly with NumPy")
    sheet.numeric(b.cutoff_value, _half_power([0.25, 0.5, 0.25]), tol=1e-4,
                  why="half-power frequency of (1, 2, 1)/4",
                  method="first point of a grid where a NumPy DTFT has half its power at 0")
    sheet.answer(sympy.Abs(H(OMEGA)), g.gain)
    sheet.answer(omega_c, g.cutoff)
    sheet.text("The width alone sets the cutoff: it is inversely proportional to $sigma$, so "
               "a wider blur removes more of the high frequencies.")


def solve_b(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.frequency import (
        OMEGA, OMEGA_X, OMEGA_Y, SOBEL_X, Z, Z_X, Z_Y, frequency_response, sobel_analysis,
    )

    H = sympy.Function("H")
    a = sobel_analysis(SOBEL_X)
    column, row = sympy.Matrix(a.column), sympy.Matrix([list(a.row)])
    sheet.text("The kernel is a smoothing column times a differencing row:")
    _claim(sheet, sympy.ImmutableMatrix(a.kernel), sympy.MatMul(column, row, evaluate=False),
                why="outer product")
    px = frequency_response(list(a.row)).polynomial.subs(Z, Z_X)
    py = frequency_response(list(a.column)).polynomial.subs(Z, Z_Y)
    sheet.text("With $z_x = exp(-i*omega_x)$ and $z_y = exp(-i*omega_y)$ the response is the "
               "kernel's polynomial in $z_x$ (columns, horizontal) and $z_y$ (rows, "
               "vertical), centred on the middle tap. It factors:")
    _claim(sheet, a.response.polynomial, sympy.Mul(py, px, evaluate=False),
                why="the column's polynomial in $z_y$ times the row's in $z_x$")
    sheet.text("So the response is the product of the row's response in $omega_x$ and the "
               "column's in $omega_y$:")
    rx = frequency_response(list(a.row)).expr.subs(OMEGA, OMEGA_X)
    cy = frequency_response(list(a.column)).expr.subs(OMEGA, OMEGA_Y)
    _derive(sheet, "H_row", [(rx, "taps $-1$, $0$, $1$ at offsets $-1$, $0$, $1$"),
                           (a.horizontal, "Euler: $exp(i*t) - exp(-i*t) = 2*i*sin(t)$")],
                 assume=["omega_x real"])
    _derive(sheet, "H_col", [(cy, "taps $1$, $2$, $1$ at offsets $-1$, $0$, $1$"),
                           (2 + 2 * sympy.cos(OMEGA_Y), "Euler"),
                           (a.vertical, "half-angle formula")], assume=["omega_y real"])
    _claim(sheet, sympy.Abs(a.horizontal, evaluate=False), 2 * sympy.Abs(sympy.sin(OMEGA_X)),
                assume=["omega_x real"], why="the horizontal gain")
    _claim(sheet, sympy.Subs(rx, OMEGA_X, 0), 0,
                why="a horizontally constant image ($omega_x = 0$) gives zero output, "
                    "whatever its vertical content")
    grid = np.linspace(0, np.pi, 100001)
    sheet.numeric(float(a.peak_x), float(grid[np.argmax(2 * np.abs(np.sin(grid)))]), tol=1e-4,
                  why="where the horizontal gain is largest",
                  method="the largest of $2*Abs(sin(omega_x))$ on a 100001-point grid from 0 "
                         "to $pi$")
    peak_gain = 2 * sympy.Abs(sympy.sin(a.peak_x))
    sheet.text(f"The horizontal gain is 0 at $omega_x = 0$, largest ({peak_gain}) at "
               f"$omega_x = {a.peak_x}$ and {a.nyquist_x} again at $omega_x = pi$. The column "
               f"factor (1, 2, 1) is 4 times the binomial kernel of part (a): a vertical "
               f"low-pass, largest at $omega_y = 0$ and zero at $omega_y = pi$.")
    # independent: 2D FFT of the kernel written out here
    n = 64
    k = np.array([[float(v) for v in r] for r in a.kernel])
    spectrum = np.abs(np.fft.fft2(k, (n, n)))          # |H| does not depend on centring
    om = 2 * np.pi * np.arange(n) / n
    wy, wx = np.meshgrid(om, om, indexing="ij")
    closed = sympy.lambdify((OMEGA_X, OMEGA_Y), a.gain, "numpy")(wx, wy)
    sheet.numeric(closed, spectrum, tol=1e-10,
                  why=f"$Abs(H)$ on a {n}×{n} grid of frequencies",
                  method=f"NumPy's 2D FFT of the kernel padded with zeros to {n}×{n}")
    sheet.answer("H_row", a.horizontal)
    sheet.answer("H_col", a.vertical)
    sheet.answer(sympy.Abs(H(OMEGA_X, OMEGA_Y)), a.gain)
    sheet.text("So the Sobel kernel removes horizontally constant signals and passes "
               "horizontal changes: a horizontal high-pass. Strictly it is a band-pass, since "
               "its gain falls back to 0 at $omega_x = pi$ (a smoothed derivative), and it "
               "smooths vertically. Compared with the plain difference (-1, 0, 1), the "
               "vertical smoothing makes it less sensitive to noise.")


def solve_c(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.frequency import frequency_response

    sigma, carrier = 2.0, np.pi / 2
    k = np.arange(-6, 7)
    gabor = np.exp(-k ** 2 / (2 * sigma ** 2)) * np.cos(carrier * k)
    r = frequency_response([float(v) for v in gabor])
    grid = np.linspace(0, np.pi, 4097)
    mag = r.magnitude_at(grid)
    peak = float(grid[np.argmax(mag)])
    sheet.text(f"A 1D Gabor kernel, a Gaussian envelope of width {sigma:g} times a cosine of "
               f"frequency $pi/2$ (taps $exp(-(k**2/(2*sigma**2)))*cos(pi*k/2)$ for $k$ from "
               f"${k[0]}$ to ${k[-1]}$ at $sigma = {sigma:g}$), is a band-pass: its response (the "
               f"engine's transform of the taps) peaks near the carrier and is small at 0 and "
               f"$pi$.")
    sheet.numeric(peak, carrier, tol=0.02, why="frequency of the largest gain",
                  method=f"the carrier frequency $pi/2$ (the engine's gain located on a "
                         f"{grid.size}-point grid)")
    eighths = np.pi * np.arange(9) / 8
    sheet.numeric(list(r.magnitude_at(eighths)), list(np.abs(_dtft(gabor, eighths))), tol=1e-9,
                  why="$Abs(H)$ of the Gabor kernel at $omega = k*pi/8$, $k$ = 0 to 8",
                  method="the taps summed directly with NumPy")
    sheet.table(["$omega$", "$Abs(H)$"],
                [(f"{w:.3f}", f"{float(r.magnitude_at(w)):.4f}") for w in (0.0, carrier, np.pi)],
                caption="Gain of the Gabor kernel at DC, at the carrier and at the Nyquist "
                        "frequency.")
    from derive.book import figures
    sheet.figure(figures.filter_responses(gabor, sigma=SIGMA))
    sheet.explain(
        "Natural images are dominated by smooth regions separated by oriented edges and "
        "textures; their local statistics are redundant (neighbouring pixels are correlated, "
        "with a power spectrum that falls roughly as $f**(-2)$). Olshausen and Field showed "
        "that "
        "asking for a code in which each image patch is built from few active basis "
        "functions (sparse coding) yields localized, oriented, band-pass functions: Gabor-like "
        "filters. A first convolutional layer trained by gradient descent faces a similar "
        "pressure: downstream layers work best with features that respond strongly to one "
        "kind of local structure and are silent elsewhere, and localized band-pass filters "
        "give exactly that, with orientation and frequency selectivity as the computation "
        "above shows for one Gabor kernel. A Gaussian (part a) is only low-pass and a Sobel "
        "filter (part b) is a coarse oriented band-pass; Gabor filters interpolate between "
        "them with a tunable orientation and centre frequency.",
        rests_on=["8.26(a)", "8.26(b)", "the engine's frequency response of the Gabor kernel"])


def solve_d(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.frequency import OMEGA, binomial_analysis

    b = binomial_analysis(2)
    _claim(sheet, sympy.Subs(b.gain, OMEGA, sympy.pi), 0,
                why="the binomial blur (1, 2, 1)/4 removes the highest frequency $omega = pi$ "
                    "(its gain from part (a))")
    n = 16
    alternating = np.array([(-1) ** i for i in range(n)])
    shifted = np.roll(alternating, 1)

    def subsample(x):
        return x[::2]

    def blur_subsample(x):
        blurred = 0.25 * np.roll(x, 1) + 0.5 * x + 0.25 * np.roll(x, -1)   # circular blur
        return blurred[::2]

    def blur4_subsample(x):
        return (np.roll(x, 1) + 2 * x + np.roll(x, -1))[::2]    # 4 x blur, exact integers

    plain = (subsample(alternating), subsample(shifted))
    blurred = (blur4_subsample(alternating), blur4_subsample(shifted))
    sheet.text(f"Take the highest frequency a signal can carry, $x[n] = (-1)**n$ ({n} "
               f"samples, circular), and its shift by one sample, $x[n - 1]$. Subsampling "
               f"with stride 2 keeps the samples $n = 2*m$; blurring with (1, 2, 1) (4 times "
               f"the binomial kernel, whole numbers) before subsampling adds the two "
               f"neighbours:")
    _claim(sheet, written("(-1)**(2*m)"), 1, why="subsampling $x$ keeps only $+1$")
    _claim(sheet, written("(-1)**(2*m - 1)"), -1, why="subsampling the shifted $x$ keeps only "
                                                    "$-1$")
    _claim(sheet, written("(-1)**(2*m - 1) + 2*(-1)**(2*m) + (-1)**(2*m + 1)"), 0,
                why="blurring first: $x$ gives 0")
    _claim(sheet, written("(-1)**(2*m - 2) + 2*(-1)**(2*m - 1) + (-1)**(2*m)"), 0,
                why="blurring first: the shifted $x$ gives 0 too")
    half = range(n // 2)
    for value, formula, what in (
            (plain[0], [int(sympy.Integer(-1) ** (2 * j)) for j in half], "$x$ subsampled"),
            (plain[1], [int(sympy.Integer(-1) ** (2 * j - 1)) for j in half],
             "shifted $x$ subsampled"),
            (blurred[0], [0 for _ in half], "$x$ blurred, then subsampled"),
            (blurred[1], [0 for _ in half], "shifted $x$ blurred, then subsampled")):
        sheet.numeric([int(v) for v in value], formula, why=f"{what}, NumPy on {n} samples",
                      method="the formulas above at $m$ = 0 to 7")
    rng = np.random.default_rng(26)
    x = rng.standard_normal(256)

    def change(f):
        a, c = f(x), f(np.roll(x, 1))
        return float(np.linalg.norm(a - c) / np.linalg.norm(a))

    def maxpool(v):
        return np.maximum(v[::2], v[1::2])

    def blurpool(v):
        m = np.maximum(v, np.roll(v, -1))              # max with stride 1 (dense)
        return blur_subsample(m)

    rows = [("subsample (stride 2)", change(subsample)),
            ("blur, then subsample", change(blur_subsample)),
            ("max-pool 2, stride 2", change(maxpool)),
            ("max (stride 1), blur, subsample", change(blurpool))]
    sheet.text("How much does a one-sample shift of the input change each downsampled "
               "output? With $y$ the output for $x$ and $y_s$ the output for the shifted "
               "input, the table gives the norm of $y - y_s$ over the norm of $y$:")
    sheet.table(["downsampling", "relative change of the output under a 1-sample shift"],
                [(name, f"{v:.3f}") for name, v in rows],
                caption="White noise of 256 samples (NumPy's standard normal generator, seed "
                        "26), circular boundary; the blur is (1, 2, 1)/4.")
    sheet.explain(
        "Subsampling by 2 keeps every second sample, so a frequency $omega$ above $pi/2$ "
        "reappears after subsampling as the lower frequency $2*pi - 2*omega$ (aliasing): the "
        "frequency $pi$ turns into a constant whose sign depends on which samples were kept. "
        "Shifting the input by one sample then changes the output completely instead of "
        "shifting it, which is the failure of equivariance found for stride-2 convolution and "
        "2×2 max pooling in exercise 8.22. Max pooling with stride 2 is a dense max followed "
        "by subsampling, and the dense max creates high frequencies that alias. Zhang's "
        "anti-aliased downsampling inserts a low-pass blur between the dense operation and "
        "the subsampling (max, blur, subsample; or conv, blur, subsample): the blur "
        "suppresses the frequencies that would alias, as the binomial kernel's zero at $pi$ "
        "shows, so a one-sample shift changes the output much less (table above). "
        "Equivariance is still approximate, since the blur is not an ideal low-pass.",
        rests_on=["8.26(a) binomial response", "8.22(b)", "8.22(c)",
                  "the zero of the binomial gain at the highest frequency, above"])


PROBLEM = Problem(
    id="8.26", set="chapter8", order=26, title="Convolutions as filters",
    source="Chapter 8, exercise 8.26",
    statement=("Connect convolutional layers with signal processing through the frequency "
               "response $H$ of a kernel (its discrete-time Fourier transform)."),
    parts=(
        Part("a", "Show that a fixed Gaussian kernel is a low-pass filter. What sets its "
                  "cutoff frequency?", solve_a),
        Part("b", "Show that the Sobel kernel with rows (-1, 0, 1), (-2, 0, 2) and "
                  "(-1, 0, 1) is a high-pass filter along the horizontal direction.", solve_b),
        Part("c", "First layers of trained CNNs often look like Gabor filters. Why would "
                  "gradient descent on natural images produce them? Relate this to sparse "
                  "coding (Olshausen and Field, 1996).", solve_c, scope=EXPLANATION),
        Part("d", "Explain how aliasing in strided convolutions and max pooling breaks "
                  "translation equivariance, and how blurring before subsampling "
                  "(anti-aliased downsampling, Zhang 2019) helps.", solve_d,
             scope=EXPLANATION),
    ),
)
