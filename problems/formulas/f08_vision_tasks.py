"""Formula sheet, section 8: vision tasks.

Heads and their shapes come from the indexed-sum model (:func:`derive.conv.model.
conv_model`), sizes from :mod:`derive.conv.shapes`, strides from
:func:`derive.conv.receptive.repeated_receptive_field`, parameter counts from
:mod:`derive.conv.costs` and the ResNet-50 total from :mod:`derive.arch`.  Cross-checks:
NumPy shapes and arithmetic on concrete heads, counting by loops, and an independent count
of ResNet-50's parameters written here from its stage table.
"""

from derive.book import Part, Problem, Sheet

SEED = 0


def _ints(a):
    """An integer array when every entry is an integer (float64 arithmetic on small integers
    is exact), so the comparison is exact; otherwise the float array itself."""
    import numpy as np

    a = np.asarray(a, dtype=float)
    return np.rint(a).astype(np.int64) if np.all(a == np.rint(a)) else a


# ------------------------------------------------------------------------------ 8.1
def solve_8_1(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.arch.catalog import architecture
    from derive.arch.summary import summarize
    from derive.conv.costs import dense_cost
    from derive.numeric import conv2d
    from derive.symbols import syms

    C, n_cls, H, W = syms("C n_cls H W")
    x, Wt, b = (sympy.IndexedBase(n) for n in ("x", "W", "b"))
    c, i, j, k = sympy.symbols("c i j k", integer=True, nonnegative=True)
    gap = sympy.Sum(x[c, i, j], (i, 0, H - 1), (j, 0, W - 1)) / (H * W)
    logits = b[k] + sympy.Sum(Wt[k, c] * gap, (c, 0, C - 1))
    sheet.text("Relation: global average pooling turns the last $C$ feature maps into a "
               "vector of length $C$, and a dense layer maps it to one logit per class. "
               "Symbols: $C$ feature channels, an $H$×$W$ last map, $n_cls$ classes, "
               "$k < n_cls$.")
    sheet.derive(sympy.IndexedBase("logit")[k],
                 [(logits, "definition: a dense layer after global average pooling")])
    params = dense_cost(C, n_cls, convention="mac").params
    sheet.claim(sympy.Mul(n_cls, C + 1, evaluate=False), params,
                why="$C$ weights and one bias per class, against the engine's dense-layer "
                    "count; neither involves $H$ or $W$")
    fc = [r for r in summarize(architecture("resnet50"), convention="mac").rows
          if r.name == "fc"][0]
    sheet.numeric(fc.params, int(np.zeros((1000, 2048)).size + np.zeros(1000).size),
                  method="the entries of a NumPy weight matrix of 1000 rows and 2048 columns "
                         "plus 1000 biases",
                  why="ResNet-50's head in the engine's catalog")
    rng = np.random.default_rng(SEED)
    h, w = 4, 5
    feats = float(h * w) * rng.integers(-3, 4, size=(2, 6, h, w))     # exact means
    Wm = rng.integers(-3, 4, size=(3, 6)).astype(float)
    bias = rng.integers(-3, 4, size=3).astype(float)
    head = feats.mean(axis=(2, 3)) @ Wm.T + bias
    cam = conv2d(feats, Wm.reshape(3, 6, 1, 1), bias).mean(axis=(2, 3))
    sheet.numeric(_ints(head).ravel(), _ints(cam).ravel(),
                  method="a 1×1 convolution with the same weights applied before the pooling "
                         "(class activation maps, then pooled): both maps are linear, so they "
                         "commute",
                  why="the logits of the head (dense layer after pooling) on 2 maps of 4×5 "
                      "with 6 channels, 3 classes (features 20 times random integers from "
                      "$-3$ to $3$, then weights and biases from $-3$ to $3$, NumPy's default "
                      f"generator, seed {SEED})")
    sheet.answer("head parameters", params)
    sheet.answer("ResNet-50 head (2048 features, 1000 classes)", fc.params)


# ------------------------------------------------------------------------------ 8.2
def solve_8_2(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import conv_cost
    from derive.conv.model import conv_model
    from derive.numeric import conv2d
    from derive.symbols import syms

    Hf, Wf, A, n_cls, C = syms("H_f W_f A n_cls C")
    head = conv_model(2, size=(Hf, Wf), kernel=3, stride=1, padding=1, dilation=1, batch=1,
                      in_channels=C, out_channels=A * (4 + n_cls))
    shape = head.output_shape
    sheet.text("Relation (dense anchor-based head): at each of the $H_f*W_f$ positions of a "
               "feature map, $A$ anchor boxes each get 4 box offsets and $n_cls$ class scores, "
               "predicted by a 3×3 'same' convolution with $A*(4 + n_cls)$ output channels. "
               "Symbols: $H_f$, $W_f$ feature-map size, $A$ anchors per position, $n_cls$ "
               "classes, $C$ feature channels.")
    sheet.derive("outputs per image", [
        (sympy.Mul(*shape[1:], evaluate=False),
         "the product of the head's output shape: channels, height, width"),
        (Hf * Wf * A * (4 + n_cls), "one vector of $4 + n_cls$ numbers per anchor and "
                                    "position")])
    sheet.claim(conv_cost(C, A * (4 + n_cls), 3, (Hf, Wf), convention="mac").params,
                9 * C * A * (4 + n_cls) + A * (4 + n_cls),
                why="the engine's count of the head's parameters: 9 weights per input "
                    "channel and one bias for each output channel; the map size does not "
                    "enter")
    hf, wf, a, k, c = 5, 6, 3, 2, 4
    rng = np.random.default_rng(SEED)
    y = conv2d(rng.standard_normal((1, c, hf, wf)), rng.standard_normal((a * (4 + k), c, 3, 3)),
               padding=1)
    count = 0
    for _i in range(hf):
        for _j in range(wf):
            for _anchor in range(a):
                count += 4 + k
    sheet.numeric(int(y.size), count,
                  method="a loop over positions and anchors",
                  why="the size of the head's NumPy output on a 5×6 map with 4 channels, 3 "
                      "anchors, 2 classes")
    sheet.answer("outputs per image", sympy.Mul(*shape[1:]))


# ------------------------------------------------------------------------------ 8.3
def solve_8_3(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import pointwise_cost
    from derive.conv.model import conv_model
    from derive.conv.shapes import output_size, transposed_output_size
    from derive.numeric import conv_transpose2d
    from derive.symbols import syms

    n_cls, s, m, C = syms("n_cls s m C")
    sheet.text("Relation: a segmentation network predicts $n_cls$ logits for each of the "
               "$H*W$ pixels of each of the $N$ images, one class distribution per pixel. A "
               "backbone of output stride $s$ gives features of $H/s$ by $W/s$; a 1×1 "
               "classifier and an upsampling by $s$ (here a transposed convolution with kernel "
               "$s$ and stride $s$) restore $H$ by $W$. Symbols: $N$ batch, $n_cls$ classes, "
               "$s$ output stride, $H == s*m$ with $m$ the feature size.")
    sheet.claim(output_size(s * m, s, 0, s), m,
                why="downsampling by stride $s$ (kernel $s$) maps $H == s*m$ to $m$")
    sheet.claim(transposed_output_size(m, s, 0, s), s * m,
                why="the transposed convolution with kernel $s$ and stride $s$ maps $m$ back "
                    "to $s*m$")
    sheet.claim(sympy.Mul(n_cls, C + 1, evaluate=False),
                pointwise_cost(C, n_cls, (m, m), convention="mac").params,
                why="the per-pixel classifier is a 1×1 convolution, a dense layer per pixel: "
                    "$C$ weights and one bias per class, against the engine's count")
    feats = np.zeros((2, 5, 7, 7))
    up = conv_transpose2d(feats, np.zeros((5, 3, 8, 8)), stride=8)
    nearest = np.repeat(np.repeat(feats[:, :3], 8, axis=2), 8, axis=3)
    sheet.numeric(list(up.shape), list(nearest.shape),
                  method="nearest-neighbour upsampling by 8 (NumPy's repeat) of 3 of the "
                         "channels",
                  why="the shape (batch, channels, height, width) of the engine's transposed "
                      "convolution (kernel 8, stride 8, 5 to 3 channels) of 2 feature maps of "
                      "7×7")
    H, W = syms("H W")
    classifier = conv_model(2, size=(H, W), kernel=1, stride=1, padding=0, dilation=1,
                            out_channels=n_cls)
    sheet.answer("logit shape (1 by 1 classifier at full resolution)",
                 sympy.Tuple(*classifier.output_shape))


# ------------------------------------------------------------------------------ 8.4
def _top_down_merge():
    """The top-down merge of a feature pyramid as an indexed relation: a 1 x 1 lateral
    convolution (weights a, bias b) of the backbone map F_l plus the coarser pyramid level
    P_(l+1) upsampled by 2 (nearest neighbour: position (i, j) reads (floor(i/2), floor(j/2)))."""
    import sympy

    c, i, j, k = sympy.symbols("c i j k", integer=True, nonnegative=True)
    channels = sympy.Symbol("C_l", integer=True, positive=True)
    a, b = sympy.IndexedBase("a"), sympy.IndexedBase("b")
    fine, coarse = sympy.IndexedBase("P_l"), sympy.IndexedBase("P_l+1")
    backbone = sympy.IndexedBase("F_l")
    lateral = b[c] + sympy.Sum(a[c, k] * backbone[k, i, j], (k, 0, channels - 1))
    top_down = coarse[c, sympy.floor(i / 2), sympy.floor(j / 2)]
    return sympy.Eq(fine[c, i, j], lateral + top_down, evaluate=False)


def _evaluate_merge(relation, feature, weight, bias, coarse):
    """Every entry of P_l from the relation, by substituting the arrays' entries."""
    import numpy as np
    import sympy

    c, i, j = relation.lhs.indices
    (channels,) = [s for s in relation.rhs.free_symbols if s.name == "C_l"]
    rhs = relation.rhs.xreplace({channels: feature.shape[0]}).doit()
    out = np.empty((weight.shape[0],) + feature.shape[1:])
    for idx in np.ndindex(out.shape):
        term = rhs.xreplace(dict(zip((c, i, j), idx)))
        values = {}
        for ref in term.atoms(sympy.Indexed):
            name, at = str(ref.base), tuple(int(t) for t in ref.indices)
            values[ref] = {"a": weight, "b": bias, "F_l": feature, "P_l+1": coarse}[name][at]
        out[idx] = float(term.xreplace(values))
    return out


def solve_8_4(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.receptive import repeated_receptive_field
    from derive.conv.shapes import output_size
    from derive.numeric import conv2d
    from derive.symbols import syms

    n, = syms("n")
    l = sympy.Symbol("l", integer=True, positive=True)
    sheet.text("Relation: level $l$ of a feature pyramid has stride $2**l$, so for an input "
               "of size $H == 2**L*m$ its maps have size $H/2**l$, that is $2**(L - l)*m$. The "
               "top-down path builds the pyramid map $P_l$ from the coarser map one level up: "
               "it upsamples that map by 2 (nearest neighbour, so position $i$, $j$ reads "
               "position $floor(i/2)$, $floor(j/2)$) and adds a 1×1 convolution (weights $a$, "
               "bias $b$) of the backbone map $F_l$ of the same level; the sizes match "
               "exactly. Symbols: levels $l$ from $0$ to $L$, each made by a 3×3 convolution "
               "at stride 2 with padding 1; $m >= 1$; $c$ an output channel, $k < C_l$ a "
               "channel of $F_l$, $i$, $j$ a position of level $l$.")
    t = sympy.Symbol("t", integer=True, positive=True)
    sheet.claim(sympy.Product(2, (t, 1, l)), repeated_receptive_field(l, 3, 2, 1).jump,
                why="after $l$ layers of stride 2 neighbouring units are the product of the "
                    "strides apart (section 5.3), against the engine's recurrence")
    H = sympy.Symbol("H", integer=True, positive=True)
    with sympy.evaluate(False):     # the size formula at H = 2n, before simplifying
        halved = output_size(H, 3, 1, 2).xreplace({H: 2 * n})
    sheet.claim(halved, n,
                why="a 3×3 layer at stride 2 with padding 1 halves an even size exactly: the "
                    "engine's output size at an input of $2*n$")
    sheet.claim(sympy.Mul(2, halved, evaluate=False), 2 * n,
                why="upsampling the coarser level by 2 gives back the finer level's size, so "
                    "the lateral sum is well defined; applied $L$ times this needs "
                    "$H == 2**L*m$")
    x = np.zeros((1, 1, 64, 64))
    w = np.zeros((1, 1, 3, 3))
    levels = [x]
    for _ in range(4):
        levels.append(conv2d(levels[-1], w, stride=2, padding=1))
    matches = []
    for fine, coarse in zip(levels[:-1], levels[1:]):
        up = np.repeat(np.repeat(coarse, 2, axis=2), 2, axis=3)
        matches.append(list((fine + up).shape[2:]))
    sheet.numeric([v for pair in matches for v in pair],
                  [v for t in range(4) for v in (64 // 2**t, 64 // 2**t)],
                  method="halving 64 once per level",
                  why="the height and width of each merged map of a NumPy pyramid on a 64×64 "
                      "input: four levels at stride 2, each coarser level upsampled by 2 "
                      "(NumPy's repeat) and added to the finer one")
    merge = _top_down_merge()
    rng = np.random.default_rng(SEED)
    feature = rng.integers(-3, 4, size=(3, 4, 6))       # F_l: 3 channels, 4 x 6
    weight = rng.integers(-2, 3, size=(2, 3))           # 1 x 1 lateral, 3 -> 2 channels
    bias = rng.integers(-2, 3, size=2)
    coarse = rng.integers(-3, 4, size=(2, 2, 3))        # P_(l+1): 2 channels, 2 x 3
    lateral = conv2d(feature[None].astype(float), weight[:, :, None, None].astype(float),
                     bias.astype(float))[0]
    upsampled = np.repeat(np.repeat(coarse, 2, axis=1), 2, axis=2)
    sheet.numeric(_ints(_evaluate_merge(merge, feature, weight, bias, coarse)).ravel(),
                  _ints(lateral + upsampled).ravel(),
                  method="a NumPy 1×1 convolution of the backbone map plus the coarser map "
                         "upsampled with NumPy's repeat",
                  why="the merge relation evaluated entry by entry on a backbone map of 3 "
                      "channels on 4×6, a lateral convolution from 3 to 2 channels and a "
                      "coarser map of 2 channels on 2×3 (random integers: map from $-3$ to "
                      "$3$, weights and biases from $-2$ to $2$, coarser map from $-3$ to $3$, "
                      f"in that order, NumPy's default generator, seed {SEED})")
    sheet.answer("top-down merge", merge)
    sheet.answer("stride of level l", repeated_receptive_field(l, 3, 2, 1).jump)


# ------------------------------------------------------------------------------ 8.5
def _resnet50_params_by_hand(num_classes: int = 1000) -> int:
    """ResNet-50's parameters counted from its stage table: convolutions without bias, two
    batch-norm parameters per channel, a 1x1 projection in the first block of each stage."""
    total = 3 * 64 * 7 * 7 + 2 * 64                      # stem conv + bn
    c_in = 64
    for blocks, width in ((3, 64), (4, 128), (6, 256), (3, 512)):
        c_out = 4 * width
        for b in range(blocks):
            total += c_in * width + 2 * width            # 1x1 reduce + bn
            total += width * width * 9 + 2 * width       # 3x3 + bn
            total += width * c_out + 2 * c_out           # 1x1 expand + bn
            if b == 0:
                total += c_in * c_out + 2 * c_out        # projection shortcut + bn
            c_in = c_out
    return total + c_in * num_classes + num_classes      # classifier


def solve_8_5(sheet: Sheet) -> None:
    import sympy

    from derive.arch.catalog import resnet
    from derive.arch.summary import summarize
    from derive.conv.costs import dense_cost
    from derive.symbols import syms

    C, n_cls = syms("C n_cls")
    probe = dense_cost(C, n_cls, convention="mac").params
    sheet.text("Relation: a linear probe freezes the pretrained backbone and trains only a "
               "new dense head on its $C$ pooled features, $C*n_cls + n_cls$ parameters; full "
               "fine-tuning trains every parameter of the network. Symbols: $C$ feature "
               "channels (2048 for ResNet-50), $n_cls$ classes of the new task.")
    sheet.claim(sympy.Mul(n_cls, C + 1, evaluate=False), probe,
                why="the new head: $C$ weights and one bias per class, against the engine's "
                    "dense-layer count")
    full = summarize(resnet("resnet50", num_classes=10), convention="mac").params
    sheet.numeric(full, _resnet50_params_by_hand(10),
                  method="a count by hand from ResNet-50's stage table (3, 4, 6, 3 bottleneck "
                         "blocks of widths 64 to 512)",
                  why="the parameters of ResNet-50 with a head for 10 classes")
    probe_10 = dense_cost(2048, 10, convention="mac").params
    sheet.numeric(sympy.Rational(probe_10, full),
                  sympy.Rational(2048 * 10 + 10, _resnet50_params_by_hand(10)),
                  method="the same fraction from the hand count",
                  why="the fraction of the parameters a linear probe trains")
    sheet.answer("linear probe, 10 classes", probe_10)
    sheet.answer("full fine-tuning, 10 classes", full)
    sheet.answer("trainable fraction", sympy.Float(round(100 * probe_10 / full, 3)), "percent")


PROBLEM = Problem(
    id="formulas-8", set="formulas", order=8, title="Vision tasks",
    source="Chapter notes, section 8",
    statement="What a convolutional backbone's output becomes for the main vision tasks.",
    parts=(
        Part("8.1", "Classification: turn the final feature maps into one score per class.",
             solve_8_1),
        Part("8.2", "Detection: box and class predictions at every position of a feature "
                    "map. How many numbers per image?",
             solve_8_2),
        Part("8.3", "Segmentation: a class label for each pixel. Which shapes are involved?",
             solve_8_3),
        Part("8.4", "Feature pyramids: merging coarse and fine feature maps. Why do the "
                    "levels line up?",
             solve_8_4),
        Part("8.5", "Transfer learning: starting from a network trained on another task. "
                    "How many parameters are trained?",
             solve_8_5),
    ),
)
