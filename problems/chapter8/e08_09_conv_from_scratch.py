"""Exercise 8.9: a 2D convolution written from scratch with loops, and its verification.

The reference implementation is :func:`derive.numeric.conv2d_direct` (explicit loops over
the indices of the model's sum).  What can be proved is proved: the rule the loops follow
(read input row ``S*i + u - P``, skip rows outside the image) is the indexed-sum model
(:mod:`derive.conv.model`) with its zero padding, and the output size the loops allocate is
the one derived from the model (:mod:`derive.conv.shapes`).  The code itself is tested, not
proved: its values are compared exactly, on small integer inputs, with the model evaluated by
substitution and with a separate short loop written here (four stride/padding
configurations), and on random floating-point inputs (fixed seed) with the im2col
implementation :func:`derive.numeric.conv2d`, with NumPy's sliding windows, and, where
PyTorch is installed, with PyTorch's ``conv2d`` in float64 (the page is the same either way).
"""

from derive.book import Part, Problem, Sheet, written

TEST = {"x": (2, 3, 8, 8), "w": (16, 3, 3, 3), "stride": 1, "padding": 1}
CONFIGS = ((1, 1), (2, 0), (2, 1), (3, 2))      # (stride, padding) pairs checked in (b), (c)
TOL = 1e-12                                     # float64 agreement asked for in (c)


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


def _sliding(x, w, stride: int, padding: int):
    """A third version with no loop over positions: NumPy's sliding windows over the padded
    input, every ``stride``-th kept, contracted with the filters by ``einsum``."""
    import numpy as np

    k = w.shape[-1]
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]
    return np.einsum("ncijuv,ocuv->noij", windows, w)


def _model_symbolic():
    from derive.conv.model import conv_model
    return conv_model(2, dilation=1, groups=1, bias=False)


def solve_a(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.shapes import (output_size, output_size_assumptions,
                                    output_size_derivation)
    from derive.errors import ProblemError
    from derive.numeric import conv2d_direct
    from derive.symbols import syms

    model = _model_symbolic()
    sheet.text("The function takes an input $x$ of shape $N$×$C_in$×$H$×$W$, a weight $w$ "
               "of shape $C_out$×$C_in$×$K$×$K$, a stride $S$ and a padding $P$, and "
               "computes the layer's indexed sum (no bias here):")
    eq = model.equation
    sheet.derive(eq.lhs, [(eq.rhs, "the convolution layer (a cross-correlation)")])
    pad = model.padding_rule()
    sheet.derive(pad.lhs, [(pad.rhs, "the padded input: $x$ shifted by $P$, zero outside")])
    sheet.text("The loops: (1) read the sizes off the two arrays and check that the weight's "
               "second axis equals the input's channel count; (2) compute $H_out$ and "
               "$W_out$ (below); (3) allocate a zero output of shape "
               "$N$×$C_out$×$H_out$×$W_out$; (4) loop over the sample $n$, the filter $o$ "
               "and the output position $i$, $j$, and add $w[o, c, u, v]*x[n, c, r, q]$ over "
               "the input channels $c$ and the kernel offsets $u$, $v$, with input row "
               "$r == S*i + u - P$ and column $q == S*j + v - P$, skipping a row or column "
               "outside the image. Nothing in the loop depends on earlier outputs, so the "
               "loop order does not matter.")
    sheet.text("Why this is the model: the loop's row, shifted by the padding, is the row the "
               "model reads from the padded input,")
    S, P, H = syms("S P H")
    i, u = (sympy.Symbol(n, integer=True, nonnegative=True) for n in "iu")
    sheet.claim(written("(S*i + u - P) + P"), model.window_index(0).subs(model.dilation[0], 1),
                why="loop row plus $P$ against the model's padded row")
    sheet.text("and the rows of the padded input that hold the image, $P$ to $H + P - 1$ in "
               "the padding rule, are the loop's rows 0 to $H - 1$ shifted by $P$:")
    sheet.claim(written("(H + P - 1) - P"), H - 1,
                why="last image row of the padded input, shifted back by $P$")
    sheet.text("Every other padded row is a zero of the padding, so the terms the loops skip "
               "are exactly the zero terms of the model's sum; the same holds for columns.")

    n, c_in, h, w = TEST["x"]
    c_out, c_w, k, _ = TEST["w"]
    s, p = TEST["stride"], TEST["padding"]
    h_sym, k_sym, p_sym, s_sym = syms("H K P S")
    sheet.text("The output size is the number of positions $i$ whose window stays inside the "
               "padded input, read off the model:")
    sheet.derive("H_out", output_size_derivation(h_sym, k_sym, p_sym, s_sym),
                 assume=["P >= 0", *output_size_assumptions(h_sym, k_sym, p_sym)])
    size = output_size(h, k, padding=p, stride=s)
    with sympy.evaluate(False):
        plugged = sympy.floor((h + 2 * p - k) / sympy.Integer(s)) + 1
    sheet.derive("H_out", [(plugged, f"$H == {h}$, $K == {k}$, $P == {p}$, $S == {s}$ (the "
                                     "exercise's test arrays)"),
                           (size, "evaluate")])
    rng = np.random.default_rng(9)
    out = conv2d_direct(rng.standard_normal(TEST["x"]), rng.standard_normal(TEST["w"]),
                        stride=s, padding=p)
    sheet.numeric([n, c_out, size, size], list(out.shape), why="output shape",
                  method="shape returned by the loop implementation on the test arrays "
                         "(standard normal entries, NumPy's generator with seed 9)")
    try:
        conv2d_direct(np.zeros(TEST["x"]), np.zeros((c_out, c_in + 1, k, k)), stride=s,
                      padding=p)
    except ValueError:
        pass
    else:  # the check of step (1) is part of the answer: it must hold
        raise ProblemError("the loop implementation accepted a weight with the wrong number "
                           "of input channels")
    sheet.text(f"The test weight's second axis ({c_w}) equals the input's channel count "
               f"({c_in}), as step (1) requires; called with a weight whose second axis is "
               f"{c_in + 1}, the function raises an error instead of computing.")
    sheet.answer("output shape on the test arrays", "×".join(map(str, out.shape)))


def solve_b(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.model import conv_model
    from derive.conv.shapes import output_size
    from derive.numeric import conv2d_direct

    sheet.text("Part (a) proved that the rule the loops follow is the model; whether the code "
               "implements that rule without a slip is tested here, not proved: on four "
               "stride and padding configurations, every output entry of the loops is "
               "compared exactly with the model evaluated by substitution, and with a second "
               "loop version that pads explicitly and takes window dot products.")
    rng = np.random.default_rng(89)
    rows = []
    for s, p in CONFIGS:
        x = rng.integers(-4, 5, (1, 2, 6, 6))
        w = rng.integers(-3, 4, (2, 2, 3, 3))
        direct = conv2d_direct(x, w, stride=s, padding=p)
        # Small integers: every float64 sum is exact, so the values compare exactly.
        as_int = direct.astype(np.int64)
        if not np.array_equal(as_int, direct):  # pragma: no cover - guarded by the ranges
            raise ValueError("the loop output is not integral")
        model = conv_model(2, size=(6, 6), kernel=(3, 3), stride=s, padding=p, dilation=1,
                           batch=1, in_channels=2, out_channels=2, bias=False)
        exact = np.array(model.evaluate(x.tolist(), w.tolist()), dtype=object)
        size = output_size(6, 3, padding=p, stride=s)
        where = f"stride {s}, padding {p}"
        sheet.numeric(list(direct.shape), [1, 2, size, size], why=f"output shape, {where}",
                      method="the output size derived from the model")
        sheet.numeric(as_int, exact, why=f"output values, {where}",
                      method="the indexed-sum model evaluated exactly by substitution")
        mine = _loops(x.astype(float), w.astype(float), s, p).astype(np.int64)
        sheet.numeric(as_int, mine, why=f"output values, {where}",
                      method="a second loop version that pads explicitly and takes window "
                             "dot products")
        rows.append((s, p, "×".join(map(str, direct.shape)), direct.size))
    sheet.table(["stride", "padding", "output shape", "entries compared"], rows,
                caption="Exact comparisons. Inputs drawn in turn for each configuration from "
                        "NumPy's generator with seed 89: an input of 1×2×6×6 integers from -4 "
                        "to 4, then 2 filters of 2×3×3 integers from -3 to 3.")
    total = sum(r[3] for r in rows)
    sheet.text(f"All {total} entries agree in all {len(rows)} configurations: the "
               "implementation is tested on these cases, which exercise strides 1 to 3 and "
               "paddings 0 to 2, including windows that read the padding.")
    sheet.answer("exact agreement", f"{total} entries in {len(rows)} configurations")


def solve_c(sheet: Sheet) -> None:
    import math

    import numpy as np
    import sympy

    from derive.numeric import conv2d, conv2d_direct

    rng = np.random.default_rng(2024)
    x = rng.standard_normal(TEST["x"])
    w = rng.standard_normal(TEST["w"])
    sheet.text("Random float64 inputs: $x$ of shape 2×3×8×8 and weights of shape 16×3×3×3, "
               "standard normal entries from NumPy's generator with seed 2024 ($x$ drawn "
               "first). The loops are compared with three other implementations on the four "
               "configurations of part (b); they add the same products in different orders, "
               "so they agree up to float64 rounding.")
    rows = []
    for s, p in CONFIGS:
        direct = conv2d_direct(x, w, stride=s, padding=p)
        where = f"output, stride {s}, padding {p}"
        sheet.numeric(direct, conv2d(x, w, stride=s, padding=p), tol=TOL, why=where,
                      method="the engine's im2col convolution (one matrix product)")
        sheet.numeric(direct, _sliding(x, w, s, p), tol=TOL, why=where,
                      method="NumPy's sliding windows contracted with the filters")
        sheet.numeric_if_installed(
            "torch", direct,
            lambda torch, s=s, p=p: torch.nn.functional.conv2d(
                torch.from_numpy(x), torch.from_numpy(w), stride=s, padding=p).numpy(),
            tol=TOL, why=where, method="PyTorch's conv2d in float64")
        rows.append((s, p, "×".join(map(str, direct.shape)), direct.size))
    sheet.table(["stride", "padding", "output shape", "entries compared"], rows,
                caption="The configurations compared.")
    exponent = round(math.log10(TOL))
    sheet.answer("largest difference at most", sympy.UnevaluatedExpr(10) ** exponent)


PROBLEM = Problem(
    id="8.9", set="chapter8", order=9, title="Convolution from scratch",
    source="Chapter 8, exercise 8.9",
    statement="Write a 2D convolution with plain loops, without a library convolution, and "
              "check it against a library implementation.",
    parts=(
        Part("a", "It takes an input of shape (batch, $C_in$, $H$, $W$), a weight of shape "
                  "($C_out$, $C_in$, $k$, $k$), a stride and a padding.", solve_a),
        Part("b", "It returns the output of shape (batch, $C_out$, $H_out$, $W_out$) with the "
                  "correct values.", solve_b),
        Part("c", "On random inputs it matches the library convolution up to floating-point "
                  "rounding.", solve_c),
    ),
)
