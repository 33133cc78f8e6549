"""Exercise 8.27: the lottery ticket hypothesis on a ResNet-18.

Every part needs training runs on CIFAR-10, so all three are out of scope.  The engine
still derives the network's size from the catalog spec (:func:`derive.arch.catalog.resnet`
with a 10-class head, :func:`derive.arch.summary.summarize`), the number of prunable weights
(convolution and dense weights; biases and batch-norm parameters are not pruned), how many
weights each sparsity level keeps (PyTorch's rule: ``round(amount * n)`` weights are
removed), the per-layer weight counts, and the expected per-layer counts under random
pruning.  The counts are cross-checked with an independent enumeration of the weight shapes
and, where PyTorch is installed, with a ResNet-18 built from its modules (the page is the
same either way); the random-pruning expectation with seeded random prunings.
"""

from derive.book import Part, Problem, Sheet

CLASSES, SIDE = 10, 32
SPARSITIES = ("0.5", "0.7", "0.9")


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


def _kept(n: int, sparsity: str) -> int:
    """Weights left after removing round(amount * n) of n (PyTorch's pruning amount)."""
    return n - round(float(sparsity) * n)


def solve_a(sheet: Sheet) -> None:
    import math
    from fractions import Fraction

    from derive.arch.summary import summarize

    s = summarize(_spec(), convention="mac", input_size=SIDE)
    weights = _weighted(_spec().features + _spec().head)
    prunable = sum(w for _, w in weights)
    by_hand = int(sum(math.prod(shape) for shape in _shapes_by_hand()))
    sheet.numeric(prunable, by_hand, why="prunable weights (convolution and dense)",
                  method="convolution and dense weight shapes listed stage by stage and "
                         "multiplied out")

    def torch_params(torch):
        return sum(p.numel() for p in _torch_resnet18(torch).parameters())

    def torch_weights(torch):
        kinds = (torch.nn.Conv2d, torch.nn.Linear)
        return sum(m.weight.numel() for m in _torch_resnet18(torch).modules()
                   if isinstance(m, kinds))

    sheet.numeric_if_installed("torch", s.params, torch_params, why="learnable parameters",
                               method="a ResNet-18 built from PyTorch's modules")
    sheet.numeric_if_installed("torch", prunable, torch_weights,
                               why="prunable weights (convolution and dense)",
                               method="the weights of its Conv2d and Linear modules")
    rows = []
    for sp in SPARSITIES:
        kept = _kept(prunable, sp)
        exact = prunable - round(Fraction(sp) * prunable)      # exact rational rounding
        sheet.numeric(kept, exact, why=f"weights kept at {float(sp):.0%} sparsity",
                      method="the count removed rounded with exact rational arithmetic "
                             "instead of floats")
        rows.append((f"{float(sp):.0%}", prunable - kept, kept))
    sheet.table(["sparsity", "weights removed", "weights kept"], rows,
                caption=f"Global unstructured pruning of the {prunable:,} conv and dense "
                        f"weights (of {s.params:,} learnable parameters: biases and "
                        f"batch-norm scales and shifts are not pruned).")
    sheet.answer("ResNet-18, 10 classes", f"{s.params:,} parameters, {prunable:,} prunable "
                                          f"weights")


def solve_b(sheet: Sheet) -> None:
    import math

    import numpy as np
    import sympy

    weights = _weighted(_spec().features + _spec().head)
    n = sum(w for _, w in weights)
    sp = SPARSITIES[-1]
    kept = _kept(n, sp)
    expected = [(name, sympy.Rational(w * kept, n)) for name, w in weights]
    stages = {}
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
    # the derived expectation, divided by itself, against the simulated mean divided by it
    sheet.numeric([1.0] * len(ratios), ratios, tol=round(tol, 4),
                  why="weights kept per stage, as a fraction of the derived expected count",
                  method=f"{draws} random prunings at {float(sp):.0%} (NumPy multivariate "
                         "hypergeometric draws, seed 827), averaged and rounded to 4 "
                         "decimals; the tolerance is five standard errors of the smallest "
                         "stage's mean")
    sheet.table(["stage", f"expected weights kept at {float(sp):.0%} (random pruning)"],
                [(k, f"{float(v):,.0f}") for k, v in stages.items()],
                caption="Random pruning keeps a uniformly random set of the kept size, so "
                        "each layer keeps the same fraction in expectation.")


def solve_c(sheet: Sheet) -> None:
    import math

    weights = _weighted(_spec().features + _spec().head)
    n = sum(w for _, w in weights)
    sheet.table(["layer", "weights", "share of all prunable weights"],
                [(name, w, f"{w / n:.2%}") for name, w in weights],
                caption="Per-layer weight counts of ResNet-18 (derived from the spec).")
    first = weights[0][1]
    last_stage = sum(w for name, w in weights if name.startswith("layer4"))
    sheet.numeric([w for _, w in weights], [math.prod(s) for s in _shapes_by_hand()],
                  why="per-layer weight counts",
                  method="convolution and dense weight shapes listed stage by stage and "
                         "multiplied out")
    sheet.text(f"The first convolution holds {first / n:.2%} of the weights and the last "
               f"stage {last_stage / n:.1%}: a global threshold can remove most of the late "
               f"layers while barely touching the first. How the trained network actually "
               f"distributes the pruning is the measurement the exercise asks for.")


_WHY = "needs CIFAR-10 and several training runs to convergence"

PROBLEM = Problem(
    id="8.27", set="chapter8", order=27, title="Lottery tickets in a ResNet-18",
    source="Chapter 8, exercise 8.27",
    statement=("Frankle and Carbin (2019) found sparse subnetworks of randomly initialized "
               "networks that train to full accuracy from their original initialization. "
               "Test this on a ResNet-18 for CIFAR-10 (here the torchvision layout with a "
               "10-class head)."),
    parts=(
        Part("a", "Train, prune 50%, 70% and 90% of the weights globally by magnitude, "
                  "retrain from the original initialization and report the accuracies.",
             solve_a, scope="out-of-scope",
             reason=_WHY + "; the parameter count and the weights kept at each sparsity are "
                           "derived"),
        Part("b", "Compare with pruning random weights at the same sparsities.", solve_b,
             scope="out-of-scope",
             reason=_WHY + "; the expected per-layer counts under random pruning are derived"),
        Part("c", "Are early layers pruned less than later ones? What does that say about "
                  "low-level features?", solve_c, scope="out-of-scope",
             reason=_WHY + "; the per-layer weight counts are derived"),
    ),
)
