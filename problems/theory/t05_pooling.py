"""Theory notebook, section 5: 2x2 max and average pooling with stride 2 on a 4x4 map.

The pooled maps come from the engine's NumPy pooling (PyTorch's rules; the output size from
``derive.conv.shapes.pool_output_size``), converted exactly from float64; each window's
maximum and mean are written out and evaluated exactly, and the maps are cross-checked by
cutting the map into non-overlapping blocks with index arithmetic, and by PyTorch where
installed.
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
    return sympy.ImmutableMatrix([[sympy.Rational(float(v)) for v in row] for row in arr])


def _torch_pool(torch, kind: str):
    x = torch.tensor([X], dtype=torch.float64)
    pool = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    return _exact(pool(x, WINDOW)[0].tolist())


def _windows(sheet: Sheet) -> list[list[tuple[int, ...]]]:
    """Show the map, derive the number of windows per axis, and list each window."""
    import sympy

    from derive.conv.shapes import pool_output_size
    from derive.symbols import syms

    sheet.matrix("X", sympy.ImmutableMatrix(X), caption="the feature map")
    h, k, s = syms("H K S")
    general = pool_output_size(h, k, stride=s)
    with sympy.evaluate(False):
        plugged = general.xreplace({h: sympy.Integer(len(X)), k: sympy.Integer(WINDOW),
                                    s: sympy.Integer(WINDOW)})
    n = pool_output_size(len(X), WINDOW)
    sheet.derive("H_out", [(plugged, f"pooling output size with $H == {len(X)}$, window "
                                     f"$K == {WINDOW}$ and stride $S == {WINDOW}$ (the "
                                     "default: the window size)"),
                           (sympy.Integer(n), "evaluate")])
    entries = [[tuple(X[WINDOW * i + a][WINDOW * j + b] for a in range(WINDOW)
                      for b in range(WINDOW)) for j in range(n)] for i in range(n)]
    sheet.table(["output", "rows", "columns", "entries, row by row"],
                [(f"$Y[{i}, {j}]$", f"{WINDOW * i} to {WINDOW * i + WINDOW - 1}",
                  f"{WINDOW * j} to {WINDOW * j + WINDOW - 1}", entries[i][j])
                 for i in range(n) for j in range(n)],
                caption=f"The {n * n} non-overlapping windows (rows and columns of $X$ "
                        "numbered from 0).")
    return entries


def solve_max(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.numeric import max_pool2d

    entries = _windows(sheet)
    pooled = _exact(max_pool2d(np.array([X], dtype=float), WINDOW)[0])
    written = sympy.ImmutableMatrix([[sympy.Max(*map(sympy.Integer, e), evaluate=False)
                                      for e in row] for row in entries])
    sheet.derive("Y_max", [(written, "the largest entry of each window"),
                           (pooled, "evaluate")])
    sheet.numeric(pooled, sympy.ImmutableMatrix([[max(b) for b in row] for row in _blocks()]),
                  why="the max-pooled map",
                  method="the maximum of each block cut out by index arithmetic")
    sheet.numeric_if_installed("torch", pooled, lambda torch: _torch_pool(torch, "max"),
                               method="PyTorch's 2D max pooling in float64",
                               why="the max-pooled map")
    sheet.answer("max pool", pooled)


def solve_avg(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.numeric import avg_pool2d

    sheet.matrix("X", sympy.ImmutableMatrix(X), caption="the feature map")
    n = len(X) // WINDOW
    sheet.text(f"The same {n * n} non-overlapping {WINDOW}×{WINDOW} windows as in (a):")
    entries = [[tuple(b) for b in row] for row in _blocks()]
    pooled = _exact(avg_pool2d(np.array([X], dtype=float), WINDOW)[0])
    with sympy.evaluate(False):
        written = sympy.ImmutableMatrix([[sympy.Mul(sympy.Add(*map(sympy.Integer, e)),
                                                    sympy.Pow(len(e), -1)) for e in row]
                                         for row in entries])
    sheet.derive("Y_avg", [(written, "the mean of each window"), (pooled, "evaluate")])
    means = [[Fraction(sum(b), len(b)) for b in row] for row in _blocks()]
    sheet.numeric(pooled, sympy.ImmutableMatrix([[sympy.Rational(m.numerator, m.denominator)
                                                  for m in row] for row in means]),
                  why="the average-pooled map",
                  method="the exact mean (Python's fractions) of each block cut out by index "
                         "arithmetic")
    sheet.numeric_if_installed("torch", pooled, lambda torch: _torch_pool(torch, "avg"),
                               method="PyTorch's 2D average pooling in float64",
                               why="the average-pooled map")
    sheet.text("Max pooling keeps the largest value of each block, average pooling its mean; "
               "both shrink each axis by the stride and have no parameters.")
    sheet.answer("average pool", pooled)


PROBLEM = Problem(
    id="theory-5", set="theory", order=5, title="Max and average pooling",
    source="Theory notebook, section 5",
    statement=("Pool the 4×4 map with rows " + ", ".join(str(r) for r in X)
               + f" with {WINDOW}×{WINDOW} windows at stride {WINDOW}."),
    parts=(Part("a", "The max-pooled map.", solve_max),
           Part("b", "The average-pooled map.", solve_avg)),
)
