"""Formula sheet, section 3: parameter and FLOP counts.

Every count is the engine's (:mod:`derive.conv.costs`, with its explicit FLOP convention;
output sizes from :mod:`derive.conv.model`), checked symbolically against the stated
relation and cross-checked by counting weight-tensor entries or multiply-adds in explicit
loops at a small size.
"""

from derive.book import Part, Problem, Sheet

# the notes' worked micro-example: a 3x3 convolution from 64 to 128 channels
EX_C_IN, EX_C_OUT, EX_K = 64, 128, 3


def _ints(a):
    """An integer array when every entry is an integer (float64 arithmetic on small integers
    is exact), so the comparison is exact; otherwise the float array itself."""
    import numpy as np

    a = np.asarray(a, dtype=float)
    return np.rint(a).astype(np.int64) if np.all(a == np.rint(a)) else a


def _count_macs(c_in: int, c_out: int, k: int, h_out: int, w_out: int, groups: int = 1) -> int:
    """Brute force: walk the loops of a (grouped) convolution, one count per multiply-add."""
    count = 0
    for _o in range(c_out):
        for _i in range(h_out):
            for _j in range(w_out):
                for _c in range(c_in // groups):
                    for _u in range(k):
                        for _v in range(k):
                            count += 1
    return count


def _entries(*shapes) -> int:
    """Entries of arrays of the given shapes (NumPy)."""
    import numpy as np
    return int(sum(np.zeros(s, dtype=np.int8).size for s in shapes))


# ------------------------------------------------------------------------------ 3.1
def solve_3_1(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import conv_cost
    from derive.conv.model import conv_model
    from derive.symbols import syms

    c_in, c_out, K, G, h_out, w_out = syms("C_in C_out K G H_out W_out")
    model = conv_model(2, groups=G)
    params = conv_cost(c_in, c_out, K, (h_out, w_out), groups=G, convention="mac").params
    sheet.text("Relation: a (grouped) convolution has a weight tensor with $C_out$ filters of "
               "$C_in/G$ channels and $K$×$K$ taps, and $C_out$ biases; the count does not "
               "involve the image size. Symbols: $C_in$, $C_out$ channel counts, $G >= 1$ "
               "groups dividing both, $K$ kernel size; $H_out$ and $W_out$ only enter the "
               "FLOPs.")
    sheet.derive("params", [
        (sympy.Add(sympy.Mul(*model.weight_shape, evaluate=False), c_out, evaluate=False),
         "the entries of the model's weight tensor plus one bias per output channel"),
        (params, "the engine's parameter count of a grouped convolution")])
    sheet.claim(sympy.ImmutableMatrix([[sympy.Derivative(params, h_out),
                                        sympy.Derivative(params, w_out)]]),
                sympy.ImmutableMatrix([[0, 0]]),
                why="the count does not change with the output height or width")
    ex = conv_cost(EX_C_IN, EX_C_OUT, EX_K, 1, convention="mac").params
    sheet.numeric(ex, _entries((EX_C_OUT, EX_C_IN, EX_K, EX_K), (EX_C_OUT,)),
                  method="entries of a NumPy weight array of shape 128 by 64 by 3 by 3 and a "
                         "bias array of length 128",
                  why="3×3 convolution from 64 to 128 channels")
    grouped = conv_cost(8, 12, 3, 1, groups=4, convention="mac").params
    sheet.numeric(grouped, _entries((12, 2, 3, 3), (12,)),
                  method="entries of NumPy weights of shape 12 by 2 by 3 by 3 (8/4 channels "
                         "per group) and 12 biases",
                  why="3×3 convolution from 8 to 12 channels in 4 groups")
    sheet.answer("parameters", sympy.Eq(sympy.Symbol("params"), params))
    sheet.answer("3 by 3 kernel, 64 to 128 channels", ex)


# ------------------------------------------------------------------------------ 3.2
def solve_3_2(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.model import conv_model
    from derive.conv.shapes import output_size
    from derive.numeric import conv2d
    from derive.symbols import syms

    N, c_out, H, W, K, P, S, D = syms("N C_out H W K P S D")
    model = conv_model(2)
    shape = model.output_shape
    sheet.text("Relation: the output holds one value per batch element, output channel and "
               "output position. Symbols: $N$ batch size, $C_out$ output channels, $H_out$ "
               "and $W_out$ from the output-size formula of section 2.4.")
    sheet.derive("output elements", [
        (sympy.Mul(*shape, evaluate=False),
         "the product of the model's output shape: batch, channels, height, width"),
        (N * c_out * output_size(H, K, P, S, D) * output_size(W, K, P, S, D),
         "the output-size formula on each axis")], assume=["P >= 0"])
    cfg = dict(stride=2, padding=1)
    small = conv_model(2, size=(9, 7), kernel=3, stride=2, padding=1, dilation=1, batch=2,
                       in_channels=3, out_channels=4)
    count = int(np.prod(small.output_shape))
    y = conv2d(np.zeros((2, 3, 9, 7)), np.zeros((4, 3, 3, 3)), **cfg)
    sheet.numeric(count, int(y.size),
                  method="the number of entries of the array NumPy computes",
                  why="a 3×3 convolution, stride 2, padding 1, from 3 to 4 channels, on a "
                      "batch of 2 images of 9×7")
    sheet.answer("output elements", sympy.Eq(sympy.Symbol("elements"),
                                             sympy.Mul(*shape)))


# ------------------------------------------------------------------------------ 3.3
def solve_3_3(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import conv_cost
    from derive.symbols import syms

    c_in, c_out, K, h_out, w_out = syms("C_in C_out K H_out W_out")
    macs = conv_cost(c_in, c_out, K, (h_out, w_out), bias=False, convention="mac")
    flops = macs.to("flop2")
    sheet.text("Relation: every output element is a dot product of length $C_in*K**2$, that "
               "is $C_in*K**2$ multiply-adds; convention: one multiply-add counts as 2 FLOPs "
               "(a multiplication and an addition). Symbols as in 3.1, one group, no bias "
               "(a bias adds one addition per output element, folded into the first "
               "accumulation by the engine).")
    sheet.derive("multiply-adds", [
        (sympy.Mul(c_out * h_out * w_out, c_in * K**2, evaluate=False),
         "output elements (per image) times the dot-product length"),
        (macs.flops, "the engine's count (convention: multiply-adds)")])
    sheet.derive("FLOPs", [
        (sympy.Mul(2, c_out * h_out * w_out, c_in * K**2, evaluate=False),
         "2 FLOPs per multiply-add, times the multiply-adds above"),
        (flops.flops, "the engine's count in the 2-FLOP convention")])
    small = dict(c_in=3, c_out=4, k=3, h_out=5, w_out=6)
    value = conv_cost(3, 4, 3, (5, 6), bias=False, convention="flop2").flops
    sheet.numeric(value, 2 * _count_macs(**small),
                  method="twice the multiply-adds counted in explicit loops",
                  why="FLOPs for $C_in == 3$, $C_out == 4$, $K == 3$ and a 5×6 output")
    ex = conv_cost(EX_C_IN, EX_C_OUT, EX_K, 56, bias=False, convention="flop2").flops
    sheet.answer("FLOPs (1 multiply-add = 2 FLOPs)", sympy.Eq(sympy.Symbol("FLOPs"), flops.flops))
    sheet.answer("3 by 3 kernel, 64 to 128 channels, 56 by 56 output", ex)


# ------------------------------------------------------------------------------ 3.4
def solve_3_4(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import conv_cost, dense_cost, pointwise_cost
    from derive.conv.model import conv_model
    from derive.numeric import conv2d
    from derive.symbols import syms

    c_in, c_out, H, W = syms("C_in C_out H W")
    model = conv_model(2, kernel=1, stride=1, padding=0, dilation=1)
    eq = model.equation
    sheet.text("Relation: with $K == 1$ the only tap is $u == 0$, $v == 0$, so the output "
               "pixel at row $i$, column $j$ is a dense layer applied to the channel vector of "
               "the input pixel at the same place, the same matrix at every pixel; it mixes "
               "channels and has no spatial extent. Symbols: $C_in$, $C_out$ channels; $H$, "
               "$W$ the map size (unchanged).")
    sheet.derive(eq.lhs, [(eq.rhs, "definition: the model at $K == 1$, $S == 1$, $P == 0$")])
    params = pointwise_cost(c_in, c_out, (H, W), convention="mac").params
    K = syms("K")[0]
    general = conv_cost(c_in, c_out, K, (H, W), convention="mac").params
    with sympy.evaluate(False):
        at_one = general.xreplace({K: sympy.Integer(1)})
    sheet.derive("parameters", [
        (at_one, "the engine's count of a $K$×$K$ convolution, at $K == 1$"),
        (dense_cost(c_in, c_out, convention="mac").params,
         "the engine's count of a dense layer from $C_in$ inputs to $C_out$ outputs: the "
         "same number")])
    rng = np.random.default_rng(0)
    x = rng.integers(-4, 5, size=(2, 5, 4, 3)).astype(float)
    w = rng.integers(-4, 5, size=(6, 5, 1, 1)).astype(float)
    b = rng.integers(-4, 5, size=6).astype(float)
    per_pixel = np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x) + b[None, :, None, None]
    sheet.numeric(_ints(conv2d(x, w, b)).ravel(),
                  _ints(per_pixel).ravel(),
                  method="the same matrix applied to the channel vector of every pixel "
                         "(NumPy's einsum)",
                  why="a 1×1 convolution from 5 to 6 channels on a batch of 2 maps of 4×3 "
                      "(input, weights, biases: random integers from $-4$ to $4$, in that "
                      "order, NumPy's default generator, seed 0)")
    sheet.answer("parameters of a 1 by 1 convolution", sympy.Eq(sympy.Symbol("params"), params))


# ------------------------------------------------------------------------------ 3.5
def solve_3_5(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import depthwise_cost, pointwise_cost, ratio_value, separable_ratio
    from derive.symbols import syms

    c_in, c_out, k, h, w = syms("C_in C_out k H_out W_out")
    sheet.text("Relation: a depthwise $k$×$k$ convolution (one filter per input channel) "
               "followed by a 1×1 convolution costs $C_out**(-1) + k**(-2)$ of a standard "
               "$k$×$k$ convolution, for parameters and FLOPs alike (no biases, same output "
               "size). Symbols: $C_in$, $C_out$ channels, $k$ kernel size.")
    sheet.table(["layer", "multiply-adds"], [
        ("depthwise $k$×$k$", depthwise_cost(c_in, k, (h, w), bias=False,
                                             convention="mac").flops),
        ("pointwise 1×1", pointwise_cost(c_in, c_out, (h, w), bias=False,
                                         convention="mac").flops)],
        caption="The engine's costs of the two factors.")
    identity = separable_ratio("mac")
    whys = ("depthwise plus pointwise cost over standard cost",
            "factor $H_out*W_out*C_in$ out of both", "cancel the common factor",
            "split the fraction")
    sheet.derive("separable / standard", [(e, why) for (e, _), why in zip(identity.steps, whys)])
    small = dict(c_in=3, c_out=5, k=3, h_out=4, w_out=4)
    std = _count_macs(**small)
    dw = _count_macs(3, 3, 3, 4, 4, groups=3)
    pw = _count_macs(3, 5, 1, 4, 4)
    sheet.numeric(ratio_value(identity, C_out=5, k=3), sympy.Rational(dw + pw, std),
                  method="multiply-adds counted in explicit loops for the depthwise, pointwise "
                         "and standard layers",
                  why="the ratio for $C_in == 3$, $C_out == 5$, $k == 3$ and a 4×4 output")
    sheet.answer("cost ratio", identity.rhs)
    sheet.answer("3 by 3 kernel, 64 to 128 channels",
                 ratio_value(identity, C_out=EX_C_OUT, k=EX_K))


PROBLEM = Problem(
    id="formulas-3", set="formulas", order=3, title="Parameter and FLOP counts",
    source="Chapter notes, section 3",
    statement="How many weights a convolution has and how much arithmetic it does.",
    parts=(
        Part("3.1", "Parameter count: how many weights a convolution has, and why the image "
                    "size does not enter.",
             solve_3_1),
        Part("3.2", "Output elements: how many values does a layer produce?", solve_3_2),
        Part("3.3", "FLOPs: count the arithmetic, one dot product over channels and taps "
                    "per output value, and state the convention.",
             solve_3_3),
        Part("3.4", "1×1 convolution: a kernel of size one, channel mixing only.", solve_3_4),
        Part("3.5", "Depthwise-separable convolution: filter each channel spatially, then "
                    "mix channels with a 1×1 layer. How much cheaper is it?",
             solve_3_5),
    ),
)
