"""Exercise 8.23: the backward pass of a convolution layer, derived.

The gradients are the engine's derivations (:mod:`derive.conv.backward`): the forward
indexed sum is differentiated, the Kronecker deltas are summed out and the sums re-indexed,
each step a checked rule, for symbolic sizes, stride, padding and dilation.  The page shows
each checked chain with its verdicts and a justification in words; long chains are shown in
pieces (each piece starts from the last line of the previous one).  The kernel flip is shown
at stride and dilation 1, where it is re-derived here with the same re-indexing rule.  The
numeric part evaluates the derived 2D formulas exactly on the exercise's 5×5 input and 3×3
kernel and compares them with explicit loops, with the NumPy backward pass
(:func:`derive.numeric.conv2d_backward`), with central finite differences and, where PyTorch
is installed, with its autograd (the page is the same either way).
"""

import re

from derive.book import Part, Problem, Sheet

SIZE, K = 5, 3


def _reason(rewrite) -> str:
    """A rule application of the engine's chain, in words with the maths typeset."""
    rule, conditions = rewrite.rule, rewrite.conditions
    if rule == "termwise differentiation":
        base = re.search(r"free of (\w+)", " ".join(conditions)).group(1)
        return (f"differentiate term by term: an entry of ${base}$ differentiated with respect "
                f"to an entry of ${base}$ gives 1 for the same entry and 0 otherwise (a "
                f"Kronecker delta)")
    if rule == "linearity of finite sums":
        return "gather the factors into one sum (none depends on its indices)"
    eliminated = re.fullmatch(r"KroneckerDelta eliminated over (\S+)", rule)
    if eliminated:
        var = eliminated.group(1)
        value = lo = hi = None
        whole = any("must be an integer" in c for c in conditions)
        for c in conditions:
            found = re.fullmatch(r"\S+ = (.+) must lie in (.+)\.\.(.+)", c)
            if found:
                value, lo, hi = found.groups()
        kept = (f"where it is a whole number from ${lo}$ to ${hi}$" if whole else
                f"where ${value}$ lies from ${lo}$ to ${hi}$")
        return (f"sum out the Kronecker delta over ${var}$: only the term ${var} = {value}$ "
                f"is left, {kept}")
    if rule == "conditions implied by the index ranges dropped":
        held = [c.split(" holds:")[0] for c in conditions]
        return ("drop the condition " + " and ".join(f"${c}$" for c in held)
                + ": it holds on the whole index range")
    flipped = re.fullmatch(r"re-indexing (\S+) = (.+)", rule)
    if flipped:
        return (f"re-index the taps backwards, ${flipped.group(1)} = {flipped.group(2)}$ "
                f"(it maps 0 to $K - 1$ onto itself)")
    if rule.startswith("bounds of"):
        return ("turn the condition into summation bounds, intersected with 0 to $K - 1$ (an "
                "empty range gives 0)")
    raise ValueError(f"no wording for the rule {rule!r}")


def _show(sheet: Sheet, chain, lhs, start_why: str, *, first: int = 0, last: int | None = None,
          notes: dict | None = None) -> None:
    """Lines ``first`` to ``last`` of a checked chain, with the verdicts it was built with
    (line ``k`` is backed by the chain's rule ``k - 1``); ``notes`` add words to a line."""
    from derive.book.model import Derivation, DerivationStep

    steps, verdicts = chain.steps, chain.verdicts
    last = len(steps) - 1 if last is None else last
    notes = notes or {}
    rows = [DerivationStep(steps[first][0], start_why, None)]
    for k in range(first + 1, last + 1):
        why = _reason(chain.rewrites[k - 1])
        if k in notes:
            why += f"; {notes[k]}"
        rows.append(DerivationStep(steps[k][0], why, verdicts[k - 1]))
    sheet.add(Derivation(lhs, tuple(rows), chain.range_assumptions()))


def _step(sheet: Sheet, chain, k: int, note: str = "") -> None:
    """Line ``k`` of a checked chain as a statement about the line before it, backed by the
    verdict of the rule that made it: a wide line gets a display of its own this way."""
    from derive.book.model import Check

    why = _reason(chain.rewrites[k - 1]) + (f"; {note}" if note else "")
    sheet.add(Check(chain.steps[k - 1][0], chain.steps[k][0], chain.verdicts[k - 1], why))


def _gradient_of(chain):
    """dL/d(entry), with the entry the chain differentiates by."""
    import sympy
    (d,) = chain.start.atoms(sympy.Derivative)
    return sympy.Derivative(sympy.Symbol("L"), d.variables[0])


def _named(expr, *names):
    by_name = {s.name: s for s in expr.free_symbols}
    return [by_name[n] for n in names]


def solve_a(sheet: Sheet) -> None:
    import sympy

    from derive.conv.backward import forward, weight_gradient
    from derive.conv.model import I_

    fw = forward(1)
    sheet.text("Along one axis, with stride $S$, dilation $D$, padding $P$ and $O$ outputs, "
               "the forward pass is:")
    sheet.derive(sympy.IndexedBase("y")[I_], [(fw.rhs, "the model of the layer, one channel")])
    sheet.text("Let $g[i]$ be the upstream gradient, the derivative of the loss $L$ with "
               "respect to $y[i]$. The loss depends on $w[u']$ only through the outputs:")
    c1 = weight_gradient(1)
    _show(sheet, c1, _gradient_of(c1),
          "chain rule: $L$ depends on $w$ only through the outputs, each linear in $w$",
          notes={len(c1.steps) - 1: "the cross-correlation of the padded input with $g$"})
    sheet.text("The result pairs $g[i]$ with the input entry that $w[u']$ multiplied: it is "
               "the cross-correlation of the padded input with $g$ ($g$ used as the kernel, "
               "read with step $S$; the offset $u'$ read with step $D$). With a batch of $N$, "
               "$C_in$ input and $C_out$ output channels, a bias $b$ and two spatial axes "
               "($O_h$×$O_w$ outputs) the same rules give, one Kronecker delta per index:")
    c2 = weight_gradient(2, channels=True)
    _show(sheet, c2, _gradient_of(c2),
          "chain rule: $L$ depends on $w$ only through the outputs, each linear in $w$",
          notes={len(c2.steps) - 1: "the same cross-correlation, summed over the batch"})
    sheet.text("The answer along one axis with one channel (the last line above is the same "
               "with a batch, channels and two axes):")
    sheet.answer(_gradient_of(c1), c1.result)


def _unit_stride_flip():
    """The kernel flip at stride and dilation 1: the full convolution with its taps
    re-indexed backwards, by the engine's re-indexing rule."""
    from derive.check.reindex import ChainBuilder
    from derive.conv.backward import UF, _LIGHT, _ranges, axis_forward
    from derive.conv.backward import input_gradient_unit_stride
    from derive.conv.model import U_

    fw = axis_forward()
    unit = input_gradient_unit_stride()
    b = ChainBuilder(unit.lhs, unit.start, "", _ranges(fw, "x"), limits=_LIGHT)
    b.reindex(U_, fw.K - 1 - UF, UF)
    return b.build()


def solve_b(sheet: Sheet) -> None:
    from derive.conv.backward import (
        input_gradient, input_gradient_unit_stride, transpose_chain,
    )

    c1 = input_gradient(1)
    lhs = _gradient_of(c1)
    sheet.text("For the input, $L$ depends on $x[m]$ through every output whose window covers "
               "position $m$. The padding is written as an embedding: $x_pad[t]$ is the sum "
               "over the input positions $q$ of $KroneckerDelta(t, q + P)*x[q]$, that is "
               "$x[t - P]$ inside the input and 0 outside.")
    # the flip of the general chain (its last line) is left to the stride-1 case below
    before_i = len(c1.steps) - 3
    _show(sheet, c1, lhs, "chain rule: $L$ depends on $x$ only through the outputs; the "
                          "padding as an embedding", last=before_i)
    sheet.text("Summing out the last delta, over the output index $i$, leaves one term per "
               "tap:")
    _step(sheet, c1, before_i + 1)
    sheet.text("A tap $u$ contributes only when $m + P - D*u$ is a multiple of $S$ from 0 to "
               "$S*(O - 1)$. Write $g_s$ for the upstream gradient with $S - 1$ zeros between "
               "neighbouring entries ($g_s[S*i] = g[i]$, zero elsewhere): the line is the sum "
               "over the taps $u$ of $w[u]*g_s[m + P - D*u]$, the full convolution of $g_s$ "
               "with the kernel. It visits every tap that reached $x[m]$.")
    sheet.text("At stride and dilation 1, $g_s$ is $g$ itself: the left side below is that "
               "line at $S = 1$ and $D = 1$ (an identity for all $S$ and $D$ holds there too). "
               "The condition becomes summation bounds:")
    unit = input_gradient_unit_stride()
    _step(sheet, unit, 1, "the taps clipped to the overlap of $g$ and the kernel")
    sheet.text("Re-indexing the taps of the same sum backwards shows the kernel flip:")
    flip = _unit_stride_flip()
    _step(sheet, flip, 1, "a cross-correlation of $g$, padded with $K - 1 - P$ zeros, with the "
                          "flipped kernel $w[K - 1 - u']$")
    from derive.book import figures
    sheet.figure(figures.kernel_flip(SIZE, K))
    sheet.text("For any stride and dilation the same re-indexing of the full convolution gives "
               "the cross-correlation of $g_s$, padded with $D*(K - 1) - P$ zeros, with the "
               "flipped kernel.")
    t = transpose_chain()
    sheet.text("The input gradient is also the transposed convolution matrix applied to $g$. "
               "With the entry $W[i, m]$ of the convolution's matrix (the taps $w[u]$ with "
               "$S*i + D*u = m + P$), entry $m$ of $W**T*g$ is:")
    _show(sheet, t, "", "entry $m$ of $W**T*g$: the sum over $i$ of $W[i, m]*g[i]$",
          last=1)
    _step(sheet, t, 2)
    sheet.text("The right side is the full convolution derived above (before the $g_s$ "
               "paragraph): back-propagation through a convolution is the transposed "
               "convolution. With a batch and "
               "channels the same rules derive the 2D input gradient, the input and output "
               "channels of the kernel exchanged; part (c) evaluates it.")
    sheet.answer(lhs, flip.result)


def _exercise_arrays():
    import numpy as np
    rng = np.random.default_rng(823)
    x = rng.integers(-5, 6, size=(1, 1, SIZE, SIZE))
    w = rng.integers(-3, 4, size=(1, 1, K, K))
    return x, w


def solve_c(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.backward import evaluate_expr, input_gradient, weight_gradient
    from derive.conv.shapes import output_size
    from derive.numeric import conv2d, conv2d_backward, numerical_gradient

    x, w = _exercise_arrays()
    out = output_size(SIZE, K)
    g = np.ones((1, 1, out, out), dtype=int)             # loss = sum of the outputs
    sheet.text(f"The exercise's case: a {SIZE}×{SIZE} input $x$, a {K}×{K} kernel $w$, no "
               f"padding, stride 1, and the loss $L$ = the sum of the {out}×{out} outputs, so "
               f"$g$ is all ones. The entries are whole numbers drawn uniformly by NumPy's "
               f"generator with seed 823 ($x$ from $-5$ to 5, then $w$ from $-3$ to 3), so "
               f"the derived values are exact:")
    sizes = {"H": SIZE, "W": SIZE, "K": K, "S": 1, "P": 0, "D": 1, "N": 1, "C_in": 1,
             "C_out": 1, "O_h": out, "O_w": out}
    gx_expr = input_gradient(2, channels=True).result
    gw_expr = weight_gradient(2, channels=True).result
    obj = np.vectorize(int, otypes=[object])
    gx = evaluate_expr(gx_expr, sizes, {"w": obj(w), "g": obj(g)},
                       _named(gx_expr, "n'", "c'", "m", "l"), (1, 1, SIZE, SIZE))
    gw = evaluate_expr(gw_expr, sizes, {"g": obj(g), "x_pad": obj(x)},
                       _named(gw_expr, "o'", "c'", "u'", "v'"), (1, 1, K, K))
    # independent: loops over outputs and taps, adding each product's partial derivative
    loop_x = np.zeros((SIZE, SIZE), dtype=int)
    loop_w = np.zeros((K, K), dtype=int)
    for i in range(out):
        for j in range(out):
            for u in range(K):
                for v in range(K):
                    loop_x[i + u, j + v] += int(w[0, 0, u, v]) * int(g[0, 0, i, j])
                    loop_w[u, v] += int(x[0, 0, i + u, j + v]) * int(g[0, 0, i, j])
    derived_x = np.array(gx[0, 0].tolist(), dtype=np.int64)
    derived_w = np.array(gw[0, 0].tolist(), dtype=np.int64)
    sheet.matrix("x", x[0, 0])
    sheet.matrix("w", w[0, 0])
    sheet.text("The derived 2D formulas (batch and channels of size 1), evaluated exactly:")
    sheet.matrix("dL/dx", derived_x)
    sheet.matrix("dL/dw", derived_w)
    loops = "explicit loops over the outputs and taps, adding each product's derivative"
    sheet.numeric(derived_x, loop_x, why="gradient for $x$, derived formula", method=loops)
    sheet.numeric(derived_w, loop_w, why="gradient for $w$, derived formula", method=loops)
    xf, wf = x.astype(float), w.astype(float)
    nx, nw, _ = conv2d_backward(xf, wf, g.astype(float))
    backward = "the engine's NumPy backward pass (a correlation with the flipped kernel)"
    sheet.numeric(gx.astype(float), nx, why="gradient for $x$, derived formula", method=backward)
    sheet.numeric(gw.astype(float), nw, why="gradient for $w$, derived formula", method=backward)
    fd_x = numerical_gradient(lambda a: conv2d(a, wf).sum(), xf)
    fd_w = numerical_gradient(lambda a: conv2d(xf, a).sum(), wf)
    sheet.numeric(gx.astype(float), fd_x, tol=1e-6, why="gradient for $x$, derived formula",
                  method="central finite differences of $L$")
    sheet.numeric(gw.astype(float), fd_w, tol=1e-6, why="gradient for $w$, derived formula",
                  method="central finite differences of $L$")

    def autograd(torch):
        xt = torch.tensor(xf, requires_grad=True)
        wt = torch.tensor(wf, requires_grad=True)
        torch.nn.functional.conv2d(xt, wt).sum().backward()
        return xt.grad.numpy(), wt.grad.numpy()

    sheet.numeric_if_installed("torch", gx.astype(float), lambda torch: autograd(torch)[0],
                               why="gradient for $x$, derived formula",
                               method="PyTorch's autograd in float64")
    sheet.numeric_if_installed("torch", gw.astype(float), lambda torch: autograd(torch)[1],
                               why="gradient for $w$, derived formula",
                               method="PyTorch's autograd in float64")
    # a general case: channels, stride, padding, dilation, random upstream gradient
    rng = np.random.default_rng(23)
    xg = rng.standard_normal((2, 3, 7, 6))
    wg = rng.standard_normal((4, 3, 3, 3))
    y = conv2d(xg, wg, stride=2, padding=1, dilation=2)
    up = rng.standard_normal(y.shape)
    bx, bw, bb = conv2d_backward(xg, wg, up, stride=2, padding=1, dilation=2)

    def loss_x(a):
        return float((conv2d(a, wg, stride=2, padding=1, dilation=2) * up).sum())

    def loss_w(a):
        return float((conv2d(xg, a, stride=2, padding=1, dilation=2) * up).sum())

    sheet.text("A general case as well, for the engine's NumPy backward pass: a batch of 2, 3 "
               "input and 4 output channels, a 7×6 input, a 3×3 kernel, stride 2, padding 1, "
               "dilation 2, and the loss $L$ = the sum of the products $g*y$ with a random "
               "upstream gradient $g$. The input, the kernel and $g$ are drawn in that order "
               "from NumPy's standard normal generator with seed 23.")
    sheet.numeric(bx, numerical_gradient(loss_x, xg), tol=1e-6, why="gradient for $x$",
                  method="central finite differences of $L$")
    sheet.numeric(bw, numerical_gradient(loss_w, wg), tol=1e-6, why="gradient for $w$",
                  method="central finite differences of $L$")

    def general(torch):
        xt = torch.tensor(xg, requires_grad=True)
        wt = torch.tensor(wg, requires_grad=True)
        bt = torch.zeros(4, dtype=torch.float64, requires_grad=True)
        (torch.nn.functional.conv2d(xt, wt, bt, stride=2, padding=1, dilation=2)
         * torch.from_numpy(up)).sum().backward()
        return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()

    for k, (value, what) in enumerate(((bx, "gradient for $x$"), (bw, "gradient for $w$"),
                                       (bb, "gradient for the bias $b$"))):
        sheet.numeric_if_installed("torch", value, lambda torch, k=k: general(torch)[k],
                                   why=what, method="PyTorch's autograd in float64")
    sheet.answer("dL/dx, L the sum of the outputs", sympy.Matrix(derived_x.tolist()))


PROBLEM = Problem(
    id="8.23", set="chapter8", order=23, title="The backward pass of a convolution",
    source="Chapter 8, exercise 8.23",
    statement=("For a convolution layer whose forward pass $Y$ is the cross-correlation of "
               "the input $X$ with the kernel $W$, derive the gradients of a loss $L$ with "
               "respect to the kernel and the input."),
    parts=(
        Part("a", "Derive the gradient of $L$ with respect to $W$ and show that it is a "
                  "cross-correlation of the input with the upstream gradient (the gradient "
                  "with respect to $Y$).", solve_a),
        Part("b", "Derive the gradient of $L$ with respect to $X$ and show that it is a full "
                  "convolution of the upstream gradient with the flipped kernel.", solve_b),
        Part("c", "Check the formulas numerically against automatic differentiation, for a "
                  "5×5 input, a 3×3 kernel and $L$ the sum of the outputs.", solve_c),
    ),
)
