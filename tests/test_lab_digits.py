"""The digits lab: the mixup and residual-block listings against their formulas, Grad-CAM
against a hand computation, exact global pruning masks, and the shared data and augmentation
helpers (skipped without PyTorch or scikit-learn)."""

from __future__ import annotations

import ast
import math
from importlib import resources

import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed")
pytest.importorskip("sklearn", reason="scikit-learn not installed (the digits data set)")

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from derive.lab.experiments import _digits  # noqa: E402
from derive.lab.experiments.grad_cam import grad_cam, mass_in  # noqa: E402
from derive.lab.experiments.pruning import (global_masks, magnitude_masks,  # noqa: E402
                                            prunable, random_masks)
from derive.lab.listings.mixup import mixup_data, mixup_loss, sample_lam  # noqa: E402
from derive.lab.listings.resnet_blocks import (PostActivationBlock,  # noqa: E402
                                               PreActivationBlock, resnet)

pytestmark = pytest.mark.torch


# Mixup (exercise 8.12(a)(b)).

def test_mixup_data_is_a_convex_combination_with_partner_labels() -> None:
    b = 9
    # Example i is the constant image i + 1, so a mixed image names its partner.
    x = (torch.arange(b, dtype=torch.float64) + 1).view(b, 1, 1, 1).expand(b, 1, 3, 3)
    y = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6, 5])
    mixed, y_a, y_b, lam = mixup_data(x, y, alpha=0.4,
                                      generator=torch.Generator().manual_seed(7))
    assert isinstance(lam, float) and 0 < lam < 1
    assert torch.equal(y_a, y)
    partners = []
    for i in range(b):
        other = (mixed[i] - lam * x[i]) / (1 - lam)
        assert torch.allclose(other, other[0, 0, 0].expand_as(other), atol=1e-9)
        j = round(float(other[0, 0, 0])) - 1
        assert torch.allclose(mixed[i], lam * x[i] + (1 - lam) * x[j], atol=1e-12)
        assert int(y_b[i]) == int(y[j])
        partners.append(j)
    assert sorted(partners) == list(range(b))          # a permutation of the batch


def test_mixup_data_follows_its_generator() -> None:
    x, y = torch.randn(6, 1, 4, 4), torch.arange(6)
    one = mixup_data(x, y, 0.2, torch.Generator().manual_seed(3))
    two = mixup_data(x, y, 0.2, torch.Generator().manual_seed(3))
    assert torch.equal(one[0], two[0]) and torch.equal(one[2], two[2]) and one[3] == two[3]


def test_lambda_lies_in_the_open_interval_and_is_u_shaped() -> None:
    g = torch.Generator().manual_seed(0)
    lams = [sample_lam(0.2, g) for _ in range(2000)]
    assert all(0 < v < 1 for v in lams)
    assert abs(sum(lams) / len(lams) - 0.5) < 0.03          # symmetric: mean 1/2
    # Beta(0.2, 0.2) puts about a third of its mass in (0.1, 0.9), uniform 0.8.
    middle = sum(0.1 < v < 0.9 for v in lams) / len(lams)
    assert 0.25 < middle < 0.45
    assert sample_lam(0.0) == 1.0


def test_mixup_loss_matches_cross_entropy_and_a_hand_computation() -> None:
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(5, 4, generator=g, dtype=torch.float64)
    y_a = torch.tensor([0, 1, 2, 3, 0])
    y_b = torch.tensor([3, 3, 1, 0, 2])
    lam = 0.3
    got = mixup_loss(logits, y_a, y_b, lam)
    expected = lam * F.cross_entropy(logits, y_a) + (1 - lam) * F.cross_entropy(logits, y_b)
    assert torch.allclose(got, expected, rtol=0, atol=1e-12)
    logp = logits.log_softmax(dim=1)
    hand = -sum(lam * logp[i, y_a[i]] + (1 - lam) * logp[i, y_b[i]] for i in range(5)) / 5
    assert math.isclose(float(got), float(hand), rel_tol=1e-12)
    # Cross-entropy is linear in the target: the same as one mixed soft target.
    soft = lam * F.one_hot(y_a, 4).double() + (1 - lam) * F.one_hot(y_b, 4).double()
    assert torch.allclose(got, F.cross_entropy(logits, soft), atol=1e-12)


# Residual blocks (exercise 8.15(a)).

def _randomise_bn(module: nn.Module, g: torch.Generator) -> None:
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g, dtype=torch.float64))
            m.running_var.copy_(torch.rand(c, generator=g, dtype=torch.float64) + 0.5)
            with torch.no_grad():
                m.weight.copy_(torch.randn(c, generator=g, dtype=torch.float64))
                m.bias.copy_(torch.randn(c, generator=g, dtype=torch.float64))


def _bn(x: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                        training=False, eps=bn.eps)


def _conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    assert conv.bias is None and conv.kernel_size == (3, 3) and conv.padding == (1, 1)
    return F.conv2d(x, conv.weight, stride=conv.stride, padding=1)


@pytest.fixture
def blocks() -> tuple[PostActivationBlock, PreActivationBlock, torch.Tensor]:
    g = torch.Generator().manual_seed(5)
    torch.manual_seed(5)
    post, pre = PostActivationBlock(6).double().eval(), PreActivationBlock(6).double().eval()
    _randomise_bn(post, g)
    _randomise_bn(pre, g)
    return post, pre, torch.randn(2, 6, 5, 5, generator=g, dtype=torch.float64)


def test_blocks_compute_their_formulas(blocks) -> None:
    post, pre, x = blocks
    with torch.no_grad():
        # y = ReLU(BN(Conv(ReLU(BN(Conv(x))))) + x)
        h = F.relu(_bn(_conv(x, post.conv1), post.bn1))
        assert torch.allclose(post(x), F.relu(_bn(_conv(h, post.conv2), post.bn2) + x),
                              rtol=0, atol=1e-12)
        # y = Conv(ReLU(BN(Conv(ReLU(BN(x)))))) + x
        h = _conv(F.relu(_bn(x, pre.bn1)), pre.conv1)
        assert torch.allclose(pre(x), _conv(F.relu(_bn(h, pre.bn2)), pre.conv2) + x,
                              rtol=0, atol=1e-12)


def test_zeroed_last_conv_leaves_identity_or_relu(blocks) -> None:
    post, pre, x = blocks
    with torch.no_grad():
        pre.conv2.weight.zero_()
        assert torch.equal(pre(x), x)                      # the shortcut alone, exactly
        post.conv2.weight.zero_()
        post.bn2.reset_parameters()                        # BN(0) = 0 with fresh statistics
        assert torch.equal(post(x), F.relu(x))             # the ReLU still acts on x
        assert not torch.equal(post(x), x)


def test_strided_blocks_project_the_shortcut() -> None:
    for block in (PostActivationBlock, PreActivationBlock):
        b = block(8, in_channels=4, stride=2).eval()
        assert b(torch.randn(3, 4, 8, 8)).shape == (3, 8, 4, 4)


@pytest.mark.parametrize("depth", [8, 20, 56])
@pytest.mark.parametrize("block", [PostActivationBlock, PreActivationBlock])
def test_resnet_depth_counts_its_layers(block: type[nn.Module], depth: int) -> None:
    net = resnet(block, depth, channels=4)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    three = [m for m in convs if m.kernel_size == (3, 3)]
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert len(three) + len(linears) == depth
    assert len(linears) == 1
    assert [m.kernel_size for m in convs if m not in three] == [(1, 1), (1, 1)]
    assert sum(isinstance(m, block) for m in net.modules()) == 3 * (depth - 2) // 6
    assert net.eval()(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_resnet_rejects_depths_not_of_the_form_6n_plus_2() -> None:
    for depth in (2, 10, 55):
        with pytest.raises(ValueError):
            resnet(PreActivationBlock, depth)


# Grad-CAM (exercise 8.11).

class _Tiny(nn.Module):
    """A 3x3 stride-2 conv and ReLU (8x8 -> 2 maps of 4x4), then a linear layer on the
    flattened maps."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, stride=2, padding=1)
        self.fc = nn.Linear(32, 3)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x))

    def classify(self, a: torch.Tensor) -> torch.Tensor:
        return self.fc(a.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))


def _upsample_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """Bilinear interpolation along one axis with half-pixel centres (align_corners=False)."""
    m = torch.zeros(n_out, n_in, dtype=torch.float64)
    for i in range(n_out):
        s = max((i + 0.5) * n_in / n_out - 0.5, 0.0)
        i0 = int(math.floor(s))
        i1 = min(i0 + 1, n_in - 1)
        w = s - i0
        m[i, i0] += 1 - w
        m[i, i1] += w
    return m


def test_grad_cam_equals_a_hand_computation() -> None:
    torch.manual_seed(2)
    model = _Tiny().double()
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    target = torch.tensor([2, 0])
    cams, scores = grad_cam(model, x, target)
    up = _upsample_matrix(4, 8)
    for b in range(2):
        a = F.relu(F.conv2d(x[b:b + 1], model.conv.weight, model.conv.bias, stride=2,
                            padding=1))[0]                       # (2, 4, 4)
        # The score is linear in the maps, so its gradient is the class's weight row,
        # laid out as the maps; each channel's weight is that gradient's mean.
        grad = model.fc.weight[target[b]].view(2, 4, 4)
        alpha = grad.mean(dim=(1, 2))
        cam = torch.clamp(alpha[0] * a[0] + alpha[1] * a[1], min=0)
        assert torch.allclose(cams[b], up @ cam @ up.T, atol=1e-12)
        assert torch.allclose(scores[b], model(x[b:b + 1])[0].detach(), atol=1e-12)


def test_marker_mass_is_the_share_of_the_region() -> None:
    cam = torch.zeros(8, 8)
    cam[0:2, 0:2] = 1.0
    cam[5, 5] = 4.0
    assert float(mass_in(cam, slice(0, 2), slice(0, 2))) == 0.5
    assert float(mass_in(torch.zeros(8, 8), slice(0, 2), slice(0, 2))) == 0.0


# Pruning (exercise 8.27).

@pytest.mark.parametrize("sparsity", [0.5, 0.7, 0.9])
def test_global_masks_keep_exactly_the_requested_fraction(sparsity: float) -> None:
    g = torch.Generator().manual_seed(4)
    scores = {"a": torch.rand(3, 5, generator=g), "b": torch.rand(7, generator=g),
              "c": torch.rand(2, 2, 2, generator=g)}
    n = sum(s.numel() for s in scores.values())
    masks = global_masks(scores, sparsity)
    assert int(sum(m.sum() for m in masks.values())) == n - round(sparsity * n)
    kept = torch.cat([s[m.bool()] for s, m in zip(scores.values(), masks.values())])
    pruned = torch.cat([s[~m.bool()] for s, m in zip(scores.values(), masks.values())])
    assert kept.min() > pruned.max()                    # the largest scores survive
    # Ties (all scores equal) still give the exact count.
    flat = {k: torch.ones_like(v) for k, v in scores.items()}
    assert int(sum(m.sum() for m in global_masks(flat, sparsity).values())) \
        == n - round(sparsity * n)


def test_magnitude_and_random_masks_on_the_simple_cnn() -> None:
    model = _digits.build(lambda: _digits.SimpleCNN((4, 8)), 0)
    weights = prunable(model)
    assert list(weights) == ["conv1", "conv2", "head"]
    n = sum(w.numel() for w in weights.values())
    for masks in (magnitude_masks(weights, 0.7),
                  random_masks(weights, 0.7, torch.Generator().manual_seed(1))):
        assert int(sum(m.sum() for m in masks.values())) == n - round(0.7 * n)
    masks = magnitude_masks(weights, 0.7)
    kept = torch.cat([w.detach().abs()[m.bool()] for w, m in zip(weights.values(),
                                                                  masks.values())])
    dropped = torch.cat([w.detach().abs()[~m.bool()] for w, m in zip(weights.values(),
                                                                      masks.values())])
    assert kept.min() >= dropped.max()


# Shared data and augmentation helpers.

def test_split_is_fixed_stratified_and_disjoint() -> None:
    one, two = _digits.split(0, train_per_class=10), _digits.split(0)
    assert torch.equal(one.x_val, two.x_val)               # independent of the subset
    assert torch.bincount(one.y_train).tolist() == [10] * 10
    assert len(two.y_train) + len(two.y_val) == 1797
    assert one.x_train.shape[1:] == (1, 8, 8) and one.x_train.dtype == torch.float32
    assert float(one.x_train.min()) >= 0 and float(one.x_train.max()) <= 1
    assert not torch.equal(_digits.split(1).x_val, two.x_val)


def test_shift_moves_whole_images_by_at_most_the_padding() -> None:
    x = torch.rand(16, 1, 8, 8)
    moved = _digits.shift(x, torch.Generator().manual_seed(0), pad=1)
    for b in range(16):
        padded = F.pad(x[b, 0], (1, 1, 1, 1))
        hits = [(r, c) for r in range(3) for c in range(3)
                if torch.equal(padded[r:r + 8, c:c + 8], moved[b, 0])]
        assert hits, "every shifted image is a crop of the padded one"


# The listings are printed whole: short lines, PyTorch and the standard library only.

@pytest.mark.parametrize("name", ["mixup", "resnet_blocks"])
def test_listing_is_printable_and_self_contained(name: str) -> None:
    text = (resources.files("derive.lab.listings") / f"{name}.py").read_text("utf-8")
    long = [i + 1 for i, line in enumerate(text.splitlines()) if len(line) > 80]
    assert long == [], f"lines over 80 characters: {long}"
    tree = ast.parse(text)
    assert ast.get_docstring(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots = {(node.module or "").split(".")[0]}
        else:
            continue
        assert roots <= {"torch", "typing", "math", "__future__"}, roots
