"""Exercise 8.15: pre-activation against post-activation residual blocks.

The two layouts are the engine's block forms (:data:`derive.conv.residual.BLOCK_FORMS`):
compositions of named operations, evaluated here with NumPy and compared with a direct
transcription of the two formulas.  The training runs of (b) and (c) are out of scope; what
the engine can still say about the 56-layer network (its depth arithmetic, parameter count
and number of residual paths) is derived.  Part (d) is an explanation resting on the
engine's shortcut analysis (:func:`derive.conv.residual.compare_activation`): the identity
path survives a stack of pre-activation blocks and is cut by the ReLU after the sum in
post-activation blocks (a counterexample, re-evaluated independently).
"""

from derive.book import EXPLANATION, Part, Problem, Sheet, written

CHANNELS, SIDE, BATCH = 4, 6, 3
DEPTH = 56
STAGES = (16, 32, 64)
CLASSES = 10


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


def solve_a(sheet: Sheet) -> None:
    import sympy

    from derive.conv.residual import BLOCK_FORMS
    from derive.conv.shapes import output_size
    from derive.symbols import sym

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
def _resnet_spec(n: int):
    """CIFAR ResNet (He et al. 2016, section 4.2) with 3 stages of n basic blocks; 1x1
    projection shortcuts where the shape changes. Post-activation layout."""
    from derive.arch.spec import AdaptiveAvgPool, ArchLayer, Architecture
    from derive.conv.layers import Merge

    def conv(name, a, b, s=1, k=3):
        return ArchLayer("conv", kernel=k, stride=s, padding=(k - 1) // 2, in_channels=a,
                         out_channels=b, bias=False, name=name)

    def bn(name, c):
        return ArchLayer("bn", in_channels=c, out_channels=c, name=name)

    items = [conv("conv1", 3, STAGES[0]), bn("bn1", STAGES[0]), ArchLayer("act", name="relu")]
    c_in = STAGES[0]
    for si, width in enumerate(STAGES, start=1):
        for b in range(n):
            stride = 2 if (b == 0 and si > 1) else 1
            pre = f"layer{si}.{b}"
            main = (conv(f"{pre}.conv1", c_in, width, stride), bn(f"{pre}.bn1", width),
                    ArchLayer("act", name=f"{pre}.relu1"), conv(f"{pre}.conv2", width, width),
                    bn(f"{pre}.bn2", width))
            short = ()
            if stride != 1 or c_in != width:
                short = (conv(f"{pre}.shortcut.0", c_in, width, stride, k=1),
                         bn(f"{pre}.shortcut.1", width))
            items += [Merge((main, short), "add", pre), ArchLayer("act", name=f"{pre}.relu2")]
            c_in = width
    head = (AdaptiveAvgPool(1, "avgpool"), ArchLayer("flatten", name="flatten"),
            ArchLayer("dense", in_channels=c_in, out_channels=CLASSES, name="fc"))
    return Architecture(f"resnet{6 * n + 2}", tuple(items), head, input_shape=(3, 32, 32),
                        source="CIFAR ResNet, 1x1 projection shortcuts")


def _shapes_by_hand(n: int) -> list[tuple[int, ...]]:
    """Independent count: the learnable tensors of the CIFAR ResNet listed stage by stage."""
    shapes = [(STAGES[0], 3, 3, 3), (2, STAGES[0])]
    c_in = STAGES[0]
    for width in STAGES:
        for b in range(n):
            shapes += [(width, c_in, 3, 3), (2, width), (width, width, 3, 3), (2, width)]
            if c_in != width:
                shapes += [(width, c_in, 1, 1), (2, width)]
            c_in = width
    return shapes + [(CLASSES, c_in), (CLASSES,)]


def solve_b(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.arch.summary import summarize
    from derive.conv.residual import path_count

    n = sympy.Symbol("n", integer=True, positive=True)
    blocks = sympy.solve(sympy.Eq(6 * n + 2, DEPTH), n)[0]
    sheet.text(f"What the engine can still derive. A CIFAR ResNet has a first convolution, "
               f"three stages of $n$ basic blocks (two 3×3 convolutions each) and a "
               f"classifier, so $6*n + 2$ weighted layers. Depth {DEPTH}:")
    sheet.derive("n", [(written(f"({DEPTH} - 2)/6"), f"solve $6*n + 2 == {DEPTH}$ for $n$"),
                       (blocks, "blocks per stage")])
    s = summarize(_resnet_spec(int(blocks)), convention="mac")
    by_hand = sum(int(np.prod(shape)) for shape in _shapes_by_hand(int(blocks)))
    sheet.numeric(s.params, by_hand, why="learnable parameters (the engine's summary)",
                  method="the learnable tensors listed stage by stage and their entries "
                         "multiplied out")
    sheet.numeric_if_installed(
        "torch", s.params, lambda torch: _torch_params(torch, int(blocks)),
        why="learnable parameters (the engine's summary)",
        method="the same network built from PyTorch modules")
    total = 3 * int(blocks)
    sheet.numeric(path_count(total), sum(_expanded_by_length(total)),
                  why=f"paths through the {total} residual blocks (the engine's count)",
                  method=f"the terms of the product of the {total} block factors $1 + t$, "
                         f"multiplied out one block at a time (integer convolution with NumPy)")
    sheet.answer("blocks per stage", blocks)
    sheet.answer("parameters (1×1 projection shortcuts where shapes change)", f"{s.params:,}")
    sheet.answer("multiply-adds per 32×32 image", f"{s.flops:,}")
    sheet.answer("paths through the residual blocks", path_count(total))
    sheet.text(f"That is $2**{total}$ paths: each block is either passed through its branch "
               f"or skipped by its shortcut.")
    sheet.text("The pre-activation variant has the same convolutions; only the position of "
               "the batch norms changes (plus one final BN-ReLU), so the two runs compare "
               "networks of essentially the same size.")


def _torch_params(torch, n: int) -> int:
    nn = torch.nn
    layers = [nn.Conv2d(3, STAGES[0], 3, padding=1, bias=False), nn.BatchNorm2d(STAGES[0])]
    c_in = STAGES[0]
    for width in STAGES:
        for b in range(n):
            stride = 2 if (b == 0 and width != STAGES[0]) else 1
            layers += [nn.Conv2d(c_in, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width),
                       nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width)]
            if c_in != width:
                layers += [nn.Conv2d(c_in, width, 1, stride, bias=False), nn.BatchNorm2d(width)]
            c_in = width
    layers.append(nn.Linear(c_in, CLASSES))
    return sum(p.numel() for p in nn.ModuleList(layers).parameters())


def solve_c(sheet: Sheet) -> None:
    from derive.conv.residual import path_count, path_count_by_length

    blocks = 3 * ((DEPTH - 2) // 6)
    counts = [path_count_by_length(blocks, k) for k in range(blocks + 1)]
    expanded = _expanded_by_length(blocks)
    sheet.numeric(counts, expanded,
                  why=f"paths with $k$ branch Jacobians, for $0 <= k <= {blocks}$ (the "
                      f"engine's binomial counts)",
                  method=f"the coefficients of $(1 + t)**{blocks}$, multiplied out one block "
                         f"at a time (integer convolution with NumPy)")
    sheet.numeric(path_count(blocks), sum(expanded),
                  why="all paths (the engine's count)",
                  method="all terms of the same expansion")
    short = sum(counts[: blocks // 3 + 1])
    sheet.table(["branches taken", "paths"],
                [(k, counts[k]) for k in (0, 1, 2, 3, blocks // 2, blocks // 2 + 1,
                                          blocks - 1, blocks)],
                caption=f"A few of the {blocks + 1} path counts $binomial({blocks}, k)$.")
    sheet.text(f"Not a training result, but what the engine derives about the network both "
               f"runs train: of the $2**{blocks}$ paths through its {blocks} residual blocks, "
               f"the number that take $k$ branches is $binomial({blocks}, k)$; only "
               f"{short / 2 ** blocks:.2%} take at most {blocks // 3} branches.")
    sheet.explain("Which variant converges faster is an empirical question about the two "
                  "training runs. Part (d) gives the structural reason to expect the "
                  "pre-activation network to train more easily at this depth.",
                  rests_on=["the path counts above"])


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
        Part("a", "Write both blocks.", solve_a),
        Part("b", "Train a 56-layer ResNet of each kind on CIFAR-10 for 100 epochs.", solve_b,
             scope="out-of-scope",
             reason="needs the CIFAR-10 data set and GPU training runs; the network's depth "
                    "arithmetic, parameter count and path count are derived instead"),
        Part("c", "Compare validation accuracy and training curves. Which converges faster?",
             solve_c, scope="out-of-scope",
             reason="the answer is a measurement on the training runs of (b)"),
        Part("d", "Explain from the shortcut path why pre-activation helps very deep networks.",
             solve_d, scope=EXPLANATION),
    ),
)
