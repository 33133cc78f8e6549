"""Exercise 8.6: the ResNet-50 bottleneck block at 512 channels.

The block is taken from the engine's ResNet-50 spec (:mod:`derive.arch.catalog`, the
torchvision layout): block ``layer2.1`` maps 512 channels to 512 through a 128-channel
bottleneck.  The diagram is drawn from that spec; the parameter counts come from
:func:`derive.conv.costs.conv_cost` and the compression factor is derived from the weight
counts of the two blocks with ``C = 4m`` (every step checked, the result equal to the cost
theorem :func:`derive.conv.costs.bottleneck_vs_basic`).  Cross-checks: entries of NumPy
arrays with the weight shapes, and the weight counts of PyTorch's ``Conv2d`` where PyTorch is
installed (the page is the same either way).
"""

from derive.book import EXPLANATION, Part, Problem, Sheet, written

BLOCK = "layer2.1"     # the ResNet-50 block whose input and output have 512 channels


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
                  caption=f"The bottleneck block ({BLOCK} of the ResNet-50 spec): 1×1 "
                          "reduction, 3×3 convolution at the bottleneck width, 1×1 "
                          "expansion, identity shortcut added before the last ReLU.")


def solve_a(sheet: Sheet) -> None:
    main = _block()
    convs = _convs(main)
    sheet.text(f"In ResNet-50 the blocks that read and write $C == {convs[0].in_channels}$ "
               f"channels (stage 2, e.g. block {BLOCK}) squeeze to a width of "
               f"$C/4 == {convs[1].in_channels}$, apply the 3×3 convolution there, and expand "
               "back to $C$; batch norm follows every convolution and the shortcut is the "
               "identity.")
    sheet.figure(_figure(main))
    sheet.table(["layer", "kernel", "in", "out"],
                [(c.name, f"{c.kernel}×{c.kernel}", c.in_channels, c.out_channels)
                 for c in convs], caption="The three convolutions of the block (spec data).")
    sheet.numeric(convs[-1].out_channels, convs[0].in_channels,
                  why="channels out of the last 1×1 convolution",
                  method="the block's input width (equal, so the identity shortcut can be "
                         "added)")
    sheet.numeric(convs[1].in_channels, convs[0].in_channels // 4,
                  why="bottleneck width",
                  method="the ResNet design rule: a quarter of the block's width, $C/4$")
    sheet.answer("channels in, bottleneck, bottleneck, out",
                 ", ".join(str(c.in_channels) for c in convs) + f", {convs[-1].out_channels}")


def _check_counts(sheet: Sheet, shapes: list[tuple[int, int, int]], total: int,
                  label: str) -> None:
    import numpy as np

    entries = sum(np.zeros((c_out, c_in, k, k)).size for c_in, c_out, k in shapes)
    sheet.numeric(total, int(entries), why=f"{label} parameters",
                  method=f"entries of NumPy weight arrays of the {label}'s shapes "
                         + ", ".join(f"{o}×{i}×{k}×{k}" for i, o, k in shapes))
    sheet.numeric_if_installed(
        "torch", total,
        lambda torch: sum(int(torch.nn.Conv2d(i, o, k, bias=False,
                                              device="meta").weight.numel())
                          for i, o, k in shapes),
        why=f"{label} parameters",
        method="weight counts of PyTorch's Conv2d layers of these shapes, without bias")


def solve_b(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import conv_cost
    from derive.symbols import syms

    main = _block()
    convs = _convs(main)
    m, = syms("m")
    sheet.text("Convolutions in ResNet carry no bias (batch norm supplies the shift) and the "
               "exercise ignores the batch-norm parameters, so only the weights count. With "
               "$C == 4*m$ and bottleneck width $m$:")
    symbolic = [conv_cost(4 * m if c is convs[0] else m, 4 * m if c is convs[-1] else m,
                          c.kernel, 1, bias=False, convention="mac").params for c in convs]
    total_m = sympy.expand(sum(symbolic))
    with sympy.evaluate(False):
        unsummed = sympy.Add(*symbolic)
    sheet.derive("params", [(unsummed, "1×1: $C*m$, 3×3: $9*m**2$, 1×1: $m*C$, with "
                                       "$C == 4*m$"),
                            (total_m, "collect terms")])
    counts = [conv_cost(c.in_channels, c.out_channels, c.kernel, 1, bias=False,
                        convention="mac").params for c in convs]
    total = sum(counts)
    width = convs[1].in_channels
    with sympy.evaluate(False):
        plugged = total_m.xreplace({m: sympy.Integer(width)})
    sheet.derive("params", [(plugged, f"$m == {width}$"), (total, "evaluate")])
    sheet.table(["layer", "weight shape (out, in, $k$, $k$)", "weights"],
                [(c.name, f"{c.out_channels}×{c.in_channels}×{c.kernel}×{c.kernel}", n)
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
    from derive.symbols import syms

    convs = _convs(_block())
    c = convs[0].in_channels
    plain = 2 * conv_cost(c, c, 3, 1, bias=False, convention="mac").params
    sheet.text(f"The plain residual block applies two 3×3 convolutions at {c} channels:")
    with sympy.evaluate(False):
        product = sympy.Mul(2, 9, c, c)
    sheet.derive("params", [(product, f"two 3×3 layers, {c} channels in and out"),
                            (plain, "evaluate")])
    _check_counts(sheet, [(c, c, 3), (c, c, 3)], plain, "plain block")
    expansion = c // convs[1].in_channels
    theorem = bottleneck_vs_basic(expansion=expansion)
    m, = syms("m")
    sheet.text(f"The ratio of the two blocks for any width, with $C == {expansion}*m$:")
    sheet.derive("bottleneck / plain", [
        (written(f"({expansion}*m**2 + 9*m**2 + {expansion}*m**2)/(2*9*({expansion}*m)**2)"),
         f"bottleneck weights (1×1: $C*m == {expansion}*m**2$, 3×3: $9*m**2$, 1×1: "
         f"$m*C == {expansion}*m**2$) over the plain block's two 3×3 layers ($9*C**2$ "
         "each)"),
        (sympy.Mul(sympy.expand(theorem.lhs.as_numer_denom()[0]),
                   sympy.Pow(sympy.expand(theorem.lhs.as_numer_denom()[1]), -1,
                             evaluate=False), evaluate=False),
         "collect terms (the engine's cost model gives the same counts)"),
        (theorem.rhs, "cancel $m**2$")])
    factor = 1 / theorem.rhs
    plain_w = sum(np.zeros((c, c, 3, 3)).size for _ in range(2))
    bottleneck_w = sum(np.zeros((x.out_channels, x.in_channels, x.kernel, x.kernel)).size
                       for x in convs)
    sheet.numeric(factor, sympy.Rational(int(plain_w), int(bottleneck_w)),
                  why="compression factor",
                  method="entries of NumPy weight arrays of the two blocks' shapes, plain "
                         "over bottleneck, divided exactly")
    sheet.text(f"So the bottleneck block uses ${theorem.rhs}$ of the weights of the plain "
               f"block (and, at equal resolution, of its multiply-adds): about "
               f"{float(factor):.1f} times fewer, which is what lets ResNet-50 be deeper than "
               "ResNet-34 at a similar cost.")
    sheet.answer("plain block parameters", plain)
    sheet.answer("compression factor", factor)


PROBLEM = Problem(
    id="8.6", set="chapter8", order=6, title="The bottleneck block",
    source="Chapter 8, exercise 8.6",
    statement="Take a ResNet-50 bottleneck block whose input and output feature maps have "
              "$C == 512$ channels (bottleneck width 128).",
    parts=(
        Part("a", "Draw the block: the 1×1, 3×3 and 1×1 convolutions with their channel "
                  "counts, and the shortcut.", solve_a, scope=EXPLANATION),
        Part("b", "Count its parameters, leaving out batch norm.", solve_b),
        Part("c", "Count the parameters of a plain residual block of two 3×3 convolutions at "
                  "512 channels. By what factor does the bottleneck compress it?", solve_c),
    ),
)
