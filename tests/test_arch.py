"""Architecture specs and summaries, checked without PyTorch.

Independent references used here (numbers only):
* parameter counts and GFLOPS (which count multiply-adds) from torchvision's model
  documentation (the "Params" and "GFLOPS" columns of the classification weights table);
* receptive fields of the TF-Slim VGG-16 and AlexNet-v2 from Araujo et al., "Computing
  Receptive Fields of Convolutional Neural Networks", Distill 2019;
* block counts from the architecture papers.
The PyTorch cross-checks (independent module construction) are in test_arch_torch.py.
"""

from __future__ import annotations

import json
from dataclasses import replace
from fractions import Fraction

import pytest

from derive.arch import scaling
from derive.arch.catalog import (
    architecture, efficientnet, make_divisible, mobilenet_v2, names, resnet, vgg,
)
from derive.arch.spec import ArchLayer, Architecture, SqueezeExcitation
from derive.arch.summary import summarize
from derive.cli import main
from derive.conv.layers import Layer, Merge
from derive.errors import ConfigurationError, InputError

# torchvision documentation: learnable parameters and GFLOPS (multiply-adds) at 224x224
TORCHVISION_DOCS = {
    "alexnet": (61_100_840, 0.71),
    "vgg16": (138_357_544, 15.47),
    "resnet18": (11_689_512, 1.81),
    "resnet50": (25_557_032, 4.09),
    "mobilenet_v2": (3_504_872, 0.30),
    "efficientnet_b0": (5_288_548, 0.39),
}

# torchvision documentation: EfficientNet B1..B7 parameter counts
TORCHVISION_EFFICIENTNET_PARAMS = {
    "b1": 7_794_184, "b2": 9_109_994, "b3": 12_233_232, "b4": 19_341_616,
    "b5": 30_389_784, "b6": 43_040_704, "b7": 66_347_960,
}


@pytest.fixture(scope="module")
def summaries() -> dict:
    return {n: summarize(architecture(n), convention="mac") for n in names()}


def test_catalog_names() -> None:
    assert names() == ("alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2",
                       "efficientnet_b0")


@pytest.mark.parametrize("name", list(TORCHVISION_DOCS))
def test_params_and_flops_match_torchvision_docs(summaries: dict, name: str) -> None:
    params, gflops = TORCHVISION_DOCS[name]
    s = summaries[name]
    assert s.params == params
    assert round(s.flops / 1e9, 2) == gflops


def test_flop2_is_twice_mac(summaries: dict) -> None:
    s2 = summarize(architecture("resnet50"), convention="flop2")
    assert s2.flops == 2 * summaries["resnet50"].flops
    assert s2.flops_all == 2 * summaries["resnet50"].flops_all
    assert s2.params == summaries["resnet50"].params


@pytest.mark.parametrize("name, shape", [
    ("alexnet", (256, 6, 6)), ("vgg16", (512, 7, 7)), ("resnet18", (512, 7, 7)),
    ("resnet50", (2048, 7, 7)), ("mobilenet_v2", (1280, 7, 7)), ("efficientnet_b0", (1280, 7, 7)),
])
def test_last_feature_map_and_logits(summaries: dict, name: str, shape: tuple) -> None:
    s = summaries[name]
    last_feature = [r for r in s.rows if r.rf is not None][-1]
    assert last_feature.shape == shape
    assert s.rows[-1].shape == (1000,)
    assert s.receptive_field.jump == 32


def _vgg_tfslim_names(rows) -> dict[str, object]:
    """Name VGG rows the TF-Slim way: conv{block}_{i}, pool{block}."""
    out, block, i = {}, 1, 0
    for r in rows:
        if r.kind == "conv":
            i += 1
            out[f"conv{block}_{i}"] = r.rf
        elif r.kind == "maxpool":
            out[f"pool{block}"] = r.rf
            block, i = block + 1, 0
    return out


def test_vgg16_receptive_fields_match_araujo(summaries: dict) -> None:
    published = [("conv1_1", 3, 1, 1), ("pool1", 6, 2, 2), ("conv2_1", 10, 2, 4),
                 ("pool2", 16, 4, 6), ("conv3_1", 24, 4, 10), ("conv3_2", 32, 4, 14),
                 ("pool3", 44, 8, 18), ("conv4_1", 60, 8, 26), ("conv4_2", 76, 8, 34),
                 ("pool4", 100, 16, 42), ("conv5_1", 132, 16, 58), ("conv5_2", 164, 16, 74),
                 ("pool5", 212, 32, 90)]
    ours = _vgg_tfslim_names(summaries["vgg16"].rows)
    for name, size, jump, start in published:
        assert ours[name].as_tuple() == (size, jump, start), name
    assert summaries["vgg16"].receptive_field.as_tuple() == (212, 32, 90)


def test_alexnet_receptive_field_vs_alexnet_v2() -> None:
    # TF-Slim's alexnet_v2 has the same geometry except conv1 is unpadded; with that one
    # change the derived fields must equal the published ones, and the padding of 2 shifts
    # only the start (by 2 input pixels).
    arch = architecture("alexnet")
    unpadded = replace(arch, features=(replace(arch.features[0], padding=0),) + arch.features[1:])
    rows = [r for r in summarize(unpadded, convention="mac").rows
            if r.kind in ("conv", "maxpool")]
    published = [(11, 4, 0), (19, 8, 0), (51, 8, 16), None, (99, 16, 32), (131, 16, 48),
                 (163, 16, 64), (195, 32, 64)]
    for row, ref in zip(rows, published):
        if ref is not None:
            assert row.rf.as_tuple() == ref, row.name
    assert summarize(arch, convention="mac").receptive_field.as_tuple() == (195, 32, 66)


def test_block_counts_follow_the_papers() -> None:
    r50 = architecture("resnet50")
    merges = [x for x in r50.features if isinstance(x, Merge)]
    assert len(merges) == 16
    main_convs = sum(1 for m in merges for x in m.branches[0] if x.kind == "conv")
    assert 1 + main_convs + 1 == 50          # stem conv + 48 block convs + fc
    r18 = architecture("resnet18")
    assert 1 + sum(1 for m in r18.features if isinstance(m, Merge)
                   for x in m.branches[0] if x.kind == "conv") + 1 == 18
    mb = summarize(architecture("mobilenet_v2"), convention="mac")
    blocks = {r.name.split(".")[1] for r in mb.rows if ".conv." in r.name}
    assert len(blocks) == 17                  # 1 + 2 + 3 + 4 + 3 + 3 + 1 inverted residuals
    assert sum(1 for x in architecture("mobilenet_v2").features if isinstance(x, Merge)) == 10
    eff = architecture("efficientnet_b0")
    se = [r for r in summarize(eff, convention="mac").rows if r.name.endswith(".fc1")]
    assert len(se) == 16                      # one gate per MBConv block


def test_flops_scale_quadratically_with_resolution() -> None:
    small = summarize(architecture("vgg16"), convention="mac")
    large = summarize(architecture("vgg16"), convention="mac", input_size=448)
    conv = [sum(r.flops for r in s.rows if r.kind == "conv") for s in (small, large)]
    assert conv[1] == 4 * conv[0]
    # adaptive pooling to 7x7 keeps the classifier unchanged
    dense = [sum(r.flops for r in s.rows if r.kind == "dense") for s in (small, large)]
    assert dense[0] == dense[1]


def test_efficientnet_b1_to_b7_params_match_torchvision_docs() -> None:
    coefficients = scaling.published()
    for model, params in TORCHVISION_EFFICIENTNET_PARAMS.items():
        c = coefficients[model]
        arch = efficientnet(c["width"], c["depth"], name=f"efficientnet_{model}")
        assert summarize(arch, convention="mac", input_size=int(c["resolution"])).params == params


def test_make_divisible_examples() -> None:
    assert [make_divisible(Fraction(c)) for c in (32, 16, 24, 40, 80, 112, 192, 320)] == \
        [32, 16, 24, 40, 80, 112, 192, 320]
    assert make_divisible(Fraction(35)) == 32 and make_divisible(Fraction(36)) == 40
    assert make_divisible(Fraction(3)) == 8          # never below the divisor
    assert make_divisible(Fraction(11)) == 16        # never more than 10% down (8 < 9.9)


def test_width_multiplier_reduces_mobilenet() -> None:
    s = summarize(mobilenet_v2("0.5"), convention="mac")
    assert s.params < 3_504_872 and s.rows[-1].shape == (1000,)


def test_summary_json_fields(summaries: dict) -> None:
    d = summaries["resnet18"].to_dict()
    assert d["params"] == 11_689_512
    assert d["flops"]["convention"] == "mac" and d["flops"]["value"] == summaries["resnet18"].flops
    assert {"size", "jump", "start"} <= set(d["receptive_field"])
    first = d["layers"][0]
    assert first["name"] == "conv1" and first["output_shape"] == [64, 112, 112]
    assert first["receptive_field"] == {"size": 7, "jump": 2, "start": 3}
    json.dumps(d)


def test_buffers_are_batch_norm_running_stats(summaries: dict) -> None:
    s = summaries["resnet18"]
    bn_channels = sum(r.shape[0] for r in s.rows if r.kind == "bn")
    assert s.buffers == 2 * bn_channels
    assert summaries["vgg16"].buffers == 0


def test_efficientnet_rf_note(summaries: dict) -> None:
    assert "squeeze-excitation" in summaries["efficientnet_b0"].rf_note
    assert summaries["resnet50"].rf_note == ""


def test_table_states_convention(summaries: dict) -> None:
    text = summaries["mobilenet_v2"].table()
    assert "convention 'mac'" in text and "3,504,872" in text
    assert "FLOPs" in summarize(architecture("alexnet"), convention="flop2").table()


# -- bad specs ---------------------------------------------------------------------------------

def _tiny(features, head=()) -> Architecture:
    return Architecture("tiny", tuple(features), tuple(head), input_shape=(3, 8, 8))


def test_channel_mismatch_is_reported() -> None:
    bad = _tiny([ArchLayer("conv", kernel=3, in_channels=4, out_channels=8, name="c1")])
    with pytest.raises(ConfigurationError, match="in_channels=4 in layer 'c1'"):
        summarize(bad, convention="mac")


def test_residual_shape_mismatch_is_reported() -> None:
    main = (Layer("conv", kernel=3, in_channels=3, out_channels=3, name="c"),)
    bad = _tiny([Merge((main, ()), name="block")])
    with pytest.raises(ConfigurationError, match="'block' end in different shapes"):
        summarize(bad, convention="mac")


def test_dense_needs_flat_input() -> None:
    with pytest.raises(ConfigurationError, match="add a flatten layer"):
        summarize(_tiny([], [Layer("dense", in_channels=3, out_channels=2, name="fc")]),
                  convention="mac")


def test_squeeze_excitation_channels_checked() -> None:
    with pytest.raises(ConfigurationError, match="channels=5"):
        summarize(_tiny([SqueezeExcitation(5, 1, name="se")]), convention="mac")


def test_unknown_names() -> None:
    with pytest.raises(InputError, match="valid names: alexnet, vgg16"):
        architecture("resnet")
    with pytest.raises(InputError, match="config must be one of"):
        vgg("vgg15")
    with pytest.raises(InputError, match="config must be one of"):
        resnet("resnet20")
    with pytest.raises(InputError, match="got convention='gflops'"):
        summarize(architecture("alexnet"), convention="gflops")


# -- compound scaling ----------------------------------------------------------------------------

def test_rule_coefficients_are_exact() -> None:
    assert scaling.rule_coefficients() == (Fraction(6, 5), Fraction(11, 10), Fraction(23, 20))
    assert scaling.constraint_product() == Fraction(192027, 100000)
    assert abs(float(scaling.constraint_product()) - 1.2 * 1.1**2 * 1.15**2) < 1e-12


def test_exercise_8_7c_values() -> None:
    d, w, r = scaling.multipliers(3)
    assert (d, w, r) == (Fraction(216, 125), Fraction(1331, 1000), Fraction(12167, 8000))
    b = scaling.scaled_baseline(3, 18, 32)
    assert abs(float(b["layers"]) - 18 * 1.2**3) < 1e-9
    assert abs(float(b["channels"]) - 32 * 1.1**3) < 1e-9
    assert abs(float(b["resolution"]) - 224 * 1.15**3) < 1e-9
    assert scaling.flop_multiplier(3) == scaling.constraint_product() ** 3


def test_mismatch_is_reported_not_hidden() -> None:
    rows = scaling.compare_published()
    assert [r.model for r in rows] == ["b1", "b2", "b3", "b4", "b5", "b6", "b7"]
    b3 = rows[2]
    assert (b3.depth_published, b3.width_published, b3.resolution_published) == \
        (Fraction(7, 5), Fraction(6, 5), 300)
    assert b3.depth_rule == Fraction(216, 125)
    assert b3.depth_error == (Fraction(7, 5) - Fraction(216, 125)) / Fraction(216, 125)
    assert all(r.depth_error != 0 for r in rows)          # no published depth follows the rule
    assert rows[1].implied_phi()["depth"] == pytest.approx(1.0)  # b2's depth 1.2 is alpha^1
    assert -0.2 < float(b3.depth_error) < -0.18


def test_scaling_errors() -> None:
    with pytest.raises(InputError, match="got model='b9'"):
        scaling.compare_published(("b9",))
    with pytest.raises(InputError, match="got phi=-1"):
        scaling.multipliers(-1)


# -- command line ----------------------------------------------------------------------------------

def test_cli_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["arch", "--list"]) == 0
    assert capsys.readouterr().out.split() == list(names())


def test_cli_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["arch", "resnet"]) == 2
    err = capsys.readouterr().err
    assert "unknown architecture" in err and "efficientnet_b0" in err


def test_cli_missing_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["arch"]) == 2
    assert "--list" in capsys.readouterr().err


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["arch", "alexnet", "--json", "--convention", "flop2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["params"] == 61_100_840
    assert data["flops"]["convention"] == "flop2"
    assert data["flops"]["value"] == 2 * summarize(architecture("alexnet"),
                                                   convention="mac").flops
    assert data["receptive_field"]["size"] == 195
    assert data["layers"][0]["output_shape"] == [64, 55, 55]


def test_cli_table_and_scaling(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["arch", "resnet50"]) == 0
    out = capsys.readouterr().out
    assert "25,557,032" in out and "layer4.2.conv3 (Conv2d)" in out
    assert main(["arch", "--scaling", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["constraint_product"]["value"] == "192027/100000"
    assert len(data["rows"]) == 7


def test_too_small_input_names_the_layer() -> None:
    with pytest.raises(ConfigurationError, match="in layer 'features.12'"):
        summarize(architecture("alexnet"), convention="mac", input_size=40)
