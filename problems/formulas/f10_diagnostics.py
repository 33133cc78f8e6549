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
_KINDS = {"conv": "convolution", "maxpool": "max pooling"}


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
    sheet.text("Relation: a convolution maps a batch of $N$ images with $C_in$ channels of "
               "$H$×$W$ to $N$ outputs with $C_out$ channels of $H_out$×$W_out$, with $H_out$ "
               "and $W_out$ from section 2.4; pooling keeps the channels. Writing these four "
               "numbers (batch, channels, height, width) after every layer catches most "
               "implementation errors. Symbols as in section 2.4, $N$ batch, $C_out$ output "
               "channels.")
    sheet.claim(sympy.ImmutableMatrix([list(shape)]),
                sympy.ImmutableMatrix([[N, c_out, output_size(H, K, P, S, D),
                                        output_size(W, K, P, S, D)]]), assume=["P >= 0"],
                why="the output shape of the model (batch, channels, height, width) against "
                    "the output-size formula on each axis")
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
                [(_KINDS[kind], k, s, p, tuple(e)) for (kind, k, s, p), e in zip(NET, engine)],
                caption="A small test network and the shapes (batch, channels, height, width) "
                        "from the engine's size formulas for a batch of 2 images with 3 "
                        "channels of 20×15; every convolution has 8 output channels.")
    sheet.numeric([v for e in engine for v in e], [v for e in numpy_shapes for v in e],
                  method="the shapes of the arrays NumPy produces when the layers are run",
                  why="the four shapes above, listed one after the other")
    sheet.answer("output shape", sympy.Tuple(*shape))


# ------------------------------------------------------------------------------ 10.2
def solve_10_2(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    w, a, b = (sympy.Symbol(n, real=True) for n in ("w", "a", "b"))
    v = (w - a) / (b - a)
    assume = ["w real", "a real", "b real", "b > a"]
    sheet.text("Relation: to display a filter, each weight $w$ is rescaled to "
               "$v == (w - a)/(b - a)$ with $a$ and $b$ the smallest and the largest weight of "
               "the filter, which maps the smallest weight to 0 (black), the largest to 1 "
               "(white) and preserves the order. Symbols: $w$ a weight, $a < b$ the filter's "
               "minimum and maximum (a constant filter is shown flat).")
    with sympy.evaluate(False):
        at_min = (a - a) / (b - a)
        at_max = (b - a) / (b - a)
    sheet.claim(at_min, 0, assume=assume, why="the minimum weight maps to 0")
    sheet.claim(at_max, 1, assume=assume, why="the maximum weight maps to 1")
    w2 = sympy.Symbol("w_2", real=True)
    with sympy.evaluate(False):
        step = v.xreplace({w: w2}) - v
    sheet.claim(step, (w2 - w) / (b - a), assume=assume + ["w_2 real"],
                why="the map is increasing (slope $(b - a)**(-1) > 0$), so $a <= w <= b$ "
                    "gives $0 <= v <= 1$ and the order of the weights is kept")
    rng = np.random.default_rng(SEED)
    bank = rng.standard_normal((16, 3, 5, 5))
    flat = bank.reshape(16, -1)
    lo, hi = flat.min(axis=1, keepdims=True), flat.max(axis=1, keepdims=True)
    shown = (flat - lo) / (hi - lo)
    sheet.numeric(_ints(np.stack([shown.min(axis=1), shown.max(axis=1)], axis=1)).ravel(),
                  np.array([0, 1] * 16),
                  method="0 and 1 for every filter",
                  why="the smallest and the largest value of each rescaled filter of a bank of "
                      "16 filters of 3×5×5 standard-normal weights (NumPy's default generator, "
                      f"seed {SEED})")
    sheet.numeric(np.argsort(shown, axis=1).ravel(), np.argsort(flat, axis=1).ravel(),
                  method="the order of the original weights of each filter (NumPy's argsort)",
                  why="the order of the rescaled weights of each filter")
    sheet.answer("min-max scaling", sympy.Eq(sympy.Symbol("v"), v))


# ------------------------------------------------------------------------------ 10.3
def solve_10_3(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    z = sympy.Symbol("z", real=True)
    density = sympy.exp(-z**2 / 2) / sympy.sqrt(2 * sympy.pi)
    sheet.text("Relation: for a standard-normal pre-activation $Z$, the ReLU output has mean "
               "$sqrt(2*pi)**(-1)$ (about 0.399), second moment $Rational(1, 2)$, so variance "
               "$Rational(1, 2) - (2*pi)**(-1)$, and is exactly zero half of the time. "
               "Channels whose zero fraction is near 1 are dead; a mean far from these values "
               "points at a poor initialisation or a shifted input. Symbols: $z$ real, the "
               "value of $Z$.")
    mean = sympy.Integral(z * density, (z, 0, sympy.oo))
    second = sympy.Integral(z**2 * density, (z, 0, sympy.oo))
    dead = sympy.Integral(density, (z, -sympy.oo, 0))
    values = {name: sympy.simplify(e.doit()) for name, e in
              (("mean", mean), ("second", second), ("dead", dead))}
    E, P, relu = sympy.Function("E"), sympy.Function("P"), sympy.Function("ReLU")
    Z = sympy.Symbol("Z")
    sheet.derive(E(relu(Z)), [(mean, "the rectifier is $z$ for $z > 0$ and $0$ otherwise; "
                                     "$Z$ has the standard normal density"),
                              (values["mean"], "evaluate the integral (SymPy)")])
    sheet.derive(E(relu(Z) ** 2), [(second, "the square of the positive part"),
                                   (values["second"], "evaluate the integral (SymPy)")])
    sheet.derive(P(sympy.Eq(relu(Z), 0, evaluate=False)),
                 [(dead, "the rectifier is $0$ exactly when $z <= 0$"),
                  (values["dead"], "evaluate the integral (SymPy)")])
    variance = values["second"] - values["mean"] ** 2
    rng = np.random.default_rng(SEED)
    samples = np.maximum(rng.standard_normal(400_000), 0.0)
    tol = 5e-3                 # about 5 standard errors at this sample size
    sheet.numeric([float(samples.mean()), float((samples**2).mean()),
                   float((samples == 0).mean())],
                  [float(values["mean"]), float(values["second"]), float(values["dead"])],
                  tol=tol,
                  method="the derived values",
                  why="mean, second moment and zero fraction of 400,000 rectified "
                      "standard-normal samples (NumPy's default generator, seed 0); the "
                      "tolerance is about five standard errors")
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
    sheet.text("Relation: output $f$ of a network with receptive field $R$, jump $J$ and "
               "effective padding $P_0$ (section 5.2: the sum over the layers of the padding "
               "$p[l]$ times the product of the strides below layer $l$) depends on the input "
               "positions from $J*f - P_0$ to $J*f - P_0 + R - 1$ (clipped to the image), and "
               "on no others: the gradient of that output with respect to the input is zero "
               "outside this interval. Symbols: $k[l]$, $s[l]$, $p[l]$ kernel, stride and "
               "padding of layer $l$; $f$ an output index.")
    sheet.claim(sympy.ImmutableMatrix([[first, last]]),
                sympy.ImmutableMatrix([[s[1] * s[2] * f - p[1] - p[2] * s[1],
                                        s[1] * s[2] * f - p[1] - p[2] * s[1]
                                        + (k[1] - 1) + (k[2] - 1) * s[1]]]),
                why="the engine's interval for two layers (first and last input position) "
                    "against the closed forms")
    layers = [Layer(kind if kind == "conv" else "maxpool", kernel=kk, stride=ss, padding=pp)
              for kind, kk, ss, pp in NET]
    rf = receptive_field(layers)
    length = 40
    units = (2, 3, 4)
    predicted = [list(rf.interval(u)) for u in units]
    measured = [list(_gradient_rows(length, u)) for u in units]
    sheet.numeric([v for pair in predicted for v in pair], [v for pair in measured for v in pair],
                  method="the first and last nonzero rows of the input gradient of those "
                         "outputs (derived backward formulas, NumPy; all-ones kernels, the "
                         "pooling replaced by the average over the same window)",
                  why=f"the first and last input rows of output rows "
                      f"{', '.join(str(u) for u in units)} of the test network of section "
                      f"10.1 on a {length}×{length} image")
    sheet.answer("input interval of output f", sympy.Tuple(first, last))
    sheet.answer("test network: field, jump, effective padding",
                 sympy.Tuple(rf.size, rf.jump, rf.start))


# ------------------------------------------------------------------------------ 10.5
def solve_10_5(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import (
        batch_norm_cost, conv_cost, depthwise_separable_cost, stacked_3x3_vs_5x5,
    )
    from derive.symbols import sym

    c = 64

    def entries(*shapes):
        return int(sum(np.zeros(s, dtype=np.int8).size for s in shapes))

    variants = [
        ("3×3 convolution", conv_cost(c, c, 3, 1, bias=False, convention="mac").params,
         entries((c, c, 3, 3))),
        ("5×5 convolution", conv_cost(c, c, 5, 1, bias=False, convention="mac").params,
         entries((c, c, 5, 5))),
        ("two 3×3 convolutions (the field of one 5×5)",
         2 * conv_cost(c, c, 3, 1, bias=False, convention="mac").params,
         entries((c, c, 3, 3), (c, c, 3, 3))),
        ("3×3 depthwise, then 1×1",
         depthwise_separable_cost(c, c, 3, 1, convention="mac").params,
         entries((c, 1, 3, 3), (c, c, 1, 1))),
        ("3×3 convolution and batch norm",
         (conv_cost(c, c, 3, 1, bias=False, convention="mac")
          + batch_norm_cost(c, 1, convention="mac")).params,
         entries((c, c, 3, 3), (c,), (c,))),
        ("residual: 3×3 convolution and identity shortcut",
         conv_cost(c, c, 3, 1, bias=False, convention="mac").params, entries((c, c, 3, 3))),
    ]
    sheet.text("Relation: an ablation changes one design choice at a time; its parameter "
               "cost follows from the counts of section 3: $K**2*C**2$ for a $K$×$K$ layer, "
               "$(K**2 + C)*C$ for a depthwise-separable one, $2*C$ more for batch norm, "
               "nothing more for an identity shortcut. Two stacked 3×3 layers see as far as "
               "one 5×5 (section 5.2) with $Rational(18, 25)$ of its weights. Symbols: "
               "$C == 64$ channels in and out, no biases.")
    identity = stacked_3x3_vs_5x5("params")
    C = sym("C")
    three = conv_cost(C, C, 3, 1, bias=False, convention="mac").params
    five = conv_cost(C, C, 5, 1, bias=False, convention="mac").params
    sheet.derive("two 3 by 3 over one 5 by 5", [
        (sympy.Mul(sympy.Add(three, three, evaluate=False), sympy.Pow(five, -1, evaluate=False),
                   evaluate=False),
         "the engine's parameter counts of two 3×3 layers over that of one 5×5 layer, $C$ "
         "channels in and out"),
        (sympy.Mul(18 * C**2, sympy.Pow(25 * C**2, -1, evaluate=False), evaluate=False),
         "add the two counts"),
        (identity.rhs, "cancel $C**2$")])
    sheet.table(["variant", "parameters (engine)"], [(n, e) for n, e, _ in variants],
                caption="Parameter counts of the ablation variants at $C == 64$.")
    sheet.numeric([e for _, e, _ in variants], [r for _, _, r in variants],
                  method="the entries of the weight (and batch-norm) arrays of each variant "
                         "(NumPy)",
                  why="the six counts of the table, in order")
    sheet.numeric(identity.rhs, sympy.Rational(variants[2][2], variants[1][2]),
                  method="the entries of the two 3×3 weight arrays over those of the 5×5 array",
                  why="the ratio derived above, at $C == 64$")
    sheet.answer("two 3 by 3 layers over one 5 by 5", identity.rhs)


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
