"""Exercise 8.14: the norm of the loss gradient at every layer of a deep
stack of 3x3 convolution + batch norm + ReLU layers, plain or residual.

Layer l maps h_{l-1} to f_l(h_{l-1}) = ReLU(BN(conv(h_{l-1}))) in the plain
stack and to h_{l-1} + f_l(h_{l-1}) in the residual one, so the two stacks
can share their weights.  ``measure_gradient_norms`` returns
||dL/dh_l|| for l = 0 (the input) up to the depth (the output).
"""

import torch
from torch import nn


class ConvBNLayer(nn.Module):
    """f(h) = ReLU(BN(conv3x3(h))); with ``residual``, h + f(h)."""

    def __init__(self, channels: int, residual: bool) -> None:
        super().__init__()
        # No bias: batch norm subtracts each channel's mean, bias included.
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.residual = residual

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        f = torch.relu(self.bn(self.conv(h)))
        # The skip adds the input unchanged: its Jacobian is the identity.
        return h + f if self.residual else f


class ConvBNStack(nn.Module):
    """``depth`` layers applied in turn; ``layers[l - 1]`` computes h_l."""

    def __init__(self, depth: int, channels: int, residual: bool) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            ConvBNLayer(channels, residual) for _ in range(depth)
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            h = layer(h)
        return h


def conv_bn_stack(
    depth: int, channels: int = 64, residual: bool = False
) -> nn.Module:
    """A plain (or residual) stack of ``depth`` conv + BN + ReLU layers."""
    if depth < 1 or channels < 1:
        raise ValueError(f"need depth, channels >= 1, got {depth}, {channels}")
    return ConvBNStack(depth, channels, residual)


def measure_gradient_norms(
    model: nn.Module,
    input_shape: tuple[int, ...] = (1, 64, 32, 32),
    train_mode: bool = True,
    generator: torch.Generator | None = None,
) -> list[float]:
    """[||dL/dh_0||, ..., ||dL/dh_depth||] for a random input h_0.

    ``model`` is a stack from ``conv_bn_stack`` (any module whose
    ``layers`` compute h_1, ..., h_depth in turn will do).
    The loss is L = sum(u * h_depth) for a random tensor u drawn after the
    input: the output gradient is then u itself, a generic direction.  (The
    sum of the output would make it all ones, a special direction.)  In
    training mode batch norm uses the batch's statistics and, as in any
    training step, updates its running ones; in eval mode it uses the
    running statistics (mean 0, variance 1 until it has been trained).
    """
    model.train(train_mode)
    dtype = next(model.parameters()).dtype
    # Drawn in float32, then converted: a float64 copy of the model gets
    # the same input and the same loss.
    h = torch.randn(input_shape, generator=generator).to(dtype)
    h.requires_grad_(True)
    states = [h]
    for layer in model.layers:
        h = layer(h)
        # Autograd frees the gradient of an intermediate tensor unless told
        # to keep it.
        h.retain_grad()
        states.append(h)
    u = torch.randn(h.shape, generator=generator).to(dtype)
    (u * h).sum().backward()
    # The norm in float64: squaring entries near 1e-23 underflows float32.
    return [s.grad.double().norm().item() for s in states]
