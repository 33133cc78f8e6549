"""Exercise 8.28(b): two upscaling CNNs for climate downscaling.

Both map 6 coarse fields on a 16 x 16 grid to one field on a 64 x 64 grid.
The first encodes, then doubles the size three times with transposed
convolutions; the second stays on the coarse grid and lets a pixel shuffle
turn 16 channels into one channel four times finer in each direction.
"""

import torch
from torch import nn

SCALE = 4  # 16 x 16 -> 64 x 64


def _check_channels(in_channels: int) -> None:
    if not isinstance(in_channels, int) or in_channels < 1:
        raise ValueError(
            f"in_channels must be an integer >= 1, got {in_channels!r}"
        )


def _up(c_in: int, c_out: int) -> nn.ConvTranspose2d:
    # Kernel 4, stride 2, padding 1: (n - 1)*2 - 2*1 + 4 = 2n, the size
    # doubles exactly, and the kernel is a multiple of the stride.
    return nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)


class TransposedConvUpscaler(nn.Module):
    """Encoder-decoder: 16 -> 8 by a stride-2 convolution, then 8 -> 64."""

    def __init__(self, in_channels: int = 6) -> None:
        super().__init__()
        _check_channels(in_channels)
        # 3x3 convolutions with padding 1 keep the size; stride 2 halves it.
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, 64, 3, padding=1), nn.ReLU(),
            nn.Conv2d(64, 128, 3, stride=2, padding=1), nn.ReLU(),
        )
        self.decoder = nn.Sequential(
            _up(128, 64), nn.ReLU(),  # 8 -> 16
            _up(64, 32), nn.ReLU(),   # 16 -> 32
            _up(32, 16), nn.ReLU(),   # 32 -> 64
            # No activation at the end: temperatures can be any real number.
            nn.Conv2d(16, 1, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class PixelShuffleUpscaler(nn.Module):
    """Encoder on the coarse grid, then a sub-pixel convolution."""

    def __init__(self, in_channels: int = 6) -> None:
        super().__init__()
        _check_channels(in_channels)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 3, padding=1), nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
            # One output channel times SCALE**2: a value for each of the
            # 4 x 4 fine pixels that cover one coarse pixel.
            nn.Conv2d(64, 1 * SCALE ** 2, 3, padding=1),
        )
        # Channel (i*SCALE + j) of coarse pixel (h, w) becomes fine pixel
        # (SCALE*h + i, SCALE*w + j): a rearrangement, with no parameters.
        self.shuffle = nn.PixelShuffle(SCALE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.features(x))
