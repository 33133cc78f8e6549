"""Exercise 8.3: learnable parameters of four PyTorch convolution layers.

The general count (weights ``C_out * C_in/groups * K^2`` plus ``C_out`` biases) comes from
:func:`derive.conv.costs.conv_cost` with symbolic arguments and is evaluated at each layer's
numbers.  Independent cross-checks: the number of entries of NumPy arrays with the weight
and bias shapes PyTorch uses, and ``numel()`` of ``torch.nn.Conv2d`` when PyTorch is
installed.
"""

from derive.book import Part, Problem, Sheet

# label: (in channels, out channels, kernel, stride, padding, groups, description)
LAYERS = {
    "a": (3, 64, 7, 2, 3, 1, "a 7x7 stem convolution"),
    "b": (64, 128, 3, 1, 1, 1, "a 3x3 convolution"),
    "c": (256, 256, 3, 1, 1, 256, "a depthwise 3x3 convolution (groups = channels)"),
    "d": (256, 512, 1, 1, 0, 1, "a pointwise (1x1) convolution"),
}


def _torch():
    try:
        import torch
    except ImportError:  # PyTorch is optional
        return None
    return torch


def _call(c_in: int, c_out: int, k: int, s: int, p: int, g: int) -> str:
    args = [str(c_in), str(c_out), f"kernel_size={k}"]
    if s != 1:
        args.append(f"stride={s}")
    if p:
        args.append(f"padding={p}")
    if g != 1:
        args.append(f"groups={g}")
    return "nn.Conv2d(" + ", ".join(args) + ")"


def _case(label: str):
    c_in, c_out, k, s, p, g, _ = LAYERS[label]

    def solve(sheet: Sheet) -> None:
        import numpy as np
        import sympy

        from derive.conv.costs import conv_cost
        from derive.symbols import syms

        C_in, C_out, K, G, H = syms("C_in C_out K G H_out")
        general = conv_cost(C_in, C_out, K, H, groups=G, convention="mac").params
        weights = conv_cost(C_in, C_out, K, H, groups=G, bias=False,
                            convention="mac").params
        with sympy.evaluate(False):
            split = sympy.Add(weights, C_out)
        if label == "a":
            sheet.text("Each of the C_out filters has one K x K kernel per input channel of its "
                       "group (C_in/G channels, G = 1 unless the layer is grouped), plus one "
                       "bias; the stride and padding change the output size, not the "
                       "parameters:")
            sheet.derive("params", [(split, "weights plus one bias per filter"),
                                    (general, "the engine's count "
                                              "(derive.conv.costs.conv_cost)")])
        elif g != 1:
            sheet.text(f"With groups G = {g} each filter sees only C_in/G = {c_in // g} input "
                       "channel(s), which divides the weight count by G (biases unchanged).")
        count = conv_cost(c_in, c_out, k, 1, groups=g, convention="mac")
        with sympy.evaluate(False):
            plugged = split.xreplace({C_in: sympy.Integer(c_in), C_out: sympy.Integer(c_out),
                                      K: sympy.Integer(k), G: sympy.Integer(g)})
        sheet.derive("params", [(plugged, f"C_in = {c_in}, C_out = {c_out}, K = {k}, "
                                          f"G = {g} in C_out*C_in*K^2/G + C_out"),
                                (count.params, "evaluate")])
        weight = np.zeros((c_out, c_in // g, k, k))
        bias = np.zeros(c_out)
        sheet.numeric(count.params, int(weight.size + bias.size),
                      method=f"entries of NumPy arrays shaped like PyTorch's weight "
                             f"{weight.shape} and bias {bias.shape}")
        torch = _torch()
        if torch is not None:
            layer = torch.nn.Conv2d(c_in, c_out, kernel_size=k, stride=s, padding=p, groups=g)
            sheet.numeric(count.params, sum(int(t.numel()) for t in layer.parameters()),
                          method="sum of numel() over the parameters of "
                                 f"{_call(c_in, c_out, k, s, p, g)} (PyTorch installed)")
        sheet.table(["weights", "biases", "total"],
                    [(count.params - c_out, c_out, count.params)])
        if g != 1:
            dense = conv_cost(c_in, c_out, k, 1, convention="mac").params
            sheet.text(f"Without groups the same layer would have {dense} parameters: the "
                       f"depthwise layer has {sympy.Rational(dense, count.params)} times fewer, "
                       "because each filter sees a single channel.")
        sheet.answer("learnable parameters", count.params)

    return solve


PROBLEM = Problem(
    id="8.3", set="chapter8", order=3, title="Parameters of convolution layers",
    source="Chapter 8, exercise 8.3",
    statement="Count the learnable parameters (weights and biases) of each of these PyTorch "
              "layers.",
    parts=tuple(Part(label, f"{_call(c_in, c_out, k, s, p, g)}: {what}.", _case(label))
                for label, (c_in, c_out, k, s, p, g, what) in LAYERS.items()),
)
