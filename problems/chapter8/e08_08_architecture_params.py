"""Exercise 8.8: parameter counts of a dense classifier, VGG-16 and ResNet-50 on ImageNet.

The dense layer's count comes from :func:`derive.conv.costs.dense_cost`; VGG-16 and
ResNet-50 are summarised by :func:`derive.arch.summary.summarize` from the engine's
torchvision-layout specs (:mod:`derive.arch.catalog`).  Independent cross-checks: a separate
count written here from the published stage configurations (a few loops, no engine code),
PyTorch modules built on the ``meta`` device where PyTorch is installed (no memory is
allocated; the page is the same either way), and the totals published in the torchvision
model documentation.
"""

from functools import lru_cache

from derive.book import EXPLANATION, Part, Problem, Sheet, written

IMAGE = (3, 224, 224)
CLASSES = 1000
# Reference values: learnable-parameter totals published in the torchvision documentation
# (the weights tables of torchvision.models.vgg16 and torchvision.models.resnet50).
PUBLISHED = {"vgg16": 138_357_544, "resnet50": 25_557_032}
VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                512, 512, 512, "M")
RESNET50_STAGES = ((64, 3), (128, 4), (256, 6), (512, 3))   # (bottleneck width, blocks)


# -- an independent count, written from the published configurations ---------------------

def _count_vgg16() -> dict[str, int]:
    """VGG-16 by hand: 3x3 convolutions with biases, 7x7x512 flattened into 4096, 4096, 1000."""
    out: dict[str, int] = {"conv": 0}
    c = IMAGE[0]
    for v in VGG16_CONFIG:
        if v != "M":
            out["conv"] += 9 * c * v + v
            c = v
    sizes = [c * 7 * 7, 4096, 4096, CLASSES]
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        out[f"fc{i + 1}"] = n_in * n_out + n_out
    return out


def _count_resnet50() -> int:
    """ResNet-50 by hand: bias-free convolutions, 2 parameters per batch-norm channel."""
    total = 3 * 64 * 49 + 2 * 64               # stem 7x7 convolution and its batch norm
    c = 64
    for width, blocks in RESNET50_STAGES:
        for b in range(blocks):
            total += c * width + 2 * width          # 1x1 reduce + BN
            total += 9 * width * width + 2 * width  # 3x3 + BN
            total += width * 4 * width + 8 * width  # 1x1 expand + BN
            if b == 0:                              # projection shortcut + BN
                total += c * 4 * width + 8 * width
            c = 4 * width
    return total + c * CLASSES + CLASSES        # global average pooling, then one dense layer


def _torch_vgg16(torch) -> int:
    nn = torch.nn
    layers, c = [], IMAGE[0]
    for v in VGG16_CONFIG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1, device="meta"), nn.ReLU()]
            c = v
    head = [nn.Linear(c * 49, 4096, device="meta"), nn.Linear(4096, 4096, device="meta"),
            nn.Linear(4096, CLASSES, device="meta")]
    return sum(p.numel() for m in layers + head for p in m.parameters())


def _torch_resnet50(torch) -> int:
    nn = torch.nn

    def conv(i, o, k, s=1):
        return nn.Conv2d(i, o, k, stride=s, padding=k // 2, bias=False, device="meta")

    def bn(ch):
        return nn.BatchNorm2d(ch, device="meta")

    modules = [conv(3, 64, 7, 2), bn(64)]
    c = 64
    for stage, (width, blocks) in enumerate(RESNET50_STAGES):
        for b in range(blocks):
            stride = 2 if stage > 0 and b == 0 else 1
            modules += [conv(c, width, 1), bn(width), conv(width, width, 3, stride), bn(width),
                        conv(width, 4 * width, 1), bn(4 * width)]
            if b == 0:
                modules += [conv(c, 4 * width, 1, stride), bn(4 * width)]
            c = 4 * width
    modules.append(nn.Linear(c, CLASSES, device="meta"))
    return sum(p.numel() for m in modules for p in m.parameters())


# -- the parts ---------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _summary(name: str):
    from derive.arch.catalog import architecture
    from derive.arch.summary import summarize
    return summarize(architecture(name), convention="mac")


def solve_a(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import dense_cost

    c, h, w = IMAGE
    features = c * h * w
    count = dense_cost(features, CLASSES, convention="mac").params
    sheet.text("Flatten the image into one vector and map it to the class scores with one "
               "weight matrix and one bias vector:")
    with sympy.evaluate(False):
        plugged = sympy.Add(sympy.Mul(c, h, w, CLASSES), CLASSES)
    sheet.derive("params", [(plugged, f"${c}*{h}*{w}$ inputs times {CLASSES} outputs, plus "
                                      f"{CLASSES} biases"),
                            (count, "evaluate (the engine's dense-layer count gives the "
                                    "same)")])
    shape = (CLASSES, features)
    sheet.numeric(count, int(np.broadcast_to(np.float32(0), shape).size + CLASSES),
                  why="parameters",
                  method=f"entries of a (virtual) NumPy weight array of shape "
                         f"{shape[0]}×{shape[1]} plus the bias vector")
    sheet.numeric_if_installed(
        "torch", count,
        lambda torch: sum(int(p.numel()) for p in torch.nn.Linear(
            features, CLASSES, device="meta").parameters()),
        why="parameters",
        method=f"parameter count of PyTorch's Linear layer from {features} inputs to "
               f"{CLASSES} outputs, on its meta device (no memory allocated)")
    sheet.answer("parameters", f"{count:,} (about {count / 1e6:.1f} million)")


def _totals(sheet: Sheet, name: str, label: str, independent: int) -> int:
    s = _summary(name)
    why = f"{label} parameters"
    sheet.numeric(s.params, independent, why=why,
                  method=f"separate count of {label} written from its published layer "
                         "configuration (loops in this solution, no engine code)")
    build = _torch_vgg16 if name == "vgg16" else _torch_resnet50
    sheet.numeric_if_installed(
        "torch", s.params, lambda torch: int(build(torch)), why=why,
        method=f"parameters of a {label} built from PyTorch's layers on its meta device (no "
               "memory allocated)")
    sheet.numeric(s.params, PUBLISHED[name], why=why,
                  method=f"published value: total parameters listed for {label} in the "
                         "torchvision model documentation")
    return s.params


def solve_b(sheet: Sheet) -> None:
    s = _summary("vgg16")
    convs = [r for r in s.rows if r.kind == "conv"]
    dense = [r for r in s.rows if r.kind == "dense"]
    sheet.text(f"VGG-16 as torchvision builds it: {len(convs)} convolutions with 3×3 kernels "
               f"(with biases, padding 1) in five blocks separated by 2×2 max pooling, an "
               f"adaptive pooling to 7×7, then {len(dense)} dense layers. The engine walks the "
               "spec and counts every layer:")
    conv_total = sum(r.params for r in convs)
    dense_total = sum(r.params for r in dense)
    sheet.table(["group", "layers", "parameters"],
                [("convolutions", len(convs), f"{conv_total:,}"),
                 ("dense layers", len(dense), f"{dense_total:,}"),
                 ("total", len(convs) + len(dense), f"{s.params:,}")])
    independent = _count_vgg16()
    sheet.numeric(conv_total, independent["conv"], why="convolution parameters",
                  method="convolution weights and biases counted separately from the "
                         "configuration")
    _totals(sheet, "vgg16", "VGG-16", sum(independent.values()))
    sheet.answer("VGG-16 parameters", f"{s.params:,} (about {s.params / 1e6:.0f} million)")


def solve_c(sheet: Sheet) -> None:
    s = _summary("resnet50")
    kinds: dict[str, int] = {}
    for r in s.rows:
        kinds[r.kind] = kinds.get(r.kind, 0) + r.params
    sheet.text("ResNet-50 as torchvision builds it (v1.5): a 7×7 stem, 16 bottleneck blocks "
               "in four stages (3, 4, 6, 3), bias-free convolutions each followed by batch "
               "norm, global average pooling and one dense layer. Batch-norm scale and shift "
               "are learnable and counted; running statistics are buffers and are not.")
    words = {"conv": "convolutions", "bn": "batch norm", "dense": "dense layer"}
    sheet.table(["layer kind", "parameters"],
                [(words.get(k, k), f"{v:,}") for k, v in kinds.items() if v]
                + [("total", f"{s.params:,}")])
    _totals(sheet, "resnet50", "ResNet-50", _count_resnet50())
    vgg = _summary("vgg16").params
    sheet.text(f"So ResNet-50 is about {vgg / s.params:.1f} times smaller than VGG-16 while "
               "being much deeper.")
    sheet.answer("ResNet-50 parameters", f"{s.params:,} (about {s.params / 1e6:.1f} million)")


def solve_d(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import dense_cost

    s = _summary("vgg16")
    layers = [r for r in s.rows if r.params]
    rows = [(r.name, r.module, "×".join(map(str, r.shape)), f"{r.params:,}",
             f"{r.params / s.params:.1%}") for r in layers]
    sheet.table(["layer", "type", "output", "parameters", "share"], rows,
                caption="VGG-16, layer by layer (the engine's summary of the spec).")
    biggest = max(layers, key=lambda r: r.params)
    dense_total = sum(r.params for r in layers if r.kind == "dense")
    flat = next(r for r in s.rows if r.kind == "flatten").shape[0]
    independent = _count_vgg16()
    sheet.numeric(biggest.params, max(independent.values()), why="largest layer",
                  method="largest entry of the separate per-group count")
    sheet.numeric(dense_total, sum(v for k, v in independent.items() if k.startswith("fc")),
                  why="the three dense layers", method="the three dense layers counted "
                                                       "separately")
    sheet.text(f"The largest layer is {biggest.name}, the first dense layer: it maps the "
               f"flattened {flat}-value feature map (512 channels of 7×7) to 4096 units and "
               f"holds {biggest.params / s.params:.0%} of all parameters; the three dense "
               f"layers together hold {dense_total / s.params:.0%}.")
    channels = flat // 49
    gap = dense_cost(channels, 4096, convention="mac").params
    sheet.text("With global average pooling in front, the same layer would read one number "
               "per channel:")
    sheet.derive("first dense layer with global average pooling", [
        (written(f"{channels}*4096 + 4096"),
         f"{channels} averaged channels to 4096 units, plus 4096 biases"),
        (gap, "evaluate (the engine's dense-layer count gives the same)")])
    sheet.numeric(sympy.Rational(biggest.params - 4096, gap - 4096), sympy.Integer(7 * 7),
                  why="weights of the flattened layer over weights after pooling",
                  method="the area of the last feature map, $7*7$ spatial positions")
    fc = next(r for r in _summary("resnet50").rows if r.kind == "dense")
    sheet.explain(
        "Almost all of VGG-16's parameters sit in its classifier, above all in the first "
        "dense layer, because flattening keeps every spatial position of the last feature map "
        "as a separate input and the dense layer gives each one its own weights. Global "
        "average pooling removes the spatial axes before the classifier: each channel is "
        "averaged to one number, so the dense layer's input shrinks by the map's area (49 "
        f"here) and ResNet-50's only dense layer has {fc.params:,} parameters "
        f"({fc.params / _summary('resnet50').params:.0%} of the network). Averaging also "
        "makes the classifier independent of the input size and acts as a structural "
        "regulariser (no huge dense layer to overfit).",
        rests_on=["8.8(d): the VGG-16 per-layer table",
                  "8.8(d): the first dense layer with and without pooling"])
    sheet.answer("largest part of VGG-16", f"{biggest.name} (first dense layer, "
                                           f"{biggest.params:,} parameters)")


PROBLEM = Problem(
    id="8.8", set="chapter8", order=8, title="Parameters of classic architectures",
    source="Chapter 8, exercise 8.8",
    statement="Classify 224×224 RGB images into 1000 classes with each of the models below "
              "and compare their parameter counts.",
    parts=(
        Part("a", "One fully connected layer from the pixels straight to the 1000 classes.",
             solve_a),
        Part("b", "VGG-16 as published: 13 convolutional layers, then dense layers of 4096, "
                  "4096 and 1000 units.", solve_b),
        Part("c", "ResNet-50 as published, with global average pooling instead of 4096-unit "
                  "dense layers.", solve_c),
        Part("d", "Which part of VGG-16 holds most of its parameters, and why does global "
                  "average pooling in ResNet fix this?", solve_d, scope=EXPLANATION),
    ),
)
