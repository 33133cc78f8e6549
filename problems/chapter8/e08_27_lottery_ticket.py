"""Exercise 8.27: lottery tickets, magnitude against random pruning.

Every part is an experiment: the numbers come from the stored results of the seeded
``pruning`` experiment (:mod:`derive.lab.experiments.pruning`), which trains the digits
SimpleCNN in place of a ResNet-18 on CIFAR-10, prunes it once (one shot) at 50%, 70% and 90%
sparsity by global weight magnitude and at random, rewinds the surviving weights to their
initial values and retrains; building the book runs no network.  The engine derives the
SimpleCNN's sizes (:func:`derive.arch.summary.summarize`, :mod:`derive.conv.costs`) and checks
them against the weight counts stored by the experiment; it derives the weights kept at each
sparsity (PyTorch's rule: ``round(amount * n)`` weights are removed), the per-layer
expectation under random pruning (checked against the stored random masks), and the per-layer
kept fractions that the layers' initial weight scales alone would give a global magnitude
threshold (checked with NumPy draws and, where PyTorch is installed, with the network's
initialisation).  Comparisons on the page (magnitude against random, pruned against dense,
which layer keeps most) are decided from the stored numbers, with the binomial standard error
of an accuracy on the validation images as the yardstick.

For the network the exercise names, the engine still derives ResNet-18's size from the
catalog spec (:func:`derive.arch.catalog.resnet` with a 10-class head), its prunable weights,
the weights each sparsity keeps, the per-stage expectation under random pruning and the
per-layer weight counts, cross-checked by enumerating the weight shapes, with seeded random
prunings and, where PyTorch is installed, with a ResNet-18 built from its modules.
"""

from __future__ import annotations

import math
from typing import Any

from derive.book import EXPERIMENT, Part, Problem, Sheet

NAME = "pruning"
CLASSES, SIDE = 10, 32                  # ResNet-18 for CIFAR-10
DIGITS_SIDE, DIGITS_CHANNELS = 8, 1     # the digits images the SimpleCNN reads
SPARSITIES = ("0.5", "0.7", "0.9")      # the exercise's sparsities (ResNet-18 derivations)


# -- ResNet-18, the network as posed -------------------------------------------------------

def _spec():
    from derive.arch.catalog import resnet
    return resnet("resnet18", num_classes=CLASSES)


def _weighted(items, out=None):
    """(name, weight count) of every conv and dense layer of a spec, biases excluded."""
    from derive.conv.costs import conv_cost, dense_cost
    from derive.conv.layers import Layer, Merge
    out = [] if out is None else out
    for item in items:
        if isinstance(item, Merge):
            for branch in item.branches:
                _weighted(branch, out)
        elif isinstance(item, Layer) and item.kind == "conv":
            out.append((item.name, conv_cost(item.in_channels, item.out_channels, item.kernel, 1,
                                             groups=item.groups, bias=False,
                                             convention="mac").params))
        elif isinstance(item, Layer) and item.kind == "dense":
            out.append((item.name, dense_cost(item.in_channels, item.out_channels, bias=False,
                                              convention="mac").params))
    return out


def _shapes_by_hand() -> list[tuple[int, ...]]:
    """Independent: ResNet-18's conv and dense weight shapes, stage by stage."""
    shapes = [(64, 3, 7, 7)]
    c_in = 64
    for width in (64, 128, 256, 512):
        for block in range(2):
            shapes += [(width, c_in, 3, 3), (width, width, 3, 3)]
            if c_in != width:
                shapes.append((width, c_in, 1, 1))
            c_in = width
    return shapes + [(CLASSES, 512)]


def _torch_resnet18(torch):
    """ResNet-18 from torch.nn modules, built on the 'meta' device (shapes, no memory)."""
    with torch.device("meta"):
        return _build_resnet18(torch)


def _build_resnet18(torch):
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, a, b, s):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(a, b, 3, s, 1, bias=False), nn.BatchNorm2d(b)
            self.conv2, self.bn2 = nn.Conv2d(b, b, 3, 1, 1, bias=False), nn.BatchNorm2d(b)
            self.down = (nn.Sequential(nn.Conv2d(a, b, 1, s, bias=False), nn.BatchNorm2d(b))
                         if s != 1 or a != b else None)

    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)]
    c_in = 64
    for width, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Block(c_in, width, stride), Block(width, width, 1)]
        c_in = width
    layers.append(nn.Linear(512, CLASSES))
    return nn.ModuleList(layers)


def _kept(n: int, sparsity: str | float) -> int:
    """Weights left after removing round(amount * n) of n (PyTorch's pruning amount)."""
    return n - round(float(sparsity) * n)


def _resnet_sizes(sheet: Sheet) -> None:
    from fractions import Fraction

    from derive.arch.summary import summarize

    s = summarize(_spec(), convention="mac", input_size=SIDE)
    weights = _weighted(_spec().features + _spec().head)
    prunable = sum(w for _, w in weights)
    sheet.text("For the network the exercise names, a ResNet-18 with a 10-class head on "
               "32 × 32 images, the engine derives how many weights the same procedure would "
               "prune:")
    by_hand = int(sum(math.prod(shape) for shape in _shapes_by_hand()))
    sheet.numeric(prunable, by_hand, why="ResNet-18's prunable weights (convolution and dense)",
                  method="convolution and dense weight shapes listed stage by stage and "
                         "multiplied out")

    def torch_params(torch):
        return sum(p.numel() for p in _torch_resnet18(torch).parameters())

    def torch_weights(torch):
        kinds = (torch.nn.Conv2d, torch.nn.Linear)
        return sum(m.weight.numel() for m in _torch_resnet18(torch).modules()
                   if isinstance(m, kinds))

    sheet.numeric_if_installed("torch", s.params, torch_params,
                               why="ResNet-18's learnable parameters",
                               method="a ResNet-18 built from PyTorch's modules")
    sheet.numeric_if_installed("torch", prunable, torch_weights,
                               why="ResNet-18's prunable weights (convolution and dense)",
                               method="the weights of its Conv2d and Linear modules")
    rows = []
    for sp in SPARSITIES:
        kept = _kept(prunable, sp)
        exact = prunable - round(Fraction(sp) * prunable)      # exact rational rounding
        sheet.numeric(kept, exact, why=f"ResNet-18's weights kept at {float(sp):.0%} sparsity",
                      method="the count removed rounded with exact rational arithmetic "
                             "instead of floats")
        rows.append((f"{float(sp):.0%}", prunable - kept, kept))
    sheet.table(["sparsity", "weights removed", "weights kept"], rows,
                caption=f"ResNet-18: global unstructured pruning of the {prunable:,} conv and "
                        f"dense weights (of {s.params:,} learnable parameters: biases and "
                        f"batch-norm scales and shifts are not pruned).")
    sheet.answer("ResNet-18, 10 classes", f"{s.params:,} parameters, {prunable:,} prunable "
                                          f"weights")


def _resnet_random(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    weights = _weighted(_spec().features + _spec().head)
    n = sum(w for _, w in weights)
    sp = SPARSITIES[-1]
    kept = _kept(n, sp)
    expected = [(name, sympy.Rational(w * kept, n)) for name, w in weights]
    stages: dict[str, Any] = {}
    for name, e in expected:
        stage = name.split(".")[0]
        stages[stage] = stages.get(stage, 0) + e
    # independent: prune at random many times (a uniformly random kept set of each draw is
    # spread over the layers by the multivariate hypergeometric law) and average per stage
    draws = 200
    samples = np.random.default_rng(827).multivariate_hypergeometric(
        [w for _, w in weights], kept, size=draws)
    in_stage = {k: [i for i, (name, _) in enumerate(weights) if name.split(".")[0] == k]
                for k in stages}
    ratios = [round(float(samples[:, idx].sum(axis=1).mean() / float(stages[k])), 4)
              for k, idx in in_stage.items()]
    # five standard errors of the mean kept count of the smallest stage, relative to it
    smallest = min(sum(weights[i][1] for i in idx) for idx in in_stage.values()) / n
    spread = math.sqrt(kept * smallest * (1 - smallest) * (n - kept) / (n - 1))
    tol = 5 * spread / (kept * smallest) / math.sqrt(draws)
    sheet.text(f"For ResNet-18 at {float(sp):.0%} sparsity the same expectation gives each "
               "stage its share of the kept weights:")
    # the derived expectation, divided by itself, against the simulated mean divided by it
    sheet.numeric([1.0] * len(ratios), ratios, tol=round(tol, 4),
                  why="ResNet-18's weights kept per stage, as a fraction of the derived "
                      "expected count",
                  method=f"{draws} random prunings at {float(sp):.0%} (NumPy multivariate "
                         "hypergeometric draws, seed 827), averaged and rounded to 4 "
                         "decimals; the tolerance is five standard errors of the smallest "
                         "stage's mean")
    sheet.table(["stage", f"expected weights kept at {float(sp):.0%} (random pruning)"],
                [(k, f"{float(v):,.0f}") for k, v in stages.items()],
                caption="ResNet-18: random pruning keeps a uniformly random set of the kept "
                        "size, so each layer keeps the same fraction in expectation.")


def _resnet_layers(sheet: Sheet) -> None:
    weights = _weighted(_spec().features + _spec().head)
    n = sum(w for _, w in weights)
    sheet.text("For ResNet-18 the engine derives the weights of each layer a global threshold "
               "would choose among:")
    sheet.table(["layer", "weights", "share of all prunable weights"],
                [(name, w, f"{w / n:.2%}") for name, w in weights],
                caption="Per-layer weight counts of ResNet-18 (derived from the spec).")
    sheet.numeric([w for _, w in weights], [math.prod(s) for s in _shapes_by_hand()],
                  why="ResNet-18's per-layer weight counts",
                  method="convolution and dense weight shapes listed stage by stage and "
                         "multiplied out")
    first = weights[0][1]
    last_stage = sum(w for name, w in weights if name.startswith("layer4"))
    kept = _kept(n, SPARSITIES[-1])
    sheet.text(f"In ResNet-18 the first convolution holds {first / n:.2%} of the prunable "
               f"weights and the last stage {last_stage / n:.1%}. Keeping the first "
               f"convolution whole at {float(SPARSITIES[-1]):.0%} sparsity would use "
               f"{first / kept:.1%} of the {kept:,} weights kept, so there a global threshold "
               f"can spare the first layer almost for free.")


# -- the SimpleCNN of the experiment -------------------------------------------------------

def _simple_cnn(channels: list[int]):
    """The experiment's SimpleCNN as an engine spec: two blocks of 3 × 3 convolution (no
    bias), batch norm, ReLU and 2 × 2 max pooling, then a linear head to 10 classes."""
    from derive.arch.spec import Architecture
    from derive.conv.layers import Layer
    from derive.conv.shapes import output_size, pool_output_size

    features, c_in, side = [], DIGITS_CHANNELS, DIGITS_SIDE
    for i, c_out in enumerate(channels, start=1):
        features += [Layer("conv", kernel=3, padding=1, in_channels=c_in, out_channels=c_out,
                           bias=False, name=f"conv{i}"),
                     Layer("bn", name=f"bn{i}"), Layer("act", name=f"relu{i}"),
                     Layer("maxpool", kernel=2, stride=2, name=f"pool{i}")]
        side = pool_output_size(output_size(side, 3, 1), 2)
        c_in = c_out
    head = (Layer("flatten", name="flatten"),
            Layer("dense", in_channels=c_in * side * side, out_channels=CLASSES, name="head"))
    return Architecture("SimpleCNN", tuple(features), head,
                        input_shape=(DIGITS_CHANNELS, DIGITS_SIDE, DIGITS_SIDE))


def _fan_in(item) -> int:
    """Inputs feeding one output of a conv or dense layer."""
    return item.in_channels * (item.kernel ** 2 if item.kind == "conv" else 1)


def _layers(arch) -> list:
    """The SimpleCNN's prunable (conv and dense) layer specs, in order."""
    return [item for item in arch.features + arch.head if item.kind in ("conv", "dense")]


def _init_bounds(arch) -> dict[str, float]:
    """PyTorch's default initialisation of Conv2d and Linear weights (Kaiming uniform with
    a = sqrt(5)) draws from U(-b, b) with b = 1/sqrt(fan_in)."""
    return {item.name: 1 / math.sqrt(_fan_in(item)) for item in _layers(arch)}


def _scale_baseline(sizes: dict[str, int], bounds: dict[str, float], kept: int
                    ) -> dict[str, float]:
    """Expected kept fraction per layer when a global magnitude threshold t keeps ``kept``
    weights drawn from U(-b_l, b_l): layer l keeps 1 - t/b_l (nothing if t >= b_l), and t
    solves sum_l n_l (1 - t/b_l) = kept over the layers it does not empty."""
    active = sorted(sizes, key=lambda k: bounds[k], reverse=True)
    while True:
        t = (sum(sizes[k] for k in active) - kept) / sum(sizes[k] / bounds[k] for k in active)
        if t < bounds[active[-1]]:
            break
        active.pop()
    return {k: max(0.0, 1 - t / bounds[k]) for k in sizes}


def _simulated_baseline(sizes: dict[str, int], bounds: dict[str, float], kept: int,
                        draws: int, seed: int) -> dict[str, float]:
    """Independent: draw every layer's weights from U(-b, b), keep the ``kept`` largest
    magnitudes over all layers, average each layer's kept fraction over the draws."""
    import numpy as np
    rng = np.random.default_rng(seed)
    totals = dict.fromkeys(sizes, 0.0)
    for _ in range(draws):
        w = {k: np.abs(rng.uniform(-bounds[k], bounds[k], n)) for k, n in sizes.items()}
        threshold = np.sort(np.concatenate(list(w.values())))[::-1][kept - 1]
        for k in sizes:
            totals[k] += float((w[k] >= threshold).mean())
    return {k: v / draws for k, v in totals.items()}


def _pct(s: float) -> str:
    return f"{s:.0%}"


def _join(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _se(p: float, n: int) -> float:
    """Binomial standard error of an accuracy p measured on n images."""
    return math.sqrt(p * (1 - p) / n)


def _relation(diff: float, se: float, better: str, worse: str, same: str) -> str:
    """Words for a difference, judged against its standard error: within two standard
    errors counts as no difference."""
    if abs(diff) < 2 * se:
        return same
    return better if diff > 0 else worse


def _measured(sheet: Sheet, what: str) -> dict[str, Any]:
    return sheet.measured(NAME, what)


def _sizes_check(sheet: Sheet, r: dict[str, Any], channels: list[int]) -> int:
    """The SimpleCNN's sizes from the engine, checked against the experiment's tensor counts;
    returns the number of prunable weights."""
    from derive.arch.summary import summarize

    arch = _simple_cnn(channels)
    s = summarize(arch, convention="mac")
    weights = _weighted(arch.features + arch.head)
    sheet.table(["layer", "output shape", "learnable parameters", "prunable weights"],
                [(row.name, " × ".join(map(str, row.shape)), row.params,
                  dict(weights).get(row.name, 0)) for row in s.rows if row.params],
                caption=f"The SimpleCNN on {DIGITS_SIDE} × {DIGITS_SIDE} digits (engine "
                        "summary; the head's bias and the batch-norm scales and shifts are "
                        "not pruned).")
    sheet.numeric([w for _, w in weights], [r["layer_sizes"][k] for k in r["layers"]],
                  why="prunable weights of " + ", ".join(name for name, _ in weights)
                      + " (engine costs)",
                  method="the entries of the network's weight tensors, counted by the "
                         "experiment (stored results)")

    def torch_params(torch):
        from derive.lab.experiments._digits import SimpleCNN
        return sum(p.numel() for p in SimpleCNN(tuple(channels)).parameters())

    sheet.numeric_if_installed("torch", s.params, torch_params,
                               why="SimpleCNN's learnable parameters (engine summary)",
                               method="the experiment's SimpleCNN module, its parameters "
                                      "counted")
    return sum(w for _, w in weights)


# -- the parts ---------------------------------------------------------------------------

def solve_a(sheet: Sheet) -> None:
    from derive.lab.plots import line_plot

    record = _measured(sheet, "Validation accuracy of the dense SimpleCNN and of the networks "
                              "pruned by global weight magnitude at each sparsity, rewound to "
                              "the initial weights and retrained.")
    r, config = record["results"], record["config"]
    n_val, epochs = r["val_size"], r["epochs"]
    sheet.text(f"The procedure is the lottery-ticket one. The network is trained from its "
               f"initial weights $theta_0$ for {epochs} epochs to $theta_final$. For each "
               "sparsity a mask removes that fraction of the weights with the smallest "
               "$Abs(theta_final)$, ranked over all convolution and linear weights together "
               "(global unstructured pruning). The surviving weights are then reset to their "
               "values in $theta_0$ (the whole initial state, batch norm included), and the "
               f"masked network is retrained for {epochs} epochs with the same batch order, "
               "the mask re-applied after every optimiser step. Each sparsity is pruned once "
               "from the dense $theta_final$ (one-shot pruning, as the exercise asks); Frankle "
               "and Carbin's sparsest tickets come from iterative pruning, a little at a time "
               "with a rewind after each round, which is not run here.")
    prunable = _sizes_check(sheet, r, config["channels"])
    levels = r["levels"]
    sheet.numeric([lv["magnitude"]["kept"] for lv in levels],
                  [_kept(prunable, lv["sparsity"]) for lv in levels],
                  why="weights kept by magnitude pruning at "
                      + ", ".join(_pct(lv["sparsity"]) for lv in levels)
                      + " (the masks' sums, stored)",
                  method=f"the n weights minus s·n rounded to the nearest whole number "
                         f"(how the masks are cut), with the engine's n = {prunable:,}")
    sheet.numeric([lv["magnitude"]["kept"] for lv in levels],
                  [sum(round(r["layer_sizes"][k] * lv["magnitude"]["kept_fraction"][k])
                       for k in r["layers"]) for lv in levels],
                  why="weights kept by magnitude pruning (the masks' sums, stored)",
                  method="each layer's stored kept fraction times its size, rounded and "
                         "summed over the layers")
    dense = r["dense"]
    rows = [("dense", "0%", prunable, f"{dense['val_acc']:.3f}",
             round(dense["val_acc"] * n_val), f"{dense['val_acc_curve'][0]:.3f}",
             f"{dense['train_acc']:.3f}")]
    for lv in levels:
        m = lv["magnitude"]
        rows.append(("magnitude, rewound", _pct(lv["sparsity"]), m["kept"], f"{m['val_acc']:.3f}",
                     round(m["val_acc"] * n_val), f"{m['val_acc_curve'][0]:.3f}",
                     f"{m['train_acc']:.3f}"))
    sheet.table(["network", "sparsity", "weights kept", "validation accuracy",
                 f"correct of {n_val}", "after epoch 1", "training accuracy"], rows,
                caption=f"Final accuracies after {epochs} epochs (validation: {n_val} digits, "
                        f"training: {r['train_size']}).")
    sheet.figure(line_plot(
        "pruning-magnitude-curves",
        [("dense", list(range(1, epochs + 1)), dense["val_acc_curve"])]
        + [(f"magnitude {_pct(lv['sparsity'])}, rewound", list(range(1, epochs + 1)),
            lv["magnitude"]["val_acc_curve"]) for lv in levels],
        xlabel="epoch", ylabel="validation accuracy",
        caption="Validation accuracy per epoch of the dense network and of the magnitude-"
                "pruned networks retrained from the initial weights (stored results of the "
                "pruning experiment)."))
    verdicts = []
    for lv in levels:
        m = lv["magnitude"]["val_acc"]
        diff = m - dense["val_acc"]
        se = math.sqrt(_se(m, n_val) ** 2 + _se(dense["val_acc"], n_val) ** 2)
        words = _relation(diff, se, "above", "below", "level with")
        verdicts.append(f"at {_pct(lv['sparsity'])} sparsity the rewound network ends "
                        f"{words} the dense one ({round(diff * n_val):+d} images, "
                        f"{diff / se:+.1f} standard errors)")
    faster = [_pct(lv["sparsity"]) for lv in levels
              if lv["magnitude"]["val_acc_curve"][0] > dense["val_acc_curve"][0]]
    sheet.text(f"Against the dense network's {dense['val_acc']:.3f}, with the binomial "
               f"standard error of a difference of two accuracies on {n_val} images as the "
               f"yardstick (under two standard errors counts as level): "
               + "; ".join(verdicts) + ". "
               + (f"After one epoch the rewound networks at {_join(faster)} sparsity are "
                  "ahead of the dense one, the faster early learning Frankle and Carbin report "
                  "for winning tickets." if faster else
                  "After one epoch none of the rewound networks is ahead of the dense one."))
    sheet.text("The run is scaled down (box above): one seed and a small network on an easy "
               "data set. It shows the procedure and how this network behaves under it; it "
               "cannot say whether a ResNet-18 on CIFAR-10, trained with its full schedule, "
               "keeps its accuracy at the same sparsities, and with one seed the standard "
               "error covers only the finite validation set, not the spread between training "
               "runs.")
    sheet.answer("validation accuracy, magnitude pruning, rewound",
                 "; ".join(f"{lv['magnitude']['val_acc']:.3f} at {_pct(lv['sparsity'])}"
                           for lv in levels) + f" (dense {dense['val_acc']:.3f})")
    _resnet_sizes(sheet)


def solve_b(sheet: Sheet) -> None:
    from derive.lab.plots import line_plot

    record = _measured(sheet, "Validation accuracy of the networks pruned at random (a "
                              "uniformly random set of the same size over all layers), rewound "
                              "and retrained exactly as the magnitude-pruned ones.")
    r = record["results"]
    n_val, levels, dense = r["val_size"], r["levels"], r["dense"]
    prunable = sum(r["layer_sizes"].values())
    sheet.numeric([lv["random"]["kept"] for lv in levels],
                  [lv["magnitude"]["kept"] for lv in levels],
                  why="weights kept by random pruning (the masks' sums, stored)",
                  method="the magnitude masks' sums at the same sparsities (part (a))")
    sheet.numeric([lv["magnitude_minus_random"] for lv in levels],
                  [lv["magnitude"]["val_acc"] - lv["random"]["val_acc"] for lv in levels],
                  tol=2e-6, why="magnitude minus random validation accuracy (stored)",
                  method="the difference of the two stored accuracies (six significant "
                         "digits each)")
    # a uniformly random kept set gives layer l a hypergeometric count: mean kept * n_l / n
    tols = {}
    for k in r["layers"]:
        n_l = r["layer_sizes"][k]
        sd = max(math.sqrt(lv["random"]["kept"] * (n_l / prunable) * (1 - n_l / prunable)
                           * (prunable - lv["random"]["kept"]) / (prunable - 1)) / n_l
                 for lv in levels)
        tols[k] = math.ceil(400 * sd) / 100           # four standard deviations, rounded up
        sheet.numeric([round(lv["random"]["kept"] / prunable, 4) for lv in levels],
                      [lv["random"]["kept_fraction"][k] for lv in levels], tol=tols[k],
                      why=f"fraction of {k}'s {n_l:,} weights kept by random pruning at "
                          + ", ".join(_pct(lv["sparsity"]) for lv in levels)
                          + " (hypergeometric expectation: kept / all prunable weights)",
                      method="the stored random masks (tolerance four standard deviations "
                             "of the hypergeometric count, at the widest sparsity)")
    rows, verdicts = [], []
    for lv in levels:
        m, q = lv["magnitude"], lv["random"]
        diff = m["val_acc"] - q["val_acc"]
        se = math.sqrt(_se(m["val_acc"], n_val) ** 2 + _se(q["val_acc"], n_val) ** 2)
        rows.append((_pct(lv["sparsity"]), f"{m['val_acc']:.3f}", f"{q['val_acc']:.3f}",
                     f"{diff:+.3f}", round(diff * n_val), f"{se:.3f}", f"{diff / se:+.1f}",
                     f"{m['train_acc']:.3f}", f"{q['train_acc']:.3f}"))
        verdicts.append((lv["sparsity"], diff, se))
    sheet.table(["sparsity", "magnitude", "random", "diff.", "images", "s.e.", "diff./s.e.",
                 "train, mag.", "train, rand."], rows,
                caption=f"Validation accuracy ({n_val} digits) after rewinding and "
                        "retraining: magnitude and random pruning, their difference (diff.), "
                        "in images, its standard error (s.e., treating the two accuracies as "
                        "independent binomial estimates) and the difference in standard "
                        "errors; the last two columns are the training accuracies.")
    xs = [0.0] + [lv["sparsity"] for lv in levels]
    sheet.figure(line_plot(
        "pruning-accuracy-sparsity",
        [("magnitude, rewound", xs, [dense["val_acc"]] + [lv["magnitude"]["val_acc"]
                                                          for lv in levels]),
         ("random, rewound", xs, [dense["val_acc"]] + [lv["random"]["val_acc"]
                                                       for lv in levels]),
         ("dense", [xs[0], xs[-1]], [dense["val_acc"]] * 2)],
        xlabel="sparsity (fraction of weights removed)", ylabel="validation accuracy",
        caption="Final validation accuracy against sparsity; sparsity 0 is the dense network "
                "(stored results of the pruning experiment)."))
    clear = [_pct(s) for s, d, se in verdicts if d >= 3 * se]
    suggestive = [_pct(s) for s, d, se in verdicts if 2 * se <= d < 3 * se]
    level = [_pct(s) for s, d, se in verdicts if abs(d) < 2 * se]
    worse = [_pct(s) for s, d, se in verdicts if d <= -2 * se]
    found = []
    if clear:
        found.append(f"at {_join(clear)} magnitude pruning is better by three standard "
                     "errors or more")
    if suggestive:
        found.append(f"at {_join(suggestive)} it is better by two to three standard errors, "
                     "suggestive but not conclusive with one seed")
    if level:
        found.append(f"at {_join(level)} the two are within two standard errors of each "
                     "other")
    if worse:
        found.append(f"at {_join(worse)} random pruning is better by two standard errors or "
                     "more")
    gaps = [d for _, d, _ in verdicts]
    trend = ("The gap grows with sparsity" if all(a < b for a, b in zip(gaps, gaps[1:]))
             else "The gap does not grow steadily with sparsity")
    sparsest = levels[-1]
    m_fit, q_fit = sparsest["magnitude"]["train_acc"], sparsest["random"]["train_acc"]
    fit = (f"at {_pct(sparsest['sparsity'])} the randomly pruned network, with "
           f"{sparsest['random']['kept']:,} weights left, fits {q_fit:.1%} of the training "
           f"set, against {m_fit:.1%} for the magnitude-pruned one with the same number of "
           "weights")
    # the reading below holds only for this pattern: level when mild, clear when sparsest
    pattern = bool(level) and level[0] == _pct(levels[0]["sparsity"]) \
        and clear[-1:] == [_pct(sparsest["sparsity"])]
    sheet.text("Magnitude against random pruning: " + "; ".join(found) + f". {trend}; {fit}.")
    if pattern and q_fit < m_fit:
        sheet.explain("At mild sparsity this small network has weights to spare, so which "
                      "ones are removed matters little; at the highest sparsity the choice "
                      "decides whether the network can still fit its training data.",
                      rests_on=["the measured validation and training accuracies in the "
                                "table"])
    sheet.text("The standard errors measure only the sampling of the validation digits. With "
               "one seed the variation between training runs (initialisation, batch order, "
               "random masks) is not measured; it would have to be added before calling a "
               "small difference significant.")
    sheet.answer("sparsities where magnitude beats random by three standard errors or more",
                 ", ".join(clear) if clear else "no sparsity")
    _resnet_random(sheet)


def solve_c(sheet: Sheet) -> None:
    from derive.lab.plots import line_plot

    record = _measured(sheet, "The fraction of each layer's weights kept by global magnitude "
                              "pruning (and by random pruning) at each sparsity.")
    r, config = record["results"], record["config"]
    levels, layers, sizes = r["levels"], r["layers"], r["layer_sizes"]
    arch = _simple_cnn(config["channels"])
    bounds = _init_bounds(arch)
    baseline = [_scale_baseline(sizes, bounds, lv["magnitude"]["kept"]) for lv in levels]
    rows = []
    for k in layers:
        for lv, base in zip(levels, baseline):
            f = lv["magnitude"]["kept_fraction"][k]
            rows.append((k, sizes[k], _pct(lv["sparsity"]), round(f * sizes[k]), f"{f:.3f}",
                         f"{base[k]:.3f}", f"{lv['random']['kept_fraction'][k]:.3f}"))
    sheet.table(["layer", "weights", "sparsity", "kept (magnitude)", "kept fraction",
                 "from initial scale alone", "kept fraction, random"], rows,
                caption="Per-layer result of global pruning. \"From initial scale alone\" is "
                        "the expected fraction a global magnitude threshold keeping the same "
                        "number of weights would leave in each layer at initialisation "
                        "(derived below).")
    xs = [lv["sparsity"] for lv in levels]
    sheet.figure(line_plot(
        "pruning-layer-kept",
        [(f"{k}, magnitude", xs, [lv["magnitude"]["kept_fraction"][k] for lv in levels])
         for k in layers]
        + [(f"{k}, random", xs, [lv["random"]["kept_fraction"][k] for lv in levels])
           for k in layers],
        xlabel="sparsity (fraction of weights removed)", ylabel="fraction of the layer kept",
        caption="Fraction of each layer's weights that survives global magnitude pruning and "
                "random pruning (stored results of the pruning experiment)."))
    def ranked(fractions: dict[str, float]) -> list[str]:
        return sorted(layers, key=lambda k: fractions[k], reverse=True)

    orders = [ranked(lv["magnitude"]["kept_fraction"]) for lv in levels]
    least = {o[0] for o in orders}
    most = {o[-1] for o in orders}
    first, largest = layers[0], max(layers, key=lambda k: sizes[k])
    if least == {first}:
        opening = (f"In this network, yes for the first layer: {first} keeps the largest "
                   "fraction of its weights at every sparsity")
    elif len(least) == 1:
        opening = (f"In this network, no: {_join(sorted(least))} keeps the largest fraction of "
                   f"its weights at every sparsity, not {first}")
    else:
        opening = ("In this network the layer keeping the largest fraction changes with "
                   f"sparsity ({_join(sorted(least))})")
    if all(o == layers for o in orders):
        depth = "That is the order of depth."
    elif most == {largest} and largest != layers[-1]:
        depth = (f"That is not simply the order of depth: the pruning falls hardest on "
                 f"{largest}, the largest layer ({sizes[largest]:,} weights), not on the last "
                 "one.")
    else:
        depth = "That is not simply the order of depth."
    sheet.text(opening + (f", and {_join(sorted(most))} the smallest. " if len(most) == 1
                          else ". ")
               + "Ordered by kept fraction: " + "; ".join(
                   f"{' > '.join(o)} at {_pct(lv['sparsity'])}" for o, lv in zip(orders, levels))
               + f". {depth} Random pruning takes about the same fraction from every layer "
               "(checked in part (b)).")
    # why: a global threshold compares raw magnitudes, and initial scales differ by layer
    fans = {item.name: _fan_in(item) for item in _layers(arch)}
    sheet.text("A global threshold compares raw magnitudes across layers, and the layers start "
               "at different scales: PyTorch initialises convolution and linear weights "
               "uniformly between $-b$ and $b$ with $b = 1/sqrt(fan_in)$, so "
               + _join([f"{k} (fan-in {fans[k]}) draws from ±{bounds[k]:.3f}"
                        for k in layers])
               + ". If the threshold were applied to the initial weights, layer $l$ would "
               "keep $1 - t/b_l$ of its weights, with the threshold $t$ fixed by the total "
               "kept; that is the \"from initial scale alone\" column.")

    def torch_bounds(torch):
        # the largest |w| over many seeded initialisations approaches the bound b
        from derive.lab.experiments._digits import SimpleCNN, build
        from derive.lab.experiments.pruning import prunable
        nets = [prunable(build(lambda: SimpleCNN(tuple(config["channels"])), s))
                for s in range(20)]
        return [round(max(float(net[k].detach().abs().max()) for net in nets), 4)
                for k in layers]

    sheet.numeric_if_installed("torch", [round(bounds[k], 4) for k in layers], torch_bounds,
                               tol=2e-3, why="initial weight bounds $b$ of "
                                             + ", ".join(layers),
                               method="the largest |w| of each layer over 20 seeded "
                                      "initialisations of the experiment's SimpleCNN")
    draws, smallest = 100, min(sizes.values())
    tol = math.ceil(100 * 5 * 0.5 / math.sqrt(smallest * draws)) / 100
    simulated = [_simulated_baseline(sizes, bounds, lv["magnitude"]["kept"], draws, 827 + i)
                 for i, lv in enumerate(levels)]
    sheet.numeric([round(b[k], 4) for b in baseline for k in layers],
                  [round(s[k], 4) for s in simulated for k in layers], tol=tol,
                  why="kept fraction from initial scale alone, per sparsity and layer (the "
                      "table's column)",
                  method=f"{draws} NumPy draws of uniform initial weights per sparsity (seeds "
                         f"827 to {826 + len(levels)}), the largest magnitudes kept over all "
                         "layers (tolerance five standard errors of the smallest layer's mean)")
    signs = {k: {lv["magnitude"]["kept_fraction"][k] > base[k]
                 for lv, base in zip(levels, baseline)} for k in layers}
    above = [k for k in layers if signs[k] == {True}]
    below = [k for k in layers if signs[k] == {False}]
    # the initial scales alone predict the first layer to be pruned least, and training
    # did not raise its weights relative to the rest
    by_scale = all(ranked(base)[0] == first for base in baseline) and first in below
    kept_first = round(levels[-1]["magnitude"]["kept_fraction"][first] * sizes[first])
    sheet.text(
        "Against that baseline, after training "
        + (f"{_join(above)} keep{'s' if len(above) == 1 else ''} more than the initial scale "
           "predicts at every sparsity" if above else
           "no layer keeps more than its initial scale predicts at every sparsity")
        + (f", and {_join(below)} less" if below else "") + ". "
        + (f"The initial scales alone already make {first} the layer pruned least, and after "
           f"training it keeps less than they predict: its high kept fraction is what its "
           f"larger initial weights give, not something training added." if by_scale else
           f"Training made {first}'s weights larger relative to the rest than its initial "
           f"scale gives." if first in above else
           f"For {first} the comparison with the initial scale depends on the sparsity."))
    sheet.explain(
        f"What this says about low-level features is limited. Keeping {first} costs little "
        f"({sizes[first]:,} of {sum(sizes.values()):,} weights; the {kept_first} it keeps at "
        f"{_pct(levels[-1]['sparsity'])} are {kept_first / levels[-1]['magnitude']['kept']:.0%} "
        f"of the {levels[-1]['magnitude']['kept']:,} kept) and every later feature is "
        "computed from its few filters, which fits the usual reading that low-level features "
        "(edges, strokes) are shared by everything downstream and hard to do without. But a "
        "global magnitude ranking is not a measure of importance across layers: it favours "
        "layers with a small fan-in, which start with larger weights"
        + (f", and here the initial scales alone account for {first} being pruned least. "
           if by_scale else ". ")
        + "A direct test would prune one layer at a time, or rank weights within each layer, "
        "and compare the accuracy lost; that was not run.",
        rests_on=["the measured kept fractions", "the initial-scale baseline derived and "
                                                 "checked above"])
    sheet.answer("layer pruned least at every sparsity",
                 ", ".join(sorted(least)) if len(least) == 1 else "it changes with sparsity")
    _resnet_layers(sheet)


PROBLEM = Problem(
    id="8.27", set="chapter8", order=27, title="Lottery tickets: magnitude against random "
                                                "pruning",
    source="Chapter 8, exercise 8.27",
    statement=("Frankle and Carbin (2019) found sparse subnetworks of randomly initialized "
               "networks that train to full accuracy from their original initialization. "
               "Test this on a ResNet-18 for CIFAR-10 (here the torchvision layout with a "
               "10-class head)."),
    parts=(
        Part("a", "Train, prune 50%, 70% and 90% of the weights globally by magnitude, "
                  "retrain from the original initialization and report the accuracies.",
             solve_a, scope=EXPERIMENT),
        Part("b", "Compare with pruning random weights at the same sparsities. Is magnitude "
                  "pruning significantly better?", solve_b, scope=EXPERIMENT),
        Part("c", "Are early layers pruned less than later ones? What does that say about "
                  "low-level features?", solve_c, scope=EXPERIMENT),
    ),
)
