"""Exercise 8.14: measured gradient flow in deep plain and residual networks.

The exercise's measurement (PyTorch networks of 20 and 50 convolution + batch-norm layers
on 64 x 32 x 32 maps) is out of scope for the book: it is seconds of CPU per run, needs
PyTorch, and its numbers depend on the initialisation.  What the book does instead is a
small NumPy demonstration with random linear maps W_l (entries N(0, sigma^2/n)), where the
expected behaviour can be *derived*: one plain layer multiplies the expected squared gradient
norm by sigma^2, one residual layer (I + W_l) by 1 + sigma^2 (derivations checked by the
checker).  The backpropagated norms are computed with transposed products, cross-checked
against explicit Jacobian products, central finite differences and, where PyTorch is
installed, autograd (the page is the same either way); the figure is drawn from the
computed norms.  Gradients are compared relative to their largest entry, since the plain
stack's input gradient is tiny.
"""

from functools import lru_cache

from derive.book import Part, Problem, Sheet

WIDTH = 64            # n: size of the vectors h_l
GAIN2 = "1/4"         # sigma^2 of the demonstration (a per-layer norm gain of 1/2; our choice)
SEED = 14
REASON = ("the exercise's measurement runs PyTorch networks of 20 and 50 convolution and "
          "batch-norm layers on 64×32×32 maps (seconds per run, PyTorch required, numbers "
          "that depend on the initialisation); the book gives a small NumPy demonstration "
          "with random linear maps instead, where the expected behaviour is derived")
SAME = "as for part (a): the measurement itself is not run; the NumPy demonstration continues"


def _sigma2():
    import sympy
    return sympy.Rational(GAIN2)


def _sci(value: float, digits: int = 1) -> str:
    """A number in scientific notation as inline maths: ``$8.7*10**(-7)$``."""
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    return f"${mantissa}*10**({int(exponent)})$"


def _gain_math() -> str:
    """The demonstration's sigma^2 in the claim language."""
    g = _sigma2()
    return f"$sigma**2 == Rational({g.p}, {g.q})$"


@lru_cache(maxsize=None)
def _norms(depth: int, residual: bool) -> tuple[float, ...]:
    """||dL/dh_l|| for l = 0..depth, L = u . h_depth, by backpropagation (transposes)."""
    import numpy as np

    maps, u = _maps(depth)
    g = u.copy()
    out = [float(np.linalg.norm(g))]
    for W in reversed(maps):
        g = g + W.T @ g if residual else W.T @ g
        out.append(float(np.linalg.norm(g)))
    return tuple(reversed(out))


@lru_cache(maxsize=None)
def _maps(depth: int):
    import numpy as np

    rng = np.random.default_rng(SEED)
    scale = float(_sigma2()) ** 0.5 / WIDTH ** 0.5
    maps = tuple(scale * rng.standard_normal((WIDTH, WIDTH)) for _ in range(depth))
    return maps, rng.standard_normal(WIDTH)


def _input_gradient_explicit(depth: int, residual: bool):
    """dL/dh_0 from the explicit Jacobian product (forward order), an independent route."""
    import numpy as np

    maps, u = _maps(depth)
    jac = np.eye(WIDTH)
    for W in maps:                       # h_l = M_l h_{l-1}; dh_L/dh_0 = M_L ... M_1
        jac = ((np.eye(WIDTH) + W) if residual else W) @ jac
    return u @ jac


def _loss(depth: int, residual: bool):
    maps, u = _maps(depth)

    def f(h):
        for W in maps:
            h = h + W @ h if residual else W @ h
        return float(u @ h)
    return f


def _derivations(sheet: Sheet) -> None:
    import sympy

    sigma, G = sympy.Symbol("sigma", positive=True), sympy.Symbol("G", positive=True)
    s2 = sigma ** 2
    n = sympy.Symbol("n", integer=True, positive=True)
    j = sympy.Symbol("j", integer=True, positive=True)
    sheet.text("The demonstration: layers $h_l$ of width $n$, a plain layer multiplying by a "
               "random matrix $W$, a residual layer by $I + W$, and a gradient $g$ arriving "
               "from above, with squared norm $G$. Let the entries of $W$ be independent, "
               "normal with mean 0 and variance $sigma**2/n$. Backpropagation multiplies $g$ "
               "by the transpose of $W$: entry $j$ of the result is the sum over $i$ of "
               "$W[i, j]*g[i]$, and its square has mean $sigma**2*G/n$ (the variance times "
               "the sum of the $g[i]**2$), because the cross terms have mean 0:")
    sheet.derive("expected squared norm, plain layer",
                 [(sympy.Sum(s2 / n * G, (j, 1, n)), "add the $n$ entries"),
                  (s2 * G, "$n$ equal terms")], assume=["sigma > 0", "G > 0"])
    sheet.text("Through a residual layer the backpropagated vector is $g$ plus the same "
               "product; its squared norm is $G$, plus twice their inner product (mean 0), "
               "plus the term above:")
    sheet.derive("expected squared norm, residual layer", [
        (G + 2 * 0 + s2 * G, "expand the square; the cross term has mean 0"),
        ((1 + s2) * G, "collect")], assume=["sigma > 0", "G > 0"])
    sheet.text("So through $l$ layers the expected squared norm is multiplied by "
               "$sigma**(2*l)$ in the plain stack and by $(1 + sigma**2)**l$ in the residual "
               f"stack. Here {_gain_math()}, and the random matrices and the vector defining "
               "the loss are drawn from NumPy's generator with seed "
               f"{SEED} (the $W_l$ first, then the loss vector, standard normal entries "
               "scaled to the variance above).")


def _cross_checks(sheet: Sheet, depth: int) -> None:
    import numpy as np

    from derive.numeric import directional_derivative

    sheet.text(f"The input gradients of the {depth}-layer stacks, computed by backpropagation "
               "(transposes, from the output down), are compared with independent "
               "computations; each is divided by its largest entry, because the plain "
               "stack's input gradient is tiny.")
    for residual in (False, True):
        name = "residual" if residual else "plain"
        maps, u = _maps(depth)
        g = u.copy()
        for W in reversed(maps):
            g = g + W.T @ g if residual else W.T @ g
        explicit = _input_gradient_explicit(depth, residual)
        scale = float(np.max(np.abs(explicit)))
        sheet.numeric(g / scale, explicit / scale, tol=1e-12,
                      why=f"{name} stack: input gradient over its largest entry",
                      method="the loss vector times the explicit product of the layer "
                             "Jacobians (NumPy)")
        rng = np.random.default_rng(SEED + 1)
        h0 = rng.standard_normal(WIDTH)
        directions = rng.standard_normal((3, WIDTH))
        fd = np.array([directional_derivative(_loss(depth, residual), h0, v, eps=1e-3)
                       for v in directions])
        norm = float(np.max(np.abs(directions @ g)))
        sheet.numeric(directions @ g / norm, fd / norm, tol=1e-8,
                      why=f"{name} stack: derivatives along 3 random directions, over the "
                          "largest",
                      method="central finite differences of the loss (the network is linear, "
                             "so they are exact up to rounding; NumPy, seed "
                             f"{SEED + 1} for the point and the directions)")

        def by_autograd(torch, maps=maps, u=u, h0=h0, residual=residual):
            h = torch.tensor(h0, requires_grad=True)
            out = h
            for W in maps:
                Wt = torch.tensor(W)
                out = out + Wt @ out if residual else Wt @ out
            (torch.tensor(u) @ out).backward()
            return h.grad.numpy() / scale

        sheet.numeric_if_installed("torch", g / scale, by_autograd, tol=1e-12,
                                   why=f"{name} stack: input gradient over its largest entry",
                                   method="PyTorch's autograd in float64")


def _table(sheet: Sheet, depth: int) -> None:
    plain, res = _norms(depth, False), _norms(depth, True)
    s2 = float(_sigma2())
    rows = []
    for l in sorted({0, 1, depth // 4, depth // 2, 3 * depth // 4, depth - 1, depth}):
        k = depth - l
        rows.append((l, _round(plain[l]), _round(plain[depth] * s2 ** (k / 2)),
                     _round(res[l]), _round(res[depth] * (1 + s2) ** (k / 2))))
    sheet.table(["layer $l$", "plain", "plain, expected", "residual", "residual, expected"],
                rows,
                caption=f"Norms of the gradient of the loss at layer $l$, {depth} layers of "
                        f"width {WIDTH}, {_gain_math()}; 'expected' is the norm at the output "
                        "layer $L$ times $sigma**(L - l)$ (plain) or "
                        "$(1 + sigma**2)**((L - l)/2)$ (residual).")


def _round(value: float) -> float:
    """A norm for a table: three significant digits (a value, not a rounding residue)."""
    return float(f"{value:.3g}")


def solve_a(sheet: Sheet) -> None:
    _derivations(sheet)
    _cross_checks(sheet, 20)
    plain = _norms(20, False)
    sheet.text(f"Plain stack, 20 layers: the norm of the input gradient is "
               f"{_sci(plain[0] / plain[20])} times that of the output gradient, close to the "
               f"derived scale $sigma**20$ = {_sci(float(_sigma2()) ** 10)}.")


def solve_b(sheet: Sheet) -> None:
    res = _norms(20, True)
    sheet.text(f"Residual stack with the same maps, 20 layers: the norm of the input gradient "
               f"is {res[0] / res[20]:.2f} times that of the output gradient (derived scale "
               f"$(1 + sigma**2)**10$ = {(1 + float(_sigma2())) ** 10:.2f}); it does not "
               "vanish, because the identity path carries $g$ unchanged (exercise 8.13).")
    _table(sheet, 20)


def _plot(depth: int):
    import math

    from derive.book import Figure

    plain, res = _norms(depth, False), _norms(depth, True)
    logs = [math.log10(v) for v in plain + res]
    lo, hi = math.floor(min(logs)), math.ceil(max(logs))
    w_cm, h_cm, w_px, h_px, left, top = 10.0, 5.0, 520, 260, 60, 20

    def xy_cm(l, v):
        return l / depth * w_cm, (math.log10(v) - lo) / (hi - lo) * h_cm

    def xy_px(l, v):
        return left + l / depth * w_px, top + h_px - (math.log10(v) - lo) / (hi - lo) * h_px

    tikz = [r"\begin{tikzpicture}[font=\footnotesize]",
            f"\\draw[->] (0,0) -- ({w_cm + 0.3},0) node[right] {{layer $l$}};",
            f"\\draw[->] (0,0) -- (0,{h_cm + 0.3}) node[above] "
            r"{$\log_{10}\lVert\partial L/\partial h_l\rVert$};"]
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w_px + left + 130}" '
           f'height="{h_px + top + 40}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w_px + left + 130}" height="{h_px + top + 40}" fill="white"/>',
           f'<line x1="{left}" y1="{top + h_px}" x2="{left + w_px}" y2="{top + h_px}" '
           'stroke="black"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + h_px}" stroke="black"/>',
           f'<text x="{left + w_px / 2}" y="{top + h_px + 32}" text-anchor="middle">layer l'
           '</text>']
    for tick in range(lo, hi + 1, max(1, (hi - lo) // 6)):
        y = (tick - lo) / (hi - lo) * h_cm
        tikz.append(f"\\draw (0,{y:.2f}) -- (-0.1,{y:.2f}) node[left] {{{tick}}};")
        py = top + h_px - (tick - lo) / (hi - lo) * h_px
        svg.append(f'<text x="{left - 6}" y="{py + 4:.1f}" text-anchor="end">1e{tick}</text>')
    for l in range(0, depth + 1, max(1, depth // 5)):
        tikz.append(f"\\draw ({l / depth * w_cm:.2f},0) -- ({l / depth * w_cm:.2f},-0.1) "
                    f"node[below] {{{l}}};")
        svg.append(f'<text x="{left + l / depth * w_px:.1f}" y="{top + h_px + 16}" '
                   f'text-anchor="middle">{l}</text>')
    for values, colour, hexc, name in ((plain, "red!70!black", "#b03030", "plain"),
                                       (res, "blue!70!black", "#23408f", "residual")):
        pts = " -- ".join(f"({x:.2f},{y:.2f})" for x, y in
                          (xy_cm(l, v) for l, v in enumerate(values)))
        tikz.append(f"\\draw[thick,{colour}] {pts};")
        x, y = xy_cm(0, values[0])
        tikz.append(f"\\node[above right,{colour}] at ({x:.2f},{y:.2f}) {{{name}}};")
        path = " ".join(f"{'M' if l == 0 else 'L'} {x:.1f} {y:.1f}" for l, (x, y) in
                        enumerate(xy_px(l, v) for l, v in enumerate(values)))
        svg.append(f'<path d="{path}" fill="none" stroke="{hexc}" stroke-width="2"/>')
        x, y = xy_px(0, values[0])
        svg.append(f'<text x="{x + 6:.1f}" y="{y - 6:.1f}" fill="{hexc}">{name}</text>')
    tikz.append(r"\end{tikzpicture}")
    svg.append("</svg>")
    return Figure(tikz="\n".join(tikz), svg="\n".join(svg), name=f"gradient-norms-{depth}",
                  caption=f"Gradient norms per layer (log scale), {depth} random linear layers "
                          f"of width {WIDTH}, variance factor a quarter: the plain stack's "
                          "gradient "
                          "decays geometrically towards the input (left), the residual "
                          "stack's does not.")


def solve_c(sheet: Sheet) -> None:
    plain = _norms(20, False)
    steps_down = sum(1 for a, b in zip(plain, plain[1:]) if a < b)
    sheet.figure(_plot(20))
    sheet.numeric(steps_down, 20, why="layers where the plain gradient is smaller below than "
                                      "above",
                  method="the number of layers: the plain norm falls at every one of them")
    sheet.text("In this demonstration the plain stack's gradient norm decreases at every layer "
               "towards the input; the residual stack's stays within a modest factor of the "
               "output gradient (it even grows slowly, by $sqrt(1 + sigma**2)$ per layer in "
               "expectation, because the branches add to the identity path). With batch "
               "norm, as in the exercise, the actual curves depend on the normalisation and "
               "the initialisation and must be measured.")


def solve_d(sheet: Sheet) -> None:
    import math

    import numpy as np

    depth = 50
    _cross_checks(sheet, depth)
    sheet.figure(_plot(depth))
    _table(sheet, depth)
    plain = _norms(depth, False)
    s2 = float(_sigma2())
    per_layer = math.log(plain[0] / plain[depth]) / depth
    spread = 4 / math.sqrt(2 * WIDTH * depth)     # four standard errors of the mean
    sheet.numeric(math.log(s2) / 2, per_layer, tol=round(spread, 3),
                  why="mean log-decay of the plain gradient per layer, $log(sigma)$",
                  method=f"the log of the measured norm ratio over {depth} layers, divided by "
                         "the depth; tolerance four standard errors, $4/sqrt(2*n*L)$")
    eps = float(np.finfo(np.float32).eps)
    tiny = float(np.finfo(np.float32).tiny)
    l_eps = math.ceil(math.log(eps) / math.log(s2 ** 0.5))
    l_tiny = math.ceil(math.log(tiny) / math.log(s2 ** 0.5))
    measured = next((depth - l for l in range(depth, -1, -1)
                     if plain[l] / plain[depth] < eps), None)
    sheet.text(f"'Numerically zero' needs a threshold. Relative to the output gradient, the "
               f"plain gradient falls below float32's machine epsilon $epsilon$ "
               f"({_sci(eps)}) after about $log(epsilon)/log(sigma)$ = {l_eps} layers "
               f"(measured: {measured}); from there on it is lost when added to anything of "
               "the output gradient's size. It would underflow to zero in float32 (smallest "
               f"normal number {_sci(tiny)}) only after about {l_tiny} layers, beyond the 50 "
               "of the exercise. The residual stack never approaches either threshold. For "
               "the exercise's batch-norm networks the depth has to be measured.")
    sheet.answer("plain stack, below float32 epsilon after", l_eps, unit="layers")


PROBLEM = Problem(
    id="8.14", set="chapter8", order=14, title="Measuring gradient flow",
    source="Chapter 8, exercise 8.14",
    statement="Measure how the gradient norm changes from layer to layer in deep networks "
              "with and without skip connections.",
    parts=(
        Part("a", "Plain network: 20 layers of 3×3 convolution with batch norm; pass a random "
                  "input and record the norm of the loss gradient at every layer $h_l$.",
             solve_a,
             scope="out-of-scope", reason=REASON),
        Part("b", "The same layers with skip connections (a residual network): the same "
                  "gradient norms.", solve_b, scope="out-of-scope", reason=SAME),
        Part("c", "Plot both; the plain network's norms should fall steadily while the "
                  "residual network's stay level.", solve_c, scope="out-of-scope",
             reason=SAME),
        Part("d", "Repeat with 50 layers: from what depth is the plain network's gradient "
                  "numerically zero?", solve_d, scope="out-of-scope", reason=SAME),
    ),
)
