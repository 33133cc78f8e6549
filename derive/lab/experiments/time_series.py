"""Exercise 8.18: a 1D CNN against two baselines on synthetic multivariate time series.

The data (part (a)): five classes of series with 3 channels and 128 steps, each channel with
its own random level offset and Gaussian noise (standard deviation 0.3):

0. upward trend: a line with a random slope in [0.01, 0.03] per step;
1. oscillation: a sine with 6 to 10 cycles per series and a random phase per channel;
2. step: a jump of height 1.5 to 2.5 at a random time between steps 32 and 96 (the same
   time in every channel);
3. damped oscillation: from a random onset in the first half, a sine of amplitude 3 with 6 to
   10 cycles per series whose envelope decays with time constant 16 steps;
4. random walk with drift: increments of mean 0.05 and standard deviation 0.3.

Random phases, onsets, step times and offsets mean that no fixed position of the series
carries the class: a model must recognise a pattern wherever it occurs.

The models (parts (b), (c)): the TemporalCNN (1D convolutions 3->32 of width 7, 32->64 of
width 5 and 64->64 of width 3, each followed by ReLU, max pooling by 2 after the first two,
global average pooling over time, a linear layer to the 5 classes; the network assumed in
the book's derivation for exercise 8.18); (i) the time average of each channel + a linear
layer; (ii) an MLP on the flattened series (one hidden layer of 64 units).  All three are
trained with Adam and cross-entropy, mini-batches drawn with a seeded generator.
"""

from __future__ import annotations

from typing import Any

NAME = "time-series"
EXERCISES = ("8.18(a)", "8.18(b)", "8.18(c)", "8.18(d)")
TITLE = ("A temporal CNN, a time-average + linear baseline and an MLP on five classes of "
         "synthetic multivariate time series")
QUICK: dict[str, Any] = {"seed": 818, "channels": 3, "steps": 128, "noise": 0.3,
                         "train_per_class": 200, "val_per_class": 50, "test_per_class": 100,
                         "epochs": 20, "batch": 32, "lr": 1e-3, "hidden": 64}
FULL: dict[str, Any] = dict(QUICK)
SCALING = ("Runs as posed: the exercise asks for synthetic data and fixes neither its size "
           "nor the training length; 200 training, 50 validation and 100 test series per "
           "class, 20 epochs.")
TOLERANCES = (
    ("*accuracy*", 0.02),
    ("*final_loss*", 0.02),
    ("confusion.*", 3),
)

CLASSES = ("trend", "oscillation", "step", "damped oscillation", "random walk")
MODELS = ("cnn", "average_linear", "mlp")


def generate(per_class: int, seed: int, channels: int = 3, steps: int = 128,
             noise: float = 0.3):
    """(x, y): x float32 of shape (5 * per_class, channels, steps), y the class of each
    series (``per_class`` series of class 0, then of class 1, ...)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(steps, dtype=np.float64)
    xs, ys = [], []
    for label in range(len(CLASSES)):
        for _ in range(per_class):
            offset = rng.uniform(-1.0, 1.0, (channels, 1))
            eps = noise * rng.standard_normal((channels, steps))
            if label == 0:
                slope = rng.uniform(0.01, 0.03, (channels, 1))
                x = slope * t + eps
            elif label == 1:
                cycles = rng.uniform(6.0, 10.0)
                phase = rng.uniform(0.0, 2 * np.pi, (channels, 1))
                x = np.sin(2 * np.pi * cycles * t / steps + phase) + eps
            elif label == 2:
                tau = int(rng.integers(steps // 4, 3 * steps // 4 + 1))
                height = rng.uniform(1.5, 2.5, (channels, 1))
                x = height * (t >= tau) + eps
            elif label == 3:
                onset = int(rng.integers(0, steps // 2 + 1))
                cycles = rng.uniform(6.0, 10.0)
                phase = rng.uniform(0.0, 2 * np.pi, (channels, 1))
                s = np.clip(t - onset, 0.0, None)
                wave = 3.0 * np.exp(-s / 16.0) * np.sin(2 * np.pi * cycles * s / steps + phase)
                x = np.where(t >= onset, wave, 0.0) + eps
            else:
                x = np.cumsum(0.05 + noise * rng.standard_normal((channels, steps)), axis=1)
            xs.append(x + offset)
            ys.append(label)
    return np.stack(xs).astype(np.float32), np.array(ys, dtype=np.int64)


def build(name: str, channels: int, steps: int, hidden: int = 64):
    """One of the three models, freshly initialised from PyTorch's global generator."""
    from torch import nn

    classes = len(CLASSES)
    if name == "cnn":
        return nn.Sequential(
            nn.Conv1d(channels, 32, 7, padding=3), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(64, 64, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(64, classes))
    if name == "average_linear":
        return nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(channels, classes))
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(channels * steps, hidden), nn.ReLU(),
                             nn.Linear(hidden, classes))
    raise ValueError(f"unknown model {name!r}")


def _accuracy(model, x, y) -> tuple[float, Any]:
    import torch

    model.eval()
    with torch.no_grad():
        pred = model(x).argmax(dim=1)
    return float((pred == y).float().mean()), pred


def run(config: dict[str, Any], progress) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    seed, c, steps = int(config["seed"]), int(config["channels"]), int(config["steps"])
    noise, epochs, batch = float(config["noise"]), int(config["epochs"]), int(config["batch"])
    splits = {}
    for i, split in enumerate(("train", "val", "test")):
        x, y = generate(int(config[f"{split}_per_class"]), seed + i, c, steps, noise)
        splits[split] = (torch.from_numpy(x), torch.from_numpy(y))
    (xtr, ytr), (xva, yva), (xte, yte) = splits["train"], splits["val"], splits["test"]
    out: dict[str, Any] = {"classes": list(CLASSES), "models": list(MODELS),
                           "sizes": {k: int(v[1].numel()) for k, v in splits.items()},
                           "val_accuracy": {}, "final_loss": {}, "test_accuracy": {},
                           "test_class_accuracy": {}, "confusion": {}, "params": {}}
    done, total = 0, len(MODELS) * epochs
    for m, name in enumerate(MODELS):
        torch.manual_seed(seed + 10 + m)
        model = build(name, c, steps, int(config["hidden"]))
        opt = torch.optim.Adam(model.parameters(), lr=float(config["lr"]))
        gen = torch.Generator().manual_seed(seed + 20 + m)
        curve, loss_sum = [], 0.0
        for _ in range(epochs):
            model.train()
            order = torch.randperm(len(ytr), generator=gen)
            loss_sum, count = 0.0, 0
            for start in range(0, len(order), batch):
                idx = order[start:start + batch]
                loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                loss_sum += loss.item() * len(idx)
                count += len(idx)
            curve.append(_accuracy(model, xva, yva)[0])
            done += 1
            progress(done, total)
        acc, pred = _accuracy(model, xte, yte)
        out["val_accuracy"][name] = curve          # after each epoch
        out["final_loss"][name] = loss_sum / count  # mean training loss of the last epoch
        out["test_accuracy"][name] = acc
        out["test_class_accuracy"][name] = [
            float((pred[yte == k] == k).float().mean()) for k in range(len(CLASSES))]
        # confusion[name][true class][predicted class], test series counted
        out["confusion"][name] = [[int(((yte == i) & (pred == j)).sum())
                                   for j in range(len(CLASSES))] for i in range(len(CLASSES))]
        out["params"][name] = sum(p.numel() for p in model.parameters())
    periodic = [CLASSES.index("oscillation"), CLASSES.index("damped oscillation")]
    out["periodic_classes"] = [CLASSES[k] for k in periodic]
    out["periodic_accuracy"] = {
        name: sum(out["test_class_accuracy"][name][k] for k in periodic) / len(periodic)
        for name in MODELS}
    out["best_on_periodic"] = max(MODELS, key=lambda n: out["periodic_accuracy"][n])
    return out
