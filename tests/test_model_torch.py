"""The indexed-sum model's values against torch.nn.functional.conv1d/conv2d (skipped
without PyTorch)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derive.conv.model import conv_model

torch = pytest.importorskip("torch", reason="PyTorch not installed")
F = torch.nn.functional

pytestmark = pytest.mark.torch


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_model_values_match_conv2d(data) -> None:
    groups = data.draw(st.sampled_from([1, 2]))
    c_in, c_out = groups * data.draw(st.integers(1, 2)), groups * data.draw(st.integers(1, 2))
    k = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    s = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3)))
    p = (data.draw(st.integers(0, 2)), data.draw(st.integers(0, 1)))
    d = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)))
    size = tuple(data.draw(st.integers(max(1, d[a] * (k[a] - 1) + 1 - 2 * p[a]), 5))
                 for a in range(2))
    rng = np.random.default_rng(data.draw(st.integers(0, 10_000)))
    x = rng.integers(-4, 5, size=(2, c_in) + size)
    w = rng.integers(-4, 5, size=(c_out, c_in // groups) + k)
    b = rng.integers(-4, 5, size=(c_out,))
    m = conv_model(2, size=size, kernel=k, stride=s, padding=p, dilation=d, batch=2,
                   in_channels=c_in, out_channels=c_out, groups=groups)
    ours = m.evaluate(x.astype(object), w.astype(object), b.astype(object))
    ref = F.conv2d(torch.tensor(x, dtype=torch.float64), torch.tensor(w, dtype=torch.float64),
                   torch.tensor(b, dtype=torch.float64), stride=s, padding=p, dilation=d,
                   groups=groups).numpy()
    assert ours.shape == ref.shape
    assert np.array_equal(ours.astype(np.float64), ref)


def test_model_values_match_conv1d() -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(-4, 5, size=(1, 3, 9))
    w = rng.integers(-4, 5, size=(3, 1, 3))
    m = conv_model(1, size=9, kernel=3, stride=2, padding=1, dilation=2, batch=1,
                   in_channels=3, out_channels=3, groups=3, bias=False)
    ours = m.evaluate(x.astype(object), w.astype(object))
    ref = F.conv1d(torch.tensor(x, dtype=torch.float64), torch.tensor(w, dtype=torch.float64),
                   stride=2, padding=1, dilation=2, groups=3).numpy()
    assert np.array_equal(ours.astype(np.float64), ref)
