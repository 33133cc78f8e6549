"""Shared by the digits experiments: scikit-learn's digits as tensors, a fixed split, a small
CNN for 8x8 images, augmentations and a deterministic training loop.

Everything random here draws from generators made from an explicit seed (NumPy's
``default_rng`` for the split, ``torch.Generator`` for initialisation, batch order,
augmentation and mixup), never from a global stream, so two experiments that ask for the same
configuration train the same model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
Progress = Callable[[int, int], None]

CLASSES = 10
SIDE = 8


@dataclass(frozen=True)
class Split:
    """Training and validation images, (N, 1, 8, 8) float32 in [0, 1], with int64 labels."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor


def load() -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 digits: images (N, 1, 8, 8) scaled from 0..16 to [0, 1], and labels (N,)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
    return x, torch.tensor(digits.target, dtype=torch.int64)


def split(seed: int, val_fraction: float = 0.3, train_per_class: int | None = None) -> Split:
    """A stratified split fixed by ``seed``: ``val_fraction`` of each class (rounded) for
    validation, and of the rest the first ``train_per_class`` of each class (all if ``None``)
    for training.  The validation set does not depend on ``train_per_class``; both sets are
    listed in the data set's own order."""
    x, y = load()
    rng = np.random.default_rng(seed)
    labels = y.numpy()
    train: list[int] = []
    val: list[int] = []
    for c in range(CLASSES):
        members = rng.permutation(np.flatnonzero(labels == c))
        n_val = int(round(val_fraction * len(members)))
        val.extend(members[:n_val].tolist())
        rest = members[n_val:]
        train.extend((rest if train_per_class is None else rest[:train_per_class]).tolist())
    tr, va = torch.tensor(sorted(train)), torch.tensor(sorted(val))
    return Split(x[tr], y[tr], x[va], y[va])


def data(config: dict[str, Any]) -> Split:
    """The split a configuration asks for (``seed``, ``val_fraction``, ``train_per_class``)."""
    return split(int(config["seed"]), float(config.get("val_fraction", 0.3)),
                 config.get("train_per_class"))


class SimpleCNN(nn.Module):
    """Two 3x3 conv blocks (conv, batch norm, ReLU; 2x2 max pooling after each) and a linear
    head: 8x8 -> 4x4 -> 2x2.  ``features`` returns the last conv block's maps (4x4, before
    their pooling), the maps Grad-CAM reads; ``classify`` maps them to class scores."""

    def __init__(self, channels: tuple[int, int] = (16, 32), num_classes: int = CLASSES,
                 in_channels: int = 1) -> None:
        super().__init__()
        c1, c2 = channels
        # No conv bias: the batch norm after each conv has its own shift.
        self.conv1 = nn.Conv2d(in_channels, c1, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c2)
        self.head = nn.Linear(c2 * (SIDE // 4) ** 2, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        return F.relu(self.bn2(self.conv2(h)))

    def classify(self, a: torch.Tensor) -> torch.Tensor:
        return self.head(F.max_pool2d(a, 2).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))


def build(factory: Callable[[], nn.Module], seed: int) -> nn.Module:
    """``factory()`` with its parameters initialised from ``seed`` (PyTorch's default
    initialisation, drawn from a private copy of the global generator)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory()


def simple_cnn(config: dict[str, Any]) -> nn.Module:
    channels = tuple(config.get("channels", (16, 32)))
    return build(lambda: SimpleCNN((channels[0], channels[1])), int(config["seed"]))


# Augmentations: each takes a batch and a generator and returns a new batch.

def shift(x: torch.Tensor, g: torch.Generator, pad: int) -> torch.Tensor:
    """Random translation of each image by up to ``pad`` pixels in each direction: zero
    padding, then a random crop of the original size (the digits' background is 0)."""
    if pad == 0:
        return x
    b, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    top = torch.randint(0, 2 * pad + 1, (b,), generator=g)
    left = torch.randint(0, 2 * pad + 1, (b,), generator=g)
    rows = (top[:, None] + torch.arange(h))[:, None, :, None]        # (B, 1, H, 1)
    cols = (left[:, None] + torch.arange(w))[:, None, None, :]       # (B, 1, 1, W)
    batch = torch.arange(b)[:, None, None, None]
    chan = torch.arange(x.shape[1])[None, :, None, None]
    return padded[batch, chan, rows, cols]


def jitter(x: torch.Tensor, g: torch.Generator, brightness: float,
           contrast: float) -> torch.Tensor:
    """Per image, contrast factor c ~ U(1 - contrast, 1 + contrast) and brightness offset
    b ~ U(-brightness, brightness): x -> clamp(c * x + b, 0, 1)."""
    if brightness == 0 and contrast == 0:
        return x
    b = x.shape[0]
    c = 1 + contrast * (2 * torch.rand(b, 1, 1, 1, generator=g) - 1)
    off = brightness * (2 * torch.rand(b, 1, 1, 1, generator=g) - 1)
    return (c * x + off).clamp(0.0, 1.0)


def hflip(x: torch.Tensor, g: torch.Generator, p: float) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``."""
    if p == 0:
        return x
    flip = torch.rand(x.shape[0], generator=g) < p
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def augmentation(spec: dict[str, Any] | None) -> Augment | None:
    """The augmentation ``spec`` describes (keys ``shift``, ``brightness``, ``contrast``,
    ``flip``), or ``None`` for none."""
    if not spec:
        return None
    pad = int(spec.get("shift", 0))
    bright, contr = float(spec.get("brightness", 0)), float(spec.get("contrast", 0))
    flip = float(spec.get("flip", 0))

    def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return hflip(jitter(shift(x, g, pad), g, bright, contr), g, flip)

    return augment


# Training.

def batches(n: int, batch_size: int, g: torch.Generator) -> Iterator[torch.Tensor]:
    """Index batches of one epoch in a random order; the last, incomplete batch is dropped
    (batch norm needs more than one example, and every batch then weighs the same)."""
    order = torch.randperm(n, generator=g)
    for start in range(0, n - batch_size + 1, batch_size):
        yield order[start:start + batch_size]


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and accuracy in evaluation mode (batch norm's running statistics)."""
    was_training = model.training
    model.eval()
    logits = model(x)
    model.train(was_training)
    loss = F.cross_entropy(logits, y).item()
    return loss, (logits.argmax(1) == y).double().mean().item()


def optimizer(model: nn.Module, config: dict[str, Any]) -> torch.optim.Optimizer:
    name, lr = config.get("optimizer", "adam"), float(config["lr"])
    decay = float(config.get("weight_decay", 0.0))
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=decay)
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, weight_decay=decay,
                               momentum=float(config.get("momentum", 0.9)))
    raise ValueError(f"unknown optimizer {name!r}")


def train(model: nn.Module, data: Split, config: dict[str, Any], *,
          augment: Augment | None = None, mixup_alpha: float | None = None,
          after_step: Callable[[nn.Module], None] | None = None,
          progress: Progress | None = None, done: int = 0, total: int = 0
          ) -> dict[str, list[float]]:
    """Train ``model`` for ``config["epochs"]`` epochs of mini-batches of
    ``config["batch_size"]`` and return, per epoch:

    ``batch_loss``
        the mean of the loss the optimiser minimised over the epoch's batches (augmented,
        mixed when mixup is on);
    ``train_loss``, ``train_acc``
        cross-entropy and accuracy on the clean training set after the epoch (evaluation mode;
        left out when ``config["eval_train"]`` is false, to save the time);
    ``val_loss``, ``val_acc``
        the same on the validation set.

    Batch order, augmentation and mixup draw from three generators seeded from
    ``config["seed"]``, so runs with the same configuration see the same batches and the same
    augmentations whether or not mixup is on.  ``after_step(model)`` runs after every
    optimiser step (pruning masks use it).  ``progress(done + epoch, total)`` is called after
    each epoch.
    """
    from derive.lab.listings.mixup import mixup_data, mixup_loss

    seed = int(config["seed"])
    order_g = torch.Generator().manual_seed(seed)
    augment_g = torch.Generator().manual_seed(seed + 1)
    mixup_g = torch.Generator().manual_seed(seed + 2)
    opt = optimizer(model, config)
    epochs, batch_size = int(config["epochs"]), int(config["batch_size"])
    parts = (("train", data.x_train, data.y_train),) if config.get("eval_train", True) else ()
    parts += (("val", data.x_val, data.y_val),)
    history: dict[str, list[float]] = {"batch_loss": []}
    for part, _, _ in parts:
        history[f"{part}_loss"], history[f"{part}_acc"] = [], []
    model.train()
    for epoch in range(epochs):
        total_loss, count = 0.0, 0
        for idx in batches(len(data.y_train), batch_size, order_g):
            x, y = data.x_train[idx], data.y_train[idx]
            if augment is not None:
                x = augment(x, augment_g)
            if mixup_alpha is not None:
                x, y_a, y_b, lam = mixup_data(x, y, mixup_alpha, mixup_g)
                loss = mixup_loss(model(x), y_a, y_b, lam)
            else:
                loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if after_step is not None:
                after_step(model)
            total_loss += loss.item() * len(idx)
            count += len(idx)
        history["batch_loss"].append(total_loss / count)
        for part, x, y in parts:
            loss_, acc = evaluate(model, x, y)
            history[f"{part}_loss"].append(loss_)
            history[f"{part}_acc"].append(acc)
        if progress is not None:
            progress(done + epoch + 1, total or epochs)
    model.eval()
    return history


def epochs_to(values: list[float], threshold: float) -> int | None:
    """The first epoch (counted from 1) at which ``values`` reaches ``threshold``, or ``None``.

    >>> epochs_to([0.5, 0.8, 0.95, 0.9], 0.9)
    3
    """
    return next((i + 1 for i, v in enumerate(values) if v >= threshold), None)


def cifar10_missing(name: str) -> None:
    """Raise the error a FULL configuration gives: it needs CIFAR-10, which the lab does not
    download."""
    from derive.lab.runner import LabError

    raise LabError(f"the full configuration of {name!r} trains on CIFAR-10 as the exercise "
                   "poses it; the lab ships no CIFAR-10 and downloads nothing, so provide the "
                   "data set and a loader for it to run at full scale (the quick configuration "
                   "runs on scikit-learn's digits)")


def mean_curve(rows: list[list[float]]) -> list[float]:
    """The epoch-by-epoch mean of several runs' curves.

    >>> mean_curve([[1.0, 2.0], [3.0, 4.0]])
    [2.0, 3.0]
    """
    return [sum(col) / len(col) for col in zip(*rows)]


def replicate_seeds(config: dict) -> list[int]:
    """The seeds of a replicated experiment: ``seed``, ``seed + 1``, ... (``replicates``).

    >>> replicate_seeds({"seed": 5, "replicates": 3})
    [5, 6, 7]
    """
    return [int(config["seed"]) + r for r in range(int(config["replicates"]))]
