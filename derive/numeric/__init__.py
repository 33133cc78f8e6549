"""NumPy reference implementations of convolution arithmetic, NCHW, float64 friendly.

Design rule: the same mathematics evaluated several independent ways (explicit loops,
im2col plus a matrix product, a sparse Toeplitz matrix), gradients from the derived
backward formulas, finite differences only as a check, and PyTorch's size rules
(pooling ``ceil_mode``, transposed ``output_padding``).  No SymPy here.

>>> import numpy as np
>>> from derive import numeric
>>> x = np.ones((1, 1, 4, 4)); w = np.ones((1, 1, 3, 3))
>>> numeric.conv2d(x, w).shape, numeric.conv2d_direct(x, w, padding=1).shape
((1, 1, 2, 2), (1, 1, 4, 4))
"""

from derive.numeric.backward import conv2d_backward, flip_kernel, stride_dilate
from derive.numeric.conv import conv1d, conv2d, conv2d_direct
from derive.numeric.finite_diff import directional_derivative, numerical_gradient
from derive.numeric.im2col import im2col_numeric
from derive.numeric.pixel_shuffle import pixel_shuffle, pixel_unshuffle
from derive.numeric.pool import avg_pool2d, max_pool2d
from derive.numeric.toeplitz import (
    SparseMatrix, conv1d_matrix, conv2d_matrix, conv2d_toeplitz,
)
from derive.numeric.transposed import conv_transpose2d

__all__ = [
    "SparseMatrix",
    "avg_pool2d",
    "conv1d",
    "conv1d_matrix",
    "conv2d",
    "conv2d_backward",
    "conv2d_direct",
    "conv2d_matrix",
    "conv2d_toeplitz",
    "conv_transpose2d",
    "directional_derivative",
    "flip_kernel",
    "im2col_numeric",
    "max_pool2d",
    "numerical_gradient",
    "pixel_shuffle",
    "pixel_unshuffle",
    "stride_dilate",
]
