"""Formula sheet, section 5: receptive fields.

Sizes and jumps come from the engine's layer recurrence (:func:`derive.conv.receptive.
receptive_field`) on symbolic layers, checked against the closed forms; the general-depth
induction is :func:`derive.conv.theorems.closed_form_induction`.  Cross-checks: walking
back from one output unit through the layers (brute force), the support of an input
gradient, the published TF-Slim table (copied below, with its source) and, for the
effective receptive field, exact rational arithmetic on repeated convolutions.
"""

from derive.book import Part, Problem, Sheet

SEED = 0

# Receptive field size, effective stride and effective padding of TF-Slim's vgg_16, as
# published by A. Araujo, W. Norris, J. Sim, "Computing Receptive Fields of Convolutional
# Neural Networks", Distill (2019), doi:10.23915/distill.00021 (the table of the
# google-research/receptive_field repository): the whole feature extractor, then per layer.
VGG16_PUBLISHED = (212, 32, 90)
VGG16_PUBLISHED_LAYERS = (
    ("conv1_1", 3, 1, 1), ("pool1", 6, 2, 2), ("conv2_1", 10, 2, 4), ("pool2", 16, 4, 6),
    ("conv3_1", 24, 4, 10), ("conv3_2", 32, 4, 14), ("pool3", 44, 8, 18),
    ("conv4_1", 60, 8, 26), ("conv4_2", 76, 8, 34), ("pool4", 100, 16, 42),
    ("conv5_1", 132, 16, 58), ("conv5_2", 164, 16, 74), ("pool5", 212, 32, 90),
)


def _walk_back(layers, unit: int = 0) -> set[int]:
    """Brute force: input positions that output ``unit`` of the last layer depends on
    (layers as (kernel, stride, dilation), no padding)."""
    seen = {unit}
    for k, s, d in reversed(layers):
        seen = {s * i + d * u for i in seen for u in range(k)}
    return seen


def _span(positions: set[int]) -> int:
    return max(positions) - min(positions) + 1


def _layers(kernels, strides=None, dilations=None):
    from derive.conv.layers import Layer

    n = len(kernels)
    strides = strides or [1] * n
    dilations = dilations or [1] * n
    return [Layer("conv", kernel=k, stride=s, dilation=d, name=f"layer {i + 1}")
            for i, (k, s, d) in enumerate(zip(kernels, strides, dilations))]


def _shown(name: str) -> str:
    """A VGG layer name for the page: conv5_3 reads conv5.3 (block 5, convolution 3)."""
    return name.replace("_", ".")


# ------------------------------------------------------------------------------ 5.1
def solve_5_1(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.receptive import receptive_field
    from derive.numeric import conv2d_backward
    from derive.symbols import syms

    K, D = syms("K D")
    field = receptive_field(_layers([K], dilations=[D]))
    sheet.text("Relation: one layer sees $R == D*(K - 1) + 1$ consecutive input positions per "
               "axis ($K$ for an ordinary kernel). Symbols: $K >= 1$ kernel size, $D >= 1$ "
               "dilation; stride and padding do not change the size of one window.")
    sheet.claim(field.size, D * (K - 1) + 1,
                why="the engine's receptive-field recurrence for one layer, against the span "
                    "of the window read off the model (section 2.3)")
    pairs = [(k, d) for k in range(1, 6) for d in range(1, 4)]
    sheet.numeric([receptive_field(_layers([k], dilations=[d])).size for k, d in pairs],
                  [_span(_walk_back([(k, 1, d)])) for k, d in pairs],
                  method="the span of the input positions one output reads, by brute force",
                  why="the field of one layer for all 15 pairs with $K <= 5$ and $D <= 3$")
    x = np.random.default_rng(SEED).standard_normal((1, 1, 9, 9))
    w = np.ones((1, 1, 3, 3))
    g = np.zeros((1, 1, 5, 5))
    g[0, 0, 2, 2] = 1.0
    grad = conv2d_backward(x, w, g, dilation=2)[0][0, 0]
    rows = np.nonzero(np.abs(grad).sum(axis=1))[0]
    sheet.numeric(receptive_field(_layers([3], dilations=[2])).size,
                  int(rows.max() - rows.min() + 1),
                  method="the rows where the input gradient of one output is nonzero (derived "
                         "backward formulas, NumPy; a 9×9 standard-normal image with seed 0, "
                         "all-ones kernel)",
                  why="the field of a 3×3 layer at dilation 2")
    sheet.answer("single layer", field.size)


# ------------------------------------------------------------------------------ 5.2
# The engine's induction steps, in mathematical notation: R the field, J the jump, Q the
# effective padding after L layers (a statement not listed here is an error, not a guess).
_INDUCTION_ROWS = {
    "R(0) = 1, the input's own field": "$R[0] == 1$: the input's own field",
    "J(0) = 1, the input's own field": "$J[0] == 1$: the input's own jump",
    "Q(0) = 0, the input's own field": "$Q[0] == 0$: no padding before the first layer",
    "R(L+1) = R(L) + (k_{L+1} - 1) J(L)": "$R[L + 1] == R[L] + (k[L + 1] - 1)*J[L]$",
    "J(L+1) = J(L) s_{L+1}": "$J[L + 1] == J[L]*s[L + 1]$",
    "Q(L+1) = Q(L) + p_{L+1} J(L)": "$Q[L + 1] == Q[L] + p[L + 1]*J[L]$",
    "size: peeled closed form at L + 1 == recurrence step from depth L":
        "field: the closed form at depth $L + 1$, with its last term split off, equals one "
        "step of the recurrence from depth $L$",
    "jump: peeled closed form at L + 1 == recurrence step from depth L":
        "jump: the same for the product of the strides",
    "start: peeled closed form at L + 1 == recurrence step from depth L":
        "effective padding: the same for its closed form",
}


def solve_5_2(sheet: Sheet) -> None:
    import sympy

    from derive.arch.catalog import architecture
    from derive.arch.summary import summarize
    from derive.conv.receptive import receptive_field, receptive_field_table
    from derive.conv.theorems import closed_form_induction

    k, s = sympy.IndexedBase("k"), sympy.IndexedBase("s")
    l, i = sympy.symbols("l i", integer=True, positive=True)
    L = sympy.Symbol("L", integer=True, positive=True)
    closed = 1 + sympy.Sum((k[l] - 1) * sympy.Product(s[i], (i, 1, l - 1)), (l, 1, L))
    sheet.text("Relation: going from the input to layer $L$, layer $l$ widens the field by "
               "$k[l] - 1$ times the product of the strides below it. Symbols: $k[l]$ "
               "effective kernel size of layer $l$ ($D[l]*(K[l] - 1) + 1$ when dilated), "
               "$s[l]$ its stride, $l$ from $1$ to $L$ counted from the input side.")
    sheet.derive("R_L", [(closed, "closed form (Araujo et al., 2019)")])
    depth = 3
    layers = _layers([k[j] for j in range(1, depth + 1)], [s[j] for j in range(1, depth + 1)])
    rec = receptive_field(layers)
    sheet.derive("R_3", [
        (closed.xreplace({L: depth}), f"the closed form at $L == {depth}$"),
        (rec.size, "the engine's layer-by-layer recurrence: the field grows by $k - 1$ times "
                   "the current jump, then the jump is multiplied by the stride")])
    steps = closed_form_induction()
    rows = []
    for st in steps:
        if st.statement.startswith("peeling of"):
            continue                    # sanity checks of the definition, not the argument
        status = st.verdict.status.value if st.verdict is not None else "definition"
        rows.extend((status, _INDUCTION_ROWS[part.strip()]) for part in st.statement.split(";"))
    sheet.table(["check", "step of the induction over $L$"], rows,
                caption="The engine's induction proving the closed form for every depth ($R$ "
                        "the field, $J$ the jump, $Q$ the effective padding after $L$ "
                        "layers).")
    chains = [[(3, 1), (3, 2), (5, 1)], [(7, 2), (3, 2), (3, 1), (3, 2)], [(2, 2)] * 4]
    sheet.numeric([receptive_field(_layers([a for a, _ in c], [b for _, b in c])).size
                   for c in chains],
                  [_span(_walk_back([(a, b, 1) for a, b in c])) for c in chains],
                  method="walk back from one output unit through each chain of layers",
                  why="the field of three chains of layers given as (kernel, stride): "
                      "(3, 1), (3, 2), (5, 1); then (7, 2), (3, 2), (3, 1), (3, 2); then four "
                      "times (2, 2)")
    table = receptive_field_table(_layers([3, 3, 3], [1, 2, 1]))
    sheet.table(["after", "$R$", "$J$"], [(name, f.size, f.jump) for name, f in table],
                caption="Growth through three 3×3 layers with strides 1, 2, 1.")
    net = architecture("vgg16")
    names = _vgg_names(net.features)
    kinds = {item.name: item for item in net.features}
    rows = [(names[n], f) for n, f in receptive_field_table(list(net.features)) if n in names]
    sheet.text("VGG-16 (torchvision's configuration D): five blocks of 3×3 convolutions at "
               "stride 1 with padding 1 (2, 2, 3, 3 and 3 of them), each block closed by 2×2 "
               "max pooling at stride 2; conv5.3 is the third convolution of block 5. The "
               "recurrence, layer by layer ($P_0$ is the effective padding: the field of unit "
               "0 starts at input position $-P_0$):")
    sheet.table(["after", "$R$", "$J$", "$P_0$"],
                [(_shown(n), f.size, f.jump, f.start) for n, f in rows],
                caption="The engine's recurrence over the VGG-16 feature extractor.")
    last_conv = [(n, f) for n, f in rows if n.startswith("conv")][-1]
    last = rows[-1]
    chain = [(kinds[k].kernel, kinds[k].stride, 1) for k in names]
    upto = list(names.values()).index(last_conv[0]) + 1
    sheet.numeric((last_conv[1].size, last[1].size),
                  (_span(_walk_back(chain[:upto])), _span(_walk_back(chain))),
                  method="walk back from one unit through the kernels and strides of VGG-16's "
                         "convolutions and poolings",
                  why=f"the field after {_shown(last_conv[0])} and after {_shown(last[0])}")
    vgg = summarize(net, convention="mac").receptive_field
    sheet.numeric((vgg.size, vgg.jump, vgg.start), VGG16_PUBLISHED,
                  method="the published TF-Slim table for VGG-16 (Araujo et al., 2019)",
                  why="field, effective stride and effective padding of the whole feature "
                      "extractor, after pool5")
    ours = dict(rows)
    published = [r for r in VGG16_PUBLISHED_LAYERS if r[0] in ours]
    sheet.numeric([v for r in published for v in (ours[r[0]].size, ours[r[0]].jump,
                                                  ours[r[0]].start)],
                  [v for r in published for v in r[1:]],
                  method="the same published table, layer by layer",
                  why="field, jump and effective padding after each of the "
                      f"{len(published)} layers the table lists ("
                      + ", ".join(_shown(r[0]) for r in published) + "), listed in turn")
    sheet.answer("stacked layers", closed)
    sheet.answer(f"VGG-16 (last conv, {_shown(last_conv[0])})", last_conv[1].size)
    sheet.answer(f"VGG-16 (after {last[0]})", last[1].size)


def _vgg_names(features) -> dict[str, str]:
    """Conventional names (conv1_1, ..., pool5) of VGG's convolutions and poolings, keyed by
    the catalog's layer names; activations are left out (they do not change the field)."""
    out: dict[str, str] = {}
    block, index = 1, 0
    for item in features:
        if item.kind == "conv":
            index += 1
            out[item.name] = f"conv{block}_{index}"
        elif item.kind == "maxpool":
            out[item.name] = f"pool{block}"
            block, index = block + 1, 0
    return out


# ------------------------------------------------------------------------------ 5.3
def solve_5_3(sheet: Sheet) -> None:
    import sympy

    from derive.conv.receptive import receptive_field

    k, s = sympy.IndexedBase("k"), sympy.IndexedBase("s")
    l = sympy.Symbol("l", integer=True, positive=True)
    L = sympy.Symbol("L", integer=True, positive=True)
    jump = sympy.Product(s[l], (l, 1, L))
    sheet.text("Relation: neighbouring units of layer $L$ look at input windows $J[L]$ input "
               "positions apart, the product of the strides up to $L$ (the effective stride). "
               "Symbols: $s[l]$ stride of layer $l$, $J[0] == 1$ for the input itself.")
    sheet.derive("J_L", [(jump, "definition by the recurrence $J[l] == J[l - 1]*s[l]$, "
                                "$J[0] == 1$")])
    depth = 3
    layers = _layers([k[j] for j in range(1, depth + 1)], [s[j] for j in range(1, depth + 1)])
    sheet.claim(jump.xreplace({L: depth}), receptive_field(layers).jump,
                why="the product at $L == 3$ against the engine's recurrence")
    chains = [[(3, 2), (3, 2), (3, 1)], [(7, 2), (3, 2), (3, 1), (3, 2)], [(5, 3), (2, 2)]]
    sheet.numeric([receptive_field(_layers([a for a, _ in c], [b for _, b in c])).jump
                   for c in chains],
                  [min(_walk_back([(a, b, 1) for a, b in c], 1))
                   - min(_walk_back([(a, b, 1) for a, b in c], 0)) for c in chains],
                  method="the distance between the first input positions of output units 0 "
                         "and 1, found by walking back through each chain",
                  why="the jump of three chains given as (kernel, stride): (3, 2), (3, 2), "
                      "(3, 1); then (7, 2), (3, 2), (3, 1), (3, 2); then (5, 3), (2, 2)")
    sheet.answer("jump", jump)


# ------------------------------------------------------------------------------ 5.4
def solve_5_4(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import dilated_conv_cost
    from derive.conv.receptive import receptive_field
    from derive.symbols import syms

    Kk, Dd = sympy.IndexedBase("K"), sympy.IndexedBase("D")
    l = sympy.Symbol("l", integer=True, positive=True)
    L = sympy.Symbol("L", integer=True, positive=True)
    relation = 1 + sympy.Sum(Dd[l] * (Kk[l] - 1), (l, 1, L))
    sheet.text("Relation: at stride 1 every layer adds $D[l]*(K[l] - 1)$ positions, so "
               "dilation grows the field linearly in $D[l]$ while the weights stay "
               "$K[l]$×$K[l]$; doubling $D[l]$ layer after layer grows it exponentially in "
               "depth. Symbols: $K[l]$ kernel size, $D[l]$ dilation of layer $l$, all strides "
               "1.")
    depth = 3
    layers = _layers([Kk[j] for j in range(1, depth + 1)], dilations=[Dd[j] for j in
                                                                      range(1, depth + 1)])
    sheet.derive("R_3", [(relation.xreplace({L: depth}), "the relation at $L == 3$"),
                         (receptive_field(layers).size, "the engine's recurrence")])
    c_in, c_out, K, H, D = syms("C_in C_out K H D")
    params = dilated_conv_cost(c_in, c_out, K, H, dilation=D, convention="mac").params
    sheet.claim(sympy.Derivative(params, D), 0, assume=["H >= D*(K - 1) + 1"],
                why="the engine's parameter count of a dilated convolution does not change "
                    "with the dilation $D$")
    stacks = [[1, 2, 4], [1, 2, 4, 8], [2, 2, 2]]
    sheet.numeric([receptive_field(_layers([3] * len(d), dilations=d)).size for d in stacks],
                  [_span(_walk_back([(3, 1, x) for x in d])) for d in stacks],
                  method="walk back from one output unit through the layers",
                  why="the field of 3×3 layers with dilations 1, 2, 4; then 1, 2, 4, 8; then "
                      "2, 2, 2")
    sheet.answer("dilation effect (stride 1)", relation)


# ------------------------------------------------------------------------------ 5.5
def _repeated_box(k: int, depth: int) -> list[int]:
    """Integer counts of the ``depth``-fold convolution of a box of ``k`` ones (NumPy)."""
    import numpy as np

    out = np.array([1], dtype=np.int64)
    for _ in range(depth):
        out = np.convolve(out, np.ones(k, dtype=np.int64))
    return [int(v) for v in out]


def _exact_variance(counts: list[int]):
    """Variance of the distribution proportional to ``counts``, in exact fractions."""
    from fractions import Fraction

    total = sum(counts)
    mean = Fraction(sum(t * c for t, c in enumerate(counts)), total)
    return sum(c * (t - mean) ** 2 for t, c in enumerate(counts)) / total


def solve_5_5(sheet: Sheet) -> None:
    import math

    import sympy

    from derive.conv.receptive import repeated_receptive_field
    from derive.symbols import syms

    K, L = syms("K L")
    u = sympy.Symbol("u", integer=True, nonnegative=True)
    l = sympy.Symbol("l", integer=True, positive=True)
    c = (K - 1) / sympy.Integer(2)
    Var = sympy.Function("Var")
    sheet.text("Relation: through $L$ layers at stride 1 of the averaging kernel with $K$ "
               "taps, the weight of an input position on one output is the $L$-fold "
               "convolution of the box kernel, that is the distribution of a sum of $L$ "
               "independent offsets, each uniform on $0$, ..., $K - 1$. Its variance is "
               "$L*(K**2 - 1)/12$: the spread grows like $sqrt(L)$ while the theoretical "
               "field $L*(K - 1) + 1$ grows like $L$, so the influence concentrates near the "
               "centre. Symbols: $K >= 1$ kernel size, $L >= 1$ depth, $u$ a tap.")
    one = sympy.Sum((u - c) ** 2, (u, 0, K - 1)) / K
    one_value = sympy.factor(one.doit())
    sheet.derive(Var(sympy.Symbol("U")), [
        (one, "one layer: the offset $U$ is uniform on $0$, ..., $K - 1$ with mean "
              "$(K - 1)/2$"),
        (one_value, "evaluate the sum (SymPy)")])
    sheet.claim(sympy.Sum(u - c, (u, 0, K - 1)), 0,
                why="the centred offsets sum to zero; so for the offset $Z$ of the layers "
                    "below and the independent offset $U$ of the next layer, the cross term "
                    "(twice the expected product of the centred offsets) is twice the product "
                    "of their expected values, zero, and the variances add")
    total = sympy.Sum(one_value, (l, 1, L))
    variance = sympy.factor(total.doit())
    sheet.derive(Var(sympy.Symbol("Z_L")), [(total, "the variances add: one per layer"),
                                            (variance, "evaluate")])
    cases = [(k, d) for k in (2, 3, 5) for d in (1, 2, 3, 6)]
    sheet.numeric([variance.subs({K: k, L: d}) for k, d in cases],
                  [sympy.Rational(_exact_variance(_repeated_box(k, d)).numerator,
                                  _exact_variance(_repeated_box(k, d)).denominator)
                   for k, d in cases],
                  method="the exact variance (fractions) of the weights obtained by convolving "
                         "the box kernel with itself $L$ times (NumPy's convolve on integers)",
                  why="the variance for $K$ = 2, 3, 5 and $L$ = 1, 2, 3, 6")
    rows = []
    for d in (1, 2, 4, 8, 16, 32):
        size = repeated_receptive_field(d, 3).size
        std = math.sqrt(float(variance.subs({K: 3, L: d})))
        rows.append((d, size, f"{std:.2f}", f"{std / size:.3f}"))
    sheet.table(["$L$", "field $R == 2*L + 1$", "standard deviation of the weights",
                 "its ratio to $R$"], rows,
                caption="$K == 3$: the theoretical field grows like $L$, the effective spread "
                        "like $sqrt(L)$.")
    sheet.answer("effective field variance", variance)


PROBLEM = Problem(
    id="formulas-5", set="formulas", order=5, title="Receptive field",
    source="Chapter notes, section 5",
    statement="How far into the input one unit of a deep layer can see, and where its "
              "influence actually concentrates.",
    parts=(
        Part("5.1", "Single layer: how much of the input one layer sees.", solve_5_1),
        Part("5.2", "Stacked layers: how the field grows as layers are added.", solve_5_2),
        Part("5.3", "Jump: how far apart, in input pixels, neighbouring units of a deep "
                    "layer are.",
             solve_5_3),
        Part("5.4", "Dilation effect: widening the view at no cost in weights.", solve_5_4),
        Part("5.5", "Effective receptive field: inputs near the middle of the field matter "
                    "most. Quantify the spread.",
             solve_5_5),
    ),
)
