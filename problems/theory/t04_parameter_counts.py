"""Theory notebook, section 4: parameters of a convolution against a dense layer.

Both counts come from ``derive.conv.costs`` (with biases, as in the section).  The
convolution's count is cross-checked by enumerating the weight indices its indexed-sum model
reads; both are checked against PyTorch's layers built on the meta device (no memory is
allocated for the 411 million dense weights) where PyTorch is installed.
"""

from derive.book import Part, Problem, Sheet

C_IN, C_OUT, K = 64, 128, 3
IMAGE = 224


def _conv_params() -> int:
    from derive.conv.costs import conv_cost
    return conv_cost(C_IN, C_OUT, K, IMAGE, convention="mac").params


def _dense_params() -> int:
    from derive.conv.costs import dense_cost
    return dense_cost(IMAGE * IMAGE * C_IN, C_OUT, convention="mac").params


def solve_conv(sheet: Sheet) -> None:
    import itertools

    import sympy

    from derive.conv.costs import conv_cost
    from derive.conv.model import conv_model
    from derive.symbols import syms

    c_in, c_out, k = syms("C_in C_out K")
    general = conv_cost(c_in, c_out, k, 1, convention="mac").params
    with sympy.evaluate(False):
        plugged = general.xreplace({c_in: sympy.Integer(C_IN), c_out: sympy.Integer(C_OUT),
                                    k: sympy.Integer(K)})
    params = _conv_params()
    sheet.derive("conv", [(general, "$C_out$ filters of $K$×$K$×$C_in$ weights, plus one "
                                    "bias each")])
    sheet.derive("conv", [(plugged, f"$C_in == {C_IN}$, $C_out == {C_OUT}$, $K == {K}$"),
                          (params, "evaluate")])
    model = conv_model(2, size=K, kernel=K, stride=1, padding=0, dilation=1, batch=1,
                       in_channels=C_IN, out_channels=C_OUT, bias=True)
    ranges = [range(int(lo), int(hi) + 1) for lo, hi in model.limits().values()]
    read = {(o,) + combo for o in range(C_OUT) for combo in itertools.product(*ranges)}
    sheet.numeric(params, len(read) + C_OUT, why="the convolution's parameters",
                  method="enumeration of the weight indices the model's sum reads, plus "
                         "one bias per output channel")
    sheet.numeric_if_installed(
        "torch", params,
        lambda torch: sum(p.numel() for p in torch.nn.Conv2d(C_IN, C_OUT, K,
                                                             device="meta").parameters()),
        method="the parameters of PyTorch's Conv2d layer", why="the convolution's parameters")
    sheet.text(f"The count is independent of the {IMAGE}×{IMAGE} image size.")
    sheet.answer("conv params", params)


def solve_dense(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import dense_cost
    from derive.symbols import syms

    h, w, c_in, c_out = syms("H W C_in C_out")
    general = dense_cost(h * w * c_in, c_out, convention="mac").params
    with sympy.evaluate(False):
        plugged = general.xreplace({h: sympy.Integer(IMAGE), w: sympy.Integer(IMAGE),
                                    c_in: sympy.Integer(C_IN), c_out: sympy.Integer(C_OUT)})
    params = _dense_params()
    sheet.derive("dense", [(general, "one weight for every pair of an input value and an "
                                     "output unit, plus one bias per output unit")])
    sheet.derive("dense", [(plugged, f"$H == W == {IMAGE}$, $C_in == {C_IN}$, "
                                     f"$C_out == {C_OUT}$ units"),
                           (params, "evaluate")])
    import numpy as np
    weight_shape, bias_shape = (C_OUT, IMAGE * IMAGE * C_IN), (C_OUT,)
    sheet.numeric(params, int(np.prod(weight_shape)) + int(np.prod(bias_shape)),
                  why="the dense layer's parameters",
                  method="the entries of the weight matrix (one row per unit, one column per "
                         "input value) plus the bias vector, from their shapes")
    sheet.numeric_if_installed(
        "torch", params,
        lambda torch: sum(p.numel() for p in torch.nn.Linear(
            IMAGE * IMAGE * C_IN, C_OUT, device="meta").parameters()),
        method="the parameters of PyTorch's Linear layer on the meta device",
        why="the dense layer's parameters")
    sheet.answer("dense params", params)


def solve_ratio(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import conv_cost, dense_cost
    from derive.symbols import syms

    h, w, c_in, c_out, k = syms("H W C_in C_out K")
    dense = dense_cost(h * w * c_in, c_out, convention="mac").params
    conv = conv_cost(c_in, c_out, k, 1, convention="mac").params
    ratio = sympy.Mul(dense, sympy.Pow(conv, -1, evaluate=False), evaluate=False)
    reduced = (h * w * c_in + 1) / (c_in * k**2 + 1)
    sheet.derive("dense / conv", [(ratio, "the two counts"), (reduced, "cancel $C_out$")])
    value = sympy.Rational(_dense_params(), _conv_params())
    with sympy.evaluate(False):
        plugged = reduced.xreplace({h: sympy.Integer(IMAGE), w: sympy.Integer(IMAGE),
                                    c_in: sympy.Integer(C_IN), k: sympy.Integer(K)})
    sheet.derive("dense / conv", [(plugged, f"$H == W == {IMAGE}$, $C_in == {C_IN}$, "
                                            f"$K == {K}$"),
                                  (value, "evaluate")])
    import numpy as np
    dense_shapes = ((C_OUT, IMAGE * IMAGE * C_IN), (C_OUT,))
    conv_shapes = ((C_OUT, C_IN, K, K), (C_OUT,))
    sheet.numeric(value, sympy.Rational(sum(int(np.prod(s)) for s in dense_shapes),
                                        sum(int(np.prod(s)) for s in conv_shapes)),
                  why="the ratio of the parameter counts",
                  method="quotient of the entries of the dense and convolution weight and "
                         "bias arrays, from their shapes (NumPy)")

    def torch_ratio(torch):
        layers = (torch.nn.Linear(IMAGE * IMAGE * C_IN, C_OUT, device="meta"),
                  torch.nn.Conv2d(C_IN, C_OUT, K, device="meta"))
        return sympy.Rational(*[sum(p.numel() for p in m.parameters()) for m in layers])

    sheet.numeric_if_installed("torch", value, torch_ratio,
                               method="quotient of PyTorch's parameter counts",
                               why="the ratio of the parameter counts")
    sheet.text(f"About {float(value):.1f}: without weight sharing and locality the layer "
               "would need a weight for every pixel of every channel.")
    sheet.answer("dense / conv", value)


PROBLEM = Problem(
    id="theory-4", set="theory", order=4, title="Parameter counts",
    source="Theory notebook, section 4",
    statement=(f"A {K}×{K} convolution maps {C_IN} channels to {C_OUT} (with biases). Compare "
               f"it with a dense layer that flattens a {IMAGE}×{IMAGE}×{C_IN} feature map into "
               f"{C_OUT} units (with biases)."),
    parts=(Part("a", "Parameters of the convolution.", solve_conv),
           Part("b", "Parameters of the dense layer.", solve_dense),
           Part("c", "Their ratio.", solve_ratio)),
)
