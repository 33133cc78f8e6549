"""Theory notebook, section 13: a CNN checklist in which every item is a check the engine
performs.

Each part is one habit of the list: why it catches mistakes (an explanation), and the check
carried out on a small example with an independent cross-check: shapes of a grouped, dilated
layer; output sizes through a small network checked by running it; parameters against
multiply-adds (counted from the expanded indexed sum and from im2col); a receptive field with
padding checked by walking back through the network (and by autograd where PyTorch is
installed); ReLU activation statistics against their derived expectations, with a dead
channel; and standard, 1x1 and depthwise-separable layers compared.
"""

from derive.book import EXPLANATION, Part, Problem, Sheet

# the small network of items (b) and (d): (kind, kernel, stride, padding, dilation)
NETWORK = (("conv", 7, 2, 3, 1), ("maxpool", 3, 2, 1, 1), ("conv", 3, 1, 2, 2),
           ("conv", 3, 2, 1, 1))
INPUT = 64


def solve_axes(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.model import conv_model
    from derive.numeric import conv2d

    sheet.explain("Batch, channel, height and width play different roles: a convolution sums "
                  "over input channels (within a group) and slides over height and width, "
                  "and never mixes the batch. Writing each tensor's axes next to its shape "
                  "makes a transposed or mislabelled axis visible before it silently changes "
                  "what the layer computes; grouping and dilation change the weight's and the "
                  "output's shapes in ways that are easy to get wrong.",
                  rests_on=["the shapes of the indexed-sum model below"])
    model = conv_model(2, size=20, kernel=3, stride=1, padding=2, dilation=2, batch=2,
                       in_channels=8, out_channels=16, groups=4)
    sheet.table(["tensor", "axes", "shape"],
                [("input $x$", "batch, channel, height, width", model.input_shape),
                 ("weight $w$", "output channel, input channel within the group, kernel row, "
                                "kernel column", model.weight_shape),
                 ("output $y$", "batch, channel, height, width", model.output_shape)],
                caption="The engine's indexed-sum model of a 3×3 layer from 8 to 16 channels "
                        "in $G == 4$ groups, dilation $D == 2$, padding 2, on a batch of 2 "
                        "inputs of 20×20.")
    y = conv2d(np.zeros(model.input_shape), np.zeros(model.weight_shape), stride=1,
               padding=2, dilation=2, groups=4)
    sheet.numeric(tuple(model.output_shape), tuple(y.shape), why="the output shape",
                  method="the shape of a NumPy convolution of a zero batch")
    sheet.numeric_if_installed(
        "torch", tuple(model.output_shape),
        lambda torch: tuple(torch.nn.functional.conv2d(
            torch.zeros(model.input_shape), torch.zeros(model.weight_shape), padding=2,
            dilation=2, groups=4).shape),
        method="the output shape of PyTorch's conv2d", why="the output shape")
    sheet.answer("output shape", tuple(model.output_shape))


def _torch_sizes(torch) -> list[int]:
    """The spatial size after each layer of the network, run with PyTorch."""
    t = torch.zeros(1, 1, INPUT, INPUT)
    sizes = []
    for kind, k, s, p, d in NETWORK:
        if kind == "conv":
            t = torch.nn.functional.conv2d(t, torch.zeros(1, 1, k, k), stride=s, padding=p,
                                           dilation=d)
        else:
            t = torch.nn.functional.max_pool2d(t, k, stride=s, padding=p, dilation=d)
        sizes.append(int(t.shape[-1]))
    return sizes


def solve_sizes(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.shapes import output_size, pool_output_size
    from derive.numeric import conv2d, max_pool2d

    sheet.explain("A stride, a padding or a dilation changes every size after it; a size "
                  "computed once and then assumed goes wrong silently when one of them "
                  "changes, and shows up only later as a shape mismatch far from its cause. "
                  "Recomputing the size layer by layer, and comparing it with the size the "
                  "network actually produces, pins the mistake to its layer.",
                  rests_on=["the size rules", "the network run below"])
    rows, n = [], INPUT
    x = np.zeros((1, 1, INPUT, INPUT))
    for kind, k, s, p, d in NETWORK:
        if kind == "conv":
            n = output_size(n, k, padding=p, stride=s, dilation=d)
            x = conv2d(x, np.zeros((1, 1, k, k)), stride=s, padding=p, dilation=d)
        else:
            n = pool_output_size(n, k, padding=p, stride=s, dilation=d)
            x = max_pool2d(x, k, stride=s, padding=p, dilation=d)
        rows.append(("convolution" if kind == "conv" else "max pooling", k, s, p, d, n,
                     x.shape[-1]))
    sheet.table(["layer", "$K$", "$S$", "$P$", "$D$", "size by the rule",
                 "size after running it"], rows,
                caption=f"Sizes through a small network on a {INPUT}×{INPUT} input.")
    sheet.numeric([r[5] for r in rows], [r[6] for r in rows], why="the size after each layer",
                  method="the spatial sizes after running the network on zeros (NumPy)")
    sheet.numeric_if_installed("torch", [r[5] for r in rows], _torch_sizes,
                               method="the same network run with PyTorch",
                               why="the size after each layer")
    sheet.answer("final size", rows[-1][5])


def solve_costs(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import conv_cost
    from derive.conv.model import conv_model
    from derive.numeric import im2col_numeric
    from derive.symbols import syms

    sheet.explain("Parameters measure memory and what the layer can learn; multiply-adds "
                  "measure compute, and they grow with the output's area while the "
                  "parameters do not. Mixing them up misjudges a layer: a convolution with "
                  "few weights can still dominate the run time at high resolution.",
                  rests_on=["the two counts below"])
    c_in, c_out, k, h, w = syms("C_in C_out K H_out W_out")
    cost = conv_cost(c_in, c_out, k, (h, w), bias=False, convention="mac")
    sheet.derive("params", [(cost.params, "weights only: independent of the image size")])
    sheet.derive("MACs", [(cost.flops, "one multiply-add per weight per output position")])
    sheet.table(["layer, 64 to 128 channels, 3×3", "params", "multiply-adds"],
                [(f"{s}×{s} output", conv_cost(64, 128, 3, s, bias=False,
                                               convention="mac").params,
                  conv_cost(64, 128, 3, s, bias=False, convention="mac").flops)
                 for s in (28, 56)],
                caption="Doubling the resolution leaves the parameters alone and multiplies "
                        "the multiply-adds by 4.")
    cin, cout, kk, size = 2, 3, 3, 5
    sheet.text(f"For a small layer ({cin} to {cout} channels, 3×3, on a {size}×{size} input) "
               "the multiply-adds are counted two more ways: the products in the expanded "
               "indexed sum, and the size of the matrix product of im2col.")
    model = conv_model(2, size=size, kernel=kk, stride=1, padding=0, dilation=1, batch=1,
                       in_channels=cin, out_channels=cout, bias=False)
    out = model.output_shape[-1]
    macs = conv_cost(cin, cout, kk, out, bias=False, convention="mac").flops
    terms = sum(len(sympy.Add.make_args(e)) for e in model.expand_all().values())
    sheet.numeric(macs, terms, why="the small layer's multiply-adds",
                  method="the products in the expanded indexed sum, counted")
    patches = im2col_numeric(np.zeros((cin, size, size)), kk)
    sheet.numeric(macs, cout * patches.shape[0] * patches.shape[1],
                  why="the small layer's multiply-adds",
                  method="the matrix product of the weights ($C_out$ rows) with the im2col "
                         "patch matrix (its rows and columns read off the matrix): one "
                         "multiply-add per row, inner index and column")
    sheet.answer("MACs of the small layer", macs)


def _walk_back(unit: int, length: int) -> set[int]:
    """Brute force: input positions (inside the input) that one output unit depends on."""
    seen = {unit}
    for kind, k, s, p, d in reversed(NETWORK):
        seen = {s * i + d * u - p for i in seen for u in range(k)}
    return {t for t in seen if 0 <= t < length}


def _torch_rows(torch, unit: int) -> tuple[int, int]:
    """First and last input row with a non-zero gradient of one output unit (autograd);
    max pooling is replaced by average pooling so that every tap receives gradient."""
    x = torch.rand(1, 1, INPUT, INPUT, dtype=torch.float64, requires_grad=True)
    t = x
    for kind, k, s, p, d in NETWORK:
        if kind == "conv":
            t = torch.nn.functional.conv2d(t, torch.ones(1, 1, k, k, dtype=torch.float64),
                                           stride=s, padding=p, dilation=d)
        else:
            t = torch.nn.functional.avg_pool2d(t, k, stride=s, padding=p)
    t[0, 0, unit, unit].backward()
    rows = (x.grad[0, 0].abs().sum(dim=1) != 0).nonzero().flatten().tolist()
    return rows[0], rows[-1]


def solve_field(sheet: Sheet) -> None:
    from derive.conv.layers import Layer
    from derive.conv.receptive import receptive_field

    sheet.explain("Whether a unit can see a whole object depends on its receptive field, which "
                  "strides, dilations and padding change in ways that are easy to misjudge; "
                  "and a field computed by formula can be displaced by padding. Probing it "
                  "directly, by which input positions a unit's gradient reaches or which "
                  "controlled input changes move it, measures the field independently of any "
                  "formula.", rests_on=["the recurrence", "the walk back below"])
    layers = [Layer(kind, kernel=k, stride=s, padding=p, dilation=d)
              for kind, k, s, p, d in NETWORK]
    field = receptive_field(layers)
    unit = 4   # an interior unit: its whole field lies inside the input
    first, last = field.interval(unit)
    sheet.table(["field $R$", "jump $J$", "start (effective padding)", f"unit {unit} sees"],
                [(field.size, field.jump, field.start, f"input {first} to {last}")],
                caption="The network of item (b), from the engine's recurrence.")
    seen = _walk_back(unit, INPUT)
    sheet.numeric((first, last), (min(seen), max(seen)),
                  why=f"the first and last input position unit {unit} sees",
                  method=f"a walk back from output unit {unit} through every layer's taps")
    sheet.numeric_if_installed(
        "torch", (first, last), lambda torch: _torch_rows(torch, unit),
        why=f"the first and last input position unit {unit} sees",
        method="the rows with a non-zero gradient of that unit, by PyTorch's autograd (max "
               "pooling replaced by average pooling so that every tap receives gradient)")
    sheet.answer("receptive field", field.size)


def solve_statistics(sheet: Sheet) -> None:
    import numpy as np
    import sympy
    from sympy.stats import E, Normal, P

    from derive.numeric import conv2d

    sheet.explain("A channel whose pre-activations are always negative outputs zero after the "
                  "ReLU, passes no signal and receives no gradient: it is dead. A live channel "
                  "has predictable statistics, derived below; a dead one stands out at once "
                  "with a fraction of zeros of 1 and no spread.",
                  rests_on=["the two expectations below", "the seeded sample below"])
    sheet.text("With unit-norm filters on standard normal inputs and no bias, every "
               "pre-activation $z$ is standard normal. Two statistics of a ReLU output that a "
               "live channel should show:")
    z = Normal("z", 0, 1)
    zeros, cond_square, positive = P(z <= 0), E(z**2, z > 0), P(z > 0)
    sheet.derive("fraction of zeros", [(zeros, "the ReLU output is 0 exactly when $z <= 0$, "
                                               "and the standard normal is symmetric")])
    with sympy.evaluate(False):
        product = sympy.Mul(cond_square, positive)
    sheet.derive("mean square", [(product, "the mean of $z**2$ given $z > 0$, times the "
                                           "probability of $z > 0$: the output's square "
                                           "vanishes for $z <= 0$"),
                                 (sympy.Rational(1, 2), "evaluate")])
    rng = np.random.default_rng(13)
    w = rng.standard_normal((4, 1, 3, 3))
    w /= np.sqrt((w ** 2).sum(axis=(1, 2, 3), keepdims=True))
    w[3] = 0.0                                   # a channel whose filter died
    bias = np.array([0.0, 0.0, 0.0, -0.1])
    x = rng.standard_normal((32, 1, 32, 32))
    sheet.text(f"The example: {w.shape[0]} filters of 3×3 on one input channel, with standard "
               "normal entries scaled to unit norm, the last filter then set to zero; biases "
               + ", ".join(f"{v:g}" for v in bias) + f"; a batch of {x.shape[0]} "
               f"single-channel {x.shape[2]}×{x.shape[3]} standard normal images; filters "
               "first, then images, drawn with NumPy's default generator seeded with 13; no "
               "padding.")
    acts = np.maximum(conv2d(x, w, bias), 0.0)
    frac_zero = (acts == 0).mean(axis=(0, 2, 3))
    mean_square = (acts ** 2).mean(axis=(0, 2, 3))
    samples = acts.shape[0] * acts.shape[2] * acts.shape[3]
    # neighbouring outputs share inputs (about 25 overlapping windows): allow 4 standard
    # errors of sqrt(variance * 25 / samples); the indicator of a zero has variance 1/4, the
    # square of the output at most 3/2
    live = [0, 1, 2]
    sheet.numeric([zeros] * len(live), [round(float(frac_zero[c]), 4) for c in live],
                  tol=4 * float(np.sqrt(0.25 * 25 / samples)),
                  why="the fraction of zeros of each live channel",
                  method=f"a seeded sample of {samples} values per channel, rounded to 4 "
                         "decimals")
    sheet.numeric([sympy.Rational(1, 2)] * len(live),
                  [round(float(mean_square[c]), 4) for c in live],
                  tol=4 * float(np.sqrt(1.5 * 25 / samples)),
                  why="the mean square of each live channel",
                  method="the same sample, rounded to 4 decimals")
    sheet.table(["channel", "fraction of zeros", "mean square", "spread (std)"],
                [(ch, f"{frac_zero[ch]:.4f}", f"{mean_square[ch]:.4f}",
                  f"{acts[:, ch].std():.4f}") for ch in range(acts.shape[1])])
    dead = [ch for ch in range(acts.shape[1]) if frac_zero[ch] == 1.0]
    if len(dead) != 1:
        raise AssertionError(f"expected one dead channel, found {len(dead)}")
    sheet.text(f"Channel {dead[0]} is zero everywhere, with no spread: dead (here a zero "
               "filter with a negative bias, so the ReLU output is always 0).")
    sheet.answer("dead channel", dead[0])


def solve_compare(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import (
        conv_cost, depthwise_separable_cost, pointwise_cost, ratio_value, separable_ratio,
    )

    sheet.explain("A 1×1 convolution mixes channels only; a depthwise convolution filters "
                  "space only, one channel at a time; together they approximate a standard "
                  "layer at a fraction of its parameters and multiply-adds. Which one to use "
                  "is a trade between that cost and what the layer can represent, so the "
                  "costs are compared exactly before choosing.",
                  rests_on=["the cost table", "the ratio identity below"])
    c_in, c_out, k, size = 64, 128, 3, 56
    layers = [(f"standard {k}×{k}", conv_cost(c_in, c_out, k, size, bias=False,
                                               convention="mac")),
              ("pointwise 1×1", pointwise_cost(c_in, c_out, size, bias=False,
                                               convention="mac")),
              (f"depthwise-separable {k}×{k}", depthwise_separable_cost(c_in, c_out, k, size,
                                                                         convention="mac"))]
    sheet.table([f"layer, {c_in} to {c_out} channels, {size}×{size} output", "params",
                 "multiply-adds"],
                [(name, cost.params, cost.flops) for name, cost in layers])
    identity = separable_ratio()
    sheet.derive("separable / standard", list(identity.steps))
    ratio = ratio_value(identity, C_out=c_out, k=k)

    def positions(n, kernel, padding):   # window starts that fit, per axis
        return sum(1 for t in range(n + 2 * padding) if t + kernel <= n + 2 * padding)

    standard = np.zeros((c_out, c_in, k, k)).size * positions(size, k, 1) ** 2
    separable = (np.zeros((c_in, 1, k, k)).size * positions(size, k, 1) ** 2
                 + np.zeros((c_out, c_in, 1, 1)).size * positions(size, 1, 0) ** 2)
    sheet.numeric(ratio, sympy.Rational(int(separable), int(standard)),
                  why="separable over standard multiply-adds",
                  method=f"the entries of the NumPy weight arrays times the output positions "
                         f"enumerated on a {size}×{size} map (padding 1 for the 3×3 layers)")

    def torch_modules(torch):
        return [torch.nn.Conv2d(c_in, c_out, k, padding=1, bias=False, device="meta"),
                torch.nn.Conv2d(c_in, c_out, 1, bias=False, device="meta"),
                (torch.nn.Conv2d(c_in, c_in, k, padding=1, groups=c_in, bias=False,
                                 device="meta"),
                 torch.nn.Conv2d(c_in, c_out, 1, bias=False, device="meta"))]

    def torch_ratio(torch):
        mods = torch_modules(torch)

        def macs(layer, x):      # every weight is used once per output position
            y = layer(x)
            return int(layer.weight.numel()) * int(y.shape[-2] * y.shape[-1]), y

        x = torch.zeros(1, c_in, size, size, device="meta")
        standard, _ = macs(mods[0], x)
        depthwise, mid = macs(mods[2][0], x)
        pointwise, _ = macs(mods[2][1], mid)
        return sympy.Rational(depthwise + pointwise, standard)

    def torch_counts(torch):
        return [sum(p.numel() for p in m.parameters()) if not isinstance(m, tuple)
                else sum(p.numel() for q in m for p in q.parameters())
                for m in torch_modules(torch)]

    sheet.numeric_if_installed("torch", ratio, torch_ratio,
                               why="separable over standard multiply-adds",
                               method=f"weights times output positions of PyTorch's Conv2d "
                                      f"layers run on a {size}×{size} input on the meta device")
    sheet.numeric_if_installed("torch", [cost.params for _, cost in layers], torch_counts,
                               why="the parameters of the three layers",
                               method="PyTorch's parameter counts")
    sheet.answer("separable / standard", ratio)


PROBLEM = Problem(
    id="theory-13", set="theory", order=13, title="A CNN checklist, each item an engine check",
    source="Theory notebook, section 13",
    statement=("Six habits that catch most mistakes in convolutional networks. For each, say "
               "why it helps and carry the check out on an example."),
    parts=(
        Part("a", "Name every axis (batch, channel, height, width) and keep track of it.",
             solve_axes, scope=EXPLANATION),
        Part("b", "Recompute the output size whenever a stride, padding or dilation changes.",
             solve_sizes, scope=EXPLANATION),
        Part("c", "Keep parameter counts and FLOP counts apart.", solve_costs,
             scope=EXPLANATION),
        Part("d", "Probe the receptive field with gradients or with controlled inputs.",
             solve_field, scope=EXPLANATION),
        Part("e", "Look at activation statistics and watch for dead channels.",
             solve_statistics, scope=EXPLANATION),
        Part("f", "When optimizing, weigh standard, 1×1 and depthwise-separable convolutions "
                  "against each other.", solve_compare, scope=EXPLANATION),
    ),
)
