"""Exercise 8.10: data augmentation, measured on a scaled-down run.

Every part renders the stored results of the seeded ``augmentation`` experiment
(:mod:`derive.lab.experiments.augmentation`): the digits lab's SimpleCNN trained on a small
training set of scikit-learn's digits, without augmentation (``plain``), with random shifts
and brightness/contrast jitter (``augmented``) and with left-right mirroring on top
(``flipped``), each for several seeds.  Building the book trains nothing.  The tables, plots
and every sentence that compares runs are computed here from the stored per-epoch curves
(means over the seeds) and per-seed final values; the cross-checks recompute stored means
from the per-seed lists.

Part (b) also derives the size of the geometric family of the crop augmentation: a random
crop of a padded image is a sliding window, so the number of crop positions is an output size
(:mod:`derive.conv.shapes`), cross-checked by enumerating the offsets, both for the exercise
as posed (CIFAR-10) and for the shift the experiment actually uses.
"""

from __future__ import annotations

from typing import Any

from derive.book import EXPERIMENT, Part, Problem, Sheet

NAME = "augmentation"
IMAGE = 32          # CIFAR-10 images are 32 x 32 (the exercise as posed)
CROP_PADDING = 4    # the customary zero padding before a random 32 x 32 crop (our choice;
                    # the exercise does not fix it)
DIGIT_SIDE = 8      # scikit-learn's digits are 8 x 8 (the images the experiment trains on)
RUNS = {"plain": "plain", "augmented": "augmented (shift + jitter)",
        "flipped": "flipped (shift + jitter + mirror)"}
NEAR = 0.9          # "close to the end": this share of a run's final validation accuracy
STORED = 1e-5       # the results store 6 significant digits: recomputed means agree to this


def _record() -> dict[str, Any]:
    from derive.lab.runner import load
    return load(NAME)


def _runs() -> dict[str, Any]:
    return _record()["results"]["runs"]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _first_epoch(values: list[float], threshold: float) -> int | None:
    """The first epoch (counted from 1) at which ``values`` reaches ``threshold``."""
    return next((i + 1 for i, v in enumerate(values) if v >= threshold), None)


def _offsets(n: int, crop: int, padding: int) -> int:
    """Brute force: top-left corners of a crop x crop window inside the padded image."""
    padded = n + 2 * padding
    return sum(1 for top in range(padded) for left in range(padded)
               if top + crop <= padded and left + crop <= padded)


def _seed_table(sheet: Sheet, runs: list[str], caption: str) -> None:
    results = _record()["results"]
    rows = []
    for run in runs:
        final = results["runs"][run]["final"]
        for i, seed in enumerate(results["seeds"]):
            rows.append((RUNS[run], seed, f"{final['train_acc'][i]:.3f}",
                         f"{final['val_acc'][i]:.3f}", f"{final['acc_gap'][i]:.3f}",
                         f"{final['train_loss'][i]:.4f}", f"{final['val_loss'][i]:.3f}"))
    sheet.table(["run", "seed", "train accuracy", "validation accuracy", "accuracy gap",
                 "train loss", "validation loss"], rows, caption=caption)


def _changed(delta: float, up: str, down: str) -> str:
    """``up``/``down`` with the size of ``delta``, or "did not change" (for prose)."""
    if delta > 0:
        return f"{up} by {delta:.3f}"
    if delta < 0:
        return f"{down} by {-delta:.3f}"
    return "did not change"


def solve_a(sheet: Sheet) -> None:
    record = _record()
    cfg, r = record["config"], record["results"]
    sheet.measured(NAME, "The run without augmentation (plain): the SimpleCNN trained without augmentation; after "
                         "every epoch, cross-entropy and accuracy on the clean training "
                         "images and on the validation images (evaluation mode), for each "
                         "seed; stored as curves averaged over the seeds and as each seed's "
                         "final values.")
    c1, c2 = cfg["channels"]
    per_epoch = r["train_size"] // cfg["batch_size"]
    dropped = ("; the incomplete last batch is dropped"
               if r["train_size"] % cfg["batch_size"] else "")
    sheet.text(f"The exercise's run is scaled down (the box above says how): the network is "
               f"the digits lab's SimpleCNN (two convolution blocks with {c1} and {c2} "
               f"channels, batch norm and max pooling, then a linear layer), trained for "
               f"{r['epochs']} epochs on {r['train_size']} training images "
               f"({cfg['train_per_class']} per class) with {cfg['optimizer'].capitalize()} at "
               f"learning rate {cfg['lr']} and mini-batches of {cfg['batch_size']}: each "
               f"epoch runs {per_epoch} batches ({per_epoch * cfg['batch_size']} images in a "
               f"fresh random order{dropped}). The "
               f"{r['val_size']} validation images are a fixed share of each class. "
               "'Normalisation only' here means that the grey levels are rescaled to the "
               f"unit interval and nothing else. Each run is repeated for {len(r['seeds'])} "
               f"seeds ({', '.join(map(str, r['seeds']))}); the seed changes the split, the "
               "initialisation and the batch order.")
    _seed_table(sheet, ["plain"], "The plain run after the last epoch, per seed (accuracy gap "
                                  "= training minus validation accuracy).")
    curves = r["runs"]["plain"]["curves"]
    full = _first_epoch(curves["train_acc"], 1.0)
    if full is None:
        reach = f"never reaches 1; it ends at {curves['train_acc'][-1]:.3f}"
    else:
        stays = all(v >= 1.0 for v in curves["train_acc"][full - 1:])
        reach = (f"first reaches 1 at epoch {full} (every seed's network classifies all its "
                 "training images correctly) and "
                 + ("stays there" if stays else "later falls below 1 again"))
    sheet.text(f"The mean training accuracy over the seeds {reach}. The training loss keeps "
               f"falling, to {curves['train_loss'][-1]:.4f} after the last epoch, while the "
               f"validation accuracy ends at {curves['val_acc'][-1]:.3f} and the validation "
               f"loss at {curves['val_loss'][-1]:.3f}.")


def solve_b(sheet: Sheet) -> None:
    from derive.conv.shapes import output_size, output_size_derivation

    record = _record()
    cfg, r = record["config"], record["results"]
    sheet.measured(NAME, "The augmented and flipped runs: the same training (same split, "
                         "initialisation and batch order per seed as 'plain'), with every "
                         "training batch augmented afresh; the same per-epoch measurements "
                         "on the clean training images and on the validation images.")
    aug, flip = cfg["variants"]["augmented"], cfg["variants"]["flipped"]
    shift = aug["shift"]
    pixels = f"{shift} pixel" + ("" if shift == 1 else "s")
    sheet.text(f"How the recipe is carried over to digits: a random crop of the padded image "
               f"becomes zero padding by {pixels} and a crop of the original size at a "
               f"random offset, i.e. a shift by up to {pixels} in each direction; "
               f"colour jitter becomes, per image, a contrast factor drawn uniformly between "
               f"{1 - aug['contrast']:g} and {1 + aug['contrast']:g} and a brightness offset "
               f"between {-aug['brightness']:g} and {aug['brightness']:g}, the result clipped "
               f"to the range of grey values. The flipped run also mirrors each image left to "
               f"right with probability {flip['flip']:g}.")

    sheet.text(f"As posed, on CIFAR-10: pad the {IMAGE}×{IMAGE} image by {CROP_PADDING} "
               f"pixels on each side (the customary choice; the exercise does not fix it) and "
               f"cut out a {IMAGE}×{IMAGE} window. The window positions along one axis are "
               f"the output positions of a sliding window of width {IMAGE}:")
    sheet.derive("crop offsets per axis", output_size_derivation(IMAGE, IMAGE, CROP_PADDING, 1))
    crops = output_size(IMAGE, IMAGE, padding=CROP_PADDING) ** 2
    sheet.numeric(crops, _offsets(IMAGE, IMAGE, CROP_PADDING), why="distinct crops (CIFAR-10)",
                  method="brute force: every top-left corner of the crop inside the padded "
                         "image, enumerated")
    sheet.text(f"With the horizontal flip that makes {2 * crops} geometric variants of every "
               "CIFAR-10 image, colour jitter adding a continuous family on top.")
    sheet.answer("distinct crops", crops)
    sheet.answer("crops and flips", 2 * crops)

    sheet.text(f"In the experiment the {DIGIT_SIDE}×{DIGIT_SIDE} digit is padded by {shift} "
               f"and cropped back to {DIGIT_SIDE}×{DIGIT_SIDE}:")
    sheet.derive("shift offsets per axis", output_size_derivation(DIGIT_SIDE, DIGIT_SIDE,
                                                                  shift, 1))
    shifts = output_size(DIGIT_SIDE, DIGIT_SIDE, padding=shift) ** 2
    sheet.numeric(shifts, _offsets(DIGIT_SIDE, DIGIT_SIDE, shift),
                  why="crop positions of a digit",
                  method="brute force: every top-left corner of the crop inside the padded "
                         "digit, enumerated")
    sheet.text(f"The experiment draws the offset uniformly among these {shifts} positions; "
               f"run 'flipped' doubles them to {2 * shifts}.")
    sheet.answer("crop positions of a digit (run 'augmented')", shifts)

    _seed_table(sheet, ["augmented", "flipped"], "The augmented and flipped runs after the "
                                                 "last epoch, per seed.")
    means = {run: r["runs"][run]["mean"] for run in ("augmented", "flipped")}
    final = {run: r["runs"][run]["final"] for run in ("augmented", "flipped")}
    n = len(r["seeds"])
    worse = sum(f < a for a, f in zip(final["augmented"]["val_acc"],
                                      final["flipped"]["val_acc"]))
    delta = means["flipped"]["val_acc"] - means["augmented"]["val_acc"]
    fit = means["flipped"]["train_acc"]
    sheet.text(f"Mirroring does not preserve a digit's class: a mirrored 2 is not a 2, and "
               f"most mirrored digits are no digit at all, so run 'flipped' often trains on "
               f"images whose label no longer fits them. The measurement is consistent with "
               f"that: with mirroring the mean validation accuracy "
               f"{_changed(delta, 'rises', 'falls')} (from "
               f"{means['augmented']['val_acc']:.3f} to {means['flipped']['val_acc']:.3f}; "
               f"lower in {worse} of {n} seeds), and the network "
               + ("classifies all its own clean training images correctly"
                  if fit == 1.0 else
                  f"no longer classifies all its own clean training images correctly (mean "
                  f"training accuracy {fit:.3f})")
               + ". The exercise's recipe includes the flip because CIFAR-10's classes "
               "(animals, vehicles) look the same mirrored; for digits it is the wrong "
               "invariance, and the comparison the exercise asks for is 'plain' against "
               "'augmented'.")


def _plots(r: dict[str, Any]) -> tuple[Any, Any]:
    from derive.lab.plots import line_plot

    runs = [run for run in RUNS if run in r["runs"]]
    epochs = list(range(1, r["epochs"] + 1))
    # short legend labels: the caption says what "clean" and "batches" are
    losses = [(f"{run} (clean)", epochs, r["runs"][run]["curves"]["train_loss"])
              for run in runs]
    losses += [(f"{run} (batches)", epochs, r["runs"][run]["curves"]["batch_loss"])
               for run in runs]
    seeds = len(r["seeds"])
    loss_plot = line_plot(
        "augmentation-training-loss", losses, xlabel="epoch", ylabel="training loss",
        log_y=True,
        caption=f"Training loss per epoch, mean over {seeds} seeds, on a log scale: "
                "cross-entropy on the clean training images after the epoch (clean), and "
                "the mean loss the optimiser minimised over the epoch's batches, augmented "
                "except in run 'plain' (batches).")
    acc_plot = line_plot(
        "augmentation-validation-accuracy",
        [(run, epochs, r["runs"][run]["curves"]["val_acc"]) for run in runs],
        xlabel="epoch", ylabel="validation accuracy",
        caption=f"Validation accuracy per epoch, mean over {seeds} seeds.")
    return loss_plot, acc_plot


def solve_c(sheet: Sheet) -> None:
    record = sheet.measured(NAME, "The per-epoch curves of the three runs, averaged over the "
                                  "seeds, and each run's final training and validation "
                                  "accuracy per seed.")
    r = record["results"]
    loss_plot, acc_plot = _plots(r)
    sheet.figure(loss_plot)
    sheet.figure(acc_plot)
    runs = [run for run in RUNS if run in r["runs"]]
    seeds = r["seeds"]
    rows = []
    for run in runs:
        mean, final = r["runs"][run]["mean"], r["runs"][run]["final"]
        rows.append((RUNS[run], f"{mean['train_acc']:.3f}", f"{mean['val_acc']:.3f}",
                     f"{mean['acc_gap']:.3f}")
                    + tuple(f"{g:.3f}" for g in final["acc_gap"]))
    sheet.table(["run", "train accuracy", "validation accuracy", "gap (mean)"]
                + [f"gap, seed {s}" for s in seeds], rows,
                caption=f"Accuracy after the last epoch: means over the {len(seeds)} seeds, "
                        "and the gap (training minus validation accuracy) of each seed. "
                        "Training accuracy is measured on the clean training images.")
    sheet.numeric([r["runs"][run]["mean"]["acc_gap"] for run in runs],
                  [_mean(r["runs"][run]["final"]["acc_gap"]) for run in runs], tol=STORED,
                  why="mean accuracy gap of " + ", ".join(f"'{run}'" for run in runs)
                      + " (stored means)",
                  method="the mean of the stored per-seed gaps, recomputed")
    sheet.numeric([r["runs"][run]["curves"]["val_acc"][-1] for run in runs],
                  [_mean(r["runs"][run]["final"]["val_acc"]) for run in runs], tol=STORED,
                  why="last point of each run's mean validation-accuracy curve",
                  method="the mean of the stored per-seed final validation accuracies")
    ordered = sorted(runs, key=lambda run: r["runs"][run]["mean"]["acc_gap"])
    sheet.text("Ordered by mean gap, smallest first: "
               + ", ".join(f"'{run}' ({r['runs'][run]['mean']['acc_gap']:.3f})"
                           for run in ordered) + ".")
    plain, aug = r["runs"]["plain"]["curves"], r["runs"]["augmented"]["curves"]
    near = {run: _first_epoch(r["runs"][run]["curves"]["val_acc"],
                              NEAR * r["runs"][run]["curves"]["val_acc"][-1]) for run in runs}
    slower = ("later" if near["augmented"] > near["plain"] else
              "earlier" if near["augmented"] < near["plain"] else "at the same epoch")
    sheet.text(f"Each run's mean validation accuracy first reaches {NEAR:.0%} of its final "
               "value at epoch " + ", ".join(f"{near[run]} ('{run}')" for run in runs)
               + f": with augmentation the network gets there {slower} than without.")
    above = aug["train_loss"][-1] > plain["train_loss"][-1]
    sheet.text(f"On the clean training images the augmented network's loss ends at "
               f"{aug['train_loss'][-1]:.4f}, " + ("above" if above else "not above")
               + f" the plain network's {plain['train_loss'][-1]:.4f}"
               + (": trained on shifted and jittered variants, it does not drive the loss "
                  "on the exact training images as far down." if above else "."))


def solve_d(sheet: Sheet) -> None:
    record = sheet.measured(NAME, "The final accuracy gaps and losses of part (c), compared "
                                  "between 'plain' and 'augmented' seed by seed.")
    r = record["results"]
    seeds, val_size = r["seeds"], r["val_size"]
    plain, aug = r["runs"]["plain"], r["runs"]["augmented"]
    pm, am = plain["mean"], aug["mean"]
    n = len(seeds)
    gap_change = am["acc_gap"] - pm["acc_gap"]
    per_seed = [a - p for a, p in zip(aug["final"]["acc_gap"], plain["final"]["acc_gap"])]
    smaller = sum(d < 0 for d in per_seed)
    verdict = ("shrank" if gap_change < 0 else "did not shrink")
    sheet.text(f"Averaged over the {n} seeds, augmentation {verdict} the accuracy gap: it "
               f"{_changed(gap_change, 'grew', 'fell')}, from {pm['acc_gap']:.3f} ('plain') "
               f"to {am['acc_gap']:.3f} ('augmented'). It was smaller with augmentation in "
               f"{smaller} of {n} seeds; the per-seed changes run from {min(per_seed):+.3f} to "
               f"{max(per_seed):+.3f}.")

    def correct(run: dict[str, Any]) -> int:
        return sum(round(a * val_size) for a in run["final"]["val_acc"])

    images = correct(aug) - correct(plain)
    sheet.numeric(round(r["effect"]["val_acc_change"] * val_size * n), images,
                  why=f"validation images classified correctly by 'augmented' minus 'plain', "
                      f"over all {n} seeds (from the stored mean change of validation "
                      f"accuracy × {val_size} × {n})",
                  method=f"per seed, the stored validation accuracy × {val_size} (a count of "
                         "images), summed and subtracted")
    sheet.text(f"In images: over the {n} seeds together, the augmented networks classify "
               f"{abs(images)} {'more' if images > 0 else 'fewer'} of the {n} × {val_size} "
               "validation images correctly than the plain ones."
               if images else
               f"In images: over the {n} seeds together, both runs classify the same number "
               f"of the {n} × {val_size} validation images correctly.")
    dt, dv = am["train_loss"] - pm["train_loss"], am["val_loss"] - pm["val_loss"]
    loss_gap = am["loss_gap"] - pm["loss_gap"]
    sheet.text(f"The loss gap (validation minus training loss) "
               f"{_changed(loss_gap, 'grew', 'shrank')}, from {pm['loss_gap']:.3f} to "
               f"{am['loss_gap']:.3f}: the training loss {_changed(dt, 'rose', 'fell')} and "
               f"the validation loss {_changed(dv, 'rose', 'fell')}"
               + (", so the loss gap narrowed because the training loss rose, not because "
                  "the validation loss fell." if loss_gap < 0 and dt > 0 and dv >= 0 else "."))
    spread = max(per_seed) - min(per_seed)
    sheet.text(f"The mean change of the accuracy gap ({gap_change:+.3f}) is "
               + ("smaller" if abs(gap_change) < spread else "not smaller")
               + f" in size than the spread of the per-seed changes ({spread:.3f}); one "
               f"validation image is {1 / val_size:.4f} of a seed's accuracy.")
    fits = am["train_acc"] == 1.0
    shift = record["config"]["variants"]["augmented"]["shift"]
    pixels = f"{shift} pixel" + ("" if shift == 1 else "s")
    reading = ("Reading: a gap between training and validation accuracy means the network "
               "fits details of its training images that do not carry over to new ones, i.e. "
               "it overfits. Augmentation replaces every training image by a random member of "
               "a family of label-preserving variants (part (b)), so memorising exact pixels "
               "stops paying off; the exercise expects the gap to shrink. ")
    if gap_change < 0:
        reading += ("In this scaled run it does, on average, as expected: the network sees a "
                    "new variant of each image at every epoch and fits the exact training "
                    "images less closely. ")
    else:
        reading += ("In this scaled run it does not"
                    + (", and the augmented network still classifies every clean training "
                       "image correctly in every seed" if fits else "")
                    + ". That is plausible here: the digits come as size-normalised bitmaps "
                    "averaged over blocks of pixels (the data set's own preprocessing), so "
                    "their position varies much less than an object's in a photograph and "
                    "the shifts that augmentation teaches the network to ignore are rare in "
                    "the validation images; and max pooling already gives the network some "
                    f"tolerance to shifts of {pixels}. ")
    reading += ("What the scaled run cannot show is the effect on CIFAR-10 as posed: tens of "
                "thousands of photographs whose objects appear at varying positions and "
                "orientations, where augmentation usually matters much more; that needs the "
                "measurement at full scale.")
    sheet.explain(reading, rests_on=["8.10(b): the crop positions and the augmentation used",
                                     "8.10(c): the measured gaps per seed",
                                     "8.10(d): the comparison above"])


PROBLEM = Problem(
    id="8.10", set="chapter8", order=10, title="Data augmentation",
    source="Chapter 8, exercise 8.10",
    statement="Measure what data augmentation does for a small CNN trained on CIFAR-10.",
    parts=(
        Part("a", "Train the small CNN of the chapter for 50 epochs with normalisation only.",
             solve_a, scope=EXPERIMENT),
        Part("b", "Train it again for 50 epochs with random crops of the padded image, "
                  "horizontal flips and colour jitter.", solve_b, scope=EXPERIMENT),
        Part("c", "Plot training loss and validation accuracy of both runs and report the "
                  "train/validation accuracy gap of each.", solve_c, scope=EXPERIMENT),
        Part("d", "What does the gap say about overfitting, and how does augmentation change "
                  "it?", solve_d, scope=EXPERIMENT),
    ),
)
