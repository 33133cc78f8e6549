"""Exercise 8.11: Grad-CAM for the SimpleCNN of the augmentation experiment.

Grad-CAM for class c: take the last conv block's feature maps A_k (here 4x4, before their
pooling) and the gradients of the class score y_c with respect to them; weight each channel
by the spatial mean of its gradient, alpha_k = mean_ij dy_c/dA_k[i, j]; the map is
ReLU(sum_k alpha_k A_k), upsampled bilinearly to the 8x8 input.

(a)-(b) five correctly classified validation images of different classes and their maps for
the predicted class; (c) one image's maps for the predicted class and for the runner-up class
(the highest-scoring other class whose map is not all zero), with their correlation and the
distance between them as distributions.  (d) A planted shortcut: a second model is trained on
data in which a bright 2x2 marker in the top-left corner (where the digits' mean intensity is
0.036 on the [0, 1] scale) appears on every training image of one class and on no other.  On
validation images of the other classes the results report how often adding the marker turns
the prediction into the marked class, and which share of the map (for the predicted class)
falls in the marker's square, against the marker's share of the area (1/16) and against the
same images without the marker; on marked images of the marked class the model is right, and
the results show how much of the map sits on the marker there.  The model of (a)-(c), never
shown the marker, is the control.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from derive.lab.experiments import _digits, augmentation

NAME = "grad-cam"
EXERCISES = ("8.11(a)", "8.11(b)", "8.11(c)", "8.11(d)")
TITLE = "Grad-CAM on the digits SimpleCNN, and a planted corner marker the model learns to use"

QUICK: dict[str, Any] = {
    **{k: v for k, v in augmentation.QUICK.items() if k not in ("replicates", "variants")},
    "variants": {"augmented": augmentation.VARIANTS["augmented"]}, "variant": "augmented",
    "classes": [0, 2, 4, 6, 9], "contrast_example": 0,
    "marker": {"class": 3, "rows": [0, 2], "cols": [0, 2], "value": 1.0},
    "marker_examples": 3,
}
FULL: dict[str, Any] = {
    **{k: v for k, v in augmentation.FULL.items() if k not in ("replicates",)},
    "variant": "augmented", "classes": [0, 1, 3, 5, 7], "contrast_example": 0,
    "marker": {"class": 3, "rows": [0, 4], "cols": [0, 4], "value": 1.0},
    "marker_examples": 3,
}
SCALING = ("scikit-learn's digits instead of CIFAR-10: the model is the augmentation "
           "experiment's first augmented run (100 training images, 50 epochs), so the feature "
           "maps Grad-CAM reads are 4x4 and the maps are upsampled to 8x8; the suspicious "
           "region of (d) is planted (a 2x2 marker on one class's training images) instead of "
           "searched for.  The full configuration needs the CIFAR-10 data, which the lab does "
           "not provide.")

TOLERANCES = [
    ("*.image.*", 0),
    ("*heatmap*", 0.05),
    ("*fraction*", 0.05),
    ("*rate*", 0.03),
    ("*acc*", 0.02),
    ("*probability*", 0.02),
    ("*correlation*", 0.05),
    ("*distance*", 0.05),
    ("*", 0),
]


def grad_cam(model: nn.Module, x: torch.Tensor, target: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM maps (B, H, W) of ``x`` (B, C, H, W) for classes ``target`` (B,), and the
    scores (B, classes).  ``model`` has ``features`` (input to the last conv feature maps)
    and ``classify`` (feature maps to class scores); it is used in evaluation mode, so every
    example's score depends on that example alone and one backward pass of the summed scores
    gives each example its own gradient."""
    model.eval()
    with torch.no_grad():
        maps = model.features(x)
    maps.requires_grad_(True)
    scores = model.classify(maps)
    chosen = scores.gather(1, target.view(-1, 1)).sum()
    (grads,) = torch.autograd.grad(chosen, maps)
    weights = grads.mean(dim=(2, 3), keepdim=True)            # alpha_k, (B, K, 1, 1)
    cam = F.relu((weights * maps).sum(dim=1, keepdim=True)).detach()
    cam = F.interpolate(cam, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False)
    return cam[:, 0], scores.detach()


def normalised(cam: torch.Tensor) -> torch.Tensor:
    """``cam`` scaled to a maximum of 1 (left at 0 where it is 0 everywhere)."""
    top = cam.amax(dim=(-2, -1), keepdim=True)
    return torch.where(top > 0, cam / top.clamp_min(1e-30), cam)


def mass_in(cam: torch.Tensor, rows: slice, cols: slice) -> torch.Tensor:
    """The fraction of each map's total in the region (0 for an all-zero map)."""
    total = cam.sum(dim=(-2, -1))
    part = cam[..., rows, cols].sum(dim=(-2, -1))
    return torch.where(total > 0, part / total.clamp_min(1e-30), torch.zeros_like(total))


def peak_in(cam: torch.Tensor, rows: slice, cols: slice) -> torch.Tensor:
    """Whether each map's largest value lies in the region (first maximum in row-major
    order; ``False`` for an all-zero map)."""
    flat = cam.flatten(-2)
    where = flat.argmax(dim=-1)
    width = cam.shape[-1]
    r, c = where // width, where % width
    inside = (r >= rows.start) & (r < rows.stop) & (c >= cols.start) & (c < cols.stop)
    return inside & (flat.amax(dim=-1) > 0)


def _grid(t: torch.Tensor) -> list[list[float]]:
    return [[float(v) for v in row] for row in t]


def _mean(t: torch.Tensor) -> float | None:
    return float(t.double().mean()) if t.numel() else None


def _correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten().double(), b.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()))


def _examples(model: nn.Module, data: _digits.Split, classes: list[int]) -> dict[str, Any]:
    """(a)-(b): per class, the first validation image (in the data set's order) the model
    classifies correctly, and its map for the predicted class."""
    with torch.no_grad():
        pred = model(data.x_val).argmax(1)
    picked = []
    for c in classes:
        hits = torch.nonzero((data.y_val == c) & (pred == c)).flatten()
        if len(hits) == 0:
            raise RuntimeError(f"no correctly classified validation image of class {c}")
        picked.append(int(hits[0]))
    idx = torch.tensor(picked)
    x, y = data.x_val[idx], data.y_val[idx]
    cams, scores = grad_cam(model, x, y)
    probs = scores.softmax(1)
    return {"examples": [
        {"val_index": picked[i], "label": int(y[i]), "predicted": int(scores[i].argmax()),
         "probability": float(probs[i, y[i]]), "image": _grid(x[i, 0]),
         "heatmap": _grid(normalised(cams[i]))}
        for i in range(len(picked))]}, idx


def _contrast(model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    """(c): one image's map for its predicted class and for the highest-scoring other class
    whose map is not all zero."""
    x = x.unsqueeze(0)
    with torch.no_grad():
        scores = model(x)[0]
    order = [int(c) for c in torch.argsort(scores, descending=True, stable=True)]
    predicted = order[0]
    cam_p, _ = grad_cam(model, x, torch.tensor([predicted]))
    other, cam_o = None, None
    for c in order[1:]:
        cam, _ = grad_cam(model, x, torch.tensor([c]))
        if float(cam.sum()) > 0:
            other, cam_o = c, cam
            break
    if other is None:
        raise RuntimeError("every other class has an all-zero Grad-CAM map")
    p = cam_p[0].double() / cam_p[0].sum()
    o = cam_o[0].double() / cam_o[0].sum()
    probs = scores.softmax(0)
    return {
        "predicted": predicted, "other": other,
        "probability": {"predicted": float(probs[predicted]), "other": float(probs[other])},
        "heatmap": {"predicted": _grid(normalised(cam_p[0])),
                    "other": _grid(normalised(cam_o[0]))},
        "correlation": _correlation(cam_p[0], cam_o[0]),
        # Half the L1 distance between the maps as distributions: 0 for maps of the same
        # shape, 1 for maps with disjoint supports.
        "distance": float(0.5 * (p - o).abs().sum()),
    }


def _with_marker(x: torch.Tensor, marker: dict[str, Any]) -> torch.Tensor:
    out = x.clone()
    out[..., slice(*marker["rows"]), slice(*marker["cols"])] = float(marker["value"])
    return out


def _marker(config: dict[str, Any], data: _digits.Split, clean_model: nn.Module,
            progress: _digits.Progress, done: int, total: int) -> dict[str, Any]:
    """(d): a model trained with the marker on exactly one class's training images."""
    marker = config["marker"]
    c = int(marker["class"])
    rows, cols = slice(*marker["rows"]), slice(*marker["cols"])
    planted = _digits.Split(
        torch.where((data.y_train == c).view(-1, 1, 1, 1),
                    _with_marker(data.x_train, marker), data.x_train),
        data.y_train, data.x_val, data.y_val)
    model, history, _ = augmentation.train_variant(
        config, config["variant"], int(config["seed"]), planted, progress=progress, done=done,
        total=total)

    others = data.y_val != c
    x_clean, y_clean = data.x_val[others], data.y_val[others]
    x_marked = _with_marker(x_clean, marker)
    own = data.y_val == c
    x_own = _with_marker(data.x_val[own], marker)
    with torch.no_grad():
        pred_clean = model(x_clean).argmax(1)
        pred_marked = model(x_marked).argmax(1)
        pred_own = model(x_own).argmax(1)
        control_marked = clean_model(x_marked).argmax(1)
    cam_marked, _ = grad_cam(model, x_marked, pred_marked)
    cam_clean, _ = grad_cam(model, x_clean, pred_clean)
    cam_own, _ = grad_cam(model, x_own, pred_own)
    cam_control, _ = grad_cam(clean_model, x_marked, control_marked)
    flipped = pred_marked == c
    area = (rows.stop - rows.start) * (cols.stop - cols.start) / float(x_clean[0, 0].numel())

    # Examples: the first few (in the data set's order) marked images that the clean
    # version does not put in class c but the marked version does.
    chosen = torch.nonzero(flipped & (pred_clean != c)).flatten()[:int(config["marker_examples"])]
    examples = []
    for i in chosen.tolist():
        examples.append({
            "label": int(y_clean[i]), "predicted_clean": int(pred_clean[i]),
            "predicted_marked": int(pred_marked[i]),
            "image_clean": _grid(x_clean[i, 0]), "image_marked": _grid(x_marked[i, 0]),
            "heatmap_clean": _grid(normalised(cam_clean[i])),
            "heatmap_marked": _grid(normalised(cam_marked[i])),
            "marker_fraction_clean": float(mass_in(cam_clean[i], rows, cols)),
            "marker_fraction_marked": float(mass_in(cam_marked[i], rows, cols)),
        })
    return {
        "class": c, "marker_area_fraction": area,
        "val_acc_clean": history["val_acc"][-1],
        "train_acc": history["train_acc"][-1],
        "others": {
            "count": int(others.sum()),
            # How often a validation image of another class is called class c.
            "rate_predicted_marker_class": {"clean": _mean((pred_clean == c).double()),
                                            "marked": _mean(flipped.double()),
                                            "marked_control_model": _mean(
                                                (control_marked == c).double())},
            # Share of the map (for the predicted class) inside the marker's square.
            "marker_fraction": {
                "clean": _mean(mass_in(cam_clean, rows, cols)),
                "marked": _mean(mass_in(cam_marked, rows, cols)),
                "marked_flipped": _mean(mass_in(cam_marked[flipped], rows, cols)),
                "marked_control_model": _mean(mass_in(cam_control, rows, cols)),
            },
            # How often the map's peak lies inside the marker's square.
            "peak_on_marker_rate": {
                "clean": _mean(peak_in(cam_clean, rows, cols).double()),
                "marked": _mean(peak_in(cam_marked, rows, cols).double()),
                "marked_flipped": _mean(peak_in(cam_marked[flipped], rows, cols).double()),
                "marked_control_model": _mean(peak_in(cam_control, rows, cols).double()),
            },
        },
        "own_class": {
            "count": int(own.sum()),
            "marked_acc": _mean((pred_own == c).double()),
            "marker_fraction_marked": _mean(mass_in(cam_own, rows, cols)),
            "peak_on_marker_rate_marked": _mean(peak_in(cam_own, rows, cols).double()),
        },
        "examples": examples,
    }


def run(config: dict[str, Any], progress: _digits.Progress) -> dict[str, Any]:
    if config.get("dataset", "digits") != "digits":
        _digits.cifar10_missing(NAME)
    epochs = int(config["epochs"])
    model, history, data = augmentation.train_variant(
        config, config["variant"], int(config["seed"]), progress=progress, total=2 * epochs)
    picked, idx = _examples(model, data, [int(c) for c in config["classes"]])
    k = int(config["contrast_example"])
    contrast = {"example": k, **_contrast(model, data.x_val[idx[k]])}
    marker = _marker(config, data, model, progress, epochs, 2 * epochs)
    return {"model": {"variant": config["variant"], "val_acc": history["val_acc"][-1],
                      "train_acc": history["train_acc"][-1]},
            **picked, "contrast": contrast, "marker": marker}
