"""Formula sheet, section 1: convolution as a local linear map.

Every relation is read off the engine's indexed-sum model (:mod:`derive.conv.model`,
:func:`derive.conv.backward.forward`) or derived from it (the Toeplitz entry of
:func:`derive.conv.toeplitz.toeplitz_entry`, the equivariance proof of
:func:`derive.conv.equivariance.conv_circular`), checked by the checker, and cross-checked
by an independent NumPy computation written here in a few lines.
"""

from derive.book import Part, Problem, Sheet

SIZE, KERNEL = 6, 3          # the small concrete instance used for the numeric checks
SEED = 0


def _ints(a):
    """An integer array when every entry is an integer (float64 arithmetic on small integers
    is exact), so the comparison is exact; otherwise the float array itself."""
    import numpy as np

    a = np.asarray(a, dtype=float)
    return np.rint(a).astype(np.int64) if np.all(a == np.rint(a)) else a


def _single_channel_view(stride=1, dilation=1):
    """The engine's 2D single-channel forward sum, at the given stride and dilation; with
    no padding ``x_pad`` is ``x`` itself."""
    import sympy

    from derive.conv.backward import forward
    from derive.symbols import sym

    fw = forward(2)
    rhs = fw.rhs.xreplace({sym("S"): stride, sym("D"): dilation})
    x_pad, x = sympy.IndexedBase("x_pad"), sympy.IndexedBase("x")
    rhs = rhs.xreplace({ref: x[ref.indices] for ref in rhs.atoms(sympy.Indexed)
                        if ref.base == x_pad})
    return sympy.IndexedBase("y")[fw.out_index], rhs


def _entry_chain(chain):
    """The engine's derivation of the matrix entry, with its name and opening line in
    mathematical notation."""
    import dataclasses

    import sympy

    book = chain.to_book(label="Toeplitz entry")
    j = [s for s in chain.result.free_symbols if s.name == "j"][0]
    i = sympy.Symbol("i", integer=True, nonnegative=True)
    first = dataclasses.replace(
        book.steps[0], why="the matrix of the linear map from $x$ to $y$, "
                           "$W[i, j] == Derivative(y[i], x[j])$, with the padded input written "
                           "as an embedding: $x_pad[t] == x[t - P]$ inside the image, $0$ "
                           "outside")
    return dataclasses.replace(book, lhs=sympy.IndexedBase("W")[i, j],
                               steps=(first,) + book.steps[1:])


def _correlate2d(x, w):
    """Brute force: slide ``w`` over every position of ``x`` where it fits (no flip)."""
    import numpy as np

    k = w.shape[0]
    n = x.shape[0] - k + 1
    m = x.shape[1] - k + 1
    out = np.zeros((n, m), dtype=x.dtype)
    for i in range(n):
        for j in range(m):
            out[i, j] = (x[i:i + k, j:j + k] * w).sum()
    return out


# ------------------------------------------------------------------------------ 1.1
def solve_1_1(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.model import conv_model
    from derive.conv.shapes import effective_kernel
    from derive.conv.toeplitz import toeplitz_entry
    from derive.numeric import conv2d
    from derive.symbols import syms

    lhs, rhs = _single_channel_view()
    sheet.text("Relation (stride 1, no padding, one channel): the output at row $i$, column "
               "$j$ is a weighted sum of the $K$×$K$ input window whose top-left corner is "
               "$x[i, j]$. Symbols: $x$ is the $H$×$W$ input, $w$ the $K$×$K$ kernel, "
               "$0 <= i <= H - K$ and $0 <= j <= W - K$ the output position, $u$ and $v$ the "
               "taps, from $0$ to $K - 1$.")
    sheet.derive(lhs, [(rhs, "definition: the engine's forward sum with $S == 1$, $D == 1$, "
                             "$P == 0$")])
    sheet.text("Locality, for every stride $S$, padding $P$ and dilation $D$: the matrix of "
               "the linear map from $x$ to $y$ (one row per output, one column per input "
               "position) is derived from the model; its entry is zero unless the input "
               "position lies in the window of the output.")
    sheet.add(_entry_chain(toeplitz_entry()))
    model = conv_model(1)
    K, D = syms("K D")
    u = [s for s in model.window_index(0).free_symbols if s.name == "u"][0]
    first = model.window_index(0).subs(u, 0)
    last = model.window_index(0).subs(u, K - 1)
    span = sympy.Add(last, sympy.Mul(-1, first, evaluate=False), 1, evaluate=False)
    sheet.claim(span, effective_kernel(K, D),
                why="last tap minus first tap plus one: the window of output $i$ spans "
                    "$D*(K - 1) + 1$ padded positions, whatever $i$")
    # numeric: the input entries that one output reads, two ways
    at = (2, 1)
    small = conv_model(2, size=SIZE, kernel=KERNEL, stride=1, padding=0, dilation=1, batch=1,
                       in_channels=1, out_channels=1, bias=False)
    read = sorted(int(ref.indices[2]) * SIZE + int(ref.indices[3])
                  for ref in small.expand((0, 0) + at).atoms(sympy.Indexed)
                  if ref.base.name == "x")
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((1, 1, SIZE, SIZE))
    w = rng.standard_normal((1, 1, KERNEL, KERNEL)) + 3.0   # no zero taps
    base = conv2d(x, w)[0, 0][at]
    support = []
    for a in range(SIZE):
        for b in range(SIZE):
            bumped = x.copy()
            bumped[0, 0, a, b] += 1.0
            if abs(conv2d(bumped, w)[0, 0][at] - base) > 1e-12:
                support.append(a * SIZE + b)
    sheet.numeric(read, support,
                  method=f"NumPy: add 1 to each pixel of a {SIZE}×{SIZE} standard-normal image "
                         f"(seed {SEED}) in turn and record which changes move output "
                         f"({at[0]}, {at[1]}) of a {KERNEL}×{KERNEL} kernel with no zero tap "
                         f"(standard-normal values plus 3)",
                  why=f"the input pixels (row $a$, column $b$, listed as ${SIZE}*a + b$) that "
                      f"output ({at[0]}, {at[1]}) reads")
    sheet.answer("local receptive field", sympy.Eq(lhs, rhs, evaluate=False))


# ------------------------------------------------------------------------------ 1.2
def solve_1_2(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.toeplitz import conv_matrix, parameter_count, toeplitz_entry
    from derive.symbols import syms

    S, D, P = syms("S D P")
    i = sympy.Symbol("i", integer=True, nonnegative=True)
    j = [s for s in toeplitz_entry().result.free_symbols if s.name == "j"][0]
    entry = toeplitz_entry().result.xreplace({S: 1, D: 1, P: 0})
    sheet.text("Relation: the same weights $w[u]$ are used at every output position, so the "
               "matrix $W$ of the layer, $W[i, j] == Derivative(y[i], x[j])$, has entries "
               "that depend only on $j - i$ (stride 1): a Toeplitz matrix with $K$ free "
               "parameters instead of $n_out*n_in$. Symbols: $i$ output index, $j$ input "
               "index (integers, $i >= 0$, $j >= 0$).")
    W = sympy.IndexedBase("W")
    sheet.derive(W[i, j], [(entry, "the derived Toeplitz entry at $S == 1$, $D == 1$, "
                                   "$P == 0$")])
    with sympy.evaluate(False):
        shifted = entry.xreplace({i: i + 1, j: j + 1})
    sheet.claim(shifted, entry, assume=["i >= 0", "j >= 0"],
                why="shifting both the output and the input position by one leaves the entry "
                    "unchanged: the same weight sits on each diagonal")
    rows = []
    for n, k in ((6, 3), (8, 3), (16, 5)):
        count = parameter_count(n, k)
        rows.append((n, k, count.shape, count.conv, count.dense))
    sheet.table(["n", "K", "matrix shape", "free parameters (shared)", "dense layer"], rows,
                caption="Distinct symbols in the engine's symbolic convolution matrix, against "
                        "a dense matrix of the same shape.")
    # independent: build the matrix by loops, count distinct nonzero values
    rng = np.random.default_rng(SEED)
    n, k = 8, 3
    kernel = rng.permutation(np.arange(1, 20))[:k]        # distinct nonzero taps
    sheet.table(["kernel $w$", "signal length", "matrix shape"],
                [(tuple(int(v) for v in kernel), n, (n - k + 1, n))],
                caption="A concrete case, compared entry by entry below (the entries listed "
                        "row after row).")
    brute = np.zeros((n - k + 1, n), dtype=int)
    for r in range(n - k + 1):
        for t in range(k):
            brute[r, r + t] = kernel[t]
    sheet.numeric(_ints(conv_matrix(n, [int(v) for v in kernel])).ravel(),
                  brute.ravel(), method="the matrix built by a double loop, one kernel copy "
                                        "per row",
                  why="the layer's matrix for this kernel")
    sheet.numeric(parameter_count(n, k).conv, len(set(brute[brute != 0].tolist())),
                  method="distinct nonzero values of the loop-built matrix",
                  why="free parameters of the layer")
    sheet.answer("weight sharing", sympy.Eq(W[i, j], entry, evaluate=False))


# ------------------------------------------------------------------------------ 1.3
def _circular_correlate(x, w):
    """Brute force: circular cross-correlation of a 1D signal, y[i] = sum_u w[u] x[(i+u) % n]."""
    n = len(x)
    return [sum(w[u] * x[(i + u) % n] for u in range(len(w))) for i in range(n)]


def solve_1_3(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv import equivariance as eq

    result = eq.conv_circular()
    sums = result.proof[1]
    sheet.text("Relation: with circular padding and stride 1, convolving a shifted input "
               "gives the shifted output: $f$ and the shift $T_s$ commute, where the shift "
               "moves entry $x[Mod(i - s, n)]$ to position $i$. Symbols: $n$ signal length, "
               "$s$ any integer shift, $p$ the circular padding, $i$ an output index, $u$ a "
               "tap from $0$ to $K - 1$.")
    sheet.text("Output $i$ of the convolved shifted signal reads $x$ at "
               "$Mod(Mod(i + u - p, n) - s, n)$; output $i$ of the shifted convolution is "
               "output $Mod(i - s, n)$ of the convolution, which reads $x$ at "
               "$Mod(Mod(i - s, n) + u - p, n)$. Both indices reduce to "
               "$Mod(i + u - p - s, n)$, so the two sums agree term by term; a 2D shift acts "
               "on each axis separately.")
    taps = sums.lhs.limits[0]
    u = taps[0]
    n, p, s, i = (next(v for v in sums.rhs.free_symbols if v.name == name)
                  for name in ("n", "p", "s", "i"))
    wb, xb = sympy.IndexedBase("w"), sympy.IndexedBase("x")
    def mod(a, *terms):               # kept unevaluated so the two index maps stay visible
        return sympy.Mod(sympy.Add(a, *terms, evaluate=False), n, evaluate=False)

    def tap_sum(index):
        return sympy.Sum(sympy.Mul(wb[u], xb[index], evaluate=False), taps)

    shifted_first = tap_sum(mod(mod(i, u, -p), -s))
    shifted_after = tap_sum(mod(mod(i, -s), u, -p))
    sheet.claim(shifted_first, shifted_after,
                assume=["s integer", "p >= 0", "i >= 0", "u >= 0"],
                why="output $i$ of shift-then-convolve (left) and of convolve-then-shift "
                    "(right), as sums over the taps")
    rng = np.random.default_rng(SEED)
    x = [int(v) for v in rng.integers(-5, 6, size=9)]
    w = [int(v) for v in rng.integers(-3, 4, size=3)]
    n = len(x)
    sheet.table(["", "values"], [("signal $x$", tuple(x)), ("kernel $w$", tuple(w))],
                caption="The integer signal and kernel of the cross-check below.")
    left = [_circular_correlate(list(np.roll(x, s)), w) for s in range(n)]
    right = [list(np.roll(_circular_correlate(x, w), s)) for s in range(n)]
    sheet.numeric(np.array(left, dtype=np.int64).ravel(), np.array(right, dtype=np.int64).ravel(),
                  method=f"every circular shift of the length-{n} signal: correlate then "
                         f"shift against shift then correlate (Python loops and NumPy's roll)",
                  why=f"all {n} shifts, {n} outputs each, listed shift after shift")
    table = [(r.operation, r.label.split(" (")[0].split(":")[0]) for r in
             (result, eq.conv_same_padding(), eq.conv_strided())]
    sheet.table(["operation", "behaviour under shifts"], table,
                caption="The engine's verdicts (proof or counterexample) for related "
                        "operations: only the circular stride-1 case is exactly equivariant.")
    sheet.answer("translation equivariance",
                 sympy.Eq(sympy.Function("f")(sympy.Function("T_s")(sympy.Symbol("x"))),
                          sympy.Function("T_s")(sympy.Function("f")(sympy.Symbol("x"))),
                          evaluate=False))


# ------------------------------------------------------------------------------ 1.4
def solve_1_4(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.check.reindex import ChainBuilder
    from derive.numeric import conv1d
    from derive.symbols import sym

    K, H = sym("K"), sym("H")
    x, w = sympy.IndexedBase("x"), sympy.IndexedBase("w")
    i = sympy.Symbol("i", integer=True, nonnegative=True)
    k = sympy.Symbol("k", integer=True, nonnegative=True)
    u = sympy.Symbol("u", integer=True, nonnegative=True)
    sheet.text("Relation: the mathematical convolution, the sum of $w[k]*x[i - k]$ over the "
               "taps $k$, flips the kernel; deep-learning layers compute the cross-correlation, "
               "the sum of $w[u]*x[i + u]$, without the flip. Substituting $k == K - 1 - u$ "
               "turns the convolution into a cross-correlation with the flipped kernel "
               "$w_flip[u] == w[K - 1 - u]$, read $K - 1$ places earlier. Symbols: $K$ "
               "kernel length, $i$ an output index with $K - 1 <= i <= H - 1$.")
    b = ChainBuilder(sympy.Symbol("(x * w)[i]"), sympy.Sum(w[k] * x[i - k], (k, 0, K - 1)),
                     "definition of the (flipping) convolution", {i: (K - 1, H - 1)})
    b.reindex(k, K - 1 - u, u, note="the kernel read backwards: cross-correlation with "
                                    "$w[K - 1 - u]$ at position $i - (K - 1)$")
    chain = b.build()
    sheet.add(chain.to_book(label="flip"))
    rng = np.random.default_rng(SEED)
    xs = rng.integers(-5, 6, size=10)
    ws = np.array([1, 2, -1])
    sheet.table(["", "values"], [("signal $x$", tuple(int(v) for v in xs)),
                                 ("kernel $w$", tuple(int(v) for v in ws))],
                caption="The integer signal and kernel of the cross-check below.")
    true_conv = np.convolve(xs, ws, mode="valid")
    engine = conv1d(xs.reshape(1, 1, -1).astype(float), ws[::-1].reshape(1, 1, -1).astype(float))
    sheet.numeric(_ints(engine[0, 0]), true_conv,
                  method="NumPy's convolve (which flips the kernel)",
                  why="the engine's cross-correlation with the reversed kernel")
    plain = conv1d(xs.reshape(1, 1, -1).astype(float), ws.reshape(1, 1, -1).astype(float))
    differ = int(np.count_nonzero(np.rint(plain[0, 0]) - true_conv))
    sheet.table(["kernel", "positions where conv and cross-correlation differ"],
                [(tuple(int(v) for v in ws), differ)],
                caption="Without the flip the two operations differ for an asymmetric kernel.")
    sheet.answer("convolution vs cross-correlation",
                 sympy.Eq(chain.lhs, chain.result, evaluate=False))


# ------------------------------------------------------------------------------ 1.5
def solve_1_5(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import conv_cost
    from derive.conv.model import conv_model
    from derive.symbols import syms

    model = conv_model(2)
    eq = model.equation
    sheet.text("Relation: output channel $o$ adds a bias $b[o]$ to a sum over every input "
               "channel $c$ and every tap $u$, $v$ of its own kernel, the weights "
               "$w[o, c, u, v]$. Symbols: $n$ batch index, $o < C_out$, $c < C_in$, stride "
               "$S$, dilation $D$, $x_pad$ the input with $P$ zeros on each side.")
    sheet.derive(eq.lhs, [(eq.rhs, "definition: the engine's indexed-sum model (groups 1)")])
    pad = model.padding_rule()
    sheet.derive(pad.lhs, [(pad.rhs, "definition of the zero padding")])
    c_in, c_out, K, h_out, w_out = syms("C_in C_out K H_out W_out")
    weights = sympy.Mul(*model.weight_shape, evaluate=False)
    sheet.derive("parameters", [
        (sympy.Add(weights, c_out, evaluate=False),
         "the entries of the weight tensor ($C_out$ by $C_in$ by $K$ by $K$) plus one bias "
         "per output channel"),
        (conv_cost(c_in, c_out, K, (h_out, w_out), convention="mac").params,
         "the engine's parameter count of a convolution")])
    # numeric: the expanded model against an einsum over sliding windows
    small = conv_model(2, size=4, kernel=2, stride=1, padding=0, dilation=1, batch=1,
                       in_channels=2, out_channels=3, bias=True)
    rng = np.random.default_rng(SEED)
    x = rng.integers(-3, 4, size=small.input_shape)
    w = rng.integers(-3, 4, size=small.weight_shape)
    b = rng.integers(-3, 4, size=3)
    got = small.evaluate(x.tolist(), w.tolist(), b.tolist())
    win = np.lib.stride_tricks.sliding_window_view(x, (2, 2), axis=(2, 3))
    ref = np.einsum("ncijuv,ocuv->noij", win, w) + b[None, :, None, None]
    sheet.numeric(_ints(got.astype(float)).ravel(), ref.ravel(),
                  method="NumPy's einsum over the sliding windows",
                  why="the model expanded on a 2-channel 4×4 input, 3 output channels, 2×2 "
                      "kernels, with bias; input, weights and biases are random integers from "
                      f"$-3$ to $3$ drawn in that order by NumPy's default generator with seed "
                      f"{SEED}")
    sheet.answer("multi-channel convolution", eq)


PROBLEM = Problem(
    id="formulas-1", set="formulas", order=1, title="Convolution as a local linear map",
    source="Chapter notes, section 1",
    statement=("The core relations behind a convolutional layer: what one output reads, how "
               "weights are shared, how outputs move when the input moves, the indexing "
               "convention and how channels combine."),
    parts=(
        Part("1.1", "Local receptive field: how much of the input does one output value "
                    "look at?",
             solve_1_1),
        Part("1.2", "Weight sharing: one kernel serves every position. What does that do to "
                    "the layer's matrix and its parameter count?",
             solve_1_2),
        Part("1.3", "Translation equivariance: moving the input moves the feature map by "
                    "the same amount. State this precisely and say when it holds.",
             solve_1_3),
        Part("1.4", "Cross-correlation convention: frameworks slide the kernel without "
                    "reversing it. How does that relate to the textbook convolution?",
             solve_1_4),
        Part("1.5", "Channels: every output channel combines all input channels. Write the "
                    "full relation.",
             solve_1_5),
    ),
)
