"""Theory notebook, section 11: a vision-transformer patch embedding is a convolution whose
kernel and stride both equal the patch size.

The number of patches is the convolution's output size (``derive.conv.shapes.output_size``
with kernel = stride = 16) squared; the projection's parameters are the convolution's
(``derive.conv.costs.conv_cost``).  Cross-checks: integer division as in the section,
PyTorch's shapes and parameter counts where installed, and a NumPy demonstration on a small
image that cutting patches, flattening them and multiplying by the projection matrix gives
exactly the strided convolution's output.
"""

from derive.book import Part, Problem, Sheet

IMAGE, PATCH, CHANNELS, EMBED = 224, 16, 3, 768


def solve_patches(sheet: Sheet) -> None:
    import sympy

    from derive.conv.shapes import output_size
    from derive.symbols import sym

    h, w = sym("H"), sym("W")
    p = sym("p", nonnegative=False)   # p is a patch size here, not a padding
    per_axis = output_size(h, p, stride=p)
    sheet.derive("patches per axis", [(per_axis, "output size with kernel and stride $p$, no "
                                                "padding"),
                                     (sympy.floor(h / p),
                                      "$floor(H/p - 1) + 1 == floor(H/p)$")])
    general = output_size(h, p, stride=p) * output_size(w, p, stride=p)
    with sympy.evaluate(False):
        plugged = general.xreplace({h: sympy.Integer(IMAGE), w: sympy.Integer(IMAGE),
                                    p: sympy.Integer(PATCH)})
    count = output_size(IMAGE, PATCH, stride=PATCH) ** 2
    sheet.derive("patches", [(plugged, f"both axes, $H == W == {IMAGE}$, $p == {PATCH}$"),
                             (count, "evaluate")])
    sheet.numeric(count, (IMAGE // PATCH) * (IMAGE // PATCH), why="the number of patches",
                  method="integer division of the image side by the patch side")

    def torch_count(torch):
        out = torch.nn.functional.conv2d(torch.zeros(1, CHANNELS, IMAGE, IMAGE, device="meta"),
                                         torch.zeros(EMBED, CHANNELS, PATCH, PATCH,
                                                     device="meta"), stride=PATCH)
        return int(out.shape[-1] * out.shape[-2])

    sheet.numeric_if_installed("torch", count, torch_count,
                               method="the spatial shape of PyTorch's conv2d on the meta device",
                               why="the number of patches")
    sheet.answer("patches", count)


def solve_params(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import conv_cost
    from derive.numeric import conv2d
    from derive.symbols import syms

    c, p, e = syms("C p E")
    general = conv_cost(c, e, p, 1, convention="mac").params
    sheet.derive("params", [(general, "a $p$×$p$×$C$ filter and a bias per embedding "
                                      "dimension")])
    with sympy.evaluate(False):
        plugged = general.xreplace({c: sympy.Integer(CHANNELS), p: sympy.Integer(PATCH),
                                    e: sympy.Integer(EMBED)})
    params = conv_cost(CHANNELS, EMBED, PATCH, 1, convention="mac").params
    sheet.derive("params", [(plugged, f"$C == {CHANNELS}$, $p == {PATCH}$, $E == {EMBED}$"),
                            (params, "evaluate")])
    sheet.numeric(params, (PATCH * PATCH * CHANNELS) * EMBED + EMBED,
                  why="the projection's parameters",
                  method="rows times columns of the projection matrix, plus the bias")
    sheet.numeric_if_installed(
        "torch", params,
        lambda torch: sum(q.numel() for q in torch.nn.Conv2d(
            CHANNELS, EMBED, PATCH, stride=PATCH, device="meta").parameters()),
        method="the parameters of PyTorch's Conv2d layer", why="the projection's parameters")
    # the equivalence on a small image: 2x2 patches of size 4, 3 embedding dimensions
    side, size, dims = 4, 8, 3
    rng = np.random.default_rng(11)
    image = rng.integers(-3, 4, (1, CHANNELS, size, size)).astype(float)
    weight = rng.integers(-3, 4, (dims, CHANNELS, side, side)).astype(float)
    bias = rng.integers(-3, 4, dims).astype(float)
    n = size // side
    patches = image[0].reshape(CHANNELS, n, side, n, side).transpose(1, 3, 0, 2, 4)
    tokens = patches.reshape(n * n, -1) @ weight.reshape(dims, -1).T + bias
    conv = conv2d(image, weight, bias, stride=side)[0].reshape(dims, -1).T
    sheet.text(f"On a small example, flattening each patch and multiplying by the projection "
               f"matrix gives the strided convolution's output, token by token: a "
               f"{CHANNELS}-channel {size}×{size} image, {side}×{side} patches and {dims} "
               f"embedding dimensions, with image, weights and bias integers from −3 to 3 "
               "drawn in that order with NumPy's default generator seeded with 11 (small "
               "integers, so float64 is exact).")
    sheet.numeric(conv.astype(np.int64), tokens.astype(np.int64),
                  why=f"the {n * n} tokens of the strided convolution",
                  method="patches cut out with a NumPy reshape, flattened and multiplied by "
                         "the projection matrix")
    sheet.answer("params", params)


PROBLEM = Problem(
    id="theory-11", set="theory", order=11, title="Patch embedding as a convolution",
    source="Theory notebook, section 11",
    statement=(f"A {IMAGE}×{IMAGE} RGB image is cut into non-overlapping {PATCH}×{PATCH} "
               f"patches, each projected to {EMBED} dimensions by a linear map with bias."),
    parts=(Part("a", "How many patches are there?", solve_patches),
           Part("b", "How many parameters does the projection have?", solve_params)),
)
