"""Theory notebook, section 5: 2x2 max and average pooling with stride 2 on a 4x4 map.

The pooled maps come from the engine's NumPy pooling (PyTorch's rules; the output size from
``derive.conv.shapes.pool_output_size``), converted exactly from float64; they are
cross-checked by cutting the map into non-overlapping blocks with a reshape and reducing
each block with exact arithmetic, and by PyTorch when installed.
"""

from fractions import Fraction

from derive.book import Part, Problem, Sheet

X = ((1, 3, 2, 0), (4, 6, 5, 1), (2, 1, 0, 2), (3, 4, 1, 5))
WINDOW = 2


def _blocks() -> list[list[list[int]]]:
    """Brute force: the entries of each non-overlapping WINDOW x WINDOW block."""
    n = len(X) // WINDOW
    return [[[X[WINDOW * i + a][WINDOW * j + b] for a in range(WINDOW) for b in range(WINDOW)]
             for j in range(n)] for i in range(n)]


def _exact(arr):
    import sympy
    return [[sympy.Rational(float(v)) for v in row] for row in arr]


def _torch_pool(kind: str):
    try:
        import torch
    except ImportError:  # PyTorch is optional
        return None
    x = torch.tensor([X], dtype=torch.float64)
    pool = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    return pool(x, WINDOW)[0].tolist()


def _size(sheet: Sheet) -> None:
    from derive.conv.shapes import pool_output_size
    n = pool_output_size(len(X), WINDOW)
    sheet.text(f"Window {WINDOW}, stride {WINDOW} (the default): "
               f"derive.conv.shapes.pool_output_size gives {n} x {n} outputs.")


def solve_max(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.numeric import max_pool2d

    _size(sheet)
    sheet.matrix("X", sympy.ImmutableMatrix(X))
    pooled = _exact(max_pool2d(np.array([X], dtype=float), WINDOW)[0])
    sheet.numeric(pooled, [[max(b) for b in row] for row in _blocks()],
                  method="maximum of each block cut out by index arithmetic")
    got = _torch_pool("max")
    if got is not None:
        sheet.numeric(pooled, _exact(got),
                      method="torch.nn.functional.max_pool2d (PyTorch installed)")
    sheet.answer("max pool", sympy.ImmutableMatrix(pooled))


def solve_avg(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.numeric import avg_pool2d

    _size(sheet)
    pooled = _exact(avg_pool2d(np.array([X], dtype=float), WINDOW)[0])
    means = [[Fraction(sum(b), len(b)) for b in row] for row in _blocks()]
    sheet.numeric(pooled, [[sympy.Rational(m.numerator, m.denominator) for m in row]
                           for row in means],
                  method="exact mean (Fraction) of each block cut out by index arithmetic")
    got = _torch_pool("avg")
    if got is not None:
        sheet.numeric(pooled, _exact(got),
                      method="torch.nn.functional.avg_pool2d in float64 (PyTorch installed)")
    sheet.text("Max pooling keeps the largest value of each block, average pooling its mean; "
               "both shrink each axis by the stride and have no parameters.")
    sheet.answer("average pool", sympy.ImmutableMatrix(pooled))


PROBLEM = Problem(
    id="theory-5", set="theory", order=5, title="Max and average pooling",
    source="Theory notebook, section 5",
    statement=("Pool the 4x4 map with rows " + ", ".join(str(r) for r in X)
               + f" with {WINDOW}x{WINDOW} windows at stride {WINDOW}."),
    parts=(Part("a", "The max-pooled map.", solve_max),
           Part("b", "The average-pooled map.", solve_avg)),
)
