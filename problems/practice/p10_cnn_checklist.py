"""Practice exercise 10: four debugging checks for a CNN, each run by the engine.

Each part is one item of a checklist: why the check catches mistakes (an explanation), and
the check carried out on a small example with an independent cross-check: axis bookkeeping
(the indexed-sum model's shapes), output sizes (the size rule against enumeration),
receptive fields (the recurrence against controlled single-pixel perturbations) and
activation statistics (the derived fraction of zeros after a ReLU against a seeded sample,
which exposes a dead channel).
"""

from derive.book import EXPLANATION, Part, Problem, Sheet

# (a) a strided layer on a batch of small RGB images
BATCH, C_IN, SIZE, C_OUT, KERNEL, STRIDE, PAD = 8, 3, 32, 16, 3, 2, 1
# (c) a stack of 3x3 convolutions, strides 1, 2, 1, no padding
STACK = (1, 2, 1)
# (d) one 3x3 layer with unit-norm filters on standard normal inputs; channel biases
BIASES = ("0", "0.5", "-6", "-1")
SEED = 0


def solve_axes(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.model import conv_model
    from derive.numeric import conv2d

    sheet.explain("A convolution treats its axes differently: it sums over the input "
                  "channels and slides over height and width, while the batch axis is never "
                  "mixed. An array in the wrong axis order is either refused or, worse, "
                  "silently misread (a width of 32 taken for 32 channels). Writing every "
                  "tensor's shape out with named axes, and checking it against what the "
                  "layer expects, catches this at the first layer.",
                  rests_on=["the model's shapes below"])
    sheet.text("The engine's indexed-sum model names every axis; its shapes, in (batch, "
               "channel, height, width) order:")
    general = conv_model(2)
    sheet.table(["tensor", "shape (N, C, H, W order)"],
                [("input $x$", general.input_shape), ("weight $w$", general.weight_shape),
                 ("output $y$", general.output_shape)],
                caption="Symbolic shapes of a 2D convolution (dilation $D$, one group).")
    model = conv_model(2, size=SIZE, kernel=KERNEL, stride=STRIDE, padding=PAD, dilation=1,
                       batch=BATCH, in_channels=C_IN, out_channels=C_OUT)
    shape = model.output_shape
    sheet.text(f"The example: a batch of {BATCH} RGB images of {SIZE}×{SIZE} pixels goes "
               f"through {C_OUT} filters of {KERNEL}×{KERNEL} at stride {STRIDE} with padding "
               f"{PAD}. Only the shapes matter for this check, so the arrays are all zeros.")
    sheet.table(["tensor", "shape (N, C, H, W order)"],
                [("input $x$", model.input_shape), ("weight $w$", model.weight_shape),
                 ("output $y$", shape)],
                caption="The example's tensors; the output shape is the model's.")
    x = np.zeros(model.input_shape)
    y = conv2d(x, np.zeros(model.weight_shape), stride=STRIDE, padding=PAD)
    sheet.numeric(tuple(shape), tuple(y.shape), why="the output shape",
                  method="the shape of a NumPy convolution of a zero batch")
    sheet.numeric_if_installed(
        "torch", tuple(shape),
        lambda torch: tuple(torch.nn.functional.conv2d(
            torch.zeros(model.input_shape), torch.zeros(model.weight_shape), stride=STRIDE,
            padding=PAD).shape),
        method="the output shape of PyTorch's conv2d", why="the output shape")
    try:
        conv2d(np.zeros((BATCH, SIZE, SIZE, C_IN)), np.zeros(model.weight_shape))
    except ValueError:
        refused = True
    else:
        refused = False
    if not refused:
        raise AssertionError("the channels-last batch was not refused")
    sheet.text(f"Fed the same batch in channels-last order (N, H, W, C), the convolution "
               f"refuses it: the array's second axis has {SIZE} entries where the weight "
               f"expects {C_IN} input channels.")
    sheet.answer("output shape", tuple(shape))


def solve_sizes(sheet: Sheet) -> None:
    import itertools

    from derive.conv.shapes import output_size
    from derive.symbols import syms

    sheet.explain("Every stride, padding or dilation changes the spatial size, and a wrong "
                  "size is found only later, when a reshape or a dense layer fails, or never, "
                  "when a size happens to fit. Recomputing each layer's size from the rule, "
                  "and comparing it with the size the framework actually produces, pins a "
                  "mistake to the layer that made it.",
                  rests_on=["the size rule", "the enumeration below"])
    h, k, p, s, d = syms("H K P S D")
    rule = output_size(h, k, p, s, d)
    configs = [(n, kk, pp, ss, dd) for n, kk, pp, ss, dd in itertools.product(
        range(1, 13), range(1, 5), range(0, 3), range(1, 4), range(1, 3))
        if dd * (kk - 1) + 1 <= n + 2 * pp]
    engine = [output_size(*c) for c in configs]

    def windows(n, kk, pp, ss, dd):   # window starts whose last tap stays inside
        return sum(1 for start in range(0, n + 2 * pp, ss) if start + dd * (kk - 1) < n + 2 * pp)

    brute = [windows(*c) for c in configs]
    sheet.text(f"The rule is compared with an enumeration of the window positions in every "
               f"configuration with $H <= 12$, $K <= 4$, $P <= 2$, $S <= 3$ and $D <= 2$ in "
               f"which the dilated window fits the padded input: {len(configs)} "
               "configurations.")
    sheet.numeric(engine, brute, why="output sizes of all the configurations",
                  method="enumeration of the window start positions")

    def forgetful(n, kk, pp, ss, dd):  # the rule with the dilation left out
        return (n + 2 * pp - kk) // ss + 1

    wrong = sum(1 for c, b in zip(configs, brute) if forgetful(*c) != b)
    examples = [(32, 3, 1, 1, 1), (32, 3, 1, 2, 1), (32, 3, 2, 1, 2), (7, 3, 0, 2, 1)]
    sheet.table(["$H$", "$K$", "$P$", "$S$", "$D$", "$H_out$ by the rule",
                 "by enumeration", "dilation left out"],
                [(*c, output_size(*c), windows(*c), forgetful(*c)) for c in examples],
                caption="A few configurations; the last column uses "
                        "$floor((H + 2*P - K)/S) + 1$, which forgets the dilation.")
    sheet.text(f"The formula that forgets the dilation disagrees with the enumeration in "
               f"{wrong} of the {len(configs)} configurations (the third row is one): the "
               "check catches it at once.")
    sheet.answer("H_out", rule)


def solve_field(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.layers import Layer
    from derive.conv.receptive import receptive_field, receptive_field_table
    from derive.numeric import conv2d

    sheet.explain("The receptive field says how much of the input one output unit can use; "
                  "too small a field, or one displaced by padding and strides, is a design "
                  "mistake that no shape check reveals. Perturbing one input pixel at a time "
                  "and recording which perturbations move a chosen output unit measures the "
                  "field directly, independently of any formula.",
                  rests_on=["the recurrence", "the perturbation test below"])
    layers = [Layer("conv", kernel=3, stride=s, name=f"layer {n}")
              for n, s in enumerate(STACK, start=1)]
    field = receptive_field(layers)
    sheet.table(["after", "stride", "field $R$", "jump $J$"],
                [(name, s, f.size, f.jump)
                 for (name, f), s in zip(receptive_field_table(layers), STACK)],
                caption="The engine's recurrence: each layer adds $(K - 1)*J$ to the field "
                        "and multiplies the jump by its stride.")
    size = field.size + 2 * field.jump
    rng = np.random.default_rng(SEED)
    # positive integer weights: no cancellation, and exact arithmetic
    weights = [rng.integers(1, 4, size=(1, 1, 3, 3)).astype(float) for _ in STACK]
    sheet.text(f"The network: {len(STACK)} single-channel 3×3 convolutions with strides "
               + ", ".join(map(str, STACK)) + " and no padding, applied to a "
               f"{size}×{size} input of zeros; the kernels are integers from 1 to 3 drawn "
               f"with NumPy's default generator seeded with {SEED} (positive, so no "
               "perturbation can cancel):")
    for n, (w, s) in enumerate(zip(weights, STACK), start=1):
        sheet.matrix(f"w_{n}", w[0, 0].astype(int), caption=f"layer {n}, stride {s}")

    def first_unit(image: np.ndarray) -> float:
        out = image[None, None]
        for w, s in zip(weights, STACK):
            out = conv2d(out, w, stride=s)
        return float(out[0, 0, 0, 0])

    base = np.zeros((size, size))
    moved = [(i, j) for i in range(size) for j in range(size)
             if first_unit(base + np.eye(1, size * size, i * size + j).reshape(size, size))
             != first_unit(base)]
    rows = sorted({i for i, _ in moved})
    cols = sorted({j for _, j in moved})
    sheet.numeric((field.size, field.size), (rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1),
                  why="the field's height and width",
                  method=f"single-pixel perturbations of a {size}×{size} input through NumPy "
                         "convolutions")
    sheet.numeric(field.interval(0), (rows[0], rows[-1]),
                  why="the first and last input row the first unit sees",
                  method="the first and last perturbed row that moves the unit")
    sheet.answer("receptive field", field.size)


def solve_statistics(sheet: Sheet) -> None:
    import numpy as np
    import sympy
    from sympy.stats import Normal, P

    from derive.numeric import conv2d

    sheet.explain("A channel whose pre-activations are always negative outputs zero after the "
                  "ReLU for every input, so it passes no signal and gets no gradient: it is "
                  "dead, and training cannot revive it. Its statistics give it away: the "
                  "fraction of exact zeros is 1 and the spread is 0, while a live channel's "
                  "fraction of zeros follows from the distribution of its pre-activations.",
                  rests_on=["the expected fraction of zeros", "the seeded sample below"])
    sheet.text("With unit-norm filters on standard normal inputs each pre-activation $z$ is "
               "normal with variance 1 and mean equal to the channel's bias $b$, so the "
               "expected fraction of zeros after the ReLU is the probability of $z <= 0$:")
    b = sympy.Symbol("b", real=True)
    z = Normal("z", b, 1)
    zero_fraction = P(z <= 0)
    sheet.derive("fraction of zeros", [(zero_fraction, "$z$ is normal with mean $b$ and "
                                                    "variance 1; the ReLU output is 0 "
                                                    "exactly when $z <= 0$")])
    with sympy.evaluate(False):
        at_zero = zero_fraction.xreplace({b: sympy.Integer(0)})
    sheet.derive("fraction of zeros without bias", [(at_zero, "$b == 0$"),
                                                    (sympy.Rational(1, 2), "erfc(0) = 1")])
    biases = np.array([float(v) for v in BIASES])
    rng = np.random.default_rng(SEED)
    w = rng.standard_normal((len(biases), 1, 3, 3))
    w /= np.sqrt((w ** 2).sum(axis=(1, 2, 3), keepdims=True))
    x = rng.standard_normal((32, 1, 32, 32))
    sheet.text(f"The example: {w.shape[0]} filters of 3×3 on one input channel, with "
               f"standard normal entries scaled to unit norm, biases {', '.join(BIASES)}, on a "
               f"batch of {x.shape[0]} single-channel {x.shape[2]}×{x.shape[3]} standard "
               f"normal images (filters first, then images, drawn with NumPy's default "
               f"generator seeded with {SEED}); no padding.")
    acts = np.maximum(conv2d(x, w, biases), 0.0)
    observed = (acts == 0).mean(axis=(0, 2, 3))
    expected = np.array([float(zero_fraction.subs(b, sympy.Rational(v))) for v in BIASES])
    samples = acts.shape[0] * acts.shape[2] * acts.shape[3]
    # neighbouring outputs share inputs (5x5 = 25 overlapping windows): a conservative
    # standard error of a fraction is sqrt(p(1 - p) * 25 / samples); allow 4 of them
    tol = 4 * float(np.sqrt(0.25 * 25 / samples))
    sheet.numeric([round(float(v), 4) for v in observed],
                  [round(float(v), 4) for v in expected], tol=tol,
                  why="the fraction of zeros, channel by channel",
                  method=f"a seeded sample of {samples} activations per channel against the "
                         "derived probability, both rounded to 4 decimals")
    dead = [c for c, frac in enumerate(observed) if frac == 1.0]
    sheet.table(["channel", "bias", "expected zeros", "observed zeros", "spread (std)"],
                [(c, BIASES[c], f"{expected[c]:.4f}", f"{observed[c]:.4f}",
                  f"{acts[:, c].std():.4f}") for c in range(len(biases))])
    if len(dead) != 1:
        raise AssertionError(f"expected one dead channel, found {len(dead)}")
    sheet.text(f"Channel {dead[0]} never fires: all its activations are zero and their spread "
               "is 0, a dead channel, visible at once in these statistics.")
    sheet.answer("dead channel", dead[0])


PROBLEM = Problem(
    id="practice-10", set="practice", order=10, title="A CNN debugging checklist",
    source="Exercises notebook, exercise 10",
    statement=("Give four checks that catch common mistakes in a convolutional network; for "
               "each one, say why it helps and show how it is carried out."),
    parts=(Part("a", "Keep the batch, channel, height and width axes explicit.", solve_axes,
                scope=EXPLANATION),
           Part("b", "Check each layer's output size against the padding, stride and "
                     "dilation it uses.", solve_sizes, scope=EXPLANATION),
           Part("c", "Probe the receptive field by perturbing single input pixels.",
                solve_field, scope=EXPLANATION),
           Part("d", "Look for dead channels in the activation statistics.", solve_statistics,
                scope=EXPLANATION)),
)
