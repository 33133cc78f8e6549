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
    sheet.text("Relation: global average pooling turns the last C feature maps into a "
               "C-vector, and a dense layer maps it to one logit per class. Symbols: C "
               "feature channels, H x W the last map, n_cls classes, k < n_cls.")
    sheet.derive(sympy.IndexedBase("logit")[k], [(logits, "definition: dense layer after GAP")])
    params = dense_cost(C, n_cls, convention="mac").params
    sheet.claim(params, C * n_cls + n_cls,
                why="the head's parameters (the engine's dense-layer count); independent of "
                    "H and W")
    fc = [r for r in summarize(architecture("resnet50"), convention="mac").rows
          if r.name == "fc"][0]
    sheet.numeric(fc.params, int(np.zeros((1000, 2048)).size + np.zeros(1000).size),
                  method="entries of a (1000, 2048) weight matrix and 1000 biases "
                         "(ResNet-50's head in the engine's catalog)")
    rng = np.random.default_rng(SEED)
    h, w = 4, 5
    feats = float(h * w) * rng.integers(-3, 4, size=(2, 6, h, w))     # exact means
    Wm = rng.integers(-3, 4, size=(3, 6)).astype(float)
    bias = rng.integers(-3, 4, size=3).astype(float)
    head = feats.mean(axis=(2, 3)) @ Wm.T + bias
    cam = conv2d(feats, Wm.reshape(3, 6, 1, 1), bias).mean(axis=(2, 3))
    sheet.numeric(_ints(head), _ints(cam),
                  method="the dense layer applied after pooling against a 1x1 convolution "
                         "applied before it (class activation maps, then pooled): both maps "
                         "are linear, so they commute (NumPy, integer data)")
    sheet.answer("head parameters", params)
    sheet.answer("ResNet-50 head (2048 -> 1000)", fc.params)


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
    sheet.text("Relation (dense anchor-based head): at each of the H_f x W_f positions of a "
               "feature map, A anchor boxes each get 4 box offsets and n_cls class scores, "
               "predicted by a 3x3 'same' convolution with A(4 + n_cls) output channels. "
               "Symbols: H_f, W_f feature-map size, A anchors per position, n_cls classes, C "
               "feature channels.")
    sheet.derive("outputs per image", [
        (sympy.Mul(*shape[1:], evaluate=False), f"the head's output shape {shape[1:]}"),
        (Hf * Wf * A * (4 + n_cls), "one (4 + n_cls)-vector per anchor and position")])
    sheet.claim(conv_cost(C, A * (4 + n_cls), 3, (Hf, Wf), convention="mac").params,
                9 * C * A * (4 + n_cls) + A * (4 + n_cls),
                why="the head's parameters do not depend on the map size")
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
                  method="NumPy head output size against a loop over positions and anchors "
                         "(5 x 6 map, 3 anchors, 2 classes)")
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
    sheet.text("Relation: a segmentation network predicts logits of shape (N, n_cls, H, W), "
               "one class distribution per pixel. A backbone of output stride s gives "
               "H/s x W/s features; a 1x1 classifier and an upsampling by s (here a "
               "transposed convolution with kernel s and stride s) restore H x W. Symbols: "
               "N batch, n_cls classes, s output stride, H = s m with m the feature size.")
    sheet.claim(output_size(s * m, s, 0, s), m,
                why="downsampling by stride s (kernel s) maps H = s m to m")
    sheet.claim(transposed_output_size(m, s, 0, s), s * m,
                why="the transposed convolution with kernel s and stride s maps m back to s m")
    sheet.claim(pointwise_cost(C, n_cls, (m, m), convention="mac").params, C * n_cls + n_cls,
                why="the per-pixel classifier is a 1x1 convolution: a dense layer per pixel")
    feats = np.zeros((2, 5, 7, 7))
    up = conv_transpose2d(feats, np.zeros((5, 3, 8, 8)), stride=8)
    nearest = np.repeat(np.repeat(feats[:, :3], 8, axis=2), 8, axis=3)
    sheet.numeric(list(up.shape), list(nearest.shape),
                  method="NumPy: transposed convolution (kernel 8, stride 8) of 7 x 7 features "
                         "against nearest-neighbour upsampling by 8 with numpy.repeat")
    H, W = syms("H W")
    classifier = conv_model(2, size=(H, W), kernel=1, stride=1, padding=0, dilation=1,
                            out_channels=n_cls)
    sheet.answer("logit shape (1x1 classifier at full resolution)",
                 sympy.Tuple(*classifier.output_shape))


# ------------------------------------------------------------------------------ 8.4
def solve_8_4(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.receptive import repeated_receptive_field
    from derive.conv.shapes import output_size
    from derive.numeric import conv2d
    from derive.symbols import syms

    n, = syms("n")
    l = sympy.Symbol("l", integer=True, positive=True)
    sheet.text("Relation: level l of a feature pyramid has stride 2^l, so for an input of "
               "size H = 2^L m its maps are H/2^l = 2^(L - l) m; the top-down path upsamples "
               "level l + 1 by 2 and adds it to level l, which matches exactly. Symbols: "
               "l = 0, ..., L levels, each made by a 3x3 stride-2 convolution with padding 1; "
               "m >= 1.")
    sheet.claim(repeated_receptive_field(l, 3, 2, 1).jump, 2**l,
                why="after l stride-2 layers neighbouring units are 2^l input pixels apart")
    sheet.claim(output_size(2 * n, 3, 1, 2), n,
                why="a 3x3, stride-2, padding-1 layer halves an even size exactly")
    sheet.claim(2 * output_size(2 * n, 3, 1, 2), 2 * n,
                why="upsampling the coarser level by 2 gives back the finer level's size, so "
                    "the lateral sum is well defined; applied L times this needs H = 2^L m")
    x = np.zeros((1, 1, 64, 64))
    w = np.zeros((1, 1, 3, 3))
    levels = [x]
    for _ in range(4):
        levels.append(conv2d(levels[-1], w, stride=2, padding=1))
    matches = []
    for fine, coarse in zip(levels[:-1], levels[1:]):
        up = np.repeat(np.repeat(coarse, 2, axis=2), 2, axis=3)
        matches.append(list((fine + up).shape[2:]))
    sheet.numeric(matches, [[64 // 2**t, 64 // 2**t] for t in range(4)],
                  method="NumPy pyramid of a 64 x 64 input: four stride-2 levels, each coarser "
                         "level upsampled by numpy.repeat and added to the finer one")
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
               "new dense head on its C pooled features, C n_cls + n_cls parameters; full "
               "fine-tuning trains every parameter of the network. Symbols: C feature "
               "channels (2048 for ResNet-50), n_cls classes of the new task.")
    sheet.claim(probe, C * n_cls + n_cls, why="the new head's parameters")
    full = summarize(resnet("resnet50", num_classes=10), convention="mac").params
    sheet.numeric(full, _resnet50_params_by_hand(10),
                  method="ResNet-50 counted by hand from its stage table (3, 4, 6, 3 bottleneck "
                         "blocks of widths 64 to 512) with a 10-class head")
    probe_10 = dense_cost(2048, 10, convention="mac").params
    sheet.numeric(sympy.Rational(probe_10, full),
                  sympy.Rational(2048 * 10 + 10, _resnet50_params_by_hand(10)),
                  method="the same fraction from the hand count")
    sheet.answer("linear probe, 10 classes", probe_10)
    sheet.answer("full fine-tuning, 10 classes", full)
    sheet.answer("trainable fraction", f"{probe_10 / full:.2%}")


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
