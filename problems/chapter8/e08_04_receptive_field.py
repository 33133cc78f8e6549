"""Exercise 8.4: receptive fields of three small stacks of 3x3 convolutions.

The field comes from the engine's forward recurrence (:mod:`derive.conv.receptive`), written
out layer by layer, and from the closed form ``R = 1 + sum_l (k_l - 1) * prod_{i<l} s_i``
whose terms are read off the same rows (each evaluation checked).  Two independent
cross-checks: walking back from one output unit and collecting the input positions it
depends on (set enumeration), and a perturbation test that runs the network forward in NumPy
(ones kernels, max pooling) and records which input rows change the output unit.  The growth
figure is drawn from the engine's numbers.
"""

from derive.book import Part, Problem, Sheet


def _layers(label: str):
    """The three networks of the exercise as layer specs (all stride and padding explicit)."""
    from derive.conv.layers import Layer

    if label == "a":
        return [Layer("conv", kernel=3, stride=1, name=f"conv{i}") for i in (1, 2, 3)]
    if label == "b":
        return [Layer("conv", kernel=3, stride=2, name="conv1"),
                Layer("conv", kernel=3, stride=2, name="conv2"),
                Layer("conv", kernel=3, stride=1, name="conv3")]
    return [Layer("conv", kernel=3, stride=1, name="conv1"),
            Layer("maxpool", kernel=2, stride=2, name="pool1"),
            Layer("conv", kernel=3, stride=1, name="conv2"),
            Layer("maxpool", kernel=2, stride=2, name="pool2"),
            Layer("conv", kernel=3, stride=1, name="conv3")]


def _walk_back(layers, unit: int = 0) -> set[int]:
    """Brute force: the input positions output ``unit`` depends on, layer by layer backwards.

    A unit ``i`` of a layer with kernel ``k``, stride ``s`` and padding ``p`` reads positions
    ``s*i + u - p`` (``u = 0..k-1``) of the layer below.
    """
    seen = {unit}
    for layer in reversed(layers):
        k, s, p = layer.kernel, layer.stride, layer.padding
        seen = {s * i + u - p for i in seen for u in range(k)}
    return seen


def _perturbation_rows(layers, length: int) -> int:
    """Forward passes in NumPy: input rows whose change moves output unit 0 (ones kernels,
    so a large bump anywhere in the field raises every window and every max above it)."""
    import numpy as np

    from derive.numeric import conv2d, max_pool2d

    def run(x):
        for layer in layers:
            if layer.kind == "conv":
                x = conv2d(x, np.ones((1, 1, layer.kernel, 1)), stride=(layer.stride, 1))
            else:
                x = max_pool2d(x, (layer.kernel, 1), stride=(layer.stride, 1))
        return x[0, 0, 0, 0]

    base = np.random.default_rng(4).random((1, 1, length, 1))
    ref = run(base)
    changed = 0
    for row in range(length):
        bumped = base.copy()
        bumped[0, 0, row, 0] += 1000.0
        changed += bool(run(bumped) != ref)
    return changed


def _figures():
    from derive.book import figures
    return figures


PROMPTS = {
    "a": "Three 3×3 convolutions, all with stride 1: receptive field of a unit after layer 3?",
    "b": "The same stack with stride 2 in layers 1 and 2 (layer 3 keeps stride 1): receptive "
         "field after layer 3?",
    "c": "Back to stride 1 everywhere, but with 2×2 max pooling (stride 2) after layers 1 and "
         "2: receptive field after layer 3?",
}


def _case(label: str):
    def solve(sheet: Sheet) -> None:
        import sympy

        from derive.conv.receptive import receptive_field, receptive_field_steps

        layers = _layers(label)
        if label == "a":
            sheet.text("From the input towards the output, a layer with kernel $k$ and stride "
                       "$s$ grows the field $R$ by $(k - 1)*J$, where $J$ is the current jump "
                       "(the input distance between neighbouring units of the layer below), "
                       "and multiplies the jump by $s$; the input starts at $R == 1$, "
                       "$J == 1$. Pooling is a window like any other.")
        rows = receptive_field_steps(layers)
        sheet.table(["layer", "kernel", "stride", "$R$ before", "$J$ before", "$R$ after",
                     "$J$ after"],
                    [(r.name, r.kernel, r.stride, r.before.size, r.before.jump, r.after.size,
                      r.after.jump) for r in rows],
                    caption="The engine's recurrence, layer by layer.")
        field = receptive_field(layers)
        with sympy.evaluate(False):
            terms = [sympy.Mul(r.kernel - 1, r.before.jump) for r in rows]
            closed = sympy.Add(sympy.Integer(1), *terms)
        sheet.derive("R", [(closed, "closed form: 1 plus, for every layer $l$, $k_l - 1$ "
                                    "times the product of the strides below layer $l$"),
                           (field.size, "evaluate")])
        if label == "a":
            from derive.conv.receptive import repeated_receptive_field
            from derive.symbols import syms

            L, = syms("L")
            l = sympy.Symbol("l", integer=True, positive=True)
            general = repeated_receptive_field(L, 3)
            sheet.text("For $L$ identical 3×3 layers at stride 1 every layer adds 2:")
            sheet.derive("R_L", [(1 + sympy.Sum(2, (l, 1, L)), "one unit plus 2 per layer"),
                                 (general.size, "the sum has L equal terms")])
        seen = _walk_back(layers)
        sheet.numeric(field.size, max(seen) - min(seen) + 1, why="receptive field $R$",
                      method="brute force: walk back from one output unit and collect the "
                             "input positions it reads")
        sheet.numeric(field.size, len(seen), why="receptive field $R$",
                      method="the collected positions form one contiguous block (their count)")
        length = field.size + 2 * field.jump + 2
        sheet.numeric(field.size, _perturbation_rows(layers, length), why="receptive field $R$",
                      method=f"perturbation test: NumPy forward passes with all-ones kernels "
                             f"on a length-{length} random input (uniform, NumPy's generator "
                             "with seed 4), raising each input row by 1000 in turn and "
                             "counting the rows that move the output unit")
        sheet.figure(_figures().receptive_growth(
            layers, name=f"growth-{label}",
            caption="Receptive-field growth: the filled units are those the first unit of "
                    "layer 3 depends on; $R$ is the field and $J$ the jump after each "
                    "layer."))
        if label == "b":
            sheet.text("Striding early multiplies the jump, so every later 3×3 layer adds "
                       f"$2*{rows[-1].before.jump}$ positions instead of 2.")
        if label == "c":
            sheet.text("Each pooling layer adds $2 - 1$ times the current jump and doubles "
                       f"the jump, so the last 3×3 layer adds "
                       f"$2*{rows[-1].before.jump} == {2 * rows[-1].before.jump}$ positions. "
                       "(This is the "
                       "theoretical field; the 'effective' field actually used by a trained "
                       "network is usually smaller and concentrated near the centre.)")
        sheet.answer("receptive field", f"{field.size}×{field.size}")

    return solve


PROBLEM = Problem(
    id="8.4", set="chapter8", order=4, title="Receptive fields of small stacks",
    source="Chapter 8, exercise 8.4",
    statement="A network stacks three convolutional layers with 3×3 kernels (no padding "
              "needed for the question: padding shifts the field, it does not change its "
              "size). Find the receptive field of one unit of the third layer's output.",
    parts=tuple(Part(label, PROMPTS[label], _case(label)) for label in ("a", "b", "c")),
)
