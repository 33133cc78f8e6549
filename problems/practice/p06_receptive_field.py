"""Practice exercise 6: the receptive field of two stacked 3x3, stride-1 convolutions.

The field comes from the engine's layer recurrence and from its closed form for L identical
layers (a sum evaluated by the checker), and is cross-checked twice: by enumerating the input
positions one output unit depends on, and by the support of that unit's input gradient
computed with the derived backward formulas (a "controlled input" test).
"""

from derive.book import Part, Problem, Sheet

KERNEL, STRIDE, DEPTH = 3, 1, 2


def _seen_positions(kernels_strides: list[tuple[int, int]], unit: int = 0) -> set[int]:
    """Brute force: walk back from one output unit, layer by layer, collecting positions."""
    seen = {unit}
    for k, s in reversed(kernels_strides):
        seen = {s * i + u for i in seen for u in range(k)}
    return seen


def _gradient_support(length: int) -> int:
    """Rows of the input gradient of output unit (0, 0) that are non-zero (NumPy)."""
    import numpy as np

    from derive.numeric import conv2d, conv2d_backward

    w = np.ones((1, 1, KERNEL, KERNEL))
    acts = [np.random.default_rng(0).random((1, 1, length, length))]
    for _ in range(DEPTH):
        acts.append(conv2d(acts[-1], w, stride=STRIDE))
    grad = np.zeros_like(acts[-1])
    grad[0, 0, 0, 0] = 1.0
    for level in range(DEPTH, 0, -1):
        grad = conv2d_backward(acts[level - 1], w, grad, stride=STRIDE)[0]
    return int(np.count_nonzero(np.abs(grad[0, 0]).sum(axis=1)))


def _figures():
    from derive.book import figures
    return figures


def solve(sheet: Sheet) -> None:
    import sympy

    from derive.conv.layers import Layer
    from derive.conv.receptive import receptive_field_table, repeated_receptive_field
    from derive.symbols import syms

    layers = [Layer("conv", kernel=KERNEL, stride=STRIDE, name=f"conv {i + 1}")
              for i in range(DEPTH)]
    sheet.text("Going from the input towards the output, a layer with kernel $K$ and stride "
               "$S$ grows the field $R$ by $(K - 1)*J$, where $J$ is the current jump (the "
               "distance in input positions between neighbouring units), and multiplies the "
               "jump by $S$; the input itself has $R == 1$ and $J == 1$.")
    table = receptive_field_table(layers)
    sheet.table(["after", "kernel", "stride", "field $R$", "jump $J$"],
                [(name, KERNEL, STRIDE, f.size, f.jump) for name, f in table],
                caption="The engine's recurrence, layer by layer.")

    L, K = syms("L K")
    l = sympy.Symbol("l", integer=True, positive=True)
    general = repeated_receptive_field(L, K)
    sheet.text("For $L$ identical $K$×$K$ layers at stride 1 the jump stays 1, so each layer "
               "adds $K - 1$:")
    sheet.derive("R_L", [(1 + sympy.Sum(K - 1, (l, 1, L)), "one unit plus $K - 1$ per layer"),
                         (general.size, "the sum has $L$ equal terms")])
    with sympy.evaluate(False):
        substituted = general.size.xreplace({L: sympy.Integer(DEPTH), K: sympy.Integer(KERNEL)})
    field = table[-1][1]
    sheet.derive("R", [(substituted, f"$L == {DEPTH}$, $K == {KERNEL}$"),
                       (field.size, "evaluate")])

    seen = _seen_positions([(KERNEL, STRIDE)] * DEPTH)
    sheet.numeric(field.size, max(seen) - min(seen) + 1, why="the receptive field $R$",
                  method="brute-force walk back from one output unit through both layers")
    length = field.size + 4
    sheet.numeric(field.size, _gradient_support(length), why="the receptive field $R$",
                  method=f"the non-zero rows of the input gradient of one output unit, with "
                         f"all-ones kernels on a {length}×{length} input of uniform random "
                         "values (seed 0), by the derived backward formulas (NumPy)")
    sheet.figure(_figures().receptive_growth(
        layers, name="growth",
        caption="Receptive-field growth: the filled units are those the first unit of the "
                "top layer depends on."))
    sheet.answer("R", field.size)
    sheet.text(f"So one unit after two {KERNEL}×{KERNEL} layers sees a "
               f"{field.size}×{field.size} window of the input, the same window as a single "
               f"layer with a {field.size}×{field.size} kernel.")


PROBLEM = Problem(
    id="practice-6", set="practice", order=6, title="Receptive field",
    source="Exercises notebook, exercise 6",
    statement=(f"Stack {DEPTH} convolutions with {KERNEL}×{KERNEL} kernels and stride "
               f"{STRIDE}. How many input positions (per axis) does one unit of the second "
               "layer's output depend on?"),
    parts=(Part("", "Compute the receptive field size R after the two layers.", solve),),
)
