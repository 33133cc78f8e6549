"""Practice exercise 8: the shape of the im2col patch matrix.

The shape is derived (one row per kernel tap and channel, one column per output position,
the output size from the model's rule) by ``derive.conv.im2col.patch_matrix_shape`` and read
off the engine's symbolic patch matrix, whose product with the kernel row is proved equal to
the model's convolution; the column count is cross-checked by enumerating the window
positions, and the shape by PyTorch's ``unfold`` when installed.
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
    from derive.symbols import syms

    h, w, k, c = syms("H W K C")
    sheet.text("Each column of the patch matrix is one receptive field laid out as a vector "
               "(channel, kernel row, kernel column); there is one column per output "
               "position. At stride 1 without padding:")
    rows_s, cols_s = patch_matrix_shape((h, w), k, channels=c)
    sheet.derive("rows", [(rows_s, "one row per channel and kernel tap")])
    sheet.derive("columns", [(cols_s, "one column per output position, H_out W_out")])
    rows, cols = patch_matrix_shape((H, W), K, channels=C)
    with sympy.evaluate(False):
        plugged = cols_s.xreplace({h: sympy.Integer(H), w: sympy.Integer(W),
                                   k: sympy.Integer(K)})
    sheet.derive("columns", [(plugged, f"H = W = {H}, K = {K}"), (cols, "evaluate")])

    model = conv_model(2, size=(H, W), kernel=K, stride=1, padding=0, dilation=1, batch=1,
                       in_channels=C, out_channels=1, bias=False)
    x = [[[model.x[0, ch, i, j] for j in range(W)] for i in range(H)] for ch in range(C)]
    patches = im2col(x, K)
    sheet.matrix("X_col", patches, caption="the patch matrix of a symbolic input "
                                           "x[n, c, i, j] (sample 0)")
    kernel_row = sympy.ImmutableMatrix(1, C * K * K, [
        model.w[0, ch, u, v] for ch in range(C) for u in range(K) for v in range(K)])
    _, _, ho, wo = model.output_shape
    sheet.claim(sympy.ImmutableMatrix(kernel_row * patches),
                sympy.ImmutableMatrix(1, ho * wo, [model.expand((0, 0, i, j))
                                                   for i in range(ho) for j in range(wo)]),
                why="the kernel as a row times the patch matrix is the model's convolution, "
                    "entry by entry")
    image = np.arange(C * H * W).reshape(C, H, W)
    sliced = np.stack([image[:, i:i + K, j:j + K].ravel()
                       for i, j in _window_positions(H, W, K)], axis=1)
    sheet.numeric(tuple(patches.shape), sliced.shape,
                  method="shape of the symbolic patch matrix (derive.conv.im2col.im2col) "
                         "against a patch matrix cut out of a NumPy array, one flattened "
                         "window per column")
    sheet.numeric(cols, len(_window_positions(H, W, K)),
                  method="brute-force enumeration of the window positions")
    try:
        import torch
    except ImportError:  # PyTorch is optional
        torch = None
    if torch is not None:
        unfolded = torch.nn.functional.unfold(torch.zeros(1, C, H, W), K)
        sheet.numeric((rows, cols), tuple(unfolded.shape[1:]),
                      method="shape of torch.nn.functional.unfold (PyTorch installed)")
    sheet.answer("shape", (rows, cols))


PROBLEM = Problem(
    id="practice-8", set="practice", order=8, title="Shape of the im2col matrix",
    source="Exercises notebook, exercise 8",
    statement=(f"A {H}x{W} single-channel input is convolved with a {K}x{K} kernel at stride 1 "
               "without padding, by laying every window out as a column (im2col) and "
               "multiplying by the flattened kernel. What is the shape of the patch matrix?"),
    parts=(Part("", "Give the number of rows and columns of the patch matrix.", solve),),
)
