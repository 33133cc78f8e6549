"""Exercise 8.23: the backward pass of a convolution layer, derived.

The gradients are the engine's derivations (:mod:`derive.conv.backward`): the forward
indexed sum is differentiated, the Kronecker deltas are summed out and the sums re-indexed,
each step a checked rule, for symbolic sizes, stride, padding and dilation.  The numeric
part evaluates the derived 2D formulas exactly on the exercise's 5x5 input and 3x3 kernel
and compares them with explicit loops, with the NumPy backward pass
(:func:`derive.numeric.conv2d_backward`), with central finite differences and, when
installed, with PyTorch's autograd.
"""

from derive.book import Part, Problem, Sheet

SIZE, K = 5, 3


def _chain(sheet: Sheet, chain, label: str = "") -> None:
    """Show a derived chain with the verdicts it was built with (one check per step)."""
    for eq, words in chain.definitions:
        sheet.text(f"Notation: {eq.lhs} = {eq.rhs} ({words}).")
    sheet.add(chain.to_book(label))


def _named(expr, *names):
    by_name = {s.name: s for s in expr.free_symbols}
    return [by_name[n] for n in names]


def solve_a(sheet: Sheet) -> None:
    from derive.conv.backward import weight_gradient

    sheet.text("Write the forward pass along one axis as y[i] = sum_u w[u] x_pad[S i + D u] "
               "(stride S, dilation D, padding P; O outputs) and let g[i] = dL/dy[i] be the "
               "upstream gradient. L depends on w[u'] only through the outputs, so:")
    c1 = weight_gradient(1)
    _chain(sheet, c1, "1D")
    sheet.text("The result pairs g[i] with the input entry that w[u'] multiplied: it is the "
               "cross-correlation of the padded input with g (g used as the kernel, read "
               "with step S). With batch N, channels and two spatial axes the same rules "
               "give:")
    c2 = weight_gradient(2, channels=True)
    _chain(sheet, c2, "2D, batch and channels")
    sheet.answer("dL/dw[o', c', u', v']", c2.result)


def solve_b(sheet: Sheet) -> None:
    from derive.conv.backward import (
        input_gradient, input_gradient_unit_stride, transpose_chain,
    )

    sheet.text("For the input, L depends on x[m] through every output whose window covers "
               "position m. The padding is written as an embedding of x into x_pad:")
    c1 = input_gradient(1)
    _chain(sheet, c1, "1D")
    sheet.text("The second to last line is the full convolution of the stride-dilated "
               "gradient with w: it visits every tap that reached x[m]. Re-indexing the taps "
               "backwards (u = K - 1 - u') turns it into a cross-correlation with the "
               "flipped kernel w[K - 1 - u'], with g padded by D(K - 1) - P: the kernel flip. "
               "At stride and dilation 1 the bounds can be written out:")
    unit = input_gradient_unit_stride()
    _chain(sheet, unit, "S = D = 1")
    sheet.text("The same expression is the transposed convolution matrix applied to g, so "
               "back-propagation through a convolution is a transposed convolution:")
    _chain(sheet, transpose_chain(), "W^T g")
    sheet.text("The same rules derive the 2D version with batch and channels (the input and "
               "output channels of the flipped kernel exchanged; every step proved by the "
               "engine, input_gradient(2, channels=True)); part (c) evaluates it exactly.")
    sheet.answer("dL/dx[m] at S = D = 1", unit.result)


def _exercise_arrays():
    import numpy as np
    rng = np.random.default_rng(823)
    x = rng.integers(-5, 6, size=(1, 1, SIZE, SIZE))
    w = rng.integers(-3, 4, size=(1, 1, K, K))
    return x, w


def solve_c(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.backward import evaluate_expr, input_gradient, weight_gradient
    from derive.conv.shapes import output_size
    from derive.numeric import conv2d, conv2d_backward, numerical_gradient

    x, w = _exercise_arrays()
    out = output_size(SIZE, K)
    g = np.ones((1, 1, out, out), dtype=int)             # loss = sum of the outputs
    sheet.text(f"The exercise's case: a {SIZE}x{SIZE} input, a {K}x{K} kernel, no padding, "
               f"stride 1, and the loss L = sum of the {out}x{out} outputs, so g = dL/dy is "
               f"all ones. Integer x and w (seed 823) keep the derived values exact.")
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
    sheet.matrix("dL/dx (derived formula)", derived_x)
    sheet.numeric(derived_x, loop_x,
                  method="dL/dx by explicit loops over outputs and taps (exact integers)")
    sheet.matrix("dL/dw (derived formula)", derived_w)
    sheet.numeric(derived_w, loop_w,
                  method="dL/dw by explicit loops over outputs and taps (exact integers)")
    xf, wf = x.astype(float), w.astype(float)
    nx, nw, _ = conv2d_backward(xf, wf, g.astype(float))
    sheet.numeric(gx.astype(float), nx, method="derive.numeric.conv2d_backward (NumPy, "
                                               "flip and correlation)")
    sheet.numeric(gw.astype(float), nw, method="derive.numeric.conv2d_backward (NumPy)")
    fd_x = numerical_gradient(lambda a: conv2d(a, wf).sum(), xf)
    fd_w = numerical_gradient(lambda a: conv2d(xf, a).sum(), wf)
    sheet.numeric(gx.astype(float), fd_x, tol=1e-6,
                  method="central finite differences of L with respect to x")
    sheet.numeric(gw.astype(float), fd_w, tol=1e-6,
                  method="central finite differences of L with respect to w")
    try:
        import torch
    except ImportError:  # PyTorch is optional
        torch = None
    if torch is not None:
        xt = torch.tensor(xf, requires_grad=True)
        wt = torch.tensor(wf, requires_grad=True)
        torch.nn.functional.conv2d(xt, wt).sum().backward()
        sheet.numeric(gx.astype(float), xt.grad.numpy(),
                      method="torch autograd, x.grad (PyTorch installed)")
        sheet.numeric(gw.astype(float), wt.grad.numpy(),
                      method="torch autograd, w.grad (PyTorch installed)")
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

    sheet.text("A general case as well: batch 2, 3 -> 4 channels, a 7x6 input, stride 2, "
               "padding 1, dilation 2 and a random upstream gradient (L = sum of g * y).")
    sheet.numeric(bx, numerical_gradient(loss_x, xg), tol=1e-6,
                  method="dL/dx: central finite differences")
    sheet.numeric(bw, numerical_gradient(loss_w, wg), tol=1e-6,
                  method="dL/dw: central finite differences")
    if torch is not None:
        xt = torch.tensor(xg, requires_grad=True)
        wt = torch.tensor(wg, requires_grad=True)
        bt = torch.zeros(4, dtype=torch.float64, requires_grad=True)
        (torch.nn.functional.conv2d(xt, wt, bt, stride=2, padding=1, dilation=2)
         * torch.from_numpy(up)).sum().backward()
        sheet.numeric(bx, xt.grad.numpy(), method="torch autograd (PyTorch installed)")
        sheet.numeric(bw, wt.grad.numpy(), method="torch autograd (PyTorch installed)")
        sheet.numeric(bb, bt.grad.numpy(), method="torch autograd, bias (PyTorch installed)")
    import sympy
    sheet.answer("dL/dx for L = sum(y)", sympy.Matrix(derived_x.tolist()))


PROBLEM = Problem(
    id="8.23", set="chapter8", order=23, title="The backward pass of a convolution",
    source="Chapter 8, exercise 8.23",
    statement=("For the forward pass Y = W * X (cross-correlation), derive the gradients of a "
               "loss L with respect to the kernel and the input."),
    parts=(
        Part("a", "Derive dL/dW and show that it is a cross-correlation of the input with the "
                  "upstream gradient dL/dY.", solve_a),
        Part("b", "Derive dL/dX and show that it is a full convolution of the upstream "
                  "gradient with the flipped kernel.", solve_b),
        Part("c", "Check the formulas numerically against automatic differentiation, for a "
                  "5x5 input, a 3x3 kernel and L = sum(Y).", solve_c),
    ),
)
