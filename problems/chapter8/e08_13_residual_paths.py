"""Exercise 8.13: gradient paths through three residual blocks.

The forward equations, the expanded gradient ``g (I + J_3)(I + J_2)(I + J_1)`` and its eight
path terms come from :mod:`derive.conv.residual` (SymPy's non-commutative expansion compared
with the engine's path enumeration); the path tree figure is drawn from
:func:`derive.conv.residual.path_tree`.  Independent cross-checks: enumerating the 2^3
skip/branch choices here, ``binomial`` counts, the counting identity proved by the checker,
and NumPy with random non-commuting matrices (the product against the sum of the eight
terms).  The Jacobians never go through the symbolic checker as commuting symbols: every
statement about their products is checked numerically with matrices.
"""

from derive.book import Part, Problem, Sheet

BLOCKS = 3
DIM = 4          # size of the random Jacobians in the numeric checks


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


def solve_a(sheet: Sheet) -> None:
    import sympy

    from derive.conv.residual import forward_equations, unrolled_forward

    eqs = forward_equations(BLOCKS)
    sheet.text("Each block adds its branch F_l (for example conv-BN-ReLU-conv-BN) to its "
               "input, the skip connection carrying the input unchanged:")
    sheet.table(["block", "forward equation"], [(l, e) for l, e in enumerate(eqs, start=1)])
    unrolled = unrolled_forward(BLOCKS)
    sheet.text("Substituting each equation into the next writes the output as the input plus "
               "the sum of all branch outputs:")
    sheet.table(["", "unrolled"], [(unrolled.lhs, unrolled.rhs)])
    a = [sympy.Symbol(f"a_{l}") for l in range(1, BLOCKS + 1)]
    h0 = sympy.Symbol("h_0")
    value = h0
    for l, eq in enumerate(eqs, start=1):       # linear scalar branches F_l(h) = a_l h
        rhs = eq.rhs.replace(sympy.Function(f"F_{l}"), lambda arg, l=l: a[l - 1] * arg)
        value = rhs.xreplace({sympy.Symbol(f"h_{l - 1}"): value})
    product = sympy.Mul(*[1 + a[l] for l in reversed(range(BLOCKS))], evaluate=False) * h0
    sheet.text("Sanity check with scalar linear branches F_l(h) = a_l h: applying the three "
               "equations in turn and multiplying out gives one term per subset of blocks "
               "(a preview of part (b)), and the result must be the product of the block "
               "factors (1 + a_l):")
    sheet.claim(sympy.expand(value), product,
                why="the recursion with linear branches is the product of the block factors",
                assume=["h_0 real"] + [f"a_{l} real" for l in range(1, BLOCKS + 1)])
    import numpy as np

    rng = np.random.default_rng(31)
    mats = [0.5 * rng.standard_normal((DIM, DIM)) for _ in range(BLOCKS)]
    start = rng.standard_normal(DIM)
    h = start
    for M in mats:                                   # the forward equations, in turn
        h = h + M @ h
    blocks = np.eye(DIM)
    for M in mats:
        blocks = (np.eye(DIM) + M) @ blocks
    sheet.numeric(float(np.max(np.abs(h - blocks @ start))), 0.0, tol=1e-12,
                  why="largest difference, recursion vs product of block matrices",
                  method=f"NumPy, random non-commuting {DIM}x{DIM} linear branches (seed 31): "
                         "the three equations applied in turn against (I + A_3)(I + A_2)"
                         "(I + A_1) h_0")
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
                          "dashed) or goes through the branch (its Jacobian J_l, solid). The "
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


def solve_b(sheet: Sheet) -> None:
    import math

    import numpy as np
    import sympy

    from derive.conv.residual import (
        expand_residual, jacobian_product, loss_gradient, path_count, path_count_by_length,
    )

    sheet.text("Write J_l = dF_l/dh evaluated at h_{l-1}. Each block's Jacobian is "
               "dh_l/dh_{l-1} = I + J_l, and with the row vector g = dL/dh_3 the chain rule "
               "multiplies them from the output back to the input (the J_l are matrices, so "
               "the order is kept):")
    sheet.table(["", "chain rule"], [("dL/dh_0", sympy.Symbol("g") * jacobian_product(BLOCKS))])
    expansion = expand_residual(BLOCKS)
    grad = loss_gradient(BLOCKS)
    sheet.text("Multiplying out, every factor contributes either its I (the skip) or its J_l "
               "(the branch):")
    sheet.table(["", "expanded"], [("dL/dh_0", grad)])
    rows = [(", ".join(p.route), p.length, p.term) for p in expansion.paths]
    sheet.table(["route through blocks 1, 2, 3", "Jacobian factors", "term"], rows,
                caption="The paths (derive.conv.residual.expand_residual).")
    sheet.figure(_tree_figure())

    brute = {_term(c) for c in _choices()}
    sheet.numeric(len(expansion.terms), len(_choices()),
                  method="brute force: the 2^3 skip/branch choices enumerated one by one")
    sheet.numeric(len(set(expansion.terms) ^ brute), 0,
                  why="terms in one list but not the other",
                  method="SymPy's non-commutative expansion against the products built from "
                         "the enumerated choices")
    counts = expansion.counts()
    sheet.numeric([counts[k] for k in range(BLOCKS + 1)],
                  [math.comb(BLOCKS, k) for k in range(BLOCKS + 1)],
                  method="binomial(3, k) paths with k Jacobian factors (math.comb)")
    n = sympy.Symbol("n", integer=True, nonnegative=True)
    k = sympy.Symbol("k", integer=True, nonnegative=True)
    sheet.claim(sympy.Sum(path_count_by_length(n, k), (k, 0, n)), path_count(n),
                why="for any number n of blocks the paths of every length add up to 2^n",
                assume=["n >= 0", "k >= 0"])
    J, g = _random_jacobians(0.5)
    product = g.copy()
    for l in range(BLOCKS, 0, -1):
        product = product @ (np.eye(DIM) + J[l - 1])
    gap = float(np.max(np.abs(product - _path_sum(J, g, _choices()))))
    sheet.numeric(gap, 0.0, tol=1e-12, why="largest difference, product vs path sum",
                  method=f"NumPy, random non-commuting {DIM}x{DIM} Jacobians and a random "
                         "g (seed 13): g (I + J_3)(I + J_2)(I + J_1) against the sum of the "
                         "eight path terms")
    sheet.answer("number of terms", path_count(BLOCKS))


def solve_c(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.residual import compare_activation, expand_residual

    identity = expand_residual(BLOCKS).identity_path
    sheet.text(f"The path that skips every block has route {', '.join(identity.route)} and "
               f"term {identity.label}: its contribution to dL/dh_0 is g itself, with no "
               "Jacobian factor.")
    sheet.numeric(identity.length, 0, method="number of Jacobian factors on the all-skip path")
    pre = compare_activation("pre-activation", BLOCKS)
    h, rhs = pre.claim
    sheet.text("This needs the skip to be a true identity. For blocks whose sum is not "
               "followed by anything (pre-activation layout, ReLU moved into the branch), "
               "the output is exactly the input plus the branch outputs, on any values:")
    sheet.claim(h, rhs, why="pre-activation blocks: h_3 = h_0 + f_1 + f_2 + f_3 for all real "
                            "inputs and branch outputs",
                assume=[f"{s.name} real" for s in sorted(rhs.free_symbols, key=str)])
    post = compare_activation("post-activation", BLOCKS)
    example = post.zero_branch
    sheet.text("With the original layout (ReLU after the sum) the same statement fails: at "
               f"h_0 = {example['input']['h_0']} with all branch outputs 0 the stack gives "
               f"{example['stack']} instead of {example['identity_sum']}, and the all-skip "
               f"term of the Jacobian becomes {post.identity_term} (ReLU masks) instead of I.")

    rows = []
    for scale in (0.5, 0.1, 0.01):
        J, g = _random_jacobians(scale)
        plain = g @ J[2] @ J[1] @ J[0]
        residual = g.copy()
        for l in range(BLOCKS, 0, -1):
            residual = residual @ (np.eye(DIM) + J[l - 1])
        others = _path_sum(J, g, [c for c in _choices() if "branch" in c])
        sheet.numeric(float(np.max(np.abs(residual - g - others))), 0.0, tol=1e-12,
                      why="residual gradient minus (identity term + the other 7 terms)",
                      method=f"NumPy, Jacobian scale {scale}: the gradient splits into g plus "
                             "the seven paths through at least one branch")
        rows.append((scale, f"{np.linalg.norm(g):.3f}", f"{np.linalg.norm(plain):.2e}",
                     f"{np.linalg.norm(residual):.3f}"))
    sheet.table(["scale of J_l", "|g|", "|g J_3 J_2 J_1| (plain net)",
                 "|dL/dh_0| (residual net)"], rows,
                caption=f"Random {DIM}x{DIM} Jacobians (seed 13) shrunk by the given scale.")
    sheet.explain(
        "In a plain network the gradient reaching the input is the single product g J_3 J_2 "
        "J_1, which shrinks geometrically when the Jacobians are small (last column minus "
        "one: it falls like the cube of the scale). In the residual network that product is "
        "only one of eight terms; the identity term g is added to it unchanged, so however "
        "small the branch Jacobians become the gradient at the input stays close to the "
        "gradient at the output. The other paths add corrections of every length in between. "
        "Vanishing would require the corrections to cancel g, which small or random Jacobians "
        "do not do. This is the 'gradient highway', and it is only clean when nothing (such "
        "as a ReLU after the sum) sits on the skip path.",
        rests_on=["8.13(b): the eight path terms", "identity path has no Jacobian factor",
                  "pre-activation identity proved; post-activation counterexample",
                  "the numeric table above"])
    sheet.answer("gradient highway", sympy.Symbol("g"))


PROBLEM = Problem(
    id="8.13", set="chapter8", order=13, title="Gradient paths in a residual network",
    source="Chapter 8, exercise 8.13",
    statement="A network of three residual blocks maps h_0 to h_3, each block adding a branch "
              "F_l to its input. Trace how the gradient of a loss L flows back to h_0.",
    parts=(
        Part("a", "Write the forward equations for h_1, h_2 and h_3 with their skip "
                  "connections.", solve_a),
        Part("b", "Expand dL/dh_0 by the chain rule and show that it has 2^3 = 8 terms, one "
                  "for each way of going through or around each block.", solve_b),
        Part("c", "Show that one of the eight paths carries no Jacobian factor at all, and "
                  "explain how that keeps the gradient from vanishing.", solve_c),
    ),
)
