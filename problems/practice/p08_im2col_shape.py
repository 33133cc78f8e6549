"""Practice exercise 8: the shape of the im2col patch matrix.

The shape is derived (one row per kernel tap and channel, one column per output position,
the output size from the model's rule) by ``derive.conv.im2col.patch_matrix_shape`` and read
off the engine's symbolic patch matrix, whose first column times the flattened kernel is
proved equal to the model's first output; the whole product is cross-checked against direct
loops on an integer image, the column count by enumerating the window positions, and the shape by
PyTorch's ``unfold`` where installed.
"""

from derive.book import Part, Problem, Sheet

H, W, K, C = 4, 4, 2, 1


def _window_positions(h: int, w: int, k: int) -> list[tuple[int, int]]:
    """Brute force: every top-left corner where a k x k window fits (stride 1, no padding)."""
    return [(i, j) for i in range(h) for j in range(w) if i + k <= h and j + k <= w]


def solve(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.im2col import im2col, patch_matrix_shape
    from derive.conv.model import conv_model
    from derive.numeric import conv2d_direct
    from derive.symbols import syms

    h, w, k, c = syms("H W K C")
    sheet.text("Each column of the patch matrix is one window of the input laid out as a "
               "vector (channel, kernel row, kernel column); there is one column per output "
               "position. At stride 1 without padding:")
    rows_s, cols_s = patch_matrix_shape((h, w), k, channels=c)
    sheet.derive("rows", [(rows_s, "one row per channel and kernel tap")])
    sheet.derive("columns", [(cols_s, "one column per output position, "
                                      "$H_out*W_out$ of them")])
    rows, cols = patch_matrix_shape((H, W), K, channels=C)
    with sympy.evaluate(False):
        rows_plugged = rows_s.xreplace({c: sympy.Integer(C), k: sympy.Integer(K)})
        cols_plugged = cols_s.xreplace({h: sympy.Integer(H), w: sympy.Integer(W),
                                        k: sympy.Integer(K)})
    sheet.derive("rows", [(rows_plugged, f"$C == {C}$, $K == {K}$"), (rows, "evaluate")])
    sheet.derive("columns", [(cols_plugged, f"$H == W == {H}$, $K == {K}$"),
                             (cols, "evaluate")])

    model = conv_model(2, size=(H, W), kernel=K, stride=1, padding=0, dilation=1, batch=1,
                       in_channels=C, out_channels=1, bias=False)
    xs, ws = sympy.IndexedBase("x"), sympy.IndexedBase("w")
    # one sample and one channel: drop the model's batch and channel indices
    plain = {model.x[0, 0, i, j]: xs[i, j] for i in range(H) for j in range(W)}
    plain.update({model.w[0, 0, u, v]: ws[u, v] for u in range(K) for v in range(K)})
    patches = im2col([[[xs[i, j] for j in range(W)] for i in range(H)]], K)
    sheet.matrix("X_col", patches, caption=f"the patch matrix of a symbolic {H}×{W} input "
                                           f"$x$: {patches.rows} rows, {patches.cols} columns")
    kernel_row = sympy.ImmutableMatrix(1, C * K * K, [ws[u, v] for u in range(K)
                                                      for v in range(K)])
    sheet.claim(sympy.MatMul(kernel_row, patches[:, 0], evaluate=False),
                sympy.ImmutableMatrix([[model.expand((0, 0, 0, 0)).xreplace(plain)]]),
                why="the flattened kernel times the first column is the model's output at "
                    "position (0, 0)")

    image = np.arange(1, C * H * W + 1).reshape(C, H, W)
    kernel = np.arange(1, C * K * K + 1).reshape(1, C, K, K)
    windows = _window_positions(H, W, K)
    sliced = np.stack([image[:, i:i + K, j:j + K].ravel() for i, j in windows], axis=1)
    sheet.text(f"Every column works the same way, one window per output position; the whole "
               f"product is cross-checked on a numeric example, an input holding 1 to "
               f"{C * H * W} row by row and a kernel holding 1 to {C * K * K}:")
    product = kernel.reshape(1, -1) @ im2col(image, K)
    direct = conv2d_direct(image[None].astype(float), kernel.astype(float))[0, 0]
    sheet.numeric([int(v) for v in product.ravel()], [int(v) for v in direct.ravel()],
                  why="the kernel row times the patch matrix",
                  method="the convolution by direct loops over the windows (NumPy)")
    sheet.numeric(tuple(im2col(image, K).shape), sliced.shape,
                  why="the shape of the patch matrix",
                  method="a patch matrix cut out of a NumPy array, one flattened window per "
                         "column")
    sheet.numeric(cols, len(windows), why="the number of columns",
                  method="brute-force enumeration of the window positions")
    sheet.numeric_if_installed(
        "torch", (rows, cols),
        lambda torch: tuple(torch.nn.functional.unfold(torch.zeros(1, C, H, W), K).shape[1:]),
        method="the shape of PyTorch's unfold", why="the shape of the patch matrix")
    sheet.answer("shape", (rows, cols))


PROBLEM = Problem(
    id="practice-8", set="practice", order=8, title="Shape of the im2col matrix",
    source="Exercises notebook, exercise 8",
    statement=(f"A {H}×{W} single-channel input is convolved with a {K}×{K} kernel at stride 1 "
               "without padding, by laying every window out as a column (im2col) and "
               "multiplying by the flattened kernel. What is the shape of the patch matrix?"),
    parts=(Part("", "Give the number of rows and columns of the patch matrix.", solve),),
)
