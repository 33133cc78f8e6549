"""Theory notebook, section 12: per-channel activation statistics, observed and expected.

A seeded batch of standard normal activations (N, C, H, W) = (8, 16, 14, 14) is summarised
per channel, as in the section, with the section's seeding (NumPy's legacy generator seeded
with 42, so the table can be reproduced with the notebook's own code).  What to expect is
derived with SymPy (the moments of the normal and chi-square distributions from
``sympy.stats``; each step checked): a channel mean
has expectation 0 and standard deviation sigma/sqrt(M) with M = N*H*W values per channel, and
the population variance (NumPy's default ``ddof=0``) has expectation (M - 1)/M sigma^2.  The
expectations are then tested on many seeded batches, within a few standard errors that are
themselves derived.
"""

from derive.book import Part, Problem, Sheet

SHAPE = (8, 16, 14, 14)          # N, C, H, W
SEED = 42
BATCHES = 100                    # seeded batches for testing the expectations


def solve(sheet: Sheet) -> None:
    import numpy as np
    import sympy
    from sympy.stats import ChiSquared, E, Normal, variance

    n, c, h, w = SHAPE
    m_sym = sympy.Symbol("M", integer=True, positive=True)
    sigma = sympy.Symbol("sigma", positive=True)
    i = sympy.Symbol("i", integer=True, positive=True)
    x = Normal("x", 0, sigma)
    assume = ["sigma real", "sigma > 0"]
    mean_x, var_x = E(x), variance(x)
    sheet.text("Each channel's statistics pool $M == N*H*W$ values $x_i$, independent, each "
               "with mean 0 and standard deviation $sigma$ ($sigma == 1$ here); SymPy's "
               f"statistics module gives the mean ${sympy.sstr(mean_x)}$ and the variance "
               f"${sympy.sstr(var_x)}$ of one value.")
    # the closed forms each derivation below arrives at (each step is checked)
    mean_of_mean, var_of_mean = sympy.Integer(0), sigma**2 / m_sym
    mean_of_var, var_of_var = (m_sym - 1) * sigma**2 / m_sym, 2 * (m_sym - 1) * sigma**4 / m_sym**2
    sheet.derive("expected channel mean", [
        (sympy.Sum(mean_x, (i, 1, m_sym)) / m_sym,
         "linearity of expectation; each value has mean 0"),
        (mean_of_mean, "a sum of zeros")])
    sheet.derive("variance of the channel mean", [
        (sympy.Sum(var_x, (i, 1, m_sym)) / m_sym**2,
         "independent values: the variances add, and the factor $M**(-1)$ is squared"),
        (var_of_mean, "$M$ equal terms")], assume=assume)
    sheet.derive("expected channel variance", [
        (var_x - var_of_mean,
         "the population variance is the mean of the squares minus the squared mean; a "
         "value's expected square is $sigma**2$ and the squared mean's is the variance of "
         "the mean"),
        (mean_of_var, "combine")], assume=assume)
    chi = ChiSquared("Q", m_sym - 1)
    sheet.derive("variance of the channel variance", [
        (variance(chi) * sigma**4 / m_sym**2,
         "$M$ times the population variance, over $sigma**2$, is chi-square with $M - 1$ "
         "degrees of freedom (SymPy's statistics module gives its variance)"),
        (var_of_var, "simplify")], assume=assume)

    m = n * h * w
    here = {sigma: sympy.Integer(1), m_sym: sympy.Integer(m)}
    expected_sd_mean = sympy.sqrt(var_of_mean.subs(here))
    expected_var = mean_of_var.subs(here)
    sd_var = sympy.sqrt(var_of_var.subs(here))

    # the notebook's seeding: numpy.random.seed(42), then numpy.random.normal; a private
    # RandomState(42) gives the same stream without touching NumPy's global state
    rng = np.random.RandomState(SEED)
    acts = rng.normal(size=SHAPE)
    means, stds = acts.mean(axis=(0, 2, 3)), acts.std(axis=(0, 2, 3))
    sheet.text(f"The batch is drawn as in the notebook: NumPy's legacy global generator "
               f"seeded with {SEED}, then one call drawing standard normal values of shape "
               f"{SHAPE}.")
    sheet.table([f"statistic (seed {SEED})", "min over channels", "max over channels",
                 "expected", "expected spread"],
                [("channel mean", f"{means.min():.4f}", f"{means.max():.4f}", "0",
                  f"{float(expected_sd_mean):.4f}"),
                 ("channel std", f"{stds.min():.4f}", f"{stds.max():.4f}",
                  f"{float(sympy.sqrt(expected_var)):.4f}",
                  f"{float(sd_var / 2):.4f}")],
                caption=f"$M == {n}*{h}*{w} == {m}$ values per channel. For the standard "
                        "deviation, the expected value is the square root of the expected "
                        "variance and the spread half the standard deviation of the variance, "
                        "both by the delta method (approximations, not checked).")

    batches = rng.normal(size=(BATCHES,) + SHAPE)     # the same generator, continued
    all_means = batches.mean(axis=(1, 3, 4)).ravel()
    all_vars = batches.var(axis=(1, 3, 4)).ravel()
    k = all_means.size
    sheet.text(f"The expectations are then tested on {BATCHES} further batches drawn from the "
               f"same generator, continued ({k} channels in all); each summary below is "
               "compared with its expectation within 4 standard errors.")
    sheet.numeric((var_of_mean * m_sym).subs(sigma, 1), float(all_means.var()) * m,
                  tol=4 * float(np.sqrt(2 / (k - 1))),
                  why="$M$ times the variance of a channel mean",
                  method=f"the variance of {k} sampled channel means, times $M$")
    sheet.numeric(mean_of_mean, float(all_means.mean()),
                  tol=4 * float(expected_sd_mean) / np.sqrt(k),
                  why="the expected channel mean",
                  method=f"the average of {k} sampled channel means")
    sheet.numeric(expected_var, float(all_vars.mean()), tol=4 * float(sd_var) / np.sqrt(k),
                  why="the expected channel variance",
                  method=f"the average of {k} sampled population variances")
    sheet.text("A channel whose mean sits many multiples of $sqrt(M)**(-1)$ away from the others, "
               "or whose spread collapses to 0, is suspicious: that is the dead-channel check "
               "of section 13.")
    sheet.answer("sd of a channel mean", expected_sd_mean)
    sheet.answer("expected channel variance", expected_var)


PROBLEM = Problem(
    id="theory-12", set="theory", order=12, title="Activation statistics",
    source="Theory notebook, section 12",
    statement=("Draw standard normal activations of shape (N, C, H, W) = (8, 16, 14, 14) with a "
               "fixed seed and compute each channel's mean and standard deviation over the "
               "batch and spatial axes. What values should these statistics take, and how "
               "much should they vary between channels?"),
    parts=(Part("", "Compute the statistics and derive their expected values and spreads.",
                solve),),
)
