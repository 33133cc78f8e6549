"""Theory notebook, section 7: how much a depthwise-separable convolution saves.

Counts come from ``derive.conv.costs`` (no biases, as in the section) and the saving factor
from the engine's proved identity ``separable / standard = 1/C_out + 1/K^2``.  Cross-checks:
PyTorch's parameter counts where installed, and a NumPy demonstration that the separable layer
is a standard convolution whose kernel factorises as ``W[o, c] = P[o, c] D[c]``, so its free
values are the depthwise and pointwise weights only.
"""

from derive.book import Part, Problem, Sheet

C_IN, C_OUT, K = 64, 128, 3


def _counts() -> tuple[int, int]:
    from derive.conv.costs import conv_cost, depthwise_separable_cost
    standard = conv_cost(C_IN, C_OUT, K, 1, bias=False, convention="mac").params
    separable = depthwise_separable_cost(C_IN, C_OUT, K, 1, convention="mac").params
    return standard, separable


def _torch_counts(torch) -> tuple[int, int]:
    """Parameter counts of the standard and the two separable layers, built with PyTorch on
    the meta device."""
    standard = torch.nn.Conv2d(C_IN, C_OUT, K, bias=False, device="meta")
    separable = (torch.nn.Conv2d(C_IN, C_IN, K, groups=C_IN, bias=False, device="meta"),
                 torch.nn.Conv2d(C_IN, C_OUT, 1, bias=False, device="meta"))
    return (sum(p.numel() for p in standard.parameters()),
            sum(p.numel() for m in separable for p in m.parameters()))


def _plug(expr, **values):
    import sympy

    from derive.symbols import sym
    with sympy.evaluate(False):
        return expr.xreplace({sym(k): sympy.Integer(v) for k, v in values.items()})


def solve_standard(sheet: Sheet) -> None:
    from derive.conv.costs import conv_cost
    from derive.symbols import syms

    c_in, c_out, k = syms("C_in C_out K")
    general = conv_cost(c_in, c_out, k, 1, bias=False, convention="mac").params
    standard, _ = _counts()
    sheet.derive("standard", [(general, "$C_out$ filters of $K$×$K$×$C_in$ weights")])
    sheet.derive("standard", [(_plug(general, C_in=C_IN, C_out=C_OUT, K=K),
                               f"$C_in == {C_IN}$, $C_out == {C_OUT}$, $K == {K}$"),
                              (standard, "evaluate")])
    import numpy as np
    sheet.numeric(standard, int(np.zeros((C_OUT, C_IN, K, K)).size),
                  why="the standard layer's weights",
                  method="the size of a NumPy weight array with one axis per output channel, "
                         "input channel, kernel row and kernel column")
    sheet.numeric_if_installed("torch", standard, lambda torch: _torch_counts(torch)[0],
                               method="the weight of PyTorch's Conv2d layer",
                               why="the standard layer's weights")
    sheet.answer("standard", standard)


def solve_separable(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.costs import depthwise_separable_cost
    from derive.numeric import conv2d
    from derive.symbols import syms

    c_in, c_out, k = syms("C_in C_out K")
    general = depthwise_separable_cost(c_in, c_out, k, 1, convention="mac").params
    _, separable = _counts()
    sheet.derive("separable", [(general, "depthwise: one $K$×$K$ filter per input channel; "
                                         "pointwise: $C_out$ filters of 1×1×$C_in$")])
    sheet.derive("separable", [(_plug(general, C_in=C_IN, C_out=C_OUT, K=K),
                                f"$C_in == {C_IN}$, $C_out == {C_OUT}$, $K == {K}$"),
                               (separable, "evaluate")])
    rng = np.random.default_rng(7)
    depthwise = rng.integers(-3, 4, (C_IN, 1, K, K)).astype(float)
    pointwise = rng.integers(-3, 4, (C_OUT, C_IN, 1, 1)).astype(float)
    x = rng.integers(-3, 4, (1, C_IN, 6, 6)).astype(float)
    two_step = conv2d(conv2d(x, depthwise, groups=C_IN), pointwise)
    factorised = pointwise[:, :, 0, 0][:, :, None, None] * depthwise[None, :, 0]
    one_step = conv2d(x, factorised)
    sheet.text("The two stages together are one standard convolution whose kernel is the "
               "product $P[o, c]*D[c, u, v]$ of the pointwise weight $P$ and the depthwise "
               "kernel $D$, so its only free values are those of $P$ and $D$. Checked with "
               "NumPy on small integers (exact in float64): depthwise kernels, pointwise "
               f"weights and a {C_IN}-channel 6×6 input, integers from −3 to 3 drawn in that "
               "order with NumPy's default generator seeded with 7.")
    sheet.numeric(two_step.astype(np.int64), one_step.astype(np.int64),
                  why="the output of the two stages",
                  method="one convolution with the factorised kernel (NumPy)")
    sheet.numeric(separable, depthwise.size + pointwise.size,
                  why="the separable layer's weights",
                  method="the free values of the factorised kernel (depthwise plus pointwise "
                         "arrays)")
    sheet.numeric_if_installed("torch", separable, lambda torch: _torch_counts(torch)[1],
                               method="the weights of the two PyTorch Conv2d layers",
                               why="the separable layer's weights")
    sheet.answer("separable", separable)


def solve_factor(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import ratio_value, separable_ratio

    identity = separable_ratio()
    sheet.derive("separable / standard", list(identity.steps))
    ratio = ratio_value(identity, C_out=C_OUT, k=K)
    with sympy.evaluate(False):
        plugged = sympy.Pow(identity.rhs.xreplace(
            {sympy.Symbol("C_out", integer=True, positive=True): sympy.Integer(C_OUT),
             sympy.Symbol("k", integer=True, positive=True): sympy.Integer(K)}), -1)
    sheet.derive("saving factor", [(plugged, f"the inverse ratio at $C_out == {C_OUT}$, "
                                             f"$k == {K}$"),
                                   (1 / ratio, "evaluate")])
    import numpy as np
    separable = np.zeros((C_IN, 1, K, K)).size + np.zeros((C_OUT, C_IN, 1, 1)).size
    sheet.numeric(1 / ratio, sympy.Rational(np.zeros((C_OUT, C_IN, K, K)).size, separable),
                  why="the saving factor",
                  method="quotient of the sizes of the standard weight array and the "
                         "depthwise plus pointwise arrays (NumPy)")
    sheet.numeric_if_installed("torch", 1 / ratio,
                               lambda torch: sympy.Rational(*_torch_counts(torch)),
                               method="quotient of the PyTorch Conv2d weight sizes, standard "
                                      "over depthwise plus pointwise",
                               why="the saving factor")
    sheet.text(f"About {float(1 / ratio):.2f}: with many output channels the saving "
               f"approaches $k**2 == {K * K}$.")
    sheet.answer("saving factor", 1 / ratio)


PROBLEM = Problem(
    id="theory-7", set="theory", order=7, title="Depthwise-separable savings",
    source="Theory notebook, section 7",
    statement=(f"Compare a standard {K}×{K} convolution from {C_IN} to {C_OUT} channels with "
               f"its depthwise-separable version ({K}×{K} depthwise, then 1×1), without "
               "biases."),
    parts=(Part("a", "Parameters of the standard convolution.", solve_standard),
           Part("b", "Parameters of the depthwise-separable convolution.", solve_separable),
           Part("c", "The saving factor.", solve_factor)),
)
