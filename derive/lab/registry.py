"""The experiments the lab knows, by name (each a module of :mod:`derive.lab.experiments`)."""

from __future__ import annotations

import importlib
from types import ModuleType

from derive.errors import InputError

# name -> module, in book order.
EXPERIMENTS: dict[str, str] = {
    "augmentation": "derive.lab.experiments.augmentation",
    "grad-cam": "derive.lab.experiments.grad_cam",
    "mixup": "derive.lab.experiments.mixup",
    "gradient-flow": "derive.lab.experiments.gradient_flow",
    "pre-activation": "derive.lab.experiments.pre_activation",
    "text-cnn": "derive.lab.experiments.text_cnn",
    "time-series": "derive.lab.experiments.time_series",
    "separable-speed": "derive.lab.experiments.separable_speed",
    "pruning": "derive.lab.experiments.pruning",
}


def check_name(name: str) -> str:
    """``name`` if it is a known experiment; imports nothing, so reading stored results
    needs neither PyTorch nor scikit-learn.

    >>> check_name("pruning")
    'pruning'
    """
    if name not in EXPERIMENTS:
        raise InputError(f"no experiment named {name!r}; known: {', '.join(EXPERIMENTS)}")
    return name


def experiment(name: str) -> ModuleType:
    """The module of experiment ``name``.

    >>> experiment("no such thing")
    Traceback (most recent call last):
    ...
    derive.errors.InputError: no experiment named 'no such thing'; known: augmentation, grad-cam, mixup, gradient-flow, pre-activation, text-cnn, time-series, separable-speed, pruning
    """
    return importlib.import_module(EXPERIMENTS[check_name(name)])
