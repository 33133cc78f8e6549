"""derive.analyze on torchvision's classification networks (no weights).

For each family: every derived shape against the network run on the meta device at 5+ input
sides (the smallest valid one, non-multiples of the total stride, a multiple), the parameter
total against ``sum(p.numel())``, and for ResNet-18 the receptive field of an inner feature
map against the gradient support of one feature on a small input.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from derive.analysis import analyze  # noqa: E402
from derive.analysis.sizes import evaluate  # noqa: E402

pytestmark = [pytest.mark.vision, pytest.mark.torch]

# One network per family (the fx-traceable classification families).  Built on the meta
# device where the constructor allows it: no memory, no initialisation time.
FAMILIES = {
    "resnet50": "H ≡ 0 (mod 32)", "vgg11_bn": "H ≡ 0 (mod 32)",
    "mobilenet_v2": "H ≡ 0 (mod 32)", "mobilenet_v3_small": "H ≡ 0 (mod 32)",
    "efficientnet_b0": "H ≡ 0 (mod 32)", "densenet121": "H ≡ 0 (mod 32)",
    "shufflenet_v2_x0_5": "H ≡ 0 (mod 32)", "regnet_y_400mf": "H ≡ 0 (mod 32)",
    "convnext_tiny": "H ≡ 0 (mod 32)", "mnasnet0_5": "H ≡ 0 (mod 32)",
    "googlenet": "H ≡ 0 (mod 32)", "squeezenet1_1": "no H", "alexnet": "no H",
    "resnext50_32x4d": "H ≡ 0 (mod 32)",
}

# Not fully modelled, with the reason (the rows name the operation).
UNSUPPORTED = {
    "vit_b_16": "MultiheadAttention",
    "swin_t": "shifted_window_attention",
    "maxvit_t": "einsum",
}


def build(name: str) -> torch.nn.Module:
    try:
        with torch.device("meta"):
            return torchvision.models.get_model(name, weights=None).eval()
    except Exception:   # RegNet computes its widths with tensors at construction
        return torchvision.models.get_model(name, weights=None).eval()


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_shapes_params_and_conditions(name: str) -> None:
    model = build(name)
    a = analyze(model, ("C", "H", "W"), name=name)
    assert a.method == "fx" and not a.not_modelled, [r.name for r in a.not_modelled]
    total = sum(p.numel() for p in model.parameters())
    # GoogLeNet's auxiliary classifiers run only in training: their parameters are unused
    unused = sum(p.numel() for n, p in model.named_parameters() if n.startswith("aux"))
    assert a.params == total - unused and a.unused_params == unused
    checks = a.checks
    assert checks.ok, checks.shape_failures[:3]
    assert len(checks.sizes) >= 5 and checks.shape_comparisons >= 5 * 20
    assert any(s % 32 for s in checks.sizes)          # sides that are not multiples
    assert a.conditions.axes[0].exact_text == FAMILIES[name]
    assert "refuted" not in checks.symbolic


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_rows_name_the_operation(name: str) -> None:
    a = analyze(build(name), ("C", "H", "W"), check=False)
    assert any(UNSUPPORTED[name] in (r.op + r.name) for r in a.not_modelled)
    assert a.macs is None


def test_resnet50_flops_at_224_match_flop_counter() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    model = build("resnet50")
    a = analyze(model, ("C", "H", "W"), check=False)
    H, W = a.symbols
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.empty(1, 3, 224, 224, device="meta"))
    assert 2 * int(a.macs.subs({H: 224, W: 224})) == counter.get_total_flops()


def test_resnet18_receptive_field_matches_gradient_support() -> None:
    from torchvision.models.feature_extraction import create_feature_extractor

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval().double()
    for p in model.parameters():
        torch.nn.init.uniform_(p, 0.01, 0.1)        # positive: no cancellation, ReLUs open
    a = analyze(model, ("C", "H", "W"), check=False)
    row = [r for r in a.rows if r.name == "layer1.0.relu"][1]   # its second call
    rf = row.fields[0]
    side = 96
    H, W = a.symbols
    out_side = evaluate(row.shape[-1], {H: side, W: side})
    f = out_side // 2
    extractor = create_feature_extractor(model, {"layer1.0.relu_1": "out"})
    x = torch.rand(1, 3, side, side, dtype=torch.float64, requires_grad=True)
    extractor(x)["out"][0, 0, f, f].backward()
    nz = x.grad[0].abs().sum(0).nonzero()
    first = f * rf.jump - rf.start
    expected = (max(first, 0), min(first + rf.size - 1, side - 1))
    assert (int(nz[:, 0].min()), int(nz[:, 0].max())) == expected
    assert (int(nz[:, 1].min()), int(nz[:, 1].max())) == expected


CATALOG_MODELS = ("alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "efficientnet_b0")


@pytest.mark.parametrize("name", CATALOG_MODELS)
def test_the_catalog_summary_agrees_with_the_analysis_of_the_module(name: str) -> None:
    # Two independent derivations of the same network: the book's catalog spec (written by
    # hand in torchvision's layout, walked by derive.arch.summary) and the analysis of
    # torchvision's own module traced by fx.  Parameters, multiply-adds at 224 and the
    # receptive field of the last feature map must agree.
    from derive.arch.catalog import architecture, names
    from derive.arch.summary import summarize

    assert name in names()
    summary = summarize(architecture(name), convention="mac", input_size=224)
    with torch.device("meta"):
        model = getattr(torchvision.models, name)(weights=None)
    result = analyze(model, (3, "H", "W"), check=False)
    H, W = result.symbols
    assert result.params == summary.params
    assert int(result.macs.subs({H: 224, W: 224})) == summary.flops
    rf = summary.receptive_field
    # a module called twice (ResNet's relu) has a row per call: the last is the block's output
    fields = [r.fields[0] for r in result.rows if r.name == summary.rf_layer]
    assert fields, f"no row named {summary.rf_layer}"
    if "squeeze-excitation" in summary.rf_note:
        # the catalog follows the convolutional path only (its note says so); through the
        # gates' global pooling every output depends on the whole input
        assert fields[-1] == "global"
    else:
        assert (fields[-1].size, fields[-1].jump, fields[-1].start) == (rf.size, rf.jump,
                                                                         rf.start)
