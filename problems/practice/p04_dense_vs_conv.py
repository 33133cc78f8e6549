"""Practice exercise 4: a dense layer against a convolution on a 32x32x3 image.

Both counts come from ``derive.conv.costs`` (weights only, as in the exercise); their ratio
is derived symbolically.  The convolution's count is cross-checked by building its sparse
convolution matrix (a dense map from the image to the output, with shared entries) and
counting the distinct weights it holds; PyTorch's layers give a second check when installed.
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
    sheet.text("Flatten the image to H*W*C numbers; every one of the M outputs has a weight "
               "for each of them.")
    with sympy.evaluate(False):
        plugged = general.xreplace({h: sympy.Integer(H), w: sympy.Integer(W),
                                    c: sympy.Integer(C), m: sympy.Integer(OUT)})
    dense, _ = _counts()
    sheet.derive("dense", [(general, "weights of a dense layer with M outputs "
                                     "(derive.conv.costs.dense_cost)")])
    sheet.derive("dense", [(plugged, f"H = W = {H}, C = {C}, M = {OUT}"),
                           (dense, "evaluate")])
    try:
        import torch
    except ImportError:  # PyTorch is optional
        torch = None
    if torch is not None:
        layer = torch.nn.Linear(H * W * C, OUT, bias=False, device="meta")
        sheet.numeric(dense, layer.weight.numel(),
                      method="weight of torch.nn.Linear (PyTorch installed)")
    else:
        import numpy as np
        sheet.numeric(dense, int(np.prod((OUT, H * W * C))),
                      method="size of the (M, H*W*C) weight matrix")
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
    sheet.derive("conv", [(general, "one K x K x C filter per output channel "
                                    "(derive.conv.costs.conv_cost)")])
    sheet.derive("conv", [(plugged, f"C = {C}, M = {OUT}, K = {K}"), (conv, "evaluate")])
    weights = np.arange(1, conv + 1, dtype=float).reshape(OUT, C, K, K)
    matrix = conv2d_matrix((C, H, W), weights)
    sheet.text(f"As a linear map the convolution is a {matrix.shape[0]} x {matrix.shape[1]} "
               f"matrix with {matrix.nnz} non-zero entries, but they repeat: giving every "
               "weight a different value and counting the distinct values in the matrix "
               "recovers the number of free parameters.")
    sheet.numeric(conv, int(np.unique(matrix.data).size),
                  method="distinct entries of the sparse convolution matrix (NumPy)")
    try:
        import torch
    except ImportError:  # PyTorch is optional
        torch = None
    if torch is not None:
        layer = torch.nn.Conv2d(C, OUT, K, bias=False, device="meta")
        sheet.numeric(conv, layer.weight.numel(),
                      method="weight of torch.nn.Conv2d (PyTorch installed)")
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
                                  (h * w / k**2, "cancel C*M")])
    dense, conv = _counts()
    value = sympy.Rational(dense, conv)
    with sympy.evaluate(False):
        plugged = (h * w / k**2).xreplace({h: sympy.Integer(H), w: sympy.Integer(W),
                                           k: sympy.Integer(K)})
    sheet.derive("dense / conv", [(plugged, f"H = W = {H}, K = {K}"),
                                  (value, "evaluate")])
    try:
        import torch
    except ImportError:  # PyTorch is optional
        torch = None
    if torch is not None:
        linear = torch.nn.Linear(H * W * C, OUT, bias=False, device="meta")
        conv2d = torch.nn.Conv2d(C, OUT, K, bias=False, device="meta")
        sheet.numeric(value, sympy.Rational(linear.weight.numel(), conv2d.weight.numel()),
                      method="quotient of the weight sizes of torch.nn.Linear and "
                             "torch.nn.Conv2d on the meta device (PyTorch installed)")
    else:
        import numpy as np
        sheet.numeric(value, sympy.Rational(int(np.prod((OUT, H * W * C))),
                                            int(np.prod((OUT, C, K, K)))),
                      method="quotient of the sizes of the (M, H*W*C) dense and the "
                             "(M, C, K, K) convolution weight arrays (NumPy)")
    sheet.text(f"The dense layer needs about {float(value):.0f} times as many weights: it "
               "has one weight per input position, while the convolution reuses one small "
               "filter at every position (weight sharing) and looks only at a K x K "
               "neighbourhood (locality).")
    sheet.answer("dense / conv", value)


PROBLEM = Problem(
    id="practice-4", set="practice", order=4, title="Dense layer versus convolution",
    source="Exercises notebook, exercise 4",
    statement=(f"An image of {H}x{W} pixels with {C} channels is mapped to {OUT} features, "
               f"either by a dense layer on the flattened image or by a convolution with "
               f"{OUT} filters of size {K}x{K}. Compare their weight counts (biases left "
               "out)."),
    parts=(Part("a", "Weights of the dense layer.", solve_dense),
           Part("b", "Weights of the convolution.", solve_conv),
           Part("c", "How many times larger is the dense layer?", solve_ratio)),
)
