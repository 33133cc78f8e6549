"""The listings of :mod:`derive.lab.listings` against PyTorch and the engine.

Each listing is compared with PyTorch's own operator (values and gradients,
float64), with the engine's formulas (output sizes, receptive fields,
architecture summaries) and with the problem files whose pages print the
listing (same layers, same parameter counts).  The listing files themselves
are checked for what printing needs: the text ``source`` returns, lines of at
most 80 characters, imports from PyTorch and the standard library only.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch", reason="PyTorch not installed")
nn = torch.nn
F = torch.nn.functional

from derive.conv.shapes import output_size  # noqa: E402
from derive.lab.listings import source  # noqa: E402
from derive.lab.listings.conv2d_scratch import (  # noqa: E402
    conv2d_loops, conv2d_unfold)
from derive.lab.listings.downscaling import (  # noqa: E402
    PixelShuffleUpscaler, TransposedConvUpscaler)
from derive.lab.listings.im2col import conv2d_im2col, im2col  # noqa: E402
from derive.lab.listings.inverted_residual import InvertedResidual  # noqa: E402
from derive.lab.listings.receptive_field import (  # noqa: E402
    dilated_stack, empirical_receptive_field)

pytestmark = pytest.mark.torch

ROOT = Path(__file__).resolve().parents[1]
LISTINGS = ROOT / "derive" / "lab" / "listings"
CHAPTER8 = ROOT / "problems" / "chapter8"
NAMES = ("conv2d_scratch", "im2col", "inverted_residual", "receptive_field",
         "downscaling")
EXERCISES = {"conv2d_scratch": "8.9", "im2col": "8.21(c)",
             "inverted_residual": "8.20(a)", "receptive_field": "8.24(c)",
             "downscaling": "8.28(b)"}
ALLOWED_IMPORTS = {"torch", "torch.nn", "torch.nn.functional", "math", "typing"}
TOL = 1e-10
FAST = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def _problem_module(filename: str):
    """Import a problem file of chapter 8 as a module (its helpers are used)."""
    path = CHAPTER8 / filename
    spec = importlib.util.spec_from_file_location(
        f"listing_test_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, dtype=torch.float64, generator=g)


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# -- the listing files ---------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_listing_file_is_printable(name: str) -> None:
    text = (LISTINGS / f"{name}.py").read_text(encoding="utf-8")
    assert source(name) == text
    too_long = [(i, len(line)) for i, line in enumerate(text.splitlines(), 1)
                if len(line) > 80]
    assert too_long == []
    tree = ast.parse(text)
    doc = ast.get_docstring(tree)
    assert doc is not None and doc.startswith(f"Exercise {EXERCISES[name]}:")
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            imported |= {f"{base}.{a.name}" if f"{base}.{a.name}"
                         in ALLOWED_IMPORTS else base for a in node.names}
    assert imported <= ALLOWED_IMPORTS
    calls = {n.func.id for n in ast.walk(tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert "print" not in calls
    assert "__main__" not in text


def test_source_refuses_unknown_listing() -> None:
    from derive.errors import InputError
    with pytest.raises(InputError):
        source("no_such_listing")


# -- exercise 8.9: convolution from scratch ------------------------------------

CASES = [  # batch, C_in, C_out, H, W, k_h, k_w, stride, padding
    (2, 3, 4, 8, 8, 3, 3, 1, 1),     # the exercise's own example, smaller
    (1, 2, 3, 7, 5, 3, 2, 2, 0),     # non-square input and kernel
    (3, 1, 2, 9, 6, 3, 3, 2, 1),     # stride 2 does not divide 9 + 2 - 3
    (1, 2, 2, 6, 7, 2, 3, 3, 2),     # stride 3, padding 2
    (2, 3, 1, 5, 5, 1, 1, 2, 0),     # 1x1 kernel
    (1, 1, 1, 2, 3, 4, 4, 1, 1),     # kernel as large as the padded input
]

conv_shapes = st.tuples(
    st.integers(1, 2), st.integers(1, 3), st.integers(1, 3),
    st.integers(1, 6), st.integers(1, 6), st.integers(1, 3),
    st.integers(1, 3), st.integers(1, 3), st.integers(0, 2))


def _values_and_grads(conv, case, seed: int = 0):
    """conv's output and the gradients of <output, g> for x and weight."""
    b, c_in, c_out, h, w, k_h, k_w, s, p = case
    x = _rand(b, c_in, h, w, seed=seed).requires_grad_(True)
    weight = _rand(c_out, c_in, k_h, k_w, seed=seed + 1).requires_grad_(True)
    out = conv(x, weight, stride=s, padding=p)
    g = _rand(*out.shape, seed=seed + 2)
    gx, gw = torch.autograd.grad((out * g).sum(), (x, weight))
    return out.detach(), gx, gw


def _check_against_torch(conv, case, seed: int = 0) -> None:
    out, gx, gw = _values_and_grads(conv, case, seed)
    ref, rx, rw = _values_and_grads(F.conv2d, case, seed)
    b, _, c_out, h, w, k_h, k_w, s, p = case
    assert out.shape == (b, c_out, output_size(h, k_h, p, s),
                         output_size(w, k_w, p, s))
    assert out.shape == ref.shape
    assert torch.allclose(out, ref, rtol=0, atol=TOL)
    assert torch.allclose(gx, rx, rtol=0, atol=TOL)
    assert torch.allclose(gw, rw, rtol=0, atol=TOL)


@pytest.mark.parametrize("conv", [conv2d_loops, conv2d_unfold])
@pytest.mark.parametrize("case", CASES)
def test_conv2d_matches_torch_on_fixed_cases(conv, case) -> None:
    _check_against_torch(conv, case)


@FAST
@given(conv_shapes, st.integers(0, 100))
def test_conv2d_loops_matches_torch(case, seed) -> None:
    assume(case[3] + 2 * case[8] >= case[5])
    assume(case[4] + 2 * case[8] >= case[6])
    _check_against_torch(conv2d_loops, case, seed)


@FAST
@given(conv_shapes, st.integers(0, 100))
def test_conv2d_unfold_matches_torch(case, seed) -> None:
    assume(case[3] + 2 * case[8] >= case[5])
    assume(case[4] + 2 * case[8] >= case[6])
    _check_against_torch(conv2d_unfold, case, seed)


def test_conv2d_on_a_hand_computed_example() -> None:
    # Independent of PyTorch: 1 at the centre of a 3x3 kernel copies the
    # input; 1 at the top-left corner with padding 1 shifts it down-right.
    x = torch.arange(12.0, dtype=torch.float64).reshape(1, 1, 3, 4)
    centre = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    centre[0, 0, 1, 1] = 1
    corner = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    corner[0, 0, 0, 0] = 1
    shifted = torch.zeros(1, 1, 3, 4, dtype=torch.float64)
    shifted[0, 0, 1:, 1:] = x[0, 0, :-1, :-1]
    for conv in (conv2d_loops, conv2d_unfold):
        assert torch.equal(conv(x, centre, padding=1), x)
        assert torch.equal(conv(x, corner, padding=1), shifted)
        assert torch.equal(conv(x, centre, stride=2, padding=1),
                           x[:, :, ::2, ::2])


# -- exercise 8.21: im2col -----------------------------------------------------

im2col_shapes = st.tuples(
    st.integers(1, 3), st.integers(1, 7), st.integers(1, 7),
    st.integers(1, 4), st.integers(1, 3), st.integers(0, 2))


@FAST
@given(im2col_shapes, st.integers(0, 100))
def test_im2col_equals_unfold(case, seed) -> None:
    c, h, w, k, s, p = case
    assume(min(h, w) + 2 * p >= k)
    x = _rand(1, c, h, w, seed=seed)
    columns = im2col(x, k, stride=s, padding=p)
    assert columns.shape == (c * k * k,
                             output_size(h, k, p, s) * output_size(w, k, p, s))
    assert torch.equal(columns, F.unfold(x, k, padding=p, stride=s)[0])


@FAST
@given(im2col_shapes, st.integers(1, 3), st.integers(0, 100))
def test_conv2d_im2col_matches_torch(case, c_out, seed) -> None:
    c, h, w, k, s, p = case
    assume(min(h, w) + 2 * p >= k)
    _check_against_torch(conv2d_im2col, (1, c, c_out, h, w, k, k, s, p), seed)


def test_im2col_of_the_4x4_example() -> None:
    # Part (a): a 4x4 input holding 0..15 row by row, a 3x3 kernel, stride
    # 1: four windows, each a column of nine entries read row by row.
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    expected = torch.tensor([[r * 4 + c + dr * 4 + dc
                              for r in range(2) for c in range(2)]
                             for dr in range(3) for dc in range(3)],
                            dtype=torch.float32)
    assert torch.equal(im2col(x, 3), expected)
    assert expected[:, 0].tolist() == [0, 1, 2, 4, 5, 6, 8, 9, 10]


def test_im2col_rows_are_channel_major() -> None:
    # Two channels, a 1x1 kernel: row c must be channel c, flattened.
    x = torch.stack([torch.zeros(2, 3), torch.ones(2, 3)])[None]
    columns = im2col(x, 1)
    assert torch.equal(columns, x[0].reshape(2, 6))


# -- exercise 8.20: the inverted residual block ---------------------------------

@pytest.fixture(scope="module")
def e08_20():
    return _problem_module("e08_20_inverted_residual.py")


def _expected_params(c_in: int, c_out: int, t: int) -> int:
    """Weights and batch-norm scale and shift, by formula."""
    hidden = c_in * t
    expand = (c_in * hidden + 2 * hidden) if t != 1 else 0
    return expand + (9 * hidden + 2 * hidden) + (hidden * c_out + 2 * c_out)


@pytest.mark.parametrize("c_in, c_out, t, stride, shortcut", [
    (32, 32, 6, 1, True), (16, 24, 6, 2, False), (24, 24, 1, 1, True),
    (32, 64, 6, 1, False), (8, 8, 6, 2, False), (4, 4, 3, 1, True),
])
def test_inverted_residual_shapes_and_counts(c_in, c_out, t, stride,
                                             shortcut) -> None:
    block = InvertedResidual(c_in, c_out, expansion=t, stride=stride)
    assert block.use_shortcut is shortcut
    for h, w in ((8, 8), (7, 10)):
        out = block(torch.zeros(2, c_in, h, w))
        assert tuple(out.shape) == (2, c_out, output_size(h, 3, 1, stride),
                                    output_size(w, 3, 1, stride))
    assert _n_params(block) == _expected_params(c_in, c_out, t)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == (3 if t != 1 else 2)
    assert all(c.bias is None for c in convs)
    assert convs[-2].groups == c_in * t and convs[-2].stride == (stride,) * 2


def _layout(modules) -> list[tuple]:
    """What defines each layer: type, channels, kernel, stride, padding,
    groups, bias (for convolutions) or the feature count (batch norm)."""
    out = []
    for m in modules:
        if isinstance(m, nn.Conv2d):
            out.append(("conv", m.in_channels, m.out_channels, m.kernel_size,
                        m.stride, m.padding, m.groups, m.bias is not None))
        elif isinstance(m, nn.BatchNorm2d):
            out.append(("bn", m.num_features, m.affine))
        elif not isinstance(m, (nn.Sequential, InvertedResidual)):
            out.append((type(m).__name__,))
    return out


def test_inverted_residual_is_the_block_of_the_book_page(e08_20) -> None:
    from derive.arch.summary import summarize

    block = InvertedResidual(e08_20.C, e08_20.C, expansion=e08_20.T)
    page = e08_20._torch_inverted(torch)
    assert _layout(block.modules()) == _layout(page.modules())
    spec, in_shape = e08_20._catalog_block(e08_20.BLOCK)
    summary = summarize(e08_20._block_arch("block", [spec], in_shape),
                        convention="mac")
    assert _n_params(block) == summary.params == _n_params(page) == 14848
    assert block.use_shortcut


def test_inverted_residual_matches_every_mobilenet_v2_block() -> None:
    from derive.arch.catalog import MOBILENET_V2_SETTING, architecture
    from derive.arch.summary import summarize
    from derive.conv.layers import Merge

    arch = architecture("mobilenet_v2")
    rows = summarize(arch, convention="mac").rows
    merged = {item.name for item in arch.features if isinstance(item, Merge)}
    c_in, index = 32, 1
    for t, c, n, s in MOBILENET_V2_SETTING:
        for i in range(n):
            stride = s if i == 0 else 1
            block = InvertedResidual(c_in, c, expansion=t, stride=stride)
            name = f"features.{index}"
            expected = sum(r.params for r in rows
                           if r.name.startswith(name + "."))
            assert _n_params(block) == expected, name
            assert block.use_shortcut == (name in merged), name
            c_in, index = c, index + 1
    assert index == 18


def _functional_block(x, block, c_in, c_out, t, stride, shortcut):
    """The block recomputed from its parameters with torch.nn.functional,
    in eval mode (batch norm with the running statistics)."""
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)]

    def bn(h, m):
        return F.batch_norm(h, m.running_mean, m.running_var, m.weight,
                            m.bias, training=False, eps=1e-5)

    hidden = c_in * t
    h = x
    if t != 1:
        h = bn(F.conv2d(h, convs[0].weight), bns[0]).clamp(0, 6)
        convs, bns = convs[1:], bns[1:]
    h = bn(F.conv2d(h, convs[0].weight, stride=stride, padding=1,
                    groups=hidden), bns[0]).clamp(0, 6)
    h = bn(F.conv2d(h, convs[1].weight), bns[1])
    return h + x if shortcut else h


@pytest.mark.parametrize("c_in, c_out, t, stride", [
    (4, 4, 6, 1), (4, 4, 1, 1), (4, 6, 6, 1), (4, 4, 6, 2), (3, 5, 2, 2),
])
def test_inverted_residual_forward_equals_functional(c_in, c_out, t,
                                                     stride) -> None:
    torch.manual_seed(20)
    block = InvertedResidual(c_in, c_out, expansion=t, stride=stride)
    block = block.double().eval()
    with torch.no_grad():     # non-trivial batch norms, weights of both signs
        for m in block.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.weight.uniform_(0.5, 3)
                m.bias.uniform_(-1, 1)
    x = 4 * _rand(2, c_in, 6, 7, seed=3)
    shortcut = stride == 1 and c_in == c_out
    expected = _functional_block(x, block, c_in, c_out, t, stride, shortcut)
    assert torch.allclose(block(x), expected, rtol=0, atol=TOL)
    # the projection is linear: some outputs are negative, some above 6
    branch = _functional_block(x, block, c_in, c_out, t, stride, False)
    assert branch.min() < 0


# -- exercise 8.24: the receptive field of dilated convolutions ---------------

def test_dilated_stack_1_2_4_sees_15_by_15() -> None:
    assert empirical_receptive_field(dilated_stack()) == (15, 15)
    assert empirical_receptive_field(dilated_stack((1, 2, 4), channels=2),
                                     channels=2) == (15, 15)


@pytest.mark.parametrize("dilations, k", [
    ((1,), 3), ((2,), 3), ((3,), 3), ((1, 1, 1), 3), ((1, 2, 4, 8), 3),
    ((2, 2), 3), ((1, 2), 5), ((3, 1), 5), ((1,), 1), ((1, 3, 2), 7),
])
def test_empirical_field_equals_the_closed_form(dilations, k) -> None:
    from derive.conv.layers import Layer
    from derive.conv.receptive import closed_form_field, receptive_field

    stack = dilated_stack(dilations, kernel_size=k)
    layers = [Layer("conv", kernel=k, dilation=d, padding=conv.padding[0])
              for d, conv in zip(dilations, stack)]
    size = closed_form_field(layers).size
    assert size == receptive_field(layers).size
    assert empirical_receptive_field(stack, size=size + 10) == (size, size)


def test_dilated_stack_layers_keep_the_size() -> None:
    stack = dilated_stack((1, 2, 4), channels=3, kernel_size=5)
    assert [c.dilation for c in stack] == [(1, 1), (2, 2), (4, 4)]
    assert all(c.bias is None for c in stack)
    assert _n_params(stack) == 3 * 3 * 3 * 5 * 5
    assert stack(torch.zeros(1, 3, 33, 20)).shape == (1, 3, 33, 20)


def test_empirical_field_reports_height_then_width() -> None:
    model = nn.Sequential(nn.Conv2d(1, 1, (3, 5), padding=(1, 2)),
                          nn.ReLU(), nn.Conv2d(1, 1, (1, 3)))
    before = [p.detach().clone() for p in model.parameters()]
    assert empirical_receptive_field(model, size=15) == (3, 7)
    # the model's own weights are not changed by the measurement
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_empirical_field_ignores_the_model_weights() -> None:
    # A zero outer tap, and a bias that would make the ReLU zero everywhere:
    # the gradient of this very model would show a 1x4 box, or none at all,
    # but the field of the architecture is 1x5.
    model = nn.Sequential(nn.Conv2d(1, 1, (1, 3)), nn.ReLU(),
                          nn.Conv2d(1, 1, (1, 3), bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([0.0, 1.0, 1.0]).view(1, 1, 1, 3))
        model[0].bias.fill_(-100.0)
        model[2].weight.fill_(1.0)
    assert empirical_receptive_field(model, size=11) == (1, 5)


# -- exercise 8.28: the downscaling networks -----------------------------------

@pytest.fixture(scope="module")
def e08_28():
    return _problem_module("e08_28_downscaling.py")


def _kinds(model: nn.Module) -> list[tuple]:
    """The layers in order, in the terms of the engine's specs."""
    out = []
    for m in model.modules():
        if isinstance(m, nn.ConvTranspose2d):
            out.append(("deconv", m.in_channels, m.out_channels,
                        m.kernel_size[0], m.stride[0], m.padding[0],
                        m.bias is not None))
        elif isinstance(m, nn.Conv2d):
            out.append(("conv", m.in_channels, m.out_channels,
                        m.kernel_size[0], m.stride[0], m.padding[0],
                        m.bias is not None))
        elif isinstance(m, nn.ReLU):
            out.append(("act",))
    return out


def _spec_kinds(spec) -> list[tuple]:
    return [(x.kind, x.in_channels, x.out_channels, x.kernel, x.stride,
             x.padding, x.bias) if x.kind in ("conv", "deconv") else (x.kind,)
            for x in spec.features]


@pytest.mark.parametrize("model_cls, spec_name", [
    (TransposedConvUpscaler, "_transposed_spec"),
    (PixelShuffleUpscaler, "_subpixel_spec"),
])
def test_upscaler_is_the_design_of_the_book_page(e08_28, model_cls,
                                                 spec_name) -> None:
    from derive.arch.summary import summarize

    spec = getattr(e08_28, spec_name)()
    model = model_cls()
    assert _kinds(model) == _spec_kinds(spec)
    summary = summarize(spec, convention="mac")
    assert _n_params(model) == summary.params == e08_28._walk(spec).params
    for n in (1, 3):
        x = _rand(n, 6, 16, 16).float()
        assert model(x).shape == (n, 1, 64, 64)


def test_upscaler_parameter_counts() -> None:
    # By formula: weights plus one bias per output channel.
    def conv(a, b, k):
        return a * b * k * k + b

    transposed = (conv(6, 64, 3) + conv(64, 128, 3) + conv(128, 64, 4)
                  + conv(64, 32, 4) + conv(32, 16, 4) + conv(16, 1, 3))
    subpixel = conv(6, 64, 3) + conv(64, 64, 3) + conv(64, 16, 3)
    assert _n_params(TransposedConvUpscaler()) == transposed == 249665
    assert _n_params(PixelShuffleUpscaler()) == subpixel == 49680


def test_pixel_shuffle_is_the_index_rearrangement() -> None:
    torch.manual_seed(28)
    model = PixelShuffleUpscaler().double()
    x = _rand(2, 6, 16, 16, seed=5)
    features = model.features(x)
    r = 4
    n, channels, h, w = features.shape
    assert channels == r * r
    expected = torch.empty(n, 1, r * h, r * w, dtype=torch.float64)
    for q in range(channels):      # q = (c*r + i)*r + j with c = 0 here
        i, j = divmod(q, r)
        for hh in range(h):
            for ww in range(w):
                expected[:, 0, r * hh + i, r * ww + j] = features[:, q, hh, ww]
    assert torch.equal(model(x), expected)


def test_transposed_decoder_doubles_each_time() -> None:
    model = TransposedConvUpscaler()
    h = model.encoder(torch.zeros(1, 6, 16, 16))
    sizes = [h.shape[-1]]
    for layer in model.decoder:
        h = layer(h)
        if isinstance(layer, nn.ConvTranspose2d):
            sizes.append(h.shape[-1])
    assert sizes == [8, 16, 32, 64]


# -- bad arguments -------------------------------------------------------------

X4 = torch.zeros(1, 2, 5, 5)
W4 = torch.zeros(3, 2, 3, 3)


@pytest.mark.parametrize("call, argument", [
    (lambda f: f(torch.zeros(2, 5, 5), W4), "x"),
    (lambda f: f(X4, torch.zeros(3, 2, 3)), "weight"),
    (lambda f: f(X4, torch.zeros(3, 1, 3, 3)), "weight"),
    (lambda f: f(X4, W4, stride=0), "stride"),
    (lambda f: f(X4, W4, padding=-1), "padding"),
    (lambda f: f(X4, torch.zeros(3, 2, 8, 8)), "weight"),
])
@pytest.mark.parametrize("conv", [conv2d_loops, conv2d_unfold])
def test_conv2d_rejects_bad_arguments(conv, call, argument) -> None:
    with pytest.raises(ValueError, match=argument):
        call(conv)


@pytest.mark.parametrize("call, argument", [
    (lambda: im2col(torch.zeros(2, 2, 5, 5), 3), "x"),
    (lambda: im2col(torch.zeros(2, 5, 5), 3), "x"),
    (lambda: im2col(X4, 0), "kernel_size"),
    (lambda: im2col(X4, 6), "kernel_size"),
    (lambda: im2col(X4, 3, stride=0), "stride"),
    (lambda: im2col(X4, 3, padding=-2), "padding"),
    (lambda: conv2d_im2col(X4, torch.zeros(3, 2, 3, 2)), "weight"),
    (lambda: conv2d_im2col(X4, torch.zeros(3, 4, 3, 3)), "weight"),
    (lambda: conv2d_im2col(X4, W4, stride=-1), "stride"),
])
def test_im2col_rejects_bad_arguments(call, argument) -> None:
    with pytest.raises(ValueError, match=argument):
        call()


@pytest.mark.parametrize("kwargs, argument", [
    (dict(in_channels=0, out_channels=4), "in_channels"),
    (dict(in_channels=4, out_channels=0), "out_channels"),
    (dict(in_channels=4, out_channels=4, expansion=0), "expansion"),
    (dict(in_channels=4, out_channels=4, stride=0), "stride"),
])
def test_inverted_residual_rejects_bad_arguments(kwargs, argument) -> None:
    with pytest.raises(ValueError, match=argument):
        InvertedResidual(**kwargs)


@pytest.mark.parametrize("call, argument", [
    (lambda: dilated_stack(()), "dilations"),
    (lambda: dilated_stack((1, 0)), "dilations"),
    (lambda: dilated_stack(channels=0), "channels"),
    (lambda: dilated_stack(kernel_size=4), "kernel_size"),
    (lambda: empirical_receptive_field(dilated_stack(), size=0), "size"),
    (lambda: empirical_receptive_field(dilated_stack(), channels=0),
     "channels"),
])
def test_receptive_field_rejects_bad_arguments(call, argument) -> None:
    with pytest.raises(ValueError, match=argument):
        call()


@pytest.mark.parametrize("model_cls", [TransposedConvUpscaler,
                                       PixelShuffleUpscaler])
def test_upscalers_reject_bad_arguments(model_cls) -> None:
    with pytest.raises(ValueError, match="in_channels"):
        model_cls(in_channels=0)
    assert model_cls(in_channels=3)(torch.zeros(1, 3, 16, 16)).shape == (
        1, 1, 64, 64)
