"""Theory notebook, section 9: the gradient of a loss with respect to a 2x2 kernel, analytic
and by finite differences.

The analytic gradient is derived with SymPy (differentiate the loss entry by entry) and
recognised as the engine's derived weight gradient of a convolution (the input
cross-correlated with the upstream gradient, ``derive.conv.backward.weight_gradient``),
evaluated by ``derive.numeric.conv2d_backward``.  Central finite differences
(``derive.numeric.numerical_gradient``) are the independent check, as in the section.
"""

from derive.book import Part, Problem, Sheet

X = (("1", "2"), ("3", "4"))
KERNEL = (("0.5", "-1.0"), ("0.2", "0.3"))
EPS = 1e-5


def solve(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.backward import weight_gradient
    from derive.numeric import conv2d, conv2d_backward, numerical_gradient

    n = len(X)
    xs = sympy.Matrix(n, n, lambda i, j: sympy.Symbol(f"x_{i}{j}", real=True))
    ks = sympy.Matrix(n, n, lambda i, j: sympy.Symbol(f"k_{i}{j}", real=True))
    y = sum(xs[i, j] * ks[i, j] for i in range(n) for j in range(n))
    loss = y ** 2
    names = [f"{m}_{i}{j} real" for m in "xk" for i in range(n) for j in range(n)]
    sheet.text("The input covers the kernel exactly once, so the valid cross-correlation has "
               "a single output y = sum of X[i, j] K[i, j], and the loss is L = y^2. "
               "Differentiating L with respect to every kernel entry:")
    entries = [(i, j) for i in range(n) for j in range(n)]
    grad = sympy.ImmutableMatrix([[sympy.diff(loss, ks[i, j])] for i, j in entries])
    sheet.claim(grad, sympy.ImmutableMatrix([[2 * y * xs[i, j]] for i, j in entries]),
                assume=names, why="dL/dK[i, j] = 2 y X[i, j] for every entry, listed row by "
                                  "row (chain rule)")

    sheet.text("This is the general rule for a convolution's weights, derived by the engine "
               "from the indexed sum: the gradient with respect to the kernel is the input "
               "cross-correlated with the upstream gradient g = dL/dy (here g = 2y, a single "
               "entry):")
    sheet.add(weight_gradient(2).to_book())

    xv = [[sympy.Rational(v) for v in row] for row in X]
    kv = [[sympy.Rational(v) for v in row] for row in KERNEL]
    point = {xs[i, j]: xv[i][j] for i in range(n) for j in range(n)}
    point.update({ks[i, j]: kv[i][j] for i in range(n) for j in range(n)})
    analytic = sympy.ImmutableMatrix(2 * y * xs).xreplace(point)
    with sympy.evaluate(False):
        plugged = sympy.ImmutableMatrix(2 * y * xs).xreplace(point)
    sheet.derive("dL/dK", [(plugged, "the section's X and K (decimals as exact fractions)"),
                           (analytic, "evaluate")])

    x_arr = np.array(X, dtype=float)
    k_arr = np.array(KERNEL, dtype=float)
    out = conv2d(x_arr[None, None], k_arr[None, None])
    _, grad_w, _ = conv2d_backward(x_arr[None, None], k_arr[None, None], 2 * out)
    analytic_f = np.array(analytic.tolist(), dtype=float)
    sheet.numeric(grad_w[0, 0].tolist(), analytic_f.tolist(), tol=1e-12,
                  method="derive.numeric.conv2d_backward (the derived weight-gradient formula) "
                         "with upstream gradient 2y, in float64")

    def loss_of(kernel: np.ndarray) -> float:
        return float(np.sum(x_arr * kernel) ** 2)

    numeric = numerical_gradient(loss_of, k_arr, eps=EPS)
    error = float(np.abs(numeric - analytic_f).max())
    sheet.numeric(numeric.tolist(), analytic_f.tolist(), tol=1e-8,
                  method=f"central finite differences, step {EPS}")
    sheet.text(f"The largest difference between finite differences and the analytic gradient "
               f"is {error:.1e}, at the level of floating-point rounding: the central "
               "difference is exact for a quadratic loss up to rounding.")
    sheet.answer("dL/dK", analytic)


PROBLEM = Problem(
    id="theory-9", set="theory", order=9, title="Kernel gradient by finite differences",
    source="Theory notebook, section 9",
    statement=("Take X with rows (1, 2), (3, 4) and the kernel K with rows (0.5, -1.0), "
               "(0.2, 0.3), and the loss L(K) = (sum of X[i, j] K[i, j])^2. Compute dL/dK "
               "analytically and check it by central finite differences."),
    parts=(Part("", "Derive the gradient, evaluate it, and compare with finite differences.",
                solve),),
)
