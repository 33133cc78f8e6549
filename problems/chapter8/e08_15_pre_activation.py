"""Exercise 8.15: pre-activation against post-activation residual blocks.

(a) The implementation is the listing :mod:`derive.lab.listings.resnet_blocks`, printed whole
(``tests/test_lab_digits.py`` compares its blocks with the two formulas written with
PyTorch's functional operators).  The two layouts are also the engine's block forms
(:data:`derive.conv.residual.BLOCK_FORMS`), compositions of named operations evaluated here
with NumPy and compared with a direct transcription of the formulas and, where PyTorch is
installed, with the listing's blocks (the page reads the same either way).
(b) and (c) are measured: the stored results of the ``pre-activation`` experiment
(:mod:`derive.lab.experiments.pre_activation`: depth 56, widths 4, 8 and 16, 500 digit
images, 7 epochs, 3 seeds), rendered without training.  The depth arithmetic, the parameter
counts (from the engine's summaries of both layouts, :mod:`derive.arch.summary`, compared
with a tensor-by-tensor count and with the counts the experiment stored, the difference
traced to where batch norm sits) and the number of residual paths are derived; the
convergence comparison is read off the per-seed curves, every comparing sentence chosen from
the stored numbers.  Part (d) is an explanation resting on the engine's shortcut analysis
(:func:`derive.conv.residual.compare_activation`): the identity path survives a stack of
pre-activation blocks and is cut by the ReLU after the sum in post-activation blocks (a
counterexample, re-evaluated independently).
"""

from derive.book import CODE, EXPERIMENT, EXPLANATION, Part, Problem, Sheet, written

CHANNELS, SIDE, BATCH = 4, 6, 3
DEPTH = 56
STAGES = (16, 32, 64)
CLASSES = 10
CIFAR = (3, 32, 32)     # the exercise's input: colour images of 32 x 32
DIGITS = (1, 8, 8)      # the trained networks' input: scikit-learn's grey 8 x 8 digits
NAME = "pre-activation"
VARIANTS = (("post", "post-activation"), ("pre", "pre-activation"))


# --------------------------------------------------------------------------- (a) numerics
def _params(seed: int = 15):
    import numpy as np
    rng = np.random.default_rng(seed)
    c = CHANNELS
    return {
        "x": rng.standard_normal((BATCH, c, SIDE, SIDE)),
        "w": [rng.standard_normal((c, c, 3, 3)) * 0.3 for _ in range(2)],
        "gamma": [rng.uniform(0.5, 1.5, c) for _ in range(2)],
        "beta": [rng.standard_normal(c) * 0.1 for _ in range(2)],
    }


def _run_form(form, p):
    """Evaluate a BlockForm by walking its operation lists (engine data) with NumPy ops."""
    import numpy as np
    from derive.numeric import conv2d

    counter = {"conv": 0, "bn": 0}

    def apply(ops, value):
        for op in ops:
            if op == "relu":
                value = np.maximum(value, 0)
            elif op == "conv":
                value = conv2d(value, p["w"][counter["conv"]], padding=1)
                counter["conv"] += 1
            elif op == "bn":
                i = counter["bn"]
                mean = value.mean(axis=(0, 2, 3), keepdims=True)
                var = value.var(axis=(0, 2, 3), keepdims=True)
                value = ((value - mean) / np.sqrt(var + 1e-5) * p["gamma"][i][None, :, None, None]
                         + p["beta"][i][None, :, None, None])
                counter["bn"] += 1
        return value

    branch = apply(form.branch, p["x"])
    short = apply(form.shortcut, p["x"])
    return apply(form.after_add, short + branch)


def _direct(variant: str, p):
    """The two formulas of the exercise written out by hand (independent of the engine)."""
    import numpy as np

    def conv(v, w):
        n, c, h, wd = v.shape
        padded = np.pad(v, ((0, 0), (0, 0), (1, 1), (1, 1)))
        out = np.zeros((n, w.shape[0], h, wd))
        for u in range(3):
            for t in range(3):
                out += np.einsum("nchw,oc->nohw", padded[:, :, u:u + h, t:t + wd], w[:, :, u, t])
        return out

    def bn(v, i):
        mu = v.mean(axis=(0, 2, 3), keepdims=True)
        sd = np.sqrt(v.var(axis=(0, 2, 3), keepdims=True) + 1e-5)
        gamma, beta = p["gamma"][i].reshape(1, -1, 1, 1), p["beta"][i].reshape(1, -1, 1, 1)
        return (v - mu) / sd * gamma + beta

    def relu(v):
        return np.where(v > 0, v, 0.0)

    x, w = p["x"], p["w"]
    if variant == "post-activation":
        return relu(bn(conv(relu(bn(conv(x, w[0]), 0)), w[1]), 1) + x)
    return conv(relu(bn(conv(relu(bn(x, 0)), w[0]), 1)), w[1]) + x


def _listing_output(torch, variant: str, p):
    """The listing's block with the page's weights, run in training mode (batch norm with
    batch statistics, as in the two computations above)."""
    from derive.lab.listings.resnet_blocks import PostActivationBlock, PreActivationBlock

    cls = PostActivationBlock if variant == "post-activation" else PreActivationBlock
    block = cls(CHANNELS).double().train()
    with torch.no_grad():
        for conv, w in zip((block.conv1, block.conv2), p["w"]):
            conv.weight.copy_(torch.tensor(w))
        for i, bn in enumerate((block.bn1, block.bn2)):
            bn.weight.copy_(torch.tensor(p["gamma"][i]))
            bn.bias.copy_(torch.tensor(p["beta"][i]))
        return block(torch.tensor(p["x"])).numpy()


def solve_a(sheet: Sheet) -> None:
    import sympy

    from derive.conv.residual import BLOCK_FORMS
    from derive.conv.shapes import output_size
    from derive.symbols import sym

    sheet.listing("resnet_blocks", "Post- and pre-activation residual blocks and a "
                  "CIFAR-style ResNet of depth $6*n + 2$ built from either (PyTorch).",
                  tests="tests/test_lab_digits.py")
    sheet.text("Each block keeps its layers as attributes and writes its formula out in "
               "forward. Where a block changes the width or the stride, the input cannot be "
               "added as it is: a strided 1×1 convolution maps it to the new shape (followed "
               "by batch norm in the post-activation block; in the pre-activation block it "
               "reads the normalised, rectified input the branch reads). The function resnet "
               "stacks three stages of $n$ blocks for the training runs of parts (b) and (c); "
               "the pre-activation network ends with one batch norm and ReLU before pooling, "
               "since its last sum is not normalised by anything.")
    names = {"conv": "Conv", "bn": "BN", "relu": "ReLU"}
    x = sympy.Symbol("x")
    rows = []
    for name in ("post-activation", "pre-activation"):
        form = BLOCK_FORMS[name]
        rows.append((name, "→".join(names[o] for o in form.branch),
                     "→".join(names[o] for o in form.after_add) or "nothing",
                     "→".join(names[o] for o in form.shortcut_path) or "identity"))
    sheet.table(["block", "branch, in order", "after the sum", "shortcut"], rows,
                caption="The engine's block forms: the branch output is added to the input "
                        "and the operations listed after the sum are applied to the result.")
    sheet.text("In the answers below the subscripts 1a and 1b name the first and second "
               "convolution and batch norm of the block.")
    h, k, p_, s_ = sym("H"), sym("K"), sym("P"), sym("S")
    with sympy.evaluate(False):
        at = output_size(h, k, p_, s_).xreplace({k: sympy.Integer(3), p_: sympy.Integer(1),
                                                 s_: sympy.Integer(1)})
    sheet.derive("H_out", [(at, "output size of a 3×3 convolution, padding 1, stride 1"),
                           (h, "the size is kept, so the branch output and the input can "
                               "be added")])
    p = _params()
    for name in ("post-activation", "pre-activation"):
        engine = _run_form(BLOCK_FORMS[name], p)
        sheet.numeric(engine, _direct(name, p), tol=1e-10,
                      why=f"{name} block output (the engine's composition, run with NumPy)",
                      method=f"the exercise's formula written out directly with NumPy (batch "
                             f"of {BATCH}, {CHANNELS} channels, {SIDE}×{SIDE} maps, random "
                             f"weights with seed 15, batch norm with batch statistics)")
        sheet.numeric_if_installed(
            "torch", engine, lambda torch, name=name: _listing_output(torch, name, p),
            tol=1e-10, why=f"{name} block output (the engine's composition, run with NumPy)",
            method="the listing's block with the same weights, in training mode (PyTorch, "
                   "float64)")
    for name in ("post-activation", "pre-activation"):
        sheet.answer(name, BLOCK_FORMS[name].expression(x, 1))


def _expanded_by_length(blocks: int) -> list[int]:
    """Independent count of the paths: multiply out (1 + t)^blocks one block at a time
    (numpy.convolve on integers), each block contributing 1 (shortcut) or t (branch); the
    coefficient of t^k is the number of terms with k branch Jacobians."""
    import numpy as np
    poly = np.array([1], dtype=np.int64)
    for _ in range(blocks):
        poly = np.convolve(poly, np.array([1, 1], dtype=np.int64))
    return [int(v) for v in poly]


# --------------------------------------------------------------------------- (b) ResNet-56
def _resnet_spec(variant: str, n: int, widths: tuple[int, ...], input_shape: tuple[int, ...]):
    """CIFAR ResNet (He et al. 2016, section 4.2) with 3 stages of n basic blocks and 1x1
    projection shortcuts where the shape changes, in the layout of the listing: ``post``
    (BN after every convolution, ReLU after each sum) or ``pre`` (BN-ReLU before every
    convolution, a final BN-ReLU before pooling)."""
    from derive.arch.spec import AdaptiveAvgPool, ArchLayer, Architecture
    from derive.conv.layers import Merge

    def conv(name, a, b, s=1, k=3):
        return ArchLayer("conv", kernel=k, stride=s, padding=(k - 1) // 2, in_channels=a,
                         out_channels=b, bias=False, name=name)

    def bn(name, c):
        return ArchLayer("bn", in_channels=c, out_channels=c, name=name)

    def relu(name):
        return ArchLayer("act", name=name)

    items = [conv("conv1", input_shape[0], widths[0])]
    if variant == "post":
        items += [bn("bn1", widths[0]), relu("relu")]
    c_in = widths[0]
    for si, width in enumerate(widths, start=1):
        for b in range(n):
            stride = 2 if (b == 0 and si > 1) else 1
            pre = f"layer{si}.{b}"
            change = stride != 1 or c_in != width
            if variant == "post":
                main = (conv(f"{pre}.conv1", c_in, width, stride), bn(f"{pre}.bn1", width),
                        relu(f"{pre}.relu1"), conv(f"{pre}.conv2", width, width),
                        bn(f"{pre}.bn2", width))
                short = ((conv(f"{pre}.shortcut.0", c_in, width, stride, k=1),
                          bn(f"{pre}.shortcut.1", width)) if change else ())
                items += [Merge((main, short), "add", pre), relu(f"{pre}.relu2")]
            else:
                head = (bn(f"{pre}.bn1", c_in), relu(f"{pre}.relu1"))
                body = (conv(f"{pre}.conv1", c_in, width, stride), bn(f"{pre}.bn2", width),
                        relu(f"{pre}.relu2"), conv(f"{pre}.conv2", width, width))
                if change:   # the projection reads the normalised input, as the branch does
                    items += [*head, Merge((body, (conv(f"{pre}.projection", c_in, width,
                                                        stride, k=1),)), "add", pre)]
                else:
                    items.append(Merge((head + body, ()), "add", pre))
            c_in = width
    if variant == "pre":
        items += [bn("bn", c_in), relu("relu")]
    head = (AdaptiveAvgPool(1, "avgpool"), ArchLayer("flatten", name="flatten"),
            ArchLayer("dense", in_channels=c_in, out_channels=CLASSES, name="fc"))
    return Architecture(f"{variant}-activation resnet{6 * n + 2}", tuple(items), head,
                        input_shape=tuple(input_shape),
                        source="CIFAR ResNet, 1x1 projection shortcuts")


def _shapes_by_hand(variant: str, n: int, widths: tuple[int, ...],
                    in_channels: int) -> list[tuple[int, ...]]:
    """Independent count: the learnable tensors of the network listed stage by stage (a
    batch norm has a scale and a shift per channel)."""
    shapes = [(widths[0], in_channels, 3, 3)]
    if variant == "post":
        shapes.append((2, widths[0]))
    c_in = widths[0]
    for width in widths:
        for _ in range(n):
            first_bn = width if variant == "post" else c_in
            shapes += [(width, c_in, 3, 3), (2, first_bn), (width, width, 3, 3), (2, width)]
            if c_in != width:
                shapes.append((width, c_in, 1, 1))
                if variant == "post":
                    shapes.append((2, width))
            c_in = width
    if variant == "pre":
        shapes.append((2, c_in))
    return shapes + [(CLASSES, c_in), (CLASSES,)]


def _listing_params(torch, variant: str, depth: int) -> int:
    from derive.lab.listings.resnet_blocks import (PostActivationBlock, PreActivationBlock,
                                                   resnet)
    block = PostActivationBlock if variant == "post" else PreActivationBlock
    net = resnet(block, depth, STAGES[0], num_classes=CLASSES, in_channels=CIFAR[0])
    return sum(p.numel() for p in net.parameters())


def _by_kind(summary) -> dict[str, int]:
    """Learnable parameters of a summary, by layer kind."""
    out = {"conv": 0, "bn": 0, "dense": 0}
    for row in summary.rows:
        if row.kind in out:
            out[row.kind] += row.params
    return out


BN_POSITIONS = ("after the first convolution", "inside a block", "on a projection shortcut",
                "after the last block")


def _bn_position(name: str) -> str:
    """Where a batch norm of :func:`_resnet_spec` sits, from its name."""
    if not name.startswith("layer"):
        return "after the first convolution" if name == "bn1" else "after the last block"
    return "on a projection shortcut" if ".shortcut." in name else "inside a block"


def _bn_groups(summary) -> dict[str, int]:
    out = dict.fromkeys(BN_POSITIONS, 0)
    for row in summary.rows:
        if row.kind == "bn":
            out[_bn_position(row.name)] += row.params
    return out


def _summaries(n: int, widths, input_shape) -> dict[str, object]:
    from derive.arch.summary import summarize
    return {v: summarize(_resnet_spec(v, n, tuple(widths), input_shape), convention="mac")
            for v, _ in VARIANTS}


def _mean(values) -> float:
    return sum(values) / len(values)


def _parameters(sheet: Sheet, n: int, results: dict) -> dict[str, object]:
    """The parameter counts of the exercise's networks and of the trained ones, each
    cross-checked; returns the summaries of the exercise's networks."""
    import numpy as np

    full = _summaries(n, STAGES, CIFAR)
    small = _summaries(n, results["widths"], DIGITS)
    rows = []
    for label, sums in (("as posed", full), ("trained here", small)):
        for v, words in VARIANTS:
            kinds = _by_kind(sums[v])
            rows.append((label, words, *(f"{kinds[k]:,}" for k in ("conv", "bn", "dense")),
                         f"{sums[v].params:,}"))
    widths = ", ".join(map(str, results["widths"]))
    sheet.table(["network", "blocks", "convolutions", "batch norm", "linear", "total"], rows,
                caption=f"Learnable parameters from the engine's summaries of the two "
                        f"layouts: as posed ({CIFAR[0]} input channels, widths "
                        f"{', '.join(map(str, STAGES))}) and as trained here ({DIGITS[0]} "
                        f"input channel, widths {widths}); {CLASSES} classes.")
    sheet.numeric([full[v].params for v, _ in VARIANTS],
                  [sum(int(np.prod(s)) for s in _shapes_by_hand(v, n, STAGES, CIFAR[0]))
                   for v, _ in VARIANTS],
                  why="learnable parameters of the post- and pre-activation networks as posed "
                      "(the engine's summaries)",
                  method="the learnable tensors listed stage by stage and their entries "
                         "multiplied out")
    sheet.numeric_if_installed(
        "torch", [full[v].params for v, _ in VARIANTS],
        lambda torch: [_listing_params(torch, v, 6 * n + 2) for v, _ in VARIANTS],
        why="learnable parameters of the post- and pre-activation networks as posed (the "
            "engine's summaries)",
        method="the listing's resnet at the exercise's widths, its parameters counted")
    stored = results["parameters"]
    sheet.numeric([small[v].params for v, _ in VARIANTS], [stored[v] for v, _ in VARIANTS],
                  why="learnable parameters of the two trained networks (the engine's "
                      "summaries of the assumed architecture)",
                  method="the parameters of the listing's networks, counted with PyTorch when "
                         "the experiment ran (stored with the results)")
    groups = {v: _bn_groups(small[v]) for v, _ in VARIANTS}
    sheet.table(["batch norm", "post-activation", "pre-activation"],
                [(pos, groups["post"][pos], groups["pre"][pos]) for pos in BN_POSITIONS],
                caption="Batch-norm parameters of the two trained networks (scale and shift "
                        "per channel), by position (engine summaries).")
    kinds = {v: _by_kind(small[v]) for v, _ in VARIANTS}
    same_rest = all(kinds["post"][k] == kinds["pre"][k] for k in ("conv", "dense"))
    bn_gap = sum(groups["post"].values()) - sum(groups["pre"].values())
    sheet.numeric(stored["post"] - stored["pre"], bn_gap,
                  why="stored parameter count of the post-activation network minus that of "
                      "the pre-activation one",
                  method="the batch-norm parameters of the two architectures (table above), "
                         "subtracted")
    inside = groups["post"]["inside a block"] - groups["pre"]["inside a block"]
    projections = sum(1 for row in small["post"].rows
                      if row.kind == "bn" and _bn_position(row.name) == BN_POSITIONS[2])
    sheet.text(
        ("The convolutions and the linear layer are the same in both layouts, so the counts "
         "differ only in batch norm. " if same_rest else
         "The layouts differ in convolution or linear parameters as well as in batch norm. ")
        + f"Post-activation normalises the output of the first convolution "
        f"({groups['post']['after the first convolution']} parameters) and the {projections} "
        f"projection shortcuts ({groups['post']['on a projection shortcut']}); "
        f"pre-activation instead "
        f"normalises the last sum before pooling ({groups['pre']['after the last block']}). "
        f"Inside the blocks post-activation has {abs(inside)} "
        f"{'more' if inside > 0 else 'fewer'}: its first batch norm follows "
        f"the first convolution and has the block's width, while pre-activation's reads the "
        f"block input, which in the first block of the second and third stage still has the "
        f"previous stage's, smaller width. In all, post-activation has {abs(bn_gap)} "
        f"{'more' if bn_gap > 0 else 'fewer'} parameters, "
        f"{abs(bn_gap) / stored['pre']:.2%} of the total.")
    return full


def _train_plot(results: dict):
    from derive.lab.plots import line_plot
    epochs = list(range(1, results["epochs"] + 1))
    return line_plot("preact-train-loss",
                     [(words, epochs, results["runs"][v]["curves"]["train_loss"])
                      for v, words in VARIANTS],
                     xlabel="epoch", ylabel="training loss (mean over the epoch)",
                     caption=f"Training loss per epoch (the mean loss over the epoch's "
                             f"mini-batches), mean of {len(results['seeds'])} seeds (stored "
                             f"results of the pre-activation experiment).")


def solve_b(sheet: Sheet) -> None:
    import sympy

    from derive.conv.residual import path_count

    record = sheet.measured(NAME, "Training loss (the mean loss over each epoch's "
                                  "mini-batches) and validation accuracy after every epoch of "
                                  "a 56-layer ResNet of post-activation blocks and of one of "
                                  "pre-activation blocks (the listing of part (a)): the same "
                                  "data, batch order, optimiser and initialisation seed for "
                                  "both.")
    r, cfg = record["results"], record["config"]
    n = sympy.Symbol("n", integer=True, positive=True)
    blocks = sympy.solve(sympy.Eq(6 * n + 2, DEPTH), n)[0]
    sheet.text(f"A CIFAR ResNet has a first convolution, three stages of $n$ basic blocks "
               f"(two 3×3 convolutions each) and a classifier, so $6*n + 2$ weighted layers. "
               f"Depth {DEPTH}:")
    sheet.derive("n", [(written(f"({DEPTH} - 2)/6"), f"solve $6*n + 2 == {DEPTH}$ for $n$"),
                       (blocks, "blocks per stage")])
    seeds, epochs = r["seeds"], r["epochs"]
    sheet.text(f"Scaled down: the trained networks have the exercise's depth {r['depth']} "
               f"({r['blocks_per_stage']} blocks per stage) but the widths "
               f"{', '.join(map(str, r['widths']))} instead of "
               f"{', '.join(map(str, STAGES))}, and they train on {r['train_size']} small "
               f"grey images of handwritten digits instead of CIFAR-10, for {epochs} epochs "
               f"instead of 100, at a constant learning rate of {cfg['lr']} (SGD with momentum "
               f"{cfg['momentum']}), {len(seeds)} seeds. Such runs can show which layout "
               f"starts to learn sooner at this depth; they cannot show the accuracies the "
               f"exercise's networks reach after 100 epochs on CIFAR-10.")
    full = _parameters(sheet, int(blocks), r)
    total = 3 * int(blocks)
    sheet.numeric(path_count(total), sum(_expanded_by_length(total)),
                  why=f"paths through the {total} residual blocks (the engine's count)",
                  method=f"the terms of the product of the {total} block factors $1 + t$, "
                         f"multiplied out one block at a time (integer convolution with NumPy)")
    sheet.text(f"That is $2**{total}$ paths: each block is either passed through its branch "
               f"or skipped by its shortcut (part (d) follows the shortcut).")
    sheet.figure(_train_plot(r))
    runs = r["runs"]
    final = {v: runs[v]["final"] for v, _ in VARIANTS}
    rows = [(seed, *(f"{final[v]['train_loss'][i]:.3f}" for v, _ in VARIANTS),
             *(f"{final[v]['val_acc'][i]:.3f}" for v, _ in VARIANTS))
            for i, seed in enumerate(seeds)]
    means = {v: {k: _mean(final[v][k]) for k in ("train_loss", "val_acc")} for v, _ in VARIANTS}
    rows.append(("mean", *(f"{means[v]['train_loss']:.3f}" for v, _ in VARIANTS),
                 *(f"{means[v]['val_acc']:.3f}" for v, _ in VARIANTS)))
    sheet.table(["seed", "training loss, post", "training loss, pre", "validation accuracy, "
                 "post", "validation accuracy, pre"], rows,
                caption=f"After the last epoch ({epochs}), per seed and averaged.")
    sheet.numeric([runs[v]["curves"][k][-1] for v, _ in VARIANTS
                   for k in ("train_loss", "val_acc")],
                  [means[v][k] for v, _ in VARIANTS for k in ("train_loss", "val_acc")],
                  tol=1e-5, why="last point of the stored mean curves (training loss and "
                                "validation accuracy, post then pre)",
                  method="the per-seed final values of the table, averaged here")
    lower = sum(a < b for a, b in zip(final["pre"]["train_loss"], final["post"]["train_loss"]))
    gap = means["pre"]["train_loss"] - means["post"]["train_loss"]
    sheet.text(f"After {epochs} epochs the pre-activation network's mean training loss is "
               f"{'lower' if gap < 0 else 'higher' if gap > 0 else 'the same'} "
               f"({means['pre']['train_loss']:.3f} against "
               f"{means['post']['train_loss']:.3f}), and lower in {lower} of the "
               f"{len(seeds)} seeds. Part (c) compares the curves.")
    sheet.answer("blocks per stage", blocks)
    for v, words in VARIANTS:
        sheet.answer(f"parameters as posed, {words} (1×1 projection shortcuts where shapes "
                     f"change)", f"{full[v].params:,}")
    sheet.answer("multiply-adds per 32×32 image (post-activation)", f"{full['post'].flops:,}")
    sheet.answer("paths through the residual blocks", path_count(total))


def _reached(values: list[float], threshold: float, below: bool) -> int | None:
    """The first epoch (from 1) at which a curve reaches the threshold, else None."""
    for epoch, v in enumerate(values, start=1):
        if (v <= threshold) if below else (v >= threshold):
            return epoch
    return None


def _earlier(post: list[int | None], pre: list[int | None], epochs: int) -> tuple[int, int]:
    """Seeds in which pre-activation reached a threshold earlier, and later (a run that
    never reached it counts as reaching it after the last epoch)."""
    late = [(a or epochs + 1, b or epochs + 1) for a, b in zip(post, pre)]
    return sum(b < a for a, b in late), sum(b > a for a, b in late)


def _sign_test(wins: int, losses: int):
    """One-sided probability of at least ``wins`` of ``wins + losses`` fair coin flips."""
    from fractions import Fraction
    from math import comb
    m = wins + losses
    return Fraction(sum(comb(m, i) for i in range(wins, m + 1)), 2 ** m)


def _seed_plot(results: dict, key: str, ylabel: str, what: str):
    from derive.lab.plots import line_plot
    epochs = list(range(1, results["epochs"] + 1))
    series = [(f"{words}, seed {seed}", epochs, results["runs"][v]["per_seed"][key][i])
              for v, words in VARIANTS for i, seed in enumerate(results["seeds"])]
    return line_plot(f"preact-{key.replace('_', '-')}-seeds", series, xlabel="epoch",
                     ylabel=ylabel, caption=f"{what} per epoch, every run (stored results of "
                                            f"the pre-activation experiment).")


def solve_c(sheet: Sheet) -> None:
    from derive.lab.plots import line_plot

    record = sheet.measured(NAME, "The runs of part (b): validation accuracy per epoch, "
                                  "every seed's curves, and the first epoch at which each run "
                                  "reaches a training-loss and a validation-accuracy "
                                  "threshold.")
    r = record["results"]
    runs, seeds, epochs, thr = r["runs"], r["seeds"], r["epochs"], r["thresholds"]
    xs = list(range(1, epochs + 1))
    sheet.figure(line_plot("preact-val-accuracy",
                           [(words, xs, runs[v]["curves"]["val_acc"]) for v, words in VARIANTS],
                           xlabel="epoch", ylabel="validation accuracy",
                           caption=f"Validation accuracy per epoch, mean of {len(seeds)} "
                                   f"seeds (stored results of the pre-activation "
                                   f"experiment)."))
    sheet.figure(_seed_plot(r, "train_loss", "training loss", "Training loss"))
    sheet.figure(_seed_plot(r, "val_acc", "validation accuracy", "Validation accuracy"))
    per_seed = {v: runs[v]["per_seed"] for v, _ in VARIANTS}
    reach = {(v, k): [_reached(c, thr[k], k == "train_loss") for c in per_seed[v][k]]
             for v, _ in VARIANTS for k in ("train_loss", "val_acc")}

    def shown(e: int | None) -> str:
        return str(e) if e is not None else f"not within {epochs}"

    sheet.table(["seed", f"loss ≤ {thr['train_loss']}, post", "pre",
                 f"accuracy ≥ {thr['val_acc']}, post", "pre"],
                [(seed, *(shown(reach[(v, k)][i]) for k in ("train_loss", "val_acc")
                          for v, _ in VARIANTS)) for i, seed in enumerate(seeds)],
                caption=f"The first epoch at which each run's training loss falls to "
                        f"{thr['train_loss']} and its validation accuracy reaches "
                        f"{thr['val_acc']}.")
    sheet.numeric([e or epochs + 1 for v, _ in VARIANTS for k in ("train_loss", "val_acc")
                   for e in runs[v][f"epochs_to_{k}"]],
                  [e or epochs + 1 for v, _ in VARIANTS for k in ("train_loss", "val_acc")
                   for e in reach[(v, k)]],
                  why=f"epochs to the thresholds, stored by the experiment (post, then pre; "
                      f"{epochs + 1} for a run that never reached it)",
                  method="the per-seed curves scanned here for the first epoch at the "
                         "threshold")
    curves = {v: runs[v]["curves"] for v, _ in VARIANTS}
    lower = sum(a < b for a, b in zip(curves["pre"]["train_loss"], curves["post"]["train_loss"]))
    area = {v: {k: _mean([x for run in per_seed[v][k] for x in run])
                for k in ("train_loss", "val_acc")} for v, _ in VARIANTS}
    sheet.numeric([r["epochs_pre_loss_lower"]]
                  + [runs[v]["mean"][k] for v, _ in VARIANTS for k in ("train_loss", "val_acc")],
                  [lower] + [area[v][k] for v, _ in VARIANTS for k in ("train_loss", "val_acc")],
                  tol=1e-5,
                  why="epochs at which pre-activation's mean training loss is the lower one, "
                      "and each layout's training loss and validation accuracy averaged over "
                      "all epochs and seeds (stored by the experiment)",
                  method="recomputed here from the per-seed curves")
    loss_win, loss_loss = _earlier(reach[("post", "train_loss")], reach[("pre", "train_loss")],
                                   epochs)
    acc_win, acc_loss = _earlier(reach[("post", "val_acc")], reach[("pre", "val_acc")], epochs)
    k = len(seeds)
    acc_higher = sum(b > a for a, b in zip(runs["post"]["final"]["val_acc"],
                                           runs["pre"]["final"]["val_acc"]))
    drops = [a - b for v, _ in VARIANTS for run in per_seed[v]["val_acc"]
             for a, b in zip(run, run[1:])]
    sheet.text(
        f"Pre-activation reached the training loss {thr['train_loss']} earlier than "
        f"post-activation in {loss_win} of the {k} seeds and later in {loss_loss}, and the "
        f"validation accuracy {thr['val_acc']} earlier in {acc_win} and later in {acc_loss}. "
        f"Its mean training loss was the lower one at {lower} of the {epochs} epochs; "
        f"averaged over all epochs and seeds its training loss was "
        f"{area['pre']['train_loss']:.3f} against {area['post']['train_loss']:.3f} and its "
        f"validation accuracy {area['pre']['val_acc']:.3f} against "
        f"{area['post']['val_acc']:.3f}. After the last epoch its validation accuracy was "
        f"the higher one in {acc_higher} of the {k} seeds. Single runs are erratic: one "
        f"run's validation accuracy fell by {max(drops):.2f} from one epoch to the next.")
    faster = {"pre-activation": loss_win > loss_loss and acc_win > acc_loss,
              "post-activation": loss_loss > loss_win and acc_loss > acc_win}
    winner = next((name for name, won in faster.items() if won), None)
    if winner is None:
        verdict = ("The two thresholds do not agree on which layout converges faster in "
                   "these runs.")
    else:
        won = (loss_win, acc_win) if winner == "pre-activation" else (loss_loss, acc_loss)
        p = _sign_test(min(won), k - min(won))
        seeds_text = (f"in every one of the {k} seeds" if min(won) == k else
                      f"in {won[0]} (training loss) and {won[1]} (validation accuracy) of "
                      f"the {k} seeds")
        verdict = (f"In these runs the {winner} network converged faster: it reached both "
                   f"thresholds earlier {seeds_text}. That is a direction, not a measured "
                   f"size: were the two layouts equally fast, each seed would favour either "
                   f"with probability 1/2, and "
                   + (f"all {k}" if min(won) == k else f"{min(won)} or more of {k}")
                   + f" seeds would favour one given layout with probability {p}.")
    still = [v for v, _ in VARIANTS if curves[v]["train_loss"][-1] < curves[v]["train_loss"][-2]]
    sheet.explain(
        f"{verdict} The runs do not show how large the advantage is at the exercise's widths "
        f"and data, nor which layout ends with the higher accuracy after 100 epochs"
        + (": both mean training losses were still falling in the last epoch"
           if len(still) == len(VARIANTS) else "")
        + f". A constant learning rate of {record['config']['lr']} without warm-up may "
        "handicap one layout more than the other; these runs cannot separate that from the "
        "layout itself. Part (d) gives the structural reason to expect the pre-activation "
        "network to train more easily at this depth.",
        rests_on=["the per-seed epochs to the thresholds in the table",
                  "the per-seed curves above"])
    sheet.answer("faster to converge in these runs", winner or "not decided by the runs")


# --------------------------------------------------------------------------- (d) shortcut
def _with_identity(expr):
    """An engine Jacobian with its identity term written I (the engine writes 1)."""
    import sympy
    eye = sympy.Symbol("I", commutative=False)
    return sympy.Add(*[eye if t == 1 else t for t in sympy.Add.make_args(expr)])


def solve_d(sheet: Sheet) -> None:
    from derive.conv.residual import compare_activation

    n = 3
    pre = compare_activation("pre-activation", n)
    post = compare_activation("post-activation", n)
    sheet.text(f"Follow one coordinate through {n} blocks, writing $f[l]$ for the output of "
               f"the $l$-th residual branch. Pre-activation: $h[l] == h[l - 1] + f[l]$, "
               f"nothing after the sum. Post-activation: $h[l] == Max(0, h[l - 1] + f[l])$, a "
               f"ReLU after the sum.")
    sheet.table(["stack", f"output of {n} blocks"], [("pre-activation", pre.claim[0]),
                                                    ("post-activation", post.claim[0])],
                caption=f"{n} blocks composed on one coordinate (the engine's block forms), "
                        f"starting from $h_0$.")
    point = post.zero_branch["input"]
    at = ", ".join(f"${name} == {value}$" for name, value in point.items())
    sheet.text(f"The pre-activation output is the input plus the branch outputs, whatever "
               f"they are. The post-activation output is not: the engine's search finds "
               f"{at}, where the branches output nothing.")
    value = point["h_0"]
    for l in range(1, n + 1):
        value = max(0, value + point[f"f_{l}"])
    sheet.numeric(post.zero_branch["stack"], value,
                  why="post-activation output at that point (the engine's stack)",
                  method="the post-activation stack re-evaluated in plain Python")
    sheet.numeric(post.zero_branch["identity_sum"], sum(point.values()),
                  why="input plus branch outputs at that point (the engine's value)",
                  method="the sum of the four values, in plain Python")
    sheet.text(f"With branches that output zero, the pre-activation stack returns its input "
               f"{point['h_0']}, the post-activation stack returns "
               f"{post.zero_branch['stack']}: the ReLU on the sum cut the identity path.")
    sheet.table(["block", "operations on the shortcut path", "Jacobian of the stack, expanded",
                 "term without any branch Jacobian"],
                [("pre-activation", "none", _with_identity(pre.jacobian),
                  _with_identity(pre.identity_term)),
                 ("post-activation", "ReLU after each sum", post.jacobian, post.identity_term)],
                caption=f"The engine's product of the {n} block Jacobians, from the input "
                        f"$h_0$ to the output $h_{n}$: $J_l$ is the Jacobian of the $l$-th "
                        f"branch, $D_l$ the diagonal 0/1 mask of the ReLU after the $l$-th "
                        f"sum, $I$ the identity matrix.")
    sheet.explain(
        "In the pre-activation block the shortcut carries the input of every block to the "
        "next one untouched, so the output of a deep stack is the input of any earlier block "
        "plus a sum of branch outputs, and the gradient reaching that block contains the "
        "gradient at the output unchanged (the identity term $I$ of the Jacobian product): a "
        "signal reaches every layer directly, whatever the depth and the weights. In the "
        "post-activation block every sum is followed by a ReLU, so the shortcut term is the "
        "product $D_3*D_2*D_1$ of ReLU masks (one mask per block in a deeper stack): wherever "
        "a unit is inactive in any of the blocks the direct path is zero, and the deeper the "
        "network the more of it is cut. Batch norm placed on the branch only "
        "(pre-activation) also normalises every branch input while leaving the shortcut "
        "alone. This is why the pre-activation variant trains better at large depth.",
        rests_on=["the engine's block forms and Jacobian products",
                  "the post-activation counterexample above"])
    sheet.answer("shortcut term of the Jacobian, pre-activation",
                 _with_identity(pre.identity_term))
    sheet.answer("shortcut term of the Jacobian, post-activation", post.identity_term)


PROBLEM = Problem(
    id="8.15", set="chapter8", order=15, title="Pre- and post-activation residual blocks",
    source="Chapter 8, exercise 8.15",
    statement=("Two residual block layouts. Post-activation: convolution, batch norm, ReLU, "
               "convolution and batch norm on the branch; the input is added and a ReLU "
               "applied to the sum. Pre-activation: batch norm, ReLU, convolution, batch norm, "
               "ReLU and convolution on the branch; the input is added and nothing follows."),
    parts=(
        Part("a", "Write both blocks.", solve_a, scope=CODE),
        Part("b", "Train a 56-layer ResNet of each kind on CIFAR-10 for 100 epochs.", solve_b,
             scope=EXPERIMENT),
        Part("c", "Compare validation accuracy and training curves. Which converges faster?",
             solve_c, scope=EXPERIMENT),
        Part("d", "Explain from the shortcut path why pre-activation helps very deep networks.",
             solve_d, scope=EXPLANATION),
    ),
)
