"""Formula sheet, section 9: convolutional networks and modern models.

Parameter and FLOP counts come from :mod:`derive.conv.costs` (an attention layer is counted
with the same dense-layer rule: a product of an N x d matrix with a d x N one is N dense
maps of d inputs and N outputs); sizes from :func:`derive.conv.shapes.output_size`; the
Toeplitz view from :mod:`derive.numeric.toeplitz`.  Cross-checks: entries of NumPy arrays,
multiply-adds counted in explicit loops, and the patch embedding computed as
reshape-and-multiply against the engine's strided convolution (and PyTorch's where it is
installed; the page reads the same either way).
"""

from derive.book import EXPLANATION, Part, Problem, Sheet

SEED = 0
VIT_SIZE, VIT_PATCH, VIT_DIM, VIT_CHANNELS = 224, 16, 768, 3


def _ints(a):
    """An integer array when every entry is an integer (float64 arithmetic on small integers
    is exact), so the comparison is exact; otherwise the float array itself."""
    import numpy as np

    a = np.asarray(a, dtype=float)
    return np.rint(a).astype(np.int64) if np.all(a == np.rint(a)) else a


def _attention_macs(n: int, d: int) -> int:
    """Brute force: the loops of softmax(Q K^T) V without projections; one count per
    multiply-add (scores, then weighted sum of the values)."""
    count = 0
    for _q in range(n):
        for _k in range(n):
            for _c in range(d):
                count += 1            # score q.k
    for _q in range(n):
        for _k in range(n):
            for _c in range(d):
                count += 1            # attention weight times value
    return count


def _attention_mixing(tokens, width):
    """Multiply-adds of the token-mixing part of self-attention from the dense-layer rule:
    Q K^T is ``tokens`` dense maps d -> tokens, A V is ``tokens`` dense maps tokens -> d."""
    from derive.conv.costs import dense_cost

    scores = dense_cost(width, tokens, bias=False, convention="mac").scaled(tokens)
    mixing = dense_cost(tokens, width, bias=False, convention="mac").scaled(tokens)
    return (scores + mixing).flops


# ------------------------------------------------------------------------------ 9.1
def solve_9_1(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import conv_cost, dense_cost
    from derive.numeric.toeplitz import conv2d_matrix
    from derive.symbols import syms

    c_in, c_out, K, H, W = syms("C_in C_out K H W")
    conv = conv_cost(c_in, c_out, K, (H, W), convention="mac").params
    dense = dense_cost(c_in * H * W, c_out * H * W, convention="mac").params
    sheet.text("Relation: a convolution builds in locality (each output reads a $K$×$K$ "
               "window, section 1.1) and translation equivariance (section 1.3) by sharing one "
               "small kernel, so its parameter count $C_out*C_in*K**2 + C_out$ does not depend "
               "on the image; a dense layer between the same maps, $C_in$ and $C_out$ channels "
               "of $H$×$W$, grows like $(H*W)**2$. Symbols: $C_in$, $C_out$ channels, $K$ "
               "kernel, an $H$×$W$ map (stride 1, 'same' padding).")
    sheet.claim(sympy.ImmutableMatrix([[sympy.Derivative(conv, H), sympy.Derivative(conv, W)]]),
                sympy.ImmutableMatrix([[0, 0]]),
                why="the engine's count of the convolution's parameters does not change with "
                    "the image height or width")
    pixels = sympy.Mul(H, W, evaluate=False)
    sheet.derive("dense parameters", [
        (sympy.Add(sympy.Mul(sympy.Mul(c_in, pixels, evaluate=False),
                             sympy.Mul(c_out, pixels, evaluate=False), evaluate=False),
                   sympy.Mul(c_out, pixels, evaluate=False), evaluate=False),
         "one weight per pair of input and output entries of the flattened maps, one bias "
         "per output entry"),
        (dense, "the engine's dense-layer count"),
        (sympy.Add(sympy.Mul(c_in, c_out, sympy.Pow(pixels, 2, evaluate=False),
                             evaluate=False), sympy.Mul(c_out, pixels, evaluate=False),
                   evaluate=False), "collect $H*W$")])
    rng = np.random.default_rng(SEED)
    kernel = rng.permutation(np.arange(1, 50))[:9].reshape(1, 1, 3, 3).astype(float)
    sheet.matrix("w", sympy.Matrix(_ints(kernel[0, 0])),
                 caption="A 3×3 kernel with 9 distinct weights (the first 9 of a random "
                         f"ordering of 1 to 49, NumPy's default generator, seed {SEED}).")
    mat = conv2d_matrix((1, 5, 5), kernel, padding=1).toarray()
    distinct = len(set(np.rint(mat[mat != 0]).astype(int).tolist()))
    sheet.numeric(distinct, int(kernel.size),
                  method="the number of weights of the kernel",
                  why="distinct nonzero values of the 25×25 matrix of this 'same' convolution "
                      "on a 5×5 image (the engine's sparse Toeplitz builder): the 625 entries "
                      "of a dense layer collapse to the 9 kernel weights")
    rows = [(f"{n}×{n}", conv_cost(64, 64, 3, n, convention="mac").params,
             dense_cost(64 * n * n, 64 * n * n, convention="mac").params) for n in (8, 32, 224)]
    sheet.table(["map", "3×3 convolution, 64 to 64 channels", "dense layer, same maps"], rows,
                caption="Parameters as the image grows (the engine's counts).")
    sheet.answer("conv parameters", conv)


# ------------------------------------------------------------------------------ 9.2
def solve_9_2(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import conv_cost, dense_cost
    from derive.symbols import syms

    H, W, K = syms("H W K")
    dense = dense_cost(H * W, H * W, bias=False, convention="mac").params
    conv = conv_cost(1, 1, K, (H, W), bias=False, convention="mac").params
    sheet.text("Relation: for one-channel maps of $H$×$W$ in and out, a dense layer has "
               "$(H*W)**2$ weights and a $K$×$K$ convolution $K**2$, a ratio of "
               "$(H*W)**2/K**2$. Fewer free parameters, each seeing every position of every "
               "image, is what lets a CNN learn from fewer examples. Symbols: $H$, $W$ map "
               "size, $K$ kernel, no biases.")
    ratio = sympy.simplify(dense / conv)
    sheet.derive("dense / conv", [
        (sympy.Mul(sympy.Mul(H * W, H * W, evaluate=False),
                   sympy.Pow(sympy.Mul(K, K, evaluate=False), -1, evaluate=False),
                   evaluate=False),
         "one dense weight per pair of input and output positions, over one convolution "
         "weight per tap"),
        (ratio, "the engine's two counts, divided"),
        (sympy.Mul(sympy.Pow(sympy.Mul(H, W, evaluate=False), 2, evaluate=False),
                   sympy.Pow(K, -2), evaluate=False), "collect $H*W$")],
        label="parameter ratio")
    n, k = 28, 3
    value = ratio.subs({H: n, W: n, K: k})
    sheet.numeric(value, sympy.Rational(np.zeros((n * n, n * n)).size, np.zeros((k, k)).size),
                  method="the entries of a 784×784 weight matrix over those of a 3×3 kernel",
                  why="the ratio for a 28×28 image and $K == 3$")
    sheet.explain("Every weight of the convolution is used at all $H_out*W_out$ positions of "
                  "every training image, so each training example provides $H_out*W_out$ "
                  "samples for the same 9 numbers; the dense layer must learn each of its "
                  "weights from one position only. The parameter ratio above is the factor by "
                  "which the hypothesis space shrinks.",
                  rests_on=["parameter ratio"])
    sheet.answer("parameter ratio", sympy.Mul(sympy.Pow(sympy.Mul(H, W, evaluate=False), 2,
                                                        evaluate=False),
                                              sympy.Pow(K, -2), evaluate=False))
    sheet.answer("28 by 28 image, K = 3", value)


# ------------------------------------------------------------------------------ 9.3
def solve_9_3(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import depthwise_cost
    from derive.symbols import sym, syms

    N, d, K, H, W = syms("N d K H W")
    p = sym("p", nonnegative=False)      # a patch size here, not a padding
    attn = _attention_mixing(N, d)
    dw = depthwise_cost(d, K, (H / p, W / p), bias=False, convention="mac").flops
    sheet.text("Relation: mixing information across $N$ tokens of width $d$ costs "
               "$2*N**2*d$ multiply-adds in self-attention (the scores, query times key "
               "transposed, then the weighted sum of the values; the projections add "
               "$4*N*d**2$) against $N*K**2*d$ for a $K$×$K$ depthwise convolution on the "
               "token grid: attention costs $2*N/K**2$ times more and is global, the "
               "convolution is local. Hybrid models use convolutions early (large $N$) and "
               "attention late (small $N$). Symbols: $N == H*W/p**2$ tokens for a patch size "
               "$p$, $d$ width, $K$ kernel.")
    sheet.claim(sympy.Add(sympy.Mul(N, N, d, evaluate=False), sympy.Mul(N, d, N, evaluate=False),
                          evaluate=False), attn,
                why="the scores are $N*N$ dot products of length $d$; the weighted sum gives "
                    "$N*d$ outputs, each a sum over $N$ tokens; against the engine's dense-layer "
                    "rule applied to both products")
    ratio = sympy.Mul(attn.subs(N, H * W / p**2), sympy.Pow(dw, -1, evaluate=False),
                      evaluate=False)
    ratio_value = sympy.simplify(attn.subs(N, H * W / p**2) / dw)
    sheet.derive("attention / depthwise conv", [
        (ratio, "$N == H*W/p**2$ tokens on a grid of $H/p$ by $W/p$"),
        (ratio_value, "simplify: $2*N/K**2$")])
    sheet.numeric(_attention_mixing(12, 5), _attention_macs(12, 5),
                  method="multiply-adds counted in the explicit loops of the two products",
                  why="the cost of attention for $N == 12$, $d == 5$")
    sheet.answer("attention mixing", attn)
    sheet.answer("ratio to a depthwise conv", ratio_value)


# ------------------------------------------------------------------------------ 9.4
def solve_9_4(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import conv_cost
    from derive.conv.shapes import output_size
    from derive.numeric import conv2d
    from derive.symbols import sym, syms

    m, n, D, C = syms("m n D C")
    p = sym("p", nonnegative=False)      # a patch size here, not a padding
    sheet.text("Relation: a vision transformer cuts the $H$×$W$ image into $N == H*W/p**2$ "
               "patches of $p$×$p$ pixels and maps each flattened patch ($C*p**2$ values) to a "
               "vector of length $D$ with one shared linear map: exactly a convolution with "
               "kernel $p$ and stride $p$, with $C*p**2*D + D$ parameters. Symbols: $p$ patch "
               "size dividing $H == p*m$ and $W == p*n$, $C$ input channels, $D$ embedding "
               "width.")
    sheet.claim(output_size(p * m, p, 0, p) * output_size(p * n, p, 0, p), m * n,
                why="kernel $p$ at stride $p$ tiles an image of $p*m$ by $p*n$ into $m*n$ "
                    "patches")
    params = conv_cost(C, D, p, 1, convention="mac").params
    sheet.claim(sympy.Mul(D, C * p**2 + 1, evaluate=False), params,
                why="$D$ outputs, each with $C*p**2$ weights and one bias, against the engine's "
                    "count for the convolution")
    side = output_size(VIT_SIZE, VIT_PATCH, 0, VIT_PATCH)
    tokens = side * side
    vit = conv_cost(VIT_CHANNELS, VIT_DIM, VIT_PATCH, side, convention="mac").params
    sheet.numeric(vit, int(np.zeros((VIT_DIM, VIT_CHANNELS * VIT_PATCH**2)).size
                           + np.zeros(VIT_DIM).size),
                  method="the entries of a NumPy projection matrix of 768×768 (each row a "
                         "flattened 3×16×16 patch filter) and 768 biases",
                  why="parameters of the patch embedding for $p == 16$, $D == 768$, 3 "
                      "channels")
    rng = np.random.default_rng(SEED)
    c, h, w, q, e = 3, 8, 12, 4, 5
    img = rng.integers(-3, 4, size=(1, c, h, w))
    weight = rng.integers(-3, 4, size=(e, c, q, q))
    bias = rng.integers(-3, 4, size=e)
    patches = (img.reshape(1, c, h // q, q, w // q, q).transpose(0, 2, 4, 1, 3, 5)
               .reshape(-1, c * q * q))
    tokens_small = patches @ weight.reshape(e, -1).T + bias          # (N, D)
    conv = conv2d(img.astype(float), weight.astype(float), bias.astype(float), stride=q)
    sheet.numeric(_ints(conv[0].reshape(e, -1).T).ravel(), tokens_small.ravel(),
                  method="patches cut out with NumPy's reshape and transpose, multiplied by "
                         "the flattened kernels",
                  why="the engine's convolution with kernel 4 at stride 4 of a 3-channel "
                      "8×12 image to 5 channels (image, weights, biases: random integers from "
                      f"$-3$ to $3$, NumPy's default generator, seed {SEED}), one row of 5 "
                      "numbers per patch")

    def torch_layer(torch):
        torch.manual_seed(SEED)
        return torch.nn.Conv2d(VIT_CHANNELS, VIT_DIM, VIT_PATCH, stride=VIT_PATCH,
                               dtype=torch.float64)

    sheet.numeric_if_installed(
        "torch", vit, lambda torch: sum(t.numel() for t in torch_layer(torch).parameters()),
        method="PyTorch's Conv2d in float64 (3 to 768 channels, kernel 16, stride 16): its "
               "number of parameters",
        why="parameters of the patch embedding")

    def torch_tokens(torch):
        out = torch_layer(torch)(torch.zeros(1, VIT_CHANNELS, VIT_SIZE, VIT_SIZE,
                                             dtype=torch.float64))
        return int(out.shape[-1] * out.shape[-2])

    sheet.numeric_if_installed("torch", tokens, torch_tokens,
                               method="PyTorch's Conv2d in float64: the size of its output grid",
                               why="tokens of a 224×224 image")
    sheet.answer("tokens at 224, p = 16", tokens)
    sheet.answer("patch-embedding parameters (D = 768)", vit)


# ------------------------------------------------------------------------------ 9.5
def solve_9_5(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import conv_cost
    from derive.symbols import syms

    H, W, d, K, r = syms("H W d K r")
    conv = conv_cost(d, d, K, (H, W), bias=False, convention="mac").flops
    attn = _attention_mixing(H * W, d)
    sheet.text("Relation: at full resolution (one token per pixel) a $K$×$K$ convolution "
               "costs $H*W*K**2*d**2$ multiply-adds, linear in the number of pixels, while "
               "global attention costs $2*(H*W)**2*d$, quadratic; scaling the resolution by "
               "$r$ multiplies the first by $r**2$ and the second by $r**4$. This is why dense "
               "prediction at high resolution and vision on small devices still rely on "
               "convolutions. Symbols: $H$×$W$ feature map, $d$ channels, $K$ kernel, $r > 0$ "
               "scale.")
    scaled_conv = conv_cost(d, d, K, (r * H, r * W), bias=False, convention="mac").flops
    sheet.derive("conv multiply-adds at resolution r", [
        (scaled_conv, "the engine's cost of the same layer on a map of $r*H$ by $r*W$"),
        (sympy.Mul(r**2, conv, evaluate=False),
         "$r**2$ times the cost at the original resolution")])
    scaled = _attention_mixing(r**2 * H * W, d)
    sheet.claim(sympy.Mul(scaled, sympy.Pow(attn, -1, evaluate=False), evaluate=False), r**4,
                why="global attention: the pixel count enters squared")
    gap = sympy.simplify(attn / conv)
    sheet.derive("attention / conv", [
        (sympy.Mul(attn, sympy.Pow(conv, -1, evaluate=False), evaluate=False),
         "the two counts"),
        (gap, "simplify")])
    rows = []
    for side in (14, 56, 224):
        c_val = conv.subs({H: side, W: side, d: 64, K: 3})
        a_val = attn.subs({H: side, W: side, d: 64})
        rows.append((f"{side}×{side}", c_val, a_val, f"{float(a_val / c_val):.1f}"))
    sheet.table(["map ($d == 64$, $K == 3$)", "convolution multiply-adds",
                 "attention multiply-adds", "ratio"], rows,
                caption="The gap grows with the number of pixels.")
    sheet.numeric(_attention_mixing(6 * 6, 4), _attention_macs(36, 4),
                  method="multiply-adds counted in explicit loops",
                  why="the cost of attention over the 36 pixels of a 6×6 map with $d == 4$")
    sheet.answer("attention / conv", gap)


PROBLEM = Problem(
    id="formulas-9", set="formulas", order=9, title="CNNs and modern AI",
    source="Chapter notes, section 9",
    statement="Where convolutions stand next to attention-based vision models.",
    parts=(
        Part("9.1", "Inductive bias: what the convolutional structure assumes about images, "
                    "and what it saves.",
             solve_9_1),
        Part("9.2", "Data efficiency: why shared weights need fewer training examples than "
                    "a dense layer.",
             solve_9_2, scope=EXPLANATION),
        Part("9.3", "Hybrid models: convolutions and attention in one network. Compare "
                    "their costs.",
             solve_9_3),
        Part("9.4", "Patch embedding: the first layer of a vision transformer seen as a "
                    "convolution.",
             solve_9_4),
        Part("9.5", "When CNNs still matter: where the cost of attention is too high. "
                    "Quantify it.",
             solve_9_5),
    ),
)
