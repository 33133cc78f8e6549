"""Exercise 8.12(c): training with mixup (alpha = 0.2, the listing ``mixup``) against the
augmentation-only baseline of the augmentation experiment.

Both runs use the baseline's configuration (the same data, initialisation, batch order and
shift/jitter augmentation); the mixup run mixes each augmented batch with a permutation of
itself and minimises the mixup loss.  The baseline runs are the augmentation experiment's
``augmented`` runs, trained again here from the same seeds.  Several seeds, averaged, as
there.
"""

from __future__ import annotations

from typing import Any

from derive.lab.experiments import _digits, augmentation

NAME = "mixup"
EXERCISES = ("8.12(c)",)
TITLE = "Mixup (alpha = 0.2) against the augmentation-only baseline: validation accuracy"

QUICK: dict[str, Any] = {
    **{k: v for k, v in augmentation.QUICK.items() if k != "variants"},
    "variants": {"augmented": augmentation.VARIANTS["augmented"]}, "variant": "augmented",
    "alpha": 0.2,
}
FULL: dict[str, Any] = {
    **{k: v for k, v in augmentation.FULL.items()}, "variant": "augmented", "alpha": 0.2,
}
SCALING = ("scikit-learn's digits instead of CIFAR-10, with the augmentation experiment's "
           "quick configuration (100 training images, 50 epochs, shifts of 1 pixel and "
           "brightness/contrast jitter, no flips), averaged over 4 seeds.  The full "
           "configuration needs the CIFAR-10 data, which the lab does not provide.")

# As in the augmentation experiment: another thread count moved single seeds' final
# accuracies by up to 0.01 and losses by up to 0.006.
TOLERANCES = [
    ("effect.better_seeds", 1),
    ("*acc*", 0.02),
    ("*loss*", 0.015),
    ("*", 0),
]

_CURVES = ("batch_loss", "train_loss", "train_acc", "val_loss", "val_acc")


def run(config: dict[str, Any], progress: _digits.Progress) -> dict[str, Any]:
    if config.get("dataset", "digits") != "digits":
        _digits.cifar10_missing(NAME)
    seeds = _digits.replicate_seeds(config)
    epochs = int(config["epochs"])
    arms = {"baseline": None, "mixup": float(config["alpha"])}
    total = len(seeds) * len(arms) * epochs
    histories: dict[str, list[dict[str, list[float]]]] = {a: [] for a in arms}
    done = 0
    for seed in seeds:
        data = _digits.data({**config, "seed": seed})
        for arm, alpha in arms.items():
            _, history, _ = augmentation.train_variant(
                config, config["variant"], seed, data, mixup_alpha=alpha, progress=progress,
                done=done, total=total)
            histories[arm].append(history)
            done += epochs
    runs: dict[str, Any] = {}
    for arm, hs in histories.items():
        final = {k: [h[k][-1] for h in hs] for k in ("train_acc", "val_acc", "val_loss")}
        best = [max(h["val_acc"]) for h in hs]
        runs[arm] = {"curves": {k: _digits.mean_curve([h[k] for h in hs]) for k in _CURVES},
                     "final": {**final, "best_val_acc": best},
                     "mean": {**{k: sum(v) / len(v) for k, v in final.items()},
                              "best_val_acc": sum(best) / len(best)}}
    base, mix = runs["baseline"], runs["mixup"]
    return {
        "seeds": seeds, "epochs": epochs, "alpha": float(config["alpha"]), "runs": runs,
        "effect": {
            "val_acc_change": mix["mean"]["val_acc"] - base["mean"]["val_acc"],
            "val_loss_change": mix["mean"]["val_loss"] - base["mean"]["val_loss"],
            "better_seeds": sum(m > b for m, b in zip(mix["final"]["val_acc"],
                                                       base["final"]["val_acc"])),
            "last10_val_acc_change": (sum(mix["curves"]["val_acc"][-10:])
                                      - sum(base["curves"]["val_acc"][-10:])) / 10,
        },
    }
