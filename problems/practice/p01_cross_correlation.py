"""Practice exercise 1: a valid 1D cross-correlation, from the indexed-sum model.

The output length comes from the model, each output entry is the model's sum expanded at
the exercise's sizes and evaluated exactly; the same output is the convolution matrix times
the input, and NumPy's ``correlate`` (and PyTorch's ``conv1d`` where installed) cross-check it.
"""

from derive.book import Part, Problem, Sheet

X = (1, 2, 3)
W = (1, -1)


def _plain_indices(expr):
    """Drop the batch and channel indices of a 1D, single-channel model expansion."""
    import sympy

    x, w = sympy.IndexedBase("x"), sympy.IndexedBase("w")
    swap = {}
    for ref in expr.atoms(sympy.Indexed):
        base = {"x": x, "w": w}[ref.base.name]
        swap[ref] = base[ref.indices[-1]]
    return expr.xreplace(swap)


def _number(v: int):
    """An integer as it is substituted into a displayed sum: negatives in parentheses."""
    import sympy
    return sympy.UnevaluatedExpr(sympy.Integer(v)) if v < 0 else sympy.Integer(v)


def solve(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.model import conv_model
    from derive.conv.shapes import output_size_derivation
    from derive.conv.toeplitz import conv_matrix

    n, k = len(X), len(W)
    x, w, y_ = sympy.IndexedBase("x"), sympy.IndexedBase("w"), sympy.IndexedBase("y")
    sheet.text("The signal and the kernel, indexed from 0:")
    sheet.matrix("x", sympy.ImmutableMatrix([list(X)]), caption="the signal, 3 entries")
    sheet.matrix("w", sympy.ImmutableMatrix([list(W)]), caption="the kernel, 2 taps")

    model = conv_model(1, size=n, kernel=k, stride=1, padding=0, dilation=1, batch=1,
                       in_channels=1, out_channels=1, bias=False)
    view = model.axis_view(0)
    plain = view.rhs.xreplace({model.x_pad: x})
    sheet.text("The model along one axis, with stride 1, no padding and no dilation (without "
               "padding the padded signal $x_pad$ is $x$ itself):")
    sheet.derive(view.lhs, [(plain, "definition of cross-correlation: the kernel slides "
                                    "along the signal without being flipped")])
    sheet.derive("L_out", output_size_derivation(n, k))
    length = model.output_shape[-1]

    sheet.text("Each output is the model's sum expanded at its position, with the entries of "
               "$x$ and $w$ put in:")
    expanded = [_plain_indices(model.expand((0, 0, i))) for i in range(length)]
    y = model.evaluate([[list(X)]], [[list(W)]])[0, 0]
    values = {x[i]: _number(v) for i, v in enumerate(X)}
    values.update({w[u]: _number(v) for u, v in enumerate(W)})
    for i, e in enumerate(expanded):
        with sympy.evaluate(False):
            plugged = e.xreplace(values)
        sheet.derive(y_[i], [(plugged, f"the sum ${sympy.sstr(e)}$ at $i == {i}$"),
                             (sympy.Integer(int(y[i])), "evaluate")])

    symbolic = conv_matrix(n, [w[u] for u in range(k)])
    sheet.text("The same map as a matrix read off the model: row $i$ of the convolution "
               "(Toeplitz) matrix holds the kernel shifted to start at column $i$.")
    sheet.matrix("C", symbolic, caption=f"convolution matrix, {symbolic.rows}×{symbolic.cols}")
    x_vec = sympy.ImmutableMatrix([[x[j]] for j in range(n)])
    sheet.claim(sympy.MatMul(symbolic, x_vec, evaluate=False),
                sympy.ImmutableMatrix([[e] for e in expanded]),
                why="the matrix times the signal gives the model's sums, entry by entry")

    answer = [int(v) for v in y]
    # the banded matrix built directly in NumPy: row i holds the kernel from column i on
    banded = np.array([[W[j - i] if 0 <= j - i < k else 0 for j in range(n)]
                       for i in range(length)])
    sheet.numeric(answer, [int(v) for v in banded @ np.array(X)], why="the output $y$",
                  method="a banded matrix built in NumPy, row $i$ holding the kernel from "
                         "column $i$ on, times the signal")
    sheet.numeric(answer, [int(v) for v in np.correlate(X, W, mode="valid")],
                  why="the output $y$", method="NumPy's correlate in valid mode")
    sheet.numeric_if_installed(
        "torch", answer,
        lambda torch: [sympy.Rational(float(v)) for v in torch.nn.functional.conv1d(
            torch.tensor([[list(X)]], dtype=torch.float64),
            torch.tensor([[list(W)]], dtype=torch.float64))[0, 0]],
        method="PyTorch's conv1d in float64, converted exactly", why="the output $y$")
    sheet.answer("y", tuple(answer))


PROBLEM = Problem(
    id="practice-1", set="practice", order=1, title="1D cross-correlation",
    source="Exercises notebook, exercise 1",
    statement=(f"Slide the kernel $w$ = {W} along the signal $x$ = {X} without padding "
               "(a valid cross-correlation, stride 1) and compute the output."),
    parts=(Part("", "Give the output vector $y$.", solve),),
)
