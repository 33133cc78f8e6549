"""Practice exercise 5: max and average pooling of one 2x2 patch.

The pooled values come from the engine's NumPy pooling (PyTorch's rules), one window since
the pooling output size is 1; they are cross-checked with exact arithmetic on the four
entries (Python's ``max`` and a ``Fraction`` mean) and with PyTorch when installed.
"""

from fractions import Fraction

from derive.book import Part, Problem, Sheet

PATCH = ((1, 5), (2, 4))


def _window_count(sheet: Sheet) -> None:
    from derive.conv.shapes import pool_output_size
    n = pool_output_size(len(PATCH), 2)
    sheet.text(f"A 2x2 window with stride 2 fits {n} time(s) along each axis of a 2x2 input "
               "(derive.conv.shapes.pool_output_size), so the patch pools to a single value.")


def _torch_pool(kind: str):
    try:
        import torch
    except ImportError:  # PyTorch is optional
        return None
    x = torch.tensor([[list(r) for r in PATCH]], dtype=torch.float64)
    pool = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    return float(pool(x, 2)[0, 0, 0])


def solve_max(sheet: Sheet) -> None:
    import numpy as np

    from derive.numeric import max_pool2d

    _window_count(sheet)
    pooled = max_pool2d(np.array([PATCH]), 2)
    value = int(pooled[0, 0, 0])
    sheet.matrix("X", np.array(PATCH), caption="the patch")
    sheet.numeric(value, max(v for row in PATCH for v in row),
                  method="Python max over the four entries")
    got = _torch_pool("max")
    if got is not None:
        import sympy
        sheet.numeric(value, sympy.Rational(got),
                      method="torch.nn.functional.max_pool2d (PyTorch installed)")
    sheet.answer("max", value)


def solve_avg(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.numeric import avg_pool2d

    # the float result converted exactly (a binary float is a fraction): no rounding hidden
    pooled = sympy.Rational(float(avg_pool2d(np.array([PATCH], dtype=float), 2)[0, 0, 0]))
    entries = [sympy.Integer(v) for row in PATCH for v in row]
    with sympy.evaluate(False):
        mean = sympy.Mul(sympy.Add(*entries), sympy.Pow(len(entries), -1))
    exact = Fraction(sum(v for row in PATCH for v in row), len(entries))
    sheet.derive("avg", [(mean, "sum of the window over its size"),
                         (sympy.Rational(exact.numerator, exact.denominator), "evaluate")])
    sheet.numeric(pooled, sympy.Rational(exact.numerator, exact.denominator),
                  method="exact mean of the four entries with Fraction")
    got = _torch_pool("avg")
    if got is not None:
        sheet.numeric(pooled, sympy.Rational(got),
                      method="torch.nn.functional.avg_pool2d in float64 (PyTorch installed)")
    sheet.text("Max pooling keeps the strongest response in the window; average pooling "
               "smooths it. Neither has parameters.")
    sheet.answer("avg", pooled)


PROBLEM = Problem(
    id="practice-5", set="practice", order=5, title="Max and average pooling",
    source="Exercises notebook, exercise 5",
    statement=(f"Pool the 2x2 patch with rows {PATCH[0]} and {PATCH[1]} with a 2x2 window."),
    parts=(Part("a", "The max-pooled value.", solve_max),
           Part("b", "The average-pooled value.", solve_avg)),
)
