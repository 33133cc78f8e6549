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

    from derive.book.model import Check
    from derive.check.engine import check_exprs
    from derive.conv.backward import weight_gradient
    from derive.numeric import conv2d, conv2d_backward, numerical_gradient

    n = len(X)
    xs = sympy.Matrix(n, n, lambda i, j: sympy.Symbol(f"x_{i}{j}", real=True))
    ks = sympy.Matrix(n, n, lambda i, j: sympy.Symbol(f"k_{i}{j}", real=True))
    y = sum(xs[i, j] * ks[i, j] for i in range(n) for j in range(n))
    loss = y ** 2
    names = [f"{m}_{i}{j} real" for m in "xk" for i in range(n) for j in range(n)]
    sheet.text("The input covers the kernel exactly once, so the valid cross-correlation has "
               "a single output $y$, the sum over $i$ and $j$ of $X[i, j]*K[i, j]$, and the "
               "loss is $L == y**2$. Differentiating $L$ with respect to every kernel entry (the "
               "entries of $X$ and $K$ written $x_ij$ and $k_ij$):")
    for i in range(n):
        for j in range(n):
            lhs, rhs = sympy.Derivative(loss, ks[i, j]), sympy.Mul(2, xs[i, j], y,
                                                                  evaluate=False)
            # the checker needs about 2 s for each of these: a larger budget than the
            # default keeps the proof from timing out on a busy machine
            sheet.add(Check(lhs, rhs, check_exprs(lhs, rhs, assume=names, budget=30.0),
                            "chain rule: $2*y$ times the input entry that multiplies this "
                            "kernel entry", "claim"))

    sheet.text("This is the general rule for a convolution's weights, derived by the engine "
               "from the indexed sum: the gradient with respect to the kernel is the input "
               "cross-correlated with the upstream gradient $g$, the derivative of the loss "
               "with respect to the output (here a single entry, $g == 2*y$):")
    sheet.add(weight_gradient(2).to_book())

    xv = [[sympy.Rational(v) for v in row] for row in X]
    kv = [[sympy.Rational(v) for v in row] for row in KERNEL]
    point = {xs[i, j]: xv[i][j] for i in range(n) for j in range(n)}
    point.update({ks[i, j]: kv[i][j] for i in range(n) for j in range(n)})
    analytic = sympy.ImmutableMatrix(2 * y * xs).xreplace(point)
    with sympy.evaluate(False):
        plugged = sympy.ImmutableMatrix(2 * y * xs).xreplace(point)
    sheet.derive("dL/dK", [(plugged, "the section's $X$ and $K$, decimals written as exact "
                                     "fractions"),
                           (analytic, "evaluate")])

    x_arr = np.array(X, dtype=float)
    k_arr = np.array(KERNEL, dtype=float)
    out = conv2d(x_arr[None, None], k_arr[None, None])
    _, grad_w, _ = conv2d_backward(x_arr[None, None], k_arr[None, None], 2 * out)
    analytic_f = np.array(analytic.tolist(), dtype=float)
    sheet.numeric(sympy.ImmutableMatrix(analytic_f.tolist()),
                  sympy.ImmutableMatrix(grad_w[0, 0].tolist()), tol=1e-12,
                  why="the kernel gradient in float64",
                  method="the engine's NumPy backward pass (the derived weight-gradient "
                         "formula) with upstream gradient $2*y$")

    def loss_of(kernel: np.ndarray) -> float:
        return float(np.sum(x_arr * kernel) ** 2)

    numeric = numerical_gradient(loss_of, k_arr, eps=EPS)
    sheet.numeric(sympy.ImmutableMatrix(analytic_f.tolist()),
                  sympy.ImmutableMatrix(numeric.tolist()), tol=1e-8,
                  why="the kernel gradient in float64",
                  method="central finite differences with step $10**(-5)$")
    sheet.text("The central difference is exact for a quadratic loss, so the two agree up to "
               "floating-point rounding, far inside the tolerance.")
    sheet.answer("dL/dK", analytic)


PROBLEM = Problem(
    id="theory-9", set="theory", order=9, title="Kernel gradient by finite differences",
    source="Theory notebook, section 9",
    statement=("Take $X$ with rows (1, 2), (3, 4) and the kernel $K$ with rows (0.5, -1.0), "
               "(0.2, 0.3), and the loss $L$, the square of the sum over $i$ and $j$ of "
               "$X[i, j]*K[i, j]$. Compute the gradient of $L$ with respect to $K$ "
               "analytically and check it by central finite differences."),
    parts=(Part("", "Derive the gradient, evaluate it, and compare with finite differences.",
                solve),),
)
