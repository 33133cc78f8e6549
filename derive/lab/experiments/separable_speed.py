"""Exercise 8.19(c): wall-clock time of a standard 3x3 convolution with 512 input and 512
output channels against a depthwise-separable one (a 3x3 depthwise convolution, one filter
per channel, then a 1x1 pointwise convolution), on 32 x 32 feature maps, forward pass only;
and the same comparison swept over the channel count (input = output channels), so that the
measured speed-up can be set against the predicted one as the layers grow.

The predicted ratio of multiply-adds is exact, from the layer sizes:
``(C_in k^2 + C_in C_out) / (C_in C_out k^2) = 1/C_out + 1/k^2``, the biases left out; the
predicted speed-up is its inverse.  The times are medians (and minima) of timed forward
passes after warm-up passes, in ``repeats`` rounds.  Each round times the four modules
(standard, separable, and the depthwise and pointwise halves on their own) at every channel
count in turn, so that a change in the machine's load affects all of them alike; the small
layers, which take a fraction of a millisecond, are timed several times per round
(:func:`timings_per_round`).  The passes run in inference mode, with the configured
number of threads (both cores of the reference machine); the times depend on the machine
(recorded with the results) and on its load, and are not compared by ``derive lab check``.
The top-level results are those of the exercise's channel count (``channels``); ``sweep``
holds every channel count of ``sweep_channels`` in lists, that one included (the same
measurement, not a second one).
"""

from __future__ import annotations

import statistics
import time
from fractions import Fraction
from typing import Any, Callable

NAME = "separable-speed"
EXERCISES = ("8.19(c)",)
TITLE = ("Forward wall-clock time of a 512-channel 3x3 convolution and of its depthwise-"
         "separable replacement on 32 x 32 maps, and of both at 32 to 512 channels, against "
         "the predicted multiply-add ratio")
QUICK: dict[str, Any] = {"seed": 819, "threads": 2, "batch": 4, "channels": 512, "size": 32,
                         "kernel": 3, "warmup": 2, "repeats": 25,
                         "sweep_channels": [32, 64, 128, 256, 512]}
FULL: dict[str, Any] = dict(QUICK, batch=64, repeats=5)
SCALING = ("Batch 4 instead of the exercise's 64, so that the quick run takes seconds; the "
           "layers, channels and map size are as posed. The multiply-add ratio does not "
           "depend on the batch; small batches give the library less work per call, so the "
           "measured speed-up can differ from that at batch 64 (the full run). The sweep over "
           "smaller channel counts goes beyond the exercise.")
TOLERANCES = (
    ("seconds*", None),
    ("gmacs_per_second.*", None),
    ("measured_speedup*", None),
    ("measured_over_predicted", None),
    ("sweep.seconds*", None),
    ("sweep.gmacs_per_second.*", None),
    ("sweep.measured_speedup*", None),
    ("sweep.measured_over_predicted.*", None),
)
MODELS = ("standard", "separable", "depthwise", "pointwise")
Progress = Callable[[int, int], None]


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


def macs(batch: int, channels: int, size: int, kernel: int) -> dict[str, int]:
    """Multiply-adds of one forward pass of each model (padding keeps the map size).

    >>> macs(1, 2, 1, 3)
    {'standard': 36, 'depthwise': 18, 'pointwise': 4, 'separable': 22}
    """
    positions = batch * size * size             # output positions
    out = {"standard": positions * channels * channels * kernel * kernel,
           "depthwise": positions * channels * kernel * kernel,
           "pointwise": positions * channels * channels}
    out["separable"] = out["depthwise"] + out["pointwise"]
    return out


def timings_per_round(channels: int, largest: int) -> int:
    """Timed forward passes of each model per round at ``channels`` channels: a small layer
    takes a fraction of a millisecond, so it is timed more often (cheaply) and the median
    rests on more samples; ``largest // (4 channels)``, at least one.

    >>> [timings_per_round(c, 512) for c in (32, 64, 128, 512)]
    [4, 2, 1, 1]
    """
    return max(1, largest // (4 * channels))


def _setup(c: int, config: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The four models at ``c`` channels and a seeded input batch for them."""
    import torch
    from torch import nn

    k, n, b = (int(config[key]) for key in ("kernel", "size", "batch"))
    standard, depthwise, pointwise = layers(c, k)
    models = {"standard": standard, "separable": nn.Sequential(depthwise, pointwise),
              "depthwise": depthwise, "pointwise": pointwise}
    gen = torch.Generator().manual_seed(int(config["seed"]) + c)
    return models, torch.randn(b, c, n, n, generator=gen)


def _time(setups: dict[int, tuple[dict[str, Any], Any]], config: dict[str, Any],
          progress: Progress) -> dict[int, dict[str, list[float]]]:
    """Seconds per forward pass of every model at every channel count, in ``repeats`` rounds.
    Every round times every model at every channel count in turn, so that a change in the
    machine's load affects all of them alike."""
    largest, repeats = max(setups), int(config["repeats"])
    for models, x in setups.values():
        for _ in range(int(config["warmup"])):
            for model in models.values():
                model(x)
    out = {c: {name: [] for name in MODELS} for c in setups}
    for r in range(repeats):
        for c, (models, x) in setups.items():
            for _ in range(timings_per_round(c, largest)):
                for name in MODELS:
                    start = time.perf_counter()
                    models[name](x)
                    out[c][name].append(time.perf_counter() - start)
        progress(r + 1, repeats)
    return out


def _derive(c: int, config: dict[str, Any], models: dict[str, Any], shapes: list[list[int]],
            times: dict[str, list[float]]) -> dict[str, Any]:
    """The results at ``c`` channels: exact counts and ratios, and the measured times."""
    k, n, b = (int(config[key]) for key in ("kernel", "size", "batch"))
    median = {name: statistics.median(times[name]) for name in MODELS}
    fastest = {name: min(times[name]) for name in MODELS}
    count = macs(b, c, n, k)
    ratio = flop_ratio(c, c, k)
    measured = median["standard"] / median["separable"]
    return {
        "input_shape": [b, c, n, n],
        "output_shape": shapes[0],
        "output_shapes_equal": shapes[0] == shapes[1],
        "params": {name: sum(p.numel() for p in models[name].parameters()) for name in MODELS},
        "macs": count,
        "predicted_flop_ratio": float(ratio),
        "predicted_flop_ratio_fraction": f"{ratio.numerator}/{ratio.denominator}",
        "predicted_speedup": float(1 / ratio),
        # median and fastest seconds per forward pass; seconds_each: every timed pass
        "seconds": median,
        "seconds_fastest": fastest,
        "seconds_each": times,
        "gmacs_per_second": {name: count[name] / median[name] / 1e9 for name in MODELS},
        "measured_speedup": measured,
        "measured_speedup_fastest": fastest["standard"] / fastest["separable"],
        "measured_over_predicted": measured * float(ratio),
    }


def _columns(rows: list[dict[str, Any]], key: str) -> Any:
    """One key of every row, as a list; a dict of lists when the rows hold dicts."""
    if isinstance(rows[0][key], dict):
        return {name: [row[key][name] for row in rows] for name in rows[0][key]}
    return [row[key] for row in rows]


def run(config: dict[str, Any], progress: Progress) -> dict[str, Any]:
    import torch

    sweep = [int(c) for c in config["sweep_channels"]]
    if int(config["channels"]) not in sweep:
        raise ValueError("sweep_channels must include the exercise's channel count")
    setups = {c: _setup(c, config) for c in sweep}
    with torch.inference_mode():
        shapes = {c: [list(models[name](x).shape) for name in ("standard", "separable")]
                  for c, (models, x) in setups.items()}
        times = _time(setups, config, progress)
    rows = [_derive(c, config, setups[c][0], shapes[c], times[c]) for c in sweep]
    headline = rows[sweep.index(int(config["channels"]))]
    params = headline["params"]
    keys = ("macs", "predicted_flop_ratio", "predicted_flop_ratio_fraction",
            "predicted_speedup", "seconds", "seconds_fastest", "seconds_each",
            "gmacs_per_second", "measured_speedup", "measured_speedup_fastest",
            "measured_over_predicted")
    return {
        "threads": torch.get_num_threads(),
        "repeats": int(config["repeats"]),
        **{key: headline[key] for key in ("input_shape", "output_shape",
                                          "output_shapes_equal")},
        "params": params,
        "param_ratio": params["separable"] / params["standard"],
        **{key: headline[key] for key in keys},
        # one list entry per channel count, in the order of "channels"
        "sweep": {"channels": sweep,
                  "timings": [int(config["repeats"]) * timings_per_round(c, max(sweep))
                              for c in sweep],
                  "output_shapes_equal": all(row["output_shapes_equal"] for row in rows),
                  **{key: _columns(rows, key) for key in keys}},
    }
