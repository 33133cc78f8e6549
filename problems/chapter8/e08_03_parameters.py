"""Exercise 8.3: learnable parameters of four PyTorch convolution layers.

The general count (weights ``C_out * C_in/groups * K^2`` plus ``C_out`` biases) comes from
:func:`derive.conv.costs.conv_cost` with symbolic arguments and is evaluated at each layer's
numbers.  Independent cross-checks: the number of entries of NumPy arrays with the weight
and bias shapes PyTorch uses, and the parameter count of PyTorch's ``Conv2d`` where PyTorch
is installed (the page is the same either way).
"""

from derive.book import Part, Problem, Sheet, written

# label: (in channels, out channels, kernel, stride, padding, groups, description)
LAYERS = {
    "a": (3, 64, 7, 2, 3, 1, "a 7×7 stem convolution"),
    "b": (64, 128, 3, 1, 1, 1, "a 3×3 convolution"),
    "c": (256, 256, 3, 1, 1, 256, "a depthwise 3×3 convolution (as many groups as channels)"),
    "d": (256, 512, 1, 1, 0, 1, "a pointwise (1×1) convolution"),
}


def _describe(c_in: int, c_out: int, k: int, s: int, p: int, g: int) -> str:
    """The layer's PyTorch arguments in words."""
    words = [f"PyTorch's Conv2d from {c_in} to {c_out} channels", f"kernel {k}×{k}",
             f"stride {s}", f"padding {p}"]
    if g != 1:
        words.append(f"{g} groups")
    return ", ".join(words)


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
            sheet.text("Each of the $C_out$ filters has one $K$×$K$ kernel per input channel "
                       "of its group ($C_in/G$ channels, with $G == 1$ unless the layer is "
                       "grouped), plus one bias; the stride and padding change the output "
                       "size, not the parameters:")
            sheet.derive("params", [(split, "weights plus one bias per filter"),
                                    (general, "factor out $C_out$ (the engine's count)")])
        elif g != 1:
            channels = "channel" if c_in // g == 1 else "channels"
            sheet.text(f"With $G == {g}$ groups each filter sees only $C_in/G == {c_in // g}$ "
                       f"input {channels}, which divides the weight count by $G$ (biases "
                       "unchanged).")
        count = conv_cost(c_in, c_out, k, 1, groups=g, convention="mac")
        # The numbers as they enter the count (no groups: the factor 1/G is left out).
        if g == 1:
            plugged = written(f"{c_out}*{c_in}*{k}**2 + {c_out}")
            where = (f"$C_in == {c_in}$, $C_out == {c_out}$, $K == {k}$ and $G == 1$ in "
                     "the count")
        else:
            plugged = written(f"{c_out}*({c_in}/{g})*{k}**2 + {c_out}")
            where = (f"$C_in == {c_in}$, $C_out == {c_out}$, $K == {k}$ and $G == {g}$ in "
                     "the count")
        sheet.derive("params", [(plugged, where), (count.params, "evaluate")])
        weight = np.zeros((c_out, c_in // g, k, k))
        bias = np.zeros(c_out)
        shape = "×".join(map(str, weight.shape))
        sheet.numeric(count.params, int(weight.size + bias.size), why="learnable parameters",
                      method=f"entries of NumPy arrays shaped like PyTorch's weight ({shape}) "
                             f"and bias ({c_out} entries)")
        sheet.numeric_if_installed(
            "torch", count.params,
            lambda torch: sum(int(t.numel()) for t in torch.nn.Conv2d(
                c_in, c_out, kernel_size=k, stride=s, padding=p, groups=g).parameters()),
            why="learnable parameters",
            method="parameter count of PyTorch's Conv2d with the layer's arguments")
        sheet.table(["weights", "biases", "total"],
                    [(count.params - c_out, c_out, count.params)])
        if g != 1:
            dense = conv_cost(c_in, c_out, k, 1, convention="mac").params
            ratio = sympy.Rational(dense, count.params)
            shown = f"{float(ratio):g}" if (ratio * 10).is_integer else f"${ratio}$"
            sheet.text(f"Without groups the same layer would have {dense} parameters: the "
                       f"depthwise layer has {shown} times fewer, because each filter sees a "
                       "single channel.")
        sheet.answer("learnable parameters", count.params)

    return solve


PROBLEM = Problem(
    id="8.3", set="chapter8", order=3, title="Parameters of convolution layers",
    source="Chapter 8, exercise 8.3",
    statement="Count the learnable parameters (weights and biases) of each of these PyTorch "
              "layers.",
    parts=tuple(Part(label, f"{_describe(c_in, c_out, k, s, p, g)}: {what}.", _case(label))
                for label, (c_in, c_out, k, s, p, g, what) in LAYERS.items()),
)
