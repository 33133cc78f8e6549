"""derive.numeric against PyTorch (float64): forward, autograd, transposed convolution,
pooling (including which configurations are rejected) and pixel shuffle."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derive import numeric as nm
from derive.errors import ConfigurationError

torch = pytest.importorskip("torch", reason="PyTorch not installed")
F = torch.nn.functional

from test_numeric import _params, conv_cases  # noqa: E402  (shared strategy)

pytestmark = pytest.mark.torch
SETTINGS = settings(max_examples=40, deadline=None)


def _t(a: Any, grad: bool = False) -> Any:
    return None if a is None else torch.tensor(np.asarray(a), dtype=torch.float64,
                                               requires_grad=grad)


@settings(max_examples=30, deadline=None)
@given(conv_cases())
def test_conv2d_and_backward_match_torch(case: dict[str, Any]) -> None:
    x, w, b = _t(case["x"], True), _t(case["w"], True), _t(case["b"], True)
    y = F.conv2d(x, w, b, **_params(case))
    for f in (nm.conv2d, nm.conv2d_direct, nm.conv2d_toeplitz):
        np.testing.assert_allclose(f(case["x"], case["w"], case["b"], **_params(case)),
                                   y.detach().numpy(), rtol=1e-10, atol=1e-10)
    upstream = np.random.default_rng(0).standard_normal(tuple(y.shape))
    y.backward(_t(upstream))
    gx, gw, gb = nm.conv2d_backward(case["x"], case["w"], upstream, **_params(case))
    np.testing.assert_allclose(gx, x.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(gw, w.grad.numpy(), atol=1e-10)
    if b is not None:
        np.testing.assert_allclose(gb, b.grad.numpy(), atol=1e-10)


@SETTINGS
@given(conv_cases(), st.data())
def test_conv_transpose2d_matches_torch(case: dict[str, Any], data: Any) -> None:
    params = _params(case)
    strides = np.broadcast_to(case["stride"], 2)
    dilations = np.broadcast_to(case["dilation"], 2)
    out_pad = tuple(data.draw(st.integers(0, max(int(s), int(d)) - 1))
                    for s, d in zip(strides, dilations))
    w = case["w"]
    y = np.random.default_rng(1).standard_normal((2, w.shape[0]) + case["x"].shape[2:])
    bias = np.arange(w.shape[1] * case["groups"], dtype=float)
    try:
        ref = F.conv_transpose2d(_t(y), _t(w), _t(bias), params["stride"], params["padding"],
                                 out_pad, params["groups"], params["dilation"]).numpy()
    except RuntimeError:
        with pytest.raises(ConfigurationError):
            nm.conv_transpose2d(y, w, bias, output_padding=out_pad, **params)
        return
    out = nm.conv_transpose2d(y, w, bias, output_padding=out_pad, **params)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, atol=1e-10)


@settings(max_examples=120, deadline=None)
@given(st.tuples(st.integers(1, 4), st.integers(1, 4)),
       st.tuples(st.integers(1, 3), st.integers(1, 3)),
       st.tuples(st.integers(0, 2), st.integers(0, 2)),
       st.tuples(st.integers(1, 2), st.integers(1, 2)),
       st.tuples(st.integers(1, 8), st.integers(1, 8)), st.booleans(), st.booleans())
def test_pools_match_torch_including_rejections(kernel: tuple[int, int],
                                                 stride: tuple[int, int],
                                                 padding: tuple[int, int],
                                                 dilation: tuple[int, int],
                                                 size: tuple[int, int], ceil: bool,
                                                 include_pad: bool) -> None:
    x = np.random.default_rng(2).standard_normal((2, 3) + size)
    cases = [
        (lambda: F.max_pool2d(_t(x), kernel, stride, padding, dilation, ceil_mode=ceil),
         lambda: nm.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode=ceil)),
        (lambda: F.avg_pool2d(_t(x), kernel, stride, padding, ceil_mode=ceil,
                              count_include_pad=include_pad),
         lambda: nm.avg_pool2d(x, kernel, stride, padding, ceil_mode=ceil,
                               count_include_pad=include_pad)),
    ]
    for theirs, ours in cases:
        try:
            ref = theirs().numpy()
        except RuntimeError:
            with pytest.raises(ConfigurationError):
                ours()
            continue
        got = ours()
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, atol=1e-12)


def test_pixel_shuffle_matches_torch() -> None:
    x = np.random.default_rng(3).standard_normal((2, 18, 3, 4))
    np.testing.assert_array_equal(nm.pixel_shuffle(x, 3), F.pixel_shuffle(_t(x), 3).numpy())
    np.testing.assert_array_equal(nm.pixel_unshuffle(x, 1), x)
    y = np.random.default_rng(4).standard_normal((2, 2, 6, 4))
    np.testing.assert_array_equal(nm.pixel_unshuffle(y, 2), F.pixel_unshuffle(_t(y), 2).numpy())


def test_float32_like_for_like_with_torch() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 8, 14, 14)).astype(np.float32)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    ref = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1, stride=2).numpy()
    got = nm.conv2d(x, w, padding=1, stride=2)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
