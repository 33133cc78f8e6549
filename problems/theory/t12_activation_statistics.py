"""Theory notebook, section 12: per-channel activation statistics, observed and expected.

A seeded batch of standard normal activations (N, C, H, W) = (8, 16, 14, 14) is summarised
per channel, as in the section.  What to expect is derived with SymPy (the moments of the
normal and chi-square distributions from ``sympy.stats``; each step checked): a channel mean
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
    sheet.text("Each channel's statistics pool M = N H W values x_i, independent with mean 0 "
               "and standard deviation sigma (sigma = 1 here). From sympy.stats: "
               f"E[x] = {mean_x} and Var[x] = {str(var_x).replace('**', '^')}.")
    sheet.derive("E[mean]", [(sympy.Sum(mean_x, (i, 1, m_sym)) / m_sym,
                              "linearity of expectation; each E[x_i] = 0 (sympy.stats)"),
                             (sympy.Integer(0), "a sum of zeros")])
    sheet.derive("Var[mean]", [(sympy.Sum(var_x, (i, 1, m_sym)) / m_sym**2,
                                "independent values: variances add; the 1/M factor squares"),
                               (sigma**2 / m_sym, "M equal terms")], assume=assume)
    sheet.derive("E[var]", [(var_x - sigma**2 / m_sym,
                             "population variance = mean of x_i^2 minus mean^2; "
                             "E[mean^2] = Var[mean]"),
                            ((m_sym - 1) * sigma**2 / m_sym, "combine")], assume=assume)
    chi = ChiSquared("Q", m_sym - 1)
    sheet.derive("Var[var]", [(variance(chi) * sigma**4 / m_sym**2,
                               "M var / sigma^2 is chi-square with M - 1 degrees of freedom "
                               "(sympy.stats)"),
                              (2 * (m_sym - 1) * sigma**4 / m_sym**2, "simplify")],
                 assume=assume)

    m = n * h * w
    expected_sd_mean = 1 / sympy.sqrt(m)
    expected_var = sympy.Rational(m - 1, m)
    sd_var = sympy.sqrt(2 * (m - 1)) / m

    rng = np.random.default_rng(SEED)
    acts = rng.standard_normal(SHAPE)
    means, stds = acts.mean(axis=(0, 2, 3)), acts.std(axis=(0, 2, 3))
    sheet.table(["statistic (seed 42)", "min over channels", "max over channels",
                 "expected", "expected spread"],
                [("channel mean", f"{means.min():.4f}", f"{means.max():.4f}", "0",
                  f"{float(expected_sd_mean):.4f}"),
                 ("channel std", f"{stds.min():.4f}", f"{stds.max():.4f}",
                  f"{float(sympy.sqrt(expected_var)):.4f}",
                  f"{float(sd_var / 2):.4f}")],
                caption=f"M = {n}*{h}*{w} = {m} values per channel. For the std, the "
                        "expected column is sqrt(E[var]) and the spread sd(var)/2, both by "
                        "the delta method (approximations, not checked).")

    batches = rng.standard_normal((BATCHES,) + SHAPE)
    all_means = batches.mean(axis=(1, 3, 4)).ravel()
    all_vars = batches.var(axis=(1, 3, 4)).ravel()
    k = all_means.size
    sheet.numeric(float(all_means.var()) * m, 1.0, tol=4 * float(np.sqrt(2 / (k - 1))),
                  method=f"M times the variance of {k} seeded channel means (should be 1); "
                         "tolerance 4 standard errors of a sample variance")
    sheet.numeric(float(all_means.mean()), 0.0, tol=4 * float(expected_sd_mean) / np.sqrt(k),
                  method=f"average of {k} channel means; tolerance 4 standard errors")
    sheet.numeric(float(all_vars.mean()), float(expected_var),
                  tol=4 * float(sd_var) / np.sqrt(k),
                  method=f"average of {k} channel variances (ddof = 0); tolerance 4 "
                         "standard errors")
    sheet.text("A channel whose mean sits many multiples of 1/sqrt(M) away from the others, "
               "or whose spread collapses to 0, is suspicious: that is the dead-channel check "
               "of section 13.")
    sheet.answer("sd of a channel mean", expected_sd_mean)
    sheet.answer("E[channel variance]", expected_var)


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
