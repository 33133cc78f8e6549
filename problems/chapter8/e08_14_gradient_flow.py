"""Exercise 8.14: measured gradient flow in deep plain and residual networks.

The measurement runs as posed: stacks of 20 and 50 layers of 3 x 3 convolution, batch norm
and ReLU on 64 x 32 x 32 maps, with and without skip connections, batch norm in training
mode (batch statistics) and in eval mode (running statistics, at initialisation mean 0 and
variance 1).  The code is :mod:`derive.lab.listings.gradient_norms`, printed whole; the
numbers come from the stored results of the ``gradient-flow`` experiment
(:mod:`derive.lab.experiments.gradient_flow`, five initialisations, seeded), so building the
book runs no network.  Every part is an experiment: measured, never proved.
"""

from __future__ import annotations

import statistics

from derive.book import EXPERIMENT, Part, Problem, Sheet

NAME = "gradient-flow"
MODES = (("train", "training mode"), ("eval", "eval mode"))


def _record():
    from derive.lab.runner import load
    return load(NAME)


def _run(depth: int, kind: str, mode: str) -> dict:
    return _record()["results"][f"depth_{depth}"][kind][mode]


def _ratio(depth: int, kind: str, mode: str) -> float:
    """Median over the initialisations of |dL/dh_0| / |dL/dh_L|."""
    return 10 ** statistics.median(_run(depth, kind, mode)["log10_input_over_output"])


def _sci(value: float) -> str:
    """A number for prose: plain when moderate, else as inline maths ``$2.5*10**(-8)$``."""
    if 1e-2 <= value < 1e3:
        return f"{value:.3g}"
    if 1e3 <= value < 1e6:
        return f"{value:,.0f}"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"${mantissa}*10**({int(exponent)})$"


def _measured(sheet: Sheet, what: str) -> dict:
    return sheet.measured(NAME, what)


def _table(sheet: Sheet, depth: int, kinds: tuple[str, ...]) -> None:
    cols = [(k, m) for k in kinds for m, _ in MODES]
    layers = sorted({0, 1, depth // 4, depth // 2, 3 * depth // 4, depth - 1, depth})
    rows = []
    for l in layers:
        row = [l]
        for k, m in cols:
            logs = _run(depth, k, m)["log10_norms"]
            row.append(_sci(10 ** (logs[l] - logs[depth])))
        rows.append(row)
    heads = ["layer $l$"] + [f"{k}, {dict(MODES)[m]}" for k, m in cols]
    sheet.table(heads, rows, caption=f"The norm of the loss gradient at $h_l$ over its norm "
                                     f"at the output $h_{depth}$, {depth} layers, first "
                                     "initialisation ($l = 0$ is the input).")


def _plot(depth: int):
    from derive.lab.plots import line_plot

    series = []
    for kind in ("plain", "residual"):
        for mode, words in MODES:
            logs = _run(depth, kind, mode)["log10_norms"]
            series.append((f"{kind}, BN {words}", list(range(depth + 1)),
                           [10 ** (v - logs[depth]) for v in logs]))
    return line_plot(f"gradient-norms-{depth}", series, xlabel="layer l (0 = input)",
                     ylabel="gradient norm / norm at the output", log_y=True,
                     caption=f"Measured gradient norm per layer, {depth} layers of 3×3 "
                             "convolution, batch norm and ReLU (64 channels, 32×32 maps), "
                             "relative to the output layer, on a log scale; first "
                             "initialisation.")


def solve_a(sheet: Sheet) -> None:
    sheet.listing("gradient_norms", "the stacks and the measurement (PyTorch).",
                  tests="tests/test_lab_experiments.py")
    _measured(sheet, "The norm of the gradient of the loss at every $h_l$ of a plain "
                     "20-layer stack, batch norm in training and in eval mode, five "
                     "initialisations.")
    _table(sheet, 20, ("plain",))
    up, down = _ratio(20, "plain", "train"), _ratio(20, "plain", "eval")
    sheet.text(f"In training mode the plain stack's gradient grows towards the input: the "
               f"input gradient is {_sci(up)} times the output gradient (median of five "
               f"initialisations). In eval mode it vanishes: {_sci(down)} times.")
    sheet.explain("Batch statistics rescale every layer's input to unit variance, and the "
                  "gradient through that normalisation is divided by the same standard "
                  "deviation, which is below 1 for a convolution of a ReLU output at this "
                  "initialisation; running statistics at initialisation (mean 0, variance 1) "
                  "do not rescale, and each layer then shrinks the signal and its gradient.",
                  rests_on=("the measured norms above",))


def solve_b(sheet: Sheet) -> None:
    _measured(sheet, "The same norms for the residual stack, where every layer adds its "
                     "convolution, batch norm and ReLU branch to its own input.")
    _table(sheet, 20, ("residual",))
    sheet.text(f"With skip connections the input gradient is {_sci(_ratio(20, 'residual', 'train'))}"
               f" (training mode) and {_sci(_ratio(20, 'residual', 'eval'))} (eval mode) times "
               "the output gradient: the identity path carries the gradient unchanged, and "
               "each branch only adds to it (exercise 8.13).")


def solve_c(sheet: Sheet) -> None:
    _measured(sheet, "The four curves of parts (a) and (b) side by side.")
    sheet.figure(_plot(20))
    shrinking = _run(20, "plain", "train")["layers_shrinking_towards_input"]
    sheet.text("The exercise expects the plain network's norms to fall steadily. They do so "
               "only with batch norm in eval mode; in training mode the norm falls towards "
               f"the input at {shrinking} of the 20 layers and grows at the others. The "
               "residual stack stays within a small factor of the output gradient in both "
               "modes.")


def solve_d(sheet: Sheet) -> None:
    record = _measured(sheet, "The same norms for 50 layers, and the first layer (counted "
                              "from the output) where the plain gradient falls below "
                              "float32's machine epsilon relative to the output gradient.")
    sheet.figure(_plot(50))
    _table(sheet, 50, ("plain", "residual"))
    plain_eval = _run(50, "plain", "eval")
    below = [v for v in plain_eval["layers_below_eps"] if v is not None]
    zero = [v for v in plain_eval["layers_to_exact_zero"] if v is not None]
    eps = record["results"]["float32_eps"]
    sheet.text(f"With batch norm in eval mode the plain gradient shrinks by a factor of about "
               f"{_sci(10 ** statistics.median(plain_eval['log10_change_per_layer']))} per "
               f"layer and falls below float32's machine epsilon ({_sci(eps)}) relative to the "
               f"output gradient after {min(below)} to {max(below)} layers (five "
               "initialisations): from there on it is lost when added to anything of the "
               "output gradient's size. It never becomes exactly zero within 50 layers "
               + ("" if not zero else f"(exactly zero after {min(zero)} layers) ")
               + f"(input over output: {_sci(_ratio(50, 'plain', 'eval'))}). In training mode "
               f"the plain gradient instead grows, to {_sci(_ratio(50, 'plain', 'train'))} "
               "times the output gradient.")
    sheet.answer("plain stack, BN in eval mode, below float32 epsilon after",
                 statistics.median(below), unit="layers")


PROBLEM = Problem(
    id="8.14", set="chapter8", order=14, title="Measuring gradient flow",
    source="Chapter 8, exercise 8.14",
    statement="Measure how the gradient norm changes from layer to layer in deep networks "
              "with and without skip connections.",
    parts=(
        Part("a", "Plain network: 20 layers of 3×3 convolution with batch norm; pass a random "
                  "input and record the norm of the loss gradient at every layer $h_l$.",
             solve_a, scope=EXPERIMENT),
        Part("b", "The same layers with skip connections (a residual network): the same "
                  "gradient norms.", solve_b, scope=EXPERIMENT),
        Part("c", "Plot both; the plain network's norms should fall steadily while the "
                  "residual network's stay level.", solve_c, scope=EXPERIMENT),
        Part("d", "Repeat with 50 layers: from what depth is the plain network's gradient "
                  "numerically zero?", solve_d, scope=EXPERIMENT),
    ),
)
