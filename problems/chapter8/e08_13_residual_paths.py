"""Exercise 8.13: gradient paths through three residual blocks.

The forward equations, the expanded gradient ``g (I + J_3)(I + J_2)(I + J_1)`` and its eight
path terms come from :mod:`derive.conv.residual` (SymPy's non-commutative expansion compared
with the engine's path enumeration); the path tree figure is drawn from
:func:`derive.conv.residual.path_tree`.  Independent cross-checks: enumerating the 2^3
skip/branch choices here, binomial counts, the counting identity proved by the checker, and
NumPy with random non-commuting matrices (the product against the sum of the eight terms).
The Jacobians never go through the symbolic checker as commuting symbols: every statement
about their products is checked numerically with matrices, and marked as tested.
"""

from derive.book import EXPLANATION, Part, Problem, Sheet

BLOCKS = 3
DIM = 3          # size of the random Jacobians in the numeric checks (short vectors)


def _choices():
    """Brute force: every way of passing the blocks, as a tuple of 'skip'/'branch'."""
    import itertools
    return list(itertools.product(("skip", "branch"), repeat=BLOCKS))


def _term(choice):
    """The Jacobian product of a path: the branches it takes, latest block on the left."""
    import sympy

    factors = [sympy.Symbol(f"J_{l}", commutative=False)
               for l in range(BLOCKS, 0, -1) if choice[l - 1] == "branch"]
    return sympy.Mul(*factors) if factors else sympy.Integer(1)


def _identity():
    """The identity matrix as a non-commuting symbol, for display (the engine writes 1)."""
    import sympy
    return sympy.Symbol("I", commutative=False)


def _shown(expr):
    """An engine expression with its identity ``1`` written as the matrix ``I``."""
    import sympy

    one = _identity()
    if expr == 1:
        return one
    if isinstance(expr, sympy.Mul):
        return sympy.Mul(*[_shown(a) for a in expr.args], evaluate=False)
    if isinstance(expr, sympy.Add):
        return sympy.Add(*[one if a == 1 else a for a in expr.args], evaluate=False)
    return expr


def _matrix_check(value, reference, method: str):
    """Verdict of a comparison of two NumPy results (for a step about matrix products)."""
    from derive.book.sheet import compare_values
    return compare_values(value, reference, method=method, tol=1e-12)


def solve_a(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.residual import forward_equations, unrolled_forward

    eqs = forward_equations(BLOCKS)
    sheet.text("Each block adds its branch $F_l$ (for example convolution, batch norm, ReLU, "
               "convolution, batch norm) to its input; the skip connection carries the input "
               "unchanged:")
    sheet.table(["block", "forward equation"], [(l, e) for l, e in enumerate(eqs, start=1)])
    unrolled = unrolled_forward(BLOCKS)
    sheet.text("Substituting each equation into the next writes the output as the input plus "
               "the sum of all branch outputs:")
    sheet.table(["output", "unrolled"], [(unrolled.lhs, unrolled.rhs)])
    a = [sympy.Symbol(f"a_{l}") for l in range(1, BLOCKS + 1)]
    h0 = sympy.Symbol("h_0")
    value = h0
    for l, eq in enumerate(eqs, start=1):       # linear scalar branches F_l(h) = a_l h
        rhs = eq.rhs.replace(sympy.Function(f"F_{l}"), lambda arg, l=l: a[l - 1] * arg)
        value = rhs.xreplace({sympy.Symbol(f"h_{l - 1}"): value})
    product = sympy.Mul(*[1 + a[l] for l in reversed(range(BLOCKS))], evaluate=False) * h0
    sheet.text("A check with scalar linear branches, $F_l$ multiplying its input by $a_l$: "
               "applying the three equations in turn and multiplying out gives one term per "
               "subset of blocks (a preview of part (b)), and the result is the product of "
               "the block factors $1 + a_l$:")
    sheet.claim(sympy.expand(value), product,
                why="the recursion with linear branches against the product of the block "
                    "factors",
                assume=["h_0 real"] + [f"a_{l} real" for l in range(1, BLOCKS + 1)])
    rng = np.random.default_rng(31)
    mats = [rng.integers(-2, 3, (DIM, DIM)) for _ in range(BLOCKS)]   # exact in integers
    start = rng.integers(-3, 4, DIM)
    h = start
    for M in mats:                                   # the forward equations, in turn
        h = h + M @ h
    blocks = np.eye(DIM)
    for M in mats:
        blocks = (np.eye(DIM) + M) @ blocks
    sheet.text(f"The same with matrices, which do not commute: linear branches given by random "
               f"{DIM}×{DIM} integer matrices $A_l$ (entries from -2 to 2) and a random integer "
               f"input $h_0$ (entries from -3 to 3), drawn from NumPy's generator with seed 31, "
               "the matrices first:")
    sheet.numeric([int(v) for v in h], [int(v) for v in blocks @ start],
                  why="the output $h_3$",
                  method="the block matrices $I + A_l$ multiplied in order (the last block "
                         "leftmost) and applied to $h_0$ (NumPy)")
    sheet.answer("h_3", unrolled.rhs)


def _tree_figure():
    from derive.book import Figure
    from derive.conv.residual import path_tree

    rows = path_tree(BLOCKS).rows()
    leaves = [r for r in rows if r["depth"] == BLOCKS]
    slot = {r["id"]: i for i, r in enumerate(leaves)}
    children: dict[int, list[int]] = {}
    for r in rows:
        if r["parent"] is not None:
            children.setdefault(r["parent"], []).append(r["id"])

    def y(node: int) -> float:          # leaves evenly spaced; parents centred on children
        if node in slot:
            return float(slot[node])
        kids = children[node]
        return sum(y(k) for k in kids) / len(kids)

    by_id = {r["id"]: r for r in rows}
    dx_cm, dy_cm, dx_px, dy_px, x0_px, y0_px = 3.2, 0.95, 160, 38, 40, 40
    tikz = [r"\begin{tikzpicture}[font=\footnotesize, n/.style={draw, rounded corners, "
            r"fill=white, inner sep=2pt}]"]
    svg_w, svg_h = x0_px + dx_px * BLOCKS + 120, y0_px + dy_px * len(leaves) + 10
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{svg_w}" height="{svg_h}" '
           f'viewBox="0 0 {svg_w} {svg_h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{svg_w}" height="{svg_h}" fill="white"/>']
    for level in range(1, BLOCKS + 1):
        tikz.append(f"\\node[font=\\scriptsize\\itshape] at ({(level - 0.5) * dx_cm:.2f},"
                    f"{0.8:.2f}) {{block {level}}};")
        svg.append(f'<text x="{x0_px + (level - 0.5) * dx_px:.0f}" y="18" '
                   f'text-anchor="middle" font-style="italic">block {level}</text>')
    for r in rows:
        if r["parent"] is None:
            continue
        p = by_id[r["parent"]]
        branch = r["choice"] == "branch"
        style = "thick, blue!70!black" if branch else "black!50, dashed"
        edge = f"J_{{{r['block']}}}" if branch else "I"
        tikz.append(f"\\draw[{style}] ({p['depth'] * dx_cm:.2f},{-y(p['id']) * dy_cm:.2f}) -- "
                    f"node[pos=0.45, fill=white, inner sep=1pt, font=\\scriptsize] "
                    f"{{${edge}$}} "
                    f"({r['depth'] * dx_cm:.2f},{-y(r['id']) * dy_cm:.2f});")
        colour, dash = ("#23408f", "") if branch else ("#999999", ' stroke-dasharray="4 3"')
        svg.append(f'<line x1="{x0_px + p["depth"] * dx_px}" '
                   f'y1="{y0_px + y(p["id"]) * dy_px:.1f}" x2="{x0_px + r["depth"] * dx_px}" '
                   f'y2="{y0_px + y(r["id"]) * dy_px:.1f}" stroke="{colour}" '
                   f'stroke-width="{2 if branch else 1}"{dash}/>')
    for r in rows:
        label = "I" if r["label"] == "I" else r["label"].replace("J_", "J")
        tex = "I" if r["label"] == "I" else " ".join(
            f"J_{{{t[2:]}}}" for t in r["label"].split())
        tikz.append(f"\\node[n] at ({r['depth'] * dx_cm:.2f},{-y(r['id']) * dy_cm:.2f}) "
                    f"{{${tex}$}};")
        cx, cy = x0_px + r["depth"] * dx_px, y0_px + y(r["id"]) * dy_px
        svg.append(f'<rect x="{cx - 26}" y="{cy - 10:.1f}" width="52" height="20" rx="4" '
                   'fill="white" stroke="black"/>')
        svg.append(f'<text x="{cx}" y="{cy + 4:.1f}" text-anchor="middle">{label}</text>')
    tikz.append(r"\end{tikzpicture}")
    svg.append("</svg>")
    return Figure(tikz="\n".join(tikz), svg="\n".join(svg), name="residual-path-tree",
                  caption="The path tree: at each block a path either skips (identity, "
                          "dashed) or goes through the branch (solid, labelled with the "
                          "branch's Jacobian). The "
                          "eight leaves are the eight terms of the gradient; the top leaf is "
                          "the identity path.")


def _random_jacobians(scale: float, seed: int = 13):
    import numpy as np

    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal((DIM, DIM)) for _ in range(BLOCKS)], \
        rng.standard_normal((1, DIM))


def _path_sum(J, g, choices):
    """g times the sum of the path terms, each evaluated as an ordered matrix product."""
    import numpy as np

    total = np.zeros_like(g)
    for choice in choices:
        term = np.eye(DIM)
        for l in range(BLOCKS, 0, -1):          # latest block leftmost
            if choice[l - 1] == "branch":
                term = term @ J[l - 1]
        total = total + g @ term
    return total


def _product_and_paths(J, g):
    """``g (I + J_3)(I + J_2)(I + J_1)`` as a matrix product, and the sum of the path terms."""
    import numpy as np

    product = g.copy()
    for l in range(BLOCKS, 0, -1):
        product = product @ (np.eye(DIM) + J[l - 1])
    return product, _path_sum(J, g, _choices())


def solve_b(sheet: Sheet) -> None:
    import math

    import numpy as np
    import sympy

    from derive.book import Derivation
    from derive.book.model import DerivationStep
    from derive.conv.residual import (
        expand_residual, jacobian_product, loss_gradient, path_count, path_count_by_length,
    )

    sheet.text("Write $J_l$ for the Jacobian of the branch $F_l$ at its input $h[l - 1]$. The "
               "Jacobian of block $l$ is then $I + J_l$, and with the row vector $g$, the "
               "gradient of $L$ at the output $h_3$, the chain rule multiplies the block "
               "Jacobians from the output back to the input. The $J_l$ are matrices, so the "
               "order of the factors is kept when multiplying out; every factor contributes "
               "either its $I$ (the skip) or its $J_l$ (the branch):")
    g = sympy.Symbol("g", commutative=False)
    chain = sympy.Mul(g, _shown(jacobian_product(BLOCKS)), evaluate=False)
    grad = loss_gradient(BLOCKS)
    rng = np.random.default_rng(13)
    J = [rng.integers(-2, 3, (DIM, DIM)) for _ in range(BLOCKS)]
    rows_g = rng.integers(-3, 4, (DIM, DIM))      # three row vectors g at once
    product, path_sum = _product_and_paths(J, rows_g)
    verdict = _matrix_check(
        product, path_sum,
        method=f"NumPy with random non-commuting {DIM}×{DIM} integer matrices for the "
               f"Jacobians and {DIM} random integer row vectors for g (seed 13)")
    sheet.add(Derivation(sympy.Derivative(sympy.Symbol("L"), sympy.Symbol("h_0")), (
        DerivationStep(chain, "chain rule, block Jacobians from the output back", None),
        DerivationStep(grad, "multiply out, keeping the order of the factors", verdict))))
    expansion = expand_residual(BLOCKS)
    rows = [(", ".join(p.route), p.length, _shown(p.term)) for p in expansion.paths]
    sheet.table(["route through blocks 1, 2, 3", "Jacobian factors", "term"], rows,
                caption="The paths, one per term (the engine's expansion); $g$ multiplies "
                        "every term from the left.")
    sheet.figure(_tree_figure())

    brute = {_term(c) for c in _choices()}
    sheet.numeric(len(expansion.terms), len(_choices()), why="number of terms",
                  method="brute force: the $2**3$ skip or branch choices enumerated one by "
                         "one")
    sheet.numeric(len(set(expansion.terms) & brute), len(brute),
                  why="terms found by both methods",
                  method="the products built from the enumerated choices, against SymPy's "
                         "non-commutative expansion")
    counts = expansion.counts()
    sheet.numeric([counts[k] for k in range(BLOCKS + 1)],
                  [math.comb(BLOCKS, k) for k in range(BLOCKS + 1)],
                  why="paths with 0, 1, 2, 3 Jacobian factors",
                  method="the binomial coefficients $binomial(3, k)$ (Python's integer "
                         "arithmetic)")
    n = sympy.Symbol("n", integer=True, nonnegative=True)
    k = sympy.Symbol("k", integer=True, nonnegative=True)
    sheet.text("For any number $n$ of blocks, the paths with $k$ Jacobian factors choose "
               "which $k$ blocks to go through, and all lengths together give $2**n$ paths:")
    sheet.claim(sympy.Sum(path_count_by_length(n, k), (k, 0, n)), path_count(n),
                why="the paths of every length add up to $2**n$",
                assume=["n >= 0", "k >= 0"])
    sheet.answer("number of terms", path_count(BLOCKS))


def solve_c(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.residual import compare_activation, expand_residual

    identity = expand_residual(BLOCKS).identity_path
    sheet.text(f"The path that skips every block (route {', '.join(identity.route)}) has the "
               "term $I$: its contribution to the gradient at $h_0$ is $g$ itself, with no "
               "Jacobian factor.")
    all_skip = next(c for c in _choices() if "branch" not in c)
    sheet.numeric(identity.length, all_skip.count("branch"),
                  why="Jacobian factors on the all-skip path",
                  method="branches taken by the enumerated all-skip choice")
    pre = compare_activation("pre-activation", BLOCKS)
    post = compare_activation("post-activation", BLOCKS)
    sheet.text("This needs the skip to be a true identity. Composing three blocks with scalar "
               "inputs and branch outputs $f_l$ shows the difference between the two layouts: "
               "in the pre-activation layout (the ReLU moved into the branch, nothing after "
               "the sum) the output is exactly the input plus the branch outputs, while the "
               "original layout puts a ReLU after every sum:")
    sheet.table(["layout", "output $h_3$ of three blocks", "all-skip term"],
                [("pre-activation", pre.claim[0], _shown(pre.identity_term)),
                 ("post-activation", post.claim[0], post.identity_term)],
                caption="The engine's composition of the three blocks; $D_l$ is the diagonal "
                        "0/1 mask of the ReLU after block $l$.")
    point = {sympy.Symbol(name): sympy.Integer(v)
             for name, v in post.zero_branch["input"].items()}
    h0 = sympy.Symbol("h_0")
    sheet.text(f"With the post-activation layout the output is not the input plus the branch "
               f"outputs: at $h_0 == {point[h0]}$ with every branch output 0,")
    with sympy.evaluate(False):
        stack_at = post.claim[0].xreplace(point)
        sum_at = post.claim[1].xreplace(point)
    sheet.derive("h_3", [(stack_at, "the post-activation stack"),
                         (post.zero_branch["stack"], "evaluate")])
    sheet.derive(post.claim[1], [(sum_at, "the identity sum at the same point"),
                                 (post.zero_branch["identity_sum"], "evaluate")])

    sheet.text(f"How big the identity term is next to the rest, numerically: random "
               f"{DIM}×{DIM} Jacobians and a random row vector $g$ (standard normal, NumPy's "
               "generator with seed 13, the Jacobians first), the Jacobians scaled down:")
    rows = []
    for scale in (0.5, 0.1, 0.01):
        J, g = _random_jacobians(scale)
        plain = g @ J[2] @ J[1] @ J[0]
        residual, _ = _product_and_paths(J, g)   # g plus the seven other paths, part (b)
        rows.append((scale, float(np.linalg.norm(g)), float(np.linalg.norm(plain)),
                     float(np.linalg.norm(residual))))
    sheet.table(["scale of the $J_l$", "norm of $g$",
                 "plain net: norm of $g$ times $J_3$, $J_2$, $J_1$",
                 "residual net: norm of the gradient at $h_0$"], rows,
                caption="The plain product shrinks like the cube of the scale; the residual "
                        "gradient stays near the norm of $g$.")
    sheet.explain(
        "In a plain network the gradient reaching the input is the single product of $g$ "
        "with $J_3$, $J_2$ and $J_1$ (in that order), which shrinks geometrically when the "
        "Jacobians are small (third column: it falls like the cube of the scale). In the "
        "residual network that product is "
        "only one of eight terms; the identity term $g$ is added to it unchanged, so however "
        "small the branch Jacobians become, the gradient at the input stays close to the "
        "gradient at the output (last column). The other paths add corrections of every "
        "length in between. Vanishing would require the corrections to cancel $g$, which "
        "small or random Jacobians do not do. This is the 'gradient highway', and it is only "
        "clean when nothing (such as a ReLU after the sum) sits on the skip path: there the "
        "all-skip term becomes a product of ReLU masks instead of $I$.",
        rests_on=["8.13(b): the eight path terms", "8.13(c): the all-skip path has no "
                  "Jacobian factor", "8.13(c): the two block layouts composed",
                  "8.13(c): the table of norms"])
    sheet.answer("gradient highway", sympy.Symbol("g"))


PROBLEM = Problem(
    id="8.13", set="chapter8", order=13, title="Gradient paths in a residual network",
    source="Chapter 8, exercise 8.13",
    statement="A network of three residual blocks maps $h_0$ to $h_3$, each block adding a "
              "branch $F_l$ to its input. Trace how the gradient of a loss $L$ flows back to "
              "$h_0$.",
    parts=(
        Part("a", "Write the forward equations for $h_1$, $h_2$ and $h_3$ with their skip "
                  "connections.", solve_a),
        Part("b", "Expand the gradient of $L$ with respect to $h_0$ by the chain rule and show "
                  "that it has $2**3 == 8$ terms, one for each way of going through or around "
                  "each block.", solve_b),
        Part("c", "Show that one of the eight paths carries no Jacobian factor at all, and "
                  "explain how that keeps the gradient from vanishing.", solve_c,
             scope=EXPLANATION),
    ),
)
