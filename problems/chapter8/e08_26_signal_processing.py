"""Exercise 8.26: convolution layers read as filters (frequency responses).

The responses are the engine's symbolic discrete-time Fourier transforms
(:mod:`derive.conv.frequency`): every step of its Gaussian, binomial and Sobel analyses is
re-checked here through the sheet, and the results are cross-checked with NumPy sums and
FFTs written in this module.  Parts (c) and (d) are explanations; each rests on a small
computation done here (the band-pass response of a Gabor kernel; aliasing of a stride-2
subsampling and its removal by a binomial blur, whose response vanishes at omega = pi).
"""

from derive.book import Part, Problem, Sheet

SIGMA = 2.0


def _steps(sheet: Sheet, steps) -> None:
    """Put the engine's argument on the sheet.  Each equation carries the verdict the
    checker gave when the engine built the argument (one check per equation, not two);
    a step without a verdict follows from the previous ones and is shown as text."""
    from derive.book.model import Check

    for st in steps:
        if st.verdict is None:
            sheet.text(st.statement[0].upper() + st.statement[1:] + ".")
        else:
            sheet.add(Check(st.lhs, st.rhs, st.verdict, st.statement, "claim"))


def _column(values):
    """A long 1D array as a column, so the book summarises it by its shape."""
    import numpy as np
    return np.asarray(values).reshape(-1, 1)


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


def solve_a(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.frequency import (
        OMEGA, SIGMA as S, binomial_analysis, gaussian_analysis, gaussian_kernel,
    )

    sheet.text("A convolution with a fixed kernel w multiplies each frequency omega of the "
               "input by H(omega) = sum_k w[k] exp(-i omega k). Low-pass means |H| is largest "
               "at omega = 0 and falls towards omega = pi. For the continuous Gaussian of "
               "width sigma:")
    g = gaussian_analysis()
    _steps(sheet, g.steps)
    sheet.text(f"The slope found above is never positive for omega >= 0 "
               f"({g.monotone.method}), so |H| falls monotonically from its value "
               f"{g.dc_gain} at omega = 0.")
    kernel = gaussian_kernel(SIGMA)
    measured = _half_power(kernel)
    exact = float(g.cutoff.subs(S, SIGMA))
    sheet.numeric(measured, exact, tol=2e-3,
                  method=f"half-power frequency of the sampled kernel (sigma = {SIGMA:g}, "
                         f"{kernel.size} taps) found on a grid with a NumPy DTFT")
    sheet.text("The sampled 3-tap kernel [1, 2, 1]/4 (the smallest binomial approximation "
               "of a Gaussian) has an exact closed form:")
    b = binomial_analysis(2)
    _steps(sheet, b.steps)
    grid = np.linspace(0, np.pi, 513)
    closed = sympy.lambdify(OMEGA, b.gain, "numpy")(grid)
    sheet.numeric(_column(closed), _column(np.abs(_dtft([0.25, 0.5, 0.25], grid))), tol=1e-12,
                  method="|H| of [1, 2, 1]/4 summed directly with NumPy at 513 frequencies")
    sheet.numeric(b.cutoff_value, _half_power([0.25, 0.5, 0.25]), tol=1e-4,
                  method="half-power frequency found on a grid with a NumPy DTFT")
    sheet.answer("Gaussian response", g.gain)
    sheet.answer("cutoff (half power)", sympy.Eq(sympy.Symbol("omega_c"), g.cutoff))
    sheet.text("The width alone sets the cutoff: it is inversely proportional to sigma, so a "
               "wider blur removes more of the high frequencies.")


def solve_b(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.frequency import OMEGA_X, OMEGA_Y, SOBEL_X, sobel_analysis

    a = sobel_analysis(SOBEL_X)
    sheet.text(f"The kernel factors into a column {list(a.column)} (vertical) times a row "
               f"{list(a.row)} (horizontal), so its response is a product of two 1D "
               f"responses:")
    _steps(sheet, a.steps)
    sheet.answer("horizontal factor (row)", a.horizontal)
    sheet.answer("vertical factor (column)", a.vertical)
    sheet.text(f"The check H(0, omega_y) = {a.zero_at_dc_x} above says that a horizontally "
               f"constant image gives zero output, whatever its vertical content.")
    sheet.claim(sympy.Abs(a.horizontal), 2 * sympy.Abs(sympy.sin(OMEGA_X)),
                assume=["omega_x real"], why="the horizontal gain")
    grid = np.linspace(0, np.pi, 100001)
    sheet.numeric(float(a.peak_x), float(grid[np.argmax(2 * np.abs(np.sin(grid)))]), tol=1e-4,
                  method="the largest horizontal gain on a grid of [0, pi]: at omega_x = pi/2, "
                         "where it is 2; it is 0 at omega_x = 0 and at pi")
    if a.vertical_analysis is not None:
        sheet.text("The column factor [1, 2, 1] is 4 times the binomial kernel of part (a): "
                   "a vertical low-pass (smoother), largest at omega_y = 0 and zero at "
                   "omega_y = pi.")
    # independent: 2D FFT of the kernel written out here
    n = 64
    k = np.array([[float(v) for v in row] for row in a.kernel])
    spectrum = np.abs(np.fft.fft2(k, (n, n)))          # |H| does not depend on centring
    om = 2 * np.pi * np.arange(n) / n
    wy, wx = np.meshgrid(om, om, indexing="ij")
    closed = sympy.lambdify((OMEGA_X, OMEGA_Y), a.gain, "numpy")(wx, wy)
    sheet.numeric(closed, spectrum, tol=1e-10,
                  method=f"|FFT| of the 3x3 kernel zero-padded to {n}x{n} (NumPy)")
    sheet.numeric(_column(np.zeros(n)), _column(spectrum[:, 0]), tol=1e-12,
                  method="the FFT column omega_x = 0 is zero for every omega_y")
    sheet.answer("|H(omega_x, omega_y)|", a.gain)
    sheet.text(f"So the Sobel kernel {a.horizontal_kind}, and smooths vertically. Compared with "
               f"the plain difference [-1, 0, 1], the vertical smoothing makes it less "
               f"sensitive to noise.")


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
    sheet.text(f"A 1D Gabor kernel (a Gaussian envelope of width {sigma:g} times a cosine of "
               f"frequency pi/2) is a band-pass: its response (the engine's DTFT) peaks near "
               f"the carrier and is small at 0 and pi.")
    sheet.numeric(peak, carrier, tol=0.02,
                  method="location of the largest |H| on a 4097-point grid vs the carrier "
                         "frequency")
    sheet.numeric(_column(mag), _column(np.abs(_dtft(gabor, grid))), tol=1e-9,
                  method="the engine's response vs a NumPy DTFT of the same kernel")
    sheet.table(["omega", "|H(omega)|"],
                [(f"{w:.3f}", f"{float(r.magnitude_at(w)):.4f}") for w in (0.0, carrier, np.pi)],
                caption="Gain of the Gabor kernel at DC, at the carrier and at the Nyquist "
                        "frequency.")
    sheet.explain(
        "Natural images are dominated by smooth regions separated by oriented edges and "
        "textures; their local statistics are redundant (neighbouring pixels are correlated, "
        "with a power spectrum that falls roughly as 1/f^2). Olshausen and Field showed that "
        "asking for a code in which each image patch is built from few active basis "
        "functions (sparse coding) yields localized, oriented, band-pass functions: Gabor-like "
        "filters. A first convolutional layer trained by gradient descent faces a similar "
        "pressure: downstream layers work best with features that respond strongly to one "
        "kind of local structure and are silent elsewhere, and localized band-pass filters "
        "give exactly that, with orientation and frequency selectivity as the computation "
        "above shows for one Gabor kernel. A Gaussian (part a) is only low-pass and a Sobel "
        "filter (part b) is a coarse oriented band-pass; Gabor filters interpolate between "
        "them with a tunable orientation and centre frequency.",
        rests_on=["8.26(a)", "8.26(b)", "derive.conv.frequency.frequency_response"])


def solve_d(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.frequency import OMEGA, binomial_analysis

    b = binomial_analysis(2)
    sheet.claim(b.gain.subs(OMEGA, sympy.pi), 0,
                why="the binomial blur [1, 2, 1]/4 removes the Nyquist frequency omega = pi")
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
    sheet.text(f"Take the highest frequency a signal can carry, x[n] = (-1)^n ({n} samples, "
               f"circular), and its shift by one sample.")
    sheet.numeric(plain[0], [1] * (n // 2), method="stride-2 subsampling of x keeps the +1 "
                                                    "samples")
    sheet.numeric(plain[1], [-1] * (n // 2), method="stride-2 subsampling of the shifted x "
                                                     "keeps the -1 samples")
    sheet.numeric(blurred[0], [0] * (n // 2),
                  method="blur with [1, 2, 1] (4 times the binomial kernel), then subsample: "
                         "x gives zeros")
    sheet.numeric(blurred[1], [0] * (n // 2),
                  method="blur, then subsample: the shifted x gives zeros too")
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
    sheet.table(["downsampling", "relative change of the output under a 1-sample shift"],
                [(name, f"{v:.3f}") for name, v in rows],
                caption="White-noise input of 256 samples (seed 26), circular boundary.")
    sheet.explain(
        "Subsampling by 2 keeps every second sample, so a frequency omega above pi/2 "
        "reappears after subsampling as the lower frequency 2 pi - 2 omega (aliasing): the "
        "frequency pi turns into a constant whose sign depends on which samples were kept. "
        "Shifting the input by one sample then changes the output completely instead of "
        "shifting it, which is the failure of equivariance found for stride-2 convolution and "
        "2x2 max pooling in exercise 8.22. Max pooling with stride 2 is a dense max followed "
        "by subsampling, and the dense max creates high frequencies that alias. Zhang's "
        "anti-aliased downsampling inserts a low-pass blur between the dense operation and "
        "the subsampling (max, blur, subsample; or conv, blur, subsample): the blur "
        "suppresses the frequencies that would alias, as the binomial kernel's zero at pi "
        "shows, so a one-sample shift changes the output much less (table above). "
        "Equivariance is still approximate, since the blur is not an ideal low-pass.",
        rests_on=["8.26(a) binomial response", "8.22(b)", "8.22(c)",
                  "derive.conv.frequency.binomial_analysis"])


PROBLEM = Problem(
    id="8.26", set="chapter8", order=26, title="Convolutions as filters",
    source="Chapter 8, exercise 8.26",
    statement=("Connect convolutional layers with signal processing through the frequency "
               "response H of a kernel (its discrete-time Fourier transform)."),
    parts=(
        Part("a", "Show that a fixed Gaussian kernel is a low-pass filter. What sets its "
                  "cutoff frequency?", solve_a),
        Part("b", "Show that the Sobel kernel [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] is a "
                  "high-pass filter along the horizontal direction.", solve_b),
        Part("c", "First layers of trained CNNs often look like Gabor filters. Why would "
                  "gradient descent on natural images produce them? Relate this to sparse "
                  "coding (Olshausen and Field, 1996).", solve_c),
        Part("d", "Explain how aliasing in strided convolutions and max pooling breaks "
                  "translation equivariance, and how blurring before subsampling "
                  "(anti-aliased downsampling, Zhang 2019) helps.", solve_d),
    ),
)
