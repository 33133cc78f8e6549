"""Exercise 8.15(a): post- and pre-activation residual blocks, and a
CIFAR-style ResNet of depth 6n + 2 built from either.

    post-activation:  y = ReLU(BN(Conv(ReLU(BN(Conv(x))))) + x)
    pre-activation:   y = Conv(ReLU(BN(Conv(ReLU(BN(x)))))) + x

Every Conv is 3x3 with padding 1 and no bias: a batch norm next to it
already has a shift.  In the pre-activation block nothing is applied to x
on its way to the sum, so along a stage of such blocks the shortcut is the
identity from end to end; the post-activation block sends every sum
through a ReLU.
"""

import torch
import torch.nn.functional as F
from torch import nn


def conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution, padding 1 (size kept at stride 1), no bias."""
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)


class PostActivationBlock(nn.Module):
    """y = ReLU(BN(Conv(ReLU(BN(Conv(x))))) + shortcut(x))."""

    pre_activation = False

    def __init__(self, channels: int, in_channels: int | None = None,
                 stride: int = 1) -> None:
        super().__init__()
        c_in = channels if in_channels is None else in_channels
        self.conv1 = conv3x3(c_in, channels, stride)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != channels:
            # Where width or stride changes, x cannot be added as it is:
            # a strided 1x1 convolution and a batch norm map it to the new
            # shape (He et al.'s projection shortcut, option B).
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        # The ReLU comes after the sum, so it also acts on the shortcut.
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class PreActivationBlock(nn.Module):
    """y = Conv(ReLU(BN(Conv(ReLU(BN(x)))))) + shortcut(x)."""

    pre_activation = True

    def __init__(self, channels: int, in_channels: int | None = None,
                 stride: int = 1) -> None:
        super().__init__()
        c_in = channels if in_channels is None else in_channels
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = conv3x3(c_in, channels, stride)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels)
        self.projection: nn.Module | None = None
        if stride != 1 or c_in != channels:
            # A strided 1x1 convolution where the shape changes; it reads
            # the normalised, rectified input the residual branch reads
            # (as in He et al.'s pre-activation code), so no second batch
            # norm is needed on the shortcut.
            self.projection = nn.Conv2d(c_in, channels, 1, stride=stride,
                                        bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = F.relu(self.bn1(x))
        residual = self.conv2(F.relu(self.bn2(self.conv1(a))))
        # Identity blocks add x itself: nothing on the shortcut.
        shortcut = x if self.projection is None else self.projection(a)
        return residual + shortcut


def resnet(block: type[nn.Module], depth: int, channels: int = 16,
           num_classes: int = 10, in_channels: int = 1) -> nn.Sequential:
    """ResNet of depth 6n + 2 from `block`: a 3x3 stem convolution, three
    stages of n blocks of widths channels, 2*channels and 4*channels (each
    later stage starting with stride 2), global average pooling, a linear
    layer.  The depth counts the stem, two convolutions per block and the
    linear layer; the two 1x1 projections are not counted, as in He et al.
    """
    if depth < 8 or (depth - 2) % 6 != 0:
        raise ValueError(f"depth must be 6n + 2 with n >= 1, got {depth}")
    n = (depth - 2) // 6
    pre = block.pre_activation
    layers: list[nn.Module] = [conv3x3(in_channels, channels)]
    if not pre:
        # A post-activation block expects a normalised, rectified input.
        layers += [nn.BatchNorm2d(channels), nn.ReLU()]
    width = channels
    for stage in range(3):
        out = channels * 2**stage
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            layers.append(block(out, in_channels=width, stride=stride))
            width = out
    if pre:
        # The last pre-activation block ends in a sum nothing has
        # normalised; one BN-ReLU before pooling does it.
        layers += [nn.BatchNorm2d(width), nn.ReLU()]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(width, num_classes)]
    return nn.Sequential(*layers)
