"""Theory notebook, section 8: the im2col matrix of a 3x3 input and a 2x2 kernel.

The patch matrix comes from ``derive.conv.im2col.im2col`` (the index map read off the
indexed-sum model), symbolically and with the section's numbers.  The symbolic matrix is
proved equal to one built by cutting out the windows in Python; the numeric one is checked
against PyTorch's ``unfold`` when installed; the kernel row of section 2 times the matrix is
checked against the convolution by direct loops.
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
    from derive.numeric import conv2d_direct

    xs = sympy.IndexedBase("x")
    sym_x = [[xs[i, j] for j in range(SIZE)] for i in range(SIZE)]
    patches = im2col(sym_x, K)
    shape = patch_matrix_shape((SIZE, SIZE), K)
    sheet.text(f"Column i*W_out + j holds the window whose top-left corner is (i, j), read "
               f"row by row; the matrix is {shape[0]} x {shape[1]} "
               "(derive.conv.im2col.patch_matrix_shape).")
    sheet.matrix("X_col", patches, caption="symbolic patch matrix of a 3x3 input")
    sheet.claim(patches, sympy.ImmutableMatrix(_window_columns(sym_x)),
                why="equal to the windows cut out by index arithmetic, entry by entry")

    image = np.arange(1, SIZE * SIZE + 1).reshape(SIZE, SIZE)
    numeric = im2col(image, K)
    exact = sympy.ImmutableMatrix([[sympy.Rational(float(v)) for v in row] for row in numeric])
    values = {xs[i, j]: sympy.Integer(int(image[i, j])) for i in range(SIZE)
              for j in range(SIZE)}
    sheet.claim(exact, sympy.ImmutableMatrix(patches.xreplace(values)),
                why="numeric im2col of the entries 1..9 against the symbolic matrix with "
                    "those values put in")
    sheet.matrix("X_col", exact, caption="the section's input, entries 1 to 9")
    try:
        import torch
    except ImportError:  # PyTorch is optional
        torch = None
    if torch is not None:
        unfolded = torch.nn.functional.unfold(
            torch.tensor(image, dtype=torch.float64)[None, None], K)[0]
        sheet.numeric(exact, [[sympy.Rational(float(v)) for v in row] for row in unfolded],
                      method="torch.nn.functional.unfold (PyTorch installed)")
    row = sympy.ImmutableMatrix([[v for r in KERNEL for v in r]])
    product = sympy.ImmutableMatrix(row * exact)
    direct = conv2d_direct(image[None, None].astype(float),
                           np.array(KERNEL, dtype=float)[None, None])[0, 0]
    sheet.numeric(list(product), [sympy.Rational(float(v)) for v in direct.ravel()],
                  method="the kernel of section 2 as a row times X_col, against the "
                         "convolution by direct loops (NumPy)")
    sheet.answer("X_col", exact)


PROBLEM = Problem(
    id="theory-8", set="theory", order=8, title="im2col for a tiny input",
    source="Theory notebook, section 8",
    statement=(f"Lay out every {K}x{K} window of the {SIZE}x{SIZE} input holding 1 to "
               f"{SIZE * SIZE} (row by row) as a column of a patch matrix, windows in "
               "row-major order."),
    parts=(Part("", "Build the patch matrix.", solve),),
)
