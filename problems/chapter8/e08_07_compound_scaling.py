"""Exercise 8.7: EfficientNet's compound scaling.

(a) The FLOP scaling of depth (linear) against width and resolution (quadratic): the
multiply-adds of the scaled network counted factor by factor, checked against the cost
theorems of :func:`derive.conv.costs.flop_scaling`, and cross-checked by counting
multiply-adds of a tiny network by enumeration.  The part asks "why", so it is marked as an
explanation resting on those checked counts.  (b)-(d) The rule's numbers come from
:mod:`derive.arch.scaling` as exact rationals; floating-point arithmetic cross-checks them.
For phi = 3 the rule is compared with the published EfficientNet-B3 coefficients
(:func:`derive.arch.scaling.compare_published`), and the mismatch is reported as it is.
"""

from derive.book import EXPLANATION, Part, Problem, Sheet, written

PHI = 3
BASELINE = {"layers": 18, "channels": 32, "resolution": 224}
GIVEN = ("1.2", "1.1", "1.15")   # alpha, beta, gamma as the exercise states them (decimals)


def _decimal_rule():
    """alpha, beta, gamma as exact decimals (Python's decimal module, independent of SymPy)."""
    from decimal import Decimal
    return tuple(Decimal(v) for v in GIVEN)


def _dec(value):
    """An exact Decimal as a SymPy Rational."""
    import sympy
    return sympy.Rational(str(value))


def _q(value):
    """A Fraction as a SymPy Rational."""
    import sympy
    return sympy.Rational(value.numerator, value.denominator)


def _enumerated_macs(layers: int, channels: int, size: int, kernel: int = 3) -> int:
    """Brute force: one multiply-add per (layer, output channel, output pixel, input channel,
    kernel tap) of a stack of stride-1 'same' convolutions, counted one by one."""
    import itertools

    per_layer = sum(1 for _ in itertools.product(range(channels), range(size), range(size),
                                                 range(channels), range(kernel),
                                                 range(kernel)))
    return layers * per_layer


def solve_a(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import conv_cost, flop_scaling
    from derive.symbols import syms

    C, k, H, W = syms("C k H W")
    layer = conv_cost(C, C, k, (H, W), bias=False, convention="mac").flops
    sheet.text("Model network: $L$ convolutions with $k$×$k$ kernels, stride 1 and 'same' "
               "padding, $C$ channels in and out, on $H$×$W$ maps. One layer costs one "
               "multiply-add per output value and kernel weight (FLOPs counted as "
               "multiply-adds):")
    sheet.derive("MACs per layer", [
        (written("(H*W*C)*(C*k**2)"), "$H*W$ outputs per channel, $C$ output channels, "
                                      "$C*k**2$ weights each"),
        (layer, "collect (the engine's cost model gives the same)")])
    L, d, w, r = syms("L d w r")
    network = L * layer
    cases = (
        ("depth", d, "Depth $d$ multiplies the number of layers; each layer costs the same, "
                     "so the total is multiplied by $d$:",
         "(d*L)*(H*W*C)*(C*k**2)", "$d*L$ layers, each with $H*W*C$ outputs of $C*k**2$ "
                                   "multiply-adds"),
        ("width", w ** 2, "Width $w$ multiplies both the input and the output channels of "
                          "every layer; the cost has one factor of each, so $w$ enters "
                          "squared:",
         "L*(H*W*(w*C))*((w*C)*k**2)", "$L$ layers, $H*W*(w*C)$ outputs, each of "
                                       "$(w*C)*k**2$ multiply-adds"),
        ("resolution", r ** 2, "Resolution $r$ multiplies both the height and the width of "
                               "every map; the cost has one factor of each, so $r$ enters "
                               "squared:",
         "L*((r*H)*(r*W)*C)*(C*k**2)", "$L$ layers on $(r*H)$×$(r*W)$ maps"),
    )
    for which, factor, words, explicit, why in cases:
        theorem = flop_scaling(which)
        sheet.text(words)
        sheet.derive(f"MACs ({which} scaled)", [
            (written(explicit), why),
            (theorem.lhs, "collect (the engine's cost model gives the same)"),
            (sympy.Mul(factor, network, evaluate=False),
             "the unscaled network's cost $L*C**2*H*W*k**2$ times the factor")])
    base = _enumerated_macs(2, 2, 4)
    for which, counted in (("depth", _enumerated_macs(4, 2, 4)),
                           ("width", _enumerated_macs(2, 4, 4)),
                           ("resolution", _enumerated_macs(2, 2, 8))):
        factor = sympy.cancel(flop_scaling(which).rhs / network)
        sheet.numeric(factor.subs({d: 2, w: 2, r: 2}), sympy.Rational(counted, base),
                      why=f"FLOP factor with the {which} doubled",
                      method=f"multiply-adds counted one by one for a 2-layer, 2-channel "
                             f"network on 4×4 maps and for the same network with {which} "
                             "doubled; their ratio")
    sheet.explain("Depth adds layers that each cost the same, so FLOPs grow linearly in $d$. "
                  "Width and resolution act inside every layer, and each appears twice in a "
                  "convolution's cost: channels on both the input and the output side "
                  "($C_in*C_out$), resolution on both spatial axes ($H*W$). Hence doubling "
                  "the width or the resolution multiplies the FLOPs by 4, doubling the depth "
                  "only by 2; the compound FLOP factor is $d*w**2*r**2$.",
                  rests_on=["8.7(a): the scaled multiply-add counts (depth, width, resolution)",
                            "8.7(a): the enumerated multiply-add counts"])
    compound = flop_scaling("compound")
    sheet.derive("MACs (compound)", [
        (written("(d*L)*((r*H)*(r*W)*(w*C))*((w*C)*k**2)"), "all three scalings at once"),
        (compound.lhs, "collect (the engine's cost model gives the same)"),
        (sympy.Mul(d * w ** 2 * r ** 2, network, evaluate=False),
         "the unscaled network's cost times $d*w**2*r**2$")])
    sheet.answer("FLOP factor", sympy.cancel(compound.rhs / network))


def solve_b(sheet: Sheet) -> None:
    import sympy

    from derive.arch.scaling import constraint_product, rule_coefficients

    alpha, beta, gamma = rule_coefficients()
    product = constraint_product()
    with sympy.evaluate(False):
        plugged = sympy.Mul(_q(alpha), sympy.Pow(_q(beta), 2), sympy.Pow(_q(gamma), 2))
    sheet.derive(written("alpha*beta**2*gamma**2"),
                 [(plugged, f"$alpha$ = {float(alpha)}, $beta$ = {float(beta)}, "
                            f"$gamma$ = {float(gamma)} as exact fractions"),
                  (_q(product), "evaluate exactly")])
    a, b, g = _decimal_rule()
    sheet.numeric(_q(product), _dec(a * b ** 2 * g ** 2), why="$alpha*beta**2*gamma**2$",
                  method="exact decimal arithmetic (Python's decimal module)")
    gap = (2 - product) / 2
    sheet.text(f"The product is {float(product)}, {float(gap):.1%} below 2: the constraint "
               "holds approximately, as intended (FLOPs roughly double per unit of $phi$).")
    sheet.answer("constraint product", sympy.Float(str(float(product))))


def solve_c(sheet: Sheet) -> None:
    import sympy

    from derive.arch.scaling import compare_published, multipliers, scaled_baseline

    from derive.arch.scaling import rule_coefficients

    d, w, r = multipliers(PHI)
    for name, base, exact, letter in zip("dwr", rule_coefficients(), (d, w, r),
                                         ("alpha", "beta", "gamma")):
        with sympy.evaluate(False):
            power = sympy.Pow(_q(base), PHI)
        sheet.derive(name, [(power, f"${letter}**phi$ with $phi == {PHI}$"),
                            (_q(exact), "evaluate")])
    a, b, g = _decimal_rule()
    sheet.numeric([_q(d), _q(w), _q(r)], [_dec(a ** PHI), _dec(b ** PHI), _dec(g ** PHI)],
                  why="the multipliers $d$, $w$, $r$",
                  method="exact decimal powers (Python's decimal module)")
    scaled = scaled_baseline(PHI, BASELINE["layers"], BASELINE["channels"],
                             BASELINE["resolution"])
    rows = []
    for key, mult in (("layers", d), ("channels", w), ("resolution", r)):
        rows.append((key, BASELINE[key], float(mult), float(scaled[key]), round(scaled[key])))
    sheet.table(["quantity", "B0", "multiplier", "rule value", "rounded"], rows,
                caption=f"The rule at $phi == {PHI}$ applied to the exercise's baseline.")
    sheet.numeric([_q(v) for v in scaled.values()],
                  [_dec(BASELINE["layers"] * a ** PHI), _dec(BASELINE["channels"] * b ** PHI),
                   _dec(BASELINE["resolution"] * g ** PHI)],
                  why="layers, channels and resolution by the rule",
                  method="baseline times the exact decimal multipliers")

    row = compare_published((f"b{PHI}",))[0]
    sheet.text("Comparison with the published EfficientNet-B3 (coefficients of the official "
               f"implementation): the published model does not follow the rule at "
               f"$phi == {PHI}$.")
    implied = row.implied_phi()
    sheet.table(["", f"rule, $phi == {PHI}$", "published B3", "difference", "implied $phi$"],
                [("depth", float(row.depth_rule), float(row.depth_published),
                  f"{float(row.depth_error):+.1%}", f"{implied['depth']:.2f}"),
                 ("width", float(row.width_rule), float(row.width_published),
                  f"{float(row.width_error):+.1%}", f"{implied['width']:.2f}"),
                 ("resolution", float(row.resolution_rule), float(row.resolution_published),
                  f"{float(row.resolution_error):+.1%}", f"{implied['resolution']:.2f}")],
                caption="Rule against the published values (EfficientNet's official "
                        "implementation); 'difference' is relative to the rule, 'implied "
                        "$phi$' is the $phi$ at which the rule would give the published "
                        "value.")
    sheet.explain("The released B1 to B7 models were not produced by plugging an integer "
                  "$phi$ into the rule ($alpha$ = 1.2, $beta$ = 1.1, $gamma$ = 1.15): their "
                  "coefficients were set separately (and resolutions rounded to convenient "
                  "sizes). For B3 they correspond to $phi$ of about 1.8 to 2.1 rather than 3, "
                  "so the published B3 is smaller than the rule's network at $phi == 3$. The "
                  "rule's values are the answer to the exercise as posed; the published ones "
                  "are shown for comparison, not forced to agree.",
                  rests_on=["8.7(c): the rule against the published coefficients (table)"])
    sheet.answer("multipliers (d, w, r)", f"({float(d)}, {float(w)}, {float(r)})")
    sheet.answer("B3 by the rule", f"about {round(scaled['layers'])} layers, "
                                   f"{round(scaled['channels'])} base channels, "
                                   f"{round(scaled['resolution'])}×"
                                   f"{round(scaled['resolution'])} input")


def solve_d(sheet: Sheet) -> None:
    import sympy

    from derive.arch.scaling import constraint_product, flop_multiplier, multipliers

    d, w, r = (_q(v) for v in multipliers(PHI))
    value = flop_multiplier(PHI)
    with sympy.evaluate(False):
        compound = sympy.Mul(d, sympy.Pow(w, 2), sympy.Pow(r, 2))
        regrouped = sympy.Pow(_q(constraint_product()), PHI)
    sheet.derive("FLOP multiplier", [
        (compound, f"$d*w**2*r**2$ (part (a)) with the multipliers of $phi == {PHI}$ "
                   "(part (c))"),
        (regrouped, "regroup: $alpha**3*beta**6*gamma**6 == (alpha*beta**2*gamma**2)**3$"),
        (_q(value), "evaluate exactly")])
    a, b, g = _decimal_rule()
    sheet.numeric(_q(value), _dec(a ** PHI * (b ** PHI) ** 2 * (g ** PHI) ** 2),
                  why="FLOP multiplier",
                  method="$d*w**2*r**2$ in exact decimal arithmetic (Python's decimal module)")
    sheet.text(f"About {float(value):.2f}, a little under the nominal $2**phi == {2 ** PHI}$ "
               "that the constraint (the product $alpha*beta**2*gamma**2$ close to 2) aims "
               "at.")
    sheet.answer("FLOP multiplier", sympy.Float(f"{float(value):.3f}"))


PROBLEM = Problem(
    id="8.7", set="chapter8", order=7, title="Compound scaling",
    source="Chapter 8, exercise 8.7",
    statement="EfficientNet scales depth, width and resolution together: $d == alpha**phi$, "
              "$w == beta**phi$, $r == gamma**phi$, with $alpha*beta**2*gamma**2$ close to 2.",
    parts=(
        Part("a", "Why do FLOPs grow linearly with depth but quadratically with width and "
                  "with resolution?", solve_a, scope=EXPLANATION),
        Part("b", "Check that $alpha$ = 1.2, $beta$ = 1.1, $gamma$ = 1.15 (from the B0 "
                  "search) roughly satisfy the constraint.", solve_b),
        Part("c", "For $phi == 3$ give the three multipliers, and the B3 values for a "
                  "baseline of 18 layers, 32 base channels and 224×224 inputs.", solve_c),
        Part("d", "By what factor does $phi == 3$ multiply the FLOPs?", solve_d),
    ),
)
