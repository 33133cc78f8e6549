"""The pieces an architecture spec is made of, beyond :mod:`derive.conv.layers`.

Design rule: an architecture is data, a tuple of items walked by :mod:`derive.arch.summary`;
nothing here computes.  Items are the shared :class:`~derive.conv.layers.Layer` and
:class:`~derive.conv.layers.Merge`, plus three small additions the shared format lacks:

* :class:`ArchLayer`, a ``Layer`` that also names the PyTorch module it mirrors
  (``"ReLU6"``, ``"SiLU"``, ``"StochasticDepth"``), so tables can say which activation;
* :class:`SqueezeExcitation`, a channel gate (global pooling, two 1x1 convolutions, a
  sigmoid, a multiplication) whose output has the input's shape;
* :class:`AdaptiveAvgPool`, PyTorch's adaptive average pooling to a fixed output size.

Row names are the module names PyTorch's reference implementations use
(``layer1.0.conv1``), so a row can be matched to a module.

>>> ArchLayer("act", module="ReLU6", name="features.0.2").module
'ReLU6'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from derive.conv.layers import Layer, Merge

__all__ = ["AdaptiveAvgPool", "ArchItem", "ArchLayer", "Architecture", "SqueezeExcitation",
           "module_type"]


@dataclass(frozen=True)
class ArchLayer(Layer):
    """A :class:`Layer` that names the PyTorch module it mirrors (empty: from ``kind``)."""

    module: str = ""


@dataclass(frozen=True)
class SqueezeExcitation:
    """Squeeze-and-excitation gate on ``channels`` maps (torchvision's layout).

    ``avgpool`` (global) -> ``fc1`` 1x1 conv ``channels -> squeeze`` (bias) -> ``activation``
    -> ``fc2`` 1x1 conv ``squeeze -> channels`` (bias) -> ``scale_activation`` (sigmoid) ->
    multiply the input channel-wise.

    >>> SqueezeExcitation(96, 4).squeeze
    4
    """

    channels: int
    squeeze: int
    activation: str = "SiLU"
    scale_activation: str = "Sigmoid"
    name: str = ""


@dataclass(frozen=True)
class AdaptiveAvgPool:
    """Adaptive average pooling to ``output`` (one size or ``(h, w)``); ``1`` is global."""

    output: int | tuple[int, int] = 1
    name: str = ""


ArchItem = Union[Layer, Merge, SqueezeExcitation, AdaptiveAvgPool]


@dataclass(frozen=True)
class Architecture:
    """A network as data: ``features`` up to the last feature map before global pooling,
    then ``head`` (pooling, flatten, classifier).  ``source`` says what it mirrors."""

    name: str
    features: tuple[ArchItem, ...]
    head: tuple[ArchItem, ...]
    input_shape: tuple[int, int, int] = (3, 224, 224)
    source: str = ""


_MODULE_OF_KIND = {
    "conv": "Conv2d", "deconv": "ConvTranspose2d", "dense": "Linear", "bn": "BatchNorm2d",
    "maxpool": "MaxPool2d", "avgpool": "AvgPool2d", "pool": "MaxPool2d", "act": "ReLU",
    "gap": "AdaptiveAvgPool2d", "flatten": "Flatten", "dropout": "Dropout",
    "identity": "Identity",
}


def module_type(item: object) -> str:
    """The PyTorch module type an item mirrors.

    >>> module_type(Layer("bn")), module_type(ArchLayer("act", module="SiLU"))
    ('BatchNorm2d', 'SiLU')
    """
    if isinstance(item, ArchLayer) and item.module:
        return item.module
    if isinstance(item, Layer):
        return _MODULE_OF_KIND.get(item.kind, item.kind)
    if isinstance(item, SqueezeExcitation):
        return "SqueezeExcitation"
    if isinstance(item, AdaptiveAvgPool):
        return "AdaptiveAvgPool2d"
    if isinstance(item, Merge):
        return {"add": "Add", "concat": "Concat"}.get(item.how, item.how)
    return type(item).__name__
