"""Receptive fields: TF-Slim rows (Araujo et al.), merges, brute-force index sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy
from hypothesis import example, given
from hypothesis import strategies as st

from derive.conv.layers import Layer, Merge
from derive.conv.receptive import (
    ReceptiveField, closed_form_field, layer_geometry, receptive_field, receptive_field_steps,
    receptive_field_table,
    repeated_receptive_field, step,
)
from derive.errors import ConfigurationError, UnsupportedError
from derive.symbols import sym

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
if not REFERENCE.exists():
    REFERENCE = Path("/work/shared/reference")
TFSLIM = json.loads((REFERENCE / "receptive_field_tfslim.json").read_text())


def conv(k, s=1, p=0, d=1, name=""):
    return Layer("conv", kernel=k, stride=s, padding=p, dilation=d, name=name)


def pool(k, s, p=0, name=""):
    return Layer("maxpool", kernel=k, stride=s, padding=p, name=name)


# TF-Slim layer specs: VALID is padding 0; SAME at stride 1 pads (k - 1)/2 on the left.
ALEXNET_V2 = [
    conv(11, 4, 0, name="conv1"), pool(3, 2, name="pool1"),
    conv(5, 1, 2, name="conv2"), pool(3, 2, name="pool2"),
    conv(3, 1, 1, name="conv3"), conv(3, 1, 1, name="conv4"), conv(3, 1, 1, name="conv5"),
    pool(3, 2, name="pool5"),
]


def _vgg16() -> list[Layer]:
    layers: list[Layer] = []
    for block, count in enumerate((2, 2, 3, 3, 3), start=1):
        layers += [conv(3, 1, 1, name=f"conv{block}_{i}") for i in range(1, count + 1)]
        layers.append(pool(2, 2, name=f"pool{block}"))
    return layers


VGG_16 = _vgg16()


# ----------------------------------------------------------------- brute force (independent)

def brute_positions(items, positions: set[int]) -> set[int]:
    """Input positions feeding the given output positions, walking the spec backwards."""
    for item in reversed(list(items)):
        if isinstance(item, Merge):
            positions = set().union(*(brute_positions(b, positions) for b in item.branches))
            continue
        if item.kind in ("identity", "bn", "act", "dropout"):
            continue
        s = item.kernel if item.stride is None else item.stride
        positions = {s * q - item.padding + item.dilation * u
                     for q in positions for u in range(item.kernel)}
    return positions


def brute_field(items) -> ReceptiveField:
    first, second = brute_positions(items, {0}), brute_positions(items, {1})
    return ReceptiveField(max(first) - min(first) + 1, min(second) - min(first), -min(first))


layer_st = st.builds(
    lambda kind, k, s, p, d: Layer(kind, kernel=k, stride=s, padding=min(p, k // 2)
                                   if kind == "maxpool" else p, dilation=d
                                   if kind == "conv" else 1),
    st.sampled_from(["conv", "conv", "maxpool", "act"]), st.integers(1, 5), st.integers(1, 3),
    st.integers(0, 3), st.integers(1, 3))
chain_st = st.lists(layer_st, min_size=0, max_size=6)


# ----------------------------------------------------------------- published rows

@pytest.mark.parametrize("network, spec", [("alexnet_v2", ALEXNET_V2), ("vgg_16", VGG_16)])
def test_tfslim_rows(network: str, spec: list[Layer]) -> None:
    reference = TFSLIM["networks"][network]
    rows = dict(receptive_field_table(spec))
    for name, size, stride, padding in reference["per_layer"]:
        assert rows[name].as_tuple() == (size, stride, padding), name
    whole = receptive_field(spec)
    assert whole.as_tuple() == (reference["size"], reference["stride"], reference["padding"])


def test_unit_cases_with_merges() -> None:
    # two branches, 1x1 stride 4 against 3x3 stride 2 (left padding 1) then 1x1 stride 2
    aligned = [Merge(((conv(1, 4),), (conv(3, 2, 1), conv(1, 2))), "add", "add1")]
    cases = {c["what"]: c for c in TFSLIM["unit_cases"]}
    small = cases["small aligned graph"]
    assert receptive_field(aligned).as_tuple() == (small["size"], small["stride"],
                                                   small["padding"])
    deeper = aligned + [Merge(((conv(1, 2),), (conv(3, 2, 1),)), "add", "add2")]
    big = cases["graph with an intermediate Add node"]
    assert receptive_field(deeper).as_tuple() == (big["size"], big["stride"], big["padding"])
    assert brute_field(deeper) == receptive_field(deeper)


def test_unaligned_merge_is_rejected() -> None:
    unaligned = [Merge(((conv(1, 4),), (conv(3, 2), conv(1, 2))), "add", "add1")]
    with pytest.raises(ConfigurationError, match="not aligned.*centred at 0.*at 1"):
        receptive_field(unaligned)
    assert receptive_field(unaligned, strict=False) == brute_field(unaligned)
    with pytest.raises(ConfigurationError, match="jump 4.*jump 2"):
        receptive_field([Merge(((conv(1, 4),), (conv(3, 2, 1),)), "concat")])


def test_residual_block_with_identity_branch() -> None:
    block = [conv(3, 1, 1), Merge(((conv(3, 1, 1), conv(3, 1, 1)), ()), "add")]
    assert receptive_field(block) == ReceptiveField(7, 1, 3)
    assert receptive_field(block) == brute_field(block)


# ----------------------------------------------------------------- brute force, hypothesis

@given(chain_st)
@example([conv(3, 2, 1, 2), pool(2, 2)])
def test_recurrence_matches_index_sets(chain) -> None:
    assert receptive_field(chain) == brute_field(chain)


@given(chain_st)
def test_closed_forms_match_index_sets(chain) -> None:
    assert closed_form_field(chain) == brute_field(chain)


@given(chain_st, st.lists(chain_st, min_size=2, max_size=3), chain_st)
def test_merges_take_the_union(before, branches, after) -> None:
    net = before + [Merge(tuple(tuple(b) for b in branches), "concat")] + after
    jumps = {receptive_field(b).jump for b in branches}
    if len(jumps) > 1:
        with pytest.raises(ConfigurationError, match="jump"):
            receptive_field(net, strict=False)
        return
    assert receptive_field(net, strict=False) == brute_field(net)


@given(chain_st, st.integers(0, 6))
def test_center_and_interval_of_feature_f(chain, f) -> None:
    rf = receptive_field(chain)
    positions = brute_positions(chain, {f})
    assert rf.interval(f) == (min(positions), max(positions))
    assert rf.center(f) == sympy.Rational(min(positions) + max(positions), 2)


@given(st.integers(0, 8), st.integers(1, 5), st.integers(1, 3), st.integers(0, 2),
       st.integers(1, 2))
def test_repeated_layers_closed_form(depth, k, s, p, d) -> None:
    expected = receptive_field([conv(k, s, p, d)] * depth)
    assert repeated_receptive_field(depth, k, s, p, d) == expected
    L = sym("L", nonnegative=True)
    symbolic = repeated_receptive_field(L, k, s, p, d)
    assert tuple(sympy.sympify(v).subs(L, depth) for v in symbolic.as_tuple()) == \
        expected.as_tuple()


# ----------------------------------------------------------------- symbolic and API details

def test_symbolic_layers() -> None:
    K, S, P = sym("K"), sym("S"), sym("P")
    rf = receptive_field([conv(K, S, P)] * 2)
    assert sympy.expand(rf.size - (1 + (K - 1) + (K - 1) * S)) == 0
    assert rf.jump == S ** 2 and sympy.expand(rf.start - (P + P * S)) == 0
    aligned = receptive_field([Merge(((conv(K, 1, P),), (conv(K, 1, P),)))])
    assert aligned == ReceptiveField(K, 1, P)


def test_step_and_geometry() -> None:
    assert step(ReceptiveField(1, 1, 0), 3, 2, 1) == ReceptiveField(3, 2, 1)
    assert layer_geometry(Layer("conv", kernel=(3, 5), stride=(1, 2)), axis=1) == (5, 2, 0)
    assert layer_geometry(Layer("maxpool", kernel=2, stride=None)) == (2, 2, 0)
    assert layer_geometry(Layer("bn")) == (1, 1, 0)


def test_table_labels_unnamed_items() -> None:
    rows = receptive_field_table([conv(3), Merge(((conv(1),), ())), pool(2, 2)])
    assert [name for name, _ in rows] == ["conv0", "merge1", "maxpool2"]


@pytest.mark.parametrize("items, error, needle", [
    ([Layer("deconv", kernel=3, stride=2)], UnsupportedError, "deconv"),
    ([Layer("dense")], UnsupportedError, "whole input"),
    ([Layer("gap")], UnsupportedError, "whole input"),
    ([Layer("conv3d", kernel=3)], ConfigurationError, "kind='conv3d'"),
    ([Layer("conv", kernel=3, stride=0)], ConfigurationError, "got stride=0"),
    ([Layer("conv", kernel=3, padding=-1)], ConfigurationError, "got padding=-1"),
    ([Merge(((conv(1),),), how="mul")], ConfigurationError, "how='mul'"),
    ([Merge((), how="add")], ConfigurationError, "no branches"),
    (["conv"], ConfigurationError, "expected a Layer or a Merge"),
    ([Layer("conv", kernel=(3, 3))], None, None),
])
def test_invalid_specs(items, error, needle) -> None:
    if error is None:
        assert receptive_field(items, axis=0).size == 3
        with pytest.raises(ConfigurationError, match="axis 2"):
            receptive_field(items, axis=2)
        return
    with pytest.raises(error) as info:
        receptive_field(items)
    assert needle in str(info.value)


def test_recurrence_rows_spell_the_numbers() -> None:
    rows = receptive_field_steps(ALEXNET_V2[:2] + [Merge(((conv(1),), ()), "add", "skip")])
    assert rows[0].why == "size 1 + (11 - 1)*1 = 11; jump 1*4 = 4; start 0 + 0*1 = 0"
    assert rows[1].before == rows[0].after and rows[1].after.size == 19
    assert rows[2].kernel is None and "union of the 2 branches" in rows[2].why
    assert [r.after for r in rows] == [f for _, f in receptive_field_table(
        ALEXNET_V2[:2] + [Merge(((conv(1),), ()), "add", "skip")])]
