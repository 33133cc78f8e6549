"""Theory notebook, section 1: a 1D cross-correlation computed from the engine.

The model's sum along one axis is expanded for a three-tap kernel; with the section's kernel
it becomes a difference of two inputs two apart.  The output is the symbolic convolution
matrix, with the kernel's values put in, times the signal; NumPy's sliding windows and
PyTorch (where installed) cross-check it.
"""

from derive.book import Part, Problem, Sheet

X = (1, 2, 3, 4, 5)
W = (1, 0, -1)


def _sliding(x: tuple[int, ...], w: tuple[int, ...]) -> list[int]:
    """Brute force: dot product of the kernel with every full window of the signal."""
    return [sum(a * b for a, b in zip(x[i:i + len(w)], w)) for i in range(len(x) - len(w) + 1)]


def solve(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.model import conv_model
    from derive.conv.shapes import output_size
    from derive.conv.toeplitz import conv_matrix
    from derive.symbols import syms

    n, k = len(X), len(W)
    model = conv_model(1, size=n, kernel=k, stride=1, padding=0, dilation=1, batch=1,
                       in_channels=1, out_channels=1, bias=False)
    view = model.axis_view(0)
    x, w = sympy.IndexedBase("x"), sympy.IndexedBase("w")
    i = sympy.Symbol("i", integer=True, nonnegative=True)
    tap = view.rhs.limits[0][0]
    plain = view.rhs.xreplace({model.x_pad: x})
    sheet.text("Without padding the padded signal $x_pad$ is $x$ itself. Along one axis the "
               "model reads:")
    sheet.derive(view.lhs, [(plain, "the model at stride 1, dilation 1, no padding"),
                            (sympy.Add(*[plain.function.xreplace({tap: t}) for t in range(k)]),
                             "expand the sum over the three taps")])
    with sympy.evaluate(False):
        filled = sympy.Add(*[sympy.Integer(W[t]) * x[i + t] for t in range(k)])
    sheet.derive(view.lhs, [(filled, f"the kernel $w$ = {W}"),
                            (x[i] - x[i + 2], "simplify: a difference filter")])
    length = output_size(n, k)
    L, K = syms("L K")
    general = output_size(L, K)
    with sympy.evaluate(False):
        plugged = general.xreplace({L: sympy.Integer(n), K: sympy.Integer(k)})
    sheet.derive("L_out", [(plugged, f"valid positions $L - K + 1$ of a window of $K == {k}$ "
                                     f"taps on $L == {n}$ samples"),
                           (sympy.Integer(length), "evaluate")])

    symbolic = conv_matrix(n, [w[t] for t in range(k)])
    sheet.matrix("C", symbolic, caption="convolution matrix read off the model")
    values = {w[t]: sympy.Integer(W[t]) for t in range(k)}
    numeric = sympy.ImmutableMatrix(symbolic.xreplace(values))
    y = numeric * sympy.ImmutableMatrix([[v] for v in X])
    sheet.derive("y", [(sympy.MatMul(numeric, sympy.ImmutableMatrix([[v] for v in X]),
                                     evaluate=False), "the matrix with the kernel's values "
                                                      "times the signal"),
                       (sympy.ImmutableMatrix(y), "multiply")])
    answer = [int(v) for v in y]
    sheet.numeric(answer, _sliding(X, W), why="the output $y$",
                  method="the dot product with every window (Python loops)")
    sheet.numeric(answer, [int(v) for v in np.correlate(X, W, mode="valid")],
                  why="the output $y$", method="NumPy's correlate in valid mode")
    sheet.numeric_if_installed(
        "torch", answer,
        lambda torch: [sympy.Rational(float(v)) for v in torch.nn.functional.conv1d(
            torch.tensor([[list(X)]], dtype=torch.float64),
            torch.tensor([[list(W)]], dtype=torch.float64))[0, 0]],
        method="PyTorch's conv1d in float64, converted exactly", why="the output $y$")
    sheet.text("The signal rises by 1 per step, so every difference $x[i] - x[i + 2]$ is "
               "−2.")
    sheet.answer("y", tuple(answer))


PROBLEM = Problem(
    id="theory-1", set="theory", order=1, title="1D cross-correlation",
    source="Theory notebook, section 1",
    statement=(f"Cross-correlate the signal x = {X} with the kernel w = {W} over the valid "
               "positions (no padding, stride 1)."),
    parts=(Part("", "Derive each output in terms of x and evaluate the output vector.", solve),),
)
