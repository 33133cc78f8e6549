"""Theory notebook, section 13: a CNN checklist in which every item is a check the engine
performs.

Each part names the engine function behind one item of the list and runs it on a small
example with an independent cross-check: shapes of a grouped, dilated layer; output sizes
through a small network checked by running it; parameters against FLOPs (counted from the
expanded indexed sum); a receptive field with padding checked by walking back through the
network (and by autograd when PyTorch is installed); ReLU activation statistics against
their derived expectations, with a dead channel; and standard, 1x1 and depthwise-separable
layers compared.
"""

from derive.book import Part, Problem, Sheet

CHECKLIST = (
    ("a", "Name every axis (batch, channel, height, width) and keep track of it.",
     "derive.conv.model.conv_model"),
    ("b", "Recompute the output size whenever a stride, padding or dilation changes.",
     "derive.conv.shapes.output_size, derive.conv.shapes.pool_output_size"),
    ("c", "Keep parameter counts and FLOP counts apart.", "derive.conv.costs.conv_cost"),
    ("d", "Probe the receptive field with gradients or with controlled inputs.",
     "derive.conv.receptive.receptive_field"),
    ("e", "Look at activation statistics and watch for dead channels.",
     "derive.numeric.conv2d (activations); expectations derived with SymPy"),
    ("f", "When optimizing, weigh standard, 1x1 and depthwise-separable convolutions "
          "against each other.",
     "derive.conv.costs.conv_cost, pointwise_cost, depthwise_separable_cost, "
     "separable_ratio"),
)
# the small network of item (b): (kind, kernel, stride, padding, dilation)
NETWORK = (("conv", 7, 2, 3, 1), ("maxpool", 3, 2, 1, 1), ("conv", 3, 1, 2, 2),
           ("conv", 3, 2, 1, 1))
INPUT = 64


def _torch():
    try:
        import torch
    except ImportError:  # PyTorch is optional
        return None
    return torch


def _engine(sheet: Sheet, label: str) -> None:
    item = next(i for i in CHECKLIST if i[0] == label)
    sheet.text(f"Engine function: {item[2]}.")


def solve_axes(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.model import conv_model
    from derive.numeric import conv2d

    _engine(sheet, "a")
    model = conv_model(2, size=20, kernel=3, stride=1, padding=2, dilation=2, batch=2,
                       in_channels=8, out_channels=16, groups=4)
    sheet.table(["tensor", "shape"], [("input (N, C_in, H, W)", model.input_shape),
                                      ("weight (C_out, C_in/G, K, K)", model.weight_shape),
                                      ("output (N, C_out, H_out, W_out)", model.output_shape)],
                caption="A grouped (G = 4), dilated (D = 2) 3x3 layer, padding 2, on a "
                        "20x20 input.")
    y = conv2d(np.zeros(model.input_shape), np.zeros(model.weight_shape), stride=1,
               padding=2, dilation=2, groups=4)
    sheet.numeric(tuple(model.output_shape), tuple(y.shape),
                  method="shape of derive.numeric.conv2d on a zero batch")
    torch = _torch()
    if torch is not None:
        out = torch.nn.functional.conv2d(torch.zeros(model.input_shape),
                                         torch.zeros(model.weight_shape), padding=2,
                                         dilation=2, groups=4)
        sheet.numeric(tuple(model.output_shape), tuple(out.shape),
                      method="shape of torch.nn.functional.conv2d (PyTorch installed)")
    sheet.answer("output shape", tuple(model.output_shape))


def solve_sizes(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.shapes import output_size, pool_output_size
    from derive.numeric import conv2d, max_pool2d

    _engine(sheet, "b")
    rows, n = [], INPUT
    x = np.zeros((1, 1, INPUT, INPUT))
    for kind, k, s, p, d in NETWORK:
        if kind == "conv":
            n = output_size(n, k, padding=p, stride=s, dilation=d)
            x = conv2d(x, np.zeros((1, 1, k, k)), stride=s, padding=p, dilation=d)
        else:
            n = pool_output_size(n, k, padding=p, stride=s, dilation=d)
            x = max_pool2d(x, k, stride=s, padding=p, dilation=d)
        rows.append((kind, k, s, p, d, n, x.shape[-1]))
    sheet.table(["layer", "K", "S", "P", "D", "engine size", "size after running it"], rows,
                caption=f"Sizes through a small network on a {INPUT}x{INPUT} input.")
    sheet.numeric([r[5] for r in rows], [r[6] for r in rows],
                  method="spatial sizes after running the network on zeros (NumPy)")
    torch = _torch()
    if torch is not None:
        t = torch.zeros(1, 1, INPUT, INPUT)
        sizes = []
        for kind, k, s, p, d in NETWORK:
            if kind == "conv":
                t = torch.nn.functional.conv2d(t, torch.zeros(1, 1, k, k), stride=s, padding=p,
                                               dilation=d)
            else:
                t = torch.nn.functional.max_pool2d(t, k, stride=s, padding=p, dilation=d)
            sizes.append(t.shape[-1])
        sheet.numeric([r[5] for r in rows], sizes,
                      method="the same network in torch.nn.functional (PyTorch installed)")
    sheet.answer("final size", rows[-1][5])


def solve_costs(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import conv_cost
    from derive.conv.model import conv_model
    from derive.symbols import syms

    _engine(sheet, "c")
    c_in, c_out, k, h = syms("C_in C_out K H_out")
    cost = conv_cost(c_in, c_out, k, h, bias=False, convention="mac")
    sheet.derive("params", [(cost.params, "weights only: independent of the image size")])
    sheet.derive("MACs", [(cost.flops, "one multiply-add per weight per output position "
                                       "(convention: multiply-adds)")])
    sheet.table(["layer 64 -> 128, 3x3", "params", "multiply-adds"],
                [(f"{s}x{s} output", conv_cost(64, 128, 3, s, bias=False,
                                               convention="mac").params,
                  conv_cost(64, 128, 3, s, bias=False, convention="mac").flops)
                 for s in (28, 56)],
                caption="Doubling the resolution leaves the parameters alone and multiplies "
                        "the multiply-adds by 4.")
    cin, cout, kk, size = 2, 3, 3, 5
    sheet.text(f"For a small layer ({cin} -> {cout} channels, 3x3, {size}x{size} input) the "
               "multiply-adds are counted two more ways: the products in the expanded "
               "indexed sum, and the size of the matrix product of im2col.")
    model = conv_model(2, size=size, kernel=kk, stride=1, padding=0, dilation=1, batch=1,
                       in_channels=cin, out_channels=cout, bias=False)
    out = model.output_shape[-1]
    macs = conv_cost(cin, cout, kk, out, bias=False, convention="mac").flops
    terms = sum(len(sympy.Add.make_args(e)) for e in model.expand_all().values())
    sheet.numeric(macs, terms,
                  method=f"products in the expanded indexed sum of a {cin} -> {cout}, 3x3 "
                         f"layer on a {size}x{size} input")
    import numpy as np

    from derive.numeric import im2col_numeric
    patches = im2col_numeric(np.zeros((cin, size, size)), kk)
    sheet.numeric(macs, cout * patches.shape[0] * patches.shape[1],
                  method="size of the GEMM (C_out x C_in*K*K) times (C_in*K*K x H_out*W_out) "
                         "read off the im2col patch matrix: one multiply-add per (row, inner, "
                         "column) triple")
    sheet.answer("MACs of the small layer", macs)


def _walk_back(unit: int, length: int) -> set[int]:
    """Brute force: input positions (inside the input) that one output unit depends on."""
    seen = {unit}
    for kind, k, s, p, d in reversed(NETWORK):
        seen = {s * i + d * u - p for i in seen for u in range(k)}
    return {t for t in seen if 0 <= t < length}


def solve_field(sheet: Sheet) -> None:
    from derive.conv.layers import Layer
    from derive.conv.receptive import receptive_field

    _engine(sheet, "d")
    layers = [Layer(kind, kernel=k, stride=s, padding=p, dilation=d)
              for kind, k, s, p, d in NETWORK]
    field = receptive_field(layers)
    unit = 4   # an interior unit: its whole field lies inside the input
    first, last = field.interval(unit)
    sheet.table(["size R", "jump J", "start (effective padding)", f"unit {unit} sees"],
                [(field.size, field.jump, field.start, f"input {first} to {last}")],
                caption="The network of item (b), from the engine's recurrence.")
    seen = _walk_back(unit, INPUT)
    sheet.numeric((first, last), (min(seen), max(seen)),
                  method=f"walk back from output unit {unit} through every layer's taps")
    torch = _torch()
    if torch is not None:
        x = torch.rand(1, 1, INPUT, INPUT, dtype=torch.float64, requires_grad=True)
        t = x
        for kind, k, s, p, d in NETWORK:
            if kind == "conv":
                t = torch.nn.functional.conv2d(t, torch.ones(1, 1, k, k, dtype=torch.float64),
                                               stride=s, padding=p, dilation=d)
            else:   # average pooling: every tap gets gradient, unlike max pooling
                t = torch.nn.functional.avg_pool2d(t, k, stride=s, padding=p)
        t[0, 0, unit, unit].backward()
        rows = (x.grad[0, 0].abs().sum(dim=1) != 0).nonzero().flatten().tolist()
        sheet.numeric((first, last), (rows[0], rows[-1]),
                      method="rows with non-zero gradient of that unit, PyTorch autograd "
                             "(max pooling replaced by average pooling so that every tap "
                             "receives gradient; PyTorch installed)")
    sheet.answer("receptive field", field.size)


def solve_statistics(sheet: Sheet) -> None:
    import numpy as np
    import sympy
    from sympy.stats import E, Normal, P

    from derive.numeric import conv2d

    _engine(sheet, "e")
    sheet.text("With unit-norm filters on standard normal inputs and no bias, every "
               "pre-activation z is standard normal. Two statistics of a ReLU output that a "
               "live channel should show (from sympy.stats):")
    z = Normal("z", 0, 1)
    zeros, cond_square, positive = P(z <= 0), E(z**2, z > 0), P(z > 0)
    sheet.derive("P(ReLU(z) = 0)", [(zeros, "ReLU(z) is 0 exactly when z <= 0; the normal "
                                            "is symmetric")])
    with sympy.evaluate(False):
        product = sympy.Mul(cond_square, positive)
    sheet.derive("E[ReLU(z)^2]", [(product, "E[z^2 | z > 0] P(z > 0): the square vanishes "
                                            "for z <= 0"),
                                  (sympy.Rational(1, 2), "evaluate")])
    rng = np.random.default_rng(13)
    w = rng.standard_normal((4, 1, 3, 3))
    w /= np.sqrt((w ** 2).sum(axis=(1, 2, 3), keepdims=True))
    w[3] = 0.0                                   # a channel whose filter died
    bias = np.array([0.0, 0.0, 0.0, -0.1])
    acts = np.maximum(conv2d(rng.standard_normal((32, 1, 32, 32)), w, bias), 0.0)
    frac_zero = (acts == 0).mean(axis=(0, 2, 3))
    mean_square = (acts ** 2).mean(axis=(0, 2, 3))
    samples = acts.shape[0] * acts.shape[2] * acts.shape[3]
    # neighbouring outputs share inputs (about 25 overlapping windows): allow 4 standard
    # errors of sqrt(variance * 25 / samples); Var[1{z<=0}] = 1/4, Var[ReLU(z)^2] <= 3/2
    live = [0, 1, 2]
    sheet.numeric([round(float(frac_zero[c]), 4) for c in live], [float(zeros)] * 3,
                  tol=4 * float(np.sqrt(0.25 * 25 / samples)),
                  method=f"fraction of zeros per live channel, seeded sample of {samples} "
                         "values per channel")
    sheet.numeric([round(float(mean_square[c]), 4) for c in live], [0.5] * 3,
                  tol=4 * float(np.sqrt(1.5 * 25 / samples)),
                  method="mean square per live channel, same sample")
    sheet.table(["channel", "fraction of zeros", "mean square", "std"],
                [(ch, f"{frac_zero[ch]:.4f}", f"{mean_square[ch]:.4f}",
                  f"{acts[:, ch].std():.4f}") for ch in range(acts.shape[1])])
    dead = [ch for ch in range(acts.shape[1]) if frac_zero[ch] == 1.0]
    sheet.text(f"Channel(s) {dead} are zero everywhere, with zero spread: dead (here a zero "
               "filter with a negative bias, so the ReLU output is always 0).")
    sheet.answer("dead channels", tuple(dead))


def solve_compare(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import (
        conv_cost, depthwise_separable_cost, pointwise_cost, ratio_value, separable_ratio,
    )

    _engine(sheet, "f")
    c_in, c_out, k, size = 64, 128, 3, 56
    layers = [("standard 3x3", conv_cost(c_in, c_out, k, size, bias=False, convention="mac")),
              ("pointwise 1x1", pointwise_cost(c_in, c_out, size, bias=False,
                                               convention="mac")),
              ("depthwise-separable 3x3", depthwise_separable_cost(c_in, c_out, k, size,
                                                                   convention="mac"))]
    sheet.table(["layer, 64 -> 128 at 56x56", "params", "multiply-adds"],
                [(name, cost.params, cost.flops) for name, cost in layers])
    identity = separable_ratio()
    sheet.derive("separable / standard", list(identity.steps))
    ratio = ratio_value(identity, C_out=c_out, k=k)
    torch = _torch()
    if torch is not None:
        mods = [torch.nn.Conv2d(c_in, c_out, k, padding=1, bias=False, device="meta"),
                torch.nn.Conv2d(c_in, c_out, 1, bias=False, device="meta"),
                (torch.nn.Conv2d(c_in, c_in, k, padding=1, groups=c_in, bias=False,
                                 device="meta"),
                 torch.nn.Conv2d(c_in, c_out, 1, bias=False, device="meta"))]

        def macs(layer, x):      # every weight is used once per output position
            y = layer(x)
            return int(layer.weight.numel()) * int(y.shape[-2] * y.shape[-1]), y

        x = torch.zeros(1, c_in, size, size, device="meta")
        standard, _ = macs(mods[0], x)
        depthwise, mid = macs(mods[2][0], x)
        pointwise, _ = macs(mods[2][1], mid)
        sheet.numeric(ratio, sympy.Rational(depthwise + pointwise, standard),
                      method=f"weights times output positions of the torch.nn.Conv2d layers "
                             f"run on a {size}x{size} input on the meta device (PyTorch "
                             "installed)")
        counts = [sum(p.numel() for p in m.parameters()) if not isinstance(m, tuple)
                  else sum(p.numel() for q in m for p in q.parameters()) for m in mods]
        sheet.numeric([cost.params for _, cost in layers], counts,
                      method="PyTorch parameter counts (PyTorch installed)")
    else:
        import numpy as np

        def positions(n, kernel, padding):   # window starts that fit, per axis
            return sum(1 for t in range(n + 2 * padding) if t + kernel <= n + 2 * padding)

        standard = np.zeros((c_out, c_in, k, k)).size * positions(size, k, 1) ** 2
        separable = (np.zeros((c_in, 1, k, k)).size * positions(size, k, 1) ** 2
                     + np.zeros((c_out, c_in, 1, 1)).size * positions(size, 1, 0) ** 2)
        sheet.numeric(ratio, sympy.Rational(int(separable), int(standard)),
                      method="entries of the NumPy weight arrays times the output positions "
                             f"enumerated on a {size}x{size} map (padding 1 for the 3x3 "
                             "layers)")
    sheet.text("A 1x1 convolution mixes channels only; the depthwise stage filters space "
               "only; together they approximate the standard layer at a fraction of the cost.")
    sheet.answer("separable / standard", ratio)


PROBLEM = Problem(
    id="theory-13", set="theory", order=13, title="A CNN checklist, each item an engine check",
    source="Theory notebook, section 13",
    statement=("Six habits that catch most mistakes in convolutional networks. For each, name "
               "the engine function that performs the check and run it on an example."),
    parts=tuple(Part(label, prompt, solve) for (label, prompt, _), solve in zip(
        CHECKLIST, (solve_axes, solve_sizes, solve_costs, solve_field, solve_statistics,
                    solve_compare))),
)
