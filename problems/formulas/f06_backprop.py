"""Formula sheet, section 6: backpropagation through a convolution.

The three gradients are derived from the indexed-sum model by the engine
(:mod:`derive.conv.backward`: every step a checked re-indexing rule); the im2col shapes come
from :func:`derive.conv.im2col.patch_matrix_shape`.  Cross-checks: central finite
differences of a scalar loss, ``numpy.convolve`` for the flipped full convolution, a patch
matrix built with explicit loops, and exact polynomial algebra for the finite-difference
error.
"""

from derive.book import Part, Problem, Sheet

SEED = 0


def _setup(stride=1, padding=0):
    """A small random integer convolution and the scalar loss L = sum(g * y) for a fixed
    integer g.  Float64 arithmetic on these small integers is exact."""
    import numpy as np

    from derive.numeric import conv2d

    rng = np.random.default_rng(SEED)
    x = rng.integers(-3, 4, size=(2, 2, 6, 5)).astype(float)
    w = rng.integers(-3, 4, size=(3, 2, 3, 3)).astype(float)
    b = rng.integers(-3, 4, size=3).astype(float)
    y = conv2d(x, w, b, stride=stride, padding=padding)
    g = rng.integers(-3, 4, size=y.shape).astype(float)

    def loss(xv, wv, bv):
        return float((g * conv2d(xv, wv, bv, stride=stride, padding=padding)).sum())

    return x, w, b, g, loss


def _unit_differences(f, a):
    """Brute force partial derivatives of a function that is linear in ``a``:
    f(a + e_k) - f(a) for every unit vector e_k (exact for a linear function)."""
    import numpy as np

    base = f(a)
    out = np.zeros(a.shape)
    for k in np.ndindex(a.shape):
        bumped = a.copy()
        bumped[k] += 1.0
        out[k] = f(bumped) - base
    return _ints(out)


def _ints(a):
    """An integer array when every entry is an integer (float64 arithmetic on small integers
    is exact), so the comparison is exact; otherwise the float array itself."""
    import numpy as np

    a = np.asarray(a, dtype=float)
    return np.rint(a).astype(np.int64) if np.all(a == np.rint(a)) else a


def _add_chain(sheet: Sheet, chain, label: str) -> None:
    """Put an engine derivation (a checked chain of re-indexing rules) on the sheet."""
    sheet.add(chain.to_book(label=label))


# ------------------------------------------------------------------------------ 6.1
def solve_6_1(sheet: Sheet) -> None:
    from derive.conv.backward import weight_gradient
    from derive.numeric import conv2d_backward

    chain = weight_gradient(2)
    sheet.text("Relation: the gradient of the loss with respect to kernel tap (u', v') "
               "collects the input values that tap multiplied, weighted by the upstream "
               "gradient g = dL/dy at the corresponding outputs: a cross-correlation of the "
               "padded input with g. Symbols: g[i, j] = dL/dy[i, j], O_h x O_w the output "
               "size, S stride, D dilation, x_pad the padded input.")
    _add_chain(sheet, chain, "kernel gradient")
    x, w, b, g, loss = _setup(stride=2, padding=1)
    analytic = conv2d_backward(x, w, g, stride=2, padding=1)[1]
    sheet.numeric(_ints(analytic), _unit_differences(lambda wv: loss(x, wv, b), w),
                  method="L = sum(g * y) is linear in w, so L(w + e_k) - L(w) is its exact "
                         "partial derivative: one unit perturbation per weight (integer data, "
                         "stride 2, padding 1, 2 -> 3 channels, batch 2)")
    sheet.answer("kernel gradient", chain.result)


# ------------------------------------------------------------------------------ 6.2
def solve_6_2(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.backward import input_gradient
    from derive.numeric import conv2d_backward

    chain = input_gradient(1)
    sheet.text("Relation: each input entry receives the upstream gradients of every output "
               "that read it, weighted by the tap that read it. Written out, this is the full "
               "convolution of the stride-dilated gradient g_s with w, or equivalently the "
               "cross-correlation with the flipped kernel w[K - 1 - u'] after padding by "
               "D(K - 1) - P. Symbols: m input position, O output length, S stride, P "
               "padding, D dilation; shown in 1D, each axis of a 2D layer behaves the same.")
    _add_chain(sheet, chain, "input gradient")
    rng = np.random.default_rng(SEED)
    xs = rng.integers(-4, 5, size=9).astype(float)
    ws = np.array([1.0, -2.0, 3.0])
    gs = rng.integers(-4, 5, size=7).astype(float)
    dx = conv2d_backward(xs.reshape(1, 1, 1, -1), ws.reshape(1, 1, 1, -1),
                         gs.reshape(1, 1, 1, -1))[0][0, 0, 0]
    sheet.numeric(_ints(dx),
                  [int(v) for v in np.convolve(gs, ws, mode="full")],
                  method="numpy.convolve(g, w, 'full') (a flipping convolution) at stride 1, "
                         "no padding, integer data")
    x, w, b, g, loss = _setup(stride=2, padding=1)
    sheet.numeric(_ints(conv2d_backward(x, w, g, stride=2, padding=1)[0]),
                  _unit_differences(lambda xv: loss(xv, w, b), x),
                  method="unit perturbation of every input entry of the linear loss "
                         "L = sum(g * y) (2D, integer data, stride 2, padding 1)")
    sheet.answer("input gradient", chain.result)


# ------------------------------------------------------------------------------ 6.3
def solve_6_3(sheet: Sheet) -> None:
    from derive.conv.backward import bias_gradient
    from derive.numeric import conv2d_backward

    chain = bias_gradient(2)
    sheet.text("Relation: b[o] is added to every output of channel o, so its gradient is the "
               "sum of g over the batch and all output positions of that channel. Symbols: N "
               "batch size, O_h x O_w output size, o' an output channel.")
    _add_chain(sheet, chain, "bias gradient")
    x, w, b, g, loss = _setup()
    sheet.numeric(_ints(conv2d_backward(x, w, g)[2]),
                  _unit_differences(lambda bv: loss(x, w, bv), b),
                  method="unit perturbation of each bias in the linear loss L = sum(g * y)")
    sheet.answer("bias gradient", chain.result)


# ------------------------------------------------------------------------------ 6.4
def _patches_by_loops(x, k: int):
    """Brute force im2col of a (C, H, W) array: one column per output position, rows in the
    order (channel, kernel row, kernel column)."""
    c, h, w = x.shape
    cols = []
    for i in range(h - k + 1):
        for j in range(w - k + 1):
            cols.append([x[ch, i + u, j + v] for ch in range(c) for u in range(k)
                         for v in range(k)])
    return [list(r) for r in zip(*cols)]


def solve_6_4(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import conv_cost
    from derive.conv.im2col import patch_matrix_shape
    from derive.conv.shapes import output_size
    from derive.numeric import conv2d_direct
    from derive.numeric.im2col import im2col_numeric
    from derive.symbols import syms

    C, c_out, H, W, K, P, S, D = syms("C C_out H W K P S D")
    rows, cols = patch_matrix_shape((H, W), K, P, S, D, channels=C)
    sheet.text("Relation: lay every receptive field out as one column of a patch matrix "
               "X_col (C K^2 rows, one column per output position); the kernels reshaped into "
               "the rows of W_row (C_out x C K^2) give the whole convolution as one matrix "
               "product Y = W_row X_col, of shape C_out x H_out W_out. Symbols: C input "
               "channels, C_out output channels, K kernel, P, S, D as in section 2.4.")
    sheet.derive("shape of X_col", [
        (sympy.ImmutableMatrix([[rows, cols]]), "the engine's patch-matrix shape"),
        (sympy.ImmutableMatrix([[C * K**2, output_size(H, K, P, S, D)
                                 * output_size(W, K, P, S, D)]]),
         "one row per (channel, tap), one column per output position")], assume=["P >= 0"])
    h_out, w_out = syms("H_out W_out")
    sheet.claim(sympy.Mul(c_out, C * K**2, h_out * w_out),
                conv_cost(C, c_out, K, (h_out, w_out), bias=False, convention="mac").flops,
                why="the matrix product does C_out x (C K^2) x (H_out W_out) multiply-adds: "
                    "exactly the convolution's count (section 3.3)")
    rng = np.random.default_rng(SEED)
    x = rng.integers(-3, 4, size=(2, 5, 6))
    w = rng.integers(-3, 4, size=(4, 2, 3, 3))
    brute = np.array(_patches_by_loops(x, 3))
    sheet.numeric(_ints(im2col_numeric(x.astype(float), 3)),
                  brute, method="the patch matrix built with explicit loops over "
                                         "output positions, channels and taps")
    product = w.reshape(4, -1) @ brute
    direct = conv2d_direct(x[None].astype(float), w.astype(float))[0]
    sheet.numeric(_ints(direct).ravel(), product.ravel(),
                  method="W_row @ X_col (loop-built patches) against the direct-loop "
                         "convolution, 2 -> 4 channels on a 5 x 6 input")
    sheet.answer("shape of Y = W_row X_col", sympy.Tuple(c_out, cols))


# ------------------------------------------------------------------------------ 6.5
def solve_6_5(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    x, e, a, b, c, d = (sympy.Symbol(n, real=True) for n in ("x", "e", "a", "b", "c", "d"))
    f = a * x**3 + b * x**2 + c * x + d
    fd = (f.subs(x, x + e) - f.subs(x, x - e)) / (2 * e)
    sheet.text("Relation: the central difference (f(x + e) - f(x - e))/(2e) equals f'(x) + "
               "e^2 f'''(x)/6 + O(e^4) for smooth f (the even Taylor terms cancel), so its "
               "error is O(e^2); for a cubic the relation is exact. Symbols: x real, e > 0 "
               "step, a, b, c, d real coefficients.")
    sheet.derive("central difference of a cubic", [
        (fd, "definition, f(x) = a x^3 + b x^2 + c x + d"),
        (sympy.diff(f, x) + e**2 * sympy.diff(f, x, 3) / 6, "expand: f'(x) + e^2 f'''(x)/6")],
        assume=["x real", "e > 0", "a real", "b real", "c real", "d real"])
    point = 0.7
    errs = []
    for step in (1e-1, 5e-2, 2.5e-2):
        approx = (np.sin(point + step) - np.sin(point - step)) / (2 * step)
        errs.append((approx - np.cos(point)) / step**2)
    sheet.numeric([float(v) for v in errs], [float(-np.cos(point) / 6)] * 3, tol=2e-4,
                  method="(error of the central difference of sin at x = 0.7) / e^2 for "
                         "e = 0.1, 0.05, 0.025 approaches f'''(x)/6 = -cos(0.7)/6 (NumPy)")
    from derive.numeric import conv2d, conv2d_backward
    from derive.numeric.finite_diff import numerical_gradient

    rng = np.random.default_rng(SEED)
    xs = rng.standard_normal((1, 2, 5, 5))
    ws = 0.5 * rng.standard_normal((2, 2, 3, 3))

    def loss(wv):
        return float(np.tanh(conv2d(xs, wv, padding=1)).sum())

    upstream = 1.0 - np.tanh(conv2d(xs, ws, padding=1)) ** 2      # dL/dy for L = sum tanh(y)
    sheet.numeric(conv2d_backward(xs, ws, upstream, padding=1)[1],
                  numerical_gradient(loss, ws, eps=1e-5), tol=1e-8,
                  method="the gradient check itself: central differences (step 1e-5) of the "
                         "non-linear loss sum(tanh(conv(x, w))) against the derived kernel "
                         "gradient; the O(e^2) error is about 1e-10")
    sheet.answer("central difference", sympy.Eq(sympy.Symbol("error"),
                                                 e**2 * sympy.Symbol("f'''(x)") / 6 +
                                                 sympy.O(e**4), evaluate=False))


PROBLEM = Problem(
    id="formulas-6", set="formulas", order=6, title="Backpropagation through convolution",
    source="Chapter notes, section 6",
    statement="The gradients of a convolution layer, its matrix form, and how to check them.",
    parts=(
        Part("6.1", "Kernel gradient: the derivative of the loss with respect to one kernel "
                    "tap.",
             solve_6_1),
        Part("6.2", "Input gradient: how the loss gradient flows back to the input.", solve_6_2),
        Part("6.3", "Bias gradient: the derivative of the loss with respect to one bias.",
             solve_6_3),
        Part("6.4", "im2col view: the convolution written as a single matrix product.", solve_6_4),
        Part("6.5", "Autodiff check: testing gradients with finite differences. How "
                    "accurate is it?",
             solve_6_5),
    ),
)
