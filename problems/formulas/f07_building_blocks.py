"""Formula sheet, section 7: CNN building blocks.

Batch-norm and dropout identities are derived with SymPy and checked line by line; the
residual block comes from :mod:`derive.conv.residual`, the bottleneck ratio from
:func:`derive.conv.costs.bottleneck_vs_basic`, batch-norm parameters from
:func:`derive.conv.costs.batch_norm_cost`.  Cross-checks: NumPy batch statistics, exact
central differences of a quadratic branch, weight-tensor entry counts and an exact
enumeration of dropout masks.
"""

from derive.book import Part, Problem, Sheet

SEED = 0
EPS = 1e-5


def _batch_norm(z, gamma, beta, eps=EPS):
    """Training-mode batch norm of an NCHW array: statistics over (N, H, W) per channel."""
    mu = z.mean(axis=(0, 2, 3), keepdims=True)
    var = z.var(axis=(0, 2, 3), keepdims=True)
    return gamma[None, :, None, None] * (z - mu) / (var + eps) ** 0.5 + beta[None, :, None, None]


def _ints(a):
    """An integer array when every entry is an integer (float64 arithmetic on small integers
    is exact), so the comparison is exact; otherwise the float array itself."""
    import numpy as np

    a = np.asarray(a, dtype=float)
    return np.rint(a).astype(np.int64) if np.all(a == np.rint(a)) else a


# ------------------------------------------------------------------------------ 7.1
def solve_7_1(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.numeric import conv2d

    gamma, beta, mu, b = (sympy.Symbol(n, real=True) for n in ("gamma", "beta", "mu", "b"))
    var, eps = sympy.Symbol("sigma^2", nonnegative=True), sympy.Symbol("epsilon", positive=True)
    z = sympy.IndexedBase("z")
    k = sympy.Symbol("k", integer=True, nonnegative=True)
    M = sympy.Symbol("M", integer=True, positive=True)
    sheet.text("Relation (convolution, batch norm, ReLU): z is the convolution output, mu and "
               "sigma^2 its mean and variance over the batch and spatial positions of one "
               "channel, gamma and beta the learned scale and shift, epsilon > 0 a small "
               "constant. Symbols: z[k], k < M = N H_out W_out, the values of one channel.")
    sheet.derive("y", [(sympy.Max(0, gamma * (z[k] - mu) / sympy.sqrt(var + eps) + beta),
                        "definition of the block's output")])
    sheet.text("Consequence: a bias b in the convolution is cancelled by the normalisation, "
               "so conv layers followed by batch norm are used without one. The mean moves by "
               "b and the centred values do not change:")
    mean_shift = sympy.Sum(z[k] + b, (k, 0, M - 1)) / M
    sheet.derive("mean of z + b", [
        (mean_shift, "definition of the batch mean"),
        (sympy.Sum(z[k], (k, 0, M - 1)) / M + b, "linearity of the sum: M copies of b")],
        assume=["b real"])
    with sympy.evaluate(False):
        centred = (z[k] + b) - (mu + b)
    sheet.claim(centred, z[k] - mu, assume=["b real", "mu real"],
                why="the centred values, hence the variance and the normalised output, are "
                    "the same with or without b")
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((4, 2, 6, 6))
    w = rng.standard_normal((3, 2, 3, 3))
    bias = rng.standard_normal(3)
    g, bt = rng.standard_normal(3), rng.standard_normal(3)
    with_bias = _batch_norm(conv2d(x, w, bias, padding=1), g, bt)
    without = _batch_norm(conv2d(x, w, padding=1), g, bt)
    sheet.numeric(np.maximum(with_bias, 0), np.maximum(without, 0), tol=1e-12,
                  method="NumPy conv, batch norm (batch statistics) and ReLU with and without "
                         "a conv bias, batch of 4")
    sheet.answer("conv-BN-ReLU", sympy.Eq(sympy.Symbol("y"),
                                          sympy.Max(0, gamma * (z[k] - mu)
                                                    / sympy.sqrt(var + eps) + beta)))


# ------------------------------------------------------------------------------ 7.2
def _quadratic_branch(A, B):
    """F(x) = B (A x)^2 (square taken entry by entry) and its Jacobian."""
    import numpy as np

    def F(x):
        return B @ (A @ x) ** 2

    def jac(x):
        return B @ np.diag(2 * (A @ x)) @ A

    return F, jac


def solve_7_2(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.residual import (
        expand_residual, forward_equations, path_count, path_count_by_length,
    )

    (block,) = forward_equations(1)
    sheet.text("Relation: a residual block adds a learned correction F to the identity, "
               "y = x + F(x); its Jacobian is I + J_F, so a gradient always has the identity "
               "path. Symbols: x the block input (a vector), F the branch (conv, norm, "
               "activation), J_F = dF/dx.")
    sheet.derive(block.lhs, [(block.rhs, "definition of the block (h_0 = x)")])
    x1, x2, a, b = sympy.symbols("x1 x2 a b", real=True)
    X = sympy.Matrix([x1, x2])
    F = sympy.Matrix([a * x1 * x2, b * x1**2])
    sheet.claim(sympy.ImmutableMatrix((X + F).jacobian(X)),
                sympy.ImmutableMatrix(sympy.eye(2) + F.jacobian(X)),
                assume=["x1 real", "x2 real", "a real", "b real"],
                why="for a two-unit block with the branch F(x) = (a x1 x2, b x1^2): the "
                    "Jacobian of x + F is I + J_F")
    stack = expand_residual(3)
    sheet.table(["path length", "terms of (I + J_3)(I + J_2)(I + J_1)"],
                [(n, ", ".join(p.label for p in paths) or "I")
                 for n, paths in stack.by_length().items()],
                caption="Stacked blocks: the product of the block Jacobians expands into one "
                        "term per path through the network (the engine's path expansion).")
    n = sympy.Symbol("n", integer=True, nonnegative=True)
    j = sympy.Symbol("k", integer=True, nonnegative=True)
    sheet.claim(sympy.Sum(path_count_by_length(n, j), (j, 0, n)), path_count(n),
                assume=["n >= 0", "k >= 0"],
                why="n blocks give 2^n paths in total, one of them the pure identity")
    rng = np.random.default_rng(SEED)
    Av, Bv = rng.integers(-3, 4, size=(3, 3)), rng.integers(-3, 4, size=(3, 3))
    Fn, jac = _quadratic_branch(Av, Bv)
    xv = rng.integers(-3, 4, size=3)
    columns = [(xv + e + Fn(xv + e) - (xv - e) - Fn(xv - e)) // 2
               for e in np.eye(3, dtype=int)]
    sheet.numeric(np.eye(3, dtype=int) + jac(xv), np.array(columns).T,
                  method="central differences of x + F(x) with step 1 in each coordinate, "
                         "exact for a quadratic branch (section 6.5), integer data, 3 units")
    t = sympy.Symbol("x", real=True)
    sheet.answer("residual Jacobian (one unit)",
                 sympy.diff(t + sympy.Function("F")(t), t))


# ------------------------------------------------------------------------------ 7.3
def solve_7_3(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import bottleneck_vs_basic

    identity = bottleneck_vs_basic(4)
    sheet.text("Relation: a bottleneck block (1x1 C -> m, 3x3 m -> m, 1x1 m -> C with "
               "C = 4m) against a basic block (two 3x3 convolutions at C channels) has "
               "(2e + 9)/(18 e^2) of its parameters and FLOPs for expansion e, 17/288 for "
               "ResNet's e = 4. Symbols: m the reduced width, C = e m; no biases or batch "
               "norm, same spatial size.")
    sheet.derive("bottleneck / basic", list(identity.steps))
    c, m = 256, 64
    def entries(*shapes):
        return int(sum(np.zeros(s, dtype=np.int8).size for s in shapes))

    bottleneck = entries((m, c, 1, 1), (m, m, 3, 3), (c, m, 1, 1))
    basic = entries((c, c, 3, 3), (c, c, 3, 3))
    sheet.numeric(identity.rhs, sympy.Rational(bottleneck, basic),
                  method="entries of the weight tensors of both blocks at C = 256, m = 64 "
                         "(NumPy arrays)")
    sheet.answer("parameter ratio (e = 4)", identity.rhs)
    sheet.answer("C = 256: bottleneck vs basic weights", f"{bottleneck:,} vs {basic:,}")


# ------------------------------------------------------------------------------ 7.4
def solve_7_4(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import batch_norm_cost
    from derive.symbols import syms

    x = sympy.IndexedBase("x")
    k = sympy.Symbol("k", integer=True, nonnegative=True)
    M = sympy.Symbol("M", integer=True, positive=True)
    mu, gamma, beta = (sympy.Symbol(n, real=True) for n in ("mu", "gamma", "beta"))
    s = sympy.Symbol("s", positive=True)
    sheet.text("Relation: for channel c, batch norm takes mu = (1/M) sum_k x[k] and sigma^2 "
               "= (1/M) sum_k (x[k] - mu)^2 over the M = N H W values of that channel (batch "
               "and spatial axes) and outputs gamma (x[k] - mu)/s + beta with s = "
               "sqrt(sigma^2 + epsilon). The output then has mean beta exactly and variance "
               "gamma^2 sigma^2/(sigma^2 + epsilon). Symbols: M >= 1 values, gamma, beta "
               "real, s > 0.")
    total = sympy.Sum(x[k], (k, 0, M - 1))
    sheet.derive("sum of the centred values", [
        (sympy.Sum(x[k] - mu, (k, 0, M - 1)), "centre every value"),
        (total - M * mu, "linearity of the sum: M copies of mu")], assume=["mu real"])
    with sympy.evaluate(False):
        at_mean = total - M * (total / M)
    sheet.claim(at_mean, 0, why="with mu the mean, M mu is the sum of the values: the centred "
                                "values sum to zero")
    sheet.derive("mean of the output", [
        (sympy.Sum(gamma * (x[k] - mu) / s + beta, (k, 0, M - 1)) / M, "definition"),
        (gamma / (M * s) * (total - M * mu) + beta, "linearity of the sum")],
        assume=["mu real", "gamma real", "beta real", "s > 0"])
    with sympy.evaluate(False):
        at_mean = gamma / (M * s) * (total - M * (total / M)) + beta
    sheet.claim(at_mean, beta, assume=["gamma real", "beta real", "s > 0"],
                why="at the batch mean the centred sum vanishes, leaving beta")
    C, H, W = syms("C H W")
    cost = batch_norm_cost(C, (H, W), convention="mac")
    sheet.claim(sympy.Matrix([[cost.params, cost.buffers]]).as_immutable(),
                sympy.ImmutableMatrix([[2 * C, 2 * C]]),
                why="learned gamma and beta per channel; running mean and variance are "
                    "buffers (the engine's cost)")
    rng = np.random.default_rng(SEED)
    z = 3.0 + 2.0 * rng.standard_normal((8, 3, 5, 5))
    g, bt = rng.standard_normal(3), rng.standard_normal(3)
    out = _batch_norm(z, g, bt)
    var = z.var(axis=(0, 2, 3))
    sheet.numeric(out.mean(axis=(0, 2, 3)), bt, tol=1e-12,
                  method="NumPy: per-channel mean over (N, H, W) of batch-normalised data")
    sheet.numeric(out.var(axis=(0, 2, 3)), g**2 * var / (var + EPS), tol=1e-12,
                  method="NumPy: per-channel variance over (N, H, W)")
    sheet.answer("output mean", beta)


# ------------------------------------------------------------------------------ 7.5
def solve_7_5(sheet: Sheet) -> None:
    import itertools
    from fractions import Fraction

    import numpy as np
    import sympy

    from derive.numeric import conv2d

    p, x = sympy.Symbol("p", real=True), sympy.Symbol("x", real=True)
    sheet.text("Relation (inverted dropout): during training each activation is kept with "
               "probability 1 - p and scaled by 1/(1 - p), y = m x/(1 - p) with "
               "m ~ Bernoulli(1 - p), so E[y] = x and nothing needs rescaling at test time; "
               "the noise has variance x^2 p/(1 - p). Symbols: 0 <= p < 1 drop probability, "
               "x real.")
    assume = ["p real", "p >= 0", "p < 1", "x real"]
    with sympy.evaluate(False):
        mean = (1 - p) * (x / (1 - p)) + p * 0
    mean_value = sympy.simplify(mean)
    sheet.derive("E[y]", [
        (mean, "m = 1 with probability 1 - p, m = 0 with p"),
        (mean_value, "simplify")], assume=assume)
    sheet.derive("Var(y)", [
        ((1 - p) * (x / (1 - p)) ** 2 + p * 0 - x**2, "E[y^2] - E[y]^2"),
        (x**2 * p / (1 - p), "simplify")], assume=assume)
    acts = [Fraction(2), Fraction(-1), Fraction(5)]
    drop = Fraction(1, 4)
    expected = [Fraction(0)] * len(acts)
    for mask in itertools.product((0, 1), repeat=len(acts)):
        prob = Fraction(1)
        for bit in mask:
            prob *= (1 - drop) if bit else drop
        for t, (bit, a) in enumerate(zip(mask, acts)):
            expected[t] += prob * bit * a / (1 - drop)
    sheet.numeric([sympy.Rational(e.numerator, e.denominator) for e in expected],
                  [sympy.Integer(int(a)) for a in acts],
                  method="exact enumeration of all 8 dropout masks of 3 units with p = 1/4 "
                         "(fractions)")
    rng = np.random.default_rng(SEED)
    img = rng.integers(-3, 4, size=(1, 1, 6, 6)).astype(float)
    w = rng.integers(-3, 4, size=(1, 1, 3, 3)).astype(float)
    flipped = conv2d(img[..., ::-1].copy(), w[..., ::-1].copy())
    sheet.numeric(_ints(flipped), _ints(conv2d(img, w)[..., ::-1]),
                  method="augmentation by horizontal flip: convolving the flipped image with "
                         "the flipped kernel flips the feature map (NumPy, integer data)")
    sheet.answer("inverted dropout", sympy.Eq(sympy.Symbol("E[y]"), mean_value))


PROBLEM = Problem(
    id="formulas-7", set="formulas", order=7, title="CNN building blocks",
    source="Chapter notes, section 7",
    statement="The standard pieces of a convolutional network and the identities behind them.",
    parts=(
        Part("7.1", "Convolution, activation, normalisation: write the standard block and "
                    "say what becomes of the convolution's bias.",
             solve_7_1),
        Part("7.2", "Residual block: the block's output is added to its input. What does "
                    "that do to the Jacobian?",
             solve_7_2),
        Part("7.3", "Bottleneck block: narrow the channels with a 1 x 1 layer, filter, "
                    "widen again. How much does it save?",
             solve_7_3),
        Part("7.4", "Batch normalisation: standardise each channel with statistics over the "
                    "batch and the image. What are the output's statistics?",
             solve_7_4),
        Part("7.5", "Dropout and augmentation: regularisers for the learned features. Why "
                    "does inverted dropout need no rescaling at test time?",
             solve_7_5),
    ),
)
