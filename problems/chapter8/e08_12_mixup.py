"""Exercise 8.12: Mixup (the 50-epoch training comparison is out of scope).

(a) A mixup function in NumPy, with its defining properties checked: every mixed image is a
convex combination of two images, the batch sum is preserved exactly, and the mixing weight
lambda ~ Beta(alpha, alpha) has mean 1/2 (derived with the Beta and Gamma function identities,
every step checked) and variance 1/(4(2 alpha + 1)); a seeded Monte Carlo sample cross-checks
both.  (b) The Mixup loss is proved equal to the cross-entropy against the mixed (soft) label
(a sum over the classes with Kronecker deltas) and evaluated in NumPy.  (c) needs training
runs.
"""

from derive.book import Part, Problem, Sheet

ALPHA = "0.2"      # the exercise's Beta parameter (a decimal, read exactly)
BATCH = (4, 3, 2, 2)


def _alpha():
    import sympy
    return sympy.Rational(ALPHA)


def mixup_batch(x, y, lam, rng):
    """Mix a batch with a random permutation of itself: returns (mixed x, y_a, y_b, lam)."""
    order = rng.permutation(len(x))
    return lam * x + (1 - lam) * x[order], y, y[order], lam


def solve_a(sheet: Sheet) -> None:
    from fractions import Fraction

    import numpy as np
    import sympy

    sheet.text("Mixup draws one weight $lamda$ per batch from the Beta distribution with both "
               "parameters equal to $alpha$, pairs every example $x[i]$ with a partner $x[j]$ "
               "from the same batch ($j$ given by a random permutation of the batch), and "
               "returns $lamda*x[i] + (1 - lamda)*x[j]$ together with both labels and "
               "$lamda$. In NumPy: draw the permutation, mix the batch with the permuted "
               "batch in one vectorised line, and return the mixed batch, the labels, the "
               "permuted labels and the weight.")
    a = sympy.Symbol("a", positive=True)
    weight = sympy.Symbol("lambda")
    sheet.text("Mean of the mixing weight when both parameters are $a$: the first moment of "
               "the Beta distribution is a ratio of Beta functions, and the Beta function is "
               "a ratio of Gamma functions:")
    sheet.derive(sympy.Function("E")(weight), [
        (sympy.beta(a + 1, a) / sympy.beta(a, a), "first moment of the Beta distribution"),
        (sympy.gamma(a + 1) * sympy.gamma(a) / sympy.gamma(2 * a + 1)
         * sympy.gamma(2 * a) / sympy.gamma(a) ** 2, "Beta functions through Gamma functions"),
        (sympy.Mul(a, sympy.Pow(2 * a, -1, evaluate=False), evaluate=False),
         "the Gamma function at $z + 1$ is $z$ times its value at $z$; used twice"),
        (sympy.Rational(1, 2), "cancel")], assume=["a > 0"])
    variance = (sympy.beta(a + 2, a) / sympy.beta(a, a) - sympy.Rational(1, 4))
    sheet.derive(sympy.Function("Var")(weight), [
        (variance, "second moment (a ratio of Beta functions) minus the squared mean"),
        (sympy.gamma(a + 2) * sympy.gamma(a) / sympy.gamma(2 * a + 2)
         * sympy.gamma(2 * a) / sympy.gamma(a) ** 2 - sympy.Rational(1, 4),
         "Beta functions through Gamma functions"),
        ((a + 1) * a / ((2 * a + 1) * 2 * a) - sympy.Rational(1, 4),
         "the same recurrence, twice in each ratio"),
        (1 / (4 * (2 * a + 1)), "common denominator")], assume=["a > 0"])
    alpha = _alpha()
    var_at = (1 / (4 * (2 * a + 1))).subs(a, alpha)
    rng = np.random.default_rng(12)
    draws = rng.beta(float(alpha), float(alpha), size=200_000)
    sheet.numeric([0.5, float(var_at)], [float(draws.mean()), float(draws.var())], tol=5e-3,
                  why=f"mean and variance of $lamda$ at $alpha$ = {ALPHA}",
                  method=f"Monte Carlo: 200,000 draws from the Beta distribution with both "
                         f"parameters {ALPHA} (NumPy's generator, seed 12), sample mean and "
                         "variance; tolerance about five standard errors of the mean")
    extreme = float(np.mean((draws < 0.1) | (draws > 0.9)))
    sheet.text(f"At $alpha$ = {ALPHA} the variance is ${var_at}$ (the largest possible for a "
               f"weight between 0 and 1 is a quarter): most batches are only lightly mixed; "
               f"in the sample {extreme:.0%} of the weights lie below 0.1 or above 0.9.")

    x = rng.integers(-9, 10, BATCH).astype(object)
    y = np.arange(BATCH[0])
    lam = Fraction(3, 10)                      # an exact weight, to check the algebra exactly
    mixed, y_a, y_b, lam = mixup_batch(x * Fraction(1), y, lam, rng)
    shape = "×".join(map(str, BATCH))
    sheet.text(f"The function on an integer batch of shape {shape} (entries from -9 to 9, "
               "drawn from the same generator after the sample above; labels 0 to 3) with the "
               "exact weight $lamda == 3/10$, in exact rational arithmetic:")
    sheet.numeric(sympy.Matrix(mixed.sum(axis=0).reshape(BATCH[1], -1).tolist()),
                  sympy.Matrix(x.sum(axis=0).reshape(BATCH[1], -1).tolist()),
                  why="the batch summed over its examples (channels by pixels)",
                  method="the same sum of the original batch (the partners are a permutation, "
                         "so the sum is preserved)")
    lo = np.minimum(x, x[np.array(y_b)])
    hi = np.maximum(x, x[np.array(y_b)])
    between = int(np.count_nonzero((lo <= mixed) & (mixed <= hi)))
    sheet.numeric(between, int(mixed.size),
                  why=f"mixed entries (of {mixed.size}) between the two images' entries",
                  method="the number of entries: a convex combination lies between its two "
                         "ends, entry by entry")
    sheet.answer("mean of the mixing weight", sympy.Rational(1, 2))
    sheet.answer("variance of the mixing weight", 1 / (4 * (2 * a + 1)))


def solve_b(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    lam = sympy.Symbol("lambda")
    C = sympy.Symbol("C", integer=True, positive=True)
    y_a, y_b, j = sympy.symbols("y_a y_b j", integer=True, nonnegative=True)
    q = sympy.IndexedBase("q")
    sheet.text("With predicted probabilities $p$ over $C$ classes (the softmax of the logits) "
               "and their logarithms $q[j] == log(p[j])$, the cross-entropy against a label "
               "$y$ is $-q[y]$. The Mixup loss is the cross-entropy against the soft label that "
               "puts weight $lamda$ on class $y_a$ and $1 - lamda$ on class $y_b$, because "
               "cross-entropy is linear in the target:")
    with sympy.evaluate(False):
        two_terms = sympy.Add(sympy.Mul(lam, -q[y_a]), sympy.Mul(1 - lam, -q[y_b]))
    soft = -sympy.Sum((lam * sympy.KroneckerDelta(j, y_a)
                       + (1 - lam) * sympy.KroneckerDelta(j, y_b)) * q[j], (j, 0, C - 1))
    sheet.claim(two_terms, soft,
                why="the two-term loss against the cross-entropy with the soft target, summed "
                    "over the classes $j$",
                assume=["y_a <= C - 1", "y_b <= C - 1", "lambda real", "q real"])
    rng = np.random.default_rng(21)
    logits = rng.standard_normal((5, 10))
    y_a, y_b = rng.integers(0, 10, 5), rng.integers(0, 10, 5)
    weight = 0.3
    log_p = logits - logits.max(axis=1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    rows = np.arange(5)
    mixup_loss = np.mean(weight * -log_p[rows, y_a] + (1 - weight) * -log_p[rows, y_b])
    target = np.zeros((5, 10))
    target[rows, y_a] += weight
    target[rows, y_b] += 1 - weight
    soft_loss = np.mean(-(target * log_p).sum(axis=1))
    sheet.text("On a batch of 5 rows of standard normal logits over 10 classes, with random "
               "labels $y_a$ and $y_b$ (NumPy's generator with seed 21: logits, then $y_a$, "
               "then $y_b$) and $lamda$ = 0.3:")
    sheet.numeric(float(mixup_loss), float(soft_loss), tol=1e-12, why="Mixup loss of the batch",
                  method="cross-entropy with the soft labels (NumPy)")
    sheet.text("In the training loop: draw $lamda$ and the permutation for each batch, feed "
               "the mixed images, and replace the loss by the two-term weighted cross-entropy "
               "(or, equivalently, by cross-entropy with soft labels).")
    sheet.answer("Mixup loss", soft)


PROBLEM = Problem(
    id="8.12", set="chapter8", order=12, title="Mixup",
    source="Chapter 8, exercise 8.12",
    statement="Add Mixup augmentation to the CIFAR-10 training of exercise 8.10.",
    parts=(
        Part("a", "Write a function that mixes a batch of images and labels and returns the "
                  "mixed images, both label sets and the mixing weight $lamda$.", solve_a),
        Part("b", "Use the Mixup loss ($lamda$ times the cross-entropy against $y_a$ plus "
                  "$1 - lamda$ times the cross-entropy against $y_b$) in the training loop.",
             solve_b),
        Part("c", "Train with Mixup ($alpha$ = 0.2) for 50 epochs and compare the validation "
                  "accuracy with the augmentation baseline of exercise 8.10.",
             scope="out-of-scope",
             reason="needs CIFAR-10 and two 50-epoch training runs; the book trains nothing"),
    ),
)
