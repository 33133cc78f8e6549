"""Theory notebook, section 3: the output-size formula and three configurations.

The formula is derived from the indexed-sum model (count the windows that fit in the padded
input) and proved equal to the closed form; each configuration is then evaluated by the
engine and cross-checked by enumerating window positions and, where installed, by PyTorch.
"""

from derive.book import Part, Problem, Sheet

# (size, kernel, padding, stride, dilation), as in the section
CASES = {"b": (32, 3, 1, 1, 1), "c": (32, 5, 0, 2, 1), "d": (64, 3, 2, 1, 2)}


def _brute(n: int, k: int, p: int, s: int, d: int) -> int:
    """Window starts 0, s, 2s, ... whose last tap stays inside the padded input."""
    return sum(1 for start in range(0, n + 2 * p, s) if start + d * (k - 1) <= n + 2 * p - 1)


def solve_formula(sheet: Sheet) -> None:
    from derive.conv.shapes import (output_size_argument, output_size_assumptions,
                                    output_size_derivation)
    from derive.symbols import syms

    h, k, p, s, d = syms("H K P S D")
    sheet.text("The model's output $i$ reads the padded input (of length $H + 2*P$) at "
               "$S*i + D*u$ for the taps $u$ from 0 to $K - 1$. The reasoning, step by step:")
    labels = ("the model along one axis", "window inside the padded input",
              "solve for $i$", "largest valid $i$", "number of outputs")
    argument = output_size_argument(h, k, p, s, d)
    sheet.table(["", "relation"], [(label, expr) for label, (expr, _) in zip(labels, argument)])
    sheet.text("Counting the valid indices $i$ from 0 to $i_max$:")
    steps = output_size_derivation(h, k, p, s, d)
    sheet.derive("H_out", steps, assume=["P >= 0", *output_size_assumptions(h, k, p, d)])
    sheet.answer("H_out", steps[-1][0])


def _case(label: str):
    n, k, p, s, d = CASES[label]

    def solve(sheet: Sheet) -> None:
        import sympy

        from derive.conv.shapes import output_size
        from derive.symbols import syms

        names = syms("H K P S D")
        general = output_size(*names)
        with sympy.evaluate(False):
            plugged = general.xreplace(dict(zip(names, map(sympy.Integer, (n, k, p, s, d)))))
        size = output_size(n, k, padding=p, stride=s, dilation=d)
        sheet.derive("H_out", [(plugged, f"$H == {n}$, $K == {k}$, $P == {p}$, $S == {s}$, "
                                         f"$D == {d}$ in the formula of part (a)"),
                               (size, "evaluate")])
        sheet.numeric(size, _brute(n, k, p, s, d), why="the output length $H_out$",
                      method="brute-force enumeration of window start positions")
        sheet.numeric_if_installed(
            "torch", size,
            lambda torch: int(torch.nn.functional.conv1d(
                torch.zeros(1, 1, n), torch.zeros(1, 1, k), padding=p, stride=s,
                dilation=d).shape[-1]),
            method="the output length of PyTorch's conv1d", why="the output length $H_out$")
        sheet.answer("H_out", size)
    return solve


def _prompt(label: str) -> str:
    n, k, p, s, d = CASES[label]
    return f"Size {n}, kernel {k}, padding {p}, stride {s}, dilation {d}."


PROBLEM = Problem(
    id="theory-3", set="theory", order=3, title="The output-size formula",
    source="Theory notebook, section 3",
    statement=("Derive the number of output positions of a convolution along one axis from "
               "its size, kernel, padding, stride and dilation, and evaluate it for three "
               "configurations."),
    parts=(Part("a", "The general formula.", solve_formula),
           *(Part(label, _prompt(label), _case(label)) for label in CASES)),
)
