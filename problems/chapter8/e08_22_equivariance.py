"""Exercise 8.22: which operations commute with translations.

Each verdict rests on the engine (:mod:`derive.conv.equivariance`): a counterexample found by
its search, and the operations' parameters.  The arguments are written out here, on one
axis of the input (a 2D shift acts on each axis separately), as derivations whose every step
the checker verifies: the index an output reads through each tap, rewritten until it is the
index the shifted output reads (Mod and floor lemmas); for zero padding, the conditions of
the padding dropped on the interior (the rule that checks them at the extreme taps); for
sums over every position, the re-indexing by the shift, whose inverse is checked and whose
effect on the sum is tested on random instances.  Steps that only substitute a definition
are checked after the substitution.

This module re-evaluates every counterexample with its own loop implementations of the
operations, counts the output shifts that would match (none), and tests the proved cases on
random inputs with the same independent implementations (and with PyTorch where it is
installed; the page reads the same either way).  Each operation's own numbers (kernel,
weight matrix, normalization parameters, every input) are shown, so that every
counterexample can be recomputed by hand.
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


# --------------------------------------------------------------------------- notation
def _symbols():
    """The indices of the one-axis model: output i, tap u, positions j and k, shift s
    (t for a shift by a multiple of the stride), padding p, length n (n = 2 m for stride 2),
    kernel length K."""
    import sympy
    nonneg = dict(integer=True, nonnegative=True)
    names = {q: sympy.Symbol(q, **nonneg) for q in ("i", "j", "k", "u", "p")}
    names.update({q: sympy.Symbol(q, integer=True) for q in ("s", "t")})
    names.update({q: sympy.Symbol(q, integer=True, positive=True) for q in ("n", "m", "K")})
    for q in ("x", "w", "y", "x_s", "y_s"):
        names[q] = sympy.IndexedBase(q)
    return names


def _by_definition(before, after, substitute, what: str):
    """The verdict of a step that substitutes definitions: both sides compared once the
    definitions are substituted (``substitute`` maps an expression to that form)."""
    import dataclasses

    from derive.check.engine import check_exprs
    v = check_exprs(substitute(before), substitute(after))
    return dataclasses.replace(v, method=f"{v.method}, after substituting {what}")


def _chain(sheet: Sheet, lhs, steps, assume=()) -> None:
    """A derivation ``lhs = steps[0] = steps[1] = ...`` whose steps are ``(expr, why,
    verdict)``: the verdict is given (a rule's, or a substitution's) or, when None, the
    checker's on the two consecutive expressions."""
    from derive.book.model import Derivation, DerivationStep
    from derive.book.sheet import _require_different
    from derive.check.engine import check_exprs

    if lhs is not None:
        _require_different(lhs, steps[0][0], "the left side and the first step", name=True)
    out = [DerivationStep(steps[0][0], steps[0][1], None)]
    for n, ((prev, _, _), (expr, why, verdict)) in enumerate(zip(steps, steps[1:]), start=1):
        _require_different(prev, expr, f"steps {n} and {n + 1}")
        if verdict is None:
            verdict = check_exprs(prev, expr, assume=tuple(assume))
        out.append(DerivationStep(expr, why, verdict))
    sheet.add(Derivation(lhs, tuple(out), tuple(assume)))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _shape_text(shape) -> str:
    return " × ".join(str(int(d)) for d in shape)


# --------------------------------------------------------------------------- the layers' numbers
def _show_layer(sheet: Sheet, result) -> None:
    """The operation's own numbers (kernel, weight matrix, normalization parameters), so
    that every counterexample below can be recomputed by hand."""
    p = result.params
    if "kernel" in p:
        k = _exact(p["kernel"])
        pad = "zero" if result.key == "conv_same" else "circular"
        sheet.matrix("w", k, caption=f"The layer's {k.shape[0]} × {k.shape[1]} kernel: stride "
                                     f"{p.get('stride', 1)}, {pad} padding of "
                                     f"{(k.shape[0] - 1) // 2} on every side (seeded random "
                                     f"integers from $-3$ to 3, drawn by the engine).")
    elif "weight" in p:
        w = _exact(p["weight"])
        sheet.matrix("W", w, caption=f"The layer's {w.shape[0]} × {w.shape[1]} weight matrix, "
                                     f"acting on the input flattened row by row (no bias).")
    elif "gamma" in p:
        channels = len(p["gamma"])
        headers = ["channel", "scale $gamma$", "shift $beta$"]
        cols = [p["gamma"], p["beta"]]
        if result.key == "batch_norm_eval":
            headers += ["running mean", "running variance"]
            cols += [p["mean"], p["var"]]
        sheet.table(headers, [(c,) + tuple(float(col[c]) for col in cols)
                              for c in range(channels)],
                    caption=f"The layer's parameters (seeded uniform draws), $epsilon$ = "
                            f"$10**(-5)$; batches of {_shape_text(p['shape'])} (images, "
                            f"channels, rows, columns).")


# --------------------------------------------------------------------------- arguments
def _conv_same_argument(sheet: Sheet, result) -> None:
    import sympy

    from derive.check.reindex import drop_implied
    z = _symbols()
    i, u, s, p, n, K = z["i"], z["u"], z["s"], z["p"], z["n"], z["K"]
    x, w, y = z["x"], z["w"], z["y"]
    sheet.text("On one axis: with $K$ taps and padding $p$, output $i$ is the sum over the taps "
               "$0 <= u <= K - 1$ of $w[u]$ times the input at $i + u - p$, an entry outside "
               "the frame $0 <= j <= n - 1$ reading 0. Shifting by $s >= 0$ with zero fill "
               "gives the input $x_s$ with $x_s[j] == x[j - s]$ for $j >= s$ and 0 in the "
               "vacated band $j < s$. On the interior $p + s <= i <= n - K + p$ (first tap past "
               "the band, last tap inside the frame), the output $y_s$ for the shifted input is:")

    def inside(q, lo, hi):
        return (q >= lo) & (q <= hi)

    moved = sympy.Add(i - s, u, -p, evaluate=False)
    start = sympy.Sum(w[u] * sympy.Piecewise((x[i + u - p - s], inside(i + u - p, s, n - 1)),
                                             (0, True)), (u, 0, K - 1))
    plain = sympy.Sum(w[u] * x[i + u - p - s], (u, 0, K - 1))
    back = sympy.Sum(w[u] * sympy.Piecewise((x[moved], inside(moved, 0, n - 1)), (0, True)),
                     (u, 0, K - 1))
    ranges = {u: (0, K - 1), i: (p + s, n - K + p)}
    forward = drop_implied(start, ranges)
    backward = drop_implied(back, ranges)

    def definition(e):
        q = sympy.Wild("q")
        return e.replace(y[q], sympy.Sum(w[u] * sympy.Piecewise(
            (x[q + u - p], inside(q + u - p, 0, n - 1)), (0, True)), (u, 0, K - 1)))

    _chain(sheet, z["y_s"][i], [
        (start, "the layer on the shifted input: tap $u$ reads $x[i + u - p - s]$ when "
                "$s <= i + u - p <= n - 1$, and 0 otherwise", None),
        (plain, "on the interior both conditions hold for every tap (checked at the extreme "
                "taps $u == 0$ and $u == K - 1$ and the ends of the interior)", forward.verdict),
        (back, "the same terms are the taps of output $i - s$ on $x$ itself, all inside the "
               "frame (the same check)", backward.verdict),
        (y[i - s], "the layer's output for $x$ at $i - s$: the shifted output",
         _by_definition(back, y[i - s], definition, "the layer's definition")),
    ], assume=("s >= 0", "i >= p + s", "i <= n - K + p"))
    (r0, r1), (c0, c1) = result.params["interior"]
    sheet.text(f"So the two agree on the interior. For the {SIDE} × {SIDE} input, the 3 × 3 "
               f"kernel and a shift by one column, the interior is rows {r0} to {r1} and "
               + (f"column {c0}" if c0 == c1 else f"columns {c0} to {c1}")
               + "; elsewhere a window reads padding on one side and image content on the "
                 "other, and the engine's search finds a counterexample there.")


def _index_chain(sheet: Sheet, what: str, stride: int, padding: bool) -> None:
    """Output i of the layer on the shifted input reads, through tap u, the entry x[j]; the
    index j rewritten until it is the index read by the shifted output."""
    import sympy
    z = _symbols()
    i, u, s, t, p, n, m = z["i"], z["u"], z["s"], z["t"], z["p"], z["n"], z["m"]
    pad = p if padding else 0
    Mod = sympy.Mod
    if stride == 1:
        first = Mod(Mod(i + u - pad, n) - s, n, evaluate=False)
        steps = [
            (first, "tap $u$ of output $i$ reads the shifted input at $Mod(i + u - p, n)$, "
                    "and $x_s[j] == x[Mod(j - s, n)]$", None),
            (Mod(i + u - pad - s, n), "reducing twice modulo $n$ is reducing once", None),
            (Mod(Mod(i - s, n) + u - pad, n, evaluate=False),
             "the same residue, grouped as output $Mod(i - s, n)$ plus the tap's offset "
             "$u - p$", None),
        ]
        assume = ("s integer",)
        sheet.text(f"On one axis of length $n$: {what} Output $i$ for the shifted input "
                   f"$x_s$ reads, through tap $u$, the entry $x[j]$ with")
        _chain(sheet, "j", steps, assume=assume)
        sheet.text("That is the entry output $Mod(i - s, n)$ reads through the same tap in $x$ "
                   "itself. Every tap reads the same entry with the same weight, so the two "
                   "sums agree term by term: $y_s[i] == y[Mod(i - s, n)]$, the shifted output.")
        return
    c = sympy.Integer(stride)
    first = Mod(Mod(c * i + u - pad, c * m) - c * t, c * m, evaluate=False)
    steps = [
        (first, f"tap $u$ of output $i$ reads the shifted input at "
                f"$Mod({stride}*i + u{' - p' if padding else ''}, n)$, and "
                f"$x_s[j] == x[Mod(j - {stride}*t, n)]$", None),
        (Mod(c * i + u - pad - c * t, c * m), "reducing twice modulo $n$ is reducing once",
         None),
        (Mod(c * Mod(i - t, m) + u - pad, c * m, evaluate=False),
         f"$i - t$ and $Mod(i - t, m)$ differ by a multiple of $m$, so "
         f"${stride}*(i - t)$ and ${stride}*Mod(i - t, m)$ differ by a multiple of $n$",
         None),
    ]
    assume = ("t integer",)
    sheet.text(f"On one axis of even length $n == {stride}*m$ and for a shift by a multiple of "
               f"the stride, $s == {stride}*t$: {what} Output $i$ for the shifted input $x_s$ "
               f"reads, through tap $u$, the entry $x[j]$ with")
    _chain(sheet, "j", steps, assume=assume)
    sheet.text(f"That is the entry output $Mod(i - t, m)$ reads through the same tap in $x$ "
               f"itself, so $y_s[i] == y[Mod(i - t, m)]$: a shift of the input by "
               f"${stride}*t$ shifts the output by $t$. A shift by 1 is not of that form, and "
               f"the counterexample below shows that no output shift matches it.")


def _reindexed_mean(sheet: Sheet, what: str) -> None:
    """The average over one axis of the shifted input equals that of the input."""
    import sympy
    z = _symbols()
    i, j, k, s, n, x = z["i"], z["j"], z["k"], z["s"], z["n"], z["x"]
    Mod = sympy.Mod
    sheet.text("On one axis of length $n$, the circular shift reads $x_s[j] == "
               "x[Mod(j - s, n)]$. Position $j$ reads position $k == Mod(j - s, n)$, and this "
               "re-indexing is a bijection of the positions $0 <= k <= n - 1$: shifting back "
               "undoes it, for every $0 <= i <= n - 1$,")
    _chain(sheet, None, [
        (Mod(Mod(i - s, n) + s, n, evaluate=False), "shift by $s$, then back", None),
        (Mod(sympy.Add(i - s, s, evaluate=False), n, evaluate=False),
         "a residue plus $s$, reduced, is the sum reduced", None),
        (Mod(i, n), "$s$ cancels", None),
        (i, "$0 <= i <= n - 1$", None),
    ], assume=("s integer", "i <= n - 1"))
    sheet.text("and the other way round,")
    _chain(sheet, None, [
        (Mod(Mod(i + s, n) - s, n, evaluate=False), "shift back, then by $s$", None),
        (Mod(sympy.Add(i + s, -s, evaluate=False), n, evaluate=False), "the same rule", None),
        (Mod(i, n), "$s$ cancels", None),
        (i, "$0 <= i <= n - 1$", None),
    ], assume=("s integer", "i <= n - 1"))
    lhs = sympy.Sum(x[Mod(j - s, n)], (j, 0, n - 1)) / n
    rhs = sympy.Sum(x[k], (k, 0, n - 1)) / n
    sheet.text(f"A finite sum does not change when its terms are taken in another order, so "
               f"{what}:")
    _chain(sheet, None, [
        (lhs, "the average of the shifted input over the axis", None),
        (rhs, "re-indexed by $k == Mod(j - s, n)$, the bijection above", None),
    ], assume=("s integer",))
    sheet.claim(lhs, rhs, why="the same identity with both sums expanded term by term, for "
                              "every length $n <= 8$ and shift $0 <= s <= 7$",
                assume=("s integer", "n <= 8", "s >= 0", "s <= 7"))
    sheet.text("The checker proves the bijection for every $n$; the re-indexed sum it tests "
               "on random instances and expands exactly for $n <= 8$, so this step is marked "
               "as tested, not proved.")


def _pointwise(sheet: Sheet, batch: bool) -> None:
    """y_s[i] = y[(i - s) mod n] for a map applied entry by entry with fixed numbers."""
    import sympy
    z = _symbols()
    i, s, n, x, x_s, y = z["i"], z["s"], z["n"], z["x"], z["x_s"], z["y"]
    Mod = sympy.Mod
    q = sympy.Wild("q")
    if batch:
        g, b, mu, v = sympy.symbols("gamma beta mu v", real=True)
        eps = sympy.Symbol("epsilon", positive=True)
        mu_s, v_s = sympy.Symbol("mu_s", real=True), sympy.Symbol("v_s", nonnegative=True)
        v = sympy.Symbol("v", nonnegative=True)
        norm = lambda e, m_, v_: g * (e - m_) / sympy.sqrt(v_ + eps) + b   # noqa: E731
        first = norm(x_s[i], mu_s, v_s)
        second = norm(x[Mod(i - s, n)], mu, v)
        subs = lambda e: e.replace(x_s[q], x[Mod(q - s, n)]).xreplace(      # noqa: E731
            {mu_s: mu, v_s: v})
        sheet.text("With the statistics unchanged, each entry is normalized with the same "
                   "numbers, the scale $gamma$ and shift $beta$ of its channel:")
        why0 = ("batch norm of entry $i$ of the shifted batch, with the shifted batch's mean "
                "$mu_s$ and variance $v_s$")
        why1 = ("the shift's definition, and $mu_s == mu$, $v_s == v$ (the statistics are "
                "unchanged)")
        what = "the shift's definition and the unchanged statistics"
    else:
        a, b = sympy.symbols("a b", real=True)
        norm = lambda e, *_: a * e + b                                     # noqa: E731
        first, second = norm(x_s[i]), norm(x[Mod(i - s, n)])
        subs = lambda e: e.replace(x_s[q], x[Mod(q - s, n)])                # noqa: E731
        sheet.text("In evaluation mode the layer is, per channel, $y[i] == a*x[i] + b$ with "
                   "fixed numbers $a == gamma/sqrt(v + epsilon)$ and $b == beta - a*mu$ "
                   "(running mean $mu$ and variance $v$). For the shifted input:")
        why0 = "the layer on entry $i$ of the shifted input"
        why1 = "the shift's definition, $x_s[i] == x[Mod(i - s, n)]$"
        what = "the shift's definition"
    definition = lambda e: e.replace(y[q], norm(x[q], mu, v) if batch else norm(x[q]))  # noqa
    _chain(sheet, z["y_s"][i], [
        (first, why0, None),
        (second, why1, _by_definition(first, second, subs, what)),
        (y[Mod(i - s, n)], "the layer's output for $x$ at $Mod(i - s, n)$: the shifted output",
         _by_definition(second, y[Mod(i - s, n)], definition, "the layer's definition")),
    ], assume=("s integer",))


# --------------------------------------------------------------------------- counterexamples
def _describe_input(x) -> str:
    """A short account of an input too large to print as one matrix."""
    import numpy as np
    a = np.asarray(x)
    nonzero = np.argwhere(a)
    if len(nonzero) == 1 and a[tuple(nonzero[0])] == 1:
        where = ", ".join(str(int(v)) for v in nonzero[0])
        return (f"an impulse of shape {_shape_text(a.shape)}: 1 at index ({where}) (image, "
                f"channel, row, column), 0 elsewhere")
    return f"an array of shape {_shape_text(a.shape)}"


def _generic_dense(sheet: Sheet, result) -> None:
    """The checker refuted f(T_s x)[i] = (T_s f(x))[i] for a generic dense layer; both sides
    recomputed at its counterexample with plain Python."""
    import re

    import numpy as np
    st = result.checks[0]
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
    sheet.text("On the indexed model with a generic weight matrix $W$ on $n$ positions, output "
               "$i$ for the shifted input is the sum over $j$ of $W[i, j]*x[Mod(j - s, n)]$, "
               "and the shifted output is the sum over $j$ of $W[Mod(i - s, n), j]*x[j]$. The "
               f"checker's search refutes their equality at $n == {n}$, $s == {s}$, "
               f"$i == {i}$ with")
    sheet.matrix("W", np.array([[w[a, b] for b in range(n)] for a in range(n)]))
    sheet.matrix("x", np.array([x]), caption="The input as a row.")
    sheet.numeric(st.verdict.lhs_value, lhs, why="output $i$ for the shifted input (the "
                                                 "checker's value)",
                  method="recomputed in plain Python from the numbers above")
    sheet.numeric(st.verdict.rhs_value, rhs, why="the shifted output at $i$ (the checker's "
                                                 "value)",
                  method="recomputed in plain Python from the numbers above")
    sheet.text(f"The two sides are {lhs} and {rhs}: a generic dense layer does not commute "
               f"with the shift. Only a circulant matrix, whose entry $W[i, j]$ depends on "
               f"$Mod(j - i, n)$ alone, does.")


def _counterexample(sheet: Sheet, result, cex, intro: str, torch: bool = True) -> None:
    """The counterexample's input, both outputs recomputed with explicit loops (and with
    PyTorch where installed, when ``torch``), and how they differ."""
    import itertools

    import numpy as np

    f = _mine(result)
    sheet.text(intro)
    x = np.asarray(cex.input, dtype=float)
    if np.ndim(x) == 2 and x.size <= 64:
        sheet.matrix("x", np.asarray(cex.input))
    else:
        sheet.text(f"The input: {_describe_input(cex.input)}.")
    mine_shifted = f(np.asarray(cex.shifted_input, dtype=float))
    whole = np.issubdtype(np.asarray(cex.output_of_shifted).dtype, np.integer)
    tol = None if whole else 1e-12        # integer outputs compare exactly
    sheet.numeric(cex.output_of_shifted, mine_shifted, tol=tol,
                  why="the output for the shifted input (the engine's operation)",
                  method="the layer recomputed with explicit loops")
    base = f(x)
    if cex.shift_kind == "zero-fill":
        predicted = _zero_fill(base, cex.shift)
        sheet.numeric(cex.expected, predicted, tol=tol,
                      why="the output for $x$, shifted the same way (the engine's prediction)",
                      method="the layer recomputed with explicit loops, then shifted with zero "
                             "fill")
        mine_bad = int(np.count_nonzero(np.abs(mine_shifted - predicted) > 1e-9))
        engine_bad = int(np.count_nonzero(np.abs(np.asarray(cex.output_of_shifted, float)
                                                 - np.asarray(cex.expected, float)) > 1e-9))
        sheet.numeric(engine_bad, mine_bad,
                      why="positions where the two outputs differ (the engine's count)",
                      method="counted on the explicit-loop outputs")
        if torch:
            _torch(sheet, result)
        if result.key == "conv_same":
            where = "next to the border" if mine_bad == 1 else "all next to the border"
        else:
            where = "including positions far from the vacated column"
        sheet.text(f"They differ at {_plural(mine_bad, 'position')}, {where}.")
        return
    if np.ndim(base) == 2 and base.size <= 64:
        sheet.matrix("y", _exact(base), caption="The output for $x$ itself.")
    shape = np.shape(base)
    tried = int(np.prod(shape[-2:]))
    if cex.output_shifts_tried == 1:       # the natural output shift only: the prediction
        sheet.numeric(cex.expected, _exact(np.roll(base, cex.shift, axis=(-2, -1))),
                      why="the output for $x$, shifted the same way (the engine's prediction)",
                      method="the layer recomputed with explicit loops, then shifted")
        if torch:
            _torch(sheet, result)
        sheet.text("The two outputs differ: the layer is not equivariant.")
        return
    matches = sum(1 for t in itertools.product(*(range(d) for d in shape[-2:]))
                  if np.allclose(mine_shifted, np.roll(base, t, axis=(-2, -1)), atol=1e-9))
    sheet.numeric(matches, 0, why=f"circular shifts of $y$ equal to the output for the shifted "
                                  f"input, of the {tried} there are (the engine's search "
                                  f"tried all {cex.output_shifts_tried}: none)",
                  method="each shift compared with the explicit-loop output")
    if torch:
        _torch(sheet, result)
    sheet.text("No shift of the output matches: the layer is not equivariant to this shift.")


def _companions(result, which: int):
    """The rest of the batch in the engine's batch-dependence demonstration."""
    import numpy as np
    rng = np.random.default_rng(0)
    shape = result.params["shape"]
    channels, hw = shape[1], shape[2:]
    rng.integers(-3, 4, size=(1, channels) + tuple(hw))              # the image itself
    comp = rng.integers(-3, 4, size=(shape[0] - 1, channels) + tuple(hw)).astype(float)
    return comp if which == 0 else comp * 2 + 1


def _batch_dependence(sheet: Sheet, result, cex) -> None:
    import numpy as np
    f = _mine(result)
    image = np.asarray(cex.input)
    companion = _companions(result, 0)
    sheet.text("Batch dependence: the same image normalized in two batches. The first batch "
               "holds the image and one companion $c$, the second the image and $2*c + 1$ "
               "(entries drawn as integers from $-3$ to 3 by NumPy's default generator, seed "
               "0, the image first). The image, channel by channel:")
    for ch in range(image.shape[0]):
        sheet.matrix("x", image[ch], caption=f"Channel {ch} of the image.")
    sheet.text("The companion:")
    for ch in range(companion.shape[1]):
        sheet.matrix("c", _exact(companion[0, ch]), caption=f"Channel {ch} of the companion.")
    first = f(np.concatenate([image[None], _companions(result, 0)]))[0]
    second = f(np.concatenate([image[None], _companions(result, 1)]))[0]
    sheet.numeric(cex.output, first, tol=1e-12,
                  why="the image's output in the first batch (the engine's operation)",
                  method="the first batch normalized with this module's own loops")
    sheet.numeric(cex.output_of_shifted, second, tol=1e-12,
                  why="the image's output in the second batch (the engine's operation)",
                  method="the second batch normalized with this module's own loops")
    c, r, q = cex.position
    sheet.text(f"At channel {c}, row {r}, column {q} the image's output is {first[c, r, q]:.4f} "
               f"in the first batch and {second[c, r, q]:.4f} in the second: the output for "
               f"one image is not a function of that image alone.")


# --------------------------------------------------------------------------- numeric tests
def _random_test(sheet: Sheet, result) -> None:
    """The engine's operation on random shifted inputs against this module's loops on the
    unshifted inputs, shifted afterwards (for global pooling: not shifted)."""
    import numpy as np

    from derive.conv.equivariance import operator
    f, engine = _mine(result), operator(result)
    shape = tuple(result.params["shape"])
    rng = np.random.default_rng(22)
    lhs, rhs = [], []
    shifts = ((0, 1), (2, 3), (1, -1))
    for _ in range(3):
        x = rng.standard_normal(shape)
        for s in shifts:
            lhs.append(np.asarray(engine(np.roll(x, s, axis=(-2, -1))), dtype=float))
            out = np.asarray(f(x), dtype=float)
            rhs.append(out if result.key == "global_avg_pool"
                       else np.roll(out, s, axis=(-2, -1)))
    invariant = result.key == "global_avg_pool"
    sheet.text(f"Numerically: three standard normal inputs of shape {_shape_text(shape)} "
               f"(NumPy's default generator, seed 22), each shifted circularly by 0 rows and 1 "
               f"column, 2 rows and 3 columns, and 1 row and $-1$ column.")
    sheet.numeric(np.stack(lhs), np.stack(rhs), tol=1e-12,
                  why="the outputs for the 9 shifted inputs (the engine's operation)",
                  method=("the outputs for the unshifted inputs, computed with this module's "
                          "own loops" + ("" if invariant else ", then shifted the same way")))
    _torch(sheet, result)


def _torch_op(torch, result):
    """The operation with PyTorch's functional interface, in float64."""
    import numpy as np
    F = torch.nn.functional
    p = result.params

    def t(a):
        return torch.as_tensor(np.asarray(a, dtype=np.float64))

    key = result.key
    if key in ("conv_circular", "conv_same", "conv_strided"):
        w = t(p["kernel"])[None, None]
        ph, pw = (w.shape[2] - 1) // 2, (w.shape[3] - 1) // 2

        def conv(x):
            xt = t(x)[None, None]
            if key == "conv_same":
                return F.conv2d(xt, w, padding=(ph, pw))[0, 0].numpy()
            xt = F.pad(xt, (pw, pw, ph, ph), mode="circular")
            return F.conv2d(xt, w, stride=p.get("stride", 1))[0, 0].numpy()
        return conv
    if key == "max_pool":
        return lambda x: F.max_pool2d(t(x)[None, None], 2)[0, 0].numpy()
    if key in ("batch_norm_train", "batch_norm_eval"):
        train = key == "batch_norm_train"
        return lambda x: F.batch_norm(
            t(x), None if train else t(p["mean"]), None if train else t(p["var"]),
            t(p["gamma"]), t(p["beta"]), training=train, eps=EPS).numpy()
    if key == "global_avg_pool":
        return lambda x: F.adaptive_avg_pool2d(t(x)[None, None], 1)[0, 0, 0, 0].numpy()
    if key == "dense":
        return lambda x: F.linear(t(x).reshape(-1), t(p["weight"])).reshape(
            np.shape(x)).numpy()
    raise KeyError(key)


def _torch(sheet: Sheet, result) -> None:
    """The engine's operation on a few inputs (random ones and the counterexample's shifted
    input) against PyTorch's, where PyTorch is installed."""
    import numpy as np

    from derive.conv.equivariance import operator
    engine = operator(result)
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(tuple(result.params["shape"])) for _ in range(3)]
    cex = result.counterexample
    if cex is not None and cex.shift_kind != "none":
        inputs.append(np.asarray(cex.shifted_input, dtype=float))
    ours = np.stack([np.asarray(engine(x), dtype=float) for x in inputs])
    sheet.numeric_if_installed(
        "torch", ours,
        lambda torch: np.stack([np.asarray(_torch_op(torch, result)(x), dtype=float)
                                for x in inputs]),
        tol=1e-12, why=f"the engine's operation on {len(inputs)} inputs (random"
                       + (" ones and the counterexample's shifted input)" if len(inputs) > 3
                          else " ones)"),
        method="PyTorch's functional operation in float64")


# --------------------------------------------------------------------------- parts
def _shift_words(shift) -> str:
    rows, cols = (int(v) for v in shift)
    words = []
    if rows:
        words.append(f"{_plural(abs(rows), 'row')} {'down' if rows > 0 else 'up'}")
    if cols:
        words.append(f"{_plural(abs(cols), 'column')} to the "
                     f"{'right' if cols > 0 else 'left'}")
    return " and ".join(words).replace("1 row ", "one row ").replace("1 column ", "one column ")


def _at(position) -> str:
    names = ("image", "channel", "row", "column")[-len(position):]
    return ", ".join(f"{name} {int(v)}" for name, v in zip(names, position))


def _found(cex, how: str) -> str:
    a = cex.output_of_shifted[cex.position]
    b = cex.expected[cex.position]
    if cex.output_shifts_tried > 1:       # downsampling: every output shift is compared
        return (f"The engine's search finds the input $x$ below and shifts it by "
                f"{_shift_words(cex.shift)} ({how}); it then compares the output with every "
                f"circular shift of the output for $x$.")
    return (f"The engine's search finds the input $x$ below; shifted by "
            f"{_shift_words(cex.shift)} ({how}), the output at {_at(cex.position)} is "
            f"{_num(a)}, where the shifted output has {_num(b)}.")


def _num(v) -> str:
    f = float(v)
    return str(int(f)) if f.is_integer() else f"{f:.4f}"


def solve_a(sheet: Sheet) -> None:
    from derive.conv import equivariance as eq
    same = eq.conv_same_padding(size=SIDE)
    sheet.text("Convolution with stride 1 and 'same' zero padding, examined for shifts that "
               "move the image inside its frame: content leaving the frame is lost and zeros "
               "enter (a zero-fill shift).")
    _show_layer(sheet, same)
    _conv_same_argument(sheet, same)
    _counterexample(sheet, same, same.counterexample,
                    _found(same.counterexample, "zero fill") + " The window of that output "
                    "reads padding zeros on one side and image content on the other.")
    sheet.answer("stride 1, zero padding", same.label)
    circ = eq.conv_circular(size=SIDE)
    sheet.text("With circular padding instead (the image wraps around) and circular shifts, "
               "with the same kernel $w$:")
    _index_chain(sheet, "with circular padding $p$, output $i$ is the sum over the taps $u$ of "
                        "$w[u]*x[Mod(i + u - p, n)]$.", 1, True)
    _random_test(sheet, circ)
    sheet.answer("stride 1, circular padding", circ.label)
    sheet.explain("With zero padding the layer is equivariant for every output whose window "
                  "stays inside the image, and fails only at the border, where one side of "
                  "the window reads padding: approximately equivariant. With circular "
                  "padding it is exactly equivariant to circular shifts.",
                  rests_on=["the interior derivation and the border counterexample",
                            "the circular index derivation"])


def solve_b(sheet: Sheet) -> None:
    from derive.conv import equivariance as eq
    r = eq.conv_strided(size=SIDE)
    sheet.text("Convolution with stride 2 (circular padding, circular shifts). With a stride "
               "the output is shorter than the input, so the question is whether a shift of "
               "the input shifts the output by some amount.")
    _show_layer(sheet, r)
    from derive.book import figures   # the mechanism, drawn: subsampling after a shift
    sheet.figure(figures.aliasing_shift([(-1) ** n for n in range(8)], note=(
        "A stride-2 convolution is a stride-1 convolution followed by this subsampling.")))
    _index_chain(sheet, "output $i$ is the sum over the taps $u$ of "
                        "$w[u]*x[Mod(2*i + u - p, n)]$.", 2, True)
    cex = r.counterexample
    _counterexample(sheet, r, cex, _found(cex, "circularly") + " The stride samples every "
                    "other position, and a shift by one moves the input between the two "
                    "sampled grids.")
    sheet.answer("stride 2", r.label)


def solve_c(sheet: Sheet) -> None:
    from derive.conv import equivariance as eq
    r = eq.max_pool()
    sheet.text("2×2 max pooling with stride 2 (circular shifts); it has no parameters.")
    _index_chain(sheet, "2×2 max pooling with stride 2 takes, for output $i$, the largest "
                        "entry read by the taps $u == 0$ and $u == 1$, at $Mod(2*i + u, n)$.",
                 2, False)
    cex = r.counterexample
    _counterexample(sheet, r, cex, _found(cex, "circularly") + " A shift by one moves "
                    "entries across the boundaries of the pooling windows.")
    sheet.answer("2×2 max pooling, stride 2", r.label)


def solve_d(sheet: Sheet) -> None:
    from derive.conv import equivariance as eq
    train = eq.batch_norm_train()
    sheet.text("Batch normalization in training mode normalizes each channel with the mean "
               "$mu$ and variance $v$ of that channel over the whole batch (every image, "
               "every position). For a circular shift of the whole batch:")
    _show_layer(sheet, train)
    _reindexed_mean(sheet, "the mean of the shifted batch equals that of the batch (on each "
                           "axis in turn); so does the variance, the average of "
                           "$(x[k] - mu)**2$, re-indexed the same way")
    _pointwise(sheet, batch=True)
    sheet.text("So the whole batch, shifted, gives the shifted output: equivariant for "
               "circular shifts.")
    _random_test(sheet, train)
    dependence, zero_fill = train.extra
    _batch_dependence(sheet, train, dependence)
    _counterexample(sheet, train, zero_fill, _found(zero_fill, "zero fill") + " Content "
                    "leaving the frame changes the batch statistics, so outputs differ even "
                    "outside the vacated column.", torch=False)
    sheet.answer("batch norm, training mode", train.label)
    ev = eq.batch_norm_eval()
    sheet.text("Batch normalization in evaluation mode uses running statistics fixed after "
               "training:")
    _show_layer(sheet, ev)
    _pointwise(sheet, batch=False)
    _random_test(sheet, ev)
    sheet.answer("batch norm, evaluation mode", ev.label)
    sheet.explain("Both modes normalize every position of a channel with the same numbers, "
                  "so a shift of the whole batch just shifts the output. In training mode "
                  "those numbers are batch statistics: a zero-fill shift (content leaving the "
                  "frame) or different companions in the batch change them, so the output "
                  "for one image is not a function of that image alone. In evaluation mode "
                  "the running statistics are fixed and the layer is a pointwise affine map: "
                  "exactly equivariant.",
                  rests_on=["the statistics and pointwise derivations",
                            "the batch-dependence and zero-fill counterexamples"])


def solve_e(sheet: Sheet) -> None:
    from derive.conv import equivariance as eq
    r = eq.global_average_pool()
    sheet.text("Global average pooling (no parameters) returns one number per channel, the "
               "average over every position, so the question is invariance: the same number "
               "for the shifted input.")
    _reindexed_mean(sheet, "the average of the shifted input equals that of the input, on each "
                           "axis in turn, and global average pooling returns the same number")
    _random_test(sheet, r)
    sheet.answer("global average pooling", r.label)


def solve_f(sheet: Sheet) -> None:
    from derive.conv import equivariance as eq
    r = eq.dense_layer()
    sheet.text("A fully connected layer multiplies the flattened input by a weight matrix.")
    _generic_dense(sheet, r)
    sheet.text("A concrete layer, with the weight matrix below, acting on a 1 × 4 input:")
    _show_layer(sheet, r)
    cex = r.counterexample
    _counterexample(sheet, r, cex, _found(cex, "circularly") + " The matrix mixes every "
                    "position with its own weights, and shifting the input re-pairs weights "
                    "and entries.")
    sheet.answer("fully connected layer", r.label)


PROBLEM = Problem(
    id="8.22", set="chapter8", order=22, title="Translation equivariance",
    source="Chapter 8, exercise 8.22",
    statement=("For each operation, decide whether it is translation equivariant, "
               "approximately equivariant or not equivariant, and prove it or give a "
               "counterexample. Shifts are circular unless said otherwise: on each axis, of "
               "length $n$, the input shifted by $s$ is $x_s$ with $x_s[j] == x[Mod(j - s, n)]$. "
               "With $y$ and $y_s$ the outputs for $x$ and $x_s$, equivariance means "
               "$y_s[i] == y[Mod(i - s, n)]$ for every $i$."),
    parts=(
        Part("a", "Convolution with stride 1 and 'same' padding.", solve_a),
        Part("b", "Convolution with stride 2.", solve_b),
        Part("c", "2×2 max pooling with stride 2.", solve_c),
        Part("d", "Batch normalization, in training and in evaluation mode.", solve_d),
        Part("e", "Global average pooling.", solve_e),
        Part("f", "A fully connected layer.", solve_f),
    ),
)
