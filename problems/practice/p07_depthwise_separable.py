"""Practice exercise 7: the parameters of a depthwise-separable convolution.

The count is ``derive.conv.costs.depthwise_separable_cost`` (a depthwise K x K convolution,
one filter per input channel, then a 1x1 convolution), cross-checked by enumerating the
weights the two indexed-sum models read, and by PyTorch where installed.  The saving against a
standard convolution is the engine's proved ratio ``1/C_out + 1/K^2``.
"""

from derive.book import Part, Problem, Sheet

C_IN, C_OUT, K = 32, 64, 3


def _weights_read(model) -> int:
    """Brute force: distinct weight indices (o, c, u, v) over every output channel o and the
    model's summation ranges (for a grouped model, c runs over the group's channels)."""
    import itertools

    ranges = [range(int(lo), int(hi) + 1) for lo, hi in model.limits().values()]
    return len({(o,) + combo for o in range(model.out_channels)
                for combo in itertools.product(*ranges)})


def _costs():
    from derive.conv.costs import conv_cost, depthwise_cost, pointwise_cost
    depthwise = depthwise_cost(C_IN, K, 1, bias=False, convention="mac").params
    pointwise = pointwise_cost(C_IN, C_OUT, 1, bias=False, convention="mac").params
    standard = conv_cost(C_IN, C_OUT, K, 1, bias=False, convention="mac").params
    return depthwise, pointwise, standard


def solve_count(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import depthwise_separable_cost
    from derive.conv.model import conv_model
    from derive.symbols import syms

    c_in, c_out, k = syms("C_in C_out K")
    general = depthwise_separable_cost(c_in, c_out, k, 1, convention="mac").params
    sheet.derive("params", [(general, "depthwise: one $K$×$K$ filter per input channel; "
                                      "pointwise: a 1×1×$C_in$ filter per output channel "
                                      "(no biases)")])
    with sympy.evaluate(False):
        plugged = general.xreplace({c_in: sympy.Integer(C_IN), c_out: sympy.Integer(C_OUT),
                                    k: sympy.Integer(K)})
    total = depthwise_separable_cost(C_IN, C_OUT, K, 1, convention="mac").params
    sheet.derive("params", [(plugged, f"$C_in == {C_IN}$, $C_out == {C_OUT}$, $K == {K}$"),
                            (total, "evaluate")])
    depthwise, pointwise, _ = _costs()
    sheet.table(["stage", "weights"], [(f"depthwise {K}×{K}", depthwise),
                                       ("pointwise 1×1", pointwise), ("total", total)])
    dw_model = conv_model(2, size=K, kernel=K, stride=1, padding=0, dilation=1, batch=1,
                          in_channels=C_IN, out_channels=C_IN, groups=C_IN, bias=False)
    pw_model = conv_model(2, size=1, kernel=1, stride=1, padding=0, dilation=1, batch=1,
                          in_channels=C_IN, out_channels=C_OUT, bias=False)
    sheet.numeric(total, _weights_read(dw_model) + _weights_read(pw_model),
                  why="the separable layer's parameters",
                  method="enumeration of the weights read by the depthwise (one group per "
                         "input channel) and pointwise indexed-sum models")
    sheet.numeric_if_installed(
        "torch", total,
        lambda torch: sum(p.numel() for m in _torch_separable(torch) for p in m.parameters()),
        method="the parameters of the two PyTorch Conv2d layers",
        why="the separable layer's parameters")
    sheet.answer("params", total)


def _torch_separable(torch):
    """The depthwise and pointwise layers as PyTorch modules on the meta device."""
    return [torch.nn.Conv2d(C_IN, C_IN, K, groups=C_IN, bias=False, device="meta"),
            torch.nn.Conv2d(C_IN, C_OUT, 1, bias=False, device="meta")]


def solve(sheet: Sheet) -> None:
    solve_count(sheet)
    solve_saving(sheet)


def solve_saving(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import ratio_value, separable_ratio

    identity = separable_ratio()
    sheet.text("Against a standard $K$×$K$ convolution from $C_in$ to $C_out$ channels (the "
               "ratio is the same for parameters and for multiply-adds at equal output size):")
    sheet.derive("separable / standard", list(identity.steps))
    ratio = ratio_value(identity, C_out=C_OUT, k=K)
    depthwise, pointwise, standard = _costs()
    import numpy as np
    separable = np.zeros((C_IN, 1, K, K)).size + np.zeros((C_OUT, C_IN, 1, 1)).size
    sheet.numeric(ratio, sympy.Rational(separable, np.zeros((C_OUT, C_IN, K, K)).size),
                  why="separable over standard weights",
                  method="quotient of the sizes of the depthwise and pointwise weight arrays "
                         "over the standard one (NumPy)")

    def torch_ratio(torch):
        plain = torch.nn.Conv2d(C_IN, C_OUT, K, bias=False, device="meta")
        return sympy.Rational(sum(m.weight.numel() for m in _torch_separable(torch)),
                              plain.weight.numel())

    sheet.numeric_if_installed("torch", ratio, torch_ratio,
                               method="quotient of the weight sizes of the PyTorch Conv2d "
                                      "layers", why="separable over standard weights")
    sheet.table(["layer", "weights"], [(f"standard {K}×{K}", standard),
                                       ("depthwise separable", depthwise + pointwise)])
    sheet.text(f"The separable layer needs about {float(1 / ratio):.1f} times fewer weights "
               "than the standard one.")


PROBLEM = Problem(
    id="practice-7", set="practice", order=7, title="Depthwise-separable parameter count",
    source="Exercises notebook, exercise 7",
    statement=(f"Replace a {K}×{K} convolution from {C_IN} to {C_OUT} channels by a depthwise "
               f"{K}×{K} convolution followed by a 1×1 convolution (no biases). Count the "
               "parameters of the separable version."),
    parts=(Part("", "Count the parameters of the depthwise-separable layer, and compare "
                    "with the standard convolution.", solve),),
)
