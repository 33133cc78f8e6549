"""Exercise 8.22: which operations commute with translations.

Each verdict is the engine's (:mod:`derive.conv.equivariance`): a proof on the indexed-sum
model (index identities checked with the floor/Mod lemmas; a full sum re-indexed by a
bijection whose inverse is checked) or a concrete counterexample found by search.  This
module re-evaluates every counterexample with its own loop implementations of the
operations, counts the output shifts that would match (none), and tests the proved cases on
random inputs with the same independent implementations (and PyTorch when installed).
"""

from derive.book import Part, Problem, Sheet

EPS = 1e-5   # batch-norm epsilon, PyTorch's default
SIDE = 4     # input side for the convolution cases (small enough to print)


# --------------------------------------------------------------------------- independent ops
def _exact(a):
    """Whole-number arrays as integers (so results compare exactly), others as floats."""
    import numpy as np
    a = np.asarray(a, dtype=float)
    return a.astype(np.int64) if np.array_equal(a, np.round(a)) else a


def _conv_loops(x, k, stride: int, mode: str):
    """Cross-correlation with explicit loops; 'circular' wraps, 'zeros' pads with zeros."""
    import numpy as np
    x, k = _exact(x), _exact(k)
    n0, n1 = x.shape
    p0, p1 = (k.shape[0] - 1) // 2, (k.shape[1] - 1) // 2
    out = np.zeros((n0 // stride, n1 // stride) if mode == "circular" else (n0, n1),
                   dtype=np.result_type(x, k))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            total = 0
            for u in range(k.shape[0]):
                for v in range(k.shape[1]):
                    a, b = stride * i + u - p0, stride * j + v - p1
                    if mode == "circular":
                        total += k[u, v] * x[a % n0, b % n1]
                    elif 0 <= a < n0 and 0 <= b < n1:
                        total += k[u, v] * x[a, b]
            out[i, j] = total
    return out


def _maxpool_loops(x):
    import numpy as np
    x = _exact(x)
    return np.array([[max(x[2 * i + u, 2 * j + v] for u in (0, 1) for v in (0, 1))
                      for j in range(x.shape[1] // 2)] for i in range(x.shape[0] // 2)])


def _bn(x, params, train: bool):
    import numpy as np
    x = np.asarray(x, dtype=float)
    if train:
        mean = x.mean(axis=(0, 2, 3))
        var = ((x - mean[None, :, None, None]) ** 2).mean(axis=(0, 2, 3))
    else:
        mean, var = np.asarray(params["mean"]), np.asarray(params["var"])
    out = np.empty_like(x)
    for c in range(x.shape[1]):
        out[:, c] = (params["gamma"][c] * (x[:, c] - mean[c]) / np.sqrt(var[c] + EPS)
                     + params["beta"][c])
    return out


def _mine(result):
    """An independent implementation of the operation a result is about."""
    import numpy as np
    p = result.params
    key = result.key
    if key == "conv_circular":
        return lambda x: _conv_loops(x, p["kernel"], 1, "circular")
    if key == "conv_same":
        return lambda x: _conv_loops(x, p["kernel"], 1, "zeros")
    if key == "conv_strided":
        return lambda x: _conv_loops(x, p["kernel"], p["stride"], "circular")
    if key == "max_pool":
        return _maxpool_loops
    if key == "batch_norm_train":
        return lambda x: _bn(x, p, True)
    if key == "batch_norm_eval":
        return lambda x: _bn(x, p, False)
    if key == "global_avg_pool":
        return lambda x: float(np.asarray(x, dtype=float).sum() / np.size(x))
    if key == "dense":
        return lambda x: (_exact(p["weight"]) @ _exact(x).ravel()).reshape(np.shape(x))
    raise KeyError(key)


def _zero_fill(a, shift):
    import numpy as np
    a = np.asarray(a)
    out = np.zeros_like(a)
    for idx in np.ndindex(a.shape[-2:]):
        src = (idx[0] - shift[0], idx[1] - shift[1])
        if 0 <= src[0] < a.shape[-2] and 0 <= src[1] < a.shape[-1]:
            out[(Ellipsis,) + idx] = a[(Ellipsis,) + src]
    return out


# --------------------------------------------------------------------------- presentation
def _show(sheet: Sheet, result) -> None:
    from derive.book.model import Check
    from derive.check.verdict import Status

    sheet.text(f"{result.operation}. Claim examined: {result.statement}. Method: "
               f"{result.method}.")
    for st in result.proof:
        if st.verdict is None:
            sheet.text(st.statement + ".")
        else:
            sheet.add(Check(st.lhs, st.rhs, st.verdict, st.statement, "claim"))
    for st in result.checks:
        if st.verdict is not None and st.verdict.status is Status.REFUTED:
            _refuted_check(sheet, st)
        elif st.verdict is not None:
            sheet.add(Check(st.lhs, st.rhs, st.verdict, st.statement, "claim"))
    for cex in ((result.counterexample,) if result.counterexample else ()) + result.extra:
        _counterexample(sheet, result, cex)
    if result.holds:
        _random_test(sheet, result)
    _torch(sheet, result)
    sheet.answer(result.operation, result.label)


def _refuted_check(sheet: Sheet, st) -> None:
    """The checker refuted ``lhs == rhs`` for a generic dense layer; recompute both sides
    at its counterexample with plain Python."""
    import re
    ce = st.verdict.counterexample
    n, s, i = int(ce["n"]), int(ce["s"]), int(ce["i"])
    x = [int(ce[f"x[{j}]"]) for j in range(n)]
    w = {}
    for key, value in ce.items():
        m = re.fullmatch(r"W\[(\d+), (\d+)\]", key)
        if m:
            w[int(m.group(1)), int(m.group(2))] = int(value)
    lhs = sum(w[i, j] * x[(j - s) % n] for j in range(n))
    rhs = sum(w[(i - s) % n, j] * x[j] for j in range(n))
    sheet.text(f"{st.statement}: the checker finds n = {n}, shift s = {s}, output i = {i}, "
               f"x = {x} and W = {[[w[a, b] for b in range(n)] for a in range(n)]}.")
    sheet.numeric(st.verdict.lhs_value, lhs, method="f(T_s x)[i] = sum_j W[i, j] x[(j - s) "
                                                    "mod n], recomputed in plain Python")
    sheet.numeric(st.verdict.rhs_value, rhs, method="(T_s f(x))[i] = sum_j W[(i - s) mod n, j] "
                                                    "x[j], recomputed in plain Python")
    sheet.text(f"The two sides are {lhs} and {rhs}: a generic dense layer does not commute "
               f"with the shift.")


def _counterexample(sheet: Sheet, result, cex) -> None:
    import itertools

    import numpy as np

    f = _mine(result)
    sheet.text(f"Counterexample ({cex.note}): {cex.describe()}.")
    if cex.shift_kind == "none":
        sheet.numeric(cex.output, f(np.concatenate([np.asarray(cex.input)[None],
                                                    _companions(result, cex, 0)]))[0],
                      method="the first batch re-normalized independently")
        sheet.numeric(cex.output_of_shifted, f(np.concatenate([np.asarray(cex.input)[None],
                                                               _companions(result, cex, 1)]))[0],
                      method="the second batch re-normalized independently")
        return
    x = np.asarray(cex.input, dtype=float)
    if np.ndim(x) == 2 and x.size <= 64:
        sheet.matrix("x", np.asarray(cex.input))
    mine_shifted = f(np.asarray(cex.shifted_input, dtype=float))
    sheet.numeric(cex.output_of_shifted, mine_shifted,
                  method="f(T x) recomputed with explicit loops")
    base = f(x)
    if cex.shift_kind == "zero-fill":
        predicted = _zero_fill(base, cex.shift)
        sheet.numeric(cex.expected, predicted,
                      method="T f(x) recomputed (explicit loops, zero-fill shift)")
        mine_bad = int(np.count_nonzero(np.abs(mine_shifted - predicted) > 1e-9))
        engine_bad = int(np.count_nonzero(np.abs(np.asarray(cex.output_of_shifted, float)
                                                 - np.asarray(cex.expected, float)) > 1e-9))
        sheet.numeric(engine_bad, mine_bad,
                      method="number of positions where f(T x) and T f(x) differ, counted on "
                             "the explicit-loop outputs")
        where = ("all next to the border" if result.key == "conv_same"
                 else "including positions far from the vacated column")
        sheet.text(f"They differ at {mine_bad} positions, {where}.")
        return
    shape = np.shape(base)
    matches = sum(1 for t in itertools.product(*(range(d) for d in shape[-2:]))
                  if np.allclose(mine_shifted, np.roll(base, t, axis=(-2, -1)), atol=1e-9))
    sheet.numeric(matches, 0, method=f"all {int(np.prod(shape[-2:]))} circular shifts of "
                                     f"f(x) compared with f(T x) (explicit loops): none "
                                     f"matches")
    if np.ndim(base) == 2 and base.size <= 64:
        sheet.matrix("f(x)", base)


def _companions(result, cex, which: int):
    """The rest of the batch in the engine's batch-dependence demonstration."""
    import numpy as np
    rng = np.random.default_rng(0)
    shape = result.params["shape"]
    channels, hw = shape[1], shape[2:]
    rng.integers(-3, 4, size=(1, channels) + tuple(hw))              # the image itself
    comp = rng.integers(-3, 4, size=(shape[0] - 1, channels) + tuple(hw)).astype(float)
    return comp if which == 0 else comp * 2 + 1


def _random_test(sheet: Sheet, result) -> None:
    import numpy as np
    f = _mine(result)
    shape = tuple(result.params["shape"])
    rng = np.random.default_rng(22)
    worst = 0.0
    trials = 0
    for _ in range(3):
        x = rng.standard_normal(shape)
        for s in ((0, 1), (2, 3), (1, -1)):
            moved = np.roll(x, s, axis=(-2, -1))
            if result.key == "global_avg_pool":
                ref = f(x)
            else:
                ref = np.roll(f(x), s, axis=(-2, -1))
            worst = max(worst, float(np.max(np.abs(np.asarray(f(moved)) - ref))))
            trials += 1
    sheet.numeric(worst, 0.0, tol=1e-9,
                  method=f"largest |f(T x) - T f(x)| over {trials} random inputs and shifts, "
                         f"with this module's own implementation")


def _torch_output(result, x):
    """The operation evaluated by torch.nn.functional (None when PyTorch is missing or the
    operation has no exact integer counterexample to compare)."""
    try:
        import torch
    except ImportError:  # PyTorch is optional
        return None
    import numpy as np
    F = torch.nn.functional
    t = torch.as_tensor(np.asarray(x, dtype=np.float64))[None, None]
    p = result.params
    if result.key in ("conv_strided", "conv_same"):
        w = torch.as_tensor(np.asarray(p["kernel"], dtype=np.float64))[None, None]
        ph, pw = (w.shape[2] - 1) // 2, (w.shape[3] - 1) // 2
        if result.key == "conv_same":
            out = F.conv2d(t, w, padding=(ph, pw))
        else:
            out = F.conv2d(F.pad(t, (pw, pw, ph, ph), mode="circular"), w,
                           stride=p["stride"])
    elif result.key == "max_pool":
        out = F.max_pool2d(t, 2)
    elif result.key == "dense":
        out = F.linear(t.reshape(-1), torch.as_tensor(np.asarray(p["weight"]))).reshape(
            t.shape)
    else:
        return None
    return _exact(out[0, 0].numpy())


def _torch(sheet: Sheet, result) -> None:
    from derive.conv.equivariance import torch_cross_check
    cex = result.counterexample
    if cex is not None and cex.shift_kind != "none":
        out = _torch_output(result, cex.shifted_input)
        if out is not None:
            sheet.numeric(cex.output_of_shifted, out,
                          method="f(T x) evaluated with torch.nn.functional (PyTorch "
                                 "installed)")
            return
    check = torch_cross_check(result) if result.holds else None
    if check is not None:
        sheet.numeric(check.max_abs_diff, 0.0, tol=check.tolerance,
                      method=f"largest difference between the engine's NumPy operation and "
                             f"torch.nn.functional, {check.method} (PyTorch installed)")


def _part(*keys):
    def solve(sheet: Sheet) -> None:
        from derive.conv import equivariance as eq
        small = {"size": SIDE}
        builders = {"conv_same": lambda: eq.conv_same_padding(**small),
                    "conv_circular": lambda: eq.conv_circular(**small),
                    "conv_strided": lambda: eq.conv_strided(**small), "max_pool": eq.max_pool,
                    "batch_norm_train": eq.batch_norm_train,
                    "batch_norm_eval": eq.batch_norm_eval,
                    "global_avg_pool": eq.global_average_pool, "dense": eq.dense_layer}
        for key in keys:
            _show(sheet, builders[key]())
    return solve


def _explain_a(sheet: Sheet) -> None:
    _part("conv_same", "conv_circular")(sheet)
    sheet.explain("With zero padding the layer is equivariant for every output whose window "
                  "stays inside the image, and fails only at the border, where one side of "
                  "the window reads padding: approximately equivariant. With circular "
                  "padding it is exactly equivariant to circular shifts.",
                  rests_on=["the interior identity and the border counterexample above"])


def _explain_d(sheet: Sheet) -> None:
    _part("batch_norm_train", "batch_norm_eval")(sheet)
    sheet.explain("Both modes normalize every position of a channel with the same numbers, "
                  "so a shift of the whole batch just shifts the output. In training mode "
                  "those numbers are batch statistics: a zero-fill shift (content leaving the "
                  "frame) or different companions in the batch change them, so the output "
                  "for one image is not a function of that image alone. In evaluation mode "
                  "the running statistics are fixed and the layer is a pointwise affine map: "
                  "exactly equivariant.",
                  rests_on=["the counterexamples above", "the pointwise-map proof above"])


PROBLEM = Problem(
    id="8.22", set="chapter8", order=22, title="Translation equivariance",
    source="Chapter 8, exercise 8.22",
    statement=("For each operation, decide whether it is translation equivariant, "
               "approximately equivariant or not equivariant, and prove it or give a "
               "counterexample. Shifts are circular unless said otherwise; T_s denotes the "
               "shift by s."),
    parts=(
        Part("a", "Convolution with stride 1 and 'same' padding.", _explain_a),
        Part("b", "Convolution with stride 2.", _part("conv_strided")),
        Part("c", "2x2 max pooling with stride 2.", _part("max_pool")),
        Part("d", "Batch normalization, in training and in evaluation mode.", _explain_d),
        Part("e", "Global average pooling.", _part("global_avg_pool")),
        Part("f", "A fully connected layer.", _part("dense")),
    ),
)
