"""A derived summary of an architecture: per-layer shapes, parameters, FLOPs, receptive fields.

Design rule: the summary only walks the spec; every number comes from the shared closed forms
(output sizes from :mod:`derive.conv.shapes`, receptive fields from
:mod:`derive.conv.receptive`, costs from :mod:`derive.conv.costs`).  Nothing is looked up.

Two FLOP totals are reported, both in the stated convention: ``flops`` counts the
convolution and dense layers (the figure papers and model zoos quote), ``flops_all`` adds
batch norm, average pooling, residual additions and squeeze-excitation gates.

The receptive field is that of the last feature map before global pooling, along the
vertical axis (all catalog networks are square).  Squeeze-excitation gates pool over the
whole map, so strictly they widen the field to the whole input; they are treated as
per-channel scalings here and the result is the field of the convolutional path (the summary
says so in ``rf_note``).

>>> from derive.arch.catalog import architecture
>>> s = summarize(architecture("resnet18"), convention="mac")
>>> s.params, s.receptive_field.as_tuple()
(11689512, (435, 32, 217))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from derive.arch.spec import (
    AdaptiveAvgPool, ArchItem, Architecture, SqueezeExcitation, module_type,
)
from derive.conv.costs import (
    CONVENTIONS, Cost, adaptive_avg_pool_cost, avg_pool_cost, batch_norm_cost,
    check_convention, conv_cost, dense_cost, elementwise_cost, global_avg_pool_cost,
    max_pool_cost, transposed_conv_cost,
)
from derive.conv.layers import Layer, Merge
from derive.conv.receptive import ReceptiveField, receptive_field
from derive.conv.shapes import output_size, pool_output_size, transposed_output_size
from derive.errors import (
    ConfigurationError, DeriveError, UnsupportedError, check_positive_int,
)

__all__ = ["Row", "Summary", "summarize"]

Shape = tuple[int, ...]

#: kinds whose multiply-adds make up the headline ``flops`` total
WEIGHTED_KINDS = ("conv", "deconv", "dense")


@dataclass(frozen=True)
class Row:
    """One layer of the summary (``rf`` is None after global pooling and inside gates)."""

    name: str
    module: str
    kind: str
    shape: Shape
    params: int
    flops: int
    buffers: int
    rf: ReceptiveField | None
    depth: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.module, "kind": self.kind,
                "output_shape": list(self.shape), "params": self.params, "flops": self.flops,
                "buffers": self.buffers,
                "receptive_field": None if self.rf is None else _rf_dict(self.rf)}


def _rf_dict(rf: ReceptiveField) -> dict[str, int]:
    return {"size": int(rf.size), "jump": int(rf.jump), "start": int(rf.start)}


@dataclass(frozen=True)
class Summary:
    """Totals and rows of one architecture at one input size, in one FLOP convention."""

    name: str
    source: str
    input_shape: Shape
    convention: str
    rows: tuple[Row, ...]
    params: int
    buffers: int
    flops: int
    flops_all: int
    receptive_field: ReceptiveField | None
    rf_layer: str
    rf_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``params``, ``flops`` {value, convention, ...}, ``receptive_field``
        {size, jump, start, ...}, ``layers``."""
        rf: dict[str, Any] | None = (None if self.receptive_field is None
                                     else _rf_dict(self.receptive_field))
        rf["layer"] = self.rf_layer
        if self.rf_note:
            rf["note"] = self.rf_note
        return {
            "name": self.name,
            "source": self.source,
            "input_shape": list(self.input_shape),
            "params": self.params,
            "buffers": self.buffers,
            "flops": {"value": self.flops, "convention": self.convention,
                      "meaning": CONVENTIONS[self.convention],
                      "counts": "convolution and dense layers",
                      "all_layers": self.flops_all},
            "receptive_field": rf,
            "layers": [r.to_dict() for r in self.rows],
        }

    def table(self) -> str:
        """A torchinfo-like text table; every FLOP figure names its convention."""
        unit = "Mult-adds" if self.convention == "mac" else "FLOPs"
        header = ("Layer (type)", "Output shape", "Param #", unit, "RF size/jump/start")
        body = []
        for r in self.rows:
            rf = "" if r.rf is None else f"{r.rf.size}/{r.rf.jump}/{r.rf.start}"
            body.append(("  " * r.depth + f"{r.name} ({r.module})", str(list(r.shape)),
                         f"{r.params:,}" if r.params else "--",
                         f"{r.flops:,}" if r.flops else "--", rf))
        widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]

        def line(cells: Sequence[str]) -> str:
            parts = [cells[0].ljust(widths[0]), cells[1].ljust(widths[1])]
            parts += [c.rjust(w) for c, w in zip(cells[2:], widths[2:])]
            return "  ".join(parts).rstrip()

        rule = "=" * len(line(header))
        c, h, w = self.input_shape
        meaning = CONVENTIONS[self.convention]
        out = [rule, f"{self.name}: {self.source}; input {c}x{h}x{w}", rule, line(header),
               "-" * len(rule)]
        out += [line(b) for b in body]
        rf = self.receptive_field
        out += [rule,
                f"Total params (learnable): {self.params:,}",
                f"Buffers (batch-norm running mean and variance): {self.buffers:,}",
                f"{unit} of convolution and dense layers at {h}x{w}: {self.flops:,} "
                f"[convention '{self.convention}': {meaning}]",
                f"{unit} of all layers (adds batch norm, pooling, residual adds, gates): "
                f"{self.flops_all:,}",
                (f"Receptive field of the last feature map ({self.rf_layer}): size {rf.size}, "
                 f"jump {rf.jump}, start {rf.start}") if rf is not None else
                "Receptive field: not defined past a transposed convolution"]
        if self.rf_note:
            out.append(f"  note: {self.rf_note}")
        out.append(rule)
        return "\n".join(out)


# -- the walk ------------------------------------------------------------------------------------

def _axis(value: Any, i: int) -> Any:
    return value[i] if isinstance(value, (tuple, list)) else value


def _spatial(shape: Shape, name: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ConfigurationError(
            f"layer {name!r} needs a (C, H, W) input; got shape {list(shape)}")
    return shape[0], shape[1], shape[2]


def _expect(name: str, field: str, declared: Any, actual: int) -> None:
    if declared is not None and declared != actual:
        raise ConfigurationError(
            f"got {field}={declared} in layer {name!r}, but its input has {actual}")


def _layer(layer: Layer, shape: Shape, convention: str) -> tuple[Shape, Cost]:
    """Output shape and cost of one layer."""
    name, kind = layer.name or layer.kind, layer.kind
    zero = Cost(0, 0, convention)
    if kind in ("conv", "deconv", "maxpool", "avgpool", "pool"):
        c, h, w = _spatial(shape, name)
        k = (_axis(layer.kernel, 0), _axis(layer.kernel, 1))
        s = (_axis(layer.stride, 0), _axis(layer.stride, 1))
        p = (_axis(layer.padding, 0), _axis(layer.padding, 1))
        d = (_axis(layer.dilation, 0), _axis(layer.dilation, 1))
        if kind == "conv":
            _expect(name, "in_channels", layer.in_channels, c)
            hw = tuple(output_size(n, k[i], p[i], s[i], d[i]) for i, n in enumerate((h, w)))
            c_out = layer.out_channels
            return (c_out, *hw), conv_cost(c, c_out, k, hw, groups=layer.groups,
                                           bias=layer.bias, convention=convention)
        if kind == "deconv":
            _expect(name, "in_channels", layer.in_channels, c)
            a = (_axis(layer.output_padding, 0), _axis(layer.output_padding, 1))
            hw = tuple(transposed_output_size(n, k[i], p[i], s[i], d[i], a[i])
                       for i, n in enumerate((h, w)))
            c_out = layer.out_channels
            return (c_out, *hw), transposed_conv_cost(c, c_out, k, (h, w), groups=layer.groups,
                                                      bias=layer.bias, convention=convention)
        hw = tuple(pool_output_size(n, k[i], p[i], s[i], d[i], layer.ceil_mode)
                   for i, n in enumerate((h, w)))
        pool = avg_pool_cost if kind == "avgpool" else max_pool_cost
        return (c, *hw), pool(c, k, hw, convention=convention)
    if kind == "bn":
        c, h, w = _spatial(shape, name)
        _expect(name, "in_channels", layer.in_channels, c)
        return shape, batch_norm_cost(c, (h, w), convention=convention)
    if kind == "act":
        module = module_type(layer)
        n = _numel(shape)
        if module in ("ReLU", "ReLU6"):
            comparisons = elementwise_cost(n, op="relu", convention=convention)
            return shape, comparisons.scaled(2) if module == "ReLU6" else comparisons
        return shape, zero  # SiLU, Sigmoid, ...: transcendental, not multiply-adds
    if kind in ("dropout", "identity"):
        return shape, zero
    if kind == "gap":
        c, h, w = _spatial(shape, name)
        return (c, 1, 1), global_avg_pool_cost(c, (h, w), convention=convention)
    if kind == "flatten":
        return (_numel(shape),), zero
    if kind == "dense":
        if len(shape) != 1:
            raise ConfigurationError(
                f"dense layer {name!r} needs a flat input; got shape {list(shape)} "
                "(add a flatten layer)")
        _expect(name, "in_channels", layer.in_channels, shape[0])
        return (layer.out_channels,), dense_cost(shape[0], layer.out_channels, bias=layer.bias,
                                                 convention=convention)
    raise UnsupportedError(f"layer {name!r} of kind {kind!r} is not supported in a summary")


def _numel(shape: Shape) -> int:
    n = 1
    for v in shape:
        n *= v
    return n


class _Walker:
    def __init__(self, convention: str) -> None:
        self.convention = convention
        self.rows: list[Row] = []

    def add(self, name: str, module: str, kind: str, shape: Shape, cost: Cost,
            rf: ReceptiveField | None, depth: int) -> None:
        self.rows.append(Row(name, module, kind, tuple(int(v) for v in shape), int(cost.params),
                             int(cost.flops), int(cost.buffers), rf, depth))

    def walk(self, items: Sequence[ArchItem], shape: Shape, prefix: list[Any] | None,
             depth: int) -> tuple[Shape, list[Any] | None]:
        """Walk ``items`` from ``shape``.  ``prefix`` is the receptive-field chain leading to
        ``items`` (None after global pooling).  Returns the output shape and the chain of
        ``items`` themselves (None once pooling or flattening made fields meaningless)."""
        own: list[Any] | None = [] if prefix is not None else None
        for item in items:
            if isinstance(item, Merge):
                shape, own = self.merge(item, shape, prefix, own, depth)
            elif isinstance(item, SqueezeExcitation):
                self.squeeze_excitation(item, shape, depth)
            elif isinstance(item, AdaptiveAvgPool):
                c, h, w = _spatial(shape, item.name)
                oh, ow = (_axis(item.output, 0), _axis(item.output, 1))
                cost = adaptive_avg_pool_cost(c, (h, w), (oh, ow), convention=self.convention)
                shape = (c, oh, ow)
                self.add(item.name or "adaptive_avg_pool", module_type(item), "adaptive_avgpool",
                         shape, cost, None, depth)
                own = None
            elif isinstance(item, Layer):
                try:
                    shape, cost = _layer(item, shape, self.convention)
                except DeriveError as exc:
                    raise exc.with_context(
                        f"in layer {item.name or item.kind!r} (input shape {list(shape)})"
                    ) from None
                if item.kind in ("gap", "flatten", "dense", "deconv"):
                    own = None  # no receptive field is defined past these layers
                rf = None
                if own is not None and prefix is not None:
                    own = own + [item]
                    rf = receptive_field(prefix + own)
                self.add(item.name or item.kind, module_type(item), item.kind, shape, cost, rf,
                         depth)
            else:
                raise ConfigurationError(f"got {item!r}; expected a layer, merge, "
                                         "squeeze-excitation or adaptive pooling item")
        return shape, own

    def merge(self, item: Merge, shape: Shape, prefix: list[Any] | None,
              own: list[Any] | None, depth: int) -> tuple[Shape, list[Any] | None]:
        here = None if prefix is None or own is None else prefix + own
        outs, chains = [], []
        for branch in item.branches:
            out, chain = self.walk(branch, shape, here, depth + 1)
            outs.append(out)
            chains.append(chain)
        name = item.name or f"merge ({item.how})"
        if item.how == "add":
            if any(o != outs[0] for o in outs):
                raise ConfigurationError(
                    f"branches of {name!r} end in different shapes "
                    f"{[list(o) for o in outs]}; an 'add' merge needs equal shapes")
            out = outs[0]
            cost = elementwise_cost(_numel(out), op="add", convention=self.convention)
        elif item.how == "concat":
            if any(o[1:] != outs[0][1:] for o in outs):
                raise ConfigurationError(
                    f"branches of {name!r} end in different spatial sizes "
                    f"{[list(o) for o in outs]}; a 'concat' merge needs equal sizes")
            out = (sum(o[0] for o in outs), *outs[0][1:])
            cost = Cost(0, 0, self.convention)
        else:
            raise ConfigurationError(f"got how={item.how!r} in merge {name!r}; how must be "
                                     "'add' or 'concat'")
        rf = None
        if prefix is not None and own is not None and all(c is not None for c in chains):
            own = own + [Merge(tuple(tuple(c) for c in chains), item.how, item.name)]
            rf = receptive_field(prefix + own)
        else:
            own = None
        self.add(name, module_type(item), item.how, out, cost, rf, depth)
        return out, own

    def squeeze_excitation(self, se: SqueezeExcitation, shape: Shape, depth: int) -> None:
        c, h, w = _spatial(shape, se.name)
        _expect(se.name, "channels", se.channels, c)
        conv = self.convention
        prefix = se.name + "." if se.name else ""
        d = depth + 1
        self.add(prefix + "avgpool", "AdaptiveAvgPool2d", "gap", (c, 1, 1),
                 global_avg_pool_cost(c, (h, w), convention=conv), None, d)
        self.add(prefix + "fc1", "Conv2d", "conv", (se.squeeze, 1, 1),
                 conv_cost(c, se.squeeze, 1, 1, convention=conv), None, d)
        self.add(prefix + "activation", se.activation, "act", (se.squeeze, 1, 1),
                 Cost(0, 0, conv), None, d)
        self.add(prefix + "fc2", "Conv2d", "conv", (c, 1, 1),
                 conv_cost(se.squeeze, c, 1, 1, convention=conv), None, d)
        self.add(prefix + "scale_activation", se.scale_activation, "act", (c, 1, 1),
                 Cost(0, 0, conv), None, d)
        self.add(prefix + "scale", "Mul", "mul", shape,
                 elementwise_cost(c * h * w, op="mul", convention=conv), None, d)


def _rf_chain(items: Sequence[ArchItem]) -> tuple[list[Any], bool]:
    """The receptive-field chain of ``items`` (gates dropped) and whether gates were met."""
    chain: list[Any] = []
    gated = False
    for item in items:
        if isinstance(item, SqueezeExcitation):
            gated = True
        elif isinstance(item, Merge):
            branches = []
            for b in item.branches:
                sub, g = _rf_chain(b)
                branches.append(tuple(sub))
                gated = gated or g
            chain.append(Merge(tuple(branches), item.how, item.name))
        elif isinstance(item, Layer):
            chain.append(item)
        else:
            raise ConfigurationError(f"item {item!r} cannot appear before global pooling")
    return chain, gated


def _last_name(items: Sequence[ArchItem]) -> str:
    item = items[-1]
    return getattr(item, "name", "") or type(item).__name__


def summarize(arch: Architecture, *, convention: str, input_size: int | None = None) -> Summary:
    """Derive the summary of ``arch`` (``input_size`` overrides the square input side).

    >>> from derive.arch.catalog import architecture
    >>> s = summarize(architecture("alexnet"), convention="flop2")
    >>> s.rows[0].shape, s.convention
    ((64, 55, 55), 'flop2')
    """
    convention = check_convention(convention)
    c, h, w = arch.input_shape
    if input_size is not None:
        side = check_positive_int("input_size", input_size)
        h = w = side
    walker = _Walker(convention)
    shape, _ = walker.walk(arch.features, (c, h, w), [], 0)
    chain, gated = _rf_chain(arch.features)
    try:
        rf: ReceptiveField | None = receptive_field(chain)
    except UnsupportedError:
        rf = None  # e.g. a transposed convolution: the field is not defined by the recurrence
    walker.walk(arch.head, shape, None, 0)
    rows = tuple(walker.rows)
    note = ("squeeze-excitation gates pool over the whole map; they are treated as "
            "per-channel scalings, so this is the field of the convolutional path") if gated else ""
    return Summary(
        name=arch.name, source=arch.source, input_shape=(c, h, w), convention=convention,
        rows=rows,
        params=sum(r.params for r in rows),
        buffers=sum(r.buffers for r in rows),
        flops=sum(r.flops for r in rows if r.kind in WEIGHTED_KINDS),
        flops_all=sum(r.flops for r in rows),
        receptive_field=rf, rf_layer=_last_name(arch.features), rf_note=note)

