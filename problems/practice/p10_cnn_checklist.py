"""Practice exercise 10: four debugging checks for a CNN, each run by the engine.

Each part names one check, the engine function that performs it, and runs it on a small
example with an independent cross-check: axis bookkeeping (the indexed-sum model's shapes),
output sizes (the size rule against enumeration), receptive fields (the recurrence against
controlled single-pixel perturbations) and activation statistics (the derived fraction of
zeros after a ReLU against a seeded sample, which exposes a dead channel).
"""

from derive.book import Part, Problem, Sheet

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

    sheet.text("Engine function: derive.conv.model.conv_model, whose input_shape, "
               "weight_shape and output_shape are read off the indexed sum in NCHW order.")
    general = conv_model(2)
    sheet.table(["tensor", "shape (N, C, H, W order)"],
                [("input x", general.input_shape), ("weight w", general.weight_shape),
                 ("output y", general.output_shape)],
                caption="Symbolic shapes of a 2D convolution (dilation D, groups 1).")
    model = conv_model(2, size=SIZE, kernel=KERNEL, stride=STRIDE, padding=PAD, dilation=1,
                       batch=BATCH, in_channels=C_IN, out_channels=C_OUT)
    shape = model.output_shape
    x = np.zeros(model.input_shape)
    y = conv2d(x, np.zeros(model.weight_shape), stride=STRIDE, padding=PAD)
    sheet.numeric(tuple(shape), tuple(y.shape),
                  method="shape of a NumPy convolution of a zero batch")
    try:
        import torch
    except ImportError:  # PyTorch is optional
        torch = None
    if torch is not None:
        out = torch.nn.functional.conv2d(torch.zeros(model.input_shape),
                                         torch.zeros(model.weight_shape), stride=STRIDE,
                                         padding=PAD)
        sheet.numeric(tuple(shape), tuple(out.shape),
                      method="shape of torch.nn.functional.conv2d (PyTorch installed)")
    try:
        conv2d(np.zeros((BATCH, SIZE, SIZE, C_IN)), np.zeros(model.weight_shape))
        message = "no error"
    except ValueError as exc:
        message = str(exc)
    sheet.text(f"Feeding the same batch in channels-last order (N, H, W, C) is caught by the "
               f"axis check instead of silently producing nonsense: {message}.")
    sheet.answer("output shape", tuple(shape))


def solve_sizes(sheet: Sheet) -> None:
    import itertools

    from derive.check.engine import verify
    from derive.conv.shapes import output_size

    sheet.text("Engine function: derive.conv.shapes.output_size (proved equal to the count "
               "read off the model); here it is compared with enumeration of window "
               "positions for every small configuration.")
    configs = [(n, k, p, s, d) for n, k, p, s, d in itertools.product(
        range(1, 13), range(1, 5), range(0, 3), range(1, 4), range(1, 3))
        if d * (k - 1) + 1 <= n + 2 * p]
    engine = [output_size(n, k, padding=p, stride=s, dilation=d) for n, k, p, s, d in configs]
    brute = [sum(1 for start in range(0, n + 2 * p, s) if start + d * (k - 1) < n + 2 * p)
             for n, k, p, s, d in configs]
    sheet.numeric(engine, brute, method=f"enumeration of window starts, all {len(configs)} "
                                        "configurations with n <= 12, k <= 4, p <= 2, s <= 3, "
                                        "d <= 2")
    sheet.table(["H", "K", "P", "S", "D", "H_out"],
                [(n, k, p, s, d, output_size(n, k, padding=p, stride=s, dilation=d))
                 for n, k, p, s, d in [(32, 3, 1, 1, 1), (32, 3, 1, 2, 1), (32, 3, 2, 1, 2),
                                       (7, 3, 0, 2, 1)]],
                caption="A few configurations.")
    wrong = verify("floor((H + 2*P - K)/S) + 1 == floor((H + 2*P - D*(K - 1) - 1)/S) + 1",
                   assume=["P >= 0"])
    where = ", ".join(f"{k}={v}" for k, v in sorted((wrong.counterexample or {}).items()))
    sheet.text(f"A formula that forgets the dilation is {wrong.status.value} by the checker"
               + (f" (counterexample {where})" if where else "") + ".")
    sheet.answer("configurations checked", len(configs))


def solve_field(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.layers import Layer
    from derive.conv.receptive import receptive_field
    from derive.numeric import conv2d

    sheet.text("Engine function: derive.conv.receptive.receptive_field (the size/jump/start "
               "recurrence). The controlled-input test perturbs one input pixel at a time and "
               "records which perturbations move the first output unit.")
    layers = [Layer("conv", kernel=3, stride=s) for s in STACK]
    field = receptive_field(layers)
    size = field.size + 2 * field.jump
    rng = np.random.default_rng(SEED)
    weights = [rng.random((1, 1, 3, 3)) + 0.1 for _ in STACK]   # positive: no cancellation

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
                  method=f"single-pixel perturbations of a {size}x{size} input through "
                         "NumPy convolutions")
    sheet.numeric(field.interval(0), (rows[0], rows[-1]),
                  method="first and last perturbed row that moves the unit")
    sheet.answer("receptive field", field.size)


def solve_statistics(sheet: Sheet) -> None:
    import numpy as np
    import sympy
    from sympy.stats import Normal, P

    from derive.numeric import conv2d

    sheet.text("Engine function: derive.numeric.conv2d produces the activations; the "
               "statistic is the fraction of exact zeros per channel after a ReLU. With "
               "unit-norm filters on standard normal inputs each pre-activation is normal "
               "with variance 1 and mean equal to the channel's bias b, so the expected "
               "fraction of zeros is P(z <= 0):")
    b = sympy.Symbol("b", real=True)
    z = Normal("z", b, 1)
    zero_fraction = P(z <= 0)
    sheet.derive("P(ReLU(z) = 0)", [(zero_fraction, "z ~ Normal(b, 1) (sympy.stats); ReLU(z) "
                                                    "is 0 exactly when z <= 0")])
    with sympy.evaluate(False):
        at_zero = zero_fraction.xreplace({b: sympy.Integer(0)})
    sheet.derive("P(ReLU(z) = 0) at b = 0", [(at_zero, "a channel without bias"),
                                             (sympy.Rational(1, 2), "erfc(0) = 1")])
    biases = np.array([float(v) for v in BIASES])
    rng = np.random.default_rng(SEED)
    w = rng.standard_normal((len(biases), 1, 3, 3))
    w /= np.sqrt((w ** 2).sum(axis=(1, 2, 3), keepdims=True))
    x = rng.standard_normal((32, 1, 32, 32))
    acts = np.maximum(conv2d(x, w, biases), 0.0)
    observed = (acts == 0).mean(axis=(0, 2, 3))
    expected = np.array([float(zero_fraction.subs(b, sympy.Rational(v))) for v in BIASES])
    samples = acts.shape[0] * acts.shape[2] * acts.shape[3]
    # neighbouring outputs share inputs (5x5 = 25 overlapping windows): a conservative
    # standard error of a fraction is sqrt(p(1 - p) * 25 / samples); allow 4 of them
    tol = 4 * float(np.sqrt(0.25 * 25 / samples))
    sheet.numeric([round(float(v), 4) for v in observed],
                  [round(float(v), 4) for v in expected], tol=tol,
                  method=f"seeded sample (seed {SEED}), {samples} activations per channel, "
                         "both sides rounded to 4 decimals")
    dead = [c for c, frac in enumerate(observed) if frac == 1.0]
    sheet.table(["channel", "bias", "expected zeros", "observed zeros"],
                [(c, BIASES[c], f"{expected[c]:.4f}", f"{observed[c]:.4f}")
                 for c in range(len(biases))])
    sheet.text(f"Channel(s) {dead} never fire: a dead channel, visible at once in these "
               "statistics.")
    sheet.answer("dead channels", tuple(dead))


PROBLEM = Problem(
    id="practice-10", set="practice", order=10, title="A CNN debugging checklist",
    source="Exercises notebook, exercise 10",
    statement=("Give four checks that catch common mistakes in a convolutional network, and "
               "for each one show how it is carried out."),
    parts=(Part("a", "Keep the batch, channel, height and width axes explicit.", solve_axes),
           Part("b", "Check each layer's output size against the padding, stride and "
                     "dilation it uses.", solve_sizes),
           Part("c", "Probe the receptive field by perturbing single input pixels.",
                solve_field),
           Part("d", "Look for dead channels in the activation statistics.", solve_statistics)),
)
