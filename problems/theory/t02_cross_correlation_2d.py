"""Theory notebook, section 2: a 2D cross-correlation as a doubly block Toeplitz product.

The engine reads the convolution matrix of a 2x2 kernel on a 3x3 input off the indexed-sum
model (rows: output positions, columns: input positions, both row-major); the checker proves
that the matrix times the flattened input equals the model's sums, then the section's numbers
are put in.  Direct loops over the windows and PyTorch (where installed) cross-check the
output.
"""

from derive.book import Part, Problem, Sheet

SIZE = 3
KERNEL = ((1, 0), (0, -1))


def _windows(x: list[list[int]], k: tuple[tuple[int, ...], ...]) -> list[list[int]]:
    """Brute force: multiply every full window by the kernel and add up."""
    kh, kw = len(k), len(k[0])
    return [[sum(x[i + u][j + v] * k[u][v] for u in range(kh) for v in range(kw))
             for j in range(len(x[0]) - kw + 1)] for i in range(len(x) - kh + 1)]


def solve(sheet: Sheet) -> None:
    import sympy

    from derive.conv.model import conv_model
    from derive.conv.toeplitz import conv_matrix_2d

    kh, kw = len(KERNEL), len(KERNEL[0])
    model = conv_model(2, size=SIZE, kernel=(kh, kw), stride=1, padding=0, dilation=1,
                       batch=1, in_channels=1, out_channels=1, bias=False)
    _, _, ho, wo = model.output_shape
    w, x = sympy.IndexedBase("w"), sympy.IndexedBase("x")
    # the model's arrays carry batch and channel indices; with one of each, drop them
    plain = {model.w[0, 0, u, v]: w[u, v] for u in range(kh) for v in range(kw)}
    plain.update({model.x[0, 0, i, j]: x[i, j] for i in range(SIZE) for j in range(SIZE)})
    weights = [[[[w[u, v] for v in range(kw)] for u in range(kh)]]]
    matrix = conv_matrix_2d((SIZE, SIZE), weights)
    sheet.text(f"The {ho}×{wo} output, flattened row by row, is the convolution matrix $C$ "
               f"(one row per output position, one column per input position, both row by "
               f"row; {matrix.rows}×{matrix.cols} here) times the flattened {SIZE}×{SIZE} "
               f"input. Each block of {SIZE} columns (one input row) is itself a Toeplitz "
               "band: the matrix is doubly block Toeplitz.")
    x_vec = sympy.ImmutableMatrix([[x[i, j]] for i in range(SIZE) for j in range(SIZE)])
    sheet.claim(sympy.MatMul(matrix, x_vec, evaluate=False),
                sympy.ImmutableMatrix([[model.expand((0, 0, i, j)).xreplace(plain)]
                                       for i in range(ho) for j in range(wo)]),
                why="the matrix times the flattened input is the model's sum at each output "
                    "position, row by row")

    image = [[SIZE * i + j + 1 for j in range(SIZE)] for i in range(SIZE)]
    values = {w[u, v]: sympy.Integer(KERNEL[u][v]) for u in range(kh) for v in range(kw)}
    numeric = sympy.ImmutableMatrix(matrix.xreplace(values))
    flat = sympy.ImmutableMatrix([[v] for row in image for v in row])
    sheet.matrix("X", sympy.ImmutableMatrix(image),
                 caption=f"the input, entries 1 to {SIZE * SIZE}")
    out = sympy.ImmutableMatrix(numeric * flat)
    sheet.derive("vec(Y)", [(sympy.MatMul(numeric, flat, evaluate=False),
                             f"the kernel, rows {KERNEL[0]} and {KERNEL[1]}, put into $C$, "
                             "times the flattened input"),
                            (out, "multiply")])
    y = [[int(out[i * wo + j]) for j in range(wo)] for i in range(ho)]
    sheet.numeric(sympy.ImmutableMatrix(y), sympy.ImmutableMatrix(_windows(image, KERNEL)),
                  why="the output $Y$",
                  method="direct loops over the windows")
    sheet.numeric_if_installed(
        "torch", sympy.ImmutableMatrix(y),
        lambda torch: sympy.ImmutableMatrix([[sympy.Rational(float(v)) for v in row]
                       for row in torch.nn.functional.conv2d(
                           torch.tensor([[image]], dtype=torch.float64),
                           torch.tensor([[KERNEL]], dtype=torch.float64))[0, 0]]),
        method="PyTorch's conv2d in float64, converted exactly", why="the output $Y$")
    sheet.text("With this kernel each output is $X[i, j] - X[i + 1, j + 1]$; the input grows "
               f"by {SIZE + 1} along the diagonal, so every output is −{SIZE + 1}.")
    sheet.answer("Y", sympy.ImmutableMatrix(y))


PROBLEM = Problem(
    id="theory-2", set="theory", order=2, title="2D cross-correlation",
    source="Theory notebook, section 2",
    statement=(f"The {SIZE}×{SIZE} input holds 1 to {SIZE * SIZE} row by row. Cross-correlate "
               f"it with the 2×2 kernel with rows {KERNEL[0]} and {KERNEL[1]} over the valid "
               "positions."),
    parts=(Part("", "Compute the 2×2 output, and show it as a matrix product.", solve),),
)
