"""Exercise 8.21: convolution as one matrix product (im2col).

The patch matrix is the engine's (:func:`derive.conv.im2col.im2col`, read off the
indexed-sum model), checked against a matrix built here by explicit loops; the product with
the kernel row is checked entry by entry against the model's expansion of every output
(:mod:`derive.conv.model`), and against the Toeplitz form (:mod:`derive.conv.toeplitz`),
whose sparsity pattern is drawn.  The numeric part compares the engine's NumPy im2col with
loops, the direct convolution and, when installed, PyTorch (``unfold`` and ``conv2d``).
"""

from derive.book import Part, Problem, Sheet

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


def _torch():
    try:
        import torch
    except ImportError:  # PyTorch is optional
        return None
    return torch


def solve_a(sheet: Sheet) -> None:
    import sympy

    from derive.conv.im2col import im2col, patch_matrix_shape
    from derive.symbols import syms

    x, _ = _symbols()
    X = im2col(x, K)
    sheet.text(f"Each output position of a {K}x{K} window sliding over the {SIZE}x{SIZE} input "
               f"(stride 1, no padding) becomes one column: its {K * K} input values, read "
               f"row by row.")
    sheet.matrix("X_im2col", X, caption="The engine's patch matrix; column i*2 + j is the "
                                         "window at output position (i, j).")
    sheet.claim(X, _patches_by_loops(x, K), why="the same matrix built by explicit loops over "
                                                "windows and taps")
    shape = patch_matrix_shape((SIZE, SIZE), K)
    windows = sum(1 for i in range(SIZE) for j in range(SIZE) if i + K <= SIZE and j + K <= SIZE)
    sheet.numeric(shape, (K * K, windows),
                  method="taps per window by rows, windows counted by enumeration by columns")
    h, k, c = syms("H K C")
    sheet.text("In general, for C channels, an H x H input and a K x K kernel (stride 1, no "
               "padding):")
    general = patch_matrix_shape((h, h), k, channels=c)
    sheet.claim(sympy.Matrix(general), sympy.Matrix([c * k ** 2, (h - k + 1) ** 2]),
                why="C K^2 rows (one per tap and channel), one column per output position")
    sheet.answer("dimensions", f"{shape[0]} x {shape[1]}")


def solve_b(sheet: Sheet) -> None:
    import sympy

    from derive.book.model import Check
    from derive.check.engine import check_exprs
    from derive.conv.im2col import im2col, prove_im2col
    from derive.conv.model import conv_model
    from derive.conv.toeplitz import conv_matrix_2d

    x, w = _symbols()
    X = im2col(x, K)
    row = sympy.Matrix(1, K * K, [w[u][v] for u in range(K) for v in range(K)])
    product = row * X
    model = conv_model(2, size=(SIZE, SIZE), kernel=K, stride=1, padding=0, dilation=1,
                       batch=1, in_channels=1, out_channels=1, bias=False)
    _, _, ho, wo = model.output_shape
    # the model's outputs, written with the same names x[i, j], w[u, v]
    names = {model.x[0, 0, i, j]: x[i][j] for i in range(SIZE) for j in range(SIZE)}
    names.update({model.w[0, 0, u, v]: w[u][v] for u in range(K) for v in range(K)})
    expected = sympy.Matrix(1, ho * wo, [model.expand((0, 0, i, j)).xreplace(names)
                                         for i in range(ho) for j in range(wo)])
    sheet.text("Reshape the kernel into a row of 9 entries, in the same order as the rows of "
               "the patch matrix:")
    sheet.matrix("W_row", row)
    sheet.text("Column c of X_im2col holds the window of output c, so entry c of W_row "
               "X_im2col is the dot product of the kernel with that window: exactly the "
               "cross-correlation y[i, j] = sum_u sum_v w[u, v] x[i + u, j + v] of the "
               "indexed-sum model. The checker compares all four entries with the model's "
               "expansion:")
    sheet.add(Check("W_row X_im2col", "y (indexed-sum model, read row by row)",
                              check_exprs(product, expected),
                              "entry by entry, as polynomials in the x and w entries", "claim"))
    v = prove_im2col((SIZE, SIZE), K, in_channels=2, out_channels=2)
    sheet.add(Check("W_row X_im2col (2 channels in and out)", "model output", v,
                              "the engine's im2col proof with 2 input and 2 output channels "
                              "(kernel rows stacked: one row per output channel)", "claim"))
    toeplitz = conv_matrix_2d((SIZE, SIZE), w)
    vec_x = sympy.Matrix(SIZE * SIZE, 1, [x[i][j] for i in range(SIZE) for j in range(SIZE)])
    sheet.text("The same outputs come from the Toeplitz matrix of the convolution: im2col "
               "copies the input so that the kernel can stay a dense row, the Toeplitz form "
               "copies the kernel into a sparse 4 x 16 matrix so that the input can stay a "
               "vector.")
    sheet.add(Check("W_conv vec(x)", "(W_row X_im2col)^T",
                              check_exprs(sympy.Matrix(toeplitz) * vec_x, product.T),
                              "the Toeplitz product, entry by entry", "claim"))
    sheet.figure(_toeplitz_figure(toeplitz))
    sheet.answer("y[0, 0]", product[0, 0])
    sheet.answer("shape of W_row X_im2col", f"{product.shape[0]} x {product.shape[1]} "
                                            f"(the {ho} x {wo} output read row by row)")


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
                  caption=(f"Sparsity of the {rows} x {cols} Toeplitz matrix of the engine: "
                           f"{nonzero} of {rows * cols} entries are kernel weights (labelled "
                           f"uv for w[u, v]), the rest are zero."),
                  name="toeplitz sparsity")


def solve_c(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.im2col import im2col
    from derive.conv.shapes import output_size
    from derive.numeric import conv2d_direct

    rng = np.random.default_rng(821)
    c_in, c_out, size, stride, pad = 3, 4, 7, 2, 1
    x = rng.standard_normal((1, c_in, size, size))
    w = rng.standard_normal((c_out, c_in, K, K))
    cols = im2col(x, K, padding=pad, stride=stride)
    out = output_size(size, K, padding=pad, stride=stride)
    sheet.text(f"Numeric check with C_in = {c_in}, C_out = {c_out}, a {size}x{size} input, "
               f"kernel {K}, stride {stride}, padding {pad} (random normal values, seed 821).")
    cols2 = cols[0] if cols.ndim == 3 else cols
    sheet.numeric(cols2.shape, (c_in * K * K, out * out),
                  method="(C_in k k, H_out W_out) with H_out from the output-size rule")
    padded = np.pad(x[0], ((0, 0), (pad, pad), (pad, pad)))
    loops = np.zeros((c_in * K * K, out * out))
    for c in range(c_in):
        for u in range(K):
            for v in range(K):
                for i in range(out):
                    for j in range(out):
                        loops[(c * K + u) * K + v, i * out + j] = padded[c, stride * i + u,
                                                                         stride * j + v]
    sheet.numeric(cols2, loops, method="patch matrix built with explicit loops")
    y = (w.reshape(c_out, -1) @ cols2).reshape(1, c_out, out, out)
    sheet.numeric(y, conv2d_direct(x, w, stride=stride, padding=pad),
                  method="direct nested-loop convolution (derive.numeric.conv2d_direct)")
    torch = _torch()
    if torch is not None:
        xt = torch.from_numpy(x)
        unfold = torch.nn.functional.unfold(xt, K, padding=pad, stride=stride)[0].numpy()
        sheet.numeric(cols2, unfold, method="torch.nn.functional.unfold (PyTorch installed)")
        ref = torch.nn.functional.conv2d(xt, torch.from_numpy(w), stride=stride,
                                         padding=pad).numpy()
        sheet.numeric(y, ref, method="torch.nn.functional.conv2d (PyTorch installed)")
    sheet.answer("im2col shape", f"{cols2.shape[0]} x {cols2.shape[1]}")


def solve_d(sheet: Sheet) -> None:
    import sympy

    from derive.conv.im2col import patch_matrix_shape
    from derive.symbols import syms

    h, c = syms("H C")
    rows, cols = patch_matrix_shape((h, h), 3, padding=1, channels=c)
    ratio = sympy.Mul(rows * cols, sympy.Pow(c * h ** 2, -1, evaluate=False),
                      evaluate=False)
    sheet.derive("patch-matrix entries / input entries", [
        (ratio, "(C k^2)(H_out W_out) over C H^2, with a 3x3 kernel, stride 1, padding 1"),
        (sympy.Integer(9), "every input value is copied 9 times")])
    ch, side, batch = 64, 56, 32
    r, q = patch_matrix_shape((side, side), 3, padding=1, channels=ch)
    entries = batch * r * q
    torch = _torch()
    if torch is not None:
        unfolded = torch.nn.functional.unfold(
            torch.zeros(batch, ch, side, side, device="meta"), 3, padding=1)
        sheet.numeric(entries, int(unfolded.numel()),
                      method=f"entries of torch.nn.functional.unfold of a {batch} x {ch} x "
                             f"{side} x {side} batch on the meta device (PyTorch installed)")
    else:
        rows_seen = len([(c, u, v) for c in range(ch) for u in range(3) for v in range(3)])
        starts = sum(1 for t in range(side + 2) if t + 3 <= side + 2)
        sheet.numeric(entries, batch * rows_seen * starts * starts,
                      method="the (channel, tap) pairs and the window starts in the padded "
                             "map enumerated, times the batch")
    sheet.table(["tensor", "values", "MiB at float32"],
                [("input, batch 32 x 64 x 56 x 56", batch * ch * side * side,
                  f"{batch * ch * side * side * 4 / 2 ** 20:.0f}"),
                 ("its im2col matrix", entries, f"{entries * 4 / 2 ** 20:.0f}")],
                caption="A ResNet-style 3x3 layer; sizes from the engine's patch-matrix shape.")
    sheet.explain(
        "An explicit patch matrix stores every input value k^2 times (9 times for 3x3 "
        "kernels, as computed above): hundreds of megabytes for one ordinary layer, written "
        "to and read back from device memory, whose bandwidth, not arithmetic, is the "
        "bottleneck. Implicit im2col (as in cuDNN's implicit GEMM) keeps the matrix product "
        "formulation, and its highly tuned tiling, but builds each tile of patch columns on "
        "the fly in registers or shared memory from the original input, uses it and discards "
        "it. The memory overhead disappears and the input is read from DRAM about once.",
        rests_on=["derive.conv.im2col.patch_matrix_shape", "the 9x claim above"])


PROBLEM = Problem(
    id="8.21", set="chapter8", order=21, title="Convolution via im2col",
    source="Chapter 8, exercise 8.21",
    statement=("im2col copies every input patch into a column of a matrix, which turns a "
               "convolution into one matrix product."),
    parts=(
        Part("a", "Write the im2col matrix of a 4x4 single-channel input for a 3x3 kernel at "
                  "stride 1. What are its dimensions?", solve_a),
        Part("b", "Show that the output equals W_row X_im2col, with the kernel reshaped into a "
                  "row vector.", solve_b),
        Part("c", "Implement im2col for an input (1, C_in, H, W) with kernel size, stride and "
                  "padding (output (C_in k k, H_out W_out)) and verify it.", solve_c),
        Part("d", "Why do GPU libraries such as cuDNN use an implicit im2col instead of "
                  "building the matrix?", solve_d),
    ),
)
