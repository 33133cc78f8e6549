"""Practice exercise 3: the parameters of a 3x3 convolution from 16 to 32 channels.

The count is the engine's closed form (``derive.conv.costs.conv_cost``), derived as a sum of
ones over the weight indices of the indexed-sum model, and cross-checked by enumerating the
weight and bias entries that the model's sum actually reads (and by PyTorch where installed).
"""

from derive.book import Part, Problem, Sheet

C_IN, C_OUT, K = 16, 32, 3


def _entries_read(model) -> int:
    """Brute force: walk every output channel through the model's summation ranges and
    collect the distinct weight indices it multiplies, plus one bias per output channel."""
    import itertools

    ranges = [range(int(lo), int(hi) + 1) for lo, hi in model.limits().values()]
    weights = {(o,) + combo for o in range(model.out_channels)
               for combo in itertools.product(*ranges)}
    return len(weights) + (model.out_channels if model.bias else 0)


def solve(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import conv_cost
    from derive.conv.model import conv_model
    from derive.symbols import syms

    c_in, c_out, k, h_out = syms("C_in C_out K H_out")
    o, c, u, v = (sympy.Symbol(n, integer=True, nonnegative=True) for n in "ocuv")
    general = conv_cost(c_in, c_out, k, h_out, convention="mac").params
    sheet.text("The model multiplies $w[o, c, u, v]$ for every output channel $o$, input "
               "channel $c$ and kernel tap ($u$, $v$), and adds one bias $b[o]$ per output "
               "channel. The weight indices form a box, so they are counted range by range:")
    sheet.derive("params", [
        (sympy.Sum(1, (o, 0, c_out - 1)) * sympy.Sum(1, (c, 0, c_in - 1))
         * sympy.Sum(1, (u, 0, k - 1)) * sympy.Sum(1, (v, 0, k - 1))
         + sympy.Sum(1, (o, 0, c_out - 1)), "weights $w[o, c, u, v]$, then biases $b[o]$"),
        (general, "evaluate the sums"),
    ])
    params = conv_cost(C_IN, C_OUT, K, 1, convention="mac").params
    with sympy.evaluate(False):
        plugged = general.xreplace({c_in: sympy.Integer(C_IN), c_out: sympy.Integer(C_OUT),
                                    k: sympy.Integer(K)})
    sheet.derive("params", [(plugged, f"$C_in == {C_IN}$, $C_out == {C_OUT}$, $K == {K}$"),
                            (params, "evaluate")])
    sheet.table(["part", "count"], [
        ("weights", conv_cost(C_IN, C_OUT, K, 1, bias=False, convention="mac").params),
        ("biases", params - conv_cost(C_IN, C_OUT, K, 1, bias=False,
                                      convention="mac").params),
        ("total", params)])
    model = conv_model(2, size=K, kernel=K, stride=1, padding=0, dilation=1, batch=1,
                       in_channels=C_IN, out_channels=C_OUT, bias=True)
    sheet.numeric(params, _entries_read(model), why="the number of parameters",
                  method="enumeration of the weight and bias entries the model's sum reads")
    sheet.numeric_if_installed(
        "torch", params,
        lambda torch: sum(p.numel() for p in torch.nn.Conv2d(C_IN, C_OUT, K,
                                                             device="meta").parameters()),
        method="the parameters of PyTorch's Conv2d layer", why="the number of parameters")
    sheet.text(f"The count does not depend on the image size: the same {K}×{K}×{C_IN} filter "
               "is applied at every position.")
    sheet.answer("params", params)


PROBLEM = Problem(
    id="practice-3", set="practice", order=3, title="Parameters of a convolution",
    source="Exercises notebook, exercise 3",
    statement=(f"A convolution layer maps {C_IN} input channels to {C_OUT} output channels "
               f"with {K}×{K} kernels and a bias per output channel. How many learnable "
               "parameters does it have?"),
    parts=(Part("", "Count the weights and biases.", solve),),
)
