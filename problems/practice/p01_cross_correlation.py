"""Practice exercise 1: a valid 1D cross-correlation, from the indexed-sum model.

The output length comes from the model, each output entry is the model's sum expanded at
the exercise's sizes and evaluated exactly; the same output is the convolution matrix times
the input, and NumPy's ``correlate`` (and PyTorch's ``conv1d`` when installed) cross-check it.
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


def solve(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.model import conv_model
    from derive.conv.shapes import output_size_derivation
    from derive.conv.toeplitz import conv_matrix

    n, k = len(X), len(W)
    model = conv_model(1, size=n, kernel=k, stride=1, padding=0, dilation=1, batch=1,
                       in_channels=1, out_channels=1, bias=False)
    sheet.text("The model along one axis, with stride 1, no padding and no dilation:")
    view = model.axis_view(0)
    sheet.derive(view.lhs, [(view.rhs, "definition: cross-correlation, the kernel is not "
                                       "flipped; x_pad = x since there is no padding")])
    sheet.derive("L_out", output_size_derivation(n, k))
    length = model.output_shape[-1]

    expanded = [_plain_indices(model.expand((0, 0, i))) for i in range(length)]
    sheet.text("Expanding the sum at every output position:")
    sheet.table(["output", "expanded sum"], [(f"y[{i}]", e) for i, e in enumerate(expanded)])
    x, w = sympy.IndexedBase("x"), sympy.IndexedBase("w")
    values = {x[i]: sympy.Integer(v) for i, v in enumerate(X)}
    values.update({w[u]: sympy.Integer(v) for u, v in enumerate(W)})
    with sympy.evaluate(False):
        plugged = sympy.ImmutableMatrix([[e.xreplace(values)] for e in expanded])
    y = model.evaluate([[list(X)]], [[list(W)]])[0, 0]
    result = sympy.ImmutableMatrix([[v] for v in y])
    sheet.derive("y", [(plugged, f"substitute x = {X} and w = {W}"),
                       (result, "evaluate")])

    symbolic = conv_matrix(n, [w[u] for u in range(k)])
    sheet.text("The same map as a matrix read off the model: row i of the convolution "
               "(Toeplitz) matrix holds the kernel shifted to start at column i, and the "
               "matrix times the input gives the expanded sums above.")
    sheet.matrix("C", symbolic, caption=f"convolution matrix, {symbolic.rows} x {symbolic.cols}")
    x_vec = sympy.ImmutableMatrix([[x[j]] for j in range(n)])
    sheet.claim(sympy.ImmutableMatrix(symbolic * x_vec),
                sympy.ImmutableMatrix([[e] for e in expanded]),
                why="C x equals the model's sums, entry by entry")
    dense = conv_matrix(n, list(W))
    sheet.numeric(list(y), [int(v) for v in dense @ np.array(X)],
                  method="numeric convolution matrix times the input (NumPy)")
    sheet.numeric(list(y), [int(v) for v in np.correlate(X, W, mode="valid")],
                  method="numpy.correlate in 'valid' mode")
    try:
        import torch
    except ImportError:  # PyTorch is optional
        torch = None
    if torch is not None:
        out = torch.nn.functional.conv1d(torch.tensor([[list(X)]], dtype=torch.float64),
                                         torch.tensor([[list(W)]], dtype=torch.float64))
        got = [float(v) for v in out[0, 0]]
        sheet.numeric(list(y), [int(v) if v.is_integer() else v for v in got],
                      method="torch.nn.functional.conv1d in float64 (PyTorch installed)")
    sheet.answer("y", tuple(int(v) for v in y))


PROBLEM = Problem(
    id="practice-1", set="practice", order=1, title="1D cross-correlation",
    source="Exercises notebook, exercise 1",
    statement=(f"Slide the kernel w = {W} along the signal x = {X} without padding "
               "(a valid cross-correlation, stride 1) and compute the output."),
    parts=(Part("", "Give the output vector y.", solve),),
)
