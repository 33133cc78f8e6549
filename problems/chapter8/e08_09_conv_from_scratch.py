"""Exercise 8.9: a 2D convolution written from scratch with loops, and its verification.

The implementation is the listing :mod:`derive.lab.listings.conv2d_scratch`, printed whole in
part (a): ``conv2d_loops`` (explicit loops over samples, filters and output positions, each
output a window of the zero-padded input times a filter) and ``conv2d_unfold`` (the same
windows gathered into a patch matrix, one matrix product); ``tests/test_lab_listings.py``
compares both with PyTorch (values and gradients).  What can be proved is proved: the rule
the loops follow (the input copied into rows ``P`` to ``H + P - 1`` of a zero tensor, tap
``u`` of output ``i`` read at padded row ``S*i + u``) is the indexed-sum model
(:mod:`derive.conv.model`) with its zero padding, and the output size the loops allocate is
the one derived from the model (:mod:`derive.conv.shapes`).  The code itself is tested, not
proved: the engine's own loop version :func:`derive.numeric.conv2d_direct` (which skips the
padding's zeros instead of storing them) is compared exactly, on small integer inputs, with
the model evaluated by substitution and with a separate short loop written here (four
stride/padding configurations), and on random floating-point inputs (fixed seed) with the
im2col implementation :func:`derive.numeric.conv2d`, with NumPy's sliding windows and, where
PyTorch is installed, with both functions of the listing and with PyTorch's ``conv2d`` in
float64 (the page is the same either way).
"""

from derive.book import CODE, Part, Problem, Sheet, written

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


def _listing():
    from derive.lab.listings import conv2d_scratch
    return conv2d_scratch


def _listing_outputs(torch, cases, version: str):
    """The listing's ``version`` ("loops" or "unfold") on each case ``(x, w, stride,
    padding)`` in float64, the outputs flattened and joined in order."""
    import numpy as np

    conv = getattr(_listing(), f"conv2d_{version}")
    return np.concatenate([
        conv(torch.from_numpy(np.asarray(x, dtype=np.float64)),
             torch.from_numpy(np.asarray(w, dtype=np.float64)), stride=s,
             padding=p).numpy().ravel()
        for x, w, s, p in cases])


_VERSION_WORDS = {"loops": "loop version", "unfold": "unfold version"}


def _as_integers(a):
    """Whole-number float64 values as integers (small whole numbers are exact in float64);
    anything else unchanged, so that a slip still shows."""
    import numpy as np
    return a.astype(np.int64) if np.array_equal(a, np.round(a)) else a


def _refusals(conv, x, weights, wrap=lambda a: a) -> int:
    """How many of the calls ``conv(x, w)``, one per bad weight, raise a ValueError."""
    count = 0
    for w in weights:
        try:
            conv(wrap(x), wrap(w), stride=TEST["stride"], padding=TEST["padding"])
        except ValueError:
            count += 1
    return count


def solve_a(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.shapes import (output_size, output_size_assumptions,
                                    output_size_derivation)
    from derive.errors import ProblemError
    from derive.numeric import conv2d_direct
    from derive.symbols import syms

    sheet.listing("conv2d_scratch", "A 2D convolution from scratch: explicit loops over the "
                  "output positions, and the same windows as one matrix product (PyTorch).",
                  tests="tests/test_lab_listings.py")
    sheet.text("The loop version checks its arguments (two four-dimensional arrays, the "
               "weight's second axis equal to the input's channel count, a stride of at least "
               "1, a padding of at least 0, a kernel that fits the padded input), copies the "
               "input into the middle of a zero tensor with $2*P$ more rows and columns, "
               "allocates a zero output of shape $N$×$C_out$×$H_out$×$W_out$ and loops over "
               "the sample $n$, the filter $o$ and the output position $i$, $j$: the output "
               "is the sum, over the channels and the $K$×$K$ taps, of the window that starts "
               "at row $S*i$ and column $S*j$ of the padded tensor times filter $o$. Nothing "
               "in the loop depends on earlier outputs, so the loop order does not matter. "
               "The unfold version cuts the same windows out of the padded tensor without a "
               "loop, lays each one out as a row (channel, then kernel row, then kernel "
               "column: the order in which a filter is flattened) and multiplies by the "
               "flattened filters, one matrix product (the im2col form of exercise 8.21).")
    model = _model_symbolic()
    sheet.text("Both compute the layer's indexed sum (no bias here):")
    eq = model.equation
    sheet.derive(eq.lhs, [(eq.rhs, "the convolution layer (a cross-correlation)")])
    pad = model.padding_rule()
    sheet.derive(pad.lhs, [(pad.rhs, "the padded input: $x$ shifted by $P$, zero outside")])
    sheet.text("Why the loops compute the model: the copy puts input row $r$ at row $r + P$ "
               "of the padded tensor, so tap $u$ of output row $i$, which the listing reads "
               "at padded row $S*i + u$, holds input row $S*i + u - P$; shifted by the "
               "padding, that is the row the model reads from its padded input,")
    sheet.claim(written("(S*i + u - P) + P"), model.window_index(0).subs(model.dilation[0], 1),
                why="input row of the tap plus $P$ against the model's padded row")
    sheet.text("and the rows the copy fills, $P$ to $H + P - 1$ (the rows of the padding rule "
               "that hold the image), are the input's rows 0 to $H - 1$ shifted by $P$:")
    H = syms("H")[0]
    sheet.claim(written("(H + P - 1) - P"), H - 1,
                why="last image row of the padded input, shifted back by $P$")
    sheet.text("Every other row of the padded tensor keeps its zero, as the padding rule "
               "requires; the same holds for columns.")

    n, c_in, h, w = TEST["x"]
    c_out, c_w, k, _ = TEST["w"]
    s, p = TEST["stride"], TEST["padding"]
    h_sym, k_sym, p_sym, s_sym = syms("H K P S")
    sheet.text("The output size the listing allocates is the number of positions $i$ whose "
               "window stays inside the padded input, read off the model:")
    sheet.derive("H_out", output_size_derivation(h_sym, k_sym, p_sym, s_sym),
                 assume=["P >= 0", *output_size_assumptions(h_sym, k_sym, p_sym)])
    size = output_size(h, k, padding=p, stride=s)
    with sympy.evaluate(False):
        plugged = sympy.floor((h + 2 * p - k) / sympy.Integer(s)) + 1
    sheet.derive("H_out", [(plugged, f"$H == {h}$, $K == {k}$, $P == {p}$, $S == {s}$ (the "
                                     "exercise's test arrays)"),
                           (size, "evaluate")])
    rng = np.random.default_rng(9)
    x_test, w_test = rng.standard_normal(TEST["x"]), rng.standard_normal(TEST["w"])
    out = conv2d_direct(x_test, w_test, stride=s, padding=p)
    expected = [n, c_out, size, size]
    drawn = "the test arrays (standard normal entries, NumPy's generator with seed 9)"
    sheet.numeric(expected, list(out.shape), why="output shape",
                  method=f"shape returned by the engine's loop version on {drawn}")
    for version in ("loops", "unfold"):
        sheet.numeric_if_installed(
            "torch", expected,
            lambda torch, version=version: list(getattr(_listing(), f"conv2d_{version}")(
                torch.from_numpy(x_test), torch.from_numpy(w_test), stride=s,
                padding=p).shape),
            why="output shape",
            method=f"shape returned by the listing's {_VERSION_WORDS[version]} on the same "
                   f"arrays (PyTorch, float64)")
    bad = [np.zeros((c_out, c_in + 1, k, k)), np.zeros((c_out, c_in, h + 2 * p + 1,
                                                         h + 2 * p + 1))]
    refused = _refusals(conv2d_direct, np.zeros(TEST["x"]), bad)
    if refused != len(bad):  # the check of the arguments is part of the answer: it must hold
        raise ProblemError("the loop implementation accepted a weight of the wrong shape")
    sheet.text(f"The test weight's second axis ({c_w}) equals the input's channel count "
               f"({c_in}), as the argument check requires. The engine's loop version refuses "
               f"two bad weights with an error instead of computing: one whose second axis "
               f"is {c_in + 1}, and one with a {h + 2 * p + 1}×{h + 2 * p + 1} kernel, larger "
               f"than the {h + 2 * p}×{h + 2 * p} padded input. So does the listing:")
    for version in ("loops", "unfold"):
        sheet.numeric_if_installed(
            "torch", refused,
            lambda torch, version=version: _refusals(
                getattr(_listing(), f"conv2d_{version}"), np.zeros(TEST["x"]), bad,
                wrap=torch.from_numpy),
            why=f"bad weights refused, of {len(bad)}",
            method=f"the listing's {_VERSION_WORDS[version]} (PyTorch) called with the "
                   f"same weights")
    sheet.answer("output shape on the test arrays", "×".join(map(str, out.shape)))


def solve_b(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.model import conv_model
    from derive.conv.shapes import output_size
    from derive.numeric import conv2d_direct

    sheet.text("Part (a) proved that the rule the loops follow is the model; whether code "
               "implements that rule without a slip is tested here, not proved: on four "
               "stride and padding configurations, every output entry of the engine's own "
               "loop version (the same rule, with the padding's zeros skipped instead of "
               "stored) is compared exactly with the model evaluated by substitution, with a "
               "second loop version that pads explicitly and takes window dot products and, "
               "where PyTorch is installed, with both versions of the listing of part (a).")
    rng = np.random.default_rng(89)
    rows, cases, values = [], [], []
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
        cases.append((x, w, s, p))
        values.append(as_int.ravel())
    sheet.table(["stride", "padding", "output shape", "entries compared"], rows,
                caption="Exact comparisons. Inputs drawn in turn for each configuration from "
                        "NumPy's generator with seed 89: an input of 1×2×6×6 integers from -4 "
                        "to 4, then 2 filters of 2×3×3 integers from -3 to 3.")
    every = np.concatenate(values)
    for version in ("loops", "unfold"):
        sheet.numeric_if_installed(
            "torch", every,
            lambda torch, version=version: _as_integers(
                _listing_outputs(torch, cases, version)),
            why=f"output values, the {len(cases)} configurations in turn",
            method=f"the listing's {_VERSION_WORDS[version]} on the same arrays (PyTorch, "
                   f"float64)")
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
               "first). The engine's loop version is compared, on the four configurations of "
               "part (b), with both versions of the listing and with three other "
               "implementations; they add the same products in different orders, so they "
               "agree up to float64 rounding.")
    direct = {(s, p): conv2d_direct(x, w, stride=s, padding=p) for s, p in CONFIGS}
    sheet.table(["stride", "padding", "output shape", "entries compared"],
                [(s, p, "×".join(map(str, direct[s, p].shape)), direct[s, p].size)
                 for s, p in CONFIGS], caption="The configurations compared.")
    every = np.concatenate([direct[c].ravel() for c in CONFIGS])
    cases = [(x, w, s, p) for s, p in CONFIGS]
    for version in ("loops", "unfold"):
        sheet.numeric_if_installed(
            "torch", every,
            lambda torch, version=version: _listing_outputs(torch, cases, version),
            tol=TOL, why=f"output values, the {len(cases)} configurations in turn",
            method=f"the listing's {_VERSION_WORDS[version]} (PyTorch, float64)")
    sheet.text("Configuration by configuration, against the engine's im2col convolution, "
               "NumPy's sliding windows and PyTorch's own convolution:")
    for s, p in CONFIGS:
        where = f"output, stride {s}, padding {p}"
        sheet.numeric(direct[s, p], conv2d(x, w, stride=s, padding=p), tol=TOL, why=where,
                      method="the engine's im2col convolution (one matrix product)")
        sheet.numeric(direct[s, p], _sliding(x, w, s, p), tol=TOL, why=where,
                      method="NumPy's sliding windows contracted with the filters")
        sheet.numeric_if_installed(
            "torch", direct[s, p],
            lambda torch, s=s, p=p: torch.nn.functional.conv2d(
                torch.from_numpy(x), torch.from_numpy(w), stride=s, padding=p).numpy(),
            tol=TOL, why=where, method="PyTorch's conv2d in float64")
    exponent = round(math.log10(TOL))
    sheet.answer("largest difference at most", sympy.UnevaluatedExpr(10) ** exponent)


PROBLEM = Problem(
    id="8.9", set="chapter8", order=9, title="Convolution from scratch",
    source="Chapter 8, exercise 8.9",
    statement="Write a 2D convolution with plain loops, without a library convolution, and "
              "check it against a library implementation.",
    parts=(
        Part("a", "Implement it: a function that takes an input of shape (batch, $C_in$, $H$, "
                  "$W$), a weight of shape ($C_out$, $C_in$, $k$, $k$), a stride and a "
                  "padding.", solve_a, scope=CODE),
        Part("b", "It returns the output of shape (batch, $C_out$, $H_out$, $W_out$) with the "
                  "correct values.", solve_b),
        Part("c", "On random inputs it matches the library convolution up to floating-point "
                  "rounding.", solve_c),
    ),
)
