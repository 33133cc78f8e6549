"""Exercise 8.24: dilated (atrous) convolutions and their receptive fields.

The effective kernel is counted from the indexed-sum model of one dilated layer (the input
positions its taps span) and compared with the engine's formula of
:mod:`derive.conv.shapes`; fields come from :mod:`derive.conv.receptive`, parameter counts
from :mod:`derive.conv.costs`.  Independent checks: the span of the tap offsets enumerated by
brute force, the set of input offsets reachable through the stack, and (part c) the support
of the input gradient of one output unit, computed with the derived backward formulas
(:func:`derive.numeric.conv2d_backward`), by pushing unit impulses forward through the stack,
and with PyTorch autograd where it is installed (the page is the same either way).  The
implementation part (c) asks for is the listing :mod:`derive.lab.listings.receptive_field`,
printed whole: a stack of ``nn.Conv2d`` layers with the given dilations, and a measurement of
the box of input pixels that receive a gradient from the centre output, compared with the
engine's receptive field where PyTorch is installed (``tests/test_lab_listings.py`` compares
it with the closed form on many stacks).
"""

from derive.book import CODE, Part, Problem, Sheet

K = 3
RATES = (1, 2, 4)
SIDE = 21          # input side for the gradient experiment ('same' padding keeps it)


def _layers():
    from derive.conv.layers import Layer
    return [Layer("conv", kernel=K, dilation=d, padding=d, name=f"3×3, dilation {d}")
            for d in RATES]


def _tap_span(k: int, d: int) -> int:
    """Brute force: positions touched by one window, first to last."""
    taps = [u * d for u in range(k)]
    return max(taps) - min(taps) + 1


def _reachable(k: int, rates) -> list[int]:
    """Brute force: every input offset a top unit can reach through the stack."""
    offsets = {0}
    for d in rates:
        offsets = {o + u * d for o in offsets for u in range(k)}
    return sorted(offsets)


def _stack(x, weights):
    from derive.numeric import conv2d
    acts = [x]
    for w, d in zip(weights, RATES):
        acts.append(conv2d(acts[-1], w, padding=d, dilation=d))
    return acts


def _weights():
    import numpy as np
    rng = np.random.default_rng(824)
    # positive weights: no accidental cancellation can hide part of the support
    return [rng.uniform(0.5, 1.5, (1, 1, K, K)) for _ in RATES]


def _gradient(centre: int):
    """Input gradient of output unit (centre, centre), by the derived backward formulas."""
    import numpy as np
    from derive.numeric import conv2d_backward

    weights = _weights()
    x = np.random.default_rng(0).standard_normal((1, 1, SIDE, SIDE))
    acts = _stack(x, weights)
    grad = np.zeros_like(acts[-1])
    grad[0, 0, centre, centre] = 1.0
    for level in range(len(RATES), 0, -1):
        grad = conv2d_backward(acts[level - 1], weights[level - 1], grad,
                               padding=RATES[level - 1], dilation=RATES[level - 1])[0]
    return grad[0, 0]


def _impulse_support(centre: int):
    """Independent: send a unit impulse at every input pixel through the (linear) stack and
    record which ones move output unit (centre, centre)."""
    import numpy as np
    n = SIDE * SIDE
    x = np.zeros((n, 1, SIDE, SIDE))
    x[np.arange(n), 0, np.arange(n) // SIDE, np.arange(n) % SIDE] = 1.0
    out = _stack(x, _weights())[-1][:, 0, centre, centre]
    return (np.abs(out) > 0).reshape(SIDE, SIDE)


def _bbox(mask) -> tuple[int, int, int, int]:
    import numpy as np
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


def _one_layer_model(d):
    """The indexed-sum model of one 1D dilated layer (stride 1, no padding, one channel)."""
    from derive.conv.model import conv_model
    return conv_model(1, kernel=K, dilation=d, stride=1, padding=0, batch=1, in_channels=1,
                      out_channels=1, bias=False)


def solve_a(sheet: Sheet) -> None:
    import sympy

    from derive.conv.layers import Layer
    from derive.conv.receptive import receptive_field
    from derive.conv.shapes import effective_kernel
    from derive.symbols import sym

    d = sym("d")
    view = _one_layer_model(d).axis_view(0)
    sheet.text("Along one axis, with stride 1 and dilation $d$, the layer computes:")
    sheet.derive(view.lhs, [(view.rhs, "the indexed-sum model of a dilated layer")])
    # the input position read by tap u, from the model itself
    (read,) = [e.indices[-1] for e in view.rhs.atoms(sympy.Indexed) if e.base.name == "x_pad"]
    u = next(s for s in read.free_symbols if s.name == "u")
    first, last = read.subs(u, 0), read.subs(u, K - 1)
    sheet.text(f"Tap $u$ reads the input at ${read}$, so the taps sit $d$ apart and the "
               f"window runs from ${first}$ (tap 0) to ${last}$ (tap {K - 1}). Its width is "
               f"the number of input positions in that range, skipped ones included:")
    t = sympy.Symbol("t", integer=True)
    sheet.derive("k_eff", [(sympy.Sum(sympy.Integer(1), (t, first, last)),
                            "one term per input position from the first tap to the last"),
                           (effective_kernel(K, d), "count the terms: the engine's effective "
                                                    "kernel size at $k = 3$")])
    rf = receptive_field([Layer("conv", kernel=K, dilation=d)])
    eff = effective_kernel(K, d)
    with sympy.evaluate(False):
        recurrence = sympy.Add(sympy.Integer(1), sympy.Add(eff, sympy.Integer(-1)))
    sheet.text("A single layer sees exactly its window: the receptive-field recurrence starts "
               "from one input position and adds the effective kernel minus 1 (the jump is "
               "1 at the input):")
    sheet.derive("R", [(recurrence, "$R = 1 + (k_eff - 1)*J$ with $J = 1$"),
                       (rf.size, "the engine's receptive field of one layer")])
    for dv in (1, 2, 3, 4):
        sheet.numeric(effective_kernel(K, dv), _tap_span(K, dv), why=f"$k_eff$ at $d = {dv}$",
                      method="span of the tap offsets $0$, $d$, $2*d$, enumerated")
    sheet.answer("effective kernel = single-layer field, per axis", eff)
    sheet.text("Only 9 weights are used whatever $d$ is; the other positions of the window "
               "are skipped (multiplied by the inserted zeros).")


def solve_b(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import conv_cost
    from derive.conv.receptive import receptive_field, receptive_field_steps
    from derive.symbols import sym

    layers = _layers()
    rows = receptive_field_steps(layers)
    sheet.table(["layer", "effective kernel", "field before", "field after", "recurrence"],
                [(r.name, r.kernel, r.before.size, r.after.size,
                  f"${r.before.size} + ({r.kernel} - 1)$") for r in rows],
                caption="The engine's receptive-field recurrence (stride 1 throughout, so the "
                        "jump stays 1 and each layer adds its effective kernel minus 1).")
    stack = receptive_field(layers).size
    with sympy.evaluate(False):
        grown = sympy.Add(sympy.Integer(1),
                          *[sympy.Add(sympy.Integer(r.kernel), sympy.Integer(-1)) for r in rows])
    sheet.derive("R", [(grown, "one position plus each layer's effective kernel minus 1"),
                       (stack, "add up")])
    reach = _reachable(K, RATES)
    sheet.numeric(stack, max(reach) - min(reach) + 1, why="receptive field of the stack",
                  method="span of the offsets $a + 2*b + 4*c$ reachable through the stack, "
                         "$a$, $b$, $c$ each 0, 1 or 2, enumerated")
    sheet.numeric(stack, len(reach), why="receptive field of the stack",
                  method="number of distinct reachable offsets (every offset of the window "
                         "is reached: no gaps)")
    c = sym("C")
    per_layer = [conv_cost(c, c, K, 1, bias=False, convention="mac").params for _ in RATES]
    dilated = sum(per_layer, sympy.Integer(0))
    dense = conv_cost(c, c, stack, 1, bias=False, convention="mac").params
    sheet.derive("parameters of the dilated stack", [
        (sympy.Add(*per_layer, evaluate=False),
         "each 3×3 layer, $C$ to $C$ channels, no bias: the engine's layer cost"),
        (dilated, "add up")])
    sheet.derive("parameters of one 15×15 layer", [
        (sympy.Mul(sympy.Pow(sympy.Integer(stack), 2, evaluate=False), c ** 2, evaluate=False),
         "one weight per tap ($15**2$ taps), input channel and output channel"),
        (dense, "the engine's layer cost, no bias")])
    sheet.claim(sympy.Mul(dilated, sympy.Pow(dense, -1, evaluate=False), evaluate=False),
                sympy.Rational(3, 25), why="the stack needs $3/25$ of the weights")
    cv = 16

    def torch_stack(torch):
        nn = torch.nn
        with torch.device("meta"):
            layers_t = nn.Sequential(*[nn.Conv2d(cv, cv, K, dilation=r, padding=r, bias=False)
                                       for r in RATES])
        return sum(p.numel() for p in layers_t.parameters())

    def torch_dense(torch):
        with torch.device("meta"):
            big = torch.nn.Conv2d(cv, cv, stack, bias=False)
        return sum(p.numel() for p in big.parameters())

    sheet.numeric_if_installed("torch", dilated.subs(c, cv), torch_stack,
                               why=f"parameters of the dilated stack at $C = {cv}$",
                               method="PyTorch's Conv2d modules, dilations 1, 2 and 4")
    sheet.numeric_if_installed("torch", dense.subs(c, cv), torch_dense,
                               why=f"parameters of one 15×15 layer at $C = {cv}$",
                               method="PyTorch's Conv2d module with a 15×15 kernel")
    sheet.answer("receptive field of the stack", f"{stack}×{stack}")
    sheet.answer("parameters of the dilated stack (no bias)", dilated)
    sheet.answer("parameters of one 15×15 layer (no bias)", dense)


def _listing():
    from derive.lab.listings import receptive_field
    return receptive_field


def solve_c(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.layers import Layer
    from derive.conv.receptive import receptive_field

    layers = _layers()
    rf = receptive_field(layers)
    centre = SIDE // 2
    first, last = rf.interval(centre)
    sheet.listing("receptive_field", "A stack of dilated convolutions and its receptive "
                  "field measured by back-propagation (PyTorch).",
                  tests="tests/test_lab_listings.py")
    sheet.text("The stack is one $k$×$k$ convolution per dilation rate $d$, padded by "
               "$d*(k - 1)/2$ so that each layer keeps the size. The measurement replaces "
               "every weight and bias of the model by 1 (the model's own parameters are left "
               "untouched), runs a random positive input through it in float64, "
               "back-propagates from the centre output pixel and returns the height and "
               "width of the box of input pixels whose gradient is not zero: with positive "
               "weights and inputs every path adds a positive amount, so no pixel of the "
               "field can lose its gradient by cancellation. Its result for the stack of "
               "this exercise, and for the same dilations with 5×5 kernels, against the "
               "engine's receptive field:")
    listing_sizes = [(K, rf.size)]
    wide = receptive_field([Layer("conv", kernel=5, dilation=d, padding=2 * d)
                            for d in RATES]).size
    listing_sizes.append((5, wide))
    for k, size in listing_sizes:
        sheet.numeric_if_installed(
            "torch", (size, size),
            lambda torch, k=k, size=size: _listing().empirical_receptive_field(
                _listing().dilated_stack(RATES, kernel_size=k), size=size + 10),
            why=f"receptive field, height and width, of {k}×{k} layers with dilations 1, 2 "
                f"and 4",
            method=f"the listing's measurement on its dilated stack, a {size + 10}×"
                   f"{size + 10} input")
    sheet.text(f"The engine's own experiment, in NumPy and with weights other than "
               f"ones: a {SIDE}×{SIDE} single-channel input goes through the three "
               f"dilated 3×3 layers (padding $d$ keeps the size). Each layer has fixed "
               f"weights drawn uniformly from 0.5 to 1.5 (NumPy generator, seed 824, one "
               f"3×3 kernel per layer): all positive, so no accidental cancellation can hide "
               f"a pixel. Back-propagate a unit gradient from output unit ({centre}, "
               f"{centre}) and mark the input pixels with a non-zero gradient.")
    grad = _gradient(centre)
    mask = np.abs(grad) > 0
    r0, r1, c0, c1 = _bbox(mask)
    sheet.numeric((r0, r1, c0, c1), (first, last, first, last),
                  why="first and last row and column of the non-zero input gradient",
                  method="the engine's receptive-field interval around the centre unit")
    sheet.numeric(int(mask.sum()), rf.size ** 2,
                  why="number of pixels with a non-zero gradient",
                  method="the area of the receptive field (every pixel inside it is reached)")
    impulse = _impulse_support(centre)
    sheet.numeric(mask.astype(int), impulse.astype(int),
                  why="the pixels with a non-zero gradient",
                  method="sending a unit impulse at every input pixel forward through the "
                         "stack and marking those that move the centre output")

    def torch_support(torch):
        x = torch.zeros(1, 1, SIDE, SIDE, dtype=torch.float64, requires_grad=True)
        y = x
        for w, d in zip(_weights(), RATES):
            y = torch.nn.functional.conv2d(y, torch.from_numpy(w), padding=d, dilation=d)
        y[0, 0, centre, centre].backward()
        return (x.grad[0, 0].abs() > 0).numpy().astype(int)

    sheet.numeric_if_installed("torch", mask.astype(int), torch_support,
                               why="the pixels with a non-zero gradient",
                               method="PyTorch's autograd through its dilated conv2d")
    sheet.figure(_figure(np.abs(grad), (first, last)))
    sheet.answer("gradient support", f"a {r1 - r0 + 1}×{c1 - c0 + 1} square, rows and "
                                     f"columns {r0} to {r1}")


def _figure(magnitude, interval):
    """Input pixels shaded by the size of their gradient (white: zero), with the field."""
    from derive.book import Figure

    n = magnitude.shape[0]
    top = float(magnitude.max())
    first, last = interval
    cell = 0.22
    tikz = [r"\begin{tikzpicture}[font=\footnotesize]"]
    svg_cell = 12
    size = n * svg_cell + 40
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size + 20}" '
           f'viewBox="0 0 {size} {size + 20}" font-family="sans-serif" font-size="11">',
           f'<rect width="{size}" height="{size + 20}" fill="white"/>']
    for i in range(n):
        for j in range(n):
            level = float(magnitude[i, j]) / top
            on = level > 0
            shade = int(round(15 + 75 * level))
            style = f"fill=blue!{shade},draw=black!30" if on else "draw=black!20"
            x, y = j * cell, (n - 1 - i) * cell
            tikz.append(f"\\draw[{style}] ({x:.2f},{y:.2f}) rectangle "
                        f"({x + cell:.2f},{y + cell:.2f});")
            fill = "#23408f" if on else "white"
            opacity = f"{0.15 + 0.75 * level:.2f}" if on else "1"
            svg.append(f'<rect x="{20 + j * svg_cell}" y="{10 + i * svg_cell}" '
                       f'width="{svg_cell}" height="{svg_cell}" fill="{fill}" '
                       f'fill-opacity="{opacity}" stroke="#cccccc"/>')
    x0, x1 = first * cell, (last + 1) * cell
    y0, y1 = (n - 1 - last) * cell, (n - first) * cell
    tikz.append(f"\\draw[very thick,red!70!black] ({x0:.2f},{y0:.2f}) rectangle "
                f"({x1:.2f},{y1:.2f});")
    tikz.append(f"\\node[below] at ({n * cell / 2:.2f},0) {{input {n}$\\times${n}; receptive "
                f"field rows and columns {first} to {last}}};")
    tikz.append(r"\end{tikzpicture}")
    svg.append(f'<rect x="{20 + first * svg_cell}" y="{10 + first * svg_cell}" '
               f'width="{(last - first + 1) * svg_cell}" height="{(last - first + 1) * svg_cell}"'
               f' fill="none" stroke="#a01010" stroke-width="2"/>')
    svg.append(f'<text x="{size / 2}" y="{size + 12}" text-anchor="middle">input {n}×{n}; '
               f'receptive field rows and columns {first} to {last}</text>')
    svg.append("</svg>")
    return Figure(tikz="\n".join(tikz), svg="\n".join(svg),
                  caption="Input pixels with a non-zero gradient for the centre output unit, "
                          "darker for larger gradients (the number of weighted paths through "
                          "the dilated taps), and the receptive field computed by the engine "
                          "(frame).",
                  name="gradient support")


PROBLEM = Problem(
    id="8.24", set="chapter8", order=24, title="Dilated convolutions",
    source="Chapter 8, exercise 8.24",
    statement=("A dilated convolution spreads its kernel taps $d$ positions apart ($d - 1$ "
               "skipped positions between neighbouring taps), which widens the window "
               "without adding weights."),
    parts=(
        Part("a", "For a 3×3 kernel with dilation $d$, give the effective kernel size and the "
                  "receptive field of one such layer.", solve_a),
        Part("b", "Show that three 3×3 layers with dilations 1, 2 and 4 see as much as one "
                  "15×15 convolution, and compare their parameter counts for $C$ channels.",
             solve_b),
        Part("c", "Implement the dilated stack with PyTorch's convolution layers and check "
                  "the field experimentally: back-propagate from one output unit and look at "
                  "which input pixels receive a gradient.", solve_c, scope=CODE),
    ),
)
