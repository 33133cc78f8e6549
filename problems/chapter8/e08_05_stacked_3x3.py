"""Exercise 8.5: two stacked 3x3 convolutions against one 5x5 convolution.

(a) The receptive field of two stacked K x K layers is derived symbolically from the
engine's recurrence (:mod:`derive.conv.receptive`) and proved equal, window for window, to
that of one (2K - 1) x (2K - 1) layer; at K = 3 that is 5.  Cross-checks: walking back from
one output unit (set enumeration), and the composition of two linear 3x3 layers computed as a
single 5x5 kernel (proved in 1D with symbolic weights, tested in 2D with NumPy).
(b) The parameter ratio 18/25 is the cost theorem of :mod:`derive.conv.costs`, every step
checked, with the counts cross-checked on NumPy weight arrays (and PyTorch when installed).
(c) An explanation resting on the facts of (a) and (b).
"""

from derive.book import Part, Problem, Sheet

KERNEL = 3
CHANNELS = (64, 256)   # channel counts for the numeric cross-check of (b)


def _torch():
    try:
        import torch
    except ImportError:  # PyTorch is optional
        return None
    return torch


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
    sheet.text("Receptive field recurrence: the input starts at R = 1 with jump J = 1; a "
               "stride-1 layer with kernel K adds (K - 1) J and keeps J = 1. For two K x K "
               "layers:")
    with sympy.evaluate(False):
        unrolled = sympy.Add(1, sympy.Mul(K - 1, 1), sympy.Mul(K - 1, 1))
    sheet.derive("R_2", [(unrolled, "layer 1 adds (K - 1)*1, layer 2 adds (K - 1)*1"),
                         (stacked.size, "collect terms (the engine's recurrence)")])
    sheet.claim(stacked.size, single.size,
                why="a single layer with kernel 2K - 1 has the same field size")
    first2, last2 = stacked.interval(i)
    first1, last1 = single.interval(i)
    sheet.claim(sympy.ImmutableMatrix([first2, last2]), sympy.ImmutableMatrix([first1, last1]),
                why="and the same window: output unit i sees input positions i to i + 2K - 2 "
                    "in both networks", assume=["i >= 0"])
    with sympy.evaluate(False):
        at3 = stacked.size.xreplace({K: sympy.Integer(KERNEL)})
    value = receptive_field([Layer("conv", kernel=KERNEL, stride=1)] * 2).size
    sheet.derive("R_2", [(at3, f"K = {KERNEL}"), (value, "evaluate")])
    sheet.numeric(sorted(_walk_back([KERNEL, KERNEL])), sorted(_walk_back([value])),
                  method="brute force: the input positions one output unit reads through "
                         "two 3x3 layers and through one 5x5 layer (same set)")

    sheet.text("Without a nonlinearity in between, the two layers even compute a 5x5 "
               "convolution: composing cross-correlations with kernels a and b gives the "
               "kernel c[t] = sum over u + v = t of a[u] b[v], which has 2K - 1 taps. In 1D, "
               "with symbolic weights:")
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
    differing = int(np.count_nonzero(stacked_out != conv2d(img, c[None, None])))
    sheet.numeric(differing, 0, why="number of output entries where the two results differ",
                  method="NumPy (seed 5, small integers, so every sum is exact in float64): "
                         "two random 3x3 layers applied in turn vs one layer with the "
                         f"composed {c.shape[0]}x{c.shape[1]} kernel on a 12x12 input")
    sheet.answer("receptive field of two stacked 3x3 layers", f"{value} x {value}")


def solve_b(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import conv_cost, stacked_3x3_vs_5x5
    from derive.symbols import syms

    C, H = syms("C H_out")
    two = 2 * conv_cost(C, C, 3, H, bias=False, convention="mac").params
    one = conv_cost(C, C, 5, H, bias=False, convention="mac").params
    two_b = 2 * conv_cost(C, C, 3, H, convention="mac").params
    one_b = conv_cost(C, C, 5, H, convention="mac").params
    sheet.table(["layers", "weights", "with biases"],
                [("(i) two 3x3, C -> C -> C", two, two_b), ("(ii) one 5x5, C -> C", one, one_b)],
                caption="Parameter counts from derive.conv.costs.conv_cost (symbolic C).")
    theorem = stacked_3x3_vs_5x5("params")
    sheet.derive("ratio", list(theorem.steps))
    flops = stacked_3x3_vs_5x5("flops")
    sheet.text("At the same output size the multiply-adds are in the same ratio (each weight "
               "is used once per output position):")
    sheet.derive("ratio (multiply-adds)", list(flops.steps))
    torch = _torch()
    for c in CHANNELS:
        w3 = np.zeros((c, c, 3, 3))
        w5 = np.zeros((c, c, 5, 5))
        sheet.numeric(theorem.rhs, sympy.Rational(2 * w3.size, w5.size),
                      method=f"entries of NumPy weight arrays at C = {c}: two {w3.shape} "
                             f"against one {w5.shape}")
        if torch is not None:
            pair = sum(int(torch.nn.Conv2d(c, c, 3, bias=False).weight.numel())
                       for _ in range(2))
            single = int(torch.nn.Conv2d(c, c, 5, bias=False).weight.numel())
            sheet.numeric(theorem.rhs, sympy.Rational(pair, single),
                          method=f"numel() of torch.nn.Conv2d weights at C = {c} "
                                 "(PyTorch installed)")
    saving = 1 - theorem.rhs
    sheet.text(f"The stack saves a fraction {saving} (= {float(saving):.0%}) of the weights. "
               "With biases the ratio is (18C^2 + 2C)/(25C^2 + C), which tends to 18/25 as C "
               "grows.")
    sheet.answer("(i) two 3x3", two)
    sheet.answer("(ii) one 5x5", one)
    sheet.answer("ratio", theorem.rhs)


def solve_c(sheet: Sheet) -> None:
    sheet.explain(
        "Part (a) showed that without an activation between them the two 3x3 layers collapse "
        "into a single 5x5 layer: the composition is again one linear convolution. So the "
        "extra depth buys nothing on its own; what makes the stack different is the ReLU "
        "after the first layer. With it, the map from the 5x5 input window to the output is "
        "piecewise linear with many pieces (each pattern of active first-layer units gives a "
        "different linear map), while one 5x5 convolution followed by one ReLU can only "
        "threshold a single linear function of the window. The stack can therefore express "
        "more discriminative features (for example conjunctions of local edge detections) "
        "over the same field, and does so with 18/25 of the weights, i.e. the extra "
        "nonlinearity comes together with a built-in low-rank-like regularisation of the 5x5 "
        "filter.",
        rests_on=["8.5(a): two linear 3x3 layers equal one 5x5 layer with the composed kernel",
                  "8.5(a): same receptive field (proved)",
                  "8.5(b): parameter ratio 18/25 (derive.conv.costs.stacked_3x3_vs_5x5)"])


PROBLEM = Problem(
    id="8.5", set="chapter8", order=5, title="Two 3x3 layers versus one 5x5 layer",
    source="Chapter 8, exercise 8.5",
    statement="Compare a stack of two 3x3 convolutions (stride 1) with a single 5x5 "
              "convolution.",
    parts=(
        Part("a", "Show algebraically that both have the same receptive field.", solve_a),
        Part("b", "With C input and C output channels, count the parameters of (i) the two "
                  "stacked 3x3 layers and (ii) the single 5x5 layer, and give their ratio.",
             solve_b),
        Part("c", "The stack also applies two ReLUs instead of one. Why does the extra "
                  "nonlinearity help, beyond saving parameters?", solve_c),
    ),
)
