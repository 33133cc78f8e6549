"""Exercise 8.20: the MobileNetV2 inverted residual block.

The implementation asked for in part (a) is the listing
:mod:`derive.lab.listings.inverted_residual`, printed whole (``tests/test_lab_listings.py``
compares it with PyTorch's functional operators and with every block of the engine's
MobileNetV2).  The block it builds is not typed here: it is the stride-1, 32-channel block
of the engine's MobileNetV2 spec (:func:`derive.arch.catalog.architecture`), whose rows,
shapes and parameter counts come from :func:`derive.arch.summary.summarize`; the figure is
drawn from those rows, and the listing's module is compared with them where PyTorch is
installed (the page reads the same either way).  The comparison with a standard residual
block is the engine's cost theorem (:func:`derive.conv.costs.inverted_vs_standard_residual`),
cross-checked by counting the entries of the weight tensors (and with PyTorch modules where
PyTorch is installed).  Part (c) rests on the shape rules: an identity shortcut needs the
branch output to have the input's shape.
"""

from derive.book import CODE, EXPLANATION, Part, Problem, Sheet

C, T = 32, 6
BLOCK = "features.5"        # MobileNetV2's first stride-1 block with 32 channels in and out
DOWN = "features.4"         # the block before it: stride 2, 24 -> 32 channels


def _mobilenet():
    """The engine's MobileNetV2 spec and its summary rows (computed once)."""
    global _MOBILENET
    if _MOBILENET is None:
        from derive.arch.catalog import architecture
        from derive.arch.summary import summarize
        arch = architecture("mobilenet_v2")
        _MOBILENET = (arch, summarize(arch, convention="mac").rows)
    return _MOBILENET


_MOBILENET = None


def _catalog_block(name: str):
    """The block named ``name`` of the engine's MobileNetV2 spec and its input shape."""
    from derive.conv.layers import Merge

    arch, rows = _mobilenet()
    first = next(i for i, r in enumerate(rows) if r.name.startswith(name + "."))
    in_shape = rows[first - 1].shape
    items = [x for x in arch.features if getattr(x, "name", "") == name]
    if items:
        return items[0], in_shape
    # a block without shortcut is a run of layers whose names start with the prefix
    layers = tuple(x for x in arch.features if not isinstance(x, Merge)
                   and getattr(x, "name", "").startswith(name + "."))
    return layers, in_shape


def _block_arch(name: str, items, in_shape):
    from derive.arch.spec import Architecture
    return Architecture(name, tuple(items), (), input_shape=tuple(in_shape),
                        source="derive.arch.catalog mobilenet_v2")


def _standard_block(c: int):
    """A standard (basic) residual block at ``c`` channels, as spec data."""
    from derive.arch.spec import ArchLayer
    from derive.conv.layers import Merge

    main = (ArchLayer("conv", kernel=3, padding=1, in_channels=c, out_channels=c, bias=False,
                      name="conv1"),
            ArchLayer("bn", in_channels=c, out_channels=c, name="bn1"),
            ArchLayer("act", module="ReLU", name="relu1"),
            ArchLayer("conv", kernel=3, padding=1, in_channels=c, out_channels=c, bias=False,
                      name="conv2"),
            ArchLayer("bn", in_channels=c, out_channels=c, name="bn2"))
    return (Merge((main, ()), "add", "add"), ArchLayer("act", module="ReLU", name="relu2"))


def _weight_entries(layers) -> tuple[int, int]:
    """Entries of the weight tensors of the conv layers (and of the batch-norm scale and
    shift vectors), counted by allocating them with NumPy."""
    import numpy as np
    conv = bn = 0
    for layer in layers:
        if layer.kind == "conv":
            conv += np.zeros((layer.out_channels, layer.in_channels // layer.groups,
                              layer.kernel, layer.kernel), dtype=np.int8).size
        elif layer.kind == "bn":
            bn += np.zeros((2, layer.in_channels), dtype=np.int8).size
    return conv, bn


def _torch_inverted(torch):
    """The inverted residual branch built from PyTorch modules."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(C, C * T, 1, bias=False), nn.BatchNorm2d(C * T), nn.ReLU6(),
        nn.Conv2d(C * T, C * T, 3, padding=1, groups=C * T, bias=False),
        nn.BatchNorm2d(C * T), nn.ReLU6(), nn.Conv2d(C * T, C, 1, bias=False),
        nn.BatchNorm2d(C))


def _torch_standard(torch):
    """The standard residual branch (two 3x3 convolutions) built from PyTorch modules."""
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(C, C, 3, padding=1, bias=False), nn.BatchNorm2d(C),
                         nn.ReLU(), nn.Conv2d(C, C, 3, padding=1, bias=False),
                         nn.BatchNorm2d(C))


def _torch_output_shape(torch, in_shape) -> tuple[int, ...]:
    x = torch.zeros(1, *in_shape)
    return tuple(int(v) for v in (x + _torch_inverted(torch)(x)).shape[1:])


def _torch_params(torch, block) -> int:
    return sum(p.numel() for p in block.parameters())


def _listing():
    from derive.lab.listings import inverted_residual
    return inverted_residual


def _listing_block(in_shape, expansion: int = T, stride: int = 1):
    """The listing's block for an input of ``in_shape``, ``C`` channels out."""
    return _listing().InvertedResidual(in_shape[0], C, expansion=expansion, stride=stride)


def _listing_output_shape(torch, in_shape) -> tuple[int, ...]:
    with torch.no_grad():
        out = _listing_block(in_shape)(torch.zeros(1, *in_shape))
    return tuple(int(v) for v in out.shape[1:])


_STAGES = ("expand", "filter", "project")
_OPERATIONS = {"Conv2d": "convolution", "BatchNorm2d": "batch norm", "ReLU6": "ReLU6",
               "ReLU": "ReLU", "Add": "sum with the block input"}


# --------------------------------------------------------------------------- figure
def _stage_ops(block, c_in: int):
    """Group the branch's layers into (conv, BN, activation) stages: the operation names
    per stage and the channel count after each stage (starting with ``c_in``)."""
    stages, ops, channels = [], [], [c_in]
    for layer in block.branches[0]:
        if layer.kind == "conv":
            if ops:
                stages.append(ops)
            ops = [f"{layer.kernel}×{layer.kernel} depthwise" if layer.groups > 1
                   else f"{layer.kernel}×{layer.kernel} conv"]
            channels.append(layer.out_channels)
        elif layer.kind == "bn":
            ops.append("BN")
        elif layer.kind == "act":
            ops.append(layer.module or "ReLU")
    stages.append(ops)
    return stages, channels


def _figure(block, in_shape):
    from derive.book import Figure

    stages, channels = _stage_ops(block, in_shape[0])
    h, w = in_shape[1], in_shape[2]
    return Figure(tikz=_tikz(stages, channels, h, w), svg=_svg(stages, channels, h, w),
                  caption=(f"The inverted residual block of MobileNetV2 ({in_shape[0]} channels "
                           f"in and out, expansion {channels[1] // channels[0]}): bar heights "
                           f"are proportional to the channel counts of the engine's spec; the "
                           f"shortcut joins the narrow tensors."),
                  name="inverted residual")


_GAP = 3.2      # cm between tensors (TikZ)
_SCALE = 40.0   # channels per cm of bar height


def _tikz(stages, channels, h, w) -> str:
    out = [r"\begin{tikzpicture}[font=\footnotesize,>=stealth]"]
    xs = [i * _GAP for i in range(len(channels))]
    for x, c in zip(xs, channels):
        height = c / _SCALE
        out.append(f"\\draw[fill=blue!25,draw=blue!60!black] ({x - 0.15:.2f},{-height / 2:.3f})"
                   f" rectangle ({x + 0.15:.2f},{height / 2:.3f});")
        out.append(f"\\node[below] at ({x:.2f},{-height / 2:.3f}) "
                   f"{{${c}\\times{h}\\times{w}$}};")
    for i, ops in enumerate(stages):
        x0, x1 = xs[i] + 0.2, xs[i + 1] - 0.2
        label = r"\\".join(op.replace("×", r"$\times$") for op in ops)
        out.append(f"\\draw[->] ({x0:.2f},0) -- ({x1:.2f},0) node[midway,above,align=center]"
                   f" {{{label}}};")
    add_x = xs[-1] + 1.4
    out.append(f"\\node[draw,circle,inner sep=1pt] (add) at ({add_x:.2f},0) {{$+$}};")
    out.append(f"\\draw[->] ({xs[-1] + 0.2:.2f},0) -- (add);")
    out.append(f"\\draw[->] (add) -- ({add_x + 1.0:.2f},0) node[right] {{output}};")
    top = max(channels) / _SCALE / 2 + 0.5
    out.append(f"\\draw[->,dashed] ({xs[0]:.2f},{channels[0] / _SCALE / 2:.3f}) -- "
               f"({xs[0]:.2f},{top:.3f}) -- node[above] {{identity shortcut}} "
               f"({add_x:.2f},{top:.3f}) -- (add);")
    out.append(r"\end{tikzpicture}")
    return "\n".join(out)


def _svg(stages, channels, h, w) -> str:
    px, scale = 150, 6.0          # px between tensors, channels per px
    left, mid = 40, 130
    width = left + px * (len(channels) - 1) + 160
    height = 2 * mid + 30
    xs = [left + i * px for i in range(len(channels))]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           '<defs><marker id="arr" markerWidth="8" markerHeight="8" refX="7" refY="4" '
           'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="black"/></marker></defs>']
    for x, c in zip(xs, channels):
        bar = c / scale
        out.append(f'<rect x="{x - 6}" y="{mid - bar / 2:.1f}" width="12" height="{bar:.1f}" '
                   f'fill="#b9c8ef" stroke="#23408f"/>')
        out.append(f'<text x="{x}" y="{mid + bar / 2 + 14:.1f}" text-anchor="middle">'
                   f'{c}×{h}×{w}</text>')
    for i, ops in enumerate(stages):
        x0, x1 = xs[i] + 8, xs[i + 1] - 8
        out.append(f'<line x1="{x0}" y1="{mid}" x2="{x1}" y2="{mid}" stroke="black" '
                   f'marker-end="url(#arr)"/>')
        for j, op in enumerate(ops):
            out.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{mid - 8 - 13 * (len(ops) - 1 - j)}" '
                       f'text-anchor="middle">{op}</text>')
    add_x = xs[-1] + 55
    out.append(f'<line x1="{xs[-1] + 8}" y1="{mid}" x2="{add_x - 10}" y2="{mid}" '
               f'stroke="black" marker-end="url(#arr)"/>')
    out.append(f'<circle cx="{add_x}" cy="{mid}" r="9" fill="white" stroke="black"/>')
    out.append(f'<text x="{add_x}" y="{mid + 4}" text-anchor="middle">+</text>')
    out.append(f'<line x1="{add_x + 9}" y1="{mid}" x2="{add_x + 40}" y2="{mid}" '
               f'stroke="black" marker-end="url(#arr)"/>')
    out.append(f'<text x="{add_x + 44}" y="{mid + 4}">output</text>')
    top = 14
    out.append(f'<path d="M {xs[0]} {mid - channels[0] / scale / 2:.1f} L {xs[0]} {top} '
               f'L {add_x} {top} L {add_x} {mid - 10}" fill="none" stroke="black" '
               f'stroke-dasharray="4 3" marker-end="url(#arr)"/>')
    out.append(f'<text x="{(xs[0] + add_x) / 2:.1f}" y="{top - 3}" text-anchor="middle">'
               f'identity shortcut</text>')
    out.append("</svg>")
    return "\n".join(out)


# --------------------------------------------------------------------------- parts
def solve_a(sheet: Sheet) -> None:
    from derive.arch.summary import summarize

    block, in_shape = _catalog_block(BLOCK)
    s = summarize(_block_arch("inverted residual", [block], in_shape), convention="mac")
    sheet.listing("inverted_residual", "The inverted residual block of MobileNetV2 as a "
                  "PyTorch module.", tests="tests/test_lab_listings.py")
    sheet.text("The constructor widens the $C_in$ input channels by the expansion factor $t$ "
               "with a 1×1 convolution (left out when $t = 1$), filters each widened channel "
               "on its own with a 3×3 depthwise convolution (one group per channel, padding "
               "1, the block's stride) and projects to $C_out$ channels with a 1×1 "
               "convolution: a linear bottleneck, followed by batch norm and no activation, "
               "while the first two stages end with batch norm and ReLU6. No convolution has "
               "a bias, since the batch norm after it has a shift. The forward pass adds the "
               "input to the branch only when the stride is 1 and $C_in = C_out$, the two "
               "shapes then being equal (part (c)).")
    sheet.text(f"The engine describes the same block in its MobileNetV2 spec: the first "
               f"stride-1 block with {C} channels in and out (the sixth module of its feature "
               f"extractor), reached at {in_shape[1]} × {in_shape[2]} for a 224 × 224 image. "
               f"Its rows, and the listing's block compared with them:")
    convs = iter(x for x in block.branches[0] if x.kind == "conv")
    rows, stage = [], -1
    for r in s.rows:
        what = _OPERATIONS.get(r.module, r.module)
        if r.kind == "conv":
            stage += 1
            layer = next(convs)
            what = (f"{layer.kernel}×{layer.kernel} depthwise convolution" if layer.groups > 1
                    else f"{layer.kernel}×{layer.kernel} convolution")
        where = "shortcut" if r.kind == "add" else _STAGES[stage]
        rows.append((where, what, " × ".join(map(str, r.shape)), r.params))
    sheet.table(["stage", "operation", "output shape", "parameters"], rows,
                caption="Rows derived by the engine from the spec (parameters include the "
                        "batch-norm scale and shift).")
    sheet.figure(_figure(block, in_shape))
    main = [r for r in s.rows if r.depth == 1]
    hidden = main[0].shape[0]
    sheet.numeric(hidden, C * T, why="channels of the expanded tensor (the engine's spec)",
                  method=f"the expansion factor times the input channels, {T} × {C}")
    sheet.numeric(s.rows[-1].shape, tuple(in_shape),
                  why="shape of the block output (the engine's summary)",
                  method="the block input's shape, so that the sum is defined")
    sheet.numeric_if_installed("torch", s.rows[-1].shape,
                               lambda torch: _torch_output_shape(torch, in_shape),
                               why="shape of the block output (the engine's summary)",
                               method="the block built from PyTorch modules, run on a zero "
                                      "input")
    sheet.numeric_if_installed("torch", s.rows[-1].shape,
                               lambda torch: _listing_output_shape(torch, in_shape),
                               why="shape of the block output (the engine's summary)",
                               method=f"the listing's block ({in_shape[0]} channels in, {C} "
                                      f"out, expansion {T}, stride 1) run on a zero input")
    sheet.numeric_if_installed("torch", s.params,
                               lambda torch: _torch_params(torch, _listing_block(in_shape)),
                               why="learnable parameters of the block (the engine's summary, "
                                   "batch-norm scale and shift included)",
                               method="the listing's block: the entries of its parameter "
                                      "tensors, summed")
    merges = sum(1 for r in s.rows if r.kind == "add")
    sheet.numeric_if_installed("torch", merges,
                               lambda torch: int(_listing_block(in_shape).use_shortcut),
                               why="identity shortcuts in the block (the engine's spec)",
                               method="the listing's block: 1 if it adds its input, else 0")
    stages, channels = _stage_ops(block, in_shape[0])
    for name, ops, a, b in zip(_STAGES, stages, channels, channels[1:]):
        sheet.answer(name, f"{ops[0]}, {a} to {b} channels, "
                     + ", ".join(ops[1:]))
    sheet.answer("shortcut", "add the block input")


def _fraction(num: int, den: int):
    """``num/den`` kept unevaluated, so the rendered line shows both counts."""
    import sympy
    return sympy.Mul(sympy.Integer(num), sympy.Pow(sympy.Integer(den), -1, evaluate=False),
                     evaluate=False)


def solve_b(sheet: Sheet) -> None:
    from derive.arch.summary import summarize
    from derive.conv.costs import inverted_vs_standard_residual, ratio_value

    theorem = inverted_vs_standard_residual()
    sheet.text("Without biases and batch norm, the inverted block's 1×1 expansion has "
               "$t*C**2$ weights, its depthwise layer $9*t*C$ and its 1×1 projection $t*C**2$; "
               "a standard residual block (two 3×3 convolutions at $C$ channels) has "
               "$18*C**2$:")
    whys = ("the inverted block's weights over the standard block's",
            "factor $t*C$ out of the numerator", "cancel $C$")
    assert len(theorem.steps) == len(whys)
    sheet.derive("inverted / standard", [(e, why) for (e, _), why in zip(theorem.steps, whys)])
    value = ratio_value(theorem, C=C, t=T)
    block, in_shape = _catalog_block(BLOCK)
    inverted = summarize(_block_arch("inverted", [block], in_shape), convention="mac")
    standard = summarize(_block_arch("standard", _standard_block(C), in_shape),
                         convention="mac")
    layers_inv = [x for x in block.branches[0]]
    layers_std = list(_standard_block(C)[0].branches[0])
    conv_inv = sum(r.params for r in inverted.rows if r.kind == "conv")
    conv_std = sum(r.params for r in standard.rows if r.kind == "conv")
    sheet.claim(_fraction(conv_inv, conv_std), value,
                why=f"the convolution weights of the two specs, in the theorem's ratio at "
                    f"$C == {C}$, $t == {T}$")
    w_inv, bn_inv = _weight_entries(layers_inv)
    w_std, bn_std = _weight_entries(layers_std)
    sheet.numeric(conv_inv, w_inv, why="convolution weights of the inverted block (summary)",
                  method="the entries of its three weight tensors, allocated with NumPy")
    sheet.numeric(conv_std, w_std, why="convolution weights of the standard block (summary)",
                  method=f"the entries of its two {C} × {C} × 3 × 3 weight tensors, allocated "
                         f"with NumPy")
    sheet.numeric(inverted.params, w_inv + bn_inv,
                  why="learnable parameters of the inverted block (summary)",
                  method="the weight entries plus the batch-norm scale and shift entries")
    sheet.numeric(standard.params, w_std + bn_std,
                  why="learnable parameters of the standard block (summary)",
                  method="the weight entries plus the batch-norm scale and shift entries")
    sheet.numeric_if_installed("torch", inverted.params,
                               lambda torch: _torch_params(torch, _torch_inverted(torch)),
                               why="learnable parameters of the inverted block (summary)",
                               method="the block built from PyTorch modules")
    sheet.numeric_if_installed("torch", standard.params,
                               lambda torch: _torch_params(torch, _torch_standard(torch)),
                               why="learnable parameters of the standard block (summary)",
                               method="the block built from PyTorch modules")
    sheet.table(["block", "conv weights", "with batch norm"],
                [(f"inverted residual ($t == {T}$)", conv_inv, inverted.params),
                 ("standard residual", conv_std, standard.params)],
                caption=f"$C == {C}$; the rows come from the engine's summaries of the two "
                        f"specs.")
    sheet.answer("parameters", f"{conv_inv} vs {conv_std} weights, ratio {value} "
                               f"(about {float(value):.2f}); with batch norm {inverted.params} "
                               f"vs {standard.params}")
    sheet.text(f"The inverted block is a little smaller although its middle layer is "
               f"{T} times wider: the 3×3 filters are depthwise (9 weights per channel), and "
               f"only the pointwise (1×1) convolutions mix channels.")


def _torch_spatial(torch, convs, size: int) -> tuple[int, int]:
    """The spatial size after the given convolutions, run with PyTorch on a zero map."""
    t = torch.zeros(1, 1, size, size)
    for layer in convs:
        t = torch.nn.functional.conv2d(t, torch.zeros(1, 1, layer.kernel, layer.kernel),
                                       stride=layer.stride, padding=layer.padding)
    return tuple(int(v) for v in t.shape[-2:])


def solve_c(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.arch.summary import summarize
    from derive.conv.layers import Merge
    from derive.conv.shapes import output_size
    from derive.numeric import conv2d
    from derive.errors import ConfigurationError
    from derive.symbols import sym

    h, m, k, p, st = sym("H"), sym("m"), sym("K"), sym("P"), sym("S")
    sheet.text("An identity shortcut adds the block's input to its output element by element, "
               "so the two tensors must have the same shape. The 3×3 depthwise convolution "
               "($K == 3$, padding $P == 1$) maps a side of length $H$ to:")
    general = output_size(h, k, p, st)

    def at(size, stride):
        with sympy.evaluate(False):
            return general.xreplace({h: size, k: sympy.Integer(3), p: sympy.Integer(1),
                                     st: sympy.Integer(stride)})

    sheet.derive("H_out", [(at(h, 1), "output size at $K == 3$, $P == 1$, $S == 1$"),
                           (output_size(h, 3, padding=1, stride=1),
                            "simplify: the size is kept")])
    sheet.text("With stride 2 on an even side:")
    sheet.derive("H_out", [
        (at(2 * m, 2), "output size at $K == 3$, $P == 1$, $S == 2$ for an even side "
                       "$H == 2*m$"),
        (output_size(2 * m, 3, padding=1, stride=2), "simplify: the size is halved")])
    block, in_shape = _catalog_block(DOWN)
    size = in_shape[1]
    halved = output_size(size, 3, padding=1, stride=2)
    sheet.numeric(halved, len(range(0, size + 2 - 3 + 1, 2)),
                  why=f"output side of the stride-2 layer on a side of {size} (the rule above)",
                  method=f"the window starts enumerated on the padded side of {size + 2} "
                         f"positions")
    s = summarize(_block_arch("down", block, in_shape), convention="mac")
    out_shape = s.rows[-1].shape
    convs = [layer for layer in block if layer.kind == "conv"]
    a = np.zeros((1, 1, size, size))
    for layer in convs:
        a = conv2d(a, np.zeros((1, 1, layer.kernel, layer.kernel)), stride=layer.stride,
                   padding=layer.padding)
    sheet.numeric(out_shape[1:], tuple(int(v) for v in a.shape[-2:]),
                  why="spatial size of the block's output (the engine's summary)",
                  method=f"the block's convolutions (each layer's kernel, stride and padding) "
                         f"run on a zero {size} × {size} map with the engine's NumPy "
                         f"convolution")
    sheet.numeric_if_installed("torch", out_shape[1:],
                               lambda torch: _torch_spatial(torch, convs, size),
                               why="spatial size of the block's output (the engine's summary)",
                               method=f"the same convolutions run on a zero {size} × {size} "
                                      f"map with PyTorch")
    shape_in, shape_out = " × ".join(map(str, in_shape)), " × ".join(map(str, out_shape))
    sheet.text(f"The block just before it in MobileNetV2 takes {shape_in} to "
               f"{shape_out}: stride 2 and {in_shape[0]} to {out_shape[0]} channels.")
    try:
        summarize(_block_arch("down+shortcut", [Merge((tuple(block), ()), "add", "add")],
                              in_shape), convention="mac")
    except ConfigurationError:
        sheet.text(f"Put an identity shortcut around it and the engine's shape rules refuse "
                   f"the sum: its two terms would have shapes {shape_out} (the branch) and "
                   f"{shape_in} (the input).")
    else:  # pragma: no cover - the shapes differ, the engine raises
        raise ConfigurationError("expected the mismatched residual sum to be refused")
    sheet.explain(
        "The shortcut is an identity map, so it exists only when the branch keeps both the "
        "spatial size (stride 1) and the channel count ($C_in == C_out$). A stride-2 block "
        "halves the map and a block that changes the width changes the channel axis; the "
        "sum would be undefined. MobileNetV2 does not add a projection (1×1 convolution) "
        "shortcut in those blocks, as ResNet does: it keeps the shortcut parameter-free and "
        "simply drops it where the shapes differ, which happens once per stage.",
        rests_on=["the output-size derivations above", "the engine's shape rules"])


PROBLEM = Problem(
    id="8.20", set="chapter8", order=20, title="The inverted residual block",
    source="Chapter 8, exercise 8.20",
    statement=("MobileNetV2 inverts the ResNet bottleneck: the block's input and output are "
               "narrow, and the middle layer is a 3×3 depthwise convolution on channels "
               "expanded by a factor $t$ (1×1 expand, 3×3 depthwise, 1×1 project, plus a "
               "shortcut)."),
    parts=(
        Part("a", "Implement the block as a PyTorch module, given the input and output "
                  "channels, the expansion factor and the stride.", solve_a, scope=CODE),
        Part("b", "Compare its parameter count with a standard residual block for "
                  "$C_in == 32$, $C_out == 32$ and expansion 6.", solve_b),
        Part("c", "Why is the shortcut used only when the stride is 1 and $C_in == C_out$?",
             solve_c, scope=EXPLANATION),
    ),
)
