"""Output sizes against the shapes torch.nn.functional produces (skipped without PyTorch)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from derive.conv.shapes import output_size, pool_output_size, transposed_output_size
from derive.errors import ConfigurationError

torch = pytest.importorskip("torch", reason="PyTorch not installed")
F = torch.nn.functional

pytestmark = pytest.mark.torch
fast = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _torch_len(fn) -> int | None:
    try:
        with torch.no_grad():
            return int(fn().shape[-1])
    except RuntimeError:
        return None


@fast
@given(st.integers(1, 30), st.integers(1, 6), st.integers(0, 5), st.integers(1, 4),
       st.integers(1, 3))
def test_conv1d_shape(n, k, p, s, d) -> None:
    got = _torch_len(lambda: F.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s,
                                      padding=p, dilation=d))
    try:
        ours = output_size(n, k, p, s, d)
    except ConfigurationError:
        assert got is None
        return
    assert ours == got


@fast
@given(st.integers(1, 12), st.integers(1, 12), st.integers(1, 4), st.integers(0, 2),
       st.integers(1, 3), st.integers(1, 2))
def test_conv2d_shape(h, w, k, p, s, d) -> None:
    try:
        oh, ow = output_size(h, k, p, s, d), output_size(w, k, p, s, d)
    except ConfigurationError:
        return
    y = F.conv2d(torch.zeros(1, 1, h, w), torch.zeros(1, 1, k, k), stride=s, padding=p,
                 dilation=d)
    assert tuple(y.shape[-2:]) == (oh, ow)


@fast
@given(st.integers(1, 30), st.integers(1, 6), st.integers(0, 3), st.integers(1, 4),
       st.integers(1, 3), st.booleans())
@example(1, 3, 0, 3, 1, True)
@example(6, 3, 1, 2, 1, True)
@example(1, 5, 0, 2, 1, True)
def test_max_pool1d_shape(n, k, p, s, d, ceil_mode) -> None:
    got = _torch_len(lambda: F.max_pool1d(torch.zeros(1, 1, n), k, stride=s, padding=p,
                                          dilation=d, ceil_mode=ceil_mode))
    try:
        ours = pool_output_size(n, k, p, s, d, ceil_mode)
    except ConfigurationError:
        assert got is None
        return
    assert ours == got


@fast
@given(st.integers(1, 30), st.integers(1, 6), st.integers(0, 3), st.integers(1, 4),
       st.booleans())
def test_avg_pool1d_shape(n, k, p, s, ceil_mode) -> None:
    got = _torch_len(lambda: F.avg_pool1d(torch.zeros(1, 1, n), k, stride=s, padding=p,
                                          ceil_mode=ceil_mode))
    try:
        ours = pool_output_size(n, k, p, s, 1, ceil_mode)
    except ConfigurationError:
        assert got is None
        return
    assert ours == got


@fast
@given(st.integers(1, 12), st.integers(1, 5), st.integers(0, 4), st.integers(1, 4),
       st.integers(1, 3), st.integers(0, 3))
@example(3, 3, 1, 2, 1, 1)
@example(3, 3, 0, 1, 2, 1)
def test_conv_transpose1d_shape(n, k, p, s, d, a) -> None:
    got = _torch_len(lambda: F.conv_transpose1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k),
                                                stride=s, padding=p, dilation=d,
                                                output_padding=a))
    try:
        ours = transposed_output_size(n, k, p, s, d, a)
    except ConfigurationError:
        assert got is None
        return
    assert ours == got
