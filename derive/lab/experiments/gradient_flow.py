"""Exercise 8.14: gradient norms layer by layer in plain and residual stacks of 3x3
convolution + batch norm + ReLU layers, 20 and 50 layers deep, with batch norm in training
mode (batch statistics) and in eval mode (running statistics, at initialisation mean 0 and
variance 1).

The measurement is the listing :mod:`derive.lab.listings.gradient_norms`: a random input of
shape (1, 64, 32, 32), the loss ``sum(u * h_L)`` for a random tensor ``u``, and the norms of
``dL/dh_l`` for l = 0 (input) to L (output).  For each repeat the plain and the residual stack
are built from the same seed, so they share every weight, and all eight combinations get the
same input and ``u``.  The batch size is the exercise's, 1: training-mode batch norm then
takes each channel's statistics over the 32 x 32 = 1,024 positions of the one image, which is
well defined.

Norms are stored as base-10 logarithms (keys ``log10_...``), compared with an absolute
tolerance, i.e. a relative one on the norms.  Part (d)'s "numerically zero" is measured two
ways: the first depth below the output at which ``||dL/dh_l||`` falls below float32's machine
epsilon times ``||dL/dh_L||`` (from there on the gradient is lost when added to anything of
the output gradient's size), and whether any norm is exactly 0.  The float32 runs are repeated
in float64 with the same weights and inputs, to show that the float32 norms are not rounding
artefacts.
"""

from __future__ import annotations

import math
from typing import Any

NAME = "gradient-flow"
EXERCISES = ("8.14(a)", "8.14(b)", "8.14(c)", "8.14(d)")
TITLE = ("Gradient norms per layer in plain and residual conv + batch-norm stacks of 20 and "
         "50 layers, batch norm in training and in eval mode")
QUICK: dict[str, Any] = {"seed": 814, "channels": 64, "size": 32, "batch": 1,
                         "depths": [20, 50], "repeats": 5, "float64": True}
FULL: dict[str, Any] = dict(QUICK)
SCALING = ("Runs as posed: 64 channels, 32 × 32 maps, one image per batch, 20 and 50 layers; "
           "each measurement takes well under a second, so the quick run is the full one.")
TOLERANCES = (
    ("*.log10_*", 0.05),
    ("*.input_over_output*", None),      # 10 ** log10_input_over_output, compared there
    ("*float64_max_abs_log10_difference", 0.05),
)

ARCHS = ("plain", "residual")
MODES = ("train", "eval")        # batch norm in training mode / in eval mode


def _first_below(norms: list[float], ratio: float) -> int | None:
    """Layers below the output at which the norm first falls below ``ratio`` times the
    output's, or None."""
    top = norms[-1]
    for k, value in enumerate(reversed(norms)):
        if value < ratio * top:
            return k
    return None


def _first_zero(norms: list[float]) -> int | None:
    """Layers below the output at which the norm is first exactly 0, or None."""
    for k, value in enumerate(reversed(norms)):
        if value == 0.0:
            return k
    return None


def _log10(value: float) -> float | None:
    return math.log10(value) if value > 0 else None


def _per_layer(norms: list[float]) -> float | None:
    """Mean change of log10 of the norm per layer, from the output down to the input."""
    ratio = _log10(norms[0] / norms[-1])
    return None if ratio is None else ratio / (len(norms) - 1)


def _measure(config: dict[str, Any], depth: int, residual: bool, train: bool, repeat: int,
             dtype: Any) -> list[float]:
    import torch

    from derive.lab.listings.gradient_norms import conv_bn_stack, measure_gradient_norms

    # The same seed for the plain and the residual stack: the same weights.
    torch.manual_seed(int(config["seed"]) + repeat)
    model = conv_bn_stack(depth, int(config["channels"]), residual=residual).to(dtype)
    gen = torch.Generator().manual_seed(int(config["seed"]) + 1000 + repeat)
    shape = (int(config["batch"]), int(config["channels"]), int(config["size"]),
             int(config["size"]))
    return measure_gradient_norms(model, shape, train_mode=train, generator=gen)


def run(config: dict[str, Any], progress) -> dict[str, Any]:
    import numpy as np
    import torch

    eps = float(np.finfo(np.float32).eps)
    depths = [int(d) for d in config["depths"]]
    repeats = int(config["repeats"])
    combos = [(d, a, m) for d in depths for a in ARCHS for m in MODES]
    total = len(combos) * (repeats + (1 if config.get("float64") else 0))
    done = 0
    out: dict[str, Any] = {
        "input_shape": [int(config["batch"]), int(config["channels"]), int(config["size"]),
                        int(config["size"])],
        "loss": ("the inner product of the output with a standard normal tensor drawn after "
                 "the input"),
        "float32_eps": eps,
        "repeats": repeats,
    }
    for depth, arch, mode in combos:
        runs = []
        for r in range(repeats):
            runs.append(_measure(config, depth, arch == "residual", mode == "train", r,
                                 torch.float32))
            done += 1
            progress(done, total)
        main = runs[0]
        entry: dict[str, Any] = {
            # repeat 0, layer by layer: index l is ||dL/dh_l||, l = 0 the input
            "log10_norms": [_log10(v) for v in main],
            "log10_input_over_output": [_log10(n[0] / n[-1]) for n in runs],
            "input_over_output": [n[0] / n[-1] for n in runs],
            # mean change of log10 ||dL/dh_l|| per layer, going down towards the input
            "log10_change_per_layer": [_per_layer(n) for n in runs],
            # layers l where the norm at h_{l-1} is smaller than at h_l
            "layers_shrinking_towards_input": sum(1 for a, b in zip(main, main[1:])
                                                  if a < b),
            "layers_below_eps": [_first_below(n, eps) for n in runs],
            "layers_to_exact_zero": [_first_zero(n) for n in runs],
            "log10_min_norm_over_output": _log10(min(main) / main[-1]),
        }
        if config.get("float64"):
            wide = _measure(config, depth, arch == "residual", mode == "train", 0,
                            torch.float64)
            entry["float64_max_abs_log10_difference"] = max(
                abs(math.log10(a) - math.log10(b)) for a, b in zip(main, wide))
            entry["float64_layers_below_eps"] = _first_below(wide, eps)
            done += 1
            progress(done, total)
        out.setdefault(f"depth_{depth}", {}).setdefault(arch, {})[mode] = entry
    return out
