"""Exercise 8.21(c): im2col, and convolution as one matrix product.

``im2col`` lays the input out as a matrix with one column per output
position; the column holds the window that position sees.  Row
(c, u, v), numbered (c*k + u)*k + v, is input channel c at kernel row u and
kernel column v, the order of torch.nn.functional.unfold and of a flattened
kernel.  Multiplying the flattened kernels by this matrix is then the
convolution.
"""

import torch
import torch.nn.functional as F


def _check(x: torch.Tensor, kernel_size: int, stride: int,
           padding: int) -> tuple[int, int]:
    """Validate the arguments; return the output height and width."""
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(
            f"x must have shape (1, C, H, W), got {tuple(x.shape)}"
        )
    if not isinstance(kernel_size, int) or kernel_size < 1:
        raise ValueError(
            f"kernel_size must be an integer >= 1, got {kernel_size!r}"
        )
    if not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be an integer >= 1, got {stride!r}")
    if not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be an integer >= 0, got {padding!r}")
    height, width = x.shape[2] + 2 * padding, x.shape[3] + 2 * padding
    if kernel_size > min(height, width):
        raise ValueError(
            f"kernel_size={kernel_size} does not fit the padded "
            f"{height}x{width} input"
        )
    # floor((n + 2p - k) / s) + 1 windows fit along each axis.
    return ((height - kernel_size) // stride + 1,
            (width - kernel_size) // stride + 1)


def im2col(
    x: torch.Tensor,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
) -> torch.Tensor:
    """Column matrix of x (1, C, H, W): shape (C*k*k, H_out*W_out)."""
    h_out, w_out = _check(x, kernel_size, stride, padding)
    k = kernel_size
    channels = x.shape[1]
    padded = F.pad(x[0], (padding, padding, padding, padding))
    # Entry ((c, u, v), (i, j)) of the matrix is padded[c, s*i + u, s*j + v]:
    # output (i, j) reads the window whose top-left corner is (s*i, s*j).
    # Each index gets its own axis, so broadcasting forms every combination
    # and one indexing operation reads all entries.
    c = torch.arange(channels).view(channels, 1, 1, 1, 1)
    u = torch.arange(k).view(1, k, 1, 1, 1)
    v = torch.arange(k).view(1, 1, k, 1, 1)
    i = torch.arange(h_out).view(1, 1, 1, h_out, 1)
    j = torch.arange(w_out).view(1, 1, 1, 1, w_out)
    entries = padded[c, stride * i + u, stride * j + v]
    # (C, k, k, H_out, W_out): merging the first three axes numbers the rows
    # (c*k + u)*k + v, merging the last two numbers the columns i*W_out + j.
    return entries.reshape(channels * k * k, h_out * w_out)


def conv2d_im2col(
    x: torch.Tensor,
    weight: torch.Tensor,
    stride: int = 1,
    padding: int = 0,
) -> torch.Tensor:
    """Convolve x (1, C, H, W) with a square kernel weight (C_out, C, k, k)."""
    if weight.dim() != 4 or weight.shape[2] != weight.shape[3]:
        raise ValueError(
            "weight must have shape (C_out, C, k, k), "
            f"got {tuple(weight.shape)}"
        )
    if x.dim() == 4 and weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"weight has {weight.shape[1]} input channels but x has "
            f"{x.shape[1]}: weight shape {tuple(weight.shape)}"
        )
    h_out, w_out = _check(x, weight.shape[2], stride, padding)
    columns = im2col(x, weight.shape[2], stride, padding)
    # Row o of the flattened weight is kernel o in the row order of the
    # columns, so entry (o, position) of the product is that output value.
    rows = weight.reshape(weight.shape[0], -1)
    return (rows @ columns).reshape(1, weight.shape[0], h_out, w_out)
