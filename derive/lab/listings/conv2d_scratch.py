"""Exercise 8.9: a 2-D convolution written from scratch, twice.

``conv2d_loops`` follows the definition: one output value per (sample,
output channel, row, column), each a sum over a window of the zero-padded
input.  ``conv2d_unfold`` computes the same numbers as a single matrix
product: it gathers every window into a row of a patch matrix (im2col) and
multiplies by the flattened kernels.  Like PyTorch, both compute the
cross-correlation (the kernel is not flipped).
"""

import torch


def _check(
    x: torch.Tensor, weight: torch.Tensor, stride: int, padding: int
) -> tuple[int, int]:
    """Validate the arguments; return the output height and width."""
    if x.dim() != 4:
        raise ValueError(
            f"x must be 4-D (batch, C_in, H, W), got shape {tuple(x.shape)}"
        )
    if weight.dim() != 4:
        raise ValueError(
            "weight must be 4-D (C_out, C_in, k_h, k_w), "
            f"got shape {tuple(weight.shape)}"
        )
    if weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"weight has {weight.shape[1]} input channels but x has "
            f"{x.shape[1]}: weight shape {tuple(weight.shape)}"
        )
    if not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be an integer >= 1, got {stride!r}")
    if not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be an integer >= 0, got {padding!r}")
    height, width = x.shape[2] + 2 * padding, x.shape[3] + 2 * padding
    k_h, k_w = weight.shape[2], weight.shape[3]
    if k_h > height or k_w > width:
        raise ValueError(
            f"weight's {k_h}x{k_w} kernel does not fit the padded "
            f"{height}x{width} input"
        )
    # Windows start at 0, stride, 2*stride, ... and must end inside the
    # padded input: floor((n + 2p - k) / s) + 1 of them along each axis.
    return (height - k_h) // stride + 1, (width - k_w) // stride + 1


def _zero_pad(x: torch.Tensor, padding: int) -> torch.Tensor:
    """Copy x into the middle of a larger tensor of zeros."""
    batch, channels, height, width = x.shape
    padded = x.new_zeros(
        batch, channels, height + 2 * padding, width + 2 * padding
    )
    padded[:, :, padding:padding + height, padding:padding + width] = x
    return padded


def conv2d_loops(
    x: torch.Tensor,
    weight: torch.Tensor,
    stride: int = 1,
    padding: int = 0,
) -> torch.Tensor:
    """Convolve x (batch, C_in, H, W) with weight (C_out, C_in, k_h, k_w).

    Returns a tensor of shape (batch, C_out, H_out, W_out).
    """
    h_out, w_out = _check(x, weight, stride, padding)
    padded = _zero_pad(x, padding)
    k_h, k_w = weight.shape[2], weight.shape[3]
    out = x.new_zeros(x.shape[0], weight.shape[0], h_out, w_out)
    for n in range(x.shape[0]):
        for o in range(weight.shape[0]):
            for i in range(h_out):
                for j in range(w_out):
                    # The window of output (i, j) starts stride times
                    # further along than the window of output (0, 0).
                    top, left = i * stride, j * stride
                    window = padded[n, :, top:top + k_h, left:left + k_w]
                    # Sum over input channels and kernel taps at once.
                    out[n, o, i, j] = (window * weight[o]).sum()
    return out


def conv2d_unfold(
    x: torch.Tensor,
    weight: torch.Tensor,
    stride: int = 1,
    padding: int = 0,
) -> torch.Tensor:
    """The same convolution as one matrix product over gathered patches."""
    h_out, w_out = _check(x, weight, stride, padding)
    padded = _zero_pad(x, padding)
    c_out, c_in, k_h, k_w = weight.shape
    # Tensor.unfold(dim, size, step) cuts a dimension into windows of the
    # given size, one every `step` positions; doing it on both spatial axes
    # gives (batch, C_in, H_out, W_out, k_h, k_w) without copying.
    windows = padded.unfold(2, k_h, stride).unfold(3, k_w, stride)
    # One row per output position; each row lists its window in the order
    # (input channel, kernel row, kernel column), the order in which
    # weight[o].reshape(-1) lists the kernel of output channel o.
    patches = windows.permute(0, 2, 3, 1, 4, 5).reshape(
        x.shape[0], h_out * w_out, c_in * k_h * k_w
    )
    # (batch, positions, C_in*k_h*k_w) @ (C_in*k_h*k_w, C_out)
    out = patches @ weight.reshape(c_out, -1).t()
    # Put the channel axis before the spatial ones, as conv2d does.
    return out.transpose(1, 2).reshape(x.shape[0], c_out, h_out, w_out)
