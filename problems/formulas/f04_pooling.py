"""Formula sheet, section 4: pooling and downsampling.

Pooling windows are read off the same index map as the convolution model
(:meth:`derive.conv.model.ConvModel.window_index`), sizes come from
:func:`derive.conv.shapes.pool_output_size` and :func:`~derive.conv.shapes.output_size`,
the low-pass argument from :func:`derive.conv.frequency.frequency_response`.  Cross-checks:
explicit loops over windows, NumPy reductions and sampled cosines.
"""

from derive.book import Part, Problem, Sheet

SEED = 0


def _ints(a):
    """An integer array when every entry is an integer (float64 arithmetic on small integers
    is exact), so the comparison is exact; otherwise the float array itself."""
    import numpy as np

    a = np.asarray(a, dtype=float)
    return np.rint(a).astype(np.int64) if np.all(a == np.rint(a)) else a


def _window_indices(kernel, stride):
    """Input positions (rows, cols) of output (i, j) for a K x K window at stride S, read off
    the convolution model's index map (dilation 1, no padding)."""
    from derive.conv.model import conv_model

    model = conv_model(2, kernel=kernel, stride=stride, padding=0, dilation=1)
    rows = model.window_index(0)
    cols = model.window_index(1)
    u = [s for s in rows.free_symbols if s.name == "u"][0]
    v = [s for s in cols.free_symbols if s.name == "v"][0]
    return [(rows.subs(u, a), cols.subs(v, b)) for a in range(kernel) for b in range(kernel)]


def _pool_loops(x, k, s, reduce):
    """Brute force pooling of a 2D list: every window at stride s, reduced by ``reduce``."""
    n, m = len(x), len(x[0])
    return [[reduce([x[i * s + u][j * s + v] for u in range(k) for v in range(k)])
             for j in range((m - k) // s + 1)] for i in range((n - k) // s + 1)]


# ------------------------------------------------------------------------------ 4.1
def _window_max(kernel, stride):
    """y[i, j] as the maximum over a K x K window whose taps (u, v) are read off the
    convolution model's index map (dilation 1, no padding); ``kernel``, ``stride`` may be
    symbols.  Typeset as a max over the tap ranges (notation ``window_max``)."""
    import sympy

    from derive.conv.model import conv_model

    model = conv_model(2, kernel=kernel, stride=stride, padding=0, dilation=1)
    rows, cols = model.window_index(0), model.window_index(1)
    u = [s for s in rows.free_symbols if s.name == "u"][0]
    v = [s for s in cols.free_symbols if s.name == "v"][0]
    x = sympy.IndexedBase("x")
    return sympy.Function("window_max")(x[rows, cols], u, kernel - 1, v, kernel - 1)


def _expand_window_max(expr):
    """The ``window_max`` of a concrete window size as SymPy's Max of its entries."""
    import sympy

    def expand(body, u, last_u, v, last_v):
        return sympy.Max(*[body.xreplace({u: a, v: b}) for a in range(int(last_u) + 1)
                           for b in range(int(last_v) + 1)], evaluate=False)
    return expr.replace(lambda e: type(e).__name__ == "window_max",
                        lambda e: expand(*e.args))


def solve_4_1(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import max_pool_cost
    from derive.conv.shapes import pool_output_size
    from derive.numeric import max_pool2d
    from derive.symbols import syms

    H, K, S = syms("H K S")
    x = sympy.IndexedBase("x")
    y = sympy.IndexedBase("y")
    i, j = sympy.symbols("i j", integer=True, nonnegative=True)
    window = _window_indices(2, 2)
    relation = _window_max(K, S)
    sheet.text("Relation: $y[i, j]$ is the largest value of the $K$×$K$ window whose top-left "
               "corner is $x[S*i, S*j]$; the windows are those of a convolution with the same "
               "kernel size and stride, and there are no parameters. Symbols: $K$ window "
               "size, $S$ stride (by default $S == K$: windows that do not overlap), $H$ "
               "input size, $u$ and $v$ the taps.")
    sheet.derive(y[i, j], [(relation, "definition: the maximum over the window read off the "
                                      "convolution model's index map (dilation 1, no "
                                      "padding)")])
    sheet.text("For $K == 2$ and $S == 2$ the window of output $y[i, j]$ holds four entries:")
    by_model = sympy.Max(*[x[r, c] for r, c in window], evaluate=False)
    sheet.derive(y[i, j], [(by_model, "the same index map at $K == 2$, $S == 2$, taps $u$ "
                                      "and $v$ equal to $0$ or $1$")])
    sheet.claim(pool_output_size(H, K), sympy.floor(H / K),
                why="with $S == K$ the windows tile the input: $floor(H/K)$ of them per axis")
    cost = max_pool_cost(sympy.Symbol("C", positive=True, integer=True), K,
                         sympy.Symbol("H_out", positive=True, integer=True), convention="mac")
    sheet.table(["parameters", "multiply-adds", "comparisons"],
                [(cost.params, cost.flops, cost.comparisons)],
                caption="The engine's cost of max pooling $C$ channels to an $H_out$×$H_out$ "
                        "map.")
    rng = np.random.default_rng(SEED)
    img = rng.integers(-9, 10, size=(7, 8))
    img3 = rng.integers(-9, 10, size=(8, 8))
    sheet.text("Cross-checks on integer images drawn by NumPy's default generator with seed "
               f"{SEED} (entries from $-9$ to $9$): first a 7×8 image, then an 8×8 one. With "
               "$K == 2$ the last row of the 7×8 image is dropped ($floor(7/2) == 3$ rows "
               "of windows); with $K == 3$, $S == 2$ the windows overlap.")
    ref = _pool_loops(img.tolist(), 2, 2, max)
    at_two = _expand_window_max(relation.xreplace({K: 2, S: 2}))
    by_relation = [[int(at_two.xreplace({i: a, j: b}).xreplace(
        {x[r, c]: int(img[r, c]) for r in range(7) for c in range(8)})) for b in range(4)]
        for a in range(3)]
    sheet.numeric(np.array(by_relation).ravel(), np.array(ref).ravel(),
                  method="the maximum of every 2×2 window in explicit loops",
                  why="the relation at $K == 2$, $S == 2$ on the 7×8 image, entry by entry "
                      "(3 rows of 4)")
    got = max_pool2d(img.reshape(1, 1, 7, 8).astype(float), 2)[0, 0]
    sheet.numeric(_ints(got).ravel(), np.array(ref).ravel(),
                  method="the maximum of every 2×2 window in explicit loops",
                  why="the engine's NumPy max pooling of the 7×8 image")
    boxed = _expand_window_max(relation.xreplace({K: 3, S: 2}))
    entries = {x[r, c]: int(img3[r, c]) for r in range(8) for c in range(8)}
    by_relation = [[int(boxed.xreplace({i: a, j: b}).xreplace(entries)) for b in range(3)]
                   for a in range(3)]
    sheet.numeric(np.array(by_relation).ravel(),
                  _ints(max_pool2d(img3.reshape(1, 1, 8, 8).astype(float), 3, 2)[0, 0]).ravel(),
                  method="the engine's NumPy max pooling",
                  why="the relation at $K == 3$, $S == 2$ on the 8×8 image (overlapping "
                      "windows, 3 rows of 3)")
    sheet.answer("max pooling", sympy.Eq(y[i, j], relation, evaluate=False))
    sheet.answer("max pooling output size (S = K)", sympy.floor(H / K))


# ------------------------------------------------------------------------------ 4.2
def solve_4_2(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.backward import forward
    from derive.numeric import avg_pool2d, conv2d
    from derive.symbols import syms

    K, D = syms("K D")
    fw = forward(2)
    w = sympy.IndexedBase("w")
    rhs = fw.rhs.xreplace({D: 1})
    rhs = rhs.xreplace({ref: 1 / K**2 for ref in rhs.atoms(sympy.Indexed) if ref.base == w})
    sheet.text("Relation: average pooling is a convolution of each channel with the constant "
               "kernel $K**(-2)$ (depthwise, not learned): $y[i, j]$ is $K**(-2)$ times the "
               "sum of $x_pad[S*i + u, S*j + v]$ over the taps. Symbols: $K$ window size, $S$ "
               "stride, $u$ and $v$ the taps, from $0$ to $K - 1$.")
    sheet.derive(sympy.IndexedBase("y")[fw.out_index],
                 [(rhs, "definition: the model with every weight equal to $K**(-2)$")])
    t = sympy.Symbol("t", integer=True, nonnegative=True)
    sheet.derive("sum of the weights", [
        (sympy.Sum(1 / K**2, (t, 0, K**2 - 1)),
         "$K**2$ taps, numbered $t == K*u + v$, each weighing $K**(-2)$"),
        (sympy.Integer(1), "evaluate: a constant image is left unchanged")])
    rng = np.random.default_rng(SEED)
    x = 9.0 * rng.integers(-5, 6, size=(1, 3, 6, 6))      # window means are integers
    ref = [_pool_loops(x[0, c].astype(int).tolist(), 3, 3, lambda vals: sum(vals) // len(vals))
           for c in range(3)]
    sheet.text(f"Cross-checks on a 3-channel 6×6 input: 9 times random integers from $-5$ to "
               f"$5$ (NumPy's default generator, seed {SEED}), so that every 3×3 window mean is "
               f"an integer.")
    sheet.numeric(_ints(avg_pool2d(x, 3)[0]).ravel(), np.array(ref).ravel(),
                  method="the mean of every 3×3 window in explicit integer loops",
                  why="the engine's average pooling, $K == 3$, $S == 3$ (3 channels of 2×2)")
    ones = np.ones((3, 1, 3, 3))
    sheet.numeric(_ints(avg_pool2d(x, 3)).ravel(),
                  _ints(conv2d(x, ones, stride=3, groups=3) / 9).ravel(),
                  method="a depthwise convolution with the all-ones 3×3 kernel at stride 3, "
                         "divided by 9",
                  why="the same pooled values")
    sheet.answer("average pooling", sympy.Eq(sympy.IndexedBase("y")[fw.out_index], rhs,
                                             evaluate=False))


# ------------------------------------------------------------------------------ 4.3
def solve_4_3(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import conv_cost
    from derive.conv.model import conv_model
    from derive.conv.shapes import output_size
    from derive.numeric import conv2d
    from derive.symbols import syms

    S, K, m, c = syms("S K m C")
    i = sympy.Symbol("i", integer=True, nonnegative=True)
    strided = conv_model(1, stride=S).axis_view(0)
    sheet.text("Relation: a stride-$S$ convolution is the stride-1 convolution kept at every "
               "$S$-th position, $y_S[i] == y_1[S*i]$; it downsamples with learned weights. "
               "With $K == S$, no padding and $H == S*m$ it maps $S*m$ positions to $m$. "
               "Symbols: $S >= 1$ stride, $K$ kernel, $P >= 0$ padding, $D$ dilation.")
    sheet.derive(sympy.IndexedBase("y_S")[i],
                 [(strided.rhs, "definition: the model at stride $S$")])
    sheet.text("The stride-1 model reads $x_pad[D*u + t]$ at output $t$; at $t == S*i$ that is "
               "the sum above, term by term, so $y_S[i] == y_1[S*i]$.")
    sheet.claim(output_size(S * m, S, 0, S), m,
                why="windows of $S$×$S$ that do not overlap, on an input of $S*m$, give $m$ "
                    "outputs")
    coarse = conv_cost(c, c, K, m, bias=False, convention="mac").flops
    fine = conv_cost(c, c, K, S * m, bias=False, convention="mac").flops
    ratio = sympy.Mul(coarse, sympy.Pow(fine, -1, evaluate=False), evaluate=False)
    sheet.claim(ratio, 1 / S**2,
                why="at the same padding it computes $S**(-2)$ of the outputs of the stride-1 "
                    "layer, so $S**(-2)$ of its multiply-adds")
    rng = np.random.default_rng(SEED)
    x = rng.integers(-3, 4, size=(1, 2, 9, 9)).astype(float)
    w = rng.integers(-3, 4, size=(3, 2, 3, 3)).astype(float)
    sheet.numeric(_ints(conv2d(x, w, stride=2, padding=1)).ravel(),
                  _ints(conv2d(x, w, stride=1, padding=1)[:, :, ::2, ::2]).ravel(),
                  method="the stride-1 output with every second row and column kept (NumPy)",
                  why="a 3×3 convolution from 2 to 3 channels at stride 2, padding 1, on a "
                      "9×9 input (input, then weights: random integers from $-3$ to $3$, "
                      f"NumPy's default generator, seed {SEED})")
    sheet.answer("strided convolution", sympy.Eq(sympy.IndexedBase("y_S")[i],
                                                 sympy.IndexedBase("y_1")[S * i],
                                                 evaluate=False))


# ------------------------------------------------------------------------------ 4.4
def solve_4_4(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import global_avg_pool_cost
    from derive.conv.shapes import pool_output_size
    from derive.numeric import avg_pool2d
    from derive.symbols import syms

    H, W, C = syms("H W C")
    x = sympy.IndexedBase("x")
    c = sympy.Symbol("c", integer=True, nonnegative=True)
    i, j = sympy.symbols("i j", integer=True, nonnegative=True)
    gap = sympy.Sum(x[c, i, j], (i, 0, H - 1), (j, 0, W - 1)) / (H * W)
    sheet.text("Relation: global average pooling replaces each channel map by its mean, "
               "giving a vector of length $C$ whatever $H$ and $W$ are. It is average pooling "
               "with a window the size of the map. Symbols: $C$ channels, an $H$×$W$ map, "
               "$c < C$.")
    sheet.derive(sympy.IndexedBase("y")[c], [(gap, "definition: the mean of channel $c$")])
    K = sympy.Symbol("K", integer=True, positive=True)
    general = pool_output_size(H, K)            # window K at stride K
    with sympy.evaluate(False):
        once = general.xreplace({K: H})
    sheet.claim(once, 1, why="the pooling size with a window of width $H$ at stride $H$: one "
                             "output per channel")
    cost = global_avg_pool_cost(C, (H, W), convention="mac")
    sheet.table(["parameters", "multiply-adds"], [(cost.params, cost.flops)],
                caption="The engine's cost of global average pooling.")
    rng = np.random.default_rng(SEED)
    sheet.text("Cross-checks on batches of 2 images with 4 channels, of 5×7 and 8×3, then one "
               "3-channel image of 5×6 shifted circularly by 2 rows and 3 columns. Each is "
               "$H*W$ times random integers from $-5$ to $5$ (NumPy's default generator, seed "
               f"{SEED}, in that order), so that the means are integers.")
    shapes = [(5, 7), (8, 3)]
    for h, w in shapes:
        t = float(h * w) * rng.integers(-5, 6, size=(2, 4, h, w))   # exact integer means
        sheet.numeric(_ints(avg_pool2d(t, (h, w))[:, :, 0, 0]).ravel(),
                      (t.astype(int).sum(axis=(2, 3)) // (h * w)).ravel(),
                      method=f"the integer sum over the {h}×{w} positions divided by {h * w}",
                      why=f"the engine's pooling with a window of {h}×{w} (2 images, 4 "
                          f"channels)")
    t = 30.0 * rng.integers(-5, 6, size=(1, 3, 5, 6))               # exact integer means
    shifted = np.roll(t, (2, 3), axis=(2, 3))
    sheet.numeric(_ints(avg_pool2d(shifted, (5, 6))[:, :, 0, 0]).ravel(),
                  (t.astype(int).sum(axis=(2, 3)) // 30).ravel(),
                  method="the integer mean of each channel of the unshifted image",
                  why="the pooled vector of the shifted image: it does not move")
    sheet.answer("global average pooling", sympy.Eq(sympy.IndexedBase("y")[c], gap,
                                                    evaluate=False))


# ------------------------------------------------------------------------------ 4.5
def solve_4_5(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.frequency import binomial_kernel, frequency_response
    from derive.symbols import sym

    S = sym("S")
    omega = sympy.Symbol("omega", real=True)
    n = sympy.Symbol("n", integer=True)
    sheet.text("Relation: keeping every $S$-th sample of $cos(omega*t)$ gives "
               "$cos(S*omega*n)$, and the frequencies $omega$ and $omega + 2*pi/S$ give "
               "identical samples, so they cannot be told apart after downsampling "
               "(aliasing). Only $Abs(omega) < pi/S$ is represented faithfully (the Nyquist "
               "limit of the coarse grid), so a low-pass filter should remove higher "
               "frequencies first. Symbols: $omega$ real (radians per input sample), "
               "$S >= 1$ stride, $n$ any integer.")
    # in two short steps: the argument at a kept sample, then the period of the cosine
    theta = sympy.Symbol("theta", real=True)
    with sympy.evaluate(False):
        argument = sympy.Mul(sympy.Add(omega, 2 * sympy.pi / S), S * n)
        shifted = sympy.cos(sympy.Add(theta, 2 * sympy.pi * n))
    sheet.claim(argument, S * n * omega + 2 * sympy.pi * n, assume=["omega real", "n integer"],
                why="the argument of $cos((omega + 2*pi/S)*t)$ at a kept sample $t == S*n$")
    sheet.claim(shifted, sympy.cos(theta), assume=["theta real", "n integer"],
                why="the cosine has period $2*pi$ and $n$ is an integer; with "
                    "$theta == S*n*omega$ the two frequencies give the same samples")
    response = frequency_response(binomial_kernel(2))
    w_ = response.variables[0]
    sheet.claim(response.expr, (1 + sympy.cos(w_)) / 2, assume=[f"{w_.name} real"],
                why="the blur kernel with taps $Rational(1, 4)$, $Rational(1, 2)$, "
                    "$Rational(1, 4)$ multiplies frequency $omega$ by its frequency response "
                    "(left), $(1 + cos(omega))/2$")
    sheet.claim(sympy.Subs(response.expr, w_, sympy.pi), 0,
                why="it removes the highest frequency $pi$ completely before subsampling")
    freq, s = 0.3, 2
    grid = np.arange(64)
    fine = np.cos((freq + 2 * np.pi / s) * grid)
    coarse = np.cos(freq * grid)
    sheet.numeric(fine[::s], coarse[::s], tol=1e-12,
                  method="NumPy: the samples of $cos(0.3*t)$ at the same times",
                  why="the samples of $cos((0.3 + pi)*t)$ at the 32 kept times "
                      "$t$ = 0, 2, ..., 62")
    diff = float(np.max(np.abs(fine - coarse)))
    sheet.table(["signals", "largest difference on the full grid", "on the stride-2 grid"],
                [("$cos(0.3*t)$ and $cos((0.3 + pi)*t)$", f"{diff:.4f}",
                  "agree to within $10**(-12)$")],
                caption="Different signals before subsampling, identical after it.")
    sheet.answer("aliasing", sympy.Eq(sympy.cos(omega * S * n),
                                      sympy.cos((omega + 2 * sympy.pi / S) * S * n),
                                      evaluate=False))
    sheet.answer("Nyquist limit after stride S", sympy.pi / S)


PROBLEM = Problem(
    id="formulas-4", set="formulas", order=4, title="Pooling and downsampling",
    source="Chapter notes, section 4",
    statement="Ways to reduce spatial resolution and what they cost or lose.",
    parts=(
        Part("4.1", "Max pooling: keep the maximum of each window.", solve_4_1),
        Part("4.2", "Average pooling: replace each window by its mean.", solve_4_2),
        Part("4.3", "Strided convolution: downsample with learned weights instead of a "
                    "fixed pooling rule.",
             solve_4_3),
        Part("4.4", "Global average pooling: reduce each channel map to a single number.",
             solve_4_4),
        Part("4.5", "Aliasing: what goes wrong when a signal is subsampled without "
                    "smoothing it first?",
             solve_4_5),
    ),
)
