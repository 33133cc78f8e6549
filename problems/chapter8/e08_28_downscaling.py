"""Exercise 8.28: a downscaling CNN, 16 x 16 x 6 -> 64 x 64 x 1.

Both designs are layer specs whose shapes and costs the engine derives layer by layer (sizes
from :mod:`derive.conv.shapes`, parameters from :mod:`derive.conv.costs`, the same numbers
as :func:`derive.arch.summary.summarize`); the pixel shuffle, which the spec format does not
have, is applied to the spec's last shape by :func:`derive.numeric.pixel_shuffle`.  The
PyTorch implementation asked for in part (b) is the listing
:mod:`derive.lab.listings.downscaling`, printed whole; its parameter counts are compared with
the engine's where PyTorch is installed (``tests/test_lab_listings.py`` checks that its layers
are those of the specs).  The shuffle's index map is proved a bijection with the checker's
floor/Mod lemmas and cross-checked with NumPy (and PyTorch where installed; the page is the
same either way).  The checkerboard argument counts, with the engine's transposed
convolution, how many kernel taps reach each output pixel.  Training and evaluating the
models on climate data is outside the book (it needs the data set and training runs).
"""

from derive.book import CODE, EXPLANATION, Part, Problem, Sheet, written

IN_C, IN_SIZE, OUT_SIZE, R = 6, 16, 64, 4


def _transposed_spec():
    from derive.arch.spec import ArchLayer, Architecture

    def conv(name, a, b, s=1):
        return ArchLayer("conv", kernel=3, stride=s, padding=1, in_channels=a, out_channels=b,
                         name=name)

    def up(name, a, b):
        return ArchLayer("deconv", kernel=4, stride=2, padding=1, in_channels=a,
                         out_channels=b, name=name, module="ConvTranspose2d")

    def relu(name):
        return ArchLayer("act", name=name)

    items = (conv("enc1", IN_C, 64), relu("enc1.relu"), conv("enc2", 64, 128, 2),
             relu("enc2.relu"), up("dec1", 128, 64), relu("dec1.relu"), up("dec2", 64, 32),
             relu("dec2.relu"), up("dec3", 32, 16), relu("dec3.relu"), conv("head", 16, 1))
    return Architecture("encoder-decoder (transposed convolutions)", items, (),
                        input_shape=(IN_C, IN_SIZE, IN_SIZE), source="exercise 8.28 design (i)")


def _subpixel_spec():
    from derive.arch.spec import ArchLayer, Architecture

    def conv(name, a, b):
        return ArchLayer("conv", kernel=3, padding=1, in_channels=a, out_channels=b, name=name)

    items = (conv("enc1", IN_C, 64), ArchLayer("act", name="enc1.relu"), conv("enc2", 64, 64),
             ArchLayer("act", name="enc2.relu"), conv("subpixel", 64, 1 * R * R))
    return Architecture("encoder + sub-pixel convolution", items, (),
                        input_shape=(IN_C, IN_SIZE, IN_SIZE), source="exercise 8.28 design (ii)")


class _Row:
    """One layer of a spec walked with the engine's per-layer shape and cost rules."""

    def __init__(self, name: str, module: str, shape: tuple, params: int, flops: int) -> None:
        self.name, self.module, self.shape, self.params, self.flops = (
            name, module, shape, params, flops)


class _Summary:
    def __init__(self, rows: list) -> None:
        self.rows = rows
        self.params = sum(r.params for r in rows)
        self.flops = sum(r.flops for r in rows)


def _walk(spec) -> _Summary:
    """Shapes and costs layer by layer, from the engine's per-layer size and cost rules.
    These are the numbers :func:`derive.arch.summary.summarize` gives too (it accepts
    transposed convolutions and leaves the receptive field undefined past them); walking the
    spec here keeps the module names the tables print."""
    from derive.conv.costs import conv_cost, transposed_conv_cost
    from derive.conv.shapes import output_size, transposed_output_size

    shape = spec.input_shape
    rows = []
    for layer in spec.features:
        c, h, w = shape
        params = flops = 0
        if layer.kind == "conv":
            size = output_size(h, layer.kernel, layer.padding, layer.stride)
            cost = conv_cost(c, layer.out_channels, layer.kernel, size, bias=layer.bias,
                             convention="mac")
            shape, params, flops = (layer.out_channels, size, size), cost.params, cost.flops
            module = "Conv2d"
        elif layer.kind == "deconv":
            size = transposed_output_size(h, layer.kernel, layer.padding, layer.stride)
            cost = transposed_conv_cost(c, layer.out_channels, layer.kernel, h, bias=layer.bias,
                                        convention="mac")
            shape, params, flops = (layer.out_channels, size, size), cost.params, cost.flops
            module = "ConvTranspose2d"
        else:
            module = layer.module or "ReLU"
        rows.append(_Row(layer.name, module, tuple(shape), params, flops))
    return _Summary(rows)


def _torch_models(torch):
    nn = torch.nn
    first = nn.Sequential(
        nn.Conv2d(IN_C, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 128, 3, 2, 1), nn.ReLU(),
        nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(64, 32, 4, 2, 1),
        nn.ReLU(), nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ReLU(), nn.Conv2d(16, 1, 3, padding=1))
    second = nn.Sequential(
        nn.Conv2d(IN_C, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
        nn.Conv2d(64, R * R, 3, padding=1), nn.PixelShuffle(R))
    return first, second


def _shuffled_shape(shape):
    import numpy as np
    from derive.numeric import pixel_shuffle
    return tuple(pixel_shuffle(np.zeros(shape), R).shape)


def _forward_shape(spec, shuffle: int = 0) -> tuple:
    """Independent of the shape rules: run a zero input through the layers with the
    engine's NumPy convolutions (zero weights: only the shapes matter)."""
    import numpy as np
    from derive.numeric import conv2d, conv_transpose2d, pixel_shuffle

    x = np.zeros((1,) + tuple(spec.input_shape))
    for layer in spec.features:
        c = x.shape[1]
        if layer.kind == "conv":
            w = np.zeros((layer.out_channels, c, layer.kernel, layer.kernel))
            x = conv2d(x, w, stride=layer.stride, padding=layer.padding)
        elif layer.kind == "deconv":
            w = np.zeros((c, layer.out_channels, layer.kernel, layer.kernel))
            x = conv_transpose2d(x, w, stride=layer.stride, padding=layer.padding)
    out = x[0]
    return tuple(pixel_shuffle(out, shuffle).shape) if shuffle else tuple(out.shape)


def _scatter_length(n: int, k: int, s: int, p: int) -> int:
    """Brute force: positions a transposed convolution writes to, after cropping p."""
    reached = {m * s + u for m in range(n) for u in range(k)}
    return max(reached) + 1 - 2 * p


def _shape_text(shape) -> str:
    return "×".join(map(str, shape))


def solve_a(sheet: Sheet) -> None:
    import sympy

    from derive.conv.shapes import transposed_output_size
    from derive.symbols import sym

    sheet.text(f"Both networks read the {IN_C} coarse fields as a {IN_C}×{IN_SIZE}×{IN_SIZE} "
               f"tensor. Design (i) encodes (one stride-2 convolution), then upsamples with "
               f"three transposed convolutions (kernel 4, stride 2, padding 1), each doubling "
               f"the size. Design (ii) keeps the {IN_SIZE}×{IN_SIZE} grid, predicts "
               f"$r**2$ = {R * R} values per coarse cell and rearranges them into an "
               f"$r$ = {R} times finer grid with a pixel shuffle.")
    from derive.book import figures
    sheet.figure(figures.architecture_stages([_transposed_spec(), (_subpixel_spec(), R)]))
    n = sym("n")
    with sympy.evaluate(False):
        written_size = (n - 1) * 2 - 2 * 1 + 4
    sheet.derive("n_out", [(written_size, "transposed convolution: $(n - 1)*S - 2*P + K$ with "
                                          "stride $S = 2$, padding $P = 1$, kernel $K = 4$"),
                           (transposed_output_size(n, 4, padding=1, stride=2),
                            "the engine's transposed output size: the size doubles")])
    first = _walk(_transposed_spec())
    sheet.table(["layer", "module", "output shape", "parameters"],
                [(r.name, r.module, _shape_text(r.shape), r.params) for r in first.rows],
                caption="Design (i): shapes and parameters from the engine's size and cost "
                        "rules, layer by layer.")
    second = _walk(_subpixel_spec())
    shuffled = _shuffled_shape(second.rows[-1].shape)
    sheet.table(["layer", "module", "output shape", "parameters"],
                [(r.name, r.module, _shape_text(r.shape), r.params) for r in second.rows]
                + [("shuffle", f"pixel shuffle, r = {R}", _shape_text(shuffled), 0)],
                caption="Design (ii), the same way; the last row by the engine's NumPy pixel "
                        "shuffle.")
    sheet.text(f"Both end with one channel on the {OUT_SIZE}×{OUT_SIZE} grid, as required.")
    forward = "a NumPy forward pass of a zero input through weight arrays of the layers' shapes"
    sheet.numeric(first.rows[-1].shape, _forward_shape(_transposed_spec()),
                  why="output shape of design (i)", method=forward)
    sheet.numeric(shuffled, _forward_shape(_subpixel_spec(), shuffle=R),
                  why="output shape of design (ii)", method=forward + ", then the pixel shuffle")
    for name, size in (("dec1", 8), ("dec2", 16), ("dec3", 32)):
        row = next(r for r in first.rows if r.name == name)
        sheet.numeric(row.shape[1], _scatter_length(size, 4, 2, 1),
                      why=f"output size of {name}",
                      method=f"positions reached by scattering {size} inputs through 4 taps "
                             f"at stride 2, minus the padding cropped on each side")

    def torch_shapes(torch):
        m1, m2 = _torch_models(torch)
        x = torch.zeros(1, IN_C, IN_SIZE, IN_SIZE)
        return tuple(m1(x).shape[1:]), tuple(m2(x).shape[1:])

    sheet.numeric_if_installed("torch", (first.rows[-1].shape, shuffled), torch_shapes,
                               why="output shapes of designs (i) and (ii)",
                               method="PyTorch's modules run on a zero input")
    sheet.answer("output shapes", f"(i) {first.rows[-1].shape}, (ii) {shuffled}")


def _listing():
    from derive.lab.listings import downscaling
    return downscaling


def _listing_params(torch) -> tuple[int, int]:
    """Learnable parameters of the listing's two models, design (i) then design (ii)."""
    listing = _listing()
    return tuple(sum(p.numel() for p in model.parameters())
                 for model in (listing.TransposedConvUpscaler(IN_C),
                               listing.PixelShuffleUpscaler(IN_C)))


def solve_b(sheet: Sheet) -> None:
    import numpy as np

    first = _walk(_transposed_spec())
    second = _walk(_subpixel_spec())
    sheet.listing("downscaling", "The two upscaling networks as PyTorch modules.",
                  tests="tests/test_lab_listings.py")
    sheet.text(f"Each network is the design of part (a), layer for layer. The first encodes "
               f"with two 3×3 convolutions (the second at stride 2, {IN_SIZE} to "
               f"{IN_SIZE // 2}), doubles the size three times with transposed convolutions "
               f"of kernel 4, stride 2 and padding 1, and ends with a 3×3 convolution to one "
               f"channel and no activation. The second keeps the {IN_SIZE}×{IN_SIZE} grid "
               f"through three 3×3 convolutions, the last with $r**2$ = {R * R} output "
               f"channels, and a pixel shuffle with no parameters moves them onto the "
               f"{OUT_SIZE}×{OUT_SIZE} grid. Their parameter counts, against the engine's:")
    for label, index, summary in (("(i)", 0, first), ("(ii)", 1, second)):
        sheet.numeric_if_installed(
            "torch", summary.params, lambda torch, index=index: _listing_params(torch)[index],
            why=f"parameters of design {label}",
            method="the listing's model: the entries of its parameter tensors, summed")

    def entries(spec) -> int:
        total = 0
        for layer in spec.features:
            if layer.kind == "conv":
                total += np.zeros((layer.out_channels, layer.in_channels, 3, 3)).size
            elif layer.kind == "deconv":
                total += np.zeros((layer.in_channels, layer.out_channels, 4, 4)).size
            if layer.kind in ("conv", "deconv"):
                total += np.zeros(layer.out_channels).size        # bias
        return total

    method = "entries of the weight and bias tensors, allocated with NumPy"
    sheet.numeric(first.params, entries(_transposed_spec()), why="parameters of design (i)",
                  method=method)
    sheet.numeric(second.params, entries(_subpixel_spec()), why="parameters of design (ii)",
                  method=method)

    def torch_params(torch):
        return tuple(sum(p.numel() for p in m.parameters()) for m in _torch_models(torch))

    sheet.numeric_if_installed("torch", (first.params, second.params), torch_params,
                               why="parameters of designs (i) and (ii)",
                               method="PyTorch's modules, learnable parameters")
    sheet.table(["design", "parameters", "multiply-adds per sample"],
                [("(i) transposed convolutions", first.params, first.flops),
                 ("(ii) sub-pixel convolution", second.params, second.flops)],
                caption="From the engine's cost rules (multiply-adds of the convolution "
                        "layers).")
    sheet.answer("parameters", f"(i) {first.params:,}, (ii) {second.params:,}")
    sheet.text("The pixel shuffle has no parameters: design (ii) pays for its upsampling only "
               "through the last convolution, which has $r**2$ output channels, and it "
               "computes everything at the coarse resolution.")


def _digit_assumptions() -> list[str]:
    return ["c >= 0", "h >= 0", "w >= 0", "i >= 0", "i <= r - 1", "j >= 0", "j <= r - 1",
            "y >= 0", "x >= 0"]


def solve_c(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.numeric import conv_transpose2d, pixel_shuffle
    from derive.symbols import sym

    c, h, w, i, j, r = (sym(n) for n in ("c", "h", "w", "i", "j", "r"))
    y, x = sym("y"), sym("x")
    H = sym("H")
    phi_f, psi_f = sympy.Function("phi"), sympy.Function("psi")
    assume = _digit_assumptions()

    def phi(q, hh, ww):
        """Pixel shuffle, input index (q, h, w) -> output index (c, y, x)."""
        return (sympy.floor(sympy.floor(q / r) / r), r * hh + sympy.Mod(sympy.floor(q / r), r),
                r * ww + sympy.Mod(q, r))

    def psi(cc, yy, xx):
        """The inverse candidate, output index -> input index."""
        return ((cc * r + sympy.Mod(yy, r)) * r + sympy.Mod(xx, r), sympy.floor(yy / r),
                sympy.floor(xx / r))

    sheet.text("The shuffle moves entry ($q$, $h$, $w$) of a tensor with $C*r**2$ channels of "
               "size $H$×$W$ to entry ($c$, $y$, $x$) of a tensor with $C$ channels of size "
               "$r*H$×$r*W$, where $q = (c*r + i)*r + j$ is written in base $r$ "
               "($0 <= i <= r - 1$ and $0 <= j <= r - 1$), $y = r*h + i$ and $x = r*w + j$. "
               "As index maps:")
    q_sym = sym("q")
    sheet.matrix(phi_f(q_sym, h, w), sympy.Matrix(phi(q_sym, h, w)))
    sheet.matrix(psi_f(c, y, x), sympy.Matrix(psi(c, y, x)))
    sheet.claim(written("C*r**2*H*W"), written("C*(r*H)*(r*W)"),
                why="both tensors have the same number of entries")
    q = (c * r + i) * r + j
    image = sympy.Matrix([c, r * h + i, r * w + j])
    sheet.claim(sympy.Matrix(phi(q, h, w)), image,
                why="reading the base-$r$ digits of $q$: $phi$ sends ($q$, $h$, $w$) to "
                    "($c$, $r*h + i$, $r*w + j$)",
                assume=assume)
    sheet.claim(sympy.Matrix(psi(c, r * h + i, r * w + j)), sympy.Matrix([q, h, w]),
                why="$psi$ undoes $phi$: it sends ($c$, $r*h + i$, $r*w + j$) back to "
                    "($q$, $h$, $w$)", assume=assume)
    sheet.claim(sympy.Matrix([r * sympy.floor(y / r) + sympy.Mod(y, r),
                              r * sympy.floor(x / r) + sympy.Mod(x, r)]), sympy.Matrix([y, x]),
                why="division with remainder, so $phi$ undoes $psi$ (the digits of the channel "
                    "index of $psi$ are $c$, $Mod(y, r)$ and $Mod(x, r)$, which lie in "
                    "$0$ to $r - 1$)",
                assume=assume)
    sheet.claim(r * (H - 1) + (r - 1), r * H - 1,
                why="the largest output row $r*(H - 1) + (r - 1)$ is the last row of $r*H$")
    sheet.text("Each map undoes the other, so the shuffle is a bijection between the entries: "
               "a pure rearrangement that copies every input value to exactly one output "
               "pixel.")
    # numeric cross-checks
    cn, rn, hn, wn = 2, R, 3, 5
    data = np.arange(cn * rn * rn * hn * wn).reshape(cn * rn * rn, hn, wn)
    out = pixel_shuffle(data, rn)
    loops = np.zeros((cn, rn * hn, rn * wn), dtype=data.dtype)
    for qq in range(cn * rn * rn):
        for hh in range(hn):
            for ww in range(wn):
                cc, rest = divmod(qq, rn * rn)
                ii, jj = divmod(rest, rn)
                loops[cc, rn * hh + ii, rn * ww + jj] = data[qq, hh, ww]
    sheet.text(f"A numeric check on an input of {cn * rn * rn} channels of size {hn}×{wn} "
               f"holding the numbers 0 to {data.size - 1} in order ($C$ = {cn}, $r$ = {rn}):")
    sheet.numeric(out, loops, why="the engine's pixel shuffle",
                  method="explicit loops over the base-$r$ index formula")
    sheet.numeric(np.sort(out.ravel()).reshape(-1, 1), data.reshape(-1, 1),
                  why="the output values, sorted",
                  method="the input values: each appears exactly once")
    sheet.numeric_if_installed("torch", out,
                               lambda torch: torch.nn.PixelShuffle(rn)(
                                   torch.from_numpy(data)[None])[0].numpy(),
                               why="the engine's pixel shuffle",
                               method="PyTorch's PixelShuffle module")
    # checkerboard: how many taps reach each output pixel
    sheet.text("Checkerboard artifacts: a transposed convolution scatters each input pixel "
               "through its $k$×$k$ kernel at stride $s$. Counting, with the engine's "
               "transposed convolution of a 6×6 all-ones input and an all-ones kernel, how "
               "many taps land on each output pixel:")
    ones = np.ones((1, 1, 6, 6), dtype=np.int64)
    counts = {}
    for k in (3, 4):
        scattered = conv_transpose2d(ones, np.ones((1, 1, k, k), dtype=np.int64), stride=2)[0, 0]
        # small whole numbers are exact in floating point: compare them as integers
        counts[k] = scattered.astype(np.int64) if np.array_equal(
            scattered, np.round(scattered)) else scattered
        brute = np.zeros_like(counts[k])
        for m in range(6):
            for n in range(6):
                brute[2 * m:2 * m + k, 2 * n:2 * n + k] += 1
        sheet.numeric(counts[k], brute, why=f"taps per output pixel, $k = {k}$, $s = 2$",
                      method="counting the scattered taps in explicit loops")
    sheet.matrix("N_3", counts[3][3:9, 3:9],
                 caption="Taps per output pixel for $k = 3$, $s = 2$ (the centre 6×6 block).")
    sheet.matrix("N_4", counts[4][3:9, 3:9],
                 caption="Taps per output pixel for $k = 4$, $s = 2$ (the centre 6×6 block).")

    def distinct(a):
        values = sorted({int(v) for v in a[2:-2, 2:-2].ravel()})
        return ", ".join(map(str, values[:-1])) + " and " + str(values[-1]) \
            if len(values) > 1 else str(values[0])

    sheet.table(["kernel", "stride", "taps per pixel away from the border"],
                [(3, 2, distinct(counts[3])), (4, 2, distinct(counts[4]))],
                caption="Read off the engine's counts above.")
    shuffled = pixel_shuffle(np.ones((R * R, 6, 6), dtype=np.int64), R)
    sheet.numeric(shuffled, np.ones((1, 6 * R, 6 * R), dtype=np.int64),
                  why=f"values per output pixel of a pixel shuffle ($r = {R}$)",
                  method="one value for every pixel")
    sheet.explain(
        "When the kernel size is not a multiple of the stride ($k = 3$, $s = 2$) "
        "neighbouring output pixels receive different numbers of contributions (1, 2 or 4 "
        "above), in a periodic pattern; unless training balances the weights exactly, that "
        "pattern shows up in the output as a checkerboard. Even with $k$ divisible by $s$ "
        "the learned taps must agree for a flat input to stay flat. The sub-pixel "
        "convolution does all its filtering at low resolution with an ordinary convolution, "
        "where every output position is computed the same way, and then only rearranges "
        "values: each high-resolution pixel is one output of one filter (count 1 "
        "everywhere), so no uneven overlap exists. Initialising the $r**2$ filters of each "
        "group identically (ICNR) makes the start equivalent to nearest-neighbour "
        "upsampling.",
        rests_on=["pixel-shuffle bijection above", "overlap counts above",
                  "the engine's transposed convolution"])
    with sympy.evaluate(False):
        q_written = (c * r + i) * r + j
    sheet.answer(phi_f(q_written, h, w), image.T)


def solve_d(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    values = [0, 0, 0, 10, 10]
    cc = sympy.Symbol("c", real=True)
    l2 = sum((v - cc) ** 2 for v in values)
    best_l2 = sympy.solve(sympy.diff(l2, cc), cc)[0]
    shown = ", ".join(map(str, values[:-1])) + f" and {values[-1]}"
    sheet.text(f"Suppose the fine-scale temperature at a pixel is, given the coarse input, "
               f"equally plausible in two regimes; five training cases give the values "
               f"{shown}. A network that outputs one number $c$ for this input is pushed "
               f"towards the minimiser of the summed loss:")
    n = len(values)
    mean = sympy.Rational(sum(values), n)
    with sympy.evaluate(False):
        summed = sympy.Add(*[(v - cc) ** 2 for v in values])
    sheet.derive(sympy.Derivative(summed, cc), [
        (sympy.Add(*[sympy.Mul(-2, v - cc, evaluate=False) for v in values],
                   evaluate=False), "differentiate each $(v - c)**2$ into $-2*(v - c)$"),
        (sympy.diff(l2, cc), "add up"),
        (sympy.Mul(2 * n, cc - mean, evaluate=False),
         f"factor: $2*n*(c - m)$ with $n = {n}$ and $m$ the mean of the values")],
        assume=["c real"])
    sheet.claim(sympy.Subs(sympy.diff(l2, cc), cc, best_l2), 0, assume=["c real"],
                why="the slope vanishes at the root found by SymPy's solver, its only zero (a "
                    "minimum: the loss is a parabola opening upwards)")
    with sympy.evaluate(False):
        averaged = sympy.Mul(sympy.Add(*[sympy.Integer(v) for v in values]),
                             sympy.Pow(sympy.Integer(n), -1))
    sheet.derive("m", [(averaged, "the mean of the values"), (best_l2, "evaluate: the root")])
    # sum |v - c| is piecewise linear with corners at the data: its minimum over the reals
    # is attained at a data value, so searching the integers -2..12 is exhaustive here
    candidates = list(range(-2, 13))
    l1 = [sum(abs(v - c) for v in values) for c in candidates]
    best_l1 = candidates[l1.index(min(l1))]
    sheet.numeric(best_l1, sorted(values)[len(values) // 2],
                  why="minimiser of the summed absolute errors",
                  method="the middle value of the sorted data (the median); the minimiser "
                         "itself found by trying every whole $c$ from $-2$ to $12$")
    sheet.numeric(best_l2, sympy.Rational(float(np.mean(values))),
                  why="minimiser of the summed squared errors",
                  method="NumPy's mean of the values (float64, converted exactly)")
    sheet.explain(
        "The L2 loss is minimised by the conditional mean: where the fine-scale field is "
        "uncertain (the exact position of a front, a cold pool in a valley) the prediction "
        "averages the possibilities and comes out smooth, a value that matches neither "
        "(4 above, between 0 and 10). The L1 loss is minimised by the median, which picks "
        "one of the plausible values, so edges stay sharper; it is also less sensitive to a "
        "few extreme errors. A natural choice is L1 (or a smooth L1), optionally with terms "
        "for sharpness: a perceptual loss compares features of a pretrained network (or "
        "spatial gradients and spectra) of the prediction and the target instead of pixels; "
        "an adversarial loss trains a discriminator on high-resolution patches and rewards "
        "outputs it cannot tell from real fields, the generator minimising L1 plus a small "
        "weight times these terms. Which weighting is best is an empirical question that "
        "needs the training runs, outside the book.",
        rests_on=["the L2 minimiser above", "the L1 minimiser above"])


PROBLEM = Problem(
    id="8.28", set="chapter8", order=28, title="A downscaling CNN",
    source="Chapter 8, exercise 8.28",
    statement=(f"Climate downscaling: from {IN_C} coarse variables on a {IN_SIZE}×{IN_SIZE} "
               f"grid predict the temperature on a {OUT_SIZE}×{OUT_SIZE} grid, a {R}-fold "
               f"upscaling. Training the models on climate data is outside the book (it needs "
               f"the data and training runs); the designs, their sizes and parameter counts "
               f"and the upsampling operations are analysed."),
    parts=(
        Part("a", "Design two architectures: (i) an encoder-decoder that upsamples with "
                  "transposed convolutions, (ii) an encoder followed by a sub-pixel "
                  "convolution (pixel shuffle).", solve_a),
        Part("b", "Implement both in PyTorch and compare their parameter counts.", solve_b,
             scope=CODE),
        Part("c", "A pixel shuffle rearranges $C*r**2$ channels of size $H$×$W$ into $C$ "
                  "channels of size $r*H$×$r*W$. Describe it and explain why it avoids the "
                  "checkerboard artifacts of transposed convolutions.", solve_c,
             scope=EXPLANATION),
        Part("d", "Which loss would you use, why might L1 beat L2 for spatial fields, and how "
                  "would perceptual or adversarial losses sharpen the output?", solve_d,
             scope=EXPLANATION),
    ),
)
