"""Theory notebook, section 7: how much a depthwise-separable convolution saves.

Counts come from ``derive.conv.costs`` (no biases, as in the section) and the saving factor
from the engine's proved identity ``separable / standard = 1/C_out + 1/K^2``.  Cross-checks:
PyTorch's parameter counts when installed, and a NumPy demonstration that the separable layer
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


def _torch_counts():
    try:
        import torch
    except ImportError:  # PyTorch is optional
        return None
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
    sheet.derive("standard", [(general, "C_out filters of K x K x C_in weights")])
    sheet.derive("standard", [(_plug(general, C_in=C_IN, C_out=C_OUT, K=K), "the numbers"),
                              (standard, "evaluate")])
    counts = _torch_counts()
    if counts is not None:
        sheet.numeric(standard, counts[0], method="torch.nn.Conv2d weight (PyTorch installed)")
    else:
        import numpy as np
        sheet.numeric(standard, int(np.zeros((C_OUT, C_IN, K, K)).size),
                      method="size of a (C_out, C_in, K, K) weight array")
    sheet.answer("standard", standard)


def solve_separable(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.costs import depthwise_separable_cost
    from derive.numeric import conv2d
    from derive.symbols import syms

    c_in, c_out, k = syms("C_in C_out K")
    general = depthwise_separable_cost(c_in, c_out, k, 1, convention="mac").params
    _, separable = _counts()
    sheet.derive("separable", [(general, "depthwise: one K x K filter per input channel; "
                                         "pointwise: C_out filters of 1 x 1 x C_in")])
    sheet.derive("separable", [(_plug(general, C_in=C_IN, C_out=C_OUT, K=K), "the numbers"),
                               (separable, "evaluate")])
    rng = np.random.default_rng(7)
    depthwise = rng.integers(-3, 4, (C_IN, 1, K, K)).astype(float)
    pointwise = rng.integers(-3, 4, (C_OUT, C_IN, 1, 1)).astype(float)
    x = rng.integers(-3, 4, (1, C_IN, 6, 6)).astype(float)
    two_step = conv2d(conv2d(x, depthwise, groups=C_IN), pointwise)
    factorised = pointwise[:, :, 0, 0][:, :, None, None] * depthwise[None, :, 0]
    one_step = conv2d(x, factorised)
    sheet.text("The two stages together are one standard convolution whose kernel is the "
               "product P[o, c] D[c, u, v]: checked with NumPy on small integers (exact in "
               "float64).")
    import sympy
    sheet.numeric(sympy.Rational(float(np.abs(two_step - one_step).max())), 0,
                  method="depthwise then pointwise against one convolution with the "
                         "factorised kernel; largest difference")
    counts = _torch_counts()
    if counts is not None:
        sheet.numeric(separable, counts[1], method="the two torch.nn.Conv2d layers' weights "
                                                   "(PyTorch installed)")
    sheet.numeric(separable, depthwise.size + pointwise.size,
                  method="free values of the factorised kernel (depthwise plus pointwise "
                         "arrays)")
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
    sheet.derive("saving factor", [(plugged, f"the inverse ratio at C_out = {C_OUT}, K = {K}"),
                                   (1 / ratio, "evaluate")])
    counts = _torch_counts()
    if counts is not None:
        sheet.numeric(1 / ratio, sympy.Rational(*counts),
                      method="quotient of the torch.nn.Conv2d weight sizes, standard over "
                             "depthwise plus pointwise (PyTorch installed)")
    else:
        import numpy as np
        separable = np.zeros((C_IN, 1, K, K)).size + np.zeros((C_OUT, C_IN, 1, 1)).size
        sheet.numeric(1 / ratio, sympy.Rational(np.zeros((C_OUT, C_IN, K, K)).size,
                                                separable),
                      method="quotient of the sizes of the (C_out, C_in, K, K) weight array "
                             "and the (C_in, 1, K, K) plus (C_out, C_in, 1, 1) arrays (NumPy)")
    sheet.text(f"About {float(1 / ratio):.2f}: with many output channels the saving "
               f"approaches K^2 = {K * K}.")
    sheet.answer("saving factor", 1 / ratio)


PROBLEM = Problem(
    id="theory-7", set="theory", order=7, title="Depthwise-separable savings",
    source="Theory notebook, section 7",
    statement=(f"Compare a standard {K}x{K} convolution from {C_IN} to {C_OUT} channels with "
               f"its depthwise-separable version ({K}x{K} depthwise, then 1x1), without "
               "biases."),
    parts=(Part("a", "Parameters of the standard convolution.", solve_standard),
           Part("b", "Parameters of the depthwise-separable convolution.", solve_separable),
           Part("c", "The saving factor.", solve_factor)),
)
