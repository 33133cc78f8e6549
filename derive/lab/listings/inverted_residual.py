"""Exercise 8.20(a): the inverted residual block of MobileNetV2.

The branch widens the input with a 1x1 convolution, filters every widened
channel on its own with a 3x3 depthwise convolution, and narrows back with
a 1x1 convolution that has no activation (a linear bottleneck).  The input
is added to the result only when the two have the same shape.
"""

import torch
from torch import nn


def _positive(name: str, value: int) -> int:
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


class InvertedResidual(nn.Module):
    """1x1 expand -> 3x3 depthwise -> 1x1 project (+ the input)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        expansion: int = 6,
        stride: int = 1,
    ) -> None:
        super().__init__()
        _positive("in_channels", in_channels)
        _positive("out_channels", out_channels)
        _positive("expansion", expansion)
        _positive("stride", stride)
        hidden = in_channels * expansion
        # The identity shortcut needs the branch output to have the input's
        # shape: same spatial size (stride 1) and same channel count.
        self.use_shortcut = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expansion != 1:
            # With expansion 1 the widening layer would map C channels to C;
            # MobileNetV2 leaves it out.
            layers += [
                nn.Conv2d(in_channels, hidden, 1, bias=False),
                nn.BatchNorm2d(hidden),
                nn.ReLU6(),
            ]
        layers += [
            # groups=hidden gives each channel its own 3x3 filter; padding 1
            # keeps the size at stride 1 and halves an even size at stride 2.
            nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1,
                      groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
            # No activation after the projection: a ReLU on the few output
            # channels would destroy information the block cannot recover.
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        # The convolutions have no bias: the batch norm that follows each
        # one subtracts the mean and adds its own shift.
        self.branch = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branch(x)
        if self.use_shortcut:
            out = out + x
        return out
