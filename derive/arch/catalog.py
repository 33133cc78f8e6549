"""The architecture catalog: six classic networks as layer-by-layer data.

Design rule: every spec is *generated* from its stage configuration by the same loops the
reference implementation (torchvision) runs, never typed layer by layer, and nothing here
counts anything; :mod:`derive.arch.summary` derives every number from the specs.  Names
follow torchvision's module names so each row can be matched to a PyTorch module.

Layouts mirrored (torchvision's ``models`` package):

* ``alexnet``: the single-tower variant (64/192/384/256/256 channels), adaptive average
  pooling to 6x6, dropout-dense classifier;
* ``vgg16``: configuration "D" without batch norm, adaptive pooling to 7x7, 3 dense layers;
* ``resnet18`` / ``resnet50``: basic / bottleneck blocks, ResNet v1.5 (the stride sits on
  the 3x3 convolution), 1x1 convolution + batch norm shortcuts where shapes change;
* ``mobilenet_v2``: width 1.0, inverted residuals with ReLU6, channels rounded to multiples
  of 8;
* ``efficientnet_b0``: MBConv blocks with squeeze-excitation (squeeze = input channels / 4),
  SiLU, stochastic depth (no parameters, shown as a pass-through).

>>> names()
('alexnet', 'vgg16', 'resnet18', 'resnet50', 'mobilenet_v2', 'efficientnet_b0')
>>> architecture("resnet18").features[0].name
'conv1'
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable, Sequence

from derive.arch.spec import (
    AdaptiveAvgPool, ArchItem, ArchLayer, Architecture, SqueezeExcitation,
)
from derive.conv.layers import Merge
from derive.errors import InputError, check_positive_int

__all__ = ["CATALOG", "alexnet", "architecture", "efficientnet", "make_divisible",
           "mobilenet_v2", "names", "resnet", "vgg"]


# -- small constructors --------------------------------------------------------------------

def _conv(name: str, c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0,
          groups: int = 1, bias: bool = False) -> ArchLayer:
    return ArchLayer("conv", kernel=kernel, stride=stride, padding=padding, in_channels=c_in,
                     out_channels=c_out, groups=groups, bias=bias, name=name)


def _bn(name: str, channels: int) -> ArchLayer:
    return ArchLayer("bn", in_channels=channels, out_channels=channels, name=name)


def _act(name: str, module: str = "ReLU") -> ArchLayer:
    return ArchLayer("act", module=module, name=name)


def _maxpool(name: str, kernel: int, stride: int, padding: int = 0) -> ArchLayer:
    return ArchLayer("maxpool", kernel=kernel, stride=stride, padding=padding, name=name)


def _dense(name: str, n_in: int, n_out: int) -> ArchLayer:
    return ArchLayer("dense", in_channels=n_in, out_channels=n_out, name=name)


def _dropout(name: str, module: str = "Dropout") -> ArchLayer:
    return ArchLayer("dropout", module=module, name=name)


def _flatten() -> ArchLayer:
    return ArchLayer("flatten", name="flatten")


def _conv_norm_act(prefix: str, c_in: int, c_out: int, kernel: int, stride: int = 1,
                   groups: int = 1, activation: str | None = "ReLU") -> list[ArchItem]:
    """torchvision's ``Conv2dNormActivation``: conv (no bias, 'same' padding for odd
    kernels), batch norm, optional activation; submodules ``.0``, ``.1``, ``.2``."""
    items: list[ArchItem] = [
        _conv(f"{prefix}.0", c_in, c_out, kernel, stride, (kernel - 1) // 2, groups),
        _bn(f"{prefix}.1", c_out)]
    if activation:
        items.append(_act(f"{prefix}.2", activation))
    return items


def _residual(name: str, main: Sequence[ArchItem],
              shortcut: Sequence[ArchItem] = ()) -> Merge:
    return Merge(branches=(tuple(main), tuple(shortcut)), how="add", name=name)


# -- AlexNet and VGG -------------------------------------------------------------------------

def alexnet(num_classes: int = 1000) -> Architecture:
    """torchvision's AlexNet.

    >>> len(alexnet().features)
    13
    """
    num_classes = check_positive_int("num_classes", num_classes)
    # (out channels, kernel, stride, padding, max pool after)
    stages = [(64, 11, 4, 2, True), (192, 5, 1, 2, True), (384, 3, 1, 1, False),
              (256, 3, 1, 1, False), (256, 3, 1, 1, True)]
    features: list[ArchItem] = []
    c_in = 3
    for c_out, k, s, p, pool in stages:
        i = len(features)
        features += [_conv(f"features.{i}", c_in, c_out, k, s, p, bias=True),
                     _act(f"features.{i + 1}")]
        if pool:
            features.append(_maxpool(f"features.{i + 2}", 3, 2))
        c_in = c_out
    pooled = 6
    head: list[ArchItem] = [AdaptiveAvgPool((pooled, pooled), "avgpool"), _flatten()]
    n_in = c_in * pooled * pooled
    for i, n_out in enumerate((4096, 4096)):
        head += [_dropout(f"classifier.{3 * i}"), _dense(f"classifier.{3 * i + 1}", n_in, n_out),
                 _act(f"classifier.{3 * i + 2}")]
        n_in = n_out
    head.append(_dense("classifier.6", n_in, num_classes))
    return Architecture("alexnet", tuple(features), tuple(head),
                        source="torchvision.models.alexnet")


VGG_CONFIGS: dict[str, tuple[int | str, ...]] = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg13": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"),
}
"""torchvision's VGG configurations: channel counts, ``"M"`` = 2x2 max pooling."""


def vgg(config: str = "vgg16", num_classes: int = 1000) -> Architecture:
    """torchvision's VGG without batch norm.

    >>> sum(1 for x in vgg().features if x.kind == "conv")
    13
    """
    if config not in VGG_CONFIGS:
        raise InputError(f"got config={config!r}; config must be one of "
                         + ", ".join(VGG_CONFIGS))
    num_classes = check_positive_int("num_classes", num_classes)
    features: list[ArchItem] = []
    c_in = 3
    for v in VGG_CONFIGS[config]:
        i = len(features)
        if v == "M":
            features.append(_maxpool(f"features.{i}", 2, 2))
        else:
            assert isinstance(v, int)
            features += [_conv(f"features.{i}", c_in, v, 3, 1, 1, bias=True),
                         _act(f"features.{i + 1}")]
            c_in = v
    pooled = 7
    head: list[ArchItem] = [AdaptiveAvgPool((pooled, pooled), "avgpool"), _flatten()]
    n_in = c_in * pooled * pooled
    for i, n_out in enumerate((4096, 4096)):
        head += [_dense(f"classifier.{3 * i}", n_in, n_out), _act(f"classifier.{3 * i + 1}"),
                 _dropout(f"classifier.{3 * i + 2}")]
        n_in = n_out
    head.append(_dense("classifier.6", n_in, num_classes))
    return Architecture(config, tuple(features), tuple(head),
                        source=f"torchvision.models.{config}")


# -- ResNet ------------------------------------------------------------------------------------

def _basic_block(prefix: str, c_in: int, planes: int, stride: int) -> tuple[list[ArchItem], int]:
    main = [_conv(f"{prefix}.conv1", c_in, planes, 3, stride, 1), _bn(f"{prefix}.bn1", planes),
            _act(f"{prefix}.relu"),
            _conv(f"{prefix}.conv2", planes, planes, 3, 1, 1), _bn(f"{prefix}.bn2", planes)]
    return main, planes


def _bottleneck_block(prefix: str, c_in: int, planes: int,
                      stride: int) -> tuple[list[ArchItem], int]:
    width, c_out = planes, planes * 4
    main = [_conv(f"{prefix}.conv1", c_in, width, 1), _bn(f"{prefix}.bn1", width),
            _act(f"{prefix}.relu"),
            _conv(f"{prefix}.conv2", width, width, 3, stride, 1), _bn(f"{prefix}.bn2", width),
            _act(f"{prefix}.relu"),
            _conv(f"{prefix}.conv3", width, c_out, 1), _bn(f"{prefix}.bn3", c_out)]
    return main, c_out


RESNET_CONFIGS: dict[str, tuple[str, tuple[int, int, int, int]]] = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
    "resnet101": ("bottleneck", (3, 4, 23, 3)),
    "resnet152": ("bottleneck", (3, 8, 36, 3)),
}
"""torchvision's ResNets: block type and blocks per stage."""


def resnet(config: str = "resnet18", num_classes: int = 1000) -> Architecture:
    """torchvision's ResNet (v1.5).

    >>> [x.name for x in resnet("resnet50").features if getattr(x, "name", "").endswith("0")][:1]
    ['layer1.0']
    """
    if config not in RESNET_CONFIGS:
        raise InputError(f"got config={config!r}; config must be one of "
                         + ", ".join(RESNET_CONFIGS))
    num_classes = check_positive_int("num_classes", num_classes)
    kind, blocks = RESNET_CONFIGS[config]
    make = _basic_block if kind == "basic" else _bottleneck_block
    expansion = 1 if kind == "basic" else 4
    features: list[ArchItem] = [_conv("conv1", 3, 64, 7, 2, 3), _bn("bn1", 64), _act("relu"),
                                _maxpool("maxpool", 3, 2, 1)]
    c_in = 64
    for stage, (planes, n, stride) in enumerate(zip((64, 128, 256, 512), blocks, (1, 2, 2, 2)),
                                                start=1):
        for b in range(n):
            prefix = f"layer{stage}.{b}"
            s = stride if b == 0 else 1
            main, c_out = make(prefix, c_in, planes, s)
            shortcut: list[ArchItem] = []
            if s != 1 or c_in != planes * expansion:
                shortcut = [_conv(f"{prefix}.downsample.0", c_in, c_out, 1, s),
                            _bn(f"{prefix}.downsample.1", c_out)]
            features += [_residual(prefix, main, shortcut), _act(f"{prefix}.relu")]
            c_in = c_out
    head = (AdaptiveAvgPool(1, "avgpool"), _flatten(), _dense("fc", c_in, num_classes))
    return Architecture(config, tuple(features), head,
                        source=f"torchvision.models.{config} (v1.5: stride on the 3x3 conv)")


# -- MobileNetV2 and EfficientNet --------------------------------------------------------------

def make_divisible(value: Fraction | int, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of ``divisor`` (torchvision's ``_make_divisible``):
    to the nearest multiple, at least ``min_value``, and never more than 10% below ``value``.
    Exact arithmetic (decimals are rationals).

    >>> make_divisible(Fraction(32) * Fraction("1.1")), make_divisible(Fraction(17.6))
    (32, 16)
    """
    value = Fraction(value)
    if min_value is None:
        min_value = divisor
    new = max(min_value, int(value + Fraction(divisor, 2)) // divisor * divisor)
    if new < Fraction(9, 10) * value:
        new += divisor
    return new


MOBILENET_V2_SETTING: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
    (6, 160, 3, 2), (6, 320, 1, 1))
"""MobileNetV2 stages: expansion t, channels c, repeats n, first stride s."""


def mobilenet_v2(width_mult: Fraction | int | str = 1, num_classes: int = 1000) -> Architecture:
    """torchvision's MobileNetV2 (``width_mult`` as an exact rational, e.g. ``"0.75"``).

    >>> mobilenet_v2().features[-1].name
    'features.18.2'
    """
    width = Fraction(width_mult)
    if width <= 0:
        raise InputError(f"got width_mult={width_mult!r}; width_mult must be > 0")
    num_classes = check_positive_int("num_classes", num_classes)
    c_in = make_divisible(32 * width)
    last = make_divisible(1280 * max(Fraction(1), width))
    features: list[ArchItem] = _conv_norm_act("features.0", 3, c_in, 3, 2, activation="ReLU6")
    index = 1
    for t, c, n, s in MOBILENET_V2_SETTING:
        c_out = make_divisible(c * width)
        for i in range(n):
            stride = s if i == 0 else 1
            prefix = f"features.{index}.conv"
            hidden = round(c_in * t)
            main: list[ArchItem] = []
            j = 0
            if t != 1:
                main += _conv_norm_act(f"{prefix}.0", c_in, hidden, 1, activation="ReLU6")
                j = 1
            main += _conv_norm_act(f"{prefix}.{j}", hidden, hidden, 3, stride, groups=hidden,
                                   activation="ReLU6")
            main += [_conv(f"{prefix}.{j + 1}", hidden, c_out, 1), _bn(f"{prefix}.{j + 2}", c_out)]
            if stride == 1 and c_in == c_out:
                features.append(_residual(f"features.{index}", main))
            else:
                features += main
            c_in = c_out
            index += 1
    features += _conv_norm_act(f"features.{index}", c_in, last, 1, activation="ReLU6")
    head = (AdaptiveAvgPool(1, "adaptive_avg_pool2d"), _flatten(),
            _dropout("classifier.0"), _dense("classifier.1", last, num_classes))
    name = "mobilenet_v2" if width == 1 else f"mobilenet_v2_{float(width):g}"
    return Architecture(name, tuple(features), head, source="torchvision.models.mobilenet_v2")


EFFICIENTNET_SETTING: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1))
"""EfficientNet-B0 stages: expansion, kernel, stride, in channels, out channels, layers."""


def efficientnet(width_mult: Fraction | int | str = 1, depth_mult: Fraction | int | str = 1,
                 num_classes: int = 1000, name: str = "efficientnet_b0") -> Architecture:
    """torchvision's EfficientNet (v1) at a width and depth multiplier (exact rationals).

    Channels: ``make_divisible(c * width)``; layers per stage: ``ceil(n * depth)``.

    >>> sum(1 for x in efficientnet().features if isinstance(x, Merge))
    9
    """
    width, depth = Fraction(width_mult), Fraction(depth_mult)
    for label, v, raw in (("width_mult", width, width_mult), ("depth_mult", depth, depth_mult)):
        if v <= 0:
            raise InputError(f"got {label}={raw!r}; {label} must be > 0")
    num_classes = check_positive_int("num_classes", num_classes)

    def channels(c: int) -> int:
        return make_divisible(c * width)

    first = channels(EFFICIENTNET_SETTING[0][3])
    features: list[ArchItem] = _conv_norm_act("features.0", 3, first, 3, 2, activation="SiLU")
    c_in = first
    for stage, (t, k, s, _, c, n) in enumerate(EFFICIENTNET_SETTING, start=1):
        c_out = channels(c)
        for b in range(math.ceil(n * depth)):
            stride = s if b == 0 else 1
            prefix = f"features.{stage}.{b}"
            expanded = make_divisible(c_in * t)
            main: list[ArchItem] = []
            j = 0
            if expanded != c_in:
                main += _conv_norm_act(f"{prefix}.block.0", c_in, expanded, 1, activation="SiLU")
                j = 1
            main += _conv_norm_act(f"{prefix}.block.{j}", expanded, expanded, k, stride,
                                   groups=expanded, activation="SiLU")
            main.append(SqueezeExcitation(expanded, max(1, c_in // 4), "SiLU", "Sigmoid",
                                          f"{prefix}.block.{j + 1}"))
            main += _conv_norm_act(f"{prefix}.block.{j + 2}", expanded, c_out, 1,
                                   activation=None)
            if stride == 1 and c_in == c_out:
                main.append(_dropout(f"{prefix}.stochastic_depth", "StochasticDepth"))
                features.append(_residual(prefix, main))
            else:
                features += main
            c_in = c_out
    last = 4 * c_in
    features += _conv_norm_act(f"features.{len(EFFICIENTNET_SETTING) + 1}", c_in, last, 1,
                               activation="SiLU")
    head = (AdaptiveAvgPool(1, "avgpool"), _flatten(), _dropout("classifier.0"),
            _dense("classifier.1", last, num_classes))
    return Architecture(name, tuple(features), head, source="torchvision.models.efficientnet")


# -- the catalog ---------------------------------------------------------------------------------

CATALOG: dict[str, Callable[[], Architecture]] = {
    "alexnet": alexnet,
    "vgg16": lambda: vgg("vgg16"),
    "resnet18": lambda: resnet("resnet18"),
    "resnet50": lambda: resnet("resnet50"),
    "mobilenet_v2": mobilenet_v2,
    "efficientnet_b0": efficientnet,
}
"""Catalog name (as torchvision spells it) -> builder."""


def names() -> tuple[str, ...]:
    """The catalog's names, in catalog order."""
    return tuple(CATALOG)


def architecture(name: str) -> Architecture:
    """The spec of a catalog network; unknown names raise :class:`InputError` listing the
    valid ones.

    >>> architecture("vgg16").name
    'vgg16'
    >>> architecture("resnet")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    derive.errors.InputError: got name='resnet'; unknown architecture, valid names: alexnet, ...
    """
    if name not in CATALOG:
        raise InputError(f"got name={name!r}; unknown architecture, valid names: "
                         + ", ".join(CATALOG))
    return CATALOG[name]()
