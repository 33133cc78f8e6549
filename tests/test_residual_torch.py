"""PyTorch autograd cross-check of the residual path expansion (skipped without PyTorch)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed")

from derive.conv.residual import paths  # noqa: E402


@pytest.mark.parametrize("n", [3, 5])
def test_autograd_jacobian_is_the_sum_over_paths(n: int) -> None:
    g = torch.Generator().manual_seed(n)
    d = 4
    As = [torch.randn(d, d, dtype=torch.float64, generator=g) for _ in range(n)]
    h0 = torch.randn(d, dtype=torch.float64, generator=g)

    def net(h: torch.Tensor) -> torch.Tensor:
        for A in As:
            h = h + torch.tanh(A @ h)
        return h

    full = torch.autograd.functional.jacobian(net, h0)
    Js, h = [], h0
    for A in As:
        Js.append(torch.autograd.functional.jacobian(lambda v, A=A: torch.tanh(A @ v), h))
        h = h + torch.tanh(A @ h)
    total = torch.zeros(d, d, dtype=torch.float64)
    for p in paths(n):
        term = torch.eye(d, dtype=torch.float64)
        for name in str(p.term).split("*") if p.length else []:
            term = term @ Js[int(name.split("_")[1]) - 1]
        total += term
    assert torch.allclose(total, full, atol=1e-10)
