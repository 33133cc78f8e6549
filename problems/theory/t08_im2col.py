"""Theory notebook, section 8: the im2col matrix of a 3x3 input and a 2x2 kernel.

The patch matrix comes from ``derive.conv.im2col.im2col`` (the index map read off the
indexed-sum model), symbolically and with the section's numbers.  The kernel as a row times
the symbolic matrix is proved equal to the model's convolution; the numeric matrix is
cross-checked against windows cut out by index arithmetic and, where installed, PyTorch's
``unfold``; the kernel of section 2 times the matrix is checked against the convolution by
direct loops.
"""

from derive.book import Part, Problem, Sheet

SIZE, K = 3, 2
KERNEL = ((1, 0), (0, -1))   # the kernel of section 2, for the product check


def _window_columns(x) -> list[list]:
    """Brute force: each window, flattened row by row, as one column (row-major windows)."""
    out = SIZE - K + 1
    cols = [[x[i + u][j + v] for u in range(K) for v in range(K)]
            for i in range(out) for j in range(out)]
    return [list(r) for r in zip(*cols)]


def solve(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.im2col import im2col, patch_matrix_shape
    from derive.conv.model import conv_model
    from derive.numeric import conv2d_direct

    xs, ws = sympy.IndexedBase("x"), sympy.IndexedBase("w")
    sym_x = [[xs[i, j] for j in range(SIZE)] for i in range(SIZE)]
    patches = im2col(sym_x, K)
    rows, cols = patch_matrix_shape((SIZE, SIZE), K)
    out = SIZE - K + 1
    sheet.text(f"Column $i*W_out + j$ holds the window whose top-left corner is ($i$, $j$), "
               f"read row by row, so the matrix has one row per kernel tap and one column per "
               f"output position: {rows}×{cols} here ($W_out == {out}$).")
    sheet.matrix("X_col", patches, caption=f"the patch matrix of a symbolic {SIZE}×{SIZE} "
                                           "input $x$")

    model = conv_model(2, size=SIZE, kernel=K, stride=1, padding=0, dilation=1, batch=1,
                       in_channels=1, out_channels=1, bias=False)
    # one sample and one channel: drop the model's batch and channel indices
    plain = {model.x[0, 0, i, j]: xs[i, j] for i in range(SIZE) for j in range(SIZE)}
    plain.update({model.w[0, 0, u, v]: ws[u, v] for u in range(K) for v in range(K)})
    kernel_col = sympy.ImmutableMatrix(K * K, 1, [ws[u, v] for u in range(K) for v in range(K)])
    sheet.claim(sympy.MatMul(patches.T, kernel_col, evaluate=False),
                sympy.ImmutableMatrix(out * out, 1, [model.expand((0, 0, i, j)).xreplace(plain)
                                                     for i in range(out) for j in range(out)]),
                why="the transposed patch matrix times the kernel, flattened row by row, is "
                    "the model's convolution, one output per row (row-major)")

    image = np.arange(1, SIZE * SIZE + 1).reshape(SIZE, SIZE)
    sheet.text(f"With the section's input, holding 1 to {SIZE * SIZE} row by row:")
    sheet.matrix("X", sympy.ImmutableMatrix(image.tolist()), caption="the input")
    exact = sympy.ImmutableMatrix([[sympy.Rational(float(v)) for v in row]
                                   for row in im2col(image, K)])
    sheet.matrix("X_col", exact, caption="its patch matrix")
    brute = sympy.ImmutableMatrix(_window_columns(image.tolist()))
    sheet.numeric(exact, brute, why="the patch matrix",
                  method="windows cut out by index arithmetic, one flattened window per "
                         "column")
    sheet.numeric_if_installed(
        "torch", exact,
        lambda torch: sympy.ImmutableMatrix([[sympy.Rational(float(v)) for v in row]
                                             for row in torch.nn.functional.unfold(
            torch.tensor(image, dtype=torch.float64)[None, None], K)[0]]),
        method="PyTorch's unfold in float64", why="the patch matrix")
    row = sympy.ImmutableMatrix([[v for r in KERNEL for v in r]])
    product = sympy.ImmutableMatrix(row * exact)
    direct = conv2d_direct(image[None, None].astype(float),
                           np.array(KERNEL, dtype=float)[None, None])[0, 0]
    sheet.numeric(list(product), [sympy.Rational(float(v)) for v in direct.ravel()],
                  why=f"the kernel of section 2, rows {KERNEL[0]} and {KERNEL[1]}, as a row "
                      "times the patch matrix",
                  method="the convolution by direct loops (NumPy)")
    sheet.answer("X_col", exact)


PROBLEM = Problem(
    id="theory-8", set="theory", order=8, title="im2col for a tiny input",
    source="Theory notebook, section 8",
    statement=(f"Lay out every {K}×{K} window of the {SIZE}×{SIZE} input holding 1 to "
               f"{SIZE * SIZE} (row by row) as a column of a patch matrix, windows in "
               "row-major order."),
    parts=(Part("", "Build the patch matrix.", solve),),
)
