"""Theory notebook, section 6: receptive field and jump through four 3x3 layers.

The per-layer field and jump come from the engine's recurrence; for a symbolic chain of four
layers the recurrence is proved equal to Araujo et al.'s closed form (a sum over layers of
k_l - 1 times the product of the earlier strides), which is then evaluated.  Cross-checks:
walking back from one output unit through the layers, and the support of that unit's input
gradient from the derived backward formulas (NumPy), plus PyTorch autograd when installed.
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


def _torch_rows(length: int):
    try:
        import torch
    except ImportError:  # PyTorch is optional
        return None
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
    sheet.text("Each layer adds (K - 1) times the current jump to the field and multiplies "
               "the jump by its stride (derive.conv.receptive.receptive_field_table):")
    sheet.table(["after", "kernel", "stride", "field R", "jump J"],
                [(name, KERNEL, s, f.size, f.jump) for (name, f), s in zip(table, STRIDES)])

    depth = len(STRIDES)
    kb, sb = sympy.IndexedBase("k"), sympy.IndexedBase("s")
    l, i = (sympy.Symbol(n, integer=True, positive=True) for n in "li")
    chain = [Layer("conv", kernel=kb[n], stride=sb[n]) for n in range(1, depth + 1)]
    recurrence = receptive_field(chain)
    nested = kb[depth] - 1
    for n in range(depth - 1, 0, -1):
        nested = (kb[n] - 1) + sb[n] * nested
    sheet.text(f"For any {depth} layers with kernels k_l and strides s_l, the recurrence "
               "unrolled from the last layer back is a nested sum; expanding it gives "
               "Araujo et al.'s closed form:")
    sheet.derive("R", [(recurrence.size, "the engine's recurrence "
                                         "(derive.conv.receptive.receptive_field), expanded"),
                       (1 + nested, "regrouped from the last layer back"),
                       (1 + sympy.Sum((kb[l] - 1) * sympy.Product(sb[i], (i, 1, l - 1)),
                                      (l, 1, depth)),
                        "each layer adds k_l - 1 times the product of the earlier strides")])
    sheet.derive("J", [(recurrence.jump, "the engine's recurrence"),
                       (sympy.Product(sb[i], (i, 1, depth)), "the product of the strides")])
    values = {kb[n]: sympy.Integer(KERNEL) for n in range(1, depth + 1)}
    values.update({sb[n]: sympy.Integer(v) for n, v in enumerate(STRIDES, start=1)})
    with sympy.evaluate(False):
        size_plugged = (1 + nested).xreplace(values)
        jump_plugged = recurrence.jump.xreplace(values)
    final = table[-1][1]
    sheet.derive("R", [(size_plugged, f"k_l = {KERNEL}, strides {STRIDES}"),
                       (final.size, "evaluate")])
    sheet.derive("J", [(jump_plugged, "product of the strides"), (final.jump, "evaluate")])

    seen = _walk_back()
    sheet.numeric(final.size, max(seen) - min(seen) + 1,
                  method="brute-force walk back from one output unit through the four layers")
    length = final.size + 2 * final.jump
    sheet.numeric(final.size, _gradient_rows(length),
                  method=f"non-zero rows of the input gradient of one output unit on a "
                         f"{length}x{length} input (derived backward formulas, NumPy)")
    rows = _torch_rows(length)
    if rows is not None:
        sheet.numeric(final.size, rows, method="the same gradient by PyTorch autograd "
                                               "(PyTorch installed)")
    sheet.figure(_figures().receptive_growth(
        layers, name="growth",
        caption="Receptive-field growth through the four layers: filled units are those the "
                "first top-layer unit depends on; strides spread the upper layers out."))
    sheet.text("The strided layers double the jump, so the layers after them grow the field "
               "twice as fast: the last layer adds 2 x 2 = 4 positions.")
    sheet.answer("(R, J)", (final.size, final.jump))


PROBLEM = Problem(
    id="theory-6", set="theory", order=6, title="Receptive field through layers",
    source="Theory notebook, section 6",
    statement=(f"Four {KERNEL}x{KERNEL} convolutions with strides {STRIDES} (no padding) are "
               "stacked. Track the receptive field R and the jump J (input positions between "
               "neighbouring units) after each layer."),
    parts=(Part("", "Give R and J after every layer, and their final values.", solve),),
)
