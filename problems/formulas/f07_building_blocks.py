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
    sheet.text("Relation (convolution, batch norm, ReLU): $z$ is the convolution output, $mu$ "
               "and $sigma**2$ its mean and variance over the batch and the spatial positions "
               "of one channel, $gamma$ and $beta$ the learned scale and shift, "
               "$epsilon > 0$ a small constant. Symbols: $z[k]$ for $k < M$, the "
               "$M == N*H_out*W_out$ values of one channel.")
    sheet.derive("y", [(sympy.Max(0, gamma * (z[k] - mu) / sympy.sqrt(var + eps) + beta),
                        "definition of the block's output")])
    sheet.text("Consequence: a bias $b$ in the convolution is cancelled by the normalisation, "
               "so convolutions followed by batch norm are used without one. The mean moves by "
               "$b$ and the centred values do not change:")
    mean_shift = sympy.Sum(z[k] + b, (k, 0, M - 1)) / M
    sheet.derive("mean of z + b", [
        (mean_shift, "definition of the batch mean"),
        (sympy.Sum(z[k], (k, 0, M - 1)) / M + b, "linearity of the sum: $M$ copies of $b$")],
        assume=["b real"])
    with sympy.evaluate(False):
        centred = (z[k] + b) - (mu + b)
    sheet.claim(centred, z[k] - mu, assume=["b real", "mu real"],
                why="the centred values, hence the variance and the normalised output, are "
                    "the same with or without $b$")
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((4, 2, 6, 6))
    w = rng.standard_normal((3, 2, 3, 3))
    bias = rng.standard_normal(3)
    g, bt = rng.standard_normal(3), rng.standard_normal(3)
    with_bias = _batch_norm(conv2d(x, w, bias, padding=1), g, bt)
    without = _batch_norm(conv2d(x, w, padding=1), g, bt)
    sheet.numeric(np.maximum(with_bias, 0).ravel(), np.maximum(without, 0).ravel(), tol=1e-12,
                  method="the same block without the convolution's bias (NumPy)",
                  why="the block's output with a bias: a 3×3 convolution with padding 1 from 2 "
                      "to 3 channels on a batch of 4 images of 6×6, batch norm with batch "
                      "statistics, ReLU (input, weights, bias, $gamma$, $beta$: standard "
                      f"normal, in that order, NumPy's default generator, seed {SEED})")
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
    sheet.text("Relation: a residual block adds a learned correction $F$ to the identity: its "
               "output is its input plus $F$ of its input, and its Jacobian is $I + J_F$, so "
               "a gradient always has the identity path. Symbols: $x$ the block input (a "
               "vector), $F$ the branch (convolution, normalisation, activation), $J_F$ the "
               "Jacobian of $F$.")
    sheet.derive(block.lhs, [(block.rhs, "definition of the block, with input $h_0$")])
    x1, x2, a, b = sympy.symbols("x1 x2 a b", real=True)
    X = sympy.Matrix([x1, x2])
    F = sympy.Matrix([a * x1 * x2, b * x1**2])
    block_map = X + F
    by_definition = sympy.ImmutableMatrix(2, 2, lambda r, c: sympy.Derivative(
        block_map[r], X[c]))
    sheet.claim(by_definition, sympy.ImmutableMatrix(sympy.eye(2) + F.jacobian(X)),
                assume=["x1 real", "x2 real", "a real", "b real"],
                why="for a two-unit block with the branch $F$ mapping $x_1$, $x_2$ to "
                    "$a*x_1*x_2$, $b*x_1**2$: the Jacobian of the block (left) is $I + J_F$")
    stack = expand_residual(3)
    identity = sympy.Symbol("I", commutative=False)
    sheet.table(["path length", "terms"],
                [(n, sympy.Add(*[p.term for p in paths]) if n else identity)
                 for n, paths in stack.by_length().items()],
                caption="Stacked blocks: the product of the block Jacobians, $I + J_3$ times "
                        "$I + J_2$ times $I + J_1$, expands into one term per path through the "
                        "network (the engine's path expansion), grouped by the number of "
                        "branches taken.")
    n = sympy.Symbol("n", integer=True, nonnegative=True)
    j = sympy.Symbol("k", integer=True, nonnegative=True)
    sheet.claim(sympy.Sum(path_count_by_length(n, j), (j, 0, n)), path_count(n),
                assume=["n >= 0", "k >= 0"],
                why="$n$ blocks give $2**n$ paths in total, one of them the pure identity")
    rng = np.random.default_rng(SEED)
    Av, Bv = rng.integers(-3, 4, size=(3, 3)), rng.integers(-3, 4, size=(3, 3))
    Fn, jac = _quadratic_branch(Av, Bv)
    xv = rng.integers(-3, 4, size=3)
    sheet.matrix("A", sympy.Matrix(Av))
    sheet.matrix("B", sympy.Matrix(Bv))
    sheet.matrix("x", sympy.Matrix(xv), caption="A quadratic branch on 3 units, $F$ equal to "
                                                "$B$ times the entrywise square of $A*x$, "
                                                "and the point $x$ where its Jacobian is "
                                                "checked.")
    columns = [(xv + e + Fn(xv + e) - (xv - e) - Fn(xv - e)) // 2
               for e in np.eye(3, dtype=int)]
    sheet.numeric(np.eye(3, dtype=int) + jac(xv), np.array(columns).T,
                  method="central differences of the block with step 1 in each coordinate, "
                         "exact for a quadratic branch (section 6.5)",
                  why="the Jacobian $I + J_F$ of the block at that point")
    t = sympy.Symbol("x", real=True)
    sheet.answer("residual Jacobian (one unit)",
                 sympy.diff(t + sympy.Function("F")(t), t))


# ------------------------------------------------------------------------------ 7.3
def solve_7_3(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.costs import bottleneck_vs_basic, conv_cost, pointwise_cost
    from derive.symbols import sym

    identity = bottleneck_vs_basic(4)
    m, e = sym("m"), sym("e")
    sheet.text("Relation: a bottleneck block (1×1 from $C$ to $m$ channels, 3×3 from $m$ to "
               "$m$, 1×1 from $m$ to $C$, with $C == e*m$) against a basic block (two 3×3 "
               "convolutions at $C$ channels) has $(2*e + 9)/(18*e**2)$ of its parameters "
               "and FLOPs for the expansion $e$, $Rational(17, 288)$ for ResNet's $e == 4$. "
               "Symbols: $m$ the reduced width, $C == e*m$; no biases or batch norm, the same "
               "spatial size.")
    c = e * m
    parts = (pointwise_cost(c, m, 1, bias=False, convention="mac").params,
             conv_cost(m, m, 3, 1, bias=False, convention="mac").params,
             pointwise_cost(m, c, 1, bias=False, convention="mac").params)
    basic = 2 * conv_cost(c, c, 3, 1, bias=False, convention="mac").params
    ratio = (2 * e + 9) / (18 * e**2)
    sheet.derive("bottleneck / basic", [
        (sympy.Mul(sympy.Add(*parts, evaluate=False), sympy.Pow(basic, -1, evaluate=False),
                   evaluate=False),
         "the engine's parameter counts of the three layers of the bottleneck block over "
         "those of the two layers of the basic block, at $C == e*m$"),
        (sympy.Mul(sympy.Mul(2 * e + 9, m**2, evaluate=False),
                   sympy.Pow(sympy.Mul(18 * e**2, m**2, evaluate=False), -1, evaluate=False),
                   evaluate=False), "collect the terms in $m**2$"),
        (ratio, "cancel $m**2$")])
    with sympy.evaluate(False):
        at_four = (2 * sympy.Integer(4) + 9) / (18 * sympy.Integer(4) ** 2)
    sheet.claim(at_four, identity.rhs,
                why="at ResNet's expansion $e == 4$, against the engine's ratio for that block")
    cin, mid = 256, 64

    def entries(*shapes):
        return int(sum(np.zeros(s, dtype=np.int8).size for s in shapes))

    bottleneck = entries((mid, cin, 1, 1), (mid, mid, 3, 3), (cin, mid, 1, 1))
    basic_count = entries((cin, cin, 3, 3), (cin, cin, 3, 3))
    sheet.table(["block at $C == 256$, $m == 64$", "weights"],
                [("bottleneck", bottleneck), ("basic", basic_count)],
                caption="Entries of the weight tensors of both blocks (NumPy arrays).")
    sheet.numeric(identity.rhs, sympy.Rational(bottleneck, basic_count),
                  method="the entries of the weight tensors of both blocks at $C == 256$, "
                         "$m == 64$ (NumPy arrays)",
                  why="the parameter ratio at $e == 4$")
    sheet.answer("parameter ratio", ratio)
    sheet.answer("parameter ratio (e = 4)", identity.rhs)


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
    sheet.text("Relation: for one channel, batch norm takes the mean $mu$ and the variance "
               "$sigma**2$ of the $M == N*H*W$ values $x[k]$ of that channel (batch and "
               "spatial axes), and outputs $gamma*(x[k] - mu)/s + beta$ with "
               "$s == sqrt(sigma**2 + epsilon)$. The output then has mean $beta$ exactly and "
               "variance $gamma**2*sigma**2/(sigma**2 + epsilon)$. Symbols: $M >= 1$ values, "
               "$gamma$ and $beta$ real, $epsilon > 0$, $s > 0$.")
    total = sympy.Sum(x[k], (k, 0, M - 1))
    sheet.derive("sum of the centred values", [
        (sympy.Sum(x[k] - mu, (k, 0, M - 1)), "centre every value"),
        (total - M * mu, "linearity of the sum: $M$ copies of $mu$")], assume=["mu real"])
    with sympy.evaluate(False):
        at_mean = total - M * (total / M)
    sheet.claim(at_mean, 0, why="with $mu$ the mean, $M*mu$ is the sum of the values: the "
                                "centred values sum to zero")
    sheet.derive("mean of the output", [
        (sympy.Sum(gamma * (x[k] - mu) / s + beta, (k, 0, M - 1)) / M, "definition"),
        (gamma / (M * s) * (total - M * mu) + beta, "linearity of the sum")],
        assume=["mu real", "gamma real", "beta real", "s > 0"])
    with sympy.evaluate(False):
        at_mean = gamma / (M * s) * (total - M * (total / M)) + beta
    sheet.claim(at_mean, beta, assume=["gamma real", "beta real", "s > 0"],
                why="at the batch mean the centred sum vanishes, leaving $beta$")
    C, H, W = syms("C H W")
    cost = batch_norm_cost(C, (H, W), convention="mac")
    per_channel = sympy.Add(C, C, evaluate=False)
    sheet.claim(sympy.ImmutableMatrix([[per_channel, per_channel]]),
                sympy.Matrix([[cost.params, cost.buffers]]).as_immutable(),
                why="learned: one $gamma$ and one $beta$ per channel; buffers: one running mean "
                    "and one running variance per channel; against the engine's count")
    rng = np.random.default_rng(SEED)
    z = 3.0 + 2.0 * rng.standard_normal((8, 3, 5, 5))
    g, bt = rng.standard_normal(3), rng.standard_normal(3)
    out = _batch_norm(z, g, bt)
    var = z.var(axis=(0, 2, 3))
    sheet.text("Cross-checks on a batch of 8 maps of 5×5 with 3 channels, 3 plus twice standard "
               "normal values, with standard-normal $gamma$ and $beta$ (NumPy's default "
               f"generator, seed {SEED}, in that order), and $epsilon$ = $10**(-5)$; then on a "
               "batch of 2 maps of 3×3 with 2 channels drawn next in the same way.")
    sheet.numeric(out.mean(axis=(0, 2, 3)), bt, tol=1e-12,
                  method="$beta$ of each channel",
                  why="the per-channel mean of the batch-normalised data (NumPy)")
    sheet.numeric(out.var(axis=(0, 2, 3)), g**2 * var / (var + EPS), tol=1e-12,
                  method="$gamma**2*sigma**2/(sigma**2 + epsilon)$ from the input's variance",
                  why="the per-channel variance of the batch-normalised data (NumPy)")
    # the defining relations, evaluated entry by entry on a small batch
    sigma2 = sympy.Symbol("sigma^2", nonnegative=True)
    eps = sympy.Symbol("epsilon", positive=True)
    y = sympy.IndexedBase("y")
    mean_rel = sympy.Eq(mu, total / M, evaluate=False)
    var_rel = sympy.Eq(sigma2, sympy.Sum((x[k] - mu) ** 2, (k, 0, M - 1)) / M,
                       evaluate=False)
    bn_map = sympy.Eq(y[k], gamma * (x[k] - mu) / sympy.sqrt(sigma2 + eps) + beta,
                      evaluate=False)
    small = 3.0 + 2.0 * rng.standard_normal((2, 2, 3, 3))
    gs, bs = rng.standard_normal(2), rng.standard_normal(2)
    by_relation = np.empty_like(small)
    for ch in range(small.shape[1]):
        values = small[:, ch].ravel()
        entries = {x[t]: sympy.Float(float(v), 30) for t, v in enumerate(values)}
        at = {M: values.size}
        mu_c = mean_rel.rhs.xreplace(at).doit().xreplace(entries)
        var_c = var_rel.rhs.xreplace(at).xreplace({mu: mu_c}).doit().xreplace(entries)
        fixed = {mu: mu_c, sigma2: var_c, eps: sympy.Float(EPS, 30),
                 gamma: sympy.Float(float(gs[ch]), 30), beta: sympy.Float(float(bs[ch]), 30)}
        out_c = [float(bn_map.rhs.xreplace({k: t}).xreplace(entries).xreplace(fixed))
                 for t in range(values.size)]
        by_relation[:, ch] = np.array(out_c).reshape(small[:, ch].shape)
    sheet.numeric(by_relation.ravel(), _batch_norm(small, gs, bs).ravel(), tol=1e-12,
                  method="NumPy's batch norm over the batch and spatial axes",
                  why="the three relations below (mean, variance, then the map) evaluated "
                      "entry by entry on the small batch")
    sheet.answer("batch-norm map", bn_map)
    sheet.answer("batch mean", mean_rel)
    sheet.answer("batch variance", var_rel)
    sheet.answer("output mean", beta)


# ------------------------------------------------------------------------------ 7.5
def solve_7_5(sheet: Sheet) -> None:
    import itertools
    from fractions import Fraction

    import numpy as np
    import sympy

    from derive.numeric import conv2d

    p, x = sympy.Symbol("p", real=True), sympy.Symbol("x", real=True)
    E, Var = sympy.Function("E"), sympy.Function("Var")
    y = sympy.Symbol("y")
    sheet.text("Relation (inverted dropout): during training each activation is kept with "
               "probability $1 - p$ and scaled by $(1 - p)**(-1)$: $y == m*x/(1 - p)$ with a "
               "random mask $m$ equal to 1 with probability $1 - p$ and to 0 otherwise, so "
               "the expected output is $x$ and nothing needs rescaling at test time; the "
               "noise has variance $x**2*p/(1 - p)$. Symbols: $0 <= p < 1$ the drop "
               "probability, $x$ real.")
    assume = ["p real", "p >= 0", "p < 1", "x real"]
    with sympy.evaluate(False):
        mean = (1 - p) * (x / (1 - p)) + p * 0
    mean_value = sympy.simplify(mean)
    sheet.derive(E(y), [
        (mean, "$m == 1$ with probability $1 - p$, $m == 0$ with probability $p$"),
        (mean_value, "simplify")], assume=assume)
    sheet.derive(Var(y), [
        ((1 - p) * (x / (1 - p)) ** 2 + p * 0 - x**2,
         "the expected square minus the square of the expected value"),
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
    sheet.numeric([sympy.Rational(v.numerator, v.denominator) for v in expected],
                  [sympy.Integer(int(a)) for a in acts],
                  method="the activations themselves",
                  why="the expected outputs, by exact enumeration of all 8 dropout masks of 3 "
                      "units with activations 2, $-1$, 5 and $p == Rational(1, 4)$ (fractions)")
    rng = np.random.default_rng(SEED)
    img = rng.integers(-3, 4, size=(1, 1, 6, 6)).astype(float)
    w = rng.integers(-3, 4, size=(1, 1, 3, 3)).astype(float)
    flipped = conv2d(img[..., ::-1].copy(), w[..., ::-1].copy())
    sheet.numeric(_ints(flipped).ravel(), _ints(conv2d(img, w)[..., ::-1]).ravel(),
                  method="the feature map of the original image, flipped (NumPy)",
                  why="augmentation by a horizontal flip: the flipped image convolved with the "
                      "flipped kernel (a 6×6 image and a 3×3 kernel of random integers from "
                      f"$-3$ to $3$, NumPy's default generator, seed {SEED})")
    sheet.answer("inverted dropout", sympy.Eq(E(y), mean_value))


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
        Part("7.3", "Bottleneck block: narrow the channels with a 1×1 layer, filter, "
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
