"""Theory notebook, section 10: the output of a residual block, and what the shortcut does to
the gradient.

The output is the engine's block equation (``derive.conv.residual.forward_equations``) with
the section's vectors put in as exact fractions, cross-checked with Python's ``Fraction``
arithmetic.  The shortcut's effect on gradients is the engine's path expansion of the
Jacobian of a stack of blocks (``expand_residual``), whose path count is proved to be 2^n.
"""

from fractions import Fraction

from derive.book import Part, Problem, Sheet, written

X = ("1.0", "-0.5", "0.25")
F = ("-0.2", "0.1", "0.4")
STACK = 3   # blocks in the gradient illustration


def solve(sheet: Sheet) -> None:
    import sympy

    from derive.conv.residual import (
        expand_residual, forward_equations, path_count, path_count_by_length,
    )

    (block,) = forward_equations(1)
    h0 = sympy.Symbol("h_0")
    branch = sympy.Function("F_1")(h0)
    sheet.derive(block.lhs, [(block.rhs, "the block adds its input to its branch's output")])
    xs, fs = [sympy.Rational(v) for v in X], [sympy.Rational(v) for v in F]
    with sympy.evaluate(False):
        plugged = sympy.ImmutableMatrix([[block.rhs.xreplace({branch: f, h0: x})]
                                         for x, f in zip(xs, fs)])
    y = sympy.ImmutableMatrix([[block.rhs.xreplace({branch: f, h0: x})]
                               for x, f in zip(xs, fs)])
    sheet.derive("y", [(plugged, "the section's $x$ and branch output, decimals written as "
                                 "exact fractions"),
                       (y, "evaluate")])
    check = [Fraction(a) + Fraction(b) for a, b in zip(X, F)]
    sheet.numeric(y, sympy.ImmutableMatrix([[sympy.Rational(c.numerator, c.denominator)]
                                            for c in check]),
                  why="the block's output $y$",
                  method="exact decimal arithmetic with Python's fractions")

    expansion = expand_residual(STACK)
    sheet.text(f"How the shortcut shapes the gradient: for {STACK} stacked blocks the chain "
               "rule gives the product of the block Jacobians $I + J_l$, and expanding it "
               "gives one term per path through the stack, each path either skipping a block "
               "or going through its branch (in the products below the identity $I$ is "
               "written 1, and the factors keep their chain-rule order):")
    sheet.derive(written(f"Derivative(h_{STACK}, h_0)"),
                 [(expansion.product, "chain rule, latest block on the left"),
                  (expansion.expanded, "expand: one term per path")])
    sheet.table(["path length", "paths", "terms"],
                [(length, len(paths), "$I$" if length == 0 else
                  paths[0].term if len(paths) == 1 else tuple(p.term for p in paths))
                 for length, paths in sorted(expansion.by_length().items())])
    n = sympy.Symbol("n", integer=True, nonnegative=True)
    k = sympy.Symbol("k", integer=True, nonnegative=True)
    sheet.claim(sympy.Sum(path_count_by_length(n, k), (k, 0, n)), path_count(n),
                assume=["n >= 0", "k >= 0"],
                why="the paths of every length add up to $2**n$ for any number $n$ of blocks")
    sheet.numeric(path_count(STACK), len(sympy.Add.make_args(expansion.expanded)),
                  why=f"the number of paths through {STACK} blocks",
                  method="the terms of the expanded product, counted one by one")
    sheet.explain("The length-0 path is the identity $I$: however small the branch Jacobians, "
                  "the gradient reaches the input unchanged along the shortcuts, so stacking "
                  "blocks cannot make it vanish the way a product of small Jacobians does.",
                  rests_on=["the expansion of the Jacobian product"])
    sheet.answer("y", tuple(y))


PROBLEM = Problem(
    id="theory-10", set="theory", order=10, title="Residual block",
    source="Theory notebook, section 10",
    statement=(f"A residual block receives x = ({', '.join(X)}) and its branch returns "
               f"F(x) = ({', '.join(F)}). Compute the block's output y = x + F(x), and "
               "explain how the shortcut shapes the gradient."),
    parts=(Part("", "Compute y and describe the gradient paths.", solve),),
)
