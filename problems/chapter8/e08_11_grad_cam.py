"""Exercise 8.11: Grad-CAM, measured on a scaled-down model.

Every part renders the stored results of the seeded ``grad-cam`` experiment
(:mod:`derive.lab.experiments.grad_cam`): the digits lab's SimpleCNN trained exactly like the
first seed's ``augmented`` run of exercise 8.10 (cross-checked against that run's stored
validation accuracy), five correctly classified validation images and their Grad-CAM maps,
one image's maps for two classes, and a planted shortcut (a bright corner marker on one
class's training images) with a control model.  Building the book trains nothing; the
tables, figures and every comparing sentence are computed here from the stored numbers, and
the cross-checks recompute stored statistics from the stored maps.

The engine derives what the maps can resolve: the size of the feature maps Grad-CAM reads
(:mod:`derive.conv.shapes`), cross-checked against the stored maps (they are bilinear
upsamplings of grids of exactly that size), and the receptive field of one feature-map unit
(:mod:`derive.conv.receptive`), cross-checked by enumeration.  It also derives Grad-CAM's
channel weights: for global average pooling and one dense layer they are the dense weights
divided by the map's area (differentiated term by term and checked step by step), for the
SimpleCNN's max-pooling head the sum of a channel's dense weights divided by the area; both
are cross-checked with central finite differences in NumPy (and PyTorch's autograd where it
is installed; the page is the same either way).
"""

from __future__ import annotations

from typing import Any

from derive.book import EXPERIMENT, Part, Problem, Sheet

NAME = "grad-cam"
# The SimpleCNN of the digits lab (derive/lab/experiments/_digits.py): 8 x 8 inputs, two
# 3 x 3 convolutions with padding 1, 2 x 2 max pooling after each.
SIDE, KERNEL, PADDING, POOL = 8, 3, 1, 2
SIZE = (3, 3, 3)        # (channels K, height, width) of the maps in the average-pooling check
POOLED = (3, 4, 4)      # the same for the max-pooling check (even sides: 2 x 2 cells)
STORED = 1e-4           # the results store 6 significant digits; recomputations agree to this
WEAK, STRONG = 0.3, 0.7  # words for a correlation: below WEAK weak, from STRONG on strong
BLANK = 0.05            # a mean grey value below this is read as blank background
RERUN = 0.02            # the lab's re-run tolerance for accuracies (both experiments' TOLERANCES)


def _record() -> dict[str, Any]:
    from derive.lab.runner import load
    return load(NAME)


def _results() -> dict[str, Any]:
    return _record()["results"]


def _symbols():
    import sympy

    H, W = sympy.symbols("H W", integer=True, positive=True)
    i, j, k, c = sympy.symbols("i j k c", integer=True, nonnegative=True)
    return H, W, i, j, k, c, sympy.IndexedBase("A"), sympy.IndexedBase("w")


def _layers():
    """The SimpleCNN up to the feature maps Grad-CAM reads (before their pooling)."""
    from derive.conv.layers import Layer
    return [Layer("conv", kernel=KERNEL, padding=PADDING, name="conv 1"),
            Layer("maxpool", kernel=POOL, stride=POOL, name="max pool"),
            Layer("conv", kernel=KERNEL, padding=PADDING, name="conv 2")]


def _feature_side() -> tuple[int, list[tuple[str, int]]]:
    from derive.conv.shapes import output_size, pool_output_size

    n, rows = SIDE, []
    for layer in _layers():
        if layer.kind == "conv":
            n = output_size(n, layer.kernel, padding=layer.padding)
        else:
            n = pool_output_size(n, layer.kernel, stride=layer.stride)
        rows.append((layer.name, n))
    return n, rows


def _bilinear(n_in: int, n_out: int):
    """The matrix of bilinear upsampling from ``n_in`` to ``n_out`` points along one axis,
    with half-pixel centres (PyTorch's ``align_corners=False``): output ``i`` samples the
    input at ``(i + 1/2) * n_in / n_out - 1/2``, clamped at 0."""
    import numpy as np

    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        src = max((i + 0.5) * n_in / n_out - 0.5, 0.0)
        lo = int(np.floor(src))
        hi = min(lo + 1, n_in - 1)
        m[i, lo] += 1 - (src - lo)
        m[i, hi] += src - lo
    return m


def _smallest_source(maps: list) -> int | None:
    """The smallest grid side n < the maps' side such that every map is the bilinear
    upsampling of some n x n grid (projection onto those upsamplings reproduces it)."""
    import numpy as np

    side = len(maps[0])
    for n in range(1, side):
        u = _bilinear(n, side)
        proj = u @ np.linalg.pinv(u)
        if all(np.abs(proj @ np.array(m) @ proj.T - np.array(m)).max() < STORED for m in maps):
            return n
    return None


def _all_maps(r: dict[str, Any]) -> list:
    maps = [e["heatmap"] for e in r["examples"]] + list(r["contrast"]["heatmap"].values())
    for e in r["marker"]["examples"]:
        maps += [e["heatmap_clean"], e["heatmap_marked"]]
    return maps


def _share(grid, rows: range, cols: range) -> float:
    """The fraction of a map's total that lies in the given rows and columns."""
    total = sum(sum(row) for row in grid)
    part = sum(grid[i][j] for i in rows for j in cols)
    return part / total if total else 0.0


def _peak(grid) -> tuple[int, int]:
    """Row and column of a map's largest value (the first in row-major order)."""
    flat = [(v, i, j) for i, row in enumerate(grid) for j, v in enumerate(row)]
    best = max(v for v, _, _ in flat)
    return next((i, j) for v, i, j in flat if v == best)


def _correlation(a, b) -> float:
    import numpy as np
    x, y = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    x, y = x - x.mean(), y - y.mean()
    return float((x @ y) / (np.linalg.norm(x) * np.linalg.norm(y)))


def _distance(a, b) -> float:
    """Half the L1 distance between two maps taken as distributions (each over its sum)."""
    import numpy as np
    p, q = np.asarray(a, float), np.asarray(b, float)
    return float(0.5 * np.abs(p / p.sum() - q / q.sum()).sum())


def solve_a(sheet: Sheet) -> None:
    from derive.lab.plots import heatmap_grid
    from derive.lab.runner import load

    record = sheet.measured(NAME, "The model: the SimpleCNN trained exactly like the first "
                                  "seed's 'augmented' run of the augmentation experiment "
                                  "(exercise 8.10). For each chosen class, the first "
                                  "validation image, in the data set's order, that the model "
                                  "classifies correctly.")
    cfg, r = record["config"], record["results"]
    model = r["model"]
    sheet.text(f"The exercise's network is the one trained in exercise 8.10; at the scale of "
               f"this book that is the SimpleCNN trained on digits with augmentation "
               f"(run '{model['variant']}', seed {cfg['seed']}). Its accuracy after the last "
               f"epoch is {model['train_acc']:.3f} on the clean training images and "
               f"{model['val_acc']:.3f} on the validation images.")
    aug = load("augmentation")
    seed_index = aug["results"]["seeds"].index(cfg["seed"])
    sheet.numeric(model["val_acc"],
                  aug["results"]["runs"][model["variant"]]["final"]["val_acc"][seed_index],
                  tol=RERUN, why="validation accuracy of the model trained for Grad-CAM",
                  method=f"the augmentation experiment's run '{model['variant']}' with seed "
                         f"{cfg['seed']}, trained separately (stored results); tolerance: "
                         "the lab's re-run tolerance for accuracies")
    examples = r["examples"]
    sheet.text(f"The classes chosen are {', '.join(map(str, cfg['classes']))}: one image each, "
               f"{len(set(e['label'] for e in r['examples']))} different classes.")
    sheet.table(["class", "position in the validation set", "predicted class",
                 "softmax probability of the class"],
                [(e["label"], e["val_index"], e["predicted"], f"{e['probability']:.3f}")
                 for e in examples],
                caption="The five validation images (positions counted from 0 in the "
                        "validation set's order).")
    sheet.figure(heatmap_grid("grad-cam-images", [e["image"] for e in examples],
                              [f"digit {e['label']}" for e in examples],
                              caption="The five images (grey values from black = 0 to white "
                                      "= 1).", columns=len(examples)))


def _gap_head(sheet: Sheet) -> Any:
    """The existing derivation for global average pooling + one dense layer."""
    import numpy as np
    import sympy

    from derive.numeric import numerical_gradient

    H, W, i, j, k, c, A, w = _symbols()
    K = sympy.Symbol("K", integer=True, positive=True)
    q, a, b = sympy.symbols("q a b", integer=True, nonnegative=True)
    sheet.text("For the common head (global average pooling, then a dense layer with weights "
               "$w[c, k]$ and bias $b_c$) the score is $b_c$ plus, summed over the $K$ maps, "
               "$w[c, k]$ times the average of map $A[k]$. Its gradient at one entry "
               "$A[k, a, b]$:")
    score = sympy.Sum(w[c, q] / (H * W) * sympy.Sum(A[q, i, j], (i, 0, H - 1), (j, 0, W - 1)),
                      (q, 0, K - 1))
    grad = sympy.Derivative(score, A[k, a, b])
    picked = sympy.Sum(w[c, q] * sympy.KroneckerDelta(k, q) / (H * W), (q, 0, K - 1))
    sheet.derive("", [
        (grad, "the score of the head: pooling, then the dense layer (bias left out, its "
               "gradient is 0)"),
        (grad.doit(), "differentiate term by term"),
        (picked, "the sums over $i$ and $j$ keep the one term $i == a$, $j == b$"),
        (w[c, k] / (H * W), "the sum over $q$ keeps the term $q == k$")],
        assume=["k <= K - 1", "a <= H - 1", "b <= W - 1", "w real", "A real"])
    sheet.text("The gradient is the same at every position, so its average is itself:")
    sheet.derive("alpha_k", [
        (w[c, k] / (H * W) ** 2 * sympy.Sum(1, (i, 0, H - 1), (j, 0, W - 1)),
         "average over the $H*W$ positions of the same gradient"),
        (w[c, k] / (H * W), "the sum counts the $H*W$ positions")],
        assume=["w real"])

    channels, rows, cols = SIZE
    rng = np.random.default_rng(11)
    maps = rng.standard_normal(SIZE)
    weights = rng.standard_normal(channels)

    def class_score(m):
        return float(weights @ m.reshape(channels, -1).mean(axis=1))

    alpha = numerical_gradient(class_score, maps).reshape(channels, -1).mean(axis=1)
    sheet.text(f"Numerically, on {channels} random maps of {rows}×{cols} entries and "
               f"{channels} random dense-layer weights for the class (standard normal, NumPy's "
               "generator with seed 11, maps first):")
    expected = [float(v) for v in weights / (rows * cols)]
    sheet.numeric(expected, [float(v) for v in alpha], tol=1e-8,
                  why="the channel weights $alpha_k$",
                  method="central finite differences of the score, averaged over the map "
                         "(NumPy)")

    def by_autograd(torch):
        t = torch.tensor(maps, requires_grad=True)
        (torch.tensor(weights) @ t.mean(dim=(1, 2))).backward()
        return [float(v) for v in t.grad.mean(dim=(1, 2))]

    sheet.numeric_if_installed("torch", expected, by_autograd, tol=1e-12,
                               why="the channel weights $alpha_k$",
                               method="PyTorch's autograd in float64")
    cam = np.maximum(np.tensordot(weights, maps, axes=1), 0)
    gradcam = np.maximum(np.tensordot(alpha, maps, axes=1), 0)
    sheet.numeric(cam, gradcam * rows * cols, tol=1e-6, why="class activation map",
                  method=f"Grad-CAM heatmap from the finite-difference weights, times "
                         f"${rows}*{cols}$ (NumPy)")
    sheet.text("So for this head Grad-CAM is the class activation map (the ReLU of the maps "
               "weighted by $w[c, k]$) divided by $H*W$, which does not change where the "
               "heatmap is bright.")
    return w[c, k] / (H * W)


def _max_pool_head(sheet: Sheet, side: int) -> None:
    """The SimpleCNN's head: max pooling of the feature maps, then one dense layer."""
    import numpy as np

    from derive.conv.shapes import pool_output_size
    from derive.numeric import numerical_gradient

    cells = pool_output_size(side, POOL) ** 2
    sheet.text(f"The SimpleCNN's head is different: it max-pools each {side}×{side} feature "
               f"map to {cells} cells and applies a dense layer to the {cells} values of "
               "every channel, with weight $w[c, k, p]$ for cell $p$. Within a cell only the "
               "largest entry reaches the score, so the gradient is $w[c, k, p]$ at each "
               "cell's maximum and 0 elsewhere (ties aside), and its average over the map "
               "is $alpha_k$ = the sum of $w[c, k, p]$ over the cells, divided by $H*W$. "
               "Grad-CAM then weights each channel by its total dense weight, wherever in the "
               "map the maxima lie. Checked numerically (NumPy's generator with seed 12, maps "
               "first, standard normal):")
    channels, rows, cols = POOLED
    rng = np.random.default_rng(12)
    maps = rng.standard_normal(POOLED)
    per = rows // POOL
    weights = rng.standard_normal((channels, per, per))

    def class_score(m):
        pooled = m.reshape(channels, per, POOL, per, POOL).max(axis=(2, 4))
        return float((weights * pooled).sum())

    grad = numerical_gradient(class_score, maps)
    expected = [float(v) for v in weights.sum(axis=(1, 2)) / (rows * cols)]
    sheet.numeric(expected, [float(v) for v in grad.reshape(channels, -1).mean(axis=1)],
                  tol=1e-8, why=f"$alpha_k$ for {channels} random maps of {rows}×{cols}: "
                                "the sum of the channel's dense weights over $H*W$",
                  method="central finite differences of the max-pooling head's score, "
                         "averaged over the map (NumPy)")
    sheet.numeric([cells] * channels,
                  [int((np.abs(g) > 1e-9).sum()) for g in grad],
                  why="positions with a non-zero gradient in each channel: one per pooled "
                      "cell (the engine's pooling output size, squared)",
                  method="the finite-difference gradient's non-zero entries, counted")


def solve_b(sheet: Sheet) -> None:
    from derive.conv.receptive import receptive_field
    from derive.lab.plots import heatmap_grid

    record = sheet.measured(NAME, "Grad-CAM maps of the five images of part (a) for their "
                                  "predicted class: each channel of the last convolution "
                                  "block's feature maps (before their pooling) weighted by the "
                                  "spatial mean of the gradient there of the class score "
                                  "(before the softmax), summed, "
                                  "passed through a ReLU, upsampled bilinearly to the image "
                                  "and scaled to a maximum of 1.")
    r = record["results"]
    side, rows = _feature_side()
    sheet.table(["layer", "map side after it"], [("input", SIDE)] + rows,
                caption="Feature-map sizes of the SimpleCNN up to the maps Grad-CAM reads "
                        "(engine output sizes; convolutions with padding "
                        f"{PADDING}, max pooling of {POOL}).")
    maps = _all_maps(r)
    sheet.numeric(side, _smallest_source(maps),
                  why="side of the feature maps Grad-CAM reads (engine output sizes)",
                  method=f"the smallest grid side n whose bilinear upsampling to {SIDE}×{SIDE} "
                         f"(half-pixel centres) reproduces all {len(maps)} stored maps, "
                         f"trying n = 1, 2, ... (least squares in NumPy, to {STORED:g})")
    field = receptive_field(_layers())
    seen = {0}
    for layer in reversed(_layers()):
        seen = {layer.stride * i + u for i in seen for u in range(layer.kernel)}
    sheet.numeric(field.size, len(seen),
                  why="receptive field of one feature-map unit, in pixels per axis (engine "
                      "recurrence)",
                  method="the input positions one unit depends on, enumerated backwards "
                         "through the layers")
    sheet.text(f"So a Grad-CAM map has {side}×{side} cells, neighbouring cells {field.jump} "
               f"pixels apart, and each cell sees {field.size}×{field.size} pixels of the "
               f"{SIDE}×{SIDE} input (padding included): the map can say which part of the "
               "digit matters only coarsely, and a bright cell over blank pixels may still be "
               "responding to strokes nearby.")

    H, W, i, j, k, c, A, w = _symbols()
    sheet.text("Grad-CAM for class $c$: with $A[k]$ the $k$-th feature map of the last "
               "convolution (entries $A[k, i, j]$ on an $H$×$W$ grid) and $y_c$ the class "
               "score, the channel weight $alpha_k$ is the average over the $H*W$ positions "
               "of the gradient $Derivative(y_c, A[k, i, j])$, and the heatmap is the ReLU of "
               "the maps weighted by $alpha_k$ and summed over $k$, upsampled to the image.")
    alpha = _gap_head(sheet)
    _max_pool_head(sheet, side)

    examples = r["examples"]
    sheet.figure(heatmap_grid(
        "grad-cam-heatmaps", [e["image"] for e in examples] + [e["heatmap"] for e in examples],
        [f"digit {e['label']}" for e in examples]
        + [f"~map for {e['predicted']}" for e in examples],
        caption="Top: the five images. Bottom: their Grad-CAM maps for the predicted class "
                "(blue = 0, red = the map's maximum).", columns=len(examples)))
    table, above, blank = [], 0, 0
    for e in examples:
        ink = [[v > 0 for v in row] for row in e["image"]]
        area = sum(map(sum, ink)) / (SIDE * SIDE)
        total = sum(map(sum, e["heatmap"]))
        on_ink = sum(v for hrow, irow in zip(e["heatmap"], ink)
                     for v, inked in zip(hrow, irow) if inked) / total
        above += on_ink > area
        pi, pj = _peak(e["heatmap"])
        blank += e["image"][pi][pj] == 0
        table.append((e["label"], f"({pi}, {pj})", f"{e['image'][pi][pj]:.2f}",
                      f"{area:.2f}", f"{on_ink:.2f}"))
    sheet.table(["class", "map's peak (row, column)", "grey value at the peak",
                 "share of pixels with ink", "share of the map on them"], table,
                caption="Where the maps lie (rows and columns counted from 0 at the top "
                        "left; a pixel has ink if its grey value is above 0).")
    sheet.text(f"In {above} of the {len(examples)} images the map puts more of its weight on "
               "the pixels with ink than their share of the image"
               + (f"; in {blank} the peak lies on a blank pixel, which at this resolution "
                  f"says little, since the cell there sees {field.size}×{field.size} pixels "
                  "around it." if blank else "."))
    sheet.answer("alpha_k (average pooling head)", alpha)
    sheet.answer("feature maps read by Grad-CAM", f"{side} × {side}")


def solve_c(sheet: Sheet) -> None:
    import sympy

    from derive.lab.plots import heatmap_grid

    record = sheet.measured(NAME, "One image's Grad-CAM maps for the predicted class and for "
                                  "the highest-scoring other class whose map is not zero "
                                  "everywhere; their correlation, and half the L1 distance "
                                  "between them taken as distributions (each map divided by "
                                  "its sum).")
    r = record["results"]
    con = r["contrast"]
    ex = r["examples"][con["example"]]
    pred, other = con["predicted"], con["other"]
    hp, ho = con["heatmap"]["predicted"], con["heatmap"]["other"]
    sheet.figure(heatmap_grid(
        "grad-cam-contrast", [ex["image"], hp, ho],
        [f"digit {ex['label']}", f"~map for {pred}", f"~map for {other}"],
        caption=f"The digit {ex['label']} of part (a) and its Grad-CAM maps for the "
                f"predicted class {pred} and for class {other}.", columns=3))
    sheet.text(f"For the digit {ex['label']} the network predicts {pred} with probability "
               f"{con['probability']['predicted']:.3f}; the other class is {other}, the "
               f"highest-scoring class after it whose map is not zero everywhere (probability "
               f"{con['probability']['other']:.3f}).")
    sheet.numeric([con["correlation"], con["distance"]],
                  [_correlation(hp, ho), _distance(hp, ho)], tol=STORED,
                  why="correlation of the two maps, and their distance as distributions "
                      "(stored, computed before the maps were scaled)",
                  method="recomputed from the two stored maps, scaled to a maximum of 1 "
                         "(neither number depends on the scale)")
    half = SIDE // 2
    left = {name: _share(g, range(SIDE), range(half)) for name, g in (("p", hp), ("o", ho))}
    peaks = {name: _peak(g) for name, g in (("p", hp), ("o", ho))}
    strength = ("weak" if abs(con["correlation"]) < WEAK else
                "moderate" if abs(con["correlation"]) < STRONG else "strong")
    more = "more" if left["p"] > left["o"] else "less"
    alike = "are alike" if con["correlation"] >= STRONG else "differ"
    sheet.text(f"The maps {alike}: their correlation is {con['correlation']:.2f} ({strength}), "
               f"and {con['distance']:.2f} of one map's weight would have to move to turn it "
               f"into the other. The map for {pred} puts {left['p']:.2f} of its weight in the "
               f"left half of the image, {more} than the map for {other} ({left['o']:.2f}); "
               f"their peaks are at (row, column) {peaks['p']} and {peaks['o']}.")

    H, W, _, _, _, _, A, _ = _symbols()
    alpha = sympy.IndexedBase("alpha")
    channels = SIZE[0]
    c1, c2 = sympy.symbols("c_1 c_2", integer=True, nonnegative=True)
    maps = [A[q] for q in range(channels)]
    before = [sum(alpha[cl, q] * maps[q] for q in range(channels)) for cl in (c1, c2)]
    sheet.text(f"Why they differ: before the ReLU both maps are sums of the same feature maps "
               f"with different channel weights, $alpha[c_1, k]$ and $alpha[c_2, k]$ (part "
               f"(b)); their difference (here with {channels} channels) weights each map by "
               "the difference of the two classes' channel weights:")
    sheet.claim(before[0] - before[1],
                sum((alpha[c1, q] - alpha[c2, q]) * maps[q] for q in range(channels)),
                why="difference of the two classes' maps", assume=["alpha real", "A real"])
    sheet.explain(
        "So the map for a second class highlights the regions whose features that class's "
        "weights favour; where the predicted class relies on channels the other class weighs "
        "less or negatively, one map is bright and the other dark, and the ReLU removes what "
        "speaks against a class.",
        rests_on=["8.11(b): the channel weights of Grad-CAM",
                  "8.11(c): the difference of the two maps, and the measured correlation and "
                  "distance"])


def solve_d(sheet: Sheet) -> None:
    from derive.lab.plots import heatmap_grid
    from derive.lab.runner import load

    record = sheet.measured(NAME, "A second model trained like the first, except that a "
                                  "bright square marker is painted on every training image of "
                                  "one class and on no other. On the validation images of the "
                                  "other classes, without and with the marker: how often the "
                                  "prediction is the marked class, which share of the map for "
                                  "the predicted class lies in the marker's square, and how "
                                  "often the map's peak lies there; the same with the marker "
                                  "for the model of parts (a)-(c), which never saw it "
                                  "(the control); and on the marked validation images of the "
                                  "marked class, accuracy, share and peaks.")
    cfg, m = record["config"], record["results"]["marker"]
    mk = cfg["marker"]
    c = m["class"]
    (r0, r1), (c0, c1) = mk["rows"], mk["cols"]
    others, own = m["others"], m["own_class"]
    rate, share, peak = (others["rate_predicted_marker_class"], others["marker_fraction"],
                         others["peak_on_marker_rate"])
    area = m["marker_area_fraction"]
    clean = ([e["image"] for e in record["results"]["examples"]]
             + [e["image_clean"] for e in m["examples"]])
    corner = sum(g[i][j] for g in clean for i in range(r0, r1) for j in range(c0, c1)) / (
        len(clean) * (r1 - r0) * (c1 - c0))
    sheet.text(f"The exercise asks to find a correct prediction whose map sits on a "
               f"suspicious region. At this scale the suspicious region is planted, so that it "
               f"is known: a {r1 - r0}×{c1 - c0} square of grey value {mk['value']:g} in rows "
               f"{r0} to {r1 - 1} and columns {c0} to {c1 - 1} (counted from 0 at the top "
               f"left) on every training image of class {c}. In the {len(clean)} unmarked "
               f"validation images stored with the results, that square's mean grey value is "
               f"{corner:.3f} on a scale to 1: "
               + ("background, which the strokes of a digit hardly reach" if corner < BLANK else
                  "not blank background")
               + f". The planted "
               f"model reaches {m['train_acc']:.3f} on its (marked) training images and "
               f"{m['val_acc_clean']:.3f} on the clean validation images, against "
               f"{record['results']['model']['val_acc']:.3f} for the control.")
    side = len(m["examples"][0]["image_clean"]) if m["examples"] else SIDE
    sheet.numeric(area, (r1 - r0) * (c1 - c0) / (side * side), tol=STORED,
                  why="the marker's share of the image area (stored)",
                  method="the marker's rows times columns over the image's pixels, from the "
                         "configuration")
    val_size = load("augmentation")["results"]["val_size"]
    sheet.numeric(others["count"] + own["count"], val_size,
                  why=f"validation images of the other classes plus those of class {c}",
                  method="the size of the validation set of the augmentation experiment "
                         "(same split, stored results)")

    def pct(v: float) -> str:
        return f"{v:.3f}"

    sheet.table(["measured", "planted model, no marker", "planted model, with marker",
                 f"… of those called {c}", "control model, with marker"],
                [(f"share called {c}", pct(rate["clean"]), pct(rate["marked"]), "",
                  pct(rate["marked_control_model"])),
                 ("share of the map in the square", pct(share["clean"]), pct(share["marked"]),
                  pct(share["marked_flipped"]), pct(share["marked_control_model"])),
                 ("map's peak in the square", pct(peak["clean"]), pct(peak["marked"]),
                  pct(peak["marked_flipped"]), pct(peak["marked_control_model"]))],
                caption=f"The {others['count']} validation images of the classes other than "
                        f"{c}. The square covers {area:.4f} of the image; a map spread evenly "
                        "would put that share in it.")
    ratio = share["marked"] / area
    sheet.text(f"The marker alone makes the planted model call {rate['marked']:.3f} of these "
               f"images a {c}, against {rate['clean']:.3f} without it and "
               f"{rate['marked_control_model']:.3f} for the control model with it. Grad-CAM "
               f"shows where the decision comes from: with the marker, the planted model's "
               f"maps put {share['marked']:.3f} of their weight in the square "
               f"({ratio:.1f} times its share of the area; {share['marked_flipped']:.3f} on "
               f"the images it calls {c}), against {share['clean']:.3f} without the marker "
               f"and {share['marked_control_model']:.3f} for the control.")
    n_own = own["count"]
    peaked = round(own["peak_on_marker_rate_marked"] * n_own)
    sheet.text(f"The correct predictions the exercise asks for: on the {n_own} marked "
               f"validation images of class {c} the planted model is right in "
               f"{own['marked_acc']:.3f} of cases, and for {peaked} of them the map's peak "
               f"lies in the marker's square ({own['marker_fraction_marked']:.3f} of the "
               "map's weight there on average). Accuracy alone would not reveal that these "
               "predictions rest on the marker.")
    ex = m["examples"]
    if ex:
        grids, titles = [], []
        for e in ex:
            grids += [e["image_clean"], e["heatmap_clean"], e["image_marked"],
                      e["heatmap_marked"]]
            titles += [f"digit {e['label']}", f"~map for {e['predicted_clean']}",
                       "with marker", f"~map for {e['predicted_marked']}"]
        sheet.figure(heatmap_grid(
            "grad-cam-marker", grids, titles, columns=4,
            caption=f"The first {len(ex)} validation images (in the data set's order) that "
                    f"the planted model classifies correctly without the marker and as {c} "
                    "with it, each with its map for the predicted class."))
        sheet.table(["class", "predicted without / with marker",
                     "share of the map in the square, without / with"],
                    [(e["label"], f"{e['predicted_clean']} / {e['predicted_marked']}",
                      f"{e['marker_fraction_clean']:.3f} / {e['marker_fraction_marked']:.3f}")
                     for e in ex], caption="The images of the figure.")
        sheet.numeric([e["marker_fraction_marked"] for e in ex],
                      [_share(e["heatmap_marked"], range(r0, r1), range(c0, c1)) for e in ex],
                      tol=STORED, why="share of each marked map in the square (stored)",
                      method="recomputed from the stored maps (scaled to a maximum of 1; a "
                             "share does not depend on the scale)")
    ctrl = rate["marked_control_model"]
    if ctrl > 0:
        sheet.text(f"The control model is not immune: a bright corner unlike anything in its "
                   f"training data makes it call {ctrl:.3f} of the images a {c}, "
                   + (f"{rate['marked'] / ctrl:.1f} times less often than the planted model."
                      if rate["marked"] > ctrl else "no less often than the planted model."))
    sheet.explain(
        f"What this says about the learned features: in training, the corner square "
        f"predicted class {c} perfectly, and the network learned it as a feature of class "
        f"{c} alongside the shape of the digit. Such a shortcut costs nothing on data that "
        "share it, and a correct prediction does not show it; the map does, by lying on a "
        "region where digits have no strokes. What the scaled run can show is that Grad-CAM "
        "finds a shortcut that is known to be there; it cannot show how often such shortcuts "
        "(a background, a watermark) arise unplanted in CIFAR-10, which needs searching the "
        "maps of a fully trained network on real images.",
        rests_on=["8.11(b): what the maps can resolve", "8.11(d): the measured rates and "
                  "shares above"])


PROBLEM = Problem(
    id="8.11", set="chapter8", order=11, title="Grad-CAM",
    source="Chapter 8, exercise 8.11",
    statement="Apply Grad-CAM to the small CNN trained in exercise 8.10.",
    parts=(
        Part("a", "Pick 5 correctly classified images from different classes.", solve_a,
             scope=EXPERIMENT),
        Part("b", "Compute their Grad-CAM heatmaps for the predicted class.", solve_b,
             scope=EXPERIMENT),
        Part("c", "For one image, compute the heatmaps of the predicted class and of one other "
                  "class. How do they differ?", solve_c, scope=EXPERIMENT),
        Part("d", "Find a correct prediction whose heatmap focuses on a suspicious region (for "
                  "example the background). What does that say about the learned features?",
             solve_d, scope=EXPERIMENT),
    ),
)
