"""Exercise 8.12: Mixup.

(a) The implementation is the listing :mod:`derive.lab.listings.mixup`, printed whole
(``tests/test_lab_digits.py`` checks its mixer and compares its loss with PyTorch's
cross-entropy).  The page derives the mean 1/2 and the variance 1/(4(2 alpha + 1)) of the
mixing weight lambda ~ Beta(alpha, alpha) with the Beta and Gamma function identities (every
step checked), cross-checks both with a seeded NumPy Monte Carlo sample, and, where PyTorch
is installed, checks the listing's mixer on an integer batch (batch sum preserved, every
entry between its two ends, partners a permutation; the page reads the same either way).
(b) The Mixup loss is proved equal to the cross-entropy against the mixed (soft) label (a sum
over the classes with Kronecker deltas), evaluated in NumPy and compared with the listing's
loss where PyTorch is installed.  (c) is measured: the stored results of the ``mixup``
experiment (:mod:`derive.lab.experiments.mixup`: the augmentation baseline of exercise 8.10
against the same training with mixup added, four seeds, scikit-learn's digits), rendered
without training.  Every sentence that compares the two runs is chosen from the stored
numbers.
"""

from derive.book import CODE, EXPERIMENT, Part, Problem, Sheet

ALPHA = "0.2"      # the exercise's Beta parameter (a decimal, read exactly)
BATCH = (4, 3, 2, 2)
DRAWS, MC_SEED = 200_000, 12
NAME = "mixup"
ARMS = (("baseline", "augmentation only"), ("mixup", "augmentation + mixup"))


def _alpha():
    import sympy
    return sympy.Rational(ALPHA)


def _beta_sample():
    """The seeded Monte Carlo sample of the mixing weight, and the generator after it."""
    import numpy as np
    rng = np.random.default_rng(MC_SEED)
    alpha = float(_alpha())
    return rng.beta(alpha, alpha, size=DRAWS), rng


def _extreme_share(draws) -> float:
    """Share of the sampled weights below 0.1 or above 0.9 (a barely mixed batch)."""
    import numpy as np
    return float(np.mean((draws < 0.1) | (draws > 0.9)))


def _listing_mix(torch, x, y):
    """The listing's mixer on the NumPy batch ``x`` (float64) with labels ``y``."""
    from derive.lab.listings.mixup import mixup_data
    mixed, _, y_b, lam = mixup_data(torch.tensor(x, dtype=torch.float64), torch.tensor(y),
                                    alpha=float(_alpha()),
                                    generator=torch.Generator().manual_seed(MC_SEED))
    return mixed.numpy(), y_b.numpy(), lam


def _between(torch, x, y) -> int:
    """Entries of the listing's mixed batch that lie between the two images' entries (the
    labels 0..3 name the partners)."""
    import numpy as np
    mixed, partner, _ = _listing_mix(torch, x, y)
    lo, hi = np.minimum(x, x[partner]), np.maximum(x, x[partner])
    return int(np.count_nonzero((lo - 1e-12 <= mixed) & (mixed <= hi + 1e-12)))


def solve_a(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    sheet.listing("mixup", "Mixup: the batch mixer and the loss that goes with it (PyTorch).",
                  tests="tests/test_lab_digits.py")
    sheet.text("The listing draws one weight $lamda$ per batch from the Beta "
               "distribution with both parameters equal to $alpha$. Its batch mixer "
               "pairs every example $x[i]$ with a partner $x[j]$ from the same batch ($j$ "
               "given by a random permutation of the batch, so no second batch has to be "
               "loaded), mixes the whole batch in one line, $lamda*x[i] + (1 - lamda)*x[j]$, "
               "and returns the mixed batch, the labels, the partners' labels and $lamda$. "
               "Its loss function is the loss of part (b). The sampler and the mixer take an "
               "optional generator, so a seeded run mixes the same way every time.")
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
    var_at = (1 / (4 * (2 * a + 1))).subs(a, _alpha())
    draws, rng = _beta_sample()
    sheet.numeric([0.5, float(var_at)], [float(draws.mean()), float(draws.var())], tol=5e-3,
                  why=f"mean and variance of $lamda$ at $alpha$ = {ALPHA}",
                  method=f"Monte Carlo: {DRAWS:,} draws from the Beta distribution with both "
                         f"parameters {ALPHA} (NumPy's generator, seed {MC_SEED}), sample mean "
                         "and variance; tolerance about five standard errors of the mean")
    sheet.text(f"At $alpha$ = {ALPHA} the variance is ${var_at}$ (the largest possible for a "
               f"weight between 0 and 1 is a quarter): most batches are only lightly mixed; "
               f"in the sample {_extreme_share(draws):.0%} of the weights lie below 0.1 or "
               "above 0.9.")

    x = rng.integers(-9, 10, BATCH).astype(np.float64)
    y = np.arange(BATCH[0])
    shape = "×".join(map(str, BATCH))
    sheet.text(f"The listing's mixer on an integer batch of shape {shape} (entries from -9 to "
               f"9, drawn from the same NumPy generator after the sample above; labels 0 to "
               f"{BATCH[0] - 1}, so that the partners' labels name the partners), with "
               f"$alpha$ = {ALPHA} and a PyTorch generator seeded {MC_SEED}:")
    sheet.numeric_if_installed(
        "torch", x.sum(axis=0).reshape(BATCH[1], -1),
        lambda torch: _listing_mix(torch, x, y)[0].sum(axis=0).reshape(BATCH[1], -1),
        tol=1e-9, why="the batch summed over its examples (channels by pixels)",
        method="the listing's mixed batch summed the same way (the partners are a "
               "permutation of the batch, so the sum is preserved)")
    sheet.numeric_if_installed(
        "torch", int(x.size), lambda torch: _between(torch, x, y),
        why="entries of the batch (each mixed entry must lie between its two ends)",
        method="the listing's mixed entries lying between the two images' entries, counted")
    sheet.numeric_if_installed(
        "torch", list(range(BATCH[0])),
        lambda torch: sorted(int(v) for v in _listing_mix(torch, x, y)[1]),
        why="the labels of the batch", method="the listing's partner labels, sorted (a "
                                              "permutation of the batch)")
    sheet.answer("mean of the mixing weight", sympy.Rational(1, 2))
    sheet.answer("variance of the mixing weight", 1 / (4 * (2 * a + 1)))


def _listing_loss(torch, logits, y_a, y_b, weight: float) -> float:
    from derive.lab.listings.mixup import mixup_loss
    return float(mixup_loss(torch.tensor(logits), torch.tensor(y_a), torch.tensor(y_b),
                            weight))


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
    sheet.numeric_if_installed(
        "torch", float(soft_loss), lambda torch: _listing_loss(torch, logits, y_a, y_b, weight),
        tol=1e-12, why="cross-entropy with the soft labels (NumPy)",
        method="the listing's loss function on the same logits and labels")
    sheet.text("In the training loop: draw $lamda$ and the permutation for each batch, feed "
               "the mixed images, and replace the loss by the two-term weighted cross-entropy "
               "(or, equivalently, by cross-entropy with soft labels). The runs of part (c) "
               "do exactly this with the listing's two functions, after the shift and jitter "
               "augmentation of each batch.")
    sheet.answer("Mixup loss", soft)


# --------------------------------------------------------------------------- (c) measured
def _mean(values) -> float:
    return sum(values) / len(values)


def _compare(diff: float, up: str, down: str, same: str = "the same") -> str:
    return up if diff > 0 else down if diff < 0 else same


def _plot(results: dict, key: str, ylabel: str, caption: str):
    from derive.lab.plots import line_plot
    return line_plot(f"mixup-{key.replace('_', '-')}",
                     [(words, list(range(1, results["epochs"] + 1)),
                       results["runs"][arm]["curves"][key]) for arm, words in ARMS],
                     xlabel="epoch", ylabel=ylabel, caption=caption)


def solve_c(sheet: Sheet) -> None:
    import statistics

    from derive.lab.runner import load

    record = sheet.measured(NAME, "Validation accuracy and loss after every epoch of the "
                                  "SimpleCNN of exercise 8.10 trained with that exercise's "
                                  "augmentation alone (the baseline) and with mixup added "
                                  "($alpha$ = 0.2); both runs of a seed share the data, the "
                                  "initialisation, the batch order and the augmentation.")
    r, cfg = record["results"], record["config"]
    runs, seeds, n = r["runs"], r["seeds"], len(r["seeds"])
    base, mix = runs["baseline"]["final"], runs["mixup"]["final"]
    sheet.text(f"Scaled down: the exercise trains on CIFAR-10; these runs train on "
               f"{cfg['train_per_class']} small grey images of handwritten digits per class "
               f"for {r['epochs']} epochs, with $alpha$ = {r['alpha']} as posed, and repeat "
               f"everything for {n} seeds. They can show whether mixup helps a small CNN on "
               f"a very small training set; they cannot show what it does on CIFAR-10's "
               f"colour images with the full training set, and with {n} seeds they only "
               f"detect differences larger than the seed-to-seed variation.")
    sheet.figure(_plot(r, "val_acc", "validation accuracy",
                       f"Validation accuracy per epoch, mean of {n} seeds (stored results of "
                       f"the mixup experiment)."))
    sheet.figure(_plot(r, "val_loss", "validation loss (cross-entropy)",
                       f"Validation loss per epoch, mean of {n} seeds (stored results of the "
                       f"mixup experiment)."))
    diffs = [m - b for m, b in zip(mix["val_acc"], base["val_acc"])]
    rows = [(seed, f"{b:.3f}", f"{m:.3f}", f"{m - b:+.3f}", f"{bl:.3f}", f"{ml:.3f}")
            for seed, b, m, bl, ml in zip(seeds, base["val_acc"], mix["val_acc"],
                                          base["val_loss"], mix["val_loss"])]
    means = {arm: {k: _mean(runs[arm]["final"][k]) for k in ("val_acc", "val_loss")}
             for arm, _ in ARMS}
    change = means["mixup"]["val_acc"] - means["baseline"]["val_acc"]
    loss_change = means["mixup"]["val_loss"] - means["baseline"]["val_loss"]
    rows.append(("mean", f"{means['baseline']['val_acc']:.3f}",
                 f"{means['mixup']['val_acc']:.3f}", f"{change:+.3f}",
                 f"{means['baseline']['val_loss']:.3f}", f"{means['mixup']['val_loss']:.3f}"))
    sheet.table(["seed", "accuracy, baseline", "accuracy, mixup", "change",
                 "loss, baseline", "loss, mixup"], rows,
                caption=f"Validation accuracy and loss after the last epoch ({r['epochs']}), "
                        f"per seed and averaged.")
    curves = {arm: runs[arm]["curves"]["val_acc"] for arm, _ in ARMS}
    last10 = _mean(curves["mixup"][-10:]) - _mean(curves["baseline"][-10:])
    sheet.numeric([runs[arm]["mean"][k] for arm, _ in ARMS for k in ("val_acc", "val_loss")]
                  + [r["effect"]["val_acc_change"], r["effect"]["val_loss_change"],
                     r["effect"]["last10_val_acc_change"]],
                  [means[arm][k] for arm, _ in ARMS for k in ("val_acc", "val_loss")]
                  + [change, loss_change, last10], tol=1e-5,
                  why="final validation accuracy and loss of baseline and mixup, the change "
                      "of each, and the change of the accuracy averaged over the last 10 "
                      "epochs (stored by the experiment)",
                  method="recomputed here from the per-seed values of the table and from the "
                         "mean curves")
    higher = sum(d > 0 for d in diffs)
    lower = sum(d < 0 for d in diffs)
    sheet.numeric(r["effect"]["better_seeds"], higher,
                  why="seeds in which mixup ended with the higher validation accuracy "
                      "(stored by the experiment)",
                  method="the positive changes of the table, counted")
    augmentation = load("augmentation")["results"]["runs"]["augmented"]["final"]["val_acc"]
    # the experiments' re-run tolerance for accuracies (another thread count moves them)
    sheet.numeric(base["val_acc"], augmentation, tol=0.02,
                  why="final validation accuracy of the baseline, seed by seed",
                  method="the augmented runs of exercise 8.10's experiment (the same "
                         "configuration and seeds, trained separately)")
    spread = statistics.stdev(diffs)
    loss_worse = sum(m > b for m, b in zip(mix["val_loss"], base["val_loss"]))
    sheet.text(
        f"Mean final validation accuracy: {means['baseline']['val_acc']:.3f} without and "
        f"{means['mixup']['val_acc']:.3f} with mixup, "
        f"{_compare(change, 'higher', 'lower')} by {abs(change):.3f} with mixup. Seed by "
        f"seed, mixup ended higher in {higher}, lower in {lower} and level in "
        f"{n - higher - lower} of the {n} seeds; the changes range from {min(diffs):+.3f} to "
        f"{max(diffs):+.3f} (standard deviation {spread:.3f}). Over the last 10 epochs the "
        f"mean accuracy curve with mixup lies {_compare(last10, 'above', 'below', 'level with')}"
        f" the baseline's by {abs(last10):.3f} on average. The validation loss is "
        f"{_compare(loss_change, 'higher', 'lower')} with mixup ({means['mixup']['val_loss']:.3f}"
        f" against {means['baseline']['val_loss']:.3f}) and higher in {loss_worse} of the {n} "
        f"seeds.")
    within = abs(change) < spread
    helped = change > 0 and 2 * higher > n and not within
    noise = (f"a change within the seed-to-seed spread (the per-seed changes have a standard "
             f"deviation of {spread:.3f})" if within else
             f"a change larger than the seed-to-seed spread (standard deviation {spread:.3f})")
    if helped:
        verdict = (f"On this small set mixup helped: the mean final accuracy rose by "
                   f"{change:.3f}, {noise}, and {higher} of the {n} seeds ended higher.")
    elif change <= 0:
        verdict = (f"On this small set mixup did not help: the mean final accuracy "
                   f"{'fell by ' + format(-change, '.3f') if change < 0 else 'stayed level'}, "
                   f"{noise}, and {'only ' if 2 * higher <= n else ''}{higher} of the {n} "
                   f"seeds ended higher.")
    else:
        verdict = (f"On this small set mixup did not measurably help: the mean final accuracy "
                   f"rose by {change:.3f}, {noise}, and {higher} of the {n} seeds ended "
                   f"higher.")
    train = {arm: runs[arm]["mean"]["train_acc"] for arm, _ in ARMS}
    draws, _ = _beta_sample()
    if helped:
        reasons = ("Mixup regularises: training on mixed images and soft targets discourages "
                   "the network from fitting the few training images exactly.")
    else:
        reasons = (f"Reasons that make this plausible (not tested here): at $alpha$ = "
                   f"{r['alpha']} most batches are barely mixed ({_extreme_share(draws):.0%} "
                   f"of the weights in part (a)'s sample lie below 0.1 or above 0.9), so mixup "
                   f"changes little; the baseline already augments every batch with shifts "
                   f"and jitter; and mixup regularises, which pays off mainly when a larger "
                   f"network trains long on a large data set.")
        if train["mixup"] < train["baseline"]:
            reasons += (f" Here the mixed targets also made the training images harder to "
                        f"fit: final training accuracy {train['mixup']:.3f} with mixup "
                        f"against {train['baseline']:.3f} without.")
        if loss_change > 0:
            reasons += (" Soft targets make the predictions less confident, consistent with "
                        "the higher validation loss.")
    sheet.explain(f"{verdict} {reasons}",
                  rests_on=["the per-seed final accuracies and losses in the table",
                            "the share of barely mixed batches in part (a)"])
    sheet.answer("change of the mean final validation accuracy with mixup",
                 f"{change:+.3f} (higher in {higher} of {n} seeds)")


PROBLEM = Problem(
    id="8.12", set="chapter8", order=12, title="Mixup",
    source="Chapter 8, exercise 8.12",
    statement="Add Mixup augmentation to the CIFAR-10 training of exercise 8.10.",
    parts=(
        Part("a", "Write a function that mixes a batch of images and labels and returns the "
                  "mixed images, both label sets and the mixing weight $lamda$.", solve_a,
             scope=CODE),
        Part("b", "Use the Mixup loss ($lamda$ times the cross-entropy against $y_a$ plus "
                  "$1 - lamda$ times the cross-entropy against $y_b$) in the training loop.",
             solve_b),
        Part("c", "Train with Mixup ($alpha$ = 0.2) for 50 epochs and compare the validation "
                  "accuracy with the augmentation baseline of exercise 8.10.", solve_c,
             scope=EXPERIMENT),
    ),
)
