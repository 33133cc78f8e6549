"""Exercise 8.2: output sizes of three 2D convolutions.

Each size is derived from the indexed-sum model (count the output positions whose window
stays inside the padded input; every step checked) and evaluated at the exercise's numbers.
Independent cross-checks: enumerating the window positions one by one, the shape of NumPy's
sliding windows over the padded input (every S-th kept), and, where PyTorch is installed,
the output shape of PyTorch's ``Conv2d`` as the exercise asks (the page is the same either
way).
"""

from derive.book import Part, Problem, Sheet

# (input side, kernel, stride, padding) of parts (a), (b), (c)
CASES = {"a": (32, 3, 1, 1), "b": (224, 7, 2, 3), "c": (56, 3, 2, 1)}
CHANNELS = (3, 64)   # the layer of part (d): 3 input channels, 64 filters


def _window_starts(n: int, k: int, s: int, p: int) -> int:
    """Brute force: slide the window start over the padded input, keep those that fit."""
    padded = n + 2 * p
    return sum(1 for start in range(0, padded, s) if start + k <= padded)


def _case(label: str):
    n, k, s, p = CASES[label]

    def solve(sheet: Sheet) -> None:
        import sympy

        from derive.conv.shapes import (output_size, output_size_assumptions,
                                        output_size_derivation)
        from derive.symbols import syms

        h, kk, pp, ss = syms("H K P S")
        general = output_size(h, kk, pp, ss)
        with sympy.evaluate(False):
            substituted = general.xreplace({h: sympy.Integer(n), kk: sympy.Integer(k),
                                            pp: sympy.Integer(p), ss: sympy.Integer(s)})
        size = output_size(n, k, padding=p, stride=s)
        if label == "a":
            sheet.text("Output position $i$ reads the padded input at $S*i + u$ for the taps "
                       "$u$ from 0 to $K - 1$, so it is valid when "
                       "$S*i + K - 1 <= H + 2*P - 1$. Counting the valid positions gives the "
                       "size along each axis:")
            sheet.derive("H_out", output_size_derivation(h, kk, pp, ss),
                         assume=["P >= 0", *output_size_assumptions(h, kk, pp)])
        sheet.derive("H_out", [
            (substituted, f"$H == {n}$, $K == {k}$, $P == {p}$, $S == {s}$ in the general "
                          "size"),
            (size, "evaluate"),
        ])
        sheet.text("The same count read directly off the model at these numbers:")
        sheet.derive("H_out", output_size_derivation(n, k, p, s))
        sheet.numeric(size, _window_starts(n, k, s, p), why="$H_out$",
                      method="brute-force enumeration of the window start positions")
        sheet.answer("output size", f"{size}×{size}")

    return solve


def _sliding_shape(n: int, k: int, s: int, p: int, c_out: int) -> tuple[int, ...]:
    """Independent of any size formula: NumPy's sliding windows over a zero-padded image,
    every ``s``-th window start kept along each axis, one output channel per filter."""
    import numpy as np

    padded = np.zeros((n + 2 * p, n + 2 * p))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k))[::s, ::s]
    return (1, c_out) + windows.shape[:2]


def solve_d(sheet: Sheet) -> None:
    from derive.conv.shapes import output_size

    c_in, c_out = CHANNELS
    sheet.text(f"Each layer maps a batch of one {c_in}-channel image to {c_out} channels. "
               "The derived shape is compared with the shape of the windows NumPy slides "
               "over the padded image (every $S$-th start kept), and, where PyTorch is "
               "installed, with the output of PyTorch's Conv2d applied to a random image.")
    rows = []
    for label, (n, k, s, p) in CASES.items():
        size = output_size(n, k, padding=p, stride=s)
        expected = (1, c_out, size, size)
        got = _sliding_shape(n, k, s, p, c_out)
        sheet.numeric(list(expected), list(got), why=f"output shape of case ({label})",
                      method="NumPy's sliding windows over the padded input, every $S$-th "
                             "start kept")

        def by_torch(torch, n=n, k=k, s=s, p=p):
            torch.manual_seed(0)
            layer = torch.nn.Conv2d(c_in, c_out, kernel_size=k, stride=s, padding=p)
            with torch.no_grad():
                return list(layer(torch.randn(1, c_in, n, n)).shape)

        sheet.numeric_if_installed(
            "torch", list(expected), by_torch, why=f"output shape of case ({label})",
            method=f"output shape of PyTorch's Conv2d ({c_in} to {c_out} channels, kernel "
                   f"{k}, stride {s}, padding {p}) on a random image")
        rows.append([f"({label})", f"{n}×{n}", k, s, p, "×".join(map(str, expected))])
    sheet.table(["case", "input", "$K$", "$S$", "$P$", "output shape"],
                rows, caption=f"Output shapes ($N$, $C$, $H$, $W$) for a batch of one "
                              f"{c_in}-channel image and {c_out} filters.")
    sheet.text("The channel count of the output is the number of filters; only the spatial "
               "sizes follow the size rule.")
    for row in rows:
        sheet.answer(f"output shape {row[0]}", row[5])


PROBLEM = Problem(
    id="8.2", set="chapter8", order=2, title="Output sizes of 2D convolutions",
    source="Chapter 8, exercise 8.2",
    statement="Find the spatial size of the output of a 2D convolution in each case below "
              "(square inputs and kernels; the padding is added on every side).",
    parts=tuple(
        [Part(label, f"Input {n}×{n}, kernel {k}×{k}, stride {s}, padding {p}.",
              _case(label)) for label, (n, k, s, p) in CASES.items()]
        + [Part("d", "Confirm the three sizes by running the convolutions (a 3-to-64-channel "
                     "layer on a batch of one image) and reading off the output shapes.",
                solve_d)]),
)
