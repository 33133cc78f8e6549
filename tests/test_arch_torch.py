"""Architecture summaries against PyTorch: the six networks rebuilt here with plain torch.nn,
mirroring torchvision's definitions (torchvision itself is not a dependency), on the meta
device (no memory, no arithmetic).  Compared: every module's parameter count, batch-norm
buffers, every output shape (forward hooks), and the FLOPs counted by PyTorch's own
FlopCounterMode (convolutions and matrix products, one multiply-add = 2 FLOPs).
"""

from __future__ import annotations

import math
from typing import Callable

import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed")
nn = torch.nn

from derive.arch.catalog import architecture, names  # noqa: E402
from derive.arch.summary import summarize  # noqa: E402

pytestmark = pytest.mark.torch


# -- torchvision layouts in plain torch.nn -------------------------------------------------------

def _divisible(v: float, divisor: int = 8) -> int:
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def conv_bn_act(c_in: int, c_out: int, k: int = 3, stride: int = 1, groups: int = 1,
                act: Callable[[], nn.Module] | None = nn.ReLU) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, k, stride, (k - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(c_out)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class AlexNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(), nn.Linear(256 * 36, 4096), nn.ReLU(),
            nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 1000))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class VGG16(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                  512, 512, 512, "M"]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU()]
                c = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 49, 4096), nn.ReLU(), nn.Dropout(),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 1000))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, c_in: int, planes: int, stride: int, downsample) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int, downsample) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    def __init__(self, block, layers: list[int]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c = 64
        for i, (planes, n, stride) in enumerate(zip((64, 128, 256, 512), layers, (1, 2, 2, 2))):
            blocks = []
            for b in range(n):
                s = stride if b == 0 else 1
                down = None
                if s != 1 or c != planes * block.expansion:
                    down = nn.Sequential(nn.Conv2d(c, planes * block.expansion, 1, s, bias=False),
                                         nn.BatchNorm2d(planes * block.expansion))
                blocks.append(block(c, planes, s, down))
                c = planes * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, 1000)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


class InvertedResidual(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, t: int) -> None:
        super().__init__()
        hidden = int(round(c_in * t))
        self.use_res = stride == 1 and c_in == c_out
        layers: list[nn.Module] = []
        if t != 1:
            layers.append(conv_bn_act(c_in, hidden, 1, act=nn.ReLU6))
        layers += [conv_bn_act(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),
                   nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        c = _divisible(32)
        features: list[nn.Module] = [conv_bn_act(3, c, stride=2, act=nn.ReLU6)]
        for t, ch, n, s in [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                            [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]:
            out = _divisible(ch)
            for i in range(n):
                features.append(InvertedResidual(c, out, s if i == 0 else 1, t))
                c = out
        features.append(conv_bn_act(c, 1280, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


class SqueezeExcitation(nn.Module):
    def __init__(self, c: int, squeeze: int) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, c, 1)
        self.activation = nn.SiLU()
        self.scale_activation = nn.Sigmoid()

    def forward(self, x):
        s = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return s * x


class StochasticDepth(nn.Module):
    def forward(self, x):  # identity at inference
        return x


class MBConv(nn.Module):
    def __init__(self, t: int, k: int, stride: int, c_in: int, c_out: int) -> None:
        super().__init__()
        self.use_res = stride == 1 and c_in == c_out
        expanded = _divisible(c_in * t)
        layers: list[nn.Module] = []
        if expanded != c_in:
            layers.append(conv_bn_act(c_in, expanded, 1, act=nn.SiLU))
        layers += [conv_bn_act(expanded, expanded, k, stride, groups=expanded, act=nn.SiLU),
                   SqueezeExcitation(expanded, max(1, c_in // 4)),
                   conv_bn_act(expanded, c_out, 1, act=None)]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth()

    def forward(self, x):
        out = self.block(x)
        return self.stochastic_depth(out) + x if self.use_res else out


class EfficientNetB0(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        setting = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2),
                   (6, 3, 2, 40, 80, 3), (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4),
                   (6, 3, 1, 192, 320, 1)]
        layers: list[nn.Module] = [conv_bn_act(3, 32, 3, 2, act=nn.SiLU)]
        for t, k, s, c_in, c_out, n in setting:
            stage = []
            for b in range(math.ceil(n * 1.0)):
                stage.append(MBConv(t, k, s if b == 0 else 1, c_in if b == 0 else c_out, c_out))
            layers.append(nn.Sequential(*stage))
        layers.append(conv_bn_act(320, 1280, 1, act=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


BUILDERS: dict[str, Callable[[], nn.Module]] = {
    "alexnet": AlexNet,
    "vgg16": VGG16,
    "resnet18": lambda: ResNet(BasicBlock, [2, 2, 2, 2]),
    "resnet50": lambda: ResNet(Bottleneck, [3, 4, 6, 3]),
    "mobilenet_v2": MobileNetV2,
    "efficientnet_b0": EfficientNetB0,
}


def build(name: str) -> nn.Module:
    with torch.device("meta"):
        model = BUILDERS[name]()
    return model.eval()


# -- comparisons ---------------------------------------------------------------------------

@pytest.fixture(scope="module", params=list(names()))
def pair(request):
    name = request.param
    return name, build(name), summarize(architecture(name), convention="flop2")


def test_total_params(pair) -> None:
    _, model, summary = pair
    assert summary.params == sum(p.numel() for p in model.parameters())


def test_params_module_by_module(pair) -> None:
    _, model, summary = pair
    modules = dict(model.named_modules())
    with_params = {name: sum(p.numel() for p in m.parameters(recurse=False))
                   for name, m in modules.items()}
    with_params = {k: v for k, v in with_params.items() if v}
    ours = {r.name: r.params for r in summary.rows if r.params}
    assert ours == with_params


def test_batch_norm_buffers(pair) -> None:
    _, model, summary = pair
    running = sum(b.numel() for n, b in model.named_buffers()
                  if n.endswith(("running_mean", "running_var")))
    assert summary.buffers == running


def test_output_shapes(pair) -> None:
    _, model, summary = pair
    shapes: dict[str, tuple[int, ...]] = {}

    def hook(name):
        def record(_module, _inputs, output):
            shapes[name] = tuple(output.shape[1:])
        return record

    for name, module in model.named_modules():
        if not list(module.children()) and name:
            module.register_forward_hook(hook(name))
    with torch.no_grad():
        model(torch.empty(1, 3, 224, 224, device="meta"))
    ours = {r.name: r.shape for r in summary.rows}
    compared = 0
    for name, shape in shapes.items():
        assert ours[name] == shape, name
        compared += 1
    assert compared >= len([r for r in summary.rows if r.params]) // 2


def test_flops_match_pytorch_flop_counter(pair) -> None:
    from torch.utils.flop_counter import FlopCounterMode
    _, model, summary = pair
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.empty(1, 3, 224, 224, device="meta"))
    assert summary.convention == "flop2"
    assert summary.flops == counter.get_total_flops()


def test_adaptive_pool_taps_against_pytorch() -> None:
    from derive.conv.costs import adaptive_avg_pool_cost
    for n in range(1, 9):
        for m in range(1, 9):
            eye = torch.eye(n).reshape(n, 1, n)   # one-hot inputs, one per position
            out = nn.functional.adaptive_avg_pool1d(eye, m)
            taps = int((out != 0).sum())
            assert adaptive_avg_pool_cost(1, (n, 1), (m, 1), convention="mac").flops == taps
