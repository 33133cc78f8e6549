"""Receptive fields against the gradient support of a PyTorch network (skipped without
PyTorch): with all-ones weights, output feature f depends exactly on the input positions
of its field."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derive.conv.layers import Layer
from derive.conv.receptive import receptive_field

torch = pytest.importorskip("torch", reason="PyTorch not installed")
F = torch.nn.functional

pytestmark = pytest.mark.torch

layer_st = st.builds(
    lambda kind, k, s, p, d: Layer(kind, kernel=k, stride=s,
                                   padding=min(p, k // 2) if kind == "avgpool" else p,
                                   dilation=d if kind == "conv" else 1),
    st.sampled_from(["conv", "avgpool"]), st.integers(1, 4), st.integers(1, 2),
    st.integers(0, 2), st.integers(1, 2))


def _forward(x, layers):
    for layer in layers:
        if layer.kind == "conv":
            w = torch.ones(1, 1, layer.kernel, dtype=x.dtype)
            x = F.conv1d(x, w, stride=layer.stride, padding=layer.padding,
                         dilation=layer.dilation)
        else:
            x = F.avg_pool1d(x, layer.kernel, stride=layer.stride, padding=layer.padding)
    return x


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(layer_st, min_size=1, max_size=4))
def test_gradient_support_is_the_field(layers) -> None:
    rf = receptive_field(layers)
    n = 4 * rf.size + 4 * rf.jump + 8
    x = torch.zeros(1, 1, n, dtype=torch.float64, requires_grad=True)
    y = _forward(x, layers)
    # a feature whose whole field lies inside the input
    f = next((f for f in range(y.shape[-1])
              if rf.interval(f)[0] >= 0 and rf.interval(f)[1] <= n - 1), None)
    assert f is not None
    y[0, 0, f].backward()
    support = torch.nonzero(x.grad[0, 0]).flatten().tolist()
    assert (support[0], support[-1]) == rf.interval(f)
