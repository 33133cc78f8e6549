"""A small layer-spec format shared by shapes, receptive fields, costs and architectures.

A network is a sequence of :class:`Layer` and :class:`Merge` items.  A ``Merge`` holds
parallel branches (each a sequence) joined by ``"add"`` (residual) or ``"concat"``.

>>> Layer("conv", kernel=3, stride=2, padding=1).kernel
3
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence, Union

LAYER_KINDS = ("conv", "pool", "avgpool", "maxpool", "deconv", "identity", "dense",
               "bn", "act", "gap", "flatten", "dropout")


@dataclass(frozen=True)
class Layer:
    """One layer.  Spatial fields apply to both axes unless ``kernel`` etc. are pairs.

    ``kind``: conv, maxpool/avgpool/pool, deconv (transposed conv), dense, bn, act, gap
    (global average pooling), flatten, dropout, identity.  ``in_channels``/``out_channels``
    and ``groups`` matter for costs; ``bias`` says whether a conv/dense layer has one.
    """
    kind: str
    kernel: Any = 1
    stride: Any = 1
    padding: Any = 0
    dilation: Any = 1
    in_channels: Any = None
    out_channels: Any = None
    groups: Any = 1
    bias: bool = True
    ceil_mode: bool = False
    output_padding: Any = 0
    name: str = ""


@dataclass(frozen=True)
class Merge:
    """Parallel branches joined by ``how`` ("add" or "concat")."""
    branches: tuple[tuple["Item", ...], ...]
    how: str = "add"
    name: str = ""


Item = Union[Layer, Merge]
Network = Sequence[Item]
