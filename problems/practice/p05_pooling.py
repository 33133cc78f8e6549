"""Practice exercise 5: max and average pooling of one 2x2 patch.

The pooled values come from the engine's NumPy pooling (PyTorch's rules), one window since
the pooling output size is 1; they are cross-checked with exact arithmetic on the four
entries (Python's ``max`` and a ``Fraction`` mean) and with PyTorch where installed.
"""

from fractions import Fraction

from derive.book import Part, Problem, Sheet

PATCH = ((1, 5), (2, 4))
WINDOW = 2          # a 2x2 window; the stride defaults to the window size


def _windows() -> list[tuple[int, int]]:
    """Brute force: top-left corners of the windows that fit, stride = window."""
    n = len(PATCH)
    return [(i, j) for i in range(0, n, WINDOW) for j in range(0, n, WINDOW)
            if i + WINDOW <= n and j + WINDOW <= n]


def _window_entries(i: int, j: int) -> tuple[int, ...]:
    return tuple(PATCH[i + a][j + b] for a in range(WINDOW) for b in range(WINDOW))


def _show_windows(sheet: Sheet) -> int:
    """The patch, the number of windows per axis (derived), and each window's entries."""
    import sympy

    from derive.conv.shapes import pool_output_size
    from derive.symbols import syms

    n = len(PATCH)
    sheet.matrix("X", sympy.ImmutableMatrix(PATCH), caption="the patch")
    h, k, s = syms("H K S")
    general = pool_output_size(h, k, stride=s)
    with sympy.evaluate(False):
        plugged = general.xreplace({h: sympy.Integer(n), k: sympy.Integer(WINDOW),
                                    s: sympy.Integer(WINDOW)})
    per_axis = pool_output_size(n, WINDOW)
    sheet.derive("H_out", [(plugged, f"pooling output size $floor((H - K)/S) + 1$ with "
                                     f"$H == {n}$, window $K == {WINDOW}$ and stride "
                                     f"$S == {WINDOW}$"),
                           (sympy.Integer(per_axis), "evaluate")])
    windows = _windows()
    sheet.numeric(per_axis * per_axis, len(windows), why="the number of windows",
                  method="enumeration of the window corners that fit in the patch")
    sheet.table(["window", "rows", "columns", "entries, row by row"],
                [(w + 1, f"{i} to {i + WINDOW - 1}", f"{j} to {j + WINDOW - 1}",
                  _window_entries(i, j)) for w, (i, j) in enumerate(windows)],
                caption="The single window covers the whole patch (rows and columns "
                        "numbered from 0).")
    return per_axis


def solve_max(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.numeric import max_pool2d

    _show_windows(sheet)
    entries = [sympy.Integer(v) for v in _window_entries(0, 0)]
    pooled = max_pool2d(np.array([PATCH]), WINDOW)
    value = int(pooled[0, 0, 0])
    sheet.derive("max", [(sympy.Max(*entries, evaluate=False),
                          "the largest of the window's four entries"),
                         (sympy.Integer(max(_window_entries(0, 0))), "evaluate")])
    sheet.numeric(value, max(v for row in PATCH for v in row), why="the max-pooled value",
                  method="Python's max over the four entries")
    sheet.numeric_if_installed(
        "torch", value,
        lambda torch: sympy.Rational(float(torch.nn.functional.max_pool2d(
            torch.tensor([[list(r) for r in PATCH]], dtype=torch.float64), WINDOW)[0, 0, 0])),
        method="PyTorch's 2D max pooling in float64", why="the max-pooled value")
    sheet.answer("max", value)


def solve_avg(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.numeric import avg_pool2d

    sheet.matrix("X", sympy.ImmutableMatrix(PATCH), caption="the patch")
    sheet.text(f"As in (a), the {WINDOW}×{WINDOW} window at stride {WINDOW} fits exactly once: "
               "it covers the whole patch.")
    # the float result converted exactly (a binary float is a fraction): no rounding hidden
    pooled = sympy.Rational(float(avg_pool2d(np.array([PATCH], dtype=float), WINDOW)[0, 0, 0]))
    entries = [sympy.Integer(v) for v in _window_entries(0, 0)]
    with sympy.evaluate(False):
        mean = sympy.Mul(sympy.Add(*entries), sympy.Pow(len(entries), -1))
    exact = Fraction(sum(v for row in PATCH for v in row), len(entries))
    sheet.derive("avg", [(mean, "the sum of the window's entries over their number"),
                         (sympy.Rational(exact.numerator, exact.denominator), "evaluate")])
    sheet.numeric(pooled, sympy.Rational(exact.numerator, exact.denominator),
                  why="the average-pooled value",
                  method="exact mean of the four entries with Python's fractions")
    sheet.numeric_if_installed(
        "torch", pooled,
        lambda torch: sympy.Rational(float(torch.nn.functional.avg_pool2d(
            torch.tensor([[list(r) for r in PATCH]], dtype=torch.float64), WINDOW)[0, 0, 0])),
        method="PyTorch's 2D average pooling in float64", why="the average-pooled value")
    from derive.book import figures
    sheet.figure(figures.pooling_windows(
        (PATCH[0] + (0, 3), PATCH[1] + (7, 1), (6, 2, 3, 3), (0, 8, 1, 2)), WINDOW,
        note="The top-left window is the exercise's patch; the rest is an illustration."))
    sheet.text("Max pooling keeps the strongest response in the window; average pooling "
               "smooths it. Neither has parameters.")
    sheet.answer("avg", pooled)


PROBLEM = Problem(
    id="practice-5", set="practice", order=5, title="Max and average pooling",
    source="Exercises notebook, exercise 5",
    statement=(f"Pool the 2×2 patch with rows {PATCH[0]} and {PATCH[1]} with a 2×2 window "
               "(stride 2)."),
    parts=(Part("a", "The max-pooled value.", solve_max),
           Part("b", "The average-pooled value.", solve_avg)),
)
