"""Practice exercise 4: a dense layer against a convolution on a 32x32x3 image.

Both counts come from ``derive.conv.costs`` (weights only, as in the exercise); their ratio
is derived symbolically.  The convolution's count is cross-checked by building its sparse
convolution matrix (a dense map from the image to the output, with shared entries) and
counting the distinct weights it holds; PyTorch's layers give a further check where installed.
"""

from derive.book import Part, Problem, Sheet

H, W, C, OUT, K = 32, 32, 3, 64, 3


def _counts():
    from derive.conv.costs import conv_cost, dense_cost
    dense = dense_cost(H * W * C, OUT, bias=False, convention="mac").params
    conv = conv_cost(C, OUT, K, 1, bias=False, convention="mac").params
    return dense, conv


def solve_dense(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import dense_cost
    from derive.symbols import syms

    h, w, c, m = syms("H W C M")
    general = dense_cost(h * w * c, m, bias=False, convention="mac").params
    sheet.text("Flatten the image to $H*W*C$ numbers; every one of the $M$ outputs has a "
               "weight for each of them.")
    with sympy.evaluate(False):
        plugged = general.xreplace({h: sympy.Integer(H), w: sympy.Integer(W),
                                    c: sympy.Integer(C), m: sympy.Integer(OUT)})
    dense, _ = _counts()
    sheet.derive("dense", [(general, "one weight per pair of an input value and an output")])
    sheet.derive("dense", [(plugged, f"$H == W == {H}$, $C == {C}$, $M == {OUT}$"),
                           (dense, "evaluate")])
    import numpy as np
    image = np.zeros((C, H, W))
    sheet.numeric(dense, image.size * np.zeros(OUT).size, why="the dense layer's weights",
                  method="entries of a flattened NumPy image times the number of outputs")
    sheet.numeric_if_installed(
        "torch", dense,
        lambda torch: torch.nn.Linear(H * W * C, OUT, bias=False, device="meta").weight.numel(),
        method="the weight of PyTorch's Linear layer", why="the dense layer's weights")
    sheet.answer("dense weights", dense)


def solve_conv(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import conv_cost
    from derive.numeric import conv2d_matrix
    from derive.symbols import syms

    c, m, k = syms("C M K")
    general = conv_cost(c, m, k, 1, bias=False, convention="mac").params
    _, conv = _counts()
    with sympy.evaluate(False):
        plugged = general.xreplace({c: sympy.Integer(C), m: sympy.Integer(OUT),
                                    k: sympy.Integer(K)})
    sheet.derive("conv", [(general, "one filter of $K$×$K$×$C$ weights per output channel")])
    sheet.derive("conv", [(plugged, f"$C == {C}$, $M == {OUT}$, $K == {K}$"),
                          (conv, "evaluate")])
    weights = np.arange(1, conv + 1, dtype=float).reshape(OUT, C, K, K)
    matrix = conv2d_matrix((C, H, W), weights)
    sheet.text(f"As a linear map the convolution is a {matrix.shape[0]}×{matrix.shape[1]} "
               f"matrix with {matrix.nnz} non-zero entries, but they repeat: giving every "
               "weight a different value and counting the distinct values in the matrix "
               "recovers the number of free parameters.")
    sheet.numeric(conv, int(np.unique(matrix.data).size), why="the convolution's weights",
                  method="distinct entries of the sparse convolution matrix (NumPy)")
    sheet.numeric_if_installed(
        "torch", conv,
        lambda torch: torch.nn.Conv2d(C, OUT, K, bias=False, device="meta").weight.numel(),
        method="the weight of PyTorch's Conv2d layer", why="the convolution's weights")
    sheet.answer("conv weights", conv)


def solve_ratio(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import conv_cost, dense_cost
    from derive.symbols import syms

    h, w, c, m, k = syms("H W C M K")
    dense_s = dense_cost(h * w * c, m, bias=False, convention="mac").params
    conv_s = conv_cost(c, m, k, 1, bias=False, convention="mac").params
    ratio = sympy.Mul(dense_s, sympy.Pow(conv_s, -1, evaluate=False), evaluate=False)
    sheet.derive("dense / conv", [(ratio, "the two counts"),
                                  (h * w / k**2, "cancel $C*M$")])
    dense, conv = _counts()
    value = sympy.Rational(dense, conv)
    with sympy.evaluate(False):
        plugged = (h * w / k**2).xreplace({h: sympy.Integer(H), w: sympy.Integer(W),
                                           k: sympy.Integer(K)})
    sheet.derive("dense / conv", [(plugged, f"$H == W == {H}$, $K == {K}$"),
                                  (value, "evaluate")])
    import numpy as np
    sheet.numeric(value, sympy.Rational(np.zeros((OUT, H * W * C)).size,
                                        np.zeros((OUT, C, K, K)).size),
                  why="the ratio of the weight counts",
                  method="quotient of the sizes of the dense and the convolution weight "
                         "arrays (NumPy)")

    def torch_ratio(torch):
        linear = torch.nn.Linear(H * W * C, OUT, bias=False, device="meta")
        conv2d = torch.nn.Conv2d(C, OUT, K, bias=False, device="meta")
        return sympy.Rational(linear.weight.numel(), conv2d.weight.numel())

    sheet.numeric_if_installed("torch", value, torch_ratio,
                               method="quotient of the weight sizes of PyTorch's Linear and "
                                      "Conv2d layers", why="the ratio of the weight counts")
    sheet.text(f"The dense layer needs about {float(value):.0f} times as many weights: it "
               "has one weight per input position, while the convolution reuses one small "
               "filter at every position (weight sharing) and looks only at a "
               f"{K}×{K} neighbourhood (locality).")
    sheet.answer("dense / conv", value)


PROBLEM = Problem(
    id="practice-4", set="practice", order=4, title="Dense layer versus convolution",
    source="Exercises notebook, exercise 4",
    statement=(f"An image of {H}×{W} pixels with {C} channels is mapped to {OUT} features, "
               f"either by a dense layer on the flattened image or by a convolution with "
               f"{OUT} filters of size {K}×{K}. Compare their weight counts (biases left "
               "out)."),
    parts=(Part("a", "Weights of the dense layer.", solve_dense),
           Part("b", "Weights of the convolution.", solve_conv),
           Part("c", "How many times larger is the dense layer?", solve_ratio)),
)
