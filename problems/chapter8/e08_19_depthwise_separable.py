"""Exercise 8.19: the cost of a depthwise-separable convolution against a standard one.

The ratio identity is the engine's cost theorem (:func:`derive.conv.costs.separable_ratio`),
each line checked; the numbers for C_in = C_out = 512, k = 3 come from the cost functions and
are cross-checked by counting multiply-adds and weight entries with explicit loops (and with
PyTorch's modules when it is installed).  The wall-clock part is a hardware measurement: the
book gives the FLOP prediction and the memory-traffic numbers that explain the gap.
"""

from derive.book import Part, Problem, Sheet

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


def _weight_entries(shapes: list[tuple[int, ...]]) -> int:
    """Count the entries of weight tensors of the given shapes."""
    import numpy as np
    return int(sum(np.zeros(s, dtype=np.int8).size for s in shapes))


def _fraction(num: int, den: int):
    """``num/den`` kept unevaluated, so the rendered line shows both counts."""
    import sympy
    return sympy.Mul(sympy.Integer(num), sympy.Pow(sympy.Integer(den), -1, evaluate=False),
                     evaluate=False)


def _torch():
    try:
        import torch
    except ImportError:  # PyTorch is optional
        return None
    return torch


def solve_a(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import conv_cost, depthwise_cost, pointwise_cost, separable_ratio
    from derive.symbols import syms

    sheet.text("Count multiply-adds per output position. A standard k x k convolution computes "
               "C_out outputs, each a sum over C_in channels and k^2 taps. The separable version "
               "first filters every input channel with its own k x k kernel (C_in k^2 "
               "multiply-adds), then mixes channels with a 1 x 1 convolution (C_in C_out). "
               "Neither layer has a bias here, and both produce an H_out x W_out map.")
    c_in, c_out, k, h, w = syms("C_in C_out k H_out W_out")
    sheet.table(["layer", "multiply-adds"], [
        ("depthwise k x k", depthwise_cost(c_in, k, (h, w), bias=False, convention="mac").flops),
        ("pointwise 1 x 1", pointwise_cost(c_in, c_out, (h, w), bias=False,
                                           convention="mac").flops),
        ("standard k x k", conv_cost(c_in, c_out, k, (h, w), bias=False,
                                     convention="mac").flops),
    ], caption="Costs from the engine's cost functions (convention: multiply-adds).")
    identity = separable_ratio("mac")
    sheet.derive("separable / standard", list(identity.steps))
    sheet.text("Counting one multiply-add as 2 FLOPs multiplies both counts by 2, which "
               "cancels, so the ratio does not depend on the convention:")
    sheet.claim(separable_ratio("flop2").lhs, identity.rhs,
                why="the same ratio with 1 multiply-add = 2 FLOPs")
    # independent: explicit loops at a small size
    small = dict(c_in=3, c_out=5, k=3, out=4)
    std, sep = _count_macs(**small)
    value = identity.rhs.subs({c_out: small["c_out"], k: small["k"]})
    sheet.numeric(value, sympy.Rational(sep, std),
                  method=f"counting multiply-adds in explicit loops for C_in = {small['c_in']}, "
                         f"C_out = {small['c_out']}, k = {small['k']}, a "
                         f"{small['out']} x {small['out']} output")
    sheet.answer("FLOP ratio", identity.rhs)


def solve_b(sheet: Sheet) -> None:
    from derive.conv.costs import conv_cost, depthwise_separable_cost, ratio_value, separable_ratio
    from derive.conv.shapes import output_size

    out = output_size(MAP, K, padding=1)
    std = conv_cost(C_IN, C_OUT, K, out, bias=False, convention="mac")
    sep = depthwise_separable_cost(C_IN, C_OUT, K, out, bias=False, convention="mac")
    sheet.text(f"Take a {MAP} x {MAP} map with padding 1, so the output is {out} x {out} "
               f"(the reduction factors do not depend on the map size). No biases.")
    sheet.table(["layer", "parameters", "multiply-adds"], [
        (f"standard {K}x{K}, {C_IN} -> {C_OUT}", std.params, std.flops),
        (f"depthwise {K}x{K} + pointwise, {C_IN} -> {C_OUT}", sep.params, sep.flops),
    ], caption="From the cost functions (convention: multiply-adds).")
    ratio = ratio_value(separable_ratio(), C_out=C_OUT, k=K)
    sheet.claim(_fraction(sep.flops, std.flops), ratio,
                why="the FLOP ratio equals 1/C_out + 1/k^2 at C_out = 512, k = 3")
    sheet.claim(_fraction(sep.params, std.params), ratio,
                why="the parameter ratio is the same: every weight is used once per position")
    std_w = _weight_entries([(C_OUT, C_IN, K, K)])
    sep_w = _weight_entries([(C_IN, 1, K, K), (C_OUT, C_IN, 1, 1)])
    sheet.numeric(sep.params, sep_w,
                  method="entries of the weight tensors (512, 1, 3, 3) and (512, 512, 1, 1)")
    sheet.numeric(std.params, std_w, method="entries of the weight tensor (512, 512, 3, 3)")
    torch = _torch()
    if torch is not None:
        nn = torch.nn
        standard = nn.Conv2d(C_IN, C_OUT, K, bias=False)
        separable = nn.Sequential(nn.Conv2d(C_IN, C_IN, K, groups=C_IN, bias=False),
                                  nn.Conv2d(C_IN, C_OUT, 1, bias=False))
        sheet.numeric(std.params, sum(p.numel() for p in standard.parameters()),
                      method="torch.nn.Conv2d parameter count (PyTorch installed)")
        sheet.numeric(sep.params, sum(p.numel() for p in separable.parameters()),
                      method="depthwise + pointwise torch.nn.Conv2d parameter count "
                             "(PyTorch installed)")
    factor = 1 / ratio
    sheet.answer("FLOP reduction factor", f"{factor} = {float(factor):.2f}x")
    sheet.answer("parameter reduction factor", f"{std.params}/{sep.params} = "
                                               f"{float(factor):.2f}x")


def solve_c(sheet: Sheet) -> None:
    from derive.conv.costs import conv_cost, depthwise_cost, pointwise_cost
    from derive.conv.shapes import output_size

    out = output_size(MAP, K)          # nn.Conv2d(512, 512, 3): no padding
    std = conv_cost(C_IN, C_OUT, K, out, bias=False, convention="flop2").scaled(BATCH)
    dw = depthwise_cost(C_IN, K, out, bias=False, convention="flop2").scaled(BATCH)
    pw = pointwise_cost(C_IN, C_OUT, out, bias=False, convention="flop2").scaled(BATCH)
    sep = dw + pw
    sheet.text(f"Prediction from the FLOP count (batch {BATCH}, {MAP} x {MAP} input, no "
               f"padding, so a {out} x {out} output; 1 multiply-add = 2 FLOPs):")
    x_in = BATCH * C_IN * MAP * MAP
    y_out = BATCH * C_OUT * out * out
    mid = BATCH * C_IN * out * out
    rows = [
        ("standard", std.flops, x_in + std.params + y_out),
        ("depthwise", dw.flops, x_in + dw.params + mid),
        ("pointwise", pw.flops, mid + pw.params + y_out),
    ]
    sheet.table(["layer", "FLOPs", "values read + written", "FLOPs per value moved"],
                [(n, f, m, f"{f / m:.1f}") for n, f, m in rows],
                caption="FLOPs from the cost functions; memory traffic counts the input, the "
                        "weights and the output of each layer once.")
    sheet.answer("predicted speed-up from FLOPs", f"{std.flops / sep.flops:.2f}x")
    sheet.explain(
        f"The FLOP count predicts a speed-up of about {std.flops / sep.flops:.1f}x, but "
        f"measured speed-ups are usually much smaller. The depthwise layer does only "
        f"{rows[1][1] / rows[1][2]:.1f} FLOPs per value it reads or writes, against "
        f"{rows[0][1] / rows[0][2]:.0f} for the standard convolution, so it is limited by "
        f"memory bandwidth, not arithmetic; the separable block also writes and re-reads an "
        f"intermediate tensor of {mid:,} values. Per-channel filters map poorly onto the large "
        f"matrix multiplications that convolution libraries are tuned for, and two kernel "
        f"launches replace one, which matters for small layers.",
        rests_on=["derive.conv.costs.depthwise_cost", "derive.conv.costs.pointwise_cost",
                  "derive.conv.costs.conv_cost"])


PROBLEM = Problem(
    id="8.19", set="chapter8", order=19, title="Depthwise-separable convolution costs",
    source="Chapter 8, exercise 8.19",
    statement=("A depthwise-separable convolution replaces a standard k x k convolution from "
               "C_in to C_out channels by a per-channel k x k convolution followed by a 1 x 1 "
               "convolution. Compare their costs."),
    parts=(
        Part("a", "Prove that the separable layer needs 1/C_out + 1/k^2 times the FLOPs of the "
                  "standard layer at the same output size.", solve_a),
        Part("b", "For C_in = C_out = 512 and k = 3, compute how many times fewer FLOPs and "
                  "parameters the separable layer needs.", solve_b),
        Part("c", "Time a standard 512 -> 512 3x3 convolution against the separable one on a "
                  "batch of 64 maps of 32 x 32. Does the speed-up match the FLOP ratio? If not, "
                  "why?", solve_c, scope="out-of-scope",
             reason="a wall-clock benchmark measures a particular machine and library, not a "
                    "property the book can check; the FLOP prediction and the memory-traffic "
                    "counts that explain the gap are given instead"),
    ),
)
