"""Practice exercise 2: the output size of one convolution along a spatial axis.

The size is derived from the indexed-sum model (count the output positions whose window stays
inside the padded input), evaluated at the exercise's numbers, and cross-checked by
enumerating the window positions one by one (and by PyTorch's shapes where it is installed).
"""

from derive.book import Part, Problem, Sheet

H, K, P, S, D = 32, 3, 1, 1, 1


def _windows_inside(n: int, k: int, p: int, s: int, d: int) -> int:
    """Brute force: slide the window start over the padded input, keep those that fit."""
    padded = n + 2 * p
    return sum(1 for start in range(0, padded, s) if start + d * (k - 1) <= padded - 1)


def solve(sheet: Sheet) -> None:
    import sympy

    from derive.conv.shapes import output_size, output_size_assumptions, output_size_derivation
    from derive.symbols import syms

    h, k, p, s, d = syms("H K P S D")
    sheet.text("Output position $i$ of the model reads the padded input at $S*i + D*u$ for "
               "the taps $u$ from 0 to $K - 1$; it is valid when its last tap lies inside the "
               "padded input. Counting the valid positions gives the general size:")
    sheet.derive("H_out", output_size_derivation(h, k, p, s, d),
                 assume=["P >= 0", *output_size_assumptions(h, k, p, d)])

    size = output_size(H, K, padding=P, stride=S, dilation=D)
    general = output_size(h, k, p, s, d)
    with sympy.evaluate(False):
        substituted = general.xreplace({h: sympy.Integer(H), k: sympy.Integer(K),
                                        p: sympy.Integer(P), s: sympy.Integer(S),
                                        d: sympy.Integer(D)})
    sheet.derive("H_out", [
        (substituted, f"substitute $H == {H}$, $K == {K}$, $P == {P}$, $S == {S}$, "
                      f"$D == {D}$"),
        (size, "evaluate"),
    ])
    sheet.text("The same count read directly off the model at these numbers:")
    sheet.derive("H_out", output_size_derivation(H, K, P, S, D))
    sheet.numeric(size, _windows_inside(H, K, P, S, D), why="the output length $H_out$",
                  method="brute-force enumeration of window start positions")
    sheet.numeric_if_installed(
        "torch", size,
        lambda torch: int(torch.nn.functional.conv2d(
            torch.zeros(1, 1, H, H), torch.zeros(1, 1, K, K), stride=S, padding=P,
            dilation=D).shape[-1]),
        method="the output shape of PyTorch's conv2d", why="the output length $H_out$")
    from derive.book import figures
    sheet.figure(figures.conv_windows(H, K, padding=P, stride=S, dilation=D))
    sheet.text(f"A {K}×{K} kernel with padding {P} at stride 1 keeps the size: the padding "
               f"adds $2*P == {2 * P}$ positions and the window removes $K - 1 == {K - 1}$.")
    sheet.answer("H_out", size)


PROBLEM = Problem(
    id="practice-2", set="practice", order=2, title="Output size",
    source="Exercises notebook, exercise 2",
    statement=(f"A convolution is applied along an axis of length H = {H} with a kernel of "
               f"size K = {K}, zero padding P = {P} on each side, stride S = {S} and "
               f"dilation D = {D}. How many output positions are there along that axis?"),
    parts=(Part("", "Derive the output length and evaluate it for these numbers.", solve),),
)
