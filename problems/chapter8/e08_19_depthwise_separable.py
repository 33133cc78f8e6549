"""Exercise 8.19: the cost of a depthwise-separable convolution against a standard one.

The ratio identity is the engine's cost theorem (:func:`derive.conv.costs.separable_ratio`),
each line checked; the numbers for C_in = C_out = 512, k = 3 come from the cost functions and
are cross-checked by counting multiply-adds and weight entries with explicit loops (and with
PyTorch's modules where it is installed; the page reads the same either way).  The
wall-clock part gives the FLOP prediction and the memory-traffic numbers that explain the
gap, then the hardware measurement from the stored results of the ``separable-speed``
experiment (no timing runs while the page builds): the times at 512 channels, and a plot and
table of the measured against the predicted speed-up over a sweep of channel counts, whose
predicted ratios and multiply-add counts are cross-checked against the engine's cost
functions and whose worded verdicts are chosen by comparing the stored numbers.
"""

from derive.book import EXPERIMENT, Part, Problem, Sheet

C_IN = C_OUT = 512
K = 3
MAP, BATCH = 32, 64


def _count_macs(c_in: int, c_out: int, k: int, out: int) -> tuple[int, int]:
    """Brute force: run the loops of both layers and count one per multiply-add."""
    standard = 0
    for _pos in range(out * out):
        for _o in range(c_out):
            for _c in range(c_in):
                for _tap in range(k * k):
                    standard += 1
    separable = 0
    for _pos in range(out * out):
        for _c in range(c_in):              # depthwise: one k x k filter per channel
            for _tap in range(k * k):
                separable += 1
        for _o in range(c_out):             # pointwise: 1 x 1 across channels
            for _c in range(c_in):
                separable += 1
    return standard, separable


def _entries(shapes: list[tuple[int, ...]]) -> int:
    """Count the entries of tensors of the given shapes."""
    import numpy as np
    return int(sum(np.zeros(s, dtype=np.int8).size for s in shapes))


def _fraction(num: int, den: int):
    """``num/den`` kept unevaluated, so the rendered line shows both counts."""
    import sympy
    return sympy.Mul(sympy.Integer(num), sympy.Pow(sympy.Integer(den), -1, evaluate=False),
                     evaluate=False)


def _torch_params(torch, separable: bool) -> int:
    """Learnable parameters of the layer built from PyTorch modules."""
    nn = torch.nn
    if separable:
        layer = nn.Sequential(nn.Conv2d(C_IN, C_IN, K, groups=C_IN, bias=False),
                              nn.Conv2d(C_IN, C_OUT, 1, bias=False))
    else:
        layer = nn.Conv2d(C_IN, C_OUT, K, bias=False)
    return sum(p.numel() for p in layer.parameters())


# The justifications of the engine's ratio identity, in the page's notation.
_RATIO_WHY = ("the depthwise plus the pointwise cost over the standard cost",
              "factor $H_out*W_out*C_in$ out of both",
              "cancel the common factor",
              "split the fraction")


def solve_a(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import conv_cost, depthwise_cost, pointwise_cost, separable_ratio
    from derive.symbols import syms

    sheet.text("Count multiply-adds per output position. A standard $k$ × $k$ convolution "
               "computes $C_out$ outputs, each a sum over $C_in$ channels and $k**2$ taps. The "
               "separable version first filters every input channel with its own $k$ × $k$ "
               "kernel ($C_in*k**2$ multiply-adds), then mixes channels with a 1 × 1 "
               "convolution ($C_in*C_out$). Neither layer has a bias here, and both produce an "
               "$H_out$ × $W_out$ map.")
    c_in, c_out, k, h, w = syms("C_in C_out k H_out W_out")
    sheet.table(["layer", "multiply-adds"], [
        ("depthwise $k$ × $k$", depthwise_cost(c_in, k, (h, w), bias=False,
                                              convention="mac").flops),
        ("pointwise 1 × 1", pointwise_cost(c_in, c_out, (h, w), bias=False,
                                           convention="mac").flops),
        ("standard $k$ × $k$", conv_cost(c_in, c_out, k, (h, w), bias=False,
                                         convention="mac").flops),
    ], caption="Costs from the engine's cost functions (convention: multiply-adds).")
    identity = separable_ratio("mac")
    assert len(identity.steps) == len(_RATIO_WHY)
    sheet.derive("separable / standard",
                 [(e, why) for (e, _), why in zip(identity.steps, _RATIO_WHY)])
    sheet.text("Counting one multiply-add as 2 FLOPs multiplies both counts by 2, which "
               "cancels, so the ratio does not depend on the convention:")
    sheet.claim(separable_ratio("flop2").lhs, identity.rhs,
                why="the same ratio with 1 multiply-add = 2 FLOPs")
    # independent: explicit loops at a small size
    small = dict(c_in=3, c_out=5, k=3, out=4)
    std, sep = _count_macs(**small)
    value = identity.rhs.subs({c_out: small["c_out"], k: small["k"]})
    sheet.numeric(value, sympy.Rational(sep, std),
                  why=f"the ratio at $C_in == {small['c_in']}$, $C_out == {small['c_out']}$, "
                      f"$k == {small['k']}$ (the formula above)",
                  method=f"the multiply-adds of both layers counted one by one in explicit "
                         f"loops, on a {small['out']} × {small['out']} output")
    sheet.answer("FLOP ratio", identity.rhs)


def solve_b(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import conv_cost, depthwise_separable_cost, ratio_value, separable_ratio
    from derive.conv.shapes import output_size

    out = output_size(MAP, K, padding=1)
    std = conv_cost(C_IN, C_OUT, K, out, bias=False, convention="mac")
    sep = depthwise_separable_cost(C_IN, C_OUT, K, out, bias=False, convention="mac")
    sheet.text(f"Take a {MAP} × {MAP} map with padding 1, so the output is {out} × {out} "
               f"(the reduction factors do not depend on the map size). No biases.")
    sheet.table(["layer", "parameters", "multiply-adds"], [
        (f"standard {K}×{K}, {C_IN} to {C_OUT} channels", std.params, std.flops),
        (f"depthwise {K}×{K} + pointwise, {C_IN} to {C_OUT} channels", sep.params, sep.flops),
    ], caption="From the cost functions (convention: multiply-adds).")
    ratio = ratio_value(separable_ratio(), C_out=C_OUT, k=K)
    sheet.claim(_fraction(sep.flops, std.flops), ratio,
                why=f"the FLOP ratio equals $C_out**(-1) + k**(-2)$ at $C_out == {C_OUT}$, "
                    f"$k == {K}$")
    sheet.claim(_fraction(sep.params, std.params), ratio,
                why="the parameter ratio is the same: every weight is used once per position")
    std_w = _entries([(C_OUT, C_IN, K, K)])
    sep_w = _entries([(C_IN, 1, K, K), (C_OUT, C_IN, 1, 1)])
    sheet.numeric(sep.params, sep_w, why="separable layer's weights (the cost functions)",
                  method=f"the entries of weight tensors of shapes {C_IN} × 1 × {K} × {K} and "
                         f"{C_OUT} × {C_IN} × 1 × 1, allocated with NumPy")
    sheet.numeric(std.params, std_w, why="standard layer's weights (the cost functions)",
                  method=f"the entries of a weight tensor of shape {C_OUT} × {C_IN} × {K} × "
                         f"{K}, allocated with NumPy")
    sheet.numeric_if_installed("torch", std.params, lambda torch: _torch_params(torch, False),
                               why="standard layer's weights (the cost functions)",
                               method="PyTorch's 2D convolution module, its parameters counted")
    sheet.numeric_if_installed("torch", sep.params, lambda torch: _torch_params(torch, True),
                               why="separable layer's weights (the cost functions)",
                               method="PyTorch's grouped (depthwise) and 1 × 1 convolution "
                                      "modules, their parameters counted")
    factor = 1 / ratio
    sheet.answer("FLOP reduction factor", factor)
    sheet.answer("parameter reduction factor", sympy.Rational(std.params, sep.params))
    sheet.text(f"Both are $Rational({factor.p}, {factor.q})$: the separable layer needs about "
               f"{float(factor):.2f} times fewer FLOPs and parameters.")


def solve_c(sheet: Sheet) -> None:
    from derive.conv.costs import conv_cost, depthwise_cost, pointwise_cost
    from derive.conv.shapes import output_size

    out = output_size(MAP, K)          # nn.Conv2d(512, 512, 3): no padding
    # one image's cost; the FLOPs scale with the batch, the weights do not: one call of the
    # layer on the whole batch reads each weight once
    per_image = {
        "standard": conv_cost(C_IN, C_OUT, K, out, bias=False, convention="flop2"),
        "depthwise": depthwise_cost(C_IN, K, out, bias=False, convention="flop2"),
        "pointwise": pointwise_cost(C_IN, C_OUT, out, bias=False, convention="flop2"),
    }
    std, dw, pw = (per_image[n].scaled(BATCH) for n in ("standard", "depthwise", "pointwise"))
    sep = dw + pw
    sheet.text(f"Prediction from the FLOP count (batch {BATCH}, {MAP} × {MAP} input, no "
               f"padding, so a {out} × {out} output; 1 multiply-add = 2 FLOPs):")
    x_in = BATCH * C_IN * MAP * MAP
    y_out = BATCH * C_OUT * out * out
    mid = BATCH * C_IN * out * out
    rows = [
        ("standard", std.flops, x_in + per_image["standard"].params + y_out),
        ("depthwise", dw.flops, x_in + per_image["depthwise"].params + mid),
        ("pointwise", pw.flops, mid + per_image["pointwise"].params + y_out),
    ]
    sheet.table(["layer", "FLOPs", "values read + written", "FLOPs per value moved"],
                [(n, f, m, f"{f / m:.1f}") for n, f, m in rows],
                caption=f"FLOPs from the cost functions. Memory traffic counts, once each, "
                        f"the input and output activations of all {BATCH} images and the "
                        f"layer's weights, which the whole batch shares: they are read once, "
                        f"not once per image.")
    shapes = {"standard": [(BATCH, C_IN, MAP, MAP), (C_OUT, C_IN, K, K),
                           (BATCH, C_OUT, out, out)],
              "depthwise": [(BATCH, C_IN, MAP, MAP), (C_IN, 1, K, K), (BATCH, C_IN, out, out)],
              "pointwise": [(BATCH, C_IN, out, out), (C_OUT, C_IN, 1, 1),
                            (BATCH, C_OUT, out, out)]}
    sheet.numeric([m for _, _, m in rows], [_entries(shapes[n]) for n, _, _ in rows],
                  why="values read and written by the standard, depthwise and pointwise "
                      "layers (the table)",
                  method="the entries of the input, weight and output tensors of each layer, "
                         "allocated with NumPy: "
                         + "; ".join(f"{n} " + ", ".join(" × ".join(map(str, s))
                                                          for s in shapes[n])
                                     for n, _, _ in rows))
    sheet.answer("predicted speed-up from FLOPs", f"about {std.flops / sep.flops:.2f} times")
    sheet.explain(
        f"The FLOP count predicts a speed-up of about {std.flops / sep.flops:.1f} times, but "
        f"measured speed-ups are usually much smaller. The depthwise layer does only "
        f"{rows[1][1] / rows[1][2]:.1f} FLOPs per value it reads or writes, against "
        f"{rows[0][1] / rows[0][2]:.0f} for the standard convolution, so it is limited by "
        f"memory bandwidth, not arithmetic; the separable block also writes and re-reads an "
        f"intermediate tensor of {mid:,} values. Per-channel filters map poorly onto the large "
        f"matrix multiplications that convolution libraries are tuned for, and two kernel "
        f"launches replace one, which matters for small layers.",
        rests_on=["the FLOP and memory-traffic counts in the table above"])
    _measurement(sheet, std.flops / sep.flops)


def _measurement(sheet: Sheet, predicted: float) -> None:
    record = sheet.measured("separable-speed", "Wall-clock time of one forward pass of the "
                                               "standard layer and of the separable pair, "
                                               "median of repeated runs, at the exercise's "
                                               f"{C_IN} channels and at fewer.")
    r = record["results"]
    n, c, h, w = r["input_shape"]
    timings = r["sweep"]["timings"][r["sweep"]["channels"].index(c)]
    sheet.text(f"The measurement (PyTorch on the CPU, {r['threads']} threads, a batch of {n} "
               f"maps of {c} channels, {h} × {w}, padding 1 so the output is {h} × {w} as "
               "well; the ratio of multiply-adds per output position is the same as without "
               "padding):")
    rows = [(name, f"{r['seconds'][name] * 1000:.0f} ms", f"{r['gmacs_per_second'][name]:.2f}")
            for name in ("standard", "depthwise", "pointwise", "separable")]
    sheet.table(["layer", "median time", "billion multiply-adds per second"], rows,
                caption=f"Measured on the machine named above, {timings} runs each; "
                        "times depend on the machine and its load.")
    speed = r["gmacs_per_second"]
    faster = speed["standard"] / speed["depthwise"]
    if faster > 1:
        verdict = (f"per multiply-add the standard layer is {faster:.0f} times as fast, as the "
                   "memory-traffic count above leads one to expect")
    else:
        verdict = ("per multiply-add the depthwise layer is not slower here, contrary to what "
                   "the memory-traffic count above suggests")
    sheet.text(f"Measured speed-up: {r['measured_speedup']:.2f} times, against "
               f"{predicted:.2f} predicted from the FLOPs, "
               f"{_against(r['measured_speedup'] / predicted)}. The depthwise layer runs at "
               f"{speed['depthwise']:.2f} billion multiply-adds per second, the standard layer "
               f"at {speed['standard']:.1f}: {verdict}.")
    _sweep(sheet, record)


def _against(fraction: float) -> str:
    """How a measured speed-up compares with the predicted one, ``fraction`` of it."""
    if fraction < 0.5:
        return f"less than half of the prediction ({fraction:.0%} of it)"
    if fraction < 0.9:
        return f"short of the prediction ({fraction:.0%} of it)"
    if fraction <= 1.1:
        return f"close to the prediction ({fraction:.0%} of it)"
    return f"above the prediction ({fraction:.0%} of it)"


def _how_many(count: int, total: int, what: str) -> str:
    """``what`` qualified by how many of ``total`` cases it holds for."""
    if count == total:
        return f"{what} at every channel count"
    if count == 0:
        return f"never {what}"
    return f"{what} at {count} of the {total} channel counts"


def _spread(times: list[float]) -> float:
    """Interquartile range of repeated timings over their median."""
    import statistics
    q1, _, q3 = statistics.quantiles(times, n=4)
    return (q3 - q1) / statistics.median(times)


def _sweep(sheet: Sheet, record: dict) -> None:
    """The predicted and the measured speed-up against the channel count."""
    import sympy

    from derive.conv.costs import conv_cost, depthwise_separable_cost
    from derive.lab.plots import line_plot

    r, s = record["results"], record["results"]["sweep"]
    chans, k = s["channels"], int(record["config"]["kernel"])
    b, _, size, _ = r["input_shape"]
    measured, predicted = s["measured_speedup"], s["predicted_speedup"]
    sec = s["seconds"]
    sheet.text(f"The same run timed both layers at {', '.join(map(str, chans[:-1]))} and "
               f"{chans[-1]} channels (as many output as input channels; batch {b}, {size} × "
               f"{size} maps, padding 1), each round timing every layer at every channel count "
               "in turn, so that the machine's load falls on all of them alike.")
    sheet.figure(line_plot(
        "separable-speedup",
        [("predicted (FLOPs)", chans, predicted), ("measured (medians)", chans, measured)],
        xlabel="channels (input = output)", ylabel="speed-up of the separable layer",
        caption=f"Speed-up of the depthwise-separable layer over the standard {k}×{k} "
                f"convolution against the channel count: predicted from the multiply-adds "
                f"and measured (batch {b}; stored results of the separable-speed experiment)."))
    mac_share = [dw / sep for dw, sep in zip(s["macs"]["depthwise"], s["macs"]["separable"])]
    time_share = [dw / (dw + pw) for dw, pw in zip(sec["depthwise"], sec["pointwise"])]
    sheet.table(["channels", "standard", "separable", "measured speed-up",
                 "predicted speed-up", "depthwise share of multiply-adds",
                 "depthwise share of time"],
                [(ch, f"{sec['standard'][i] * 1000:.2f} ms",
                  f"{sec['separable'][i] * 1000:.2f} ms", f"{measured[i]:.2f}",
                  f"{predicted[i]:.2f}", f"{mac_share[i]:.1%}", f"{time_share[i]:.0%}")
                 for i, ch in enumerate(chans)],
                caption=f"Median times per forward pass ({', '.join(map(str, s['timings']))} "
                        f"timed passes per layer). The depthwise share of time is that of the "
                        f"depthwise half in the two halves timed on their own.")

    def exact(c: int) -> tuple[int, int]:
        return (conv_cost(c, c, k, size, bias=False, convention="mac").scaled(b).flops,
                depthwise_separable_cost(c, c, k, size, convention="mac").scaled(b).flops)

    counts = [exact(ch) for ch in chans]
    sheet.numeric([sympy.Rational(sep, std) for std, sep in counts],
                  [sympy.Rational(f) for f in s["predicted_flop_ratio_fraction"]],
                  why="multiply-adds of the separable layer over those of the standard one at "
                      "each channel count (the engine's cost functions; the plot's prediction "
                      "is the inverse)",
                  method="the experiment's own count from the layer sizes, $1/C_out + 1/k**2$ "
                         "as an exact fraction, stored with its results")
    sheet.numeric([n for pair in counts for n in pair],
                  [s["macs"][name][i] for i in range(len(chans))
                   for name in ("standard", "separable")],
                  why=f"multiply-adds of the standard and of the separable layer on a batch of "
                      f"{b} at each channel count (the engine's cost functions)",
                  method="the experiment's count per output position times the output "
                         "positions, stored with its results")

    n_pts = len(chans)
    lo, hi = min(range(n_pts), key=measured.__getitem__), max(range(n_pts),
                                                               key=measured.__getitem__)
    frac = [m / p for m, p in zip(measured, predicted)]
    below = sum(m < p for m, p in zip(measured, predicted))
    ups = sum(b2 > b1 for b1, b2 in zip(measured, measured[1:]))
    if ups == n_pts - 1:
        trend = "it rises at every step to more channels"
    elif ups == 0:
        trend = "it falls at every step to more channels"
    else:
        trend = (f"it rises at {ups} of the {n_pts - 1} steps to more channels and falls at "
                 "the others, so it does not follow the channel count steadily")
    rises = "rises" if predicted[-1] > predicted[0] else "falls"
    sheet.text(f"The predicted speed-up {rises} from {predicted[0]:.2f} at {chans[0]} channels "
               f"to {predicted[-1]:.2f} at {chans[-1]}: as $C_out$ grows, $C_out**(-1)$ "
               f"vanishes and the speed-up approaches $k**2 = {k * k}$. The measured speed-up "
               f"is {_how_many(below, n_pts, 'below the prediction')}. It ranges from "
               f"{measured[lo]:.2f} (at {chans[lo]} channels, {frac[lo]:.0%} of the "
               f"prediction) to {measured[hi]:.2f} (at {chans[hi]} channels, {frac[hi]:.0%}), "
               f"and {trend}.")
    more = sum(t > m for t, m in zip(time_share, mac_share))
    sheet.text(f"Timed on its own, the depthwise half takes {time_share[0]:.0%} of the two "
               f"halves' time at {chans[0]} channels and {time_share[-1]:.0%} at "
               f"{chans[-1]}, while it does {mac_share[0]:.1%} and {mac_share[-1]:.1%} of "
               f"their multiply-adds: "
               f"{_how_many(more, n_pts, 'more than its share of the work')}. "
               f"The standard layer reaches {s['gmacs_per_second']['standard'][-1]:.1f} billion "
               f"multiply-adds per second at {chans[-1]} channels against "
               f"{s['gmacs_per_second']['standard'][0]:.1f} at {chans[0]}, so "
               + ("the library uses the processor better for the larger standard layer."
                  if s['gmacs_per_second']['standard'][-1] > s['gmacs_per_second']['standard'][0]
                  else "the larger standard layer did not use the processor better in this run."))
    worst = max(((_spread(s["seconds_each"][name][i]), name, chans[i])
                 for name in ("standard", "separable") for i in range(n_pts)))
    sheet.text(f"These are times of one run on a machine that may be shared: the middle half "
               f"of a layer's timings spans up to {worst[0]:.0%} of their median (the {worst[1]} "
               f"layer at {worst[2]} channels), so small wiggles of the measured curve are not "
               f"a trend. The sweep ran at batch {b}; at the exercise's batch of {BATCH} every "
               f"call does {BATCH / b:g} times the work and the measured speed-ups can differ, "
               "while the predicted ones are the same at every batch size. The channel counts "
               f"below {r['input_shape'][1]} go beyond the exercise as posed.")


PROBLEM = Problem(
    id="8.19", set="chapter8", order=19, title="Depthwise-separable convolution costs",
    source="Chapter 8, exercise 8.19",
    statement=("A depthwise-separable convolution replaces a standard $k$ × $k$ convolution "
               "from $C_in$ to $C_out$ channels by a per-channel $k$ × $k$ convolution followed "
               "by a 1 × 1 convolution. Compare their costs."),
    parts=(
        Part("a", "Prove that the separable layer needs $C_out**(-1) + k**(-2)$ times the FLOPs "
                  "of the standard layer at the same output size.", solve_a),
        Part("b", "For $C_in == 512$, $C_out == 512$ and $k == 3$, compute how many times "
                  "fewer FLOPs and parameters the separable layer needs.", solve_b),
        Part("c", "Time a standard 3×3 convolution from 512 to 512 channels against the "
                  "separable one on a batch of 64 maps of 32 × 32. Does the speed-up match the "
                  "FLOP ratio? If not, why?", solve_c, scope=EXPERIMENT),
    ),
)
