"""Exercise 8.20: the MobileNetV2 inverted residual block.

The block is not typed here: it is the stride-1, 32-channel block of the engine's
MobileNetV2 spec (:func:`derive.arch.catalog.architecture`), whose rows, shapes and
parameter counts come from :func:`derive.arch.summary.summarize`; the figure is drawn from
those rows.  The comparison with a standard residual block is the engine's cost theorem
(:func:`derive.conv.costs.inverted_vs_standard_residual`), cross-checked by counting the
entries of the weight tensors (and with PyTorch modules when installed).  Part (c) rests on
the shape rules: an identity shortcut needs the branch output to have the input's shape.
"""

from derive.book import Part, Problem, Sheet

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


def _torch():
    try:
        import torch
    except ImportError:  # PyTorch is optional
        return None
    return torch


# --------------------------------------------------------------------------- figure
def _stage_ops(block, c_in: int):
    """Group the branch's layers into (conv, BN, activation) stages: the operation names
    per stage and the channel count after each stage (starting with ``c_in``)."""
    stages, ops, channels = [], [], [c_in]
    for layer in block.branches[0]:
        if layer.kind == "conv":
            if ops:
                stages.append(ops)
            ops = [f"{layer.kernel}x{layer.kernel} depthwise" if layer.groups > 1
                   else f"{layer.kernel}x{layer.kernel} conv"]
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
        label = r"\\".join(ops)
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
                   f'{c}x{h}x{w}</text>')
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
    sheet.text(f"The block is taken from the engine's MobileNetV2 spec ({BLOCK}, the first "
               f"stride-1 block with {C} channels in and out, reached at "
               f"{in_shape[1]} x {in_shape[2]} for a 224 x 224 image). Its branch expands "
               f"with a 1x1 convolution, filters each expanded channel with a 3x3 depthwise "
               f"convolution, and projects back with a 1x1 convolution that has no activation "
               f"(a linear bottleneck); the input is added to the result.")
    sheet.table(["layer", "module", "output shape", "parameters"],
                [(r.name.replace(BLOCK + ".", ""), r.module, "x".join(map(str, r.shape)),
                  r.params) for r in s.rows],
                caption="Rows derived by the engine from the spec (parameters include the "
                        "batch-norm scale and shift).")
    sheet.figure(_figure(block, in_shape))
    main = [r for r in s.rows if r.depth == 1]
    hidden = main[0].shape[0]
    sheet.numeric(hidden, C * T, method="expansion t times the input channels")
    sheet.numeric(s.rows[-1].shape, tuple(in_shape),
                  method="the block output has the input's shape (so the sum is defined)")
    torch = _torch()
    if torch is not None:
        nn = torch.nn
        branch = nn.Sequential(
            nn.Conv2d(C, C * T, 1, bias=False), nn.BatchNorm2d(C * T), nn.ReLU6(),
            nn.Conv2d(C * T, C * T, 3, padding=1, groups=C * T, bias=False),
            nn.BatchNorm2d(C * T), nn.ReLU6(),
            nn.Conv2d(C * T, C, 1, bias=False), nn.BatchNorm2d(C))
        x = torch.zeros(1, *in_shape)
        y = x + branch(x)
        sheet.numeric(s.rows[-1].shape, tuple(y.shape[1:]),
                      method="output shape of the block built from torch.nn modules "
                             "(PyTorch installed)")
    stages, channels = _stage_ops(block, in_shape[0])
    for name, ops, a, b in zip(("expand", "filter", "project"), stages, channels,
                               channels[1:]):
        sheet.answer(name, f"{ops[0]} {a} -> {b}, " + ", ".join(ops[1:]))
    sheet.answer("shortcut", "add the block input")


def solve_b(sheet: Sheet) -> None:
    import sympy

    from derive.arch.summary import summarize
    from derive.conv.costs import inverted_vs_standard_residual, ratio_value

    theorem = inverted_vs_standard_residual()
    sheet.text("Without biases and batch norm, the inverted block has C*tC + 9tC + tC*C weights "
               "and a standard residual block (two 3x3 convolutions at C channels) has "
               "2*9*C^2:")
    sheet.derive("inverted / standard", list(theorem.steps))
    value = ratio_value(theorem, C=C, t=T)
    block, in_shape = _catalog_block(BLOCK)
    inverted = summarize(_block_arch("inverted", [block], in_shape), convention="mac")
    standard = summarize(_block_arch("standard", _standard_block(C), in_shape),
                         convention="mac")
    layers_inv = [x for x in block.branches[0]]
    layers_std = list(_standard_block(C)[0].branches[0])
    conv_inv = sum(r.params for r in inverted.rows if r.kind == "conv")
    conv_std = sum(r.params for r in standard.rows if r.kind == "conv")
    sheet.claim(sympy.Rational(conv_inv, conv_std), value,
                why=f"the spec's convolution weights in the theorem's ratio at C = {C}, t = {T}")
    w_inv, bn_inv = _weight_entries(layers_inv)
    w_std, bn_std = _weight_entries(layers_std)
    sheet.numeric(conv_inv, w_inv, method="entries of the three weight tensors, allocated "
                                          "with NumPy")
    sheet.numeric(conv_std, w_std, method="entries of the two 32 x 32 x 3 x 3 weight tensors")
    sheet.numeric(inverted.params, w_inv + bn_inv,
                  method="weight entries plus batch-norm scale and shift entries")
    sheet.numeric(standard.params, w_std + bn_std,
                  method="weight entries plus batch-norm scale and shift entries")
    torch = _torch()
    if torch is not None:
        nn = torch.nn
        inv = nn.Sequential(
            nn.Conv2d(C, C * T, 1, bias=False), nn.BatchNorm2d(C * T), nn.ReLU6(),
            nn.Conv2d(C * T, C * T, 3, padding=1, groups=C * T, bias=False),
            nn.BatchNorm2d(C * T), nn.ReLU6(), nn.Conv2d(C * T, C, 1, bias=False),
            nn.BatchNorm2d(C))
        std = nn.Sequential(nn.Conv2d(C, C, 3, padding=1, bias=False), nn.BatchNorm2d(C),
                            nn.ReLU(), nn.Conv2d(C, C, 3, padding=1, bias=False),
                            nn.BatchNorm2d(C))
        sheet.numeric(inverted.params, sum(p.numel() for p in inv.parameters()),
                      method="torch.nn inverted residual, learnable parameters "
                             "(PyTorch installed)")
        sheet.numeric(standard.params, sum(p.numel() for p in std.parameters()),
                      method="torch.nn standard residual block, learnable parameters "
                             "(PyTorch installed)")
    sheet.table(["block", "conv weights", "with batch norm"],
                [("inverted residual (t = 6)", conv_inv, inverted.params),
                 ("standard residual", conv_std, standard.params)],
                caption=f"C = {C}; the rows come from the engine's summaries of the two specs.")
    sheet.answer("parameters", f"{conv_inv} vs {conv_std} weights, ratio {value} "
                               f"(~{float(value):.2f}); with batch norm {inverted.params} vs "
                               f"{standard.params}")
    sheet.text(f"The inverted block is a little smaller although its middle layer is "
               f"{T} times wider: the 3x3 filters are depthwise (9 weights per channel), and "
               f"only 1x1 layers mix channels.")


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
               "so the two tensors must have the same shape. The 3x3 depthwise convolution "
               "(K = 3, padding P = 1) maps a side of length H to:")
    general = output_size(h, k, p, st)

    def at(size, stride):
        with sympy.evaluate(False):
            return general.xreplace({h: size, k: sympy.Integer(3), p: sympy.Integer(1),
                                     st: sympy.Integer(stride)})

    sheet.derive("H_out (stride 1)", [(at(h, 1), "output size at K = 3, P = 1, S = 1"),
                                      (output_size(h, 3, padding=1, stride=1), "simplify"),
                                      (h, "the size is kept")])
    sheet.derive("H_out (stride 2, H = 2m)", [
        (at(2 * m, 2), "output size at K = 3, P = 1, S = 2 for an even side H = 2m"),
        (output_size(2 * m, 3, padding=1, stride=2), "simplify"),
        (m, "the size is halved")])
    block, in_shape = _catalog_block(DOWN)
    size = in_shape[1]
    halved = output_size(size, 3, padding=1, stride=2)
    sheet.numeric(halved, len(range(0, size + 2 - 3 + 1, 2)),
                  method=f"enumerating the window starts of the stride-2 layer on {size} "
                         f"positions")
    s = summarize(_block_arch("down", block, in_shape), convention="mac")
    out_shape = s.rows[-1].shape
    convs = [layer for layer in block if layer.kind == "conv"]
    torch = _torch()
    if torch is not None:
        t = torch.zeros(1, 1, size, size)
        for layer in convs:
            t = torch.nn.functional.conv2d(t, torch.zeros(1, 1, layer.kernel, layer.kernel),
                                           stride=layer.stride, padding=layer.padding)
        ran, how = tuple(t.shape[-2:]), "torch.nn.functional.conv2d (PyTorch installed)"
    else:
        a = np.zeros((1, 1, size, size))
        for layer in convs:
            a = conv2d(a, np.zeros((1, 1, layer.kernel, layer.kernel)), stride=layer.stride,
                       padding=layer.padding)
        ran, how = a.shape[-2:], "NumPy (derive.numeric.conv2d)"
    sheet.numeric(out_shape[1:], tuple(int(v) for v in ran),
                  method=f"the spatial size of the block's output in the engine's summary "
                         f"against its convolutions (each layer's kernel, stride and padding) "
                         f"run on a zero {size} x {size} map with {how}")
    sheet.text(f"The block before it in MobileNetV2 ({DOWN}) takes "
               f"{'x'.join(map(str, in_shape))} to {'x'.join(map(str, out_shape))}: stride 2 "
               f"and {in_shape[0]} -> {out_shape[0]} channels. Putting an identity shortcut "
               f"around it, the engine refuses the sum:")
    try:
        summarize(_block_arch("down+shortcut", [Merge((tuple(block), ()), "add", "add")],
                              in_shape), convention="mac")
    except ConfigurationError as exc:
        sheet.text(f"Engine message: {exc}")
    else:  # pragma: no cover - the shapes differ, the engine raises
        raise ConfigurationError("expected the mismatched residual sum to be refused")
    sheet.explain(
        "The shortcut is an identity map, so it exists only when the branch keeps both the "
        "spatial size (stride 1) and the channel count (C_in = C_out). A stride-2 block halves "
        "the map and a block that changes the width changes the channel axis; the sum would "
        "be undefined. MobileNetV2 does not add a projection (1x1 convolution) shortcut in "
        "those blocks, as ResNet does: it keeps the shortcut parameter-free and simply drops "
        "it where the shapes differ, which happens once per stage.",
        rests_on=["derive.conv.shapes.output_size", "derive.arch.summary.summarize"])


PROBLEM = Problem(
    id="8.20", set="chapter8", order=20, title="The inverted residual block",
    source="Chapter 8, exercise 8.20",
    statement=("MobileNetV2 inverts the ResNet bottleneck: the block's input and output are "
               "narrow, and the middle layer is a 3x3 depthwise convolution on channels "
               "expanded by a factor t (1x1 expand, 3x3 depthwise, 1x1 project, plus a "
               "shortcut)."),
    parts=(
        Part("a", "Build the block (input and output channels, expansion, stride).", solve_a),
        Part("b", "Compare its parameter count with a standard residual block for C_in = C_out "
                  "= 32 and expansion 6.", solve_b),
        Part("c", "Why is the shortcut used only when the stride is 1 and C_in = C_out?",
             solve_c),
    ),
)
