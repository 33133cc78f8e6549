"""Formula sheet, section 2: output shape arithmetic.

The sizes come from :func:`derive.conv.shapes.output_size` and its derivation from the
indexed-sum model (:func:`derive.conv.shapes.output_size_derivation`), each line checked;
the cross-checks enumerate window positions by brute force over a grid of configurations
and, where PyTorch is installed, compare with its convolution's output shapes (the page
reads the same either way).
"""

from derive.book import Part, Problem, Sheet


def _ints(a):
    """An integer array when every entry is an integer (float64 arithmetic on small integers
    is exact), so the comparison is exact; otherwise the float array itself."""
    import numpy as np

    a = np.asarray(a, dtype=float)
    return np.rint(a).astype(np.int64) if np.all(a == np.rint(a)) else a


def _count_windows(n: int, k: int, p: int = 0, s: int = 1, d: int = 1) -> int:
    """Brute force: window starts 0, s, 2s, ... in the padded input whose last tap fits."""
    return sum(1 for t in range(0, n + 2 * p, s) if t + d * (k - 1) <= n + 2 * p - 1)


def _grid(max_n=9, max_k=4, max_p=2, max_s=3, max_d=2):
    for n in range(1, max_n + 1):
        for k in range(1, max_k + 1):
            for p in range(0, max_p + 1):
                for s in range(1, max_s + 1):
                    for d in range(1, max_d + 1):
                        if d * (k - 1) + 1 <= n + 2 * p:
                            yield n, k, p, s, d


def _size_steps(H, K, P, S, D, *, reads: str, room: str, last: str, i_max: str):
    """The engine's derivation of the output size from the model, each line justified in
    words; ``reads``, ``room``, ``last`` and ``i_max`` are the claim-language forms of the
    position tap u of output i reads, the padded length, the last tap of output i and the
    last output index for these sizes."""
    from derive.conv.shapes import output_size_derivation

    whys = (f"count the outputs $i$ from $0$ to $i_max$: by the model, output $i$ reads the "
            f"padded input at ${reads}$ for the taps $u$ from $0$ to $K - 1$; its last tap "
            f"${last}$ must be at most ${room} - 1$ (the padded input has ${room}$ positions), "
            f"so $i_max == {i_max}$",
            "a sum of ones over $i$ from $0$ to $i_max$ has $i_max + 1$ terms",
            "rearranged")
    steps = output_size_derivation(H, K, P, S, D)
    return [(e, why) for (e, _), why in zip(steps, whys)]


# ------------------------------------------------------------------------------ 2.1
def solve_2_1(sheet: Sheet) -> None:
    import sympy

    from derive.conv.model import conv_model
    from derive.conv.shapes import output_size, output_size_assumptions
    from derive.symbols import syms

    H, K, S = syms("H K S")
    view = conv_model(1, padding=0, dilation=1).axis_view(0)
    sheet.text("Relation: with stride $S$ the window of output $i$ starts at input position "
               "$S*i$, so consecutive outputs are $S$ input positions apart. Symbols: $H$ input "
               "length, $K$ kernel size, $S >= 1$ stride, no padding ($x_pad == x$), $i$ the "
               "output index, counted from $0$.")
    sheet.derive(view.lhs, [(view.rhs, "definition: the model along one axis at $P == 0$, "
                                       "$D == 1$")])
    sheet.derive("H_out", _size_steps(H, K, 0, S, 1, reads="S*i + u", room="H",
                                      last="S*i + K - 1", i_max="floor((H - K)/S)"),
                 assume=output_size_assumptions(H, K, 0))
    sheet.claim(output_size(H, K, 0, S), sympy.ceiling((H - K + 1) / S),
                why="equivalently, the number of multiples of $S$ from $0$ to $H - K$")
    cases = [(n, k, s) for n, k, p, s, d in _grid() if p == 0 and d == 1]
    sheet.numeric([output_size(n, k, 0, s) for n, k, s in cases],
                  [_count_windows(n, k, 0, s) for n, k, s in cases],
                  method="brute-force count of the window starts that fit",
                  why=f"output sizes for all {len(cases)} triples $H$, $K$, $S$ with "
                      f"$H <= 9$, $K <= 4$, $S <= 3$ and $K <= H$")
    sheet.answer("strided window", sympy.Eq(view.lhs, view.rhs, evaluate=False))


# ------------------------------------------------------------------------------ 2.2
def solve_2_2(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.shapes import output_size
    from derive.symbols import syms

    H, K, P = syms("H K P")
    sheet.text("Relation: $P$ zeros on each side make the input $H + 2*P$ long; at stride 1 "
               "there are $H + 2*P - K + 1$ windows. Symbols: $H$ input size, $K$ kernel size, "
               "$P >= 0$ padding per side, $K <= H + 2*P$.")
    sheet.derive("H_out", _size_steps(H, K, P, 1, 1, reads="i + u", room="H + 2*P",
                                      last="i + K - 1", i_max="H + 2*P - K"),
                 assume=["P >= 0", "H + 2*P >= K"])
    cases = [(n, k, p) for n, k, p, s, d in _grid() if s == 1 and d == 1]
    padded = [np.lib.stride_tricks.sliding_window_view(np.pad(np.zeros(n), p), k).shape[0]
              for n, k, p in cases]
    sheet.numeric([output_size(n, k, p) for n, k, p in cases], padded,
                  method="NumPy: pad with zeros, then count the sliding windows",
                  why=f"output sizes for all {len(cases)} triples $H$, $K$, $P$ with "
                      f"$H <= 9$, $K <= 4$, $P <= 2$ and $K <= H + 2*P$")
    sheet.answer("padded output size, stride 1",
                 sympy.Eq(sympy.Symbol("H_out"), output_size(H, K, P)))


# ------------------------------------------------------------------------------ 2.3
def solve_2_3(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.conv.model import conv_model
    from derive.conv.shapes import output_size
    from derive.numeric import conv2d
    from derive.symbols import syms

    K, D, H = syms("K D H")
    model = conv_model(1, padding=0, stride=1)
    view = model.axis_view(0)
    sheet.text("Relation: with dilation $D$ the taps of a kernel of size $K$ are $D$ positions "
               "apart, so the kernel covers an effective width $K_eff == D*(K - 1) + 1$ with "
               "the same $K$ parameters. Symbols: $K >= 1$ kernel size, $D >= 1$ dilation "
               "($D == 1$ is an ordinary convolution).")
    sheet.derive(view.lhs, [(view.rhs, "definition: the model along one axis at $S == 1$, "
                                       "$P == 0$")])
    # the width read off the model's window: output i reads positions i + D*u, u < K
    idx = model.window_index(0)
    u = [s for s in idx.free_symbols if s.name == "u"][0]
    first, last = idx.subs(u, 0), idx.subs(u, K - 1)
    width = D * (K - 1) + 1
    sheet.derive("K_eff", [
        (sympy.Add(last, sympy.Mul(-1, first, evaluate=False), 1, evaluate=False),
         "the last position output $i$ reads (tap $u == K - 1$) minus the first (tap "
         "$u == 0$), plus one"),
        (width, "simplify: the position $i$ cancels")])
    sheet.claim(output_size(H, K, 0, 1, D),
                sympy.Add(H, sympy.Mul(-1, width, evaluate=False), 1, evaluate=False),
                assume=["H >= D*(K - 1) + 1"],
                why="a dilated kernel slides like a dense kernel of width $K_eff$: the "
                    "engine's output size against $H - K_eff + 1$")
    spans = [(k, d) for k in range(1, 6) for d in range(1, 5)]

    def taps(k, d):            # the positions of the taps of a dilated kernel, enumerated
        return [d * t for t in range(k)]

    sheet.numeric([width.subs({K: k, D: d}) for k, d in spans],
                  [len(range(min(taps(k, d)), max(taps(k, d)) + 1)) for k, d in spans],
                  method="enumerate the tap positions of the dilated kernel and count the "
                         "positions from the first tap to the last",
                  why="the derived width for all 20 pairs with $K <= 5$ and $D <= 4$")
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, size=(1, 1, 9, 9)).astype(float)
    w = rng.integers(-3, 4, size=(1, 1, 3, 3)).astype(float)
    side = max(taps(3, 2)) + 1                        # the enumerated width, 5
    stuffed = np.zeros((1, 1, side, side))
    stuffed[:, :, ::2, ::2] = w                       # zeros between the taps
    sheet.numeric(_ints(conv2d(x, w, dilation=2)).ravel(),
                  _ints(conv2d(x, stuffed)).ravel(),
                  method=f"an ordinary convolution with the {side}×{side} kernel that has "
                         f"zeros stuffed between the taps",
                  why="a 3×3 kernel at dilation 2 on a 9×9 image (image, then kernel: random "
                      "integers from $-3$ to $3$, NumPy's default generator, seed 0)")
    sheet.answer("dilated kernel width", sympy.Eq(sympy.Symbol("K_eff"), width))


# ------------------------------------------------------------------------------ 2.4
def solve_2_4(sheet: Sheet) -> None:
    import sympy

    from derive.conv.shapes import output_size, output_size_assumptions
    from derive.symbols import syms

    H, K, P, S, D = syms("H K P S D")
    sheet.text("Relation (general): the number of windows of width $D*(K - 1) + 1$ that start "
               "at $0$, $S$, $2*S$, ... and fit in the padded input of length $H + 2*P$. "
               "Symbols: $H$ input size, $K$ kernel, $P >= 0$ padding, $S >= 1$ stride, "
               "$D >= 1$ dilation, with $D*(K - 1) + 1 <= H + 2*P$. The same formula holds "
               "for the width with $W$.")
    sheet.derive("H_out", _size_steps(H, K, P, S, D, reads="S*i + D*u", room="H + 2*P",
                                      last="S*i + D*(K - 1)",
                                      i_max="floor((H + 2*P - D*(K - 1) - 1)/S)"),
                 assume=["P >= 0", *output_size_assumptions(H, K, P, D)])
    cases = list(_grid())
    sheet.numeric([output_size(*c) for c in cases], [_count_windows(*c) for c in cases],
                  method="brute-force count of the window starts that fit",
                  why=f"output sizes for all {len(cases)} configurations with $H <= 9$, "
                      f"$K <= 4$, $P <= 2$, $S <= 3$, $D <= 2$ where the kernel fits")
    few = cases[::97]

    def torch_heights(torch):
        out = []
        for n, k, p, s, d in few:
            layer = torch.nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False,
                                    dtype=torch.float64)
            out.append(int(layer(torch.zeros(1, 1, n, n, dtype=torch.float64)).shape[-1]))
        return out

    sheet.numeric_if_installed("torch", [output_size(*c) for c in few], torch_heights,
                               method="PyTorch's Conv2d in float64: the height of its output",
                               why=f"output sizes for every 97th of those configurations "
                                   f"({len(few)} of them)")
    sheet.answer("output height", sympy.Eq(sympy.Symbol("H_out"), output_size(H, K, P, S, D)))


# ------------------------------------------------------------------------------ 2.5
def solve_2_5(sheet: Sheet) -> None:
    import sympy

    from derive.conv.shapes import half_padding, output_size
    from derive.symbols import syms

    H, K, m = syms("H K m")
    sheet.text("Relation: for an odd kernel $K == 2*m + 1$ at stride 1, the padding "
               "$P == (K - 1)/2$, that is $m$, keeps the size: $H_out == H$ ('same' "
               "convolution). Symbols: $m >= 0$ an integer (so $K$ is odd), $H$ input size. "
               "For even $K$ no symmetric padding works: $P == floor((K - 1)/2)$ gives "
               "$H - 1$.")
    with sympy.evaluate(False):
        half = half_padding(K).xreplace({K: 2 * m + 1})
        same = output_size(H, K, half_padding(K), 1).xreplace({K: 2 * m + 1})
    sheet.claim(half, m, assume=["m >= 0"],
                why="the engine's half padding $floor((K - 1)/2)$ at $K == 2*m + 1$ is $m$")
    sheet.derive("H_out", [
        (same, "the engine's output size at stride 1 with that padding, $K == 2*m + 1$"),
        (H, "simplify")], assume=["m >= 0"])
    sheet.claim(output_size(H, K, half_padding(K), 1), H - 1, assume=["K even", "H >= K"],
                why="for an even kernel the same rule loses one position")
    cases = [(n, k) for n in range(1, 12) for k in (1, 3, 5, 7) if k <= n + k - 1]
    sheet.numeric([output_size(n, k, half_padding(k)) for n, k in cases],
                  [sum(1 for t in range(n + k - 1) if t + k - 1 <= n + k - 2) for n, k in cases],
                  method="brute-force count of the windows that fit in the input with "
                         "$(K - 1)/2$ zeros on each side",
                  why=f"output sizes for all {len(cases)} pairs with $H <= 11$ and $K$ one of "
                      f"1, 3, 5, 7")
    with sympy.evaluate(False):
        rule = sympy.Eq(sympy.Symbol("P"), (K - 1) / 2)
    sheet.answer("same padding (odd K)", rule)


PROBLEM = Problem(
    id="formulas-2", set="formulas", order=2, title="Output shape arithmetic",
    source="Chapter notes, section 2",
    statement=("How stride, padding and dilation fix the spatial size of a convolution's "
               "output."),
    parts=(
        Part("2.1", "Stride: the window advances S pixels at a time. Which inputs does each "
                    "output read, and how many outputs are there?",
             solve_2_1),
        Part("2.2", "Padding: zeros around the border set the output size. Give it at "
                    "stride 1.",
             solve_2_2),
        Part("2.3", "Dilation: gaps between the kernel taps. How wide is the region a "
                    "dilated kernel covers?",
             solve_2_3),
        Part("2.4", "Output height: the spatial size after a convolution with padding, "
                    "stride and dilation.",
             solve_2_4),
        Part("2.5", "Same convolution: which padding keeps the size unchanged at stride 1?",
             solve_2_5),
    ),
)
