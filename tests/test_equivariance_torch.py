"""PyTorch cross-checks of the equivariance verdicts (skipped without PyTorch)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed")
F = torch.nn.functional

from derive.conv.equivariance import (  # noqa: E402
    conv_circular, conv_strided, exercise_8_22, max_pool, torch_cross_check,
)


def test_every_case_agrees_with_pytorch() -> None:
    for value in exercise_8_22().values():
        for r in value if isinstance(value, tuple) else (value,):
            check = torch_cross_check(r)
            assert check is not None and check.agrees, (r.key, check)


def test_circular_conv_with_torch_roll() -> None:
    r = conv_circular()
    w = torch.as_tensor(r.params["kernel"])[None, None]
    x = torch.randn(1, 1, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    conv = torch.nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular", bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(w)
        for s in [(0, 1), (2, -3)]:
            lhs = conv(torch.roll(x, s, dims=(2, 3)))
            rhs = torch.roll(conv(x), s, dims=(2, 3))
            assert torch.allclose(lhs, rhs)


@pytest.mark.parametrize("make", [conv_strided, max_pool])
def test_downsampling_counterexample_in_torch(make) -> None:
    r = make()
    cex = r.counterexample
    x = torch.as_tensor(np.asarray(cex.input, dtype=float))[None, None]
    if r.key == "max_pool":
        op = lambda t: F.max_pool2d(t, 2)  # noqa: E731
    else:
        w = torch.as_tensor(r.params["kernel"])[None, None]
        op = lambda t: F.conv2d(F.pad(t, (1, 1, 1, 1), mode="circular"), w, stride=2)  # noqa: E731
    fx = op(x)[0, 0]
    ftx = op(torch.roll(x, cex.shift, dims=(2, 3)))[0, 0]
    assert torch.allclose(ftx, torch.as_tensor(np.asarray(cex.output_of_shifted, float)))
    for a in range(fx.shape[0]):
        for b in range(fx.shape[1]):
            assert not torch.allclose(torch.roll(fx, (a, b), dims=(0, 1)), ftx)
