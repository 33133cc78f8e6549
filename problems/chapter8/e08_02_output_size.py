"""Exercise 8.2: output sizes of three 2D convolutions.

Each size is derived from the indexed-sum model (count the output positions whose window
stays inside the padded input; every step checked) and evaluated at the exercise's numbers.
Independent cross-checks: enumerating the window positions one by one, the output shape of
the NumPy im2col convolution (:func:`derive.numeric.conv2d`), and, when PyTorch is installed,
the output shape of ``torch.nn.Conv2d`` as the exercise asks.
"""

from derive.book import Part, Problem, Sheet

# (input side, kernel, stride, padding) of parts (a), (b), (c)
CASES = {"a": (32, 3, 1, 1), "b": (224, 7, 2, 3), "c": (56, 3, 2, 1)}
CHANNELS = (3, 64)   # the layer of part (d): 3 input channels, 64 filters


def _torch():
    try:
        import torch
    except ImportError:  # PyTorch is optional
        return None
    return torch


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
            sheet.text("Output position i reads the padded input at S*i + u for the taps "
                       "u = 0, ..., K-1, so it is valid when S*i + K - 1 <= H + 2P - 1. "
                       "Counting the valid positions gives the size along each axis:")
            sheet.derive("H_out", output_size_derivation(h, kk, pp, ss),
                         assume=["P >= 0", *output_size_assumptions(h, kk, pp)])
        sheet.derive("H_out", [
            (substituted, f"H = {n}, K = {k}, P = {p}, S = {s} in the general size"),
            (size, "evaluate"),
        ])
        sheet.text("The same count read directly off the model at these numbers:")
        sheet.derive("H_out", output_size_derivation(n, k, p, s))
        sheet.numeric(size, _window_starts(n, k, s, p),
                      method="brute-force enumeration of the window start positions")
        sheet.answer("output size", f"{size} x {size}")

    return solve


def solve_d(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.shapes import output_size
    from derive.numeric import conv2d

    c_in, c_out = CHANNELS
    rng = np.random.default_rng(0)
    torch = _torch()
    rows = []
    for label, (n, k, s, p) in CASES.items():
        size = output_size(n, k, padding=p, stride=s)
        expected = (1, c_out, size, size)
        x = rng.standard_normal((1, c_in, n, n))
        w = rng.standard_normal((c_out, c_in, k, k))
        got = tuple(conv2d(x, w, stride=s, padding=p).shape)
        sheet.numeric(list(expected), list(got),
                      method=f"({label}) shape of the NumPy im2col convolution "
                             f"derive.numeric.conv2d on a random 1x{c_in}x{n}x{n} input")
        row = [f"({label})", f"{n} x {n}", k, s, p, "x".join(map(str, expected)),
               "x".join(map(str, got))]
        if torch is not None:
            torch.manual_seed(0)
            layer = torch.nn.Conv2d(c_in, c_out, kernel_size=k, stride=s, padding=p)
            with torch.no_grad():
                shape = tuple(layer(torch.randn(1, c_in, n, n)).shape)
            sheet.numeric(list(expected), list(shape),
                          method=f"({label}) shape of torch.nn.Conv2d({c_in}, {c_out}, "
                                 f"kernel_size={k}, stride={s}, padding={p}) applied to a "
                                 f"random input (PyTorch installed)")
            row.append("x".join(map(str, shape)))
        rows.append(row)
    headers = ["case", "input", "K", "S", "P", "derived shape", "NumPy conv2d"]
    if torch is not None:
        headers.append("torch.nn.Conv2d")
    else:
        sheet.text("PyTorch is not installed here, so the check uses the NumPy convolution "
                   "only; with PyTorch installed the same table gains a torch.nn.Conv2d "
                   "column.")
    sheet.table(headers, rows, caption=f"Output shapes (N, C, H, W) for a batch of one "
                                       f"{c_in}-channel image and {c_out} filters.")
    sheet.text("The channel count of the output is the number of filters; only the spatial "
               "sizes follow the size rule.")
    sheet.answer("shapes", "; ".join(r[5] for r in rows))


PROBLEM = Problem(
    id="8.2", set="chapter8", order=2, title="Output sizes of 2D convolutions",
    source="Chapter 8, exercise 8.2",
    statement="Find the spatial size of the output of a 2D convolution in each case below "
              "(square inputs and kernels; the padding is added on every side).",
    parts=tuple(
        [Part(label, f"Input {n} x {n}, kernel {k} x {k}, stride {s}, padding {p}.",
              _case(label)) for label, (n, k, s, p) in CASES.items()]
        + [Part("d", "Confirm the three sizes by running the convolutions (a 3-to-64-channel "
                     "layer on a batch of one image) and reading off the output shapes.",
                solve_d)]),
)
