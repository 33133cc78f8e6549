"""Theory notebook, section 6: receptive field and jump through four 3x3 layers.

The per-layer field and jump come from the engine's recurrence; for a symbolic chain of four
layers the recurrence is proved equal to Araujo et al.'s closed form (a sum over layers of
k_l - 1 times the product of the earlier strides), which is then evaluated.  Cross-checks:
walking back from one output unit through the layers, and the support of that unit's input
gradient from the derived backward formulas (NumPy), plus PyTorch autograd where installed.
The figure is drawn from the same numbers.
"""

from derive.book import Part, Problem, Sheet

KERNEL = 3
STRIDES = (1, 2, 1, 2)


def _walk_back(unit: int = 0) -> set[int]:
    """Brute force: the input positions one top-layer unit depends on."""
    seen = {unit}
    for s in reversed(STRIDES):
        seen = {s * i + u for i in seen for u in range(KERNEL)}
    return seen


def _gradient_rows(length: int) -> int:
    """Non-zero rows of d(top unit 0)/d(input), by the derived backward formulas."""
    import numpy as np

    from derive.numeric import conv2d, conv2d_backward

    w = np.ones((1, 1, KERNEL, KERNEL))
    acts = [np.random.default_rng(0).random((1, 1, length, length))]
    for s in STRIDES:
        acts.append(conv2d(acts[-1], w, stride=s))
    grad = np.zeros_like(acts[-1])
    grad[0, 0, 0, 0] = 1.0
    for level in range(len(STRIDES), 0, -1):
        grad = conv2d_backward(acts[level - 1], w, grad, stride=STRIDES[level - 1])[0]
    return int(np.count_nonzero(np.abs(grad[0, 0]).sum(axis=1)))


def _torch_rows(torch, length: int) -> int:
    """The same gradient support by PyTorch autograd."""
    x = torch.rand(1, 1, length, length, dtype=torch.float64, requires_grad=True)
    out = x
    for s in STRIDES:
        out = torch.nn.functional.conv2d(out, torch.ones(1, 1, KERNEL, KERNEL,
                                                         dtype=torch.float64), stride=s)
    out[0, 0, 0, 0].backward()
    return int((x.grad[0, 0].abs().sum(dim=1) != 0).sum())


def _figures():
    from derive.book import figures
    return figures


def solve(sheet: Sheet) -> None:
    import sympy

    from derive.conv.layers import Layer
    from derive.conv.receptive import receptive_field, receptive_field_table

    layers = [Layer("conv", kernel=KERNEL, stride=s, name=f"layer {i + 1}")
              for i, s in enumerate(STRIDES)]
    table = receptive_field_table(layers)
    sheet.text("Each layer adds $(K - 1)*J$ to the field $R$, where $J$ is the current jump, "
               "and multiplies the jump by its stride:")
    sheet.table(["after", "kernel", "stride", "field $R$", "jump $J$"],
                [(name, KERNEL, s, f.size, f.jump) for (name, f), s in zip(table, STRIDES)])

    depth = len(STRIDES)
    kb, sb = sympy.IndexedBase("k"), sympy.IndexedBase("s")
    l, i = (sympy.Symbol(n, integer=True, positive=True) for n in "li")
    chain = [Layer("conv", kernel=kb[n], stride=sb[n]) for n in range(1, depth + 1)]
    recurrence = receptive_field(chain)
    nested = kb[depth] - 1
    for n in range(depth - 1, 0, -1):
        nested = (kb[n] - 1) + sb[n] * nested
    sheet.text(f"For any {depth} layers with kernels $k[l]$ and strides $s[l]$, the "
               "recurrence unrolled from the last layer back is a nested sum; expanding it "
               "gives Araujo et al.'s closed form:")
    sheet.derive("R", [(recurrence.size, "the recurrence, unrolled and expanded"),
                       (1 + nested, "regrouped from the last layer back"),
                       (1 + sympy.Sum((kb[l] - 1) * sympy.Product(sb[i], (i, 1, l - 1)),
                                      (l, 1, depth)),
                        "each layer adds $k[l] - 1$ times the product of the earlier "
                        "strides")])
    sheet.derive("J", [(recurrence.jump, "the recurrence, unrolled"),
                       (sympy.Product(sb[i], (i, 1, depth)), "the product of the strides")])
    values = {kb[n]: sympy.Integer(KERNEL) for n in range(1, depth + 1)}
    values.update({sb[n]: sympy.Integer(v) for n, v in enumerate(STRIDES, start=1)})
    with sympy.evaluate(False):
        size_plugged = (1 + nested).xreplace(values)
        jump_plugged = recurrence.jump.xreplace(values)
    final = table[-1][1]
    sheet.derive("R", [(size_plugged, f"$k[l] == {KERNEL}$ and strides "
                                      + ", ".join(map(str, STRIDES))),
                       (final.size, "evaluate")])
    sheet.derive("J", [(jump_plugged, "product of the strides"), (final.jump, "evaluate")])

    seen = _walk_back()
    sheet.numeric(final.size, max(seen) - min(seen) + 1, why="the receptive field $R$",
                  method="brute-force walk back from one output unit through the four layers")
    length = final.size + 2 * final.jump
    sheet.numeric(final.size, _gradient_rows(length), why="the receptive field $R$",
                  method=f"the non-zero rows of the input gradient of one output unit, with "
                         f"all-ones kernels on a {length}×{length} input of uniform random "
                         "values (seed 0), by the derived backward formulas (NumPy)")
    sheet.numeric_if_installed("torch", final.size, lambda torch: _torch_rows(torch, length),
                               method="the same gradient by PyTorch's autograd",
                               why="the receptive field $R$")
    sheet.figure(_figures().receptive_growth(
        layers, name="growth",
        caption="Receptive-field growth through the four layers: filled units are those the "
                "first top-layer unit depends on; strides spread the upper layers out."))
    before_last = table[-2][1]
    sheet.text("The strided layers double the jump, so the layers after them grow the field "
               f"faster: the last layer adds $(K - 1)*J == {KERNEL - 1}*{before_last.jump} "
               f"== {(KERNEL - 1) * before_last.jump}$ positions.")
    sheet.answer("(R, J)", (final.size, final.jump))


PROBLEM = Problem(
    id="theory-6", set="theory", order=6, title="Receptive field through layers",
    source="Theory notebook, section 6",
    statement=(f"Four {KERNEL}×{KERNEL} convolutions with strides {STRIDES} (no padding) are "
               "stacked. Track the receptive field R and the jump J (input positions between "
               "neighbouring units) after each layer."),
    parts=(Part("", "Give R and J after every layer, and their final values.", solve),),
)
