"""Exercise 8.24: dilated (atrous) convolutions and their receptive fields.

Sizes and fields come from :mod:`derive.conv.shapes` and :mod:`derive.conv.receptive`,
parameter counts from :mod:`derive.conv.costs`.  Independent checks: the span of the tap
offsets enumerated by brute force, the set of input offsets reachable through the stack, and
(part c) the support of the input gradient of one output unit, computed with the derived
backward formulas (:func:`derive.numeric.conv2d_backward`), by pushing unit impulses forward
through the stack, and with PyTorch autograd when it is installed.
"""

from derive.book import Part, Problem, Sheet

K = 3
RATES = (1, 2, 4)
SIDE = 21          # input side for the gradient experiment ('same' padding keeps it)


def _layers():
    from derive.conv.layers import Layer
    return [Layer("conv", kernel=K, dilation=d, padding=d, name=f"3x3, dilation {d}")
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


def _torch():
    try:
        import torch
    except ImportError:  # PyTorch is optional
        return None
    return torch


def solve_a(sheet: Sheet) -> None:
    from derive.conv.layers import Layer
    from derive.conv.receptive import receptive_field
    from derive.conv.shapes import effective_kernel
    from derive.symbols import sym

    d = sym("d")
    sheet.text("With dilation d the taps of a 3x3 kernel sit at offsets 0, d and 2d along "
               "each axis, so the window spans d(k - 1) + 1 positions:")
    eff = effective_kernel(K, d)
    sheet.derive("k_eff", [(eff, "the engine's effective kernel d(k - 1) + 1 at k = 3"),
                           (2 * d + 1, "expand")])
    rf = receptive_field([Layer("conv", kernel=K, dilation=d)])
    sheet.claim(rf.size, 2 * d + 1, why="a single layer sees exactly its effective window")
    for dv in range(1, 6):
        sheet.numeric(effective_kernel(K, dv), _tap_span(K, dv),
                      method=f"span of the tap offsets enumerated for d = {dv}")
    sheet.answer("effective kernel and single-layer field", f"({2 * d + 1}) x ({2 * d + 1})")
    sheet.text("Only 9 weights are used whatever d is; the other positions of the window are "
               "skipped (multiplied by the inserted zeros).")


def solve_b(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import conv_cost
    from derive.conv.receptive import receptive_field, receptive_field_steps
    from derive.symbols import sym

    layers = _layers()
    rows = receptive_field_steps(layers)
    sheet.table(["layer", "effective kernel", "field before", "field after", "recurrence"],
                [(r.name, r.kernel, r.before.size, r.after.size, r.why) for r in rows],
                caption="The engine's receptive-field recurrence (stride 1 throughout, so the "
                        "jump stays 1 and each layer adds its effective kernel minus 1).")
    stack = receptive_field(layers).size
    sheet.numeric(stack, _tap_span(15, 1),
                  method="span of the tap offsets of a single 15 x 15 window, enumerated")
    reach = _reachable(K, RATES)
    sheet.numeric(stack, len(reach),
                  method="enumerating the offsets a + 2b + 4c, a, b, c in {0, 1, 2}: "
                         f"{reach[0]}..{reach[-1]}, no gaps")
    sheet.numeric(reach, list(range(stack)),
                  method="the reachable offsets form one contiguous window")
    c = sym("C")
    dilated = sum((conv_cost(c, c, K, 1, bias=False, convention="mac").params for _ in RATES),
                  sympy.Integer(0))
    dense = conv_cost(c, c, stack, 1, bias=False, convention="mac").params
    sheet.derive("parameters of the dilated stack", [
        (dilated, "three 3x3 layers, C -> C, no bias (engine's conv_cost)"),
        (27 * c ** 2, "3 * 9 C^2")])
    sheet.derive("parameters of one 15 x 15 layer", [
        (dense, "one 15x15 layer, C -> C, no bias (engine's conv_cost)"),
        (225 * c ** 2, "15^2 C^2")])
    sheet.claim(dilated / dense, sympy.Rational(3, 25), why="the stack needs 3/25 of the weights")
    torch = _torch()
    if torch is not None:
        nn, cv = torch.nn, 16
        stack_t = nn.Sequential(*[nn.Conv2d(cv, cv, K, dilation=r, padding=r, bias=False)
                                  for r in RATES])
        big = nn.Conv2d(cv, cv, stack, bias=False)
        sheet.numeric(dilated.subs(c, cv), sum(p.numel() for p in stack_t.parameters()),
                      method=f"torch.nn.Conv2d stack at C = {cv} (PyTorch installed)")
        sheet.numeric(dense.subs(c, cv), sum(p.numel() for p in big.parameters()),
                      method=f"torch.nn.Conv2d 15x15 at C = {cv} (PyTorch installed)")
    sheet.answer("receptive field of the stack", f"{stack} x {stack}")
    sheet.answer("parameters of the dilated stack (no bias)", dilated)
    sheet.answer("parameters of one 15 x 15 layer (no bias)", dense)


def solve_c(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.receptive import receptive_field

    layers = _layers()
    rf = receptive_field(layers)
    centre = SIDE // 2
    first, last = rf.interval(centre)
    sheet.text(f"Experiment: a {SIDE} x {SIDE} single-channel input goes through the three "
               f"dilated 3x3 layers (padding d keeps the size; fixed positive random weights, "
               f"so no accidental cancellation). Back-propagate a unit gradient from output "
               f"unit ({centre}, {centre}) and mark the input pixels with a non-zero gradient.")
    grad = _gradient(centre)
    mask = np.abs(grad) > 0
    r0, r1, c0, c1 = _bbox(mask)
    sheet.numeric((r0, r1, c0, c1), (first, last, first, last),
                  method="rows and columns of the non-zero input gradient (derived backward "
                         "formulas) vs the engine's field interval")
    sheet.numeric(int(mask.sum()), rf.size ** 2,
                  method="every pixel inside the field has a non-zero gradient")
    impulse = _impulse_support(centre)
    sheet.numeric(mask.astype(int), impulse.astype(int),
                  method="support found by sending a unit impulse at every input pixel "
                         "forward through the stack")
    torch = _torch()
    if torch is not None:
        x = torch.zeros(1, 1, SIDE, SIDE, dtype=torch.float64, requires_grad=True)
        y = x
        for w, d in zip(_weights(), (1, 2, 4)):
            y = torch.nn.functional.conv2d(y, torch.from_numpy(w), padding=d, dilation=d)
        y[0, 0, centre, centre].backward()
        support = (x.grad[0, 0].abs() > 0).numpy()
        sheet.numeric(mask.astype(int), support.astype(int),
                      method="support of the input gradient from torch.autograd through "
                             "torch.nn.functional.conv2d with dilation (PyTorch installed)")
    sheet.figure(_figure(np.abs(grad), (first, last)))
    sheet.answer("gradient support", f"{r1 - r0 + 1} x {c1 - c0 + 1} square, rows and columns "
                                     f"{r0}..{r1}")


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
    tikz.append(f"\\node[below] at ({n * cell / 2:.2f},0) {{input {n} x {n}; receptive field "
                f"rows and columns {first}..{last}}};")
    tikz.append(r"\end{tikzpicture}")
    svg.append(f'<rect x="{20 + first * svg_cell}" y="{10 + first * svg_cell}" '
               f'width="{(last - first + 1) * svg_cell}" height="{(last - first + 1) * svg_cell}"'
               f' fill="none" stroke="#a01010" stroke-width="2"/>')
    svg.append(f'<text x="{size / 2}" y="{size + 12}" text-anchor="middle">input {n} x {n}; '
               f'receptive field rows and columns {first}..{last}</text>')
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
    statement=("A dilated convolution spreads its kernel taps d positions apart (d - 1 "
               "skipped positions between neighbouring taps), which widens the window "
               "without adding weights."),
    parts=(
        Part("a", "For a 3x3 kernel with dilation d, give the effective kernel size and the "
                  "receptive field of one such layer.", solve_a),
        Part("b", "Show that three 3x3 layers with dilations 1, 2 and 4 see as much as one "
                  "15x15 convolution, and compare their parameter counts for C channels.",
             solve_b),
        Part("c", "Check the field experimentally: back-propagate from one output unit of the "
                  "dilated stack and look at which input pixels receive a gradient.", solve_c),
    ),
)
