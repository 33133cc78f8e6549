"""Exercise 8.1: a 1D cross-correlation by hand, as a Toeplitz matrix, and its parameters.

The output comes from the indexed-sum model (expanded at every output position and
evaluated exactly), the matrix is read off the same model by :mod:`derive.conv.toeplitz`
and its product with the symbolic input is checked entry by entry against the model; the
free-parameter count comes from the symbolic matrix.  Independent cross-checks: a plain
Python loop over window positions, NumPy's ``correlate``, the matrix product in NumPy, and
PyTorch's ``conv1d`` / ``Linear`` where PyTorch is installed (the page is the same either way).
"""

from derive.book import Part, Problem, Sheet

X = (2, 1, 3, 0, 4, 2)
W = (1, 0, -1)


def _loop_correlate(x, w) -> list[int]:
    """Brute force: slide the kernel over every window that fits and add up the products."""
    k = len(w)
    return [sum(x[i + u] * w[u] for u in range(k)) for i in range(len(x) - k + 1)]


def _plain_indices(expr):
    """Drop the batch and channel indices of a 1D, single-channel model expansion."""
    import sympy

    bases = {"x": sympy.IndexedBase("x"), "w": sympy.IndexedBase("w")}
    return expr.xreplace({ref: bases[ref.base.name][ref.indices[-1]]
                          for ref in expr.atoms(sympy.Indexed)})


def _model():
    from derive.conv.model import conv_model
    return conv_model(1, size=len(X), kernel=len(W), stride=1, padding=0, dilation=1,
                      batch=1, in_channels=1, out_channels=1, bias=False)


def solve_a(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.shapes import output_size_derivation

    model = _model()
    view = model.axis_view(0)
    sheet.text("The layer computes the deep-learning convolution, i.e. a cross-correlation "
               "(the kernel is not flipped). With stride 1 and no padding the model reads:")
    sheet.derive(view.lhs, [(view.rhs, "definition; $x_pad == x$ because there is no padding")])
    sheet.text("The number of output positions is the number of window starts whose last tap "
               "stays inside the input:")
    sheet.derive("L_out", output_size_derivation(len(X), len(W)))
    length = model.output_shape[-1]

    expanded = [_plain_indices(model.expand((0, 0, i))) for i in range(length)]
    sheet.table(["output", "window sum"], [(f"$y[{i}]$", e) for i, e in enumerate(expanded)],
                caption="The model's sum expanded at every output position.")
    x, w = sympy.IndexedBase("x"), sympy.IndexedBase("w")
    values = {x[i]: sympy.Integer(v) for i, v in enumerate(X)}
    values.update({w[u]: sympy.Integer(v) for u, v in enumerate(W)})
    with sympy.evaluate(False):
        plugged = sympy.ImmutableMatrix([[e.xreplace(values)] for e in expanded])
    y = [int(v) for v in model.evaluate([[list(X)]], [[list(W)]])[0, 0]]
    sheet.derive("y", [(plugged, f"substitute x = {X} and w = {W}"),
                       (sympy.ImmutableMatrix([[v] for v in y]), "evaluate")])
    sheet.numeric(y, _loop_correlate(X, W), why="the output $y$",
                  method="plain Python loop over the window positions")
    sheet.numeric(y, [int(v) for v in np.correlate(X, W, mode="valid")], why="the output $y$",
                  method="NumPy's correlate in valid mode")

    def by_torch(torch):
        out = torch.nn.functional.conv1d(torch.tensor([[list(X)]], dtype=torch.float64),
                                         torch.tensor([[list(W)]], dtype=torch.float64))
        return [int(round(float(v))) for v in out[0, 0]]

    sheet.numeric_if_installed("torch", y, by_torch, method="PyTorch's conv1d in float64",
                               why="the output $y$")
    sheet.text("With $w$ = (1, 0, -1) each output is $x[i] - x[i + 2]$: a difference of "
               "samples two apart, i.e. a (non-flipped) derivative-like filter.")
    sheet.answer("y", tuple(y))
    sheet.answer("output length", length)


def _sparsity_figure(matrix, name: str):
    """Grid of the matrix: one cell per entry, the kernel taps shaded and labelled."""
    import sympy

    from derive.book import Figure

    rows, cols = matrix.shape
    cell_cm, cell_px, left_px, top_px = 0.9, 40, 40, 26
    shades = ["blue!35", "green!35", "orange!45", "red!30", "violet!35"]
    colours = ["#8fb0e8", "#9fd8a4", "#f5c07a", "#ef9a9a", "#c5a3e0"]
    taps = sorted({e for e in matrix if e != 0}, key=sympy.default_sort_key)
    tikz = [r"\begin{tikzpicture}[font=\footnotesize]"]
    svg_w, svg_h = left_px + cols * cell_px + 10, top_px + rows * cell_px + 10
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{svg_w}" height="{svg_h}" '
           f'viewBox="0 0 {svg_w} {svg_h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{svg_w}" height="{svg_h}" fill="white"/>']
    for j in range(cols):
        x = (j + 0.5) * cell_cm
        tikz.append(f"\\node at ({x:.2f},0.35) {{$x_{j}$}};")
        svg.append(f'<text x="{left_px + (j + 0.5) * cell_px:.0f}" y="{top_px - 8}" '
                   f'text-anchor="middle">x{j}</text>')
    for i in range(rows):
        y = -(i + 0.5) * cell_cm
        tikz.append(f"\\node at (-0.45,{y:.2f}) {{$y_{i}$}};")
        svg.append(f'<text x="{left_px - 8}" y="{top_px + (i + 0.5) * cell_px + 4:.0f}" '
                   f'text-anchor="end">y{i}</text>')
        for j in range(cols):
            entry = matrix[i, j]
            x0, y0 = j * cell_cm, -i * cell_cm
            px, py = left_px + j * cell_px, top_px + i * cell_px
            if entry == 0:
                tikz.append(f"\\draw[black!30] ({x0:.2f},{y0:.2f}) rectangle "
                            f"({x0 + cell_cm:.2f},{y0 - cell_cm:.2f});")
                svg.append(f'<rect x="{px}" y="{py}" width="{cell_px}" height="{cell_px}" '
                           f'fill="white" stroke="#bbbbbb"/>')
                continue
            k = taps.index(entry) % len(shades)
            label = f"w_{entry.indices[-1]}" if isinstance(entry, sympy.Indexed) else str(entry)
            tikz.append(f"\\draw[fill={shades[k]},draw=black!60] ({x0:.2f},{y0:.2f}) "
                        f"rectangle ({x0 + cell_cm:.2f},{y0 - cell_cm:.2f});")
            tikz.append(f"\\node at ({x0 + cell_cm / 2:.2f},{y0 - cell_cm / 2:.2f}) "
                        f"{{${label}$}};")
            svg.append(f'<rect x="{px}" y="{py}" width="{cell_px}" height="{cell_px}" '
                       f'fill="{colours[k]}" stroke="#555555"/>')
            svg.append(f'<text x="{px + cell_px / 2:.0f}" y="{py + cell_px / 2 + 4:.0f}" '
                       f'text-anchor="middle">{label.replace("_", "")}</text>')
    tikz.append(r"\end{tikzpicture}")
    svg.append("</svg>")
    return Figure(tikz="\n".join(tikz), svg="\n".join(svg), name=name,
                  caption=f"Sparsity pattern of the {rows}×{cols} convolution matrix: every "
                          "row holds the same three taps, shifted one column to the right; "
                          "blank cells are structural zeros.")


def solve_b(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.toeplitz import conv_matrix, symbolic_kernel

    model = _model()
    taps = symbolic_kernel((len(W),))
    symbolic = conv_matrix(len(X), taps)
    sheet.text("Read off the model, row $i$ of the matrix holds the kernel starting at column "
               "$i$ (taps that would fall outside the input do not exist here, there is no "
               "padding):")
    sheet.matrix("W_conv", symbolic, caption="the convolution matrix with symbolic taps")
    sheet.figure(_sparsity_figure(symbolic, "toeplitz-sparsity"))
    x = sympy.IndexedBase("x")
    x_vec = sympy.ImmutableMatrix([[x[j]] for j in range(len(X))])
    product = sympy.ImmutableMatrix(symbolic * x_vec)
    from_model = sympy.ImmutableMatrix([[_plain_indices(model.expand((0, 0, i)))]
                                        for i in range(model.output_shape[-1])])
    del product
    # The product is shown as written (matrix times vector), not multiplied out: the check
    # multiplies it and compares with the model's window sums, for every kernel and input.
    sheet.claim(sympy.MatMul(symbolic, x_vec, evaluate=False), from_model,
                why="$W_conv*x$ equals the model's window sums, entry by entry, for every "
                    "kernel and input")
    numeric = conv_matrix(len(X), list(W))
    sheet.matrix("W_conv", sympy.Matrix(numeric.astype(int)),
                 caption=f"the same matrix with $w$ = {W}")
    wx = [int(v) for v in numeric @ np.array(X)]
    y = [int(v) for v in model.evaluate([[list(X)]], [[list(W)]])[0, 0]]
    sheet.numeric(wx, y, why="$W_conv*x$", method="the output of part (a), from the model")
    sheet.numeric(wx, _loop_correlate(X, W), why="$W_conv*x$",
                  method="plain Python loop over the window positions")
    dense = np.zeros((len(y), len(X)), dtype=int)     # independent build: one row per window
    for i in range(len(y)):
        dense[i, i:i + len(W)] = W
    sheet.numeric(sympy.Matrix(numeric.astype(int)), sympy.Matrix(dense),
                  why="the matrix $W_conv$ with numeric taps",
                  method="matrix built independently by placing the kernel at column $i$ of "
                         "row $i$ (NumPy)")
    sheet.answer("matrix times input", tuple(wx))


def solve_c(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.costs import conv_cost, dense_cost
    from derive.conv.toeplitz import conv_matrix, parameter_count

    count = parameter_count(len(X), len(W))
    rows, cols = count.shape
    sheet.text("The matrix has many entries but few parameters: every non-zero entry is one of "
               "the kernel taps (weight sharing), and all other entries are forced to zero "
               "(local connectivity). A fully connected layer with the same input and output "
               "sizes has a free weight in every entry.")
    sheet.table(["layer", "matrix shape", "free weights"],
                [("convolution", f"{rows}×{cols}", count.conv),
                 ("fully connected", f"{rows}×{cols}", count.dense)],
                caption="Distinct symbols in the symbolic matrix versus a dense matrix of the "
                        "same shape (biases not counted).")
    rng = np.random.default_rng(8)
    random_kernel = rng.standard_normal(len(W))
    m = conv_matrix(len(X), list(random_kernel))
    distinct = len({round(float(v), 12) for v in m.ravel() if v != 0})
    sheet.numeric(count.conv, distinct, why="free parameters of the convolution",
                  method="distinct non-zero values of the matrix built from a random kernel "
                         "(NumPy, seed 8)")
    sheet.numeric(count.dense, int(np.zeros(m.shape).size), why="fully connected weights",
                  method="number of entries of a NumPy weight array of the dense shape")
    sheet.numeric_if_installed(
        "torch", count.dense,
        lambda torch: int(torch.nn.Linear(cols, rows, bias=False).weight.numel()),
        method="number of weights of PyTorch's Linear layer from 6 inputs to 4 outputs, "
               "without bias", why="fully connected weights")
    sheet.numeric_if_installed(
        "torch", count.conv,
        lambda torch: int(torch.nn.Conv1d(1, 1, len(W), bias=False).weight.numel()),
        method="number of weights of PyTorch's Conv1d layer (one channel in and out, "
               "kernel 3, without bias)", why="free parameters of the convolution")
    with_bias_conv = conv_cost(1, 1, (1, len(W)), (1, rows), convention="mac").params
    with_bias_dense = dense_cost(cols, rows, convention="mac").params
    sheet.text(f"With a bias per output channel the counts become {with_bias_conv} "
               f"(convolution, one bias shared by all outputs) and {with_bias_dense} (dense "
               "layer, one bias per output).")
    sheet.answer("free parameters of the convolution matrix", count.conv)
    sheet.answer("fully connected weights (6 inputs, 4 outputs)", count.dense)
    sheet.answer("ratio dense / convolution", count.ratio)


PROBLEM = Problem(
    id="8.1", set="chapter8", order=1, title="1D convolution as a Toeplitz matrix",
    source="Chapter 8, exercise 8.1",
    statement=(f"The signal $x$ = {X} is filtered with the kernel $w$ = {W} (deep-learning "
               "convolution, i.e. cross-correlation), stride 1, no padding."),
    parts=(
        Part("a", "Work out the output by hand and give its length.", solve_a),
        Part("b", "Write the Toeplitz matrix $W_conv$ of this map and check that $W_conv*x$ "
                  "reproduces the output.", solve_b),
        Part("c", "How many independent parameters does $W_conv$ have, and how many weights "
                  "would a fully connected layer from 6 inputs to 4 outputs have?", solve_c),
    ),
)
