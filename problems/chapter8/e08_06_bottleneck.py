"""Exercise 8.6: the ResNet-50 bottleneck block at 512 channels.

The block is taken from the engine's ResNet-50 spec (:mod:`derive.arch.catalog`, the
torchvision layout): block ``layer2.1`` maps 512 channels to 512 through a 128-channel
bottleneck.  The diagram is drawn from that spec; the parameter counts come from
:func:`derive.conv.costs.conv_cost` and the compression factor from the cost theorem
:func:`derive.conv.costs.bottleneck_vs_basic` (every step checked).  Cross-checks: entries of
NumPy arrays with the weight shapes, and ``numel()`` of ``torch.nn.Conv2d`` when PyTorch is
installed.
"""

from derive.book import Part, Problem, Sheet

BLOCK = "layer2.1"     # the ResNet-50 block whose input and output have 512 channels


def _torch():
    try:
        import torch
    except ImportError:  # PyTorch is optional
        return None
    return torch


def _block():
    """The main branch of the block (a tuple of layers) from the engine's ResNet-50 spec."""
    from derive.arch.catalog import architecture
    from derive.conv.layers import Merge
    from derive.errors import ConfigurationError

    for item in architecture("resnet50").features:
        if isinstance(item, Merge) and item.name == BLOCK:
            main, shortcut = item.branches
            if shortcut:
                raise ConfigurationError(f"block {BLOCK} has a projection shortcut; the "
                                         "exercise needs an identity shortcut")
            return main
    raise ConfigurationError(f"no block named {BLOCK!r} in the ResNet-50 spec")


def _convs(main):
    return [layer for layer in main if layer.kind == "conv"]


def _stages(main) -> list[tuple[str, str]]:
    """One stage per convolution: ('1x1 conv, 512 -> 128', 'BN, ReLU')."""
    stages: list[list] = []
    for layer in main:
        if layer.kind == "conv":
            stages.append([f"{layer.kernel}x{layer.kernel} conv, {layer.in_channels} -> "
                           f"{layer.out_channels}", []])
        elif stages:
            stages[-1][1].append("BN" if layer.kind == "bn" else
                                 getattr(layer, "module", "") or layer.kind)
    return [(head, ", ".join(tail)) for head, tail in stages]


def _figure(main):
    from derive.book import Figure

    stages = _stages(main)
    channels = _convs(main)[0].in_channels
    out_channels = _convs(main)[-1].out_channels
    # TikZ: boxes top to bottom, shortcut on the right
    gap = 1.5
    tikz = [r"\begin{tikzpicture}[font=\small, box/.style={draw, rounded corners, "
            r"fill=blue!8, minimum width=5.2cm, minimum height=0.8cm, align=center}]",
            f"\\node (in) at (0,0) {{input, {channels} channels}};"]
    prev = "in"
    for n, (head, tail) in enumerate(stages, start=1):
        tex_head = head.replace("->", "$\\to$")
        tikz.append(f"\\node[box] (s{n}) at (0,{-gap * n:.2f}) {{{tex_head}\\\\{{\\footnotesize "
                    f"{tail}}}}};")
        tikz.append(f"\\draw[->] ({prev}) -- (s{n});")
        prev = f"s{n}"
    y_add = -gap * (len(stages) + 1)
    tikz += [f"\\node[draw, circle, inner sep=1pt] (add) at (0,{y_add:.2f}) {{$+$}};",
             f"\\draw[->] ({prev}) -- (add);",
             f"\\draw[->] (in.east) -- ++(2.2,0) |- node[pos=0.25, right] "
             f"{{identity}} (add.east);",
             f"\\node (relu) at (0,{y_add - 0.9:.2f}) {{ReLU}};",
             f"\\node (out) at (0,{y_add - 1.8:.2f}) {{output, {out_channels} channels}};",
             r"\draw[->] (add) -- (relu);", r"\draw[->] (relu) -- (out);",
             r"\end{tikzpicture}"]
    # SVG: the same layout
    step, cx, width = 62, 200, 260
    height = 40 + step * (len(stages) + 3)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="420" height="{height}" '
           f'viewBox="0 0 420 {height}" font-family="sans-serif" font-size="13">',
           f'<rect width="420" height="{height}" fill="white"/>',
           '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" '
           'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="black"/></marker></defs>',
           f'<text x="{cx}" y="24" text-anchor="middle">input, {channels} channels</text>']
    y_prev = 30
    for n, (head, tail) in enumerate(stages, start=1):
        y = 20 + step * n
        svg.append(f'<line x1="{cx}" y1="{y_prev}" x2="{cx}" y2="{y - 22}" stroke="black" '
                   'marker-end="url(#arrow)"/>')
        svg.append(f'<rect x="{cx - width / 2:.0f}" y="{y - 20}" width="{width}" height="40" '
                   'rx="6" fill="#e8eefb" stroke="black"/>')
        svg.append(f'<text x="{cx}" y="{y - 3}" text-anchor="middle">{head.replace("->", "→")}'
                   f'</text>')
        svg.append(f'<text x="{cx}" y="{y + 13}" text-anchor="middle" font-size="11">{tail}'
                   '</text>')
        y_prev = y + 20
    y_add = 20 + step * (len(stages) + 1)
    svg += [f'<line x1="{cx}" y1="{y_prev}" x2="{cx}" y2="{y_add - 14}" stroke="black" '
            'marker-end="url(#arrow)"/>',
            f'<circle cx="{cx}" cy="{y_add}" r="12" fill="white" stroke="black"/>',
            f'<text x="{cx}" y="{y_add + 5}" text-anchor="middle">+</text>',
            f'<path d="M {cx + 70} 20 L {cx + 170} 20 L {cx + 170} {y_add} L {cx + 14} '
            f'{y_add}" fill="none" stroke="black" marker-end="url(#arrow)"/>',
            f'<text x="{cx + 176}" y="{(20 + y_add) // 2}" font-size="11">identity</text>',
            f'<line x1="{cx}" y1="{y_add + 12}" x2="{cx}" y2="{y_add + 34}" stroke="black" '
            'marker-end="url(#arrow)"/>',
            f'<text x="{cx}" y="{y_add + 50}" text-anchor="middle">ReLU</text>',
            f'<line x1="{cx}" y1="{y_add + 56}" x2="{cx}" y2="{y_add + 78}" stroke="black" '
            'marker-end="url(#arrow)"/>',
            f'<text x="{cx}" y="{y_add + 94}" text-anchor="middle">output, {out_channels} '
            'channels</text>', "</svg>"]
    return Figure(tikz="\n".join(tikz), svg="\n".join(svg), name="bottleneck-block",
                  caption=f"The bottleneck block ({BLOCK} of the ResNet-50 spec): 1x1 "
                          "reduction, 3x3 convolution at the bottleneck width, 1x1 "
                          "expansion, identity shortcut added before the last ReLU.")


def solve_a(sheet: Sheet) -> None:
    main = _block()
    convs = _convs(main)
    sheet.text(f"In ResNet-50 the blocks that read and write {convs[0].in_channels} channels "
               f"(stage 2, e.g. block {BLOCK}) squeeze to a width of {convs[1].in_channels} "
               "= C/4, apply the 3x3 convolution there, and expand back to C; batch norm "
               "follows every convolution and the shortcut is the identity.")
    sheet.figure(_figure(main))
    sheet.table(["layer", "kernel", "in", "out"],
                [(c.name, f"{c.kernel}x{c.kernel}", c.in_channels, c.out_channels)
                 for c in convs], caption="The three convolutions of the block (spec data).")
    sheet.numeric(convs[0].in_channels, convs[-1].out_channels,
                  method="channel bookkeeping: the last 1x1 restores the block's input width, "
                         "so the identity shortcut can be added")
    sheet.numeric(convs[0].in_channels, 4 * convs[1].in_channels,
                  method="the bottleneck width is C/4 (expansion 4)")
    sheet.answer("channels in, bottleneck, bottleneck, out",
                 ", ".join(str(c.in_channels) for c in convs) + f", {convs[-1].out_channels}")


def _check_counts(sheet: Sheet, shapes: list[tuple[int, int, int]], total: int,
                  label: str) -> None:
    import numpy as np

    entries = sum(np.zeros((c_out, c_in, k, k)).size for c_in, c_out, k in shapes)
    sheet.numeric(total, int(entries),
                  method=f"entries of NumPy weight arrays of the {label}'s shapes "
                         + ", ".join(f"({o}, {i}, {k}, {k})" for i, o, k in shapes))
    torch = _torch()
    if torch is not None:
        count = sum(int(torch.nn.Conv2d(i, o, k, bias=False, device="meta").weight.numel())
                    for i, o, k in shapes)
        sheet.numeric(total, count, method="numel() of bias-free torch.nn.Conv2d layers "
                                           "(PyTorch installed)")


def solve_b(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import conv_cost
    from derive.symbols import syms

    main = _block()
    convs = _convs(main)
    m, = syms("m")
    sheet.text("Convolutions in ResNet carry no bias (batch norm supplies the shift) and the "
               "exercise ignores the batch-norm parameters, so only the weights count. With "
               "C = 4m and bottleneck width m:")
    symbolic = [conv_cost(4 * m if c is convs[0] else m, 4 * m if c is convs[-1] else m,
                          c.kernel, 1, bias=False, convention="mac").params for c in convs]
    total_m = sympy.expand(sum(symbolic))
    with sympy.evaluate(False):
        unsummed = sympy.Add(*symbolic)
    sheet.derive("params", [(unsummed, "1x1: C*m, 3x3: 9 m^2, 1x1: m*C"),
                            (total_m, "collect with C = 4m")])
    counts = [conv_cost(c.in_channels, c.out_channels, c.kernel, 1, bias=False,
                        convention="mac").params for c in convs]
    total = sum(counts)
    width = convs[1].in_channels
    with sympy.evaluate(False):
        plugged = total_m.xreplace({m: sympy.Integer(width)})
    sheet.derive("params", [(plugged, f"m = {width}"), (total, "evaluate")])
    sheet.table(["layer", "shape (out, in, k, k)", "weights"],
                [(c.name, f"({c.out_channels}, {c.in_channels}, {c.kernel}, {c.kernel})", n)
                 for c, n in zip(convs, counts)] + [("total", "", total)])
    _check_counts(sheet, [(c.in_channels, c.out_channels, c.kernel) for c in convs], total,
                  "bottleneck")
    bn = sum(2 * layer.out_channels for layer in main if layer.kind == "bn")
    sheet.text(f"(The three batch norms would add {bn} learnable parameters, 2 per channel.)")
    sheet.answer("bottleneck block parameters", total)


def solve_c(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import bottleneck_vs_basic, conv_cost

    convs = _convs(_block())
    c = convs[0].in_channels
    plain = 2 * conv_cost(c, c, 3, 1, bias=False, convention="mac").params
    sheet.text(f"The plain residual block applies two 3x3 convolutions at {c} channels:")
    with sympy.evaluate(False):
        product = sympy.Mul(2, 9, c, c)
    sheet.derive("params", [(product, f"two 3x3 layers, {c} -> {c}"), (plain, "evaluate")])
    _check_counts(sheet, [(c, c, 3), (c, c, 3)], plain, "plain block")
    theorem = bottleneck_vs_basic(expansion=c // convs[1].in_channels)
    sheet.text("The ratio of the two blocks for any width, from the cost theorem (C = 4m):")
    sheet.derive("bottleneck / plain", list(theorem.steps))
    factor = 1 / theorem.rhs
    plain_w = sum(np.zeros((c, c, 3, 3)).size for _ in range(2))
    bottleneck_w = sum(np.zeros((x.out_channels, x.in_channels, x.kernel, x.kernel)).size
                       for x in convs)
    sheet.numeric(factor, sympy.Rational(int(plain_w), int(bottleneck_w)),
                  method="entries of NumPy weight arrays of the two blocks' shapes, plain "
                         "over bottleneck, divided exactly")
    sheet.text(f"So the bottleneck block uses {theorem.rhs} of the weights of the plain block "
               f"(and, at equal resolution, of its multiply-adds): about {float(factor):.1f} "
               "times fewer, which is what lets ResNet-50 be deeper than ResNet-34 at a "
               "similar cost.")
    sheet.answer("plain block parameters", plain)
    sheet.answer("compression factor", f"{factor} ~ {float(factor):.2f}")


PROBLEM = Problem(
    id="8.6", set="chapter8", order=6, title="The bottleneck block",
    source="Chapter 8, exercise 8.6",
    statement="Take a ResNet-50 bottleneck block whose input and output feature maps have "
              "C = 512 channels (bottleneck width 128).",
    parts=(
        Part("a", "Draw the block: the 1x1, 3x3 and 1x1 convolutions with their channel "
                  "counts, and the shortcut.", solve_a),
        Part("b", "Count its parameters, leaving out batch norm.", solve_b),
        Part("c", "Count the parameters of a plain residual block of two 3x3 convolutions at "
                  "512 channels. By what factor does the bottleneck compress it?", solve_c),
    ),
)
