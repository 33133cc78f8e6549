"""Practice exercise 9: the output of a residual connection, y = x + F(x).

The block's equation comes from ``derive.conv.residual.forward_equations``; the exercise's
vectors (decimals read as exact rationals) are substituted into it and the result is
cross-checked with NumPy's float64 addition (exact here, every value being a short binary
fraction).
"""

from derive.book import Part, Problem, Sheet

X = ("1.0", "2.0")
F = ("-0.5", "0.25")


def solve(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.residual import forward_equations

    (block,) = forward_equations(1)
    h0 = sympy.Symbol("h_0")
    branch = sympy.Function("F_1")(h0)
    sheet.text("A residual block adds its input to the output of its branch:")
    sheet.derive(block.lhs, [(block.rhs, "the block's forward equation, with input "
                                         "$h_0 == x$")])
    xs = [sympy.Rational(v) for v in X]
    fs = [sympy.Rational(v) for v in F]
    with sympy.evaluate(False):
        plugged = sympy.ImmutableMatrix([[block.rhs.xreplace({branch: f, h0: x})]
                                         for x, f in zip(xs, fs)])
    y = sympy.ImmutableMatrix([[block.rhs.xreplace({branch: f, h0: x})]
                               for x, f in zip(xs, fs)])
    sheet.derive("y", [(plugged, "the given input and branch output, decimals written as "
                                 "exact fractions"),
                       (y, "evaluate")])
    numpy_sum = np.array([float(v) for v in X]) + np.array([float(v) for v in F])
    sheet.numeric(y, sympy.ImmutableMatrix([[sympy.Rational(float(v))] for v in numpy_sum]),
                  why="the block's output $y$",
                  method="NumPy float64 addition, converted exactly")
    sheet.text("In decimals: y = (" + ", ".join(str(float(v)) for v in y) + ").")
    sheet.explain("By the chain rule the block's Jacobian is the identity plus the branch's "
                  "Jacobian, $I + J_1$, so the gradient always has a direct path through "
                  "the shortcut.", rests_on=["the block's forward equation"])
    sheet.answer("y", tuple(y))


PROBLEM = Problem(
    id="practice-9", set="practice", order=9, title="Residual output",
    source="Exercises notebook, exercise 9",
    statement=(f"A residual block receives x = ({', '.join(X)}) and its branch returns "
               f"F(x) = ({', '.join(F)}). What does the block output?"),
    parts=(Part("", "Compute y = x + F(x).", solve),),
)
