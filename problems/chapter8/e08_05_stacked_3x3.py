"""Exercise 8.5: two stacked 3x3 convolutions against one 5x5 convolution.

(a) The receptive field of two stacked K x K layers is derived symbolically from the
receptive-field recurrence (:mod:`derive.conv.receptive`), and so is that of one
(2K - 1) x (2K - 1) layer; the last input position of the window is derived from the taps of
both layers and checked against the single layer's window.  At K = 3 the field is 5.
Cross-checks: walking back from one output unit (set enumeration), and the composition of
two linear 3x3 layers computed as a single 5x5 kernel (proved in 1D with symbolic weights,
tested in 2D with NumPy on small integers, so exactly).
(b) The parameter ratio 18/25 from the weight counts, every step checked against the
engine's cost model, with the counts cross-checked on NumPy weight arrays (and PyTorch where
installed; the page is the same either way).
(c) An explanation resting on the facts of (a) and (b).
"""

from derive.book import EXPLANATION, Part, Problem, Sheet, written

KERNEL = 3
CHANNELS = (64, 256)   # channel counts for the numeric cross-check of (b)


def _walk_back(kernels: list[int], unit: int = 0) -> set[int]:
    """Brute force: input positions one output unit of stride-1 layers depends on."""
    seen = {unit}
    for k in reversed(kernels):
        seen = {i + u for i in seen for u in range(k)}
    return seen


def _full_conv2d(a, b):
    """The kernel of the composition: c[t] = sum over u + v = t of a[u] * b[v] (2D loops)."""
    import numpy as np

    ka, kb = a.shape[0], b.shape[0]
    c = np.zeros((ka + kb - 1, ka + kb - 1))
    for u in range(ka):
        for v in range(ka):
            for s in range(kb):
                for t in range(kb):
                    c[u + s, v + t] += a[u, v] * b[s, t]
    return c


def solve_a(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.layers import Layer
    from derive.conv.receptive import receptive_field
    from derive.numeric import conv2d
    from derive.symbols import syms

    K, = syms("K")
    i = sympy.Symbol("i", integer=True, nonnegative=True)
    stacked = receptive_field([Layer("conv", kernel=K, stride=1)] * 2)
    single = receptive_field([Layer("conv", kernel=2 * K - 1, stride=1)])
    sheet.text("Receptive-field recurrence: the input starts at $R == 1$ with jump $J == 1$; "
               "a stride-1 layer with kernel $K$ adds $(K - 1)*J$ and keeps $J == 1$. For "
               "two $K$×$K$ layers:")
    sheet.derive("R_2", [(written("1 + (K - 1) + (K - 1)"),
                          "layer 1 adds $K - 1$, layer 2 adds $K - 1$"),
                         (stacked.size, "collect terms (the engine's recurrence gives the same)")])
    sheet.text("One layer with kernel $2*K - 1$ starts from the same $R == 1$ and adds its "
               "kernel size minus one:")
    sheet.derive("R_1", [(written("1 + ((2*K - 1) - 1)"),
                          "one layer with kernel $2*K - 1$ adds $2*K - 2$"),
                         (single.size, "collect terms: the same size as the stack")])
    _first1, last1 = single.interval(i)
    sheet.text("The windows coincide too. Output unit $i$ of the second layer reads units "
               "$i + v$ of the first layer ($v$ from 0 to $K - 1$), and each of those reads "
               "inputs $i + v + u$ ($u$ from 0 to $K - 1$): from $i$ (both taps 0) to the "
               "position below, which is the last position of the single layer's window "
               "(it starts at $i$ as well):")
    sheet.claim(written("i + (K - 1) + (K - 1)"), last1,
                why="both last taps, $u == K - 1$ and $v == K - 1$, against the end of the "
                    "single layer's window", assume=["i >= 0"])
    with sympy.evaluate(False):
        at3 = stacked.size.xreplace({K: sympy.Integer(KERNEL)})
    value = receptive_field([Layer("conv", kernel=KERNEL, stride=1)] * 2).size
    sheet.derive("R_2", [(at3, f"$K == {KERNEL}$"), (value, "evaluate")])
    sheet.numeric(sorted(_walk_back([KERNEL, KERNEL])), sorted(_walk_back([value])),
                  why="input positions read by output unit 0",
                  method="brute force: the positions one output unit reads through two 3×3 "
                         "layers (engine column) and through one 5×5 layer (reference)")

    sheet.text("Without a nonlinearity in between, the two layers even compute a 5×5 "
               "convolution: composing cross-correlations with kernels $a$ and $b$ gives the "
               "kernel $c$ whose tap $c[t]$ is the sum of $a[u]*b[v]$ over the pairs of taps "
               "with $u + v == t$, which has $2*K - 1$ taps. In 1D, with symbolic weights:")
    a, b, x = (sympy.IndexedBase(n) for n in "abx")
    two_layers = sum(b[v] * sum(a[u] * x[v + u] for u in range(KERNEL))
                     for v in range(KERNEL))
    composed = sum(sum(a[u] * b[t - u] for u in range(KERNEL) if 0 <= t - u < KERNEL) * x[t]
                   for t in range(2 * KERNEL - 1))
    sheet.claim(two_layers, composed,
                why="output 0 of two stacked 3-tap layers equals one 5-tap layer with the "
                    "composed kernel")
    rng = np.random.default_rng(5)
    k1 = rng.integers(-3, 4, (KERNEL, KERNEL))
    k2 = rng.integers(-3, 4, (KERNEL, KERNEL))
    img = rng.integers(-5, 6, (1, 1, 12, 12))
    stacked_out = conv2d(conv2d(img, k1[None, None]), k2[None, None])
    c = _full_conv2d(k1, k2)
    single_out = conv2d(img, c[None, None])
    sheet.text("In 2D, with NumPy: two integer 3×3 kernels $k_1$ and $k_2$ (below) and a "
               "12×12 image of integers from -5 to 5 drawn by NumPy's default generator with "
               "seed 5 (after the kernels, whose entries are drawn from -3 to 3). All "
               "values are small integers, so every sum is exact in floating point.")
    sheet.matrix("k_1", sympy.Matrix(k1.tolist()))
    sheet.matrix("k_2", sympy.Matrix(k2.tolist()))
    sheet.numeric(int(np.count_nonzero(stacked_out == single_out)), int(single_out.size),
                  why=f"output entries (of {single_out.size}) where the two results agree",
                  method=f"the {k1.shape[0]}×{k1.shape[1]} layers applied in turn against one "
                         f"layer with the composed {c.shape[0]}×{c.shape[1]} kernel (NumPy)")
    sheet.answer("receptive field of two stacked 3×3 layers", f"{value}×{value}")


def solve_b(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import conv_cost, stacked_3x3_vs_5x5
    from derive.symbols import syms

    C, H, W = syms("C H_out W_out")
    two = 2 * conv_cost(C, C, 3, (H, W), bias=False, convention="mac").params
    one = conv_cost(C, C, 5, (H, W), bias=False, convention="mac").params
    two_b = 2 * conv_cost(C, C, 3, (H, W), convention="mac").params
    one_b = conv_cost(C, C, 5, (H, W), convention="mac").params
    sheet.table(["layers", "weights", "with biases"],
                [("(i) two 3×3, $C$ to $C$ to $C$", two, two_b),
                 ("(ii) one 5×5, $C$ to $C$", one, one_b)],
                caption="Parameter counts from the engine's cost model (symbolic $C$).")
    # Each layer has C*C kernels of K*K weights; the engine's counts must match that count.
    ratio = stacked_3x3_vs_5x5("params").rhs
    sheet.derive("ratio", [
        (written("(2*3**2*C**2)/(5**2*C**2)"),
         "each 3×3 layer has $C**2$ kernels of $3**2$ weights, the 5×5 layer $C**2$ kernels "
         "of $5**2$ weights (no biases)"),
        (sympy.Mul(two, sympy.Pow(one, -1, evaluate=False), evaluate=False),
         "the engine's counts of the two networks (table above)"),
        (ratio, "cancel $C**2$")])
    two_f = 2 * conv_cost(C, C, 3, (H, W), bias=False, convention="mac").flops
    one_f = conv_cost(C, C, 5, (H, W), bias=False, convention="mac").flops
    sheet.text("At the same output size $H_out$×$W_out$ the multiply-adds are in the same "
               "ratio (each weight is used once per output position):")
    sheet.derive("ratio (multiply-adds)", [
        (written("(2*3**2*C**2*H_out*W_out)/(5**2*C**2*H_out*W_out)"),
         "every weight once per output position"),
        (sympy.Mul(two_f, sympy.Pow(one_f, -1, evaluate=False), evaluate=False),
         "the engine's multiply-add counts"),
        (stacked_3x3_vs_5x5("flops").rhs, "cancel $C**2*H_out*W_out$")])
    for c in CHANNELS:
        w3 = np.zeros((c, c, 3, 3))
        w5 = np.zeros((c, c, 5, 5))
        sheet.numeric(ratio, sympy.Rational(2 * w3.size, w5.size),
                      why=f"weight ratio at $C == {c}$",
                      method=f"entries of NumPy weight arrays: two {c}×{c}×3×3 against one "
                             f"{c}×{c}×5×5")
        sheet.numeric_if_installed(
            "torch", ratio,
            lambda torch, c=c: sympy.Rational(
                2 * int(torch.nn.Conv2d(c, c, 3, bias=False).weight.numel()),
                int(torch.nn.Conv2d(c, c, 5, bias=False).weight.numel())),
            why=f"weight ratio at $C == {c}$",
            method="weight counts of PyTorch's Conv2d layers (two 3×3 against one 5×5)")
    saving = 1 - ratio
    sheet.text(f"The stack saves a fraction ${saving}$ ({float(saving):.0%}) of the weights. "
               "With biases the ratio is $(18*C**2 + 2*C)/(25*C**2 + C)$, which tends to "
               "$18/25$ as $C$ grows.")
    sheet.answer("(i) two 3×3 layers", two)
    sheet.answer("(ii) one 5×5 layer", one)
    sheet.answer("ratio", ratio)


def solve_c(sheet: Sheet) -> None:
    sheet.explain(
        "Part (a) showed that without an activation between them the two 3×3 layers collapse "
        "into a single 5×5 layer: the composition is again one linear convolution. So the "
        "extra depth buys nothing on its own; what makes the stack different is the ReLU "
        "after the first layer. With it, the map from the 5×5 input window to the output is "
        "piecewise linear with many pieces (each pattern of active first-layer units gives a "
        "different linear map), while one 5×5 convolution followed by one ReLU can only "
        "threshold a single linear function of the window. The stack can therefore express "
        "more discriminative features (for example conjunctions of local edge detections) "
        "over the same field, and does so with $18/25$ of the weights, i.e. the extra "
        "nonlinearity comes together with a built-in low-rank-like regularisation of the 5×5 "
        "filter.",
        rests_on=["8.5(a): two linear 3×3 layers equal one 5×5 layer with the composed kernel",
                  "8.5(a): same receptive field (proved)",
                  "8.5(b): parameter ratio 18/25 (proved)"])


PROBLEM = Problem(
    id="8.5", set="chapter8", order=5, title="Two 3×3 layers versus one 5×5 layer",
    source="Chapter 8, exercise 8.5",
    statement="Compare a stack of two 3×3 convolutions (stride 1) with a single 5×5 "
              "convolution.",
    parts=(
        Part("a", "Show algebraically that both have the same receptive field.", solve_a),
        Part("b", "With $C$ input and $C$ output channels, count the parameters of (i) the "
                  "two stacked 3×3 layers and (ii) the single 5×5 layer, and give their ratio.",
             solve_b),
        Part("c", "The stack also applies two ReLUs instead of one. Why does the extra "
                  "nonlinearity help, beyond saving parameters?", solve_c, scope=EXPLANATION),
    ),
)
