"""Exercise 8.24(c): the receptive field of dilated convolutions, measured.

An input pixel is in the receptive field of an output pixel when changing
it can change that output, i.e. when the output's gradient with respect to
it is not zero.  ``empirical_receptive_field`` back-propagates from the
centre output pixel and measures the box of input pixels that receive a
gradient.
"""

import torch
from torch import nn


def dilated_stack(
    dilations: tuple[int, ...] = (1, 2, 4),
    channels: int = 1,
    kernel_size: int = 3,
) -> nn.Sequential:
    """One k x k convolution per dilation rate, each keeping the size."""
    if not dilations or any(
        not isinstance(d, int) or d < 1 for d in dilations
    ):
        raise ValueError(
            f"dilations must be integers >= 1, got {dilations!r}"
        )
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(
            f"channels must be an integer >= 1, got {channels!r}"
        )
    if (not isinstance(kernel_size, int) or kernel_size < 1
            or kernel_size % 2 == 0):
        raise ValueError(
            f"kernel_size must be an odd integer >= 1, got {kernel_size!r}"
        )
    layers = []
    for d in dilations:
        # The taps sit d apart, so the window spans d*(k - 1) + 1 pixels.
        # Padding half the excess, d*(k - 1)/2 on each side (d when k = 3),
        # centres the window on its output pixel: the size is kept.
        layers.append(
            nn.Conv2d(channels, channels, kernel_size, dilation=d,
                      padding=d * (kernel_size - 1) // 2, bias=False)
        )
    return nn.Sequential(*layers)


def _extent(mask: torch.Tensor) -> int:
    """Distance from the first True entry to the last, inclusive."""
    hits = torch.nonzero(mask).flatten()
    return int(hits[-1] - hits[0]) + 1


def empirical_receptive_field(
    model: nn.Module,
    size: int = 33,
    channels: int = 1,
) -> tuple[int, int]:
    """Height and width of the input pixels the centre output depends on.

    The input is size x size; choose it larger than the field, or the box is
    cut off at the border.  The model's own weights are left untouched.
    """
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be an integer >= 1, got {size!r}")
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(
            f"channels must be an integer >= 1, got {channels!r}"
        )
    # Run the model with every parameter replaced by 1.  With positive
    # weights and a positive input, every path from an input pixel to the
    # output adds a positive amount to the gradient, so no pixel of the
    # field can lose its gradient by cancellation (or behind a ReLU).
    ones = {
        name: torch.ones_like(p, dtype=torch.float64)
        for name, p in model.named_parameters()
    }
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(1, channels, size, size, dtype=torch.float64,
                   generator=generator)
    x.requires_grad_(True)
    y = torch.func.functional_call(model, ones, (x,))
    # Back-propagate from the centre pixel (all output channels).
    y[0, :, y.shape[2] // 2, y.shape[3] // 2].sum().backward()
    reached = x.grad[0].abs().sum(dim=0) > 0
    rows, cols = reached.any(dim=1), reached.any(dim=0)
    return _extent(rows), _extent(cols)
