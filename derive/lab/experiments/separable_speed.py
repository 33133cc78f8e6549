"""Exercise 8.19(c): wall-clock time of a standard 3x3 convolution with 512 input and 512
output channels against a depthwise-separable one (a 3x3 depthwise convolution, one filter
per channel, then a 1x1 pointwise convolution), on 32 x 32 feature maps, forward pass only.

The predicted ratio of multiply-adds is exact, from the layer sizes:
``(C_in k^2 + C_in C_out) / (C_in C_out k^2) = 1/C_out + 1/k^2``, the biases left out.  The
times are medians (and minima) of several timed forward passes after warm-up passes, the four
modules (standard, separable, and the depthwise and pointwise halves on their own) taking
turns in each round, in inference mode, with the configured number of threads (both cores of
the reference machine); they depend on the machine (recorded with the results) and on its
load, and are not compared by ``derive lab check``.
"""

from __future__ import annotations

import statistics
import time
from fractions import Fraction
from typing import Any

NAME = "separable-speed"
EXERCISES = ("8.19(c)",)
TITLE = ("Forward wall-clock time of a 512-channel 3x3 convolution and of its depthwise-"
         "separable replacement on 32 x 32 maps, against the predicted multiply-add ratio")
QUICK: dict[str, Any] = {"seed": 819, "threads": 2, "batch": 4, "channels": 512, "size": 32,
                         "kernel": 3, "warmup": 2, "repeats": 15}
FULL: dict[str, Any] = dict(QUICK, batch=64, repeats=5)
SCALING = ("Batch 4 instead of the exercise's 64, so that the quick run takes seconds; the "
           "layers, channels and map size are as posed. The multiply-add ratio does not "
           "depend on the batch; small batches give the library less work per call, so the "
           "measured speed-up can differ from that at batch 64 (the full run).")
TOLERANCES = (
    ("seconds*", None),
    ("gmacs_per_second.*", None),
    ("measured_speedup*", None),
    ("measured_over_predicted", None),
)


def flop_ratio(c_in: int, c_out: int, k: int) -> Fraction:
    """Multiply-adds of the depthwise-separable convolution over those of the standard one
    (same output size; biases left out).

    >>> flop_ratio(512, 512, 3)
    Fraction(521, 4608)
    >>> flop_ratio(512, 512, 3) == Fraction(1, 512) + Fraction(1, 9)
    True
    """
    return Fraction(c_in * k * k + c_in * c_out, c_in * c_out * k * k)


def layers(channels: int, kernel: int):
    """(standard, depthwise, pointwise) convolutions, each with PyTorch's default bias."""
    from torch import nn

    pad = kernel // 2
    standard = nn.Conv2d(channels, channels, kernel, padding=pad)
    depthwise = nn.Conv2d(channels, channels, kernel, padding=pad, groups=channels)
    pointwise = nn.Conv2d(channels, channels, 1)
    return standard, depthwise, pointwise


def _time(models: dict[str, Any], x, warmup: int, repeats: int, progress) -> dict[str, list]:
    """Seconds per forward pass of each model, ``repeats`` times.  The models take turns
    within each round, so a change in the machine's load affects all of them alike."""
    for _ in range(warmup):
        for model in models.values():
            model(x)
    out: dict[str, list[float]] = {name: [] for name in models}
    for r in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            model(x)
            out[name].append(time.perf_counter() - start)
        progress(r + 1, repeats)
    return out


def run(config: dict[str, Any], progress) -> dict[str, Any]:
    import torch
    from torch import nn

    c, k, n, b = (int(config[key]) for key in ("channels", "kernel", "size", "batch"))
    warmup, repeats = int(config["warmup"]), int(config["repeats"])
    standard, depthwise, pointwise = layers(c, k)
    separable = nn.Sequential(depthwise, pointwise)
    gen = torch.Generator().manual_seed(int(config["seed"]))
    x = torch.randn(b, c, n, n, generator=gen)
    models = {"standard": standard, "separable": separable, "depthwise": depthwise,
              "pointwise": pointwise}
    with torch.inference_mode():
        same_shape = standard(x).shape == separable(x).shape
        shape = list(standard(x).shape)
        times = _time(models, x, warmup, repeats, progress)
    median = {name: statistics.median(t) for name, t in times.items()}
    fastest = {name: min(t) for name, t in times.items()}
    positions = b * n * n                       # output positions (padding keeps the size)
    macs = {"standard": positions * c * c * k * k, "depthwise": positions * c * k * k,
            "pointwise": positions * c * c}
    macs["separable"] = macs["depthwise"] + macs["pointwise"]
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    ratio = flop_ratio(c, c, k)
    measured = median["standard"] / median["separable"]
    return {
        "threads": torch.get_num_threads(),
        "input_shape": [b, c, n, n],
        "output_shape": shape,
        "output_shapes_equal": bool(same_shape),
        "repeats": repeats,
        "params": params,
        "param_ratio": params["separable"] / params["standard"],
        "macs": macs,
        "predicted_flop_ratio": float(ratio),
        "predicted_flop_ratio_fraction": f"{ratio.numerator}/{ratio.denominator}",
        "predicted_speedup": float(1 / ratio),
        # median and fastest seconds per forward pass; seconds_each: every timed pass
        "seconds": median,
        "seconds_fastest": fastest,
        "seconds_each": times,
        "gmacs_per_second": {name: macs[name] / median[name] / 1e9 for name in median},
        "measured_speedup": measured,
        "measured_speedup_fastest": fastest["standard"] / fastest["separable"],
        "measured_over_predicted": measured * float(ratio),
    }
