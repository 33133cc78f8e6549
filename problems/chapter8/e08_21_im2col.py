"""Exercise 8.21: convolution as one matrix product (im2col).

The patch matrix is the engine's (:func:`derive.conv.im2col.im2col`, read off the
indexed-sum model), checked against a matrix built here by explicit loops; the product with
the kernel row is checked entry by entry against the model's expansion of every output
(:mod:`derive.conv.model`), and against the Toeplitz form (:mod:`derive.conv.toeplitz`),
whose sparsity pattern is drawn.  The numeric part compares the engine's NumPy im2col with
loops, the direct convolution and, where it is installed, the printed listing
(:mod:`derive.lab.listings.im2col`) and PyTorch (``unfold`` and
``conv2d``; the page reads the same either way).
"""

from derive.book import CODE, EXPLANATION, Part, Problem, Sheet

SIZE, K = 4, 3


def _symbols():
    from derive.conv.toeplitz import symbolic_kernel
    return symbolic_kernel((SIZE, SIZE), "x"), symbolic_kernel((K, K), "w")


def _patches_by_loops(x, k: int, stride: int = 1):
    """Independent: column i*W_out + j lists the window at (i, j), row u*k + v its tap."""
    import sympy
    n = len(x)
    out = (n - k) // stride + 1
    return sympy.Matrix(k * k, out * out,
                        lambda r, c: x[(c // out) * stride + r // k][(c % out) * stride + r % k])


def _positions(m, n: int = SIZE):
    """A matrix of input entries x[i, j] as the integer labels n*i + j (row-major position
    in the input), read row by row: two patch matrices agree iff their labels do."""
    return [int(e.indices[0]) * n + int(e.indices[1]) for e in m]


def solve_a(sheet: Sheet) -> None:
    import sympy

    from derive.conv.im2col import im2col, patch_matrix_shape
    from derive.conv.shapes import output_size
    from derive.symbols import syms

    x, _ = _symbols()
    X = im2col(x, K)
    out = SIZE - K + 1
    sheet.text(f"Each output position of a {K}×{K} window sliding over the {SIZE}×{SIZE} input "
               f"(stride 1, no padding) becomes one column: its {K * K} input values, read "
               f"row by row.")
    sheet.matrix("X_im2col", X, caption=f"The engine's patch matrix; column ${out}*i + j$ is "
                                         f"the window at output position $i$, $j$.")
    from derive.book import figures
    sheet.figure(figures.im2col_patch(SIZE, K))
    sheet.numeric(_positions(X), _positions(_patches_by_loops(x, K)),
                  why="the patch matrix above, each entry $x[i, j]$ replaced by its position "
                      f"${SIZE}*i + j$ in the input, read row by row",
                  method="the same matrix built by explicit loops over windows and taps")
    shape = patch_matrix_shape((SIZE, SIZE), K)
    windows = sum(1 for i in range(SIZE) for j in range(SIZE) if i + K <= SIZE and j + K <= SIZE)
    sheet.numeric(shape, (K * K, windows), why="shape of the patch matrix (the engine's rule)",
                  method="the taps of one window (rows) and the window positions enumerated "
                         "(columns)")
    h, k, c = syms("H K C")
    sheet.text("In general, for $C$ channels, an $H$ × $H$ input and a $K$ × $K$ kernel "
               "(stride 1, no padding), one row per channel and tap and one column per output "
               "position:")
    rows, cols = patch_matrix_shape((h, h), k, channels=c)
    sheet.derive("rows", [(sympy.Mul(c, k, k, evaluate=False),
                           "$C$ channels, $K$ × $K$ taps each"),
                          (rows, "the engine's patch-matrix shape")])
    with sympy.evaluate(False):
        side = output_size(h, k, 0, 1)
    sheet.derive("columns", [(sympy.Pow(side, 2, evaluate=False),
                              "$H_out*W_out$ output positions, $H_out == W_out$ by the output-size "
                              "rule at padding 0, stride 1"),
                             (cols, "the engine's patch-matrix shape")])
    sheet.answer("dimensions", f"{shape[0]} × {shape[1]}")


def solve_b(sheet: Sheet) -> None:
    import sympy

    from derive.book.model import Check
    from derive.check.engine import check_exprs
    from derive.conv.im2col import im2col, prove_im2col
    from derive.conv.toeplitz import conv_matrix_2d

    x, w = _symbols()
    X = im2col(x, K)
    row = sympy.Matrix(1, K * K, [w[u][v] for u in range(K) for v in range(K)])
    product = row * X
    ho = wo = SIZE - K + 1
    # the indexed-sum model of each output, left as a double sum over the taps
    u, v = sympy.symbols("u v", integer=True, nonnegative=True)
    wb, xb = w[0][0].base, x[0][0].base
    model = sympy.Matrix(1, ho * wo, [
        sympy.Sum(sympy.Sum(wb[u, v] * xb[i + u, j + v], (v, 0, K - 1)), (u, 0, K - 1))
        for i in range(ho) for j in range(wo)])
    sheet.text(f"Reshape the kernel into a row of {K * K} entries, in the same order as the "
               f"rows of the patch matrix:")
    sheet.matrix("W_row", row)
    sheet.text("Column $c$ of $X_im2col$ holds the window of output $c$, so entry $c$ of "
               "$W_row*X_im2col$ is the dot product of the kernel with that window: exactly "
               "the cross-correlation of the indexed-sum model, the sum over the taps $u$, $v$ "
               "of $w[u, v]*x[i + u, j + v]$. The four entries (written as a column) against "
               "the model's four outputs, read row by row:")
    sheet.claim(product.T, model.T, why="entry by entry, as polynomials in the entries of $x$ "
                                        "and $w$")
    v2 = prove_im2col((SIZE, SIZE), K, in_channels=2, out_channels=2)
    sheet.text("The same holds with several channels: the patch matrix stacks the windows of "
               "every input channel, and the kernel rows of the output channels are stacked "
               "into a matrix. With 2 input and 2 output channels (an 18 × 4 patch matrix, a "
               "2 × 18 kernel matrix) the engine compares all 8 products with the model's "
               "outputs:")
    sheet.add(Check(sympy.MatMul(sympy.MatrixSymbol("W_row", 2, 2 * K * K),
                                 sympy.MatrixSymbol("X_im2col", 2 * K * K, ho * wo)),
                    sympy.MatrixSymbol("Y", 2, ho * wo), v2,
                    "$Y$ holds the model's outputs, one row per output channel; every entry "
                    "compared as a polynomial", "claim"))
    toeplitz = conv_matrix_2d((SIZE, SIZE), w)
    vec_x = sympy.Matrix(SIZE * SIZE, 1, [x[i][j] for i in range(SIZE) for j in range(SIZE)])
    sheet.text(f"The same outputs come from the Toeplitz matrix $W_conv$ of the convolution: "
               f"im2col copies the input so that the kernel can stay a dense row, the Toeplitz "
               f"form copies the kernel into a sparse {ho * wo} × {SIZE * SIZE} matrix so that "
               f"the input, flattened row by row into $x_vec$, can stay a vector.")
    sheet.add(Check(sympy.MatMul(sympy.MatrixSymbol("W_conv", ho * wo, SIZE * SIZE),
                                 sympy.MatrixSymbol("x_vec", SIZE * SIZE, 1)),
                    sympy.Transpose(sympy.MatMul(sympy.MatrixSymbol("W_row", 1, K * K),
                                                 sympy.MatrixSymbol("X_im2col", K * K,
                                                                    ho * wo))),
                    check_exprs(sympy.Matrix(toeplitz) * vec_x, product.T),
                    "the engine's Toeplitz matrix times the flattened input, entry by entry",
                    "claim"))
    sheet.figure(_toeplitz_figure(toeplitz))
    sheet.answer("first output", product[0, 0])
    sheet.answer("shape of the product", f"{product.shape[0]} × {product.shape[1]} "
                                         f"(the {ho} × {wo} output read row by row)")


def _toeplitz_figure(m):
    from derive.book import Figure

    rows, cols = m.shape
    cell = 0.42
    tikz = [r"\begin{tikzpicture}[font=\scriptsize]"]
    px = 26
    width, height = cols * px + 60, rows * px + 50
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="9">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    for r in range(rows):
        for c in range(cols):
            entry = m[r, c]
            on = entry != 0
            x0, y0 = c * cell, (rows - 1 - r) * cell
            style = "fill=blue!30,draw=black!40" if on else "draw=black!20"
            label = ""
            if on:
                u, v = entry.indices
                label = f"\\node at ({x0 + cell / 2:.2f},{y0 + cell / 2:.2f}) {{{u}{v}}};"
            tikz.append(f"\\draw[{style}] ({x0:.2f},{y0:.2f}) rectangle ({x0 + cell:.2f},"
                        f"{y0 + cell:.2f});" + label)
            fill = "#b9c8ef" if on else "white"
            sx, sy = 30 + c * px, 10 + r * px
            svg.append(f'<rect x="{sx}" y="{sy}" width="{px}" height="{px}" fill="{fill}" '
                       f'stroke="#bbbbbb"/>')
            if on:
                u, v = entry.indices
                svg.append(f'<text x="{sx + px / 2}" y="{sy + px / 2 + 3}" '
                           f'text-anchor="middle">{u}{v}</text>')
    tikz.append(f"\\node[below] at ({cols * cell / 2:.2f},0) {{input entries (row-major "
                f"$4\\times4$)}};")
    tikz.append(f"\\node[rotate=90,above] at (0,{rows * cell / 2:.2f}) {{outputs}};")
    tikz.append(r"\end{tikzpicture}")
    svg.append(f'<text x="{30 + cols * px / 2}" y="{rows * px + 28}" text-anchor="middle" '
               f'font-size="11">input entries (row-major 4x4); rows are the 4 outputs</text>')
    svg.append("</svg>")
    nonzero = sum(1 for r in range(rows) for c in range(cols) if m[r, c] != 0)
    return Figure(tikz="\n".join(tikz), svg="\n".join(svg),
                  caption=(f"Sparsity of the {rows} × {cols} Toeplitz matrix of the engine: "
                           f"{nonzero} of {rows * cols} entries are kernel weights (each labelled "
                           f"with its row and column in the kernel), the rest are zero."),
                  name="toeplitz sparsity")


def _listing():
    from derive.lab.listings import im2col
    return im2col


def solve_c(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.im2col import im2col
    from derive.conv.shapes import output_size
    from derive.numeric import conv2d_direct

    sheet.listing("im2col", "im2col by index arithmetic, and convolution as one matrix "
                  "product (PyTorch).", tests="tests/test_lab_listings.py")
    sheet.text("The listing builds the matrix row by row: row $(c*k + u)*k + v$ holds input "
               "channel $c$ read at row offset $u$ and column offset $v$ inside every window, "
               "column $i*W_out + j$ is output position $i$, $j$. The engine's own NumPy "
               "version is compared below with the same matrix built by explicit loops, and "
               "both with the listing and with PyTorch where PyTorch is installed.")
    rng = np.random.default_rng(821)
    c_in, c_out, size, stride, pad = 3, 4, 7, 2, 1
    x = rng.standard_normal((1, c_in, size, size))
    w = rng.standard_normal((c_out, c_in, K, K))
    cols = im2col(x, K, padding=pad, stride=stride)
    out = output_size(size, K, padding=pad, stride=stride)
    sheet.text(f"Numeric check with $C_in == {c_in}$, $C_out == {c_out}$, a {size}×{size} "
               f"input, kernel {K}, stride {stride}, padding {pad} (standard normal values from "
               f"NumPy's default generator, seed 821: the input drawn first, then the "
               f"weights).")
    cols2 = cols[0] if cols.ndim == 3 else cols
    sheet.numeric(cols2.shape, (c_in * K * K, out * out),
                  why="shape of the engine's patch matrix",
                  method="$C_in*k**2$ rows and $H_out*W_out$ columns, with $H_out$ from the "
                         "output-size rule")
    padded = np.pad(x[0], ((0, 0), (pad, pad), (pad, pad)))
    loops = np.zeros((c_in * K * K, out * out))
    for c in range(c_in):
        for u in range(K):
            for v in range(K):
                for i in range(out):
                    for j in range(out):
                        loops[(c * K + u) * K + v, i * out + j] = padded[c, stride * i + u,
                                                                         stride * j + v]
    sheet.numeric(cols2, loops, tol=1e-12, why="the engine's patch matrix",
                  method="the patch matrix built with explicit loops")
    y = (w.reshape(c_out, -1) @ cols2).reshape(1, c_out, out, out)
    sheet.numeric(y, conv2d_direct(x, w, stride=stride, padding=pad), tol=1e-12,
                  why="the kernel matrix times the patch matrix",
                  method="the engine's direct nested-loop convolution")
    sheet.numeric_if_installed(
        "torch", cols2, lambda torch: _listing().im2col(torch.from_numpy(x), K, stride=stride,
                                                        padding=pad).numpy(), tol=1e-12,
        why="the engine's patch matrix", method="the listing above (PyTorch, float64)")
    sheet.numeric_if_installed(
        "torch", y, lambda torch: _listing().conv2d_im2col(
            torch.from_numpy(x), torch.from_numpy(w), stride=stride, padding=pad).numpy(),
        tol=1e-12, why="the kernel matrix times the patch matrix",
        method="the listing's conv2d_im2col (PyTorch, float64)")
    sheet.numeric_if_installed(
        "torch", cols2, lambda torch: torch.nn.functional.unfold(
            torch.from_numpy(x), K, padding=pad, stride=stride)[0].numpy(), tol=1e-12,
        why="the engine's patch matrix", method="PyTorch's unfold in float64")
    sheet.numeric_if_installed(
        "torch", y, lambda torch: torch.nn.functional.conv2d(
            torch.from_numpy(x), torch.from_numpy(w), stride=stride, padding=pad).numpy(),
        tol=1e-12, why="the kernel matrix times the patch matrix",
        method="PyTorch's conv2d in float64")
    sheet.answer("im2col shape", f"{cols2.shape[0]} × {cols2.shape[1]}")


def solve_d(sheet: Sheet) -> None:
    import sympy

    from derive.conv.im2col import patch_matrix_shape
    from derive.symbols import syms

    h, c = syms("H C")
    rows, cols = patch_matrix_shape((h, h), 3, padding=1, channels=c)
    ratio = sympy.Mul(rows * cols, sympy.Pow(c * h ** 2, -1, evaluate=False),
                      evaluate=False)
    sheet.derive("patch-matrix entries / input entries", [
        (ratio, "$C*k**2$ rows times $H_out*W_out$ columns over the $C*H**2$ input entries, "
                "with a 3×3 kernel, stride 1, padding 1"),
        (sympy.Integer(9), "every input value is copied 9 times")])
    ch, side, batch = 64, 56, 32
    r, q = patch_matrix_shape((side, side), 3, padding=1, channels=ch)
    entries = batch * r * q
    rows_seen = len([(c, u, v) for c in range(ch) for u in range(3) for v in range(3)])
    starts = sum(1 for t in range(side + 2) if t + 3 <= side + 2)
    sheet.numeric(entries, batch * rows_seen * starts * starts,
                  why=f"entries of the patch matrices of a batch of {batch} (the engine's "
                      f"shape)",
                  method="the (channel, tap) pairs and the window starts in the padded map "
                         "enumerated, times the batch")
    sheet.numeric_if_installed(
        "torch", entries, lambda torch: batch * ch * int(torch.nn.functional.unfold(
            torch.zeros(1, 1, side, side), 3, padding=1).numel()),
        why=f"entries of the patch matrices of a batch of {batch} (the engine's shape)",
        # One channel of one image: the meta device's unfold would load PyTorch's compiler.
        method=f"PyTorch's unfold of one {side} × {side} channel, times {ch} channels and "
               f"the batch of {batch}")
    sheet.table(["tensor", "values", "MiB at float32"],
                [(f"input, a batch of {batch} × {ch} × {side} × {side}",
                  batch * ch * side * side, f"{batch * ch * side * side * 4 / 2 ** 20:.0f}"),
                 ("its im2col matrix", entries, f"{entries * 4 / 2 ** 20:.0f}")],
                caption="A ResNet-style 3×3 layer; sizes from the engine's patch-matrix shape.")
    sheet.explain(
        "An explicit patch matrix stores every input value $k**2$ times (9 times for 3×3 "
        "kernels, as derived above): hundreds of megabytes for one ordinary layer, written "
        "to and read back from device memory, whose bandwidth, not arithmetic, is the "
        "bottleneck. Implicit im2col (as in cuDNN's implicit GEMM) keeps the matrix product "
        "formulation, and its highly tuned tiling, but builds each tile of patch columns on "
        "the fly in registers or shared memory from the original input, uses it and discards "
        "it. The memory overhead disappears and the input is read from DRAM about once.",
        rests_on=["the engine's patch-matrix shape", "the ninefold copy derived above"])


PROBLEM = Problem(
    id="8.21", set="chapter8", order=21, title="Convolution via im2col",
    source="Chapter 8, exercise 8.21",
    statement=("im2col copies every input patch into a column of a matrix, which turns a "
               "convolution into one matrix product."),
    parts=(
        Part("a", "Write the im2col matrix of a 4×4 single-channel input for a 3×3 kernel at "
                  "stride 1. What are its dimensions?", solve_a),
        Part("b", "Show that the output equals $W_row*X_im2col$, with the kernel reshaped "
                  "into a row vector.", solve_b),
        Part("c", "Implement im2col for an input of one image with $C_in$ channels of $H$ × $W$, "
                  "given kernel size, stride and padding (output: a matrix of $C_in*k**2$ rows "
                  "and $H_out*W_out$ columns), and verify it.", solve_c, scope=CODE),
        Part("d", "Why do GPU libraries such as cuDNN use an implicit im2col instead of "
                  "building the matrix?", solve_d, scope=EXPLANATION),
    ),
)
