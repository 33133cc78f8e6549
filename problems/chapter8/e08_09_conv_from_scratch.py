"""Exercise 8.9: a 2D convolution written from scratch with loops, and its verification.

The reference implementation is :func:`derive.numeric.conv2d_direct` (explicit loops over
the indices of the model's sum).  Its output shape follows the derived size rule
(:mod:`derive.conv.shapes`); its values are compared exactly, on small integer inputs, with
the indexed-sum model evaluated by substitution (:mod:`derive.conv.model`) and with a
separate short loop written here; on random floating-point inputs (fixed seed) it is
compared with the im2col implementation :func:`derive.numeric.conv2d` and, when PyTorch is
installed, with ``torch.nn.functional.conv2d`` in float64.
"""

from derive.book import Part, Problem, Sheet

TEST = {"x": (2, 3, 8, 8), "w": (16, 3, 3, 3), "stride": 1, "padding": 1}
CONFIGS = ((1, 1), (2, 0), (2, 1), (3, 2))      # (stride, padding) pairs checked in (b), (c)


def _torch():
    try:
        import torch
    except ImportError:  # PyTorch is optional
        return None
    return torch


def _loops(x, w, stride: int, padding: int):
    """A second from-scratch version: pad explicitly, then take each window's dot product."""
    import numpy as np

    n, c, h, wd = x.shape
    f, _, k, _ = w.shape
    xp = np.zeros((n, c, h + 2 * padding, wd + 2 * padding), dtype=x.dtype)
    xp[:, :, padding:padding + h, padding:padding + wd] = x
    rows = (h + 2 * padding - k) // stride + 1
    cols = (wd + 2 * padding - k) // stride + 1
    out = np.zeros((n, f, rows, cols), dtype=x.dtype)
    for b in range(n):
        for o in range(f):
            for i in range(rows):
                for j in range(cols):
                    window = xp[b, :, i * stride:i * stride + k, j * stride:j * stride + k]
                    out[b, o, i, j] = np.sum(window * w[o])
    return out


def _code_idea(sheet: Sheet) -> None:
    sheet.text("The implementation mirrors the model's sum y[n, o, i, j] = sum over c, u, v of "
               "w[o, c, u, v] * x_pad[n, c, S*i + u, S*j + v]: (1) read the sizes off the two "
               "arrays and check that the weight's second axis equals the input's channel "
               "count; (2) compute H_out = floor((H + 2P - K)/S) + 1 and W_out likewise; "
               "(3) allocate a zero output of shape (N, C_out, H_out, W_out); (4) loop over "
               "the sample n, the filter o and the output position (i, j); for each, add "
               "w[o, c, u, v] * x[n, c, S*i + u - P, S*j + v - P] over the input channels c "
               "and the kernel offsets (u, v), skipping offsets whose input row or column "
               "falls outside the image (those multiply the zero padding). Nothing in the loop "
               "depends on earlier outputs, so the loop order does not matter.")


def solve_a(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.shapes import output_size
    from derive.numeric import conv2d_direct

    _code_idea(sheet)
    n, c_in, h, w = TEST["x"]
    c_out, c_w, k, _ = TEST["w"]
    s, p = TEST["stride"], TEST["padding"]
    sheet.text(f"The test weight's second axis ({c_w}) equals the input's channel count "
               f"({c_in}), as step (1) requires.")
    try:
        conv2d_direct(np.zeros(TEST["x"]), np.zeros((c_out, c_in + 1, k, k)), stride=s,
                      padding=p)
        refused = False
    except ValueError:
        refused = True
    sheet.numeric(refused, True,
                  method=f"the loop implementation called with a weight of second axis "
                         f"C_in + 1 = {c_in + 1}: it raises instead of computing (the check "
                         "the function performs first)")
    size = output_size(h, k, padding=p, stride=s)
    with sympy.evaluate(False):
        written = sympy.floor((h + 2 * p - k) / sympy.Integer(s)) + 1
    sheet.derive("H_out", [(written, f"H = {h}, K = {k}, P = {p}, S = {s}"),
                           (size, "evaluate (derive.conv.shapes.output_size)")])
    rng = np.random.default_rng(9)
    out = conv2d_direct(rng.standard_normal(TEST["x"]), rng.standard_normal(TEST["w"]),
                        stride=s, padding=p)
    sheet.numeric([n, c_out, size, size], list(out.shape),
                  method="shape returned by the loop implementation "
                         "(derive.numeric.conv2d_direct) on the exercise's test arrays")
    sheet.text("Signature: conv2d(x of shape (N, C_in, H, W), w of shape (C_out, C_in, K, K), "
               "stride, padding), returning an array of shape (N, C_out, H_out, W_out).")
    sheet.answer("output shape on the test arrays", " x ".join(map(str, out.shape)))


def solve_b(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.model import conv_model
    from derive.conv.shapes import output_size
    from derive.numeric import conv2d_direct

    rng = np.random.default_rng(89)
    rows = []
    for s, p in CONFIGS:
        x = rng.integers(-4, 5, (1, 2, 6, 6))
        w = rng.integers(-3, 4, (2, 2, 3, 3))
        direct = conv2d_direct(x, w, stride=s, padding=p)
        model = conv_model(2, size=(6, 6), kernel=(3, 3), stride=s, padding=p, dilation=1,
                           batch=1, in_channels=2, out_channels=2, bias=False)
        exact = model.evaluate(x.tolist(), w.tolist())
        size = output_size(6, 3, padding=p, stride=s)
        sheet.numeric(list(direct.shape), [1, 2, size, size],
                      method=f"derived output shape, stride {s}, padding {p}")
        mismatches = int(sum(int(a) != b for a, b in zip(exact.ravel(), direct.ravel())))
        sheet.numeric(mismatches, 0, why="entries where the loops and the model differ",
                      method=f"stride {s}, padding {p}: the indexed-sum model evaluated "
                             "exactly by substitution, on small integers (every float64 sum "
                             "is exact)")
        mine = _loops(x.astype(float), w.astype(float), s, p)
        sheet.numeric(int(np.count_nonzero(mine != direct)), 0,
                      why="entries where the two loop versions differ",
                      method=f"stride {s}, padding {p}: a second loop version that pads "
                             "explicitly and takes window dot products")
        rows.append((s, p, "x".join(map(str, direct.shape)), direct.size))
    sheet.table(["stride", "padding", "output shape", "entries compared"], rows,
                caption="Exact comparisons on a 1x2x6x6 integer input with 2 integer 3x3 "
                        "filters (seed 89).")
    sheet.answer("exact agreement", f"{sum(r[3] for r in rows)} entries in "
                                    f"{len(rows)} configurations")


def solve_c(sheet: Sheet) -> None:
    import numpy as np

    from derive.numeric import conv2d, conv2d_direct

    rng = np.random.default_rng(2024)
    x = rng.standard_normal(TEST["x"])
    w = rng.standard_normal(TEST["w"])
    torch = _torch()
    rows = []
    worst = 0.0
    for s, p in CONFIGS:
        direct = conv2d_direct(x, w, stride=s, padding=p)
        fast = conv2d(x, w, stride=s, padding=p)
        gap = float(np.max(np.abs(direct - fast)))
        sheet.numeric(gap, 0.0, tol=1e-12, why="largest difference, loops vs im2col",
                      method=f"stride {s}, padding {p}: derive.numeric.conv2d (im2col and one "
                             "matrix product) on the same random float64 arrays")
        row = [s, p, "x".join(map(str, direct.shape)), f"{gap:.1e}"]
        if torch is not None:
            ref = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                             stride=s, padding=p).numpy()
            gap_t = float(np.max(np.abs(direct - ref)))
            sheet.numeric(gap_t, 0.0, tol=1e-12, why="largest difference, loops vs PyTorch",
                          method=f"stride {s}, padding {p}: torch.nn.functional.conv2d in "
                                 "float64 (PyTorch installed)")
            row.append(f"{gap_t:.1e}")
            worst = max(worst, gap_t)
        worst = max(worst, gap)
        rows.append(row)
    headers = ["stride", "padding", "output shape", "max |loops - im2col|"]
    if torch is not None:
        headers.append("max |loops - torch|")
    else:
        sheet.text("PyTorch is not installed here: the reference is the NumPy im2col "
                   "implementation; with PyTorch installed the table gains a column comparing "
                   "with torch.nn.functional.conv2d.")
    sheet.table(headers, rows, caption="Random inputs x of shape 2x3x8x8 and weights of shape "
                                       "16x3x3x3 (NumPy generator, seed 2024), float64.")
    sheet.text("The differences are at the level of float64 rounding (the three versions add "
               "the same products in different orders).")
    sheet.answer("largest difference", f"{worst:.1e}")


PROBLEM = Problem(
    id="8.9", set="chapter8", order=9, title="Convolution from scratch",
    source="Chapter 8, exercise 8.9",
    statement="Write a 2D convolution with plain loops, without a library convolution, and "
              "check it against a library implementation.",
    parts=(
        Part("a", "It takes an input of shape (batch, C_in, H, W), a weight of shape "
                  "(C_out, C_in, k, k), a stride and a padding.", solve_a),
        Part("b", "It returns the output of shape (batch, C_out, H_out, W_out) with the "
                  "correct values.", solve_b),
        Part("c", "On random inputs it matches the library convolution up to floating-point "
                  "rounding.", solve_c),
    ),
)
