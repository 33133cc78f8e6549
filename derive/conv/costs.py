"""Parameters and FLOPs of convolutional-network layers, symbolic and numeric.

Design rule: every count is one closed form written once, and it works on both kinds of
input: plain integers give plain integers, SymPy symbols give the closed form.  A FLOP
count never appears without its convention (:data:`CONVENTIONS`): ``"mac"`` counts
multiply-adds, ``"flop2"`` counts one multiply-add as 2 FLOPs.  The convention is always an
explicit argument and every :class:`Cost` carries it.

What is counted (the same rule for every layer):

* convolution and dense layers: one multiply-add per (output element, weight tap), the
  im2col/GEMM count; a bias add is folded into the first accumulation, so ``"flop2"`` is
  exactly twice ``"mac"``;
* batch norm (inference): the folded affine map ``a*x + b``, one multiply-add per element;
  learnable parameters (gamma, beta) and running-statistics buffers (mean, variance) are
  reported separately (``params`` vs ``buffers``; PyTorch's ``num_batches_tracked`` step
  counter is not a statistic and is not counted);
* average pooling: a fixed-weight depthwise convolution (weights ``1/k^2``), one
  multiply-add per tap; max pooling and ReLU-like activations perform no multiply-adds, their
  comparisons are reported in ``comparisons`` and never mixed into ``flops``;
* element-wise sums and products (a residual add, a gate): one multiply-add per element
  (``1*x + y``), so the ``"flop2" == 2 * "mac"`` rule holds for every layer;
* transposed convolution: every input element times every kernel weight (the scatter/col2im
  GEMM count), including contributions that later fall into the cropped ``padding`` border.

The theorems at the end (:func:`cost_theorems`) are derived from these functions, not
typed in: each returns both sides and worked steps, ready for the checker.

>>> conv_cost(3, 64, 7, 112, convention="mac")
Cost(params=9472, flops=118013952, convention='mac', buffers=0, comparisons=0)
>>> from derive.symbols import sym
>>> conv_cost(sym("C_in"), sym("C_out"), sym("k"), sym("H_out"), bias=False,
...           convention="flop2").flops
2*C_in*C_out*H_out**2*k**2
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy

from derive.errors import ConfigurationError, InputError, UnsupportedError, check_positive_int
from derive.symbols import sym

CONVENTIONS: dict[str, str] = {
    "mac": "multiply-adds (one multiply-add counted once)",
    "flop2": "FLOPs, one multiply-add counted as 2 FLOPs",
}
"""The FLOP conventions: name -> what a count means."""

_FACTOR = {"mac": 1, "flop2": 2}

__all__ = [
    "CONVENTIONS", "Cost", "CostIdentity", "avg_pool_cost", "adaptive_avg_pool_cost",
    "batch_norm_cost", "bottleneck_vs_basic", "check_convention", "conv_cost",
    "cost_theorems", "dense_cost", "depthwise_cost", "depthwise_separable_cost",
    "dilated_conv_cost", "elementwise_cost", "flop_scaling", "flops_conv",
    "global_avg_pool_cost", "grouped_conv_cost", "inverted_vs_standard_residual", "macs_conv",
    "max_pool_cost", "params_conv", "pointwise_cost", "ratio_value", "separable_ratio",
    "stacked_3x3_vs_5x5", "transposed_conv_cost",
]


def check_convention(convention: object) -> str:
    """Validate a FLOP convention name and return it.

    >>> check_convention("flop2")
    'flop2'
    >>> check_convention("flops")
    Traceback (most recent call last):
    ...
    derive.errors.InputError: got convention='flops'; convention must be one of 'mac', 'flop2'
    """
    if not isinstance(convention, str) or convention not in _FACTOR:
        names = ", ".join(repr(c) for c in _FACTOR)
        raise InputError(f"got convention={convention!r}; convention must be one of {names}")
    return convention


@dataclass(frozen=True)
class Cost:
    """Cost of a layer (or a sum of layers).

    ``params``: learnable parameters; ``flops``: arithmetic in ``convention``;
    ``buffers``: non-learnable state (batch-norm running statistics); ``comparisons``:
    max/ReLU comparisons, which no convention counts as FLOPs.

    >>> a = dense_cost(4, 3, convention="mac")
    >>> (a + a).params, a.to("flop2").flops, a.describe()
    (30, 24, '15 params, 12 multiply-adds')
    """

    params: Any
    flops: Any
    convention: str
    buffers: Any = 0
    comparisons: Any = 0

    def __post_init__(self) -> None:
        check_convention(self.convention)

    @property
    def macs(self) -> Any:
        """The multiply-add count, whatever the convention."""
        return _exact_div(self.flops, _FACTOR[self.convention])

    def to(self, convention: str) -> "Cost":
        """The same cost in another convention."""
        convention = check_convention(convention)
        return Cost(self.params, self.macs * _FACTOR[convention], convention, self.buffers,
                    self.comparisons)

    def __add__(self, other: "Cost") -> "Cost":
        if not isinstance(other, Cost):
            return NotImplemented
        if other.convention != self.convention:
            raise InputError(f"cannot add costs in conventions {self.convention!r} and "
                             f"{other.convention!r}; convert one with .to() first")
        return Cost(self.params + other.params, self.flops + other.flops, self.convention,
                    self.buffers + other.buffers, self.comparisons + other.comparisons)

    def scaled(self, times: Any) -> "Cost":
        """``times`` copies of this layer (``times`` may be a symbol)."""
        return Cost(times * self.params, times * self.flops, self.convention,
                    times * self.buffers, times * self.comparisons)

    def unit(self) -> str:
        """``'multiply-adds'`` or ``'FLOPs (1 multiply-add = 2 FLOPs)'``."""
        return "multiply-adds" if self.convention == "mac" else "FLOPs (1 multiply-add = 2 FLOPs)"

    def describe(self) -> str:
        """A one-line description that states the convention."""
        text = f"{self.params} params, {self.flops} {self.unit()}"
        if self.buffers != 0:
            text += f", {self.buffers} buffer values"
        if self.comparisons != 0:
            text += f", {self.comparisons} comparisons"
        return text


# -- helpers ----------------------------------------------------------------------------------

def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _count(name: str, v: Any, minimum: int = 1) -> Any:
    """Validate a numeric count (ints, SymPy Integers); let symbolic values through."""
    if isinstance(v, sympy.Basic):
        if v.is_Integer:
            return check_positive_int(name, int(v), minimum=minimum)
        if v.is_number:
            raise ConfigurationError(f"got {name}={v}; {name} must be an integer >= {minimum}")
        return v
    return check_positive_int(name, v, minimum=minimum)


def _pair(name: str, v: Any, minimum: int = 1) -> tuple[Any, Any]:
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ConfigurationError(f"got {name}={v!r}; {name} must be one value or a pair")
        return _count(name, v[0], minimum), _count(name, v[1], minimum)
    v = _count(name, v, minimum)
    return v, v


def _exact_div(a: Any, b: Any) -> Any:
    """``a / b``: an int when both are ints and ``b`` divides ``a``, else SymPy."""
    if _is_int(a) and _is_int(b):
        if a % b == 0:
            return a // b
        return sympy.Rational(a, b)
    return sympy.Integer(a) / b if _is_int(a) else a / b


def _per_group(c_in: Any, c_out: Any, groups: Any) -> tuple[Any, Any]:
    """Channels per group; numeric groups must divide both channel counts."""
    for name, c in (("in_channels", c_in), ("out_channels", c_out)):
        if _is_int(c) and _is_int(groups) and c % groups:
            raise ConfigurationError(
                f"got groups={groups} with {name}={c}; groups must divide {name}")
    return _exact_div(c_in, groups), _exact_div(c_out, groups)


def _finish(params: Any, macs: Any, convention: str, buffers: Any = 0,
            comparisons: Any = 0) -> Cost:
    convention = check_convention(convention)
    return Cost(_tidy(params), _tidy(macs * _FACTOR[convention]), convention, _tidy(buffers),
                _tidy(comparisons))


def _tidy(v: Any) -> Any:
    if isinstance(v, sympy.Basic):
        if v.is_Integer:
            return int(v)
        return sympy.expand(v) if v.is_polynomial() else sympy.factor_terms(v)
    return v


# -- convolution and dense layers --------------------------------------------------------------

def conv_cost(c_in: Any, c_out: Any, kernel: Any, out_size: Any, *, groups: Any = 1,
              bias: bool = True, convention: str) -> Cost:
    """A (grouped) 2-D convolution producing an ``out_size`` map (one value or ``(h, w)``).

    params ``= c_out * (c_in/groups) * kh * kw (+ c_out)``;
    multiply-adds ``= h * w * c_out * (c_in/groups) * kh * kw``.

    >>> conv_cost(64, 128, 3, 56, convention="mac").params
    73856
    >>> conv_cost(256, 256, 3, 56, groups=256, convention="mac").params
    2560
    """
    kh, kw = _pair("kernel", kernel)
    h, w = _pair("out_size", out_size)
    c_in, c_out = _count("in_channels", c_in), _count("out_channels", c_out)
    groups = _count("groups", groups)
    cin_g, _ = _per_group(c_in, c_out, groups)
    weights = c_out * cin_g * kh * kw
    params = weights + (c_out if bias else 0)
    return _finish(params, h * w * weights, convention)


def grouped_conv_cost(c_in: Any, c_out: Any, kernel: Any, out_size: Any, groups: Any, *,
                      bias: bool = True, convention: str) -> Cost:
    """Grouped convolution: ``groups`` independent convolutions of ``c_in/groups`` channels.

    >>> grouped_conv_cost(8, 8, 3, 4, 2, bias=False, convention="mac").params
    288
    """
    return conv_cost(c_in, c_out, kernel, out_size, groups=groups, bias=bias,
                     convention=convention)


def depthwise_cost(channels: Any, kernel: Any, out_size: Any, *, multiplier: Any = 1,
                   bias: bool = True, convention: str) -> Cost:
    """Depthwise convolution (``groups = channels``, ``multiplier`` filters per channel).

    >>> depthwise_cost(32, 3, 112, bias=False, convention="mac").params
    288
    """
    channels = _count("channels", channels)
    return conv_cost(channels, channels * _count("multiplier", multiplier), kernel, out_size,
                     groups=channels, bias=bias, convention=convention)


def pointwise_cost(c_in: Any, c_out: Any, out_size: Any, *, bias: bool = True,
                   convention: str) -> Cost:
    """Pointwise (1x1) convolution.

    >>> pointwise_cost(256, 512, 14, convention="mac").params
    131584
    """
    return conv_cost(c_in, c_out, 1, out_size, bias=bias, convention=convention)


def depthwise_separable_cost(c_in: Any, c_out: Any, kernel: Any, out_size: Any, *,
                             bias: bool = False, convention: str) -> Cost:
    """A depthwise ``kernel`` convolution followed by a pointwise one (both at ``out_size``).

    >>> depthwise_separable_cost(512, 512, 3, 32, convention="mac").params
    266752
    """
    return (depthwise_cost(c_in, kernel, out_size, bias=bias, convention=convention)
            + pointwise_cost(c_in, c_out, out_size, bias=bias, convention=convention))


def dilated_conv_cost(c_in: Any, c_out: Any, kernel: Any, in_size: Any, *, dilation: Any,
                      stride: Any = 1, padding: Any = 0, groups: Any = 1, bias: bool = True,
                      convention: str) -> Cost:
    """A convolution with dilation, from the *input* size (the output size follows PyTorch's
    rule via :func:`derive.conv.shapes.output_size`).  Dilation changes the output size, never
    the parameter count.

    >>> dilated_conv_cost(16, 16, 3, 10, dilation=2, bias=False, convention="mac").flops
    82944
    """
    from derive.conv.shapes import output_size

    kh, kw = _pair("kernel", kernel)
    ih, iw = _pair("in_size", in_size)
    sh, sw = _pair("stride", stride)
    ph, pw = _pair("padding", padding, minimum=0)
    dh, dw = _pair("dilation", dilation)
    oh = output_size(ih, kh, padding=ph, stride=sh, dilation=dh)
    ow = output_size(iw, kw, padding=pw, stride=sw, dilation=dw)
    return conv_cost(c_in, c_out, (kh, kw), (oh, ow), groups=groups, bias=bias,
                     convention=convention)


def transposed_conv_cost(c_in: Any, c_out: Any, kernel: Any, in_size: Any, *, groups: Any = 1,
                         bias: bool = True, convention: str) -> Cost:
    """A transposed convolution reading an ``in_size`` map.

    Weights have PyTorch's shape ``(c_in, c_out/groups, kh, kw)``; multiply-adds count every
    input element times every kernel tap of its group (the scatter count; stride, padding and
    dilation do not change it).

    >>> transposed_conv_cost(16, 8, 4, 7, bias=False, convention="mac").flops
    100352
    """
    kh, kw = _pair("kernel", kernel)
    h, w = _pair("in_size", in_size)
    c_in, c_out = _count("in_channels", c_in), _count("out_channels", c_out)
    groups = _count("groups", groups)
    _, cout_g = _per_group(c_in, c_out, groups)
    weights = c_in * cout_g * kh * kw
    params = weights + (c_out if bias else 0)
    return _finish(params, h * w * weights, convention)


def dense_cost(in_features: Any, out_features: Any, *, bias: bool = True,
               convention: str) -> Cost:
    """A dense (fully connected) layer.

    >>> dense_cost(9216, 4096, convention="flop2")
    Cost(params=37752832, flops=75497472, convention='flop2', buffers=0, comparisons=0)
    """
    n_in, n_out = _count("in_features", in_features), _count("out_features", out_features)
    return _finish(n_in * n_out + (n_out if bias else 0), n_in * n_out, convention)


# -- the claim language's counts ---------------------------------------------------------------
# Claims such as ``params_conv(C, M, K) == C*M*K**2 + M`` name these (derive.check.parse's
# ENGINE_FUNCTIONS).  A claim has numbers and symbols only, no text and no True/False, so a
# convention is part of the function's name and a switch is 0 or 1.

def _switch(name: str, value: Any) -> bool:
    """A 0/1 argument of a claim-language function as a bool."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, sympy.Integer)) and value in (0, 1):
        return bool(value)
    raise ConfigurationError(f"got {name}={value}; {name} must be 0 or 1")


def params_conv(c_in: Any, c_out: Any, kernel: Any, *, groups: Any = 1, bias: Any = 1) -> Any:
    """Learnable parameters of a 2-D convolution with a square ``kernel x kernel`` window:
    ``c_out * (c_in/groups) * kernel**2``, plus ``c_out`` biases when ``bias`` is 1 (the
    default, as in PyTorch).  The parameter count of :func:`conv_cost`.

    >>> params_conv(64, 128, 3)
    73856
    >>> from derive.symbols import syms
    >>> C, M, K = syms("C M K")
    >>> params_conv(C, M, K), params_conv(C, M, K, bias=0)
    (C*K**2*M + M, C*K**2*M)
    """
    return conv_cost(c_in, c_out, kernel, 1, groups=groups, bias=_switch("bias", bias),
                     convention="mac").params


def flops_conv(c_in: Any, c_out: Any, kernel: Any, out_size: Any, *, groups: Any = 1) -> Any:
    """FLOPs of a 2-D convolution with a square ``kernel x kernel`` window producing an
    ``out_size x out_size`` map, **one multiply-add counted as 2 FLOPs** (convention
    ``"flop2"``): ``2 * out_size**2 * c_out * (c_in/groups) * kernel**2``.  A bias add is
    folded into the first accumulation, so the bias changes nothing here.  The FLOP count of
    :func:`conv_cost`; :func:`macs_conv` counts multiply-adds.

    >>> flops_conv(3, 64, 7, 112)
    236027904
    >>> from derive.symbols import syms
    >>> flops_conv(*syms("C M K H"))
    2*C*H**2*K**2*M
    """
    return conv_cost(c_in, c_out, kernel, out_size, groups=groups,
                     convention="flop2").flops


def macs_conv(c_in: Any, c_out: Any, kernel: Any, out_size: Any, *, groups: Any = 1) -> Any:
    """Multiply-adds of the convolution of :func:`flops_conv` (convention ``"mac"``, half
    its FLOPs): ``out_size**2 * c_out * (c_in/groups) * kernel**2``.

    >>> from derive.symbols import syms
    >>> macs_conv(*syms("C M K H"), groups=syms("G")[0])
    C*H**2*K**2*M/G
    """
    return conv_cost(c_in, c_out, kernel, out_size, groups=groups, convention="mac").flops


# -- normalisation, pooling, element-wise ------------------------------------------------------

def batch_norm_cost(channels: Any, size: Any, *, affine: bool = True,
                    track_running_stats: bool = True, convention: str) -> Cost:
    """Batch norm over ``channels`` maps of ``size`` (one value or ``(h, w)``), inference.

    Learnable: gamma and beta (``2*channels`` when ``affine``); buffers: running mean and
    running variance (``2*channels``).  One multiply-add per element (folded affine map).

    >>> c = batch_norm_cost(64, 112, convention="mac")
    >>> c.params, c.buffers, c.flops
    (128, 128, 802816)
    """
    channels = _count("channels", channels)
    h, w = _pair("size", size)
    return _finish(2 * channels if affine else 0, channels * h * w, convention,
                   buffers=2 * channels if track_running_stats else 0)


def avg_pool_cost(channels: Any, kernel: Any, out_size: Any, *, convention: str) -> Cost:
    """Average pooling as a fixed-weight depthwise convolution: ``kh*kw`` multiply-adds per
    output element, no parameters.

    >>> avg_pool_cost(64, 2, 28, convention="mac").flops
    200704
    """
    channels = _count("channels", channels)
    kh, kw = _pair("kernel", kernel)
    h, w = _pair("out_size", out_size)
    return _finish(0, channels * h * w * kh * kw, convention)


def max_pool_cost(channels: Any, kernel: Any, out_size: Any, *, convention: str) -> Cost:
    """Max pooling: no parameters, no multiply-adds, ``kh*kw - 1`` comparisons per output.

    >>> max_pool_cost(64, 3, 56, convention="mac").comparisons
    1605632
    """
    channels = _count("channels", channels)
    kh, kw = _pair("kernel", kernel)
    h, w = _pair("out_size", out_size)
    return _finish(0, 0, convention, comparisons=channels * h * w * (kh * kw - 1))


def global_avg_pool_cost(channels: Any, size: Any, *, convention: str) -> Cost:
    """Global average pooling of ``channels`` maps of ``size``: one multiply-add per input
    element.

    >>> global_avg_pool_cost(2048, 7, convention="mac").flops
    100352
    """
    channels = _count("channels", channels)
    h, w = _pair("size", size)
    return _finish(0, channels * h * w, convention)


def adaptive_avg_pool_cost(channels: int, in_size: Any, out_size: Any, *,
                           convention: str) -> Cost:
    """PyTorch's adaptive average pooling (numeric sizes): output cell ``i`` averages input
    rows ``floor(i*n/m)`` to ``ceil((i+1)*n/m) - 1``; one multiply-add per window element.

    >>> adaptive_avg_pool_cost(256, 6, 6, convention="mac").flops   # 1x1 windows
    9216
    >>> adaptive_avg_pool_cost(1, 5, 3, convention="mac").flops     # windows 2, 3, 2 per axis
    49
    """
    channels = _count("channels", channels)
    ih, iw = _pair("in_size", in_size)
    oh, ow = _pair("out_size", out_size)
    if any(isinstance(v, sympy.Basic) for v in (channels, ih, iw, oh, ow)):
        raise UnsupportedError("adaptive_avg_pool_cost needs numeric sizes; for a symbolic "
                               "size that the output divides, use avg_pool_cost")

    def taps(n: int, m: int) -> int:
        return sum(-(-(i + 1) * n // m) - (i * n // m) for i in range(m))

    return _finish(0, channels * taps(ih, oh) * taps(iw, ow), convention)


def elementwise_cost(elements: Any, *, op: str, convention: str) -> Cost:
    """Element-wise layers on ``elements`` values: ``op`` is ``"add"`` (a residual sum, one
    multiply-add per element: ``1*x + y``), ``"mul"`` (a gate, one per element), ``"relu"``
    (one comparison per element, no multiply-adds) or ``"none"``.

    >>> elementwise_cost(10, op="relu", convention="mac").comparisons
    10
    """
    elements = _count("elements", elements)
    if op in ("add", "mul"):
        return _finish(0, elements, convention)
    if op == "relu":
        return _finish(0, 0, convention, comparisons=elements)
    if op == "none":
        return _finish(0, 0, convention)
    raise InputError(f"got op={op!r}; op must be one of 'add', 'mul', 'relu', 'none'")


# -- theorems -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CostIdentity:
    """A cost theorem ``lhs == rhs`` derived from the cost functions, with worked steps.

    ``steps`` is a chain ``[(expr, why), ...]`` starting at ``lhs`` and ending at ``rhs``;
    every step equals the previous one (ready for :func:`derive.check.derivation.check_chain`
    or :meth:`derive.book.sheet.Sheet.derive`).
    """

    name: str
    statement: str
    lhs: Any
    rhs: Any
    steps: tuple[tuple[Any, str], ...] = field(default_factory=tuple)
    assume: tuple[str, ...] = ()

    def check(self) -> Any:
        """Check ``lhs == rhs`` with the engine's checker; returns a Verdict."""
        from derive.check.engine import check_exprs
        return check_exprs(self.lhs, self.rhs, assume=self.assume)

    def check_steps(self) -> list[Any]:
        """Check every step of the chain against the previous one."""
        from derive.check.derivation import check_chain
        return check_chain([e for e, _ in self.steps], assume=self.assume)


def _frac(num: Any, den: Any) -> Any:
    """``num/den`` kept unevaluated (for a worked step)."""
    return sympy.Mul(num, sympy.Pow(den, -1, evaluate=False), evaluate=False)


def separable_ratio(convention: str = "mac") -> CostIdentity:
    """Depthwise-separable vs standard convolution (no biases, same output size):
    the cost ratio is ``1/C_out + 1/k^2`` (exercise 8.19(a)); any convention, it cancels.

    >>> t = separable_ratio()
    >>> t.rhs
    k**(-2) + 1/C_out
    """
    c_in, c_out, k, h, w = (sym(n) for n in ("C_in", "C_out", "k", "H_out", "W_out"))
    dw = depthwise_cost(c_in, k, (h, w), bias=False, convention=convention).flops
    pw = pointwise_cost(c_in, c_out, (h, w), bias=False, convention=convention).flops
    std = conv_cost(c_in, c_out, k, (h, w), bias=False, convention=convention).flops
    lhs = _frac(dw + pw, std)
    f = _FACTOR[check_convention(convention)]
    steps = (
        (lhs, "depthwise plus pointwise cost over standard cost"),
        (_frac(sympy.Mul(f * h * w * c_in, k**2 + c_out, evaluate=False),
               sympy.Mul(f * h * w * c_in, c_out * k**2, evaluate=False)),
         f"factor ${sympy.sstr(f * h * w * c_in)}$ out of both"),
        (_frac(k**2 + c_out, c_out * k**2), "cancel the common factor"),
        (1 / c_out + 1 / k**2, "split the fraction"),
    )
    return CostIdentity("separable-ratio",
                        "depthwise-separable / standard convolution cost = 1/C_out + 1/k^2",
                        lhs, steps[-1][0], steps)


def stacked_3x3_vs_5x5(what: str = "params") -> CostIdentity:
    """Two stacked 3x3 convolutions vs one 5x5 (``C`` channels in and out, no biases):
    parameters (and, at equal output size, FLOPs) in ratio ``18/25`` (exercise 8.5(b)).

    >>> stacked_3x3_vs_5x5().rhs
    18/25
    """
    c, h, w = sym("C"), sym("H_out"), sym("W_out")

    def cost(k: int) -> Any:
        x = conv_cost(c, c, k, (h, w), bias=False, convention="mac")
        return x.params if what == "params" else x.flops

    if what not in ("params", "flops"):
        raise InputError(f"got what={what!r}; what must be 'params' or 'flops'")
    two, one = 2 * cost(3), cost(5)
    lhs = _frac(two, one)
    scale = 1 if what == "params" else h * w
    steps = (
        (lhs, f"two 3×3 layers over one 5×5 layer "
              f"({'parameters' if what == 'params' else 'FLOPs'})"),
        (_frac(sympy.Mul(18, c**2 * scale, evaluate=False),
               sympy.Mul(25, c**2 * scale, evaluate=False)), "$2*9 = 18$ and $5*5 = 25$"),
        (sympy.Rational(18, 25), f"cancel ${sympy.sstr(c**2 * scale)}$"),
    )
    return CostIdentity(f"stacked-3x3-vs-5x5-{what}",
                        f"two stacked 3x3 / one 5x5 convolution ({what}) = 18/25",
                        lhs, steps[-1][0], steps)


def bottleneck_vs_basic(expansion: int = 4) -> CostIdentity:
    """ResNet bottleneck block (1x1 ``C -> m``, 3x3 ``m -> m``, 1x1 ``m -> C`` with
    ``C = expansion*m``) vs a basic block (3x3, 3x3 at ``C`` channels), same spatial size, no
    biases or batch norm: parameters (and FLOPs) in ratio ``(2e + 9)/(18 e^2)``; ``17/288``
    for ResNet's ``e = 4`` (exercise 8.6).

    >>> bottleneck_vs_basic().rhs
    17/288
    """
    e = check_positive_int("expansion", expansion)
    m = sym("m")
    c = e * m
    bottleneck = (pointwise_cost(c, m, 1, bias=False, convention="mac").params
                  + conv_cost(m, m, 3, 1, bias=False, convention="mac").params
                  + pointwise_cost(m, c, 1, bias=False, convention="mac").params)
    basic = 2 * conv_cost(c, c, 3, 1, bias=False, convention="mac").params
    lhs = _frac(bottleneck, basic)
    steps = (
        (lhs, f"bottleneck over basic block, $C = {e}*m$"),
        (_frac(sympy.Mul(2 * e + 9, m**2, evaluate=False),
               sympy.Mul(18 * e * e, m**2, evaluate=False)),
         f"$C*m + 9*m**2 + m*C = (2*{e} + 9)*m**2$ and $2*9*C**2 = {18 * e * e}*m**2$"),
        (sympy.Rational(2 * e + 9, 18 * e * e), "cancel $m**2$"),
    )
    return CostIdentity("bottleneck-vs-basic",
                        f"bottleneck / basic residual block parameters (C = {e}m)",
                        lhs, steps[-1][0], steps)


def inverted_vs_standard_residual() -> CostIdentity:
    """MobileNetV2 inverted residual (1x1 ``C -> tC``, 3x3 depthwise at ``tC``, 1x1
    ``tC -> C``) vs a standard residual block (3x3, 3x3 at ``C``), no biases or batch norm:
    parameter ratio ``t(2C + 9)/(18C)`` (exercise 8.20(b); ``73/96`` at ``C=32, t=6``).

    >>> inverted_vs_standard_residual().rhs
    t*(2*C + 9)/(18*C)
    """
    c, t = sym("C"), sym("t")
    inverted = (pointwise_cost(c, t * c, 1, bias=False, convention="mac").params
                + depthwise_cost(t * c, 3, 1, bias=False, convention="mac").params
                + pointwise_cost(t * c, c, 1, bias=False, convention="mac").params)
    standard = 2 * conv_cost(c, c, 3, 1, bias=False, convention="mac").params
    lhs = _frac(inverted, standard)
    rhs = t * (2 * c + 9) / (18 * c)
    steps = (
        (lhs, "inverted residual over standard residual block"),
        (_frac(sympy.Mul(t * c, 2 * c + 9, evaluate=False), 18 * c**2),
         "$t*C**2 + 9*t*C + t*C**2 = t*C*(2*C + 9)$"),
        (rhs, "cancel $C$"),
    )
    return CostIdentity("inverted-vs-standard-residual",
                        "MobileNetV2 inverted residual / standard residual parameters",
                        lhs, rhs, steps)


def flop_scaling(which: str, convention: str = "mac") -> CostIdentity:
    """How a plain network's FLOPs scale (exercise 8.7(a)).  The network: ``L`` stride-1
    'same' ``k x k`` convolutions at ``C`` channels on ``H x W``.  ``which`` is ``"depth"``
    (``L -> d*L``: factor ``d``), ``"width"`` (``C -> w*C``: ``w^2``), ``"resolution"``
    (``H, W -> r*H, r*W``: ``r^2``) or ``"compound"`` (all three: ``d*w^2*r^2``).

    >>> flop_scaling("width").rhs
    C**2*H*L*W*k**2*w**2
    """
    c, k, h, w_, n = (sym(x) for x in ("C", "k", "H", "W", "L"))
    d, w, r = sym("d"), sym("w"), sym("r")
    convention = check_convention(convention)

    def net(depth: Any, width: Any, res: Any) -> Any:
        layer = conv_cost(width * c, width * c, k, (res * h, res * w_), bias=False,
                          convention=convention)
        return layer.scaled(depth * n).flops

    base = net(1, 1, 1)
    cases = {"depth": (net(d, 1, 1), d), "width": (net(1, w, 1), w**2),
             "resolution": (net(1, 1, r), r**2), "compound": (net(d, w, r), d * w**2 * r**2)}
    if which not in cases:
        raise InputError(f"got which={which!r}; which must be one of "
                         + ", ".join(repr(x) for x in cases))
    lhs, factor = cases[which]
    rhs = sympy.expand(factor * base)
    steps = ((lhs, f"FLOPs of the network scaled in {which}"),
             (sympy.Mul(factor, base, evaluate=False),
              f"collect the factor ${sympy.sstr(factor)}$"),
             (rhs, "expand"))
    return CostIdentity(f"flop-scaling-{which}",
                        f"scaling {which} multiplies FLOPs by {factor}", lhs, rhs, steps)


def cost_theorems() -> list[CostIdentity]:
    """All cost theorems of this module, in a fixed order.

    >>> [t.name for t in cost_theorems()][:2]
    ['separable-ratio', 'stacked-3x3-vs-5x5-params']
    """
    return [separable_ratio(), stacked_3x3_vs_5x5("params"), stacked_3x3_vs_5x5("flops"),
            bottleneck_vs_basic(), inverted_vs_standard_residual(),
            flop_scaling("depth"), flop_scaling("width"), flop_scaling("resolution"),
            flop_scaling("compound")]


def ratio_value(identity: CostIdentity, **values: int) -> Any:
    """The theorem's right side at given symbol values (exact).

    >>> ratio_value(separable_ratio(), C_out=512, k=3)
    521/4608
    """
    return identity.rhs.subs({sym(n): v for n, v in values.items()})

