"""Exercise 8.12: Mixup (the 50-epoch training comparison is out of scope).

(a) A mixup function in NumPy, with its defining properties checked: every mixed image is a
convex combination of two images, the batch sum is preserved exactly, and the mixing weight
lambda ~ Beta(alpha, alpha) has mean 1/2 (derived with the Beta and Gamma function identities,
every step checked) and variance 1/(4(2 alpha + 1)); a seeded Monte Carlo sample cross-checks
both.  (b) The Mixup loss is proved equal to the cross-entropy against the mixed (soft) label
and evaluated in NumPy.  (c) needs training runs.
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

    sheet.text("Mixup draws one weight lambda ~ Beta(alpha, alpha) per batch, pairs every "
               "example with a random partner from the same batch (a permutation), and "
               "returns lambda x_i + (1 - lambda) x_partner together with both labels and "
               "lambda. In NumPy: order = rng.permutation(B); mixed = lam * x + (1 - lam) * "
               "x[order]; return mixed, y, y[order], lam.")
    a = sympy.Symbol("a", positive=True)
    sheet.text("Mean of the mixing weight: E[lambda] = B(a + 1, a)/B(a, a) for lambda ~ "
               "Beta(a, a); with B(p, q) = Gamma(p) Gamma(q)/Gamma(p + q):")
    sheet.derive("E[lambda]", [
        (sympy.beta(a + 1, a) / sympy.beta(a, a), "first moment of Beta(a, a)"),
        (sympy.gamma(a + 1) * sympy.gamma(a) / sympy.gamma(2 * a + 1)
         * sympy.gamma(2 * a) / sympy.gamma(a) ** 2, "Beta through Gamma functions"),
        (sympy.Mul(a, sympy.Pow(2 * a, -1, evaluate=False), evaluate=False),
         "Gamma(z + 1) = z Gamma(z), twice"),
        (sympy.Rational(1, 2), "cancel")], assume=["a > 0"])
    variance = (sympy.beta(a + 2, a) / sympy.beta(a, a) - sympy.Rational(1, 4))
    sheet.derive("Var[lambda]", [
        (variance, "second moment B(a + 2, a)/B(a, a) minus the squared mean"),
        (sympy.gamma(a + 2) * sympy.gamma(a) / sympy.gamma(2 * a + 2)
         * sympy.gamma(2 * a) / sympy.gamma(a) ** 2 - sympy.Rational(1, 4),
         "Beta through Gamma functions"),
        ((a + 1) * a / ((2 * a + 1) * 2 * a) - sympy.Rational(1, 4),
         "Gamma(z + 1) = z Gamma(z), twice in each ratio"),
        (1 / (4 * (2 * a + 1)), "common denominator")], assume=["a > 0"])
    alpha = _alpha()
    var_at = (1 / (4 * (2 * a + 1))).subs(a, alpha)
    rng = np.random.default_rng(12)
    draws = rng.beta(float(alpha), float(alpha), size=200_000)
    sheet.numeric([0.5, float(var_at)], [float(draws.mean()), float(draws.var())], tol=5e-3,
                  method=f"Monte Carlo: 200,000 draws of Beta({ALPHA}, {ALPHA}) (NumPy, "
                         "seed 12), sample mean and variance; tolerance about five standard "
                         "errors of the mean")
    extreme = float(np.mean((draws < 0.1) | (draws > 0.9)))
    sheet.text(f"At alpha = {ALPHA} the variance is {var_at} (the maximum possible for a "
               f"weight in [0, 1] is 1/4): most batches are only lightly mixed; in the sample "
               f"{extreme:.0%} of the weights lie below 0.1 or above 0.9.")

    x = rng.integers(-9, 10, BATCH).astype(object)
    y = np.arange(BATCH[0])
    lam = Fraction(3, 10)                      # an exact weight, to check the algebra exactly
    mixed, y_a, y_b, lam = mixup_batch(x * Fraction(1), y, lam, rng)
    sheet.numeric(sympy.Matrix(mixed.sum(axis=0).reshape(BATCH[1], -1).tolist()),
                  sympy.Matrix(x.sum(axis=0).reshape(BATCH[1], -1).tolist()),
                  method="exact rational arithmetic on an integer batch of shape "
                         f"{BATCH}, lambda = 3/10: the mixed batch has the same sum as the "
                         "original (the partners are a permutation)")
    inside = all(min(x[i].min(), x[j].min()) <= mixed[i].min()
                 and mixed[i].max() <= max(x[i].max(), x[j].max())
                 for i, j in zip(y_a, y_b))
    sheet.numeric(int(inside), 1, method="every mixed value lies between the two images' "
                                         "extremes (convex combination), checked entry-wise")
    sheet.answer("mixup", "(lambda x + (1 - lambda) x[perm], y, y[perm], lambda), "
                          "lambda ~ Beta(alpha, alpha), E[lambda] = 1/2")


def solve_b(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    lam = sympy.Symbol("lambda")
    p_a, p_b = sympy.symbols("p_a p_b", positive=True)
    sheet.text("With the predicted probabilities p = softmax(logits), CE(p, y) = -log p_y. "
               "The Mixup loss is the same cross-entropy taken against the soft label "
               "lambda e_{y_a} + (1 - lambda) e_{y_b}, because cross-entropy is linear in the "
               "target:")
    sheet.claim(lam * (-sympy.log(p_a)) + (1 - lam) * (-sympy.log(p_b)),
                -(lam * sympy.log(p_a) + (1 - lam) * sympy.log(p_b)),
                why="lambda CE(p, y_a) + (1 - lambda) CE(p, y_b) = -sum_j t_j log p_j with the "
                    "mixed target t", assume=["lambda real", "p_a > 0", "p_b > 0"])
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
    sheet.numeric(float(mixup_loss), float(soft_loss), tol=1e-12,
                  method="NumPy, 5 random logit rows over 10 classes (seed 21), lambda = 0.3: "
                         "the two-term loss against cross-entropy with the soft labels")
    sheet.text("In the training loop: draw lambda and the permutation for each batch, feed the "
               "mixed images, and replace the loss by the two-term weighted cross-entropy (or, "
               "equivalently, by cross-entropy with soft labels).")
    sheet.answer("loss", "lambda CE(y_hat, y_a) + (1 - lambda) CE(y_hat, y_b) = CE(y_hat, "
                         "lambda e_a + (1 - lambda) e_b)")


PROBLEM = Problem(
    id="8.12", set="chapter8", order=12, title="Mixup",
    source="Chapter 8, exercise 8.12",
    statement="Add Mixup augmentation to the CIFAR-10 training of exercise 8.10.",
    parts=(
        Part("a", "Write a function that mixes a batch of images and labels and returns the "
                  "mixed images, both label sets and the mixing weight lambda.", solve_a),
        Part("b", "Use the Mixup loss lambda CE(y_hat, y_a) + (1 - lambda) CE(y_hat, y_b) in "
                  "the training loop.", solve_b),
        Part("c", "Train with Mixup (alpha = 0.2) for 50 epochs and compare the validation "
                  "accuracy with the augmentation baseline of exercise 8.10.",
             scope="out-of-scope",
             reason="needs CIFAR-10 and two 50-epoch training runs; the book trains nothing"),
    ),
)
