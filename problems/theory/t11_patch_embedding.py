"""Theory notebook, section 11: a vision-transformer patch embedding is a convolution whose
kernel and stride both equal the patch size.

The number of patches is the convolution's output size (``derive.conv.shapes.output_size``
with kernel = stride = 16) squared; the projection's parameters are the convolution's
(``derive.conv.costs.conv_cost``).  Cross-checks: integer division as in the section,
PyTorch's shapes and parameter counts when installed, and a NumPy demonstration on a small
image that cutting patches, flattening them and multiplying by the projection matrix gives
exactly the strided convolution's output.
"""

from derive.book import Part, Problem, Sheet

IMAGE, PATCH, CHANNELS, EMBED = 224, 16, 3, 768


def solve_patches(sheet: Sheet) -> None:
    import sympy

    from derive.conv.shapes import output_size
    from derive.symbols import sym

    h, p = sym("H"), sym("p", nonnegative=False)   # p is a patch size here, not a padding
    per_axis = output_size(h, p, stride=p)
    sheet.derive("patches per axis", [(per_axis, "output size with kernel = stride = p, no "
                                                 "padding"),
                                      (sympy.floor(h / p), "floor(H/p - 1) + 1 = floor(H/p)")])
    with sympy.evaluate(False):
        plugged = (per_axis ** 2).xreplace({h: sympy.Integer(IMAGE), p: sympy.Integer(PATCH)})
    count = output_size(IMAGE, PATCH, stride=PATCH) ** 2
    sheet.derive("patches", [(plugged, f"H = W = {IMAGE}, p = {PATCH}, both axes"),
                             (count, "evaluate")])
    sheet.numeric(count, (IMAGE // PATCH) * (IMAGE // PATCH),
                  method="integer division of the image side by the patch side")
    try:
        import torch
    except ImportError:  # PyTorch is optional
        torch = None
    if torch is not None:
        out = torch.nn.functional.conv2d(torch.zeros(1, CHANNELS, IMAGE, IMAGE, device="meta"),
                                         torch.zeros(EMBED, CHANNELS, PATCH, PATCH,
                                                     device="meta"), stride=PATCH)
        sheet.numeric(count, out.shape[-1] * out.shape[-2],
                      method="spatial shape of torch.nn.functional.conv2d on the meta device "
                             "(PyTorch installed)")
    sheet.answer("patches", count)


def solve_params(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import conv_cost
    from derive.numeric import conv2d
    from derive.symbols import syms

    c, p, e = syms("C p E")
    general = conv_cost(c, e, p, 1, convention="mac").params
    sheet.derive("params", [(general, "a p x p x C filter and a bias per embedding dimension")])
    with sympy.evaluate(False):
        plugged = general.xreplace({c: sympy.Integer(CHANNELS), p: sympy.Integer(PATCH),
                                    e: sympy.Integer(EMBED)})
    params = conv_cost(CHANNELS, EMBED, PATCH, 1, convention="mac").params
    sheet.derive("params", [(plugged, f"C = {CHANNELS}, p = {PATCH}, E = {EMBED}"),
                            (params, "evaluate")])
    try:
        import torch
    except ImportError:  # PyTorch is optional
        torch = None
    if torch is not None:
        layer = torch.nn.Conv2d(CHANNELS, EMBED, PATCH, stride=PATCH, device="meta")
        sheet.numeric(params, sum(q.numel() for q in layer.parameters()),
                      method="parameters of torch.nn.Conv2d (PyTorch installed)")
    # the equivalence on a small image: 2x2 patches of size 4, 5 embedding dimensions
    side, size, dims = 4, 8, 5
    rng = np.random.default_rng(11)
    image = rng.integers(-3, 4, (1, CHANNELS, size, size)).astype(float)
    weight = rng.integers(-3, 4, (dims, CHANNELS, side, side)).astype(float)
    bias = rng.integers(-3, 4, dims).astype(float)
    n = size // side
    patches = image[0].reshape(CHANNELS, n, side, n, side).transpose(1, 3, 0, 2, 4)
    tokens = patches.reshape(n * n, -1) @ weight.reshape(dims, -1).T + bias
    conv = conv2d(image, weight, bias, stride=side)[0].reshape(dims, -1).T
    sheet.text("On a small example (8x8 image, 4x4 patches, 5 dimensions, small integers so "
               "float64 is exact): flattening each patch and multiplying by the projection "
               "matrix gives the strided convolution's output, token by token.")
    sheet.numeric(sympy.Rational(float(np.abs(tokens - conv).max())), 0,
                  method="patches @ projection (NumPy reshape) against derive.numeric.conv2d "
                         "with stride = kernel; largest difference")
    sheet.numeric(params, (PATCH * PATCH * CHANNELS) * EMBED + EMBED,
                  method="rows times columns of the projection matrix, plus the bias")
    sheet.answer("params", params)


PROBLEM = Problem(
    id="theory-11", set="theory", order=11, title="Patch embedding as a convolution",
    source="Theory notebook, section 11",
    statement=(f"A {IMAGE}x{IMAGE} RGB image is cut into non-overlapping {PATCH}x{PATCH} "
               f"patches, each projected to {EMBED} dimensions by a linear map with bias."),
    parts=(Part("a", "How many patches are there?", solve_patches),
           Part("b", "How many parameters does the projection have?", solve_params)),
)
