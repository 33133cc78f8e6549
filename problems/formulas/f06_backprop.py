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


def _add_chain(sheet: Sheet, chain, label: str, variable, opening: str) -> None:
    """Put an engine derivation (a checked chain of re-indexing rules) on the sheet, its
    left side written as the derivative of the loss with respect to ``variable`` and its
    opening line justified by ``opening``."""
    import dataclasses

    import sympy

    book = chain.to_book(label=label)
    first = dataclasses.replace(book.steps[0], why=opening)
    sheet.add(dataclasses.replace(book, lhs=sympy.Derivative(sympy.Symbol("L"), variable),
                                  steps=(first,) + book.steps[1:]))


def _free(expr, name: str):
    """The free symbol of ``expr`` called ``name``."""
    return next(s for s in expr.free_symbols if s.name == name)


_DATA = ("input, weights, bias and upstream gradient: random integers from $-3$ to $3$, drawn "
         "in that order by NumPy's default generator with seed 0")


# ------------------------------------------------------------------------------ 6.1
def solve_6_1(sheet: Sheet) -> None:
    import sympy

    from derive.conv.backward import weight_gradient
    from derive.numeric import conv2d_backward

    chain = weight_gradient(2)
    sheet.text("Relation: the gradient of the loss $L$ with respect to the kernel tap in row "
               "$u'$, column $v'$ collects the input values that tap multiplied, weighted by "
               "the upstream gradient $g$ at the corresponding outputs: a cross-correlation "
               "of the padded input with $g$. Symbols: $g[i, j] == Derivative(L, y[i, j])$, "
               "an output of $O_h$×$O_w$, stride $S$, dilation $D$, $x_pad$ the padded "
               "input.")
    w_ = sympy.IndexedBase("w")
    _add_chain(sheet, chain, "kernel gradient",
               w_[_free(chain.result, "u'"), _free(chain.result, "v'")],
               "chain rule: $g$ is the gradient with respect to the output $y$, and $y$ is "
               "linear in $w$")
    x, w, b, g, loss = _setup(stride=2, padding=1)
    analytic = conv2d_backward(x, w, g, stride=2, padding=1)[1]
    sheet.numeric(_ints(analytic).ravel(),
                  _unit_differences(lambda wv: loss(x, wv, b), w).ravel(),
                  method="the loss, the sum of $g*y$ over all outputs, is linear in $w$, so "
                         "adding 1 to one weight changes it by exactly its partial derivative: "
                         "one such change per weight",
                  why="the kernel gradient of a 3×3 convolution from 2 to 3 channels, stride "
                      "2, padding 1, on a batch of 2 images of 6×5 (" + _DATA + ")")
    sheet.answer("kernel gradient", chain.result)


# ------------------------------------------------------------------------------ 6.2
def solve_6_2(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.backward import input_gradient
    from derive.numeric import conv2d_backward

    chain = input_gradient(1)
    sheet.text("Relation: each input entry receives the upstream gradients of every output "
               "that read it, weighted by the tap that read it. Written out, this is the full "
               "convolution of the gradient $g$ (spread out by the stride) with $w$, or "
               "equivalently the cross-correlation with the flipped kernel $w[K - 1 - u]$ "
               "after padding by $D*(K - 1) - P$. Symbols: $m$ input position, $O$ output "
               "length, $S$ stride, $P$ padding, $D$ dilation; shown in 1D, each axis of a 2D "
               "layer behaves the same.")
    _add_chain(sheet, chain, "input gradient",
               sympy.IndexedBase("x")[_free(chain.result, "m")],
               "chain rule: $L$ depends on $x$ only through $y$, and $g$ is the gradient with "
               "respect to $y$; the padding is written as an embedding of $x$")
    rng = np.random.default_rng(SEED)
    xs = rng.integers(-4, 5, size=9).astype(float)
    ws = np.array([1.0, -2.0, 3.0])
    gs = rng.integers(-4, 5, size=7).astype(float)
    sheet.table(["", "values"], [("input $x$", tuple(int(v) for v in xs)),
                                 ("kernel $w$", tuple(int(v) for v in ws)),
                                 ("upstream gradient $g$", tuple(int(v) for v in gs))],
                caption="The 1D data of the first cross-check (stride 1, no padding).")
    dx = conv2d_backward(xs.reshape(1, 1, 1, -1), ws.reshape(1, 1, 1, -1),
                         gs.reshape(1, 1, 1, -1))[0][0, 0, 0]
    sheet.numeric(_ints(dx),
                  [int(v) for v in np.convolve(gs, ws, mode="full")],
                  method="NumPy's full convolution of $g$ with $w$ (it flips $w$)",
                  why="the input gradient in 1D")
    x, w, b, g, loss = _setup(stride=2, padding=1)
    sheet.numeric(_ints(conv2d_backward(x, w, g, stride=2, padding=1)[0]).ravel(),
                  _unit_differences(lambda xv: loss(xv, w, b), x).ravel(),
                  method="adding 1 to each input entry in turn: the loss, the sum of $g*y$, is "
                         "linear in $x$, so the change is the exact partial derivative",
                  why="the input gradient of the 2D layer of section 6.1 (stride 2, padding "
                      "1, " + _DATA + ")")
    sheet.answer("input gradient", chain.result)


# ------------------------------------------------------------------------------ 6.3
def solve_6_3(sheet: Sheet) -> None:
    import sympy

    from derive.conv.backward import bias_gradient
    from derive.numeric import conv2d_backward

    chain = bias_gradient(2)
    sheet.text("Relation: $b[o]$ is added to every output of channel $o$, so its gradient is "
               "the sum of $g$ over the batch and all output positions of that channel. "
               "Symbols: $N$ batch size, an output of $O_h$×$O_w$, $o'$ an output channel.")
    _add_chain(sheet, chain, "bias gradient",
               sympy.IndexedBase("b")[_free(chain.result, "o'")],
               "chain rule: $g$ is the gradient with respect to the output $y$")
    x, w, b, g, loss = _setup()
    sheet.numeric(_ints(conv2d_backward(x, w, g)[2]),
                  _unit_differences(lambda bv: loss(x, w, bv), b),
                  method="adding 1 to each bias in turn: the loss, the sum of $g*y$, is linear "
                         "in $b$",
                  why="the bias gradient of the layer of section 6.1 at stride 1, no padding "
                      "(" + _DATA + ")")
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
               "$X_col$ ($C*K**2$ rows, one column per output position); the kernels reshaped "
               "into the rows of $W_row$ ($C_out$ rows of $C*K**2$) give the whole convolution "
               "as one matrix product $Y == W_row*X_col$, with $C_out$ rows and "
               "$H_out*W_out$ columns. Symbols: $C$ input channels, $C_out$ output channels, "
               "$K$ kernel, $P$, $S$, $D$ as in section 2.4.")
    sheet.derive("rows and columns of the patch matrix", [
        (sympy.ImmutableMatrix([[sympy.Mul(C, K, K, evaluate=False),
                                 sympy.Mul(output_size(H, K, P, S, D),
                                           output_size(W, K, P, S, D), evaluate=False)]]),
         "one row per channel and kernel tap, one column per output position (section 2.4)"),
        (sympy.ImmutableMatrix([[rows, cols]]), "the engine's patch-matrix shape")],
        assume=["P >= 0"])
    h_out, w_out = syms("H_out W_out")
    sheet.claim(sympy.Mul(c_out, C * K**2, h_out * w_out, evaluate=False),
                conv_cost(C, c_out, K, (h_out, w_out), bias=False, convention="mac").flops,
                why="the matrix product does $C_out$ times $C*K**2$ times $H_out*W_out$ "
                    "multiply-adds: exactly the convolution's count (section 3.3)")
    rng = np.random.default_rng(SEED)
    x = rng.integers(-3, 4, size=(2, 5, 6))
    w = rng.integers(-3, 4, size=(4, 2, 3, 3))
    brute = np.array(_patches_by_loops(x, 3))
    sheet.numeric(_ints(im2col_numeric(x.astype(float), 3)).ravel(),
                  brute.ravel(), method="the patch matrix built with explicit loops over "
                                        "output positions, channels and taps",
                  why="the engine's patch matrix of a 2-channel 5×6 input, 3×3 kernel (18 "
                      "rows, 12 columns, listed row after row; input, then weights: random "
                      "integers from $-3$ to $3$, NumPy's default generator, seed 0)")
    product = w.reshape(4, -1) @ brute
    direct = conv2d_direct(x[None].astype(float), w.astype(float))[0]
    sheet.numeric(_ints(direct).ravel(), product.ravel(),
                  method="the product of the reshaped kernels with the loop-built patch matrix",
                  why="the convolution from 2 to 4 channels by direct loops")
    sheet.answer("shape of the product", sympy.Tuple(c_out, cols))


# ------------------------------------------------------------------------------ 6.5
def solve_6_5(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    x, e, a, b, c, d = (sympy.Symbol(n, real=True) for n in ("x", "e", "a", "b", "c", "d"))
    f = a * x**3 + b * x**2 + c * x + d
    fd = (f.subs(x, x + e) - f.subs(x, x - e)) / (2 * e)
    sheet.text("Relation: for a smooth function $f$ the central difference, the difference of "
               "$f$ at $x + e$ and $x - e$ divided by $2*e$, equals the derivative of $f$ at "
               "$x$ plus $e**2/6$ times the third derivative, plus terms of order $e**4$ (the "
               "even Taylor terms cancel), so its error is of order $e**2$; for a cubic the "
               "relation is exact. Symbols: $x$ real, step $e > 0$, $a$, $b$, $c$, $d$, $q$ "
               "real coefficients.")
    sheet.derive("central difference of a cubic", [
        (fd, "definition, with $f$ the cubic $a*x**3 + b*x**2 + c*x + d$"),
        (sympy.diff(f, x) + e**2 * sympy.diff(f, x, 3) / 6,
         "expand: the derivative plus $e**2/6$ times the third derivative")],
        assume=["x real", "e > 0", "a real", "b real", "c real", "d real"])
    # a general smooth f: SymPy's Taylor expansion of the central difference in e
    g = sympy.Function("f")
    central = (g(x + e) - g(x - e)) / (2 * e)
    leading = central.series(e, 0, 4).removeO().doit()      # f'(x) + e^2 f'''(x)/6
    # the first term the expansion drops, checked on a quintic (exact up to e^4)
    q = sympy.Symbol("q", real=True)
    quintic = q * x**5 + f
    fd5 = (quintic.subs(x, x + e) - quintic.subs(x, x - e)) / (2 * e)
    t = sympy.Dummy("t")
    leading5 = leading.subs(g, sympy.Lambda(t, quintic.subs(x, t))).doit()
    sheet.derive("central difference of a quintic", [
        (fd5, "definition, with $f$ the quintic $q*x**5 + a*x**3 + b*x**2 + c*x + d$"),
        (leading5 + e**4 * sympy.diff(quintic, x, 5) / 120,
         "expand: the two leading terms of SymPy's Taylor expansion in $e$ (the derivative "
         "plus $e**2/6$ times the third derivative), plus $e**4/120$ times the fifth "
         "derivative, the first term they leave out")],
        assume=["x real", "e > 0", "a real", "b real", "c real", "d real", "q real"])
    point = 0.7
    errs = []
    for step in (1e-1, 5e-2, 2.5e-2):
        approx = (np.sin(point + step) - np.sin(point - step)) / (2 * step)
        errs.append((approx - np.cos(point)) / step**2)
    sheet.numeric([float(v) for v in errs], [float(-np.cos(point) / 6)] * 3, tol=2e-4,
                  method="the predicted leading coefficient, a sixth of the third derivative "
                         "of the sine at 0.7, that is $-(cos(0.7)/6)$",
                  why="the error of the central difference of the sine at $x == 0.7$, divided "
                      "by $e**2$, for $e$ = 0.1, 0.05, 0.025 (NumPy)")
    from derive.numeric import conv2d, conv2d_backward
    from derive.numeric.finite_diff import numerical_gradient

    rng = np.random.default_rng(SEED)
    xs = rng.standard_normal((1, 2, 5, 5))
    ws = 0.5 * rng.standard_normal((2, 2, 3, 3))

    def loss(wv):
        return float(np.tanh(conv2d(xs, wv, padding=1)).sum())

    upstream = 1.0 - np.tanh(conv2d(xs, ws, padding=1)) ** 2      # dL/dy for L = sum tanh(y)
    sheet.numeric(conv2d_backward(xs, ws, upstream, padding=1)[1].ravel(),
                  numerical_gradient(loss, ws, eps=1e-5).ravel(), tol=1e-8,
                  method="the gradient check itself: central differences with step "
                         "$10**(-5)$ (their error of order $e**2$ is about $10**(-10)$)",
                  why="the derived kernel gradient of the non-linear loss, the sum of "
                      "$tanh(y)$ over the outputs of a 3×3 convolution with padding 1 from 2 "
                      "to 2 channels on a 5×5 image (image, then weights: standard normal, "
                      "the weights halved, NumPy's default generator, seed 0)")
    derivative = sympy.Derivative(g(x), x)
    error = leading - derivative
    sheet.answer("central difference", sympy.Eq(central, derivative + error + sympy.O(e**4),
                                                evaluate=False))
    sheet.answer("its error", sympy.Eq(central - derivative, error + sympy.O(e**4),
                                       evaluate=False))


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
