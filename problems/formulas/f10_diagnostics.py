"""Formula sheet, section 10: diagnostics.

Shapes come from the indexed-sum model and :mod:`derive.conv.shapes`, fields from
:func:`derive.conv.receptive.receptive_field`, ablation counts from :mod:`derive.conv.costs`;
the activation statistics are integrals evaluated by SymPy and checked.  Cross-checks: the
shapes NumPy produces, the support of an input gradient computed with the derived backward
formulas, sampling with a fixed seed, and weight-tensor entry counts.
"""

from derive.book import Part, Problem, Sheet

SEED = 0

# a small network for the shape and receptive-field tests: (kind, kernel, stride, padding)
NET = (("conv", 3, 1, 1), ("conv", 3, 2, 1), ("maxpool", 2, 2, 0), ("conv", 3, 1, 1))


def _ints(a):
    """An integer array when every entry is an integer (float64 arithmetic on small integers
    is exact), so the comparison is exact; otherwise the float array itself."""
    import numpy as np

    a = np.asarray(a, dtype=float)
    return np.rint(a).astype(np.int64) if np.all(a == np.rint(a)) else a


# ------------------------------------------------------------------------------ 10.1
def solve_10_1(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.model import conv_model
    from derive.conv.shapes import output_size, pool_output_size
    from derive.numeric import conv2d, max_pool2d
    from derive.symbols import syms

    N, c_out, H, W, K, P, S, D = syms("N C_out H W K P S D")
    shape = conv_model(2).output_shape
    sheet.text("Relation: a convolution maps an (N, C_in, H, W) batch to (N, C_out, H_out, "
               "W_out) with H_out and W_out from section 2.4; pooling keeps the channels. "
               "Writing these four numbers after every layer catches most implementation "
               "errors. Symbols as in section 2.4, N batch, C_out output channels.")
    sheet.claim(sympy.ImmutableMatrix([list(shape)]),
                sympy.ImmutableMatrix([[N, c_out, output_size(H, K, P, S, D),
                                        output_size(W, K, P, S, D)]]), assume=["P >= 0"],
                why="the shape derived from the model against the output-size formula on "
                    "each axis")
    h, w, c = 20, 15, 3
    engine, numpy_shapes = [], []
    x = np.zeros((2, c, h, w))
    channels = 8
    for kind, k, s, p in NET:
        if kind == "conv":
            h, w, c = output_size(h, k, p, s), output_size(w, k, p, s), channels
            x = conv2d(x, np.zeros((channels, x.shape[1], k, k)), stride=s, padding=p)
        else:
            h, w = pool_output_size(h, k, p, s), pool_output_size(w, k, p, s)
            x = max_pool2d(x, k, s, p)
        engine.append([2, c, h, w])
        numpy_shapes.append(list(x.shape))
    sheet.table(["layer", "kernel", "stride", "padding", "shape after"],
                [(kind, k, s, p, tuple(e)) for (kind, k, s, p), e in zip(NET, engine)],
                caption="Shapes from the engine's size formulas for a 2 x 3 x 20 x 15 batch.")
    sheet.numeric(engine, numpy_shapes,
                  method="shapes of the arrays NumPy produces when the layers are run")
    sheet.answer("output shape", sympy.Tuple(*shape))


# ------------------------------------------------------------------------------ 10.2
def solve_10_2(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    w, a, b = (sympy.Symbol(n, real=True) for n in ("w", "a", "b"))
    v = (w - a) / (b - a)
    assume = ["w real", "a real", "b real", "b > a"]
    sheet.text("Relation: to display a filter, its weights are rescaled by v = (w - a)/(b - a) "
               "with a = min w and b = max w over the filter, which maps the smallest weight "
               "to 0 (black), the largest to 1 (white) and preserves the order. Symbols: w a "
               "weight, a < b the filter's minimum and maximum (a constant filter is shown "
               "flat).")
    with sympy.evaluate(False):
        at_min = (a - a) / (b - a)
        at_max = (b - a) / (b - a)
    sheet.claim(at_min, 0, assume=assume, why="the minimum weight maps to 0")
    sheet.claim(at_max, 1, assume=assume, why="the maximum weight maps to 1")
    w2 = sympy.Symbol("w_2", real=True)
    with sympy.evaluate(False):
        step = v.xreplace({w: w2}) - v
    sheet.claim(step, (w2 - w) / (b - a), assume=assume + ["w_2 real"],
                why="the map is increasing (slope 1/(b - a) > 0), so a <= w <= b gives "
                    "0 <= v <= 1 and the order of the weights is kept")
    rng = np.random.default_rng(SEED)
    bank = rng.standard_normal((16, 3, 5, 5))
    flat = bank.reshape(16, -1)
    lo, hi = flat.min(axis=1, keepdims=True), flat.max(axis=1, keepdims=True)
    shown = (flat - lo) / (hi - lo)
    sheet.numeric(_ints(np.stack([shown.min(axis=1), shown.max(axis=1)], axis=1)).ravel(),
                  np.array([0, 1] * 16),
                  method="NumPy: per-filter minimum and maximum after rescaling a random bank "
                         "of 16 filters of shape 3 x 5 x 5")
    sheet.numeric(np.argsort(shown, axis=1), np.argsort(flat, axis=1),
                  method="NumPy: the order of the weights inside every filter is unchanged")
    sheet.answer("min-max scaling", sympy.Eq(sympy.Symbol("v"), v))


# ------------------------------------------------------------------------------ 10.3
def solve_10_3(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    z = sympy.Symbol("z", real=True)
    density = sympy.exp(-z**2 / 2) / sympy.sqrt(2 * sympy.pi)
    sheet.text("Relation: for a pre-activation Z ~ N(0, 1), the ReLU output has mean "
               "E[ReLU(Z)] = 1/sqrt(2 pi) ~ 0.399, second moment 1/2, so variance "
               "1/2 - 1/(2 pi), and is exactly zero half of the time. Channels whose "
               "zero fraction is near 1 are dead; a mean far from these values points at a "
               "poor initialisation or a shifted input. Symbols: z real, phi the standard "
               "normal density.")
    mean = sympy.Integral(z * density, (z, 0, sympy.oo))
    second = sympy.Integral(z**2 * density, (z, 0, sympy.oo))
    dead = sympy.Integral(density, (z, -sympy.oo, 0))
    values = {name: sympy.simplify(e.doit()) for name, e in
              (("mean", mean), ("second", second), ("dead", dead))}
    sheet.derive("E[ReLU(Z)]", [(mean, "ReLU(z) = z for z > 0 and 0 otherwise"),
                                (values["mean"], "evaluate the integral (SymPy)")])
    sheet.derive("E[ReLU(Z)^2]", [(second, "square of the positive part"),
                                  (values["second"], "evaluate the integral (SymPy)")])
    sheet.derive("P(ReLU(Z) = 0)", [(dead, "ReLU(z) = 0 exactly when z <= 0"),
                                    (values["dead"], "evaluate the integral (SymPy)")])
    variance = values["second"] - values["mean"] ** 2
    rng = np.random.default_rng(SEED)
    samples = np.maximum(rng.standard_normal(400_000), 0.0)
    tol = 5e-3                 # about 5 standard errors at this sample size
    sheet.numeric([float(samples.mean()), float((samples**2).mean()),
                   float((samples == 0).mean())],
                  [float(values["mean"]), float(values["second"]), float(values["dead"])],
                  tol=tol,
                  method="400,000 samples with seed 0 (NumPy); tolerance about five standard "
                         "errors")
    sheet.answer("mean", values["mean"])
    sheet.answer("variance", variance)
    sheet.answer("zero fraction", values["dead"])


# ------------------------------------------------------------------------------ 10.4
def _gradient_rows(length: int, unit: int) -> tuple[int, int]:
    """First and last input rows on which the gradient of output row ``unit`` (column 0 of
    the last layer) is nonzero, through NET, from the derived backward formulas (NumPy)."""
    import numpy as np

    from derive.numeric import conv2d, conv2d_backward

    acts = [np.random.default_rng(SEED).random((1, 1, length, length)) + 0.5]
    for kind, k, s, p in NET:
        if kind == "conv":
            acts.append(conv2d(acts[-1], np.ones((1, 1, k, k)), stride=s, padding=p))
        else:       # pooling is replaced by its average: the same windows, all taps active
            acts.append(conv2d(acts[-1], np.full((1, 1, k, k), 1.0 / (k * k)), stride=s,
                               padding=p))
    grad = np.zeros_like(acts[-1])
    grad[0, 0, unit, grad.shape[3] // 2] = 1.0
    for level in range(len(NET), 0, -1):
        kind, k, s, p = NET[level - 1]
        w = np.ones((1, 1, k, k)) if kind == "conv" else np.full((1, 1, k, k), 1.0 / (k * k))
        grad = conv2d_backward(acts[level - 1], w, grad, stride=s, padding=p)[0]
    rows = np.nonzero(np.abs(grad[0, 0]).sum(axis=1))[0]
    return int(rows.min()), int(rows.max())


def solve_10_4(sheet: Sheet) -> None:
    import sympy

    from derive.conv.layers import Layer
    from derive.conv.receptive import receptive_field

    k, s, p = (sympy.IndexedBase(n) for n in ("k", "s", "p"))
    f = sympy.Symbol("f", integer=True, nonnegative=True)
    two = [Layer("conv", kernel=k[1], stride=s[1], padding=p[1]),
           Layer("conv", kernel=k[2], stride=s[2], padding=p[2])]
    field = receptive_field(two)
    first, last = field.interval(f)
    sheet.text("Relation: output f of a network with receptive field R, jump J and effective "
               "padding P_0 = sum_l p_l prod_(i<l) s_i depends on input positions J f - P_0 "
               "to J f - P_0 + R - 1 (clipped to the image), and on no others: the gradient "
               "of that output with respect to the input is zero outside this interval. "
               "Symbols: k_l, s_l, p_l kernel, stride and padding of layer l; f an output "
               "index.")
    sheet.claim(sympy.ImmutableMatrix([[first, last]]),
                sympy.ImmutableMatrix([[s[1] * s[2] * f - p[1] - p[2] * s[1],
                                        s[1] * s[2] * f - p[1] - p[2] * s[1]
                                        + (k[1] - 1) + (k[2] - 1) * s[1]]]),
                why="the engine's interval for two layers against the closed forms")
    layers = [Layer(kind if kind == "conv" else "maxpool", kernel=kk, stride=ss, padding=pp)
              for kind, kk, ss, pp in NET]
    rf = receptive_field(layers)
    length = 40
    units = (2, 3, 4)
    predicted = [list(rf.interval(u)) for u in units]
    measured = [list(_gradient_rows(length, u)) for u in units]
    sheet.numeric(predicted, measured,
                  method=f"nonzero rows of the input gradient of output rows {units} of the "
                         f"network {[(kk, ss, pp) for _, kk, ss, pp in NET]} on a "
                         f"{length} x {length} image (derived backward formulas, NumPy)")
    sheet.answer("input interval of output f", sympy.Tuple(first, last))
    sheet.answer("test network: R, J, P_0", sympy.Tuple(rf.size, rf.jump, rf.start))


# ------------------------------------------------------------------------------ 10.5
def solve_10_5(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import (
        batch_norm_cost, conv_cost, depthwise_separable_cost, stacked_3x3_vs_5x5,
    )

    c = 64

    def entries(*shapes):
        return int(sum(np.zeros(s, dtype=np.int8).size for s in shapes))

    variants = [
        ("3x3 conv", conv_cost(c, c, 3, 1, bias=False, convention="mac").params,
         entries((c, c, 3, 3))),
        ("5x5 conv", conv_cost(c, c, 5, 1, bias=False, convention="mac").params,
         entries((c, c, 5, 5))),
        ("two 3x3 convs (same field as 5x5)",
         2 * conv_cost(c, c, 3, 1, bias=False, convention="mac").params,
         entries((c, c, 3, 3), (c, c, 3, 3))),
        ("3x3 depthwise + 1x1", depthwise_separable_cost(c, c, 3, 1, convention="mac").params,
         entries((c, 1, 3, 3), (c, c, 1, 1))),
        ("3x3 conv + batch norm",
         (conv_cost(c, c, 3, 1, bias=False, convention="mac")
          + batch_norm_cost(c, 1, convention="mac")).params,
         entries((c, c, 3, 3), (c,), (c,))),
        ("residual: 3x3 conv + identity shortcut",
         conv_cost(c, c, 3, 1, bias=False, convention="mac").params, entries((c, c, 3, 3))),
    ]
    sheet.text("Relation: an ablation changes one design choice at a time; its parameter "
               "cost follows from the counts of section 3: K^2 C^2 per K x K layer, "
               "(K^2 + C) C for a depthwise-separable one, + 2C for batch norm, + 0 for an "
               "identity shortcut. Two stacked 3x3 layers see as far as one 5x5 (section 5.2) "
               "with 18/25 of its weights. Symbols: C = 64 channels in and out, no biases.")
    identity = stacked_3x3_vs_5x5("params")
    sheet.derive("two 3x3 / one 5x5", list(identity.steps))
    sheet.table(["variant", "parameters (engine)"], [(n, e) for n, e, _ in variants],
                caption="Parameter counts of the ablation variants at C = 64.")
    sheet.numeric([e for _, e, _ in variants], [r for _, _, r in variants],
                  method="entries of the weight (and batch-norm) arrays of each variant")
    sheet.numeric(identity.rhs, sympy.Rational(variants[2][2], variants[1][2]),
                  method="the proved ratio against the entries of the two-3x3 weight arrays "
                         "over those of the 5x5 array")
    sheet.answer("two 3x3 / one 5x5", identity.rhs)


PROBLEM = Problem(
    id="formulas-10", set="formulas", order=10, title="Diagnostics",
    source="Chapter notes, section 10",
    statement="Checks that catch the usual mistakes in convolutional models.",
    parts=(
        Part("10.1", "Shape checks: follow the batch, channel, height and width axes through "
                     "the network.",
             solve_10_1),
        Part("10.2", "Kernel visualisation: displaying learned filters as images. How are "
                     "weights turned into grey levels?",
             solve_10_2),
        Part("10.3", "Activation statistics: what healthy ReLU outputs look like, so that "
                     "dead or saturated channels stand out.",
             solve_10_3),
        Part("10.4", "Receptive-field test: confirm which input pixels an output can see.",
             solve_10_4),
        Part("10.5", "Ablations: change one design choice at a time (kernel size, "
                     "factorisation, residuals, normalisation) and count the cost.",
             solve_10_5),
    ),
)
