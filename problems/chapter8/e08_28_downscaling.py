"""Exercise 8.28: a downscaling CNN, 16 x 16 x 6 -> 64 x 64 x 1.

Both designs are layer specs summarized by the engine (:func:`derive.arch.summary.summarize`,
sizes from :mod:`derive.conv.shapes`, parameters from :mod:`derive.conv.costs`); the pixel
shuffle, which the spec format does not have, is applied to the spec's last shape by
:func:`derive.numeric.pixel_shuffle`.  The shuffle's index map is proved a bijection with the
checker's floor/Mod lemmas and cross-checked with NumPy (and PyTorch when installed).  The
checkerboard argument counts, with the engine's transposed convolution, how many kernel taps
reach each output pixel.  Training and evaluating the models on climate data is outside the
book (it needs the data set and training runs).
"""

from derive.book import Part, Problem, Sheet

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
             ArchLayer("act", name="enc2.relu"), conv("to_subpixels", 64, 1 * R * R))
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
    """Shapes and costs layer by layer (derive.arch.summary.summarize also derives receptive
    fields, which are not defined through transposed convolutions, so it refuses them)."""
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


def _torch():
    try:
        import torch
    except ImportError:  # PyTorch is optional
        return None
    return torch


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


def _scatter_length(n: int, k: int, s: int, p: int) -> int:
    """Brute force: positions a transposed convolution writes to, after cropping p."""
    reached = {m * s + u for m in range(n) for u in range(k)}
    return max(reached) + 1 - 2 * p


def solve_a(sheet: Sheet) -> None:
    from derive.conv.shapes import transposed_output_size
    from derive.symbols import sym

    sheet.text(f"Both networks read the {IN_C} coarse fields as a {IN_C} x {IN_SIZE} x "
               f"{IN_SIZE} tensor. Design (i) encodes (one stride-2 convolution), then "
               f"upsamples with three transposed convolutions (kernel 4, stride 2, padding 1), "
               f"each doubling the size. Design (ii) keeps the {IN_SIZE} x {IN_SIZE} grid, "
               f"predicts r^2 = {R * R} values per coarse cell and rearranges them into an "
               f"r = {R} times finer grid with a pixel shuffle.")
    n = sym("n")
    sheet.claim(transposed_output_size(n, 4, padding=1, stride=2), 2 * n,
                why="kernel 4, stride 2, padding 1 doubles any size")
    first = _walk(_transposed_spec())
    sheet.table(["layer", "module", "output shape", "parameters"],
                [(r.name, r.module, "x".join(map(str, r.shape)), r.params) for r in first.rows],
                caption="Design (i): shapes and parameters from the engine's size and cost "
                        "rules, layer by layer.")
    second = _walk(_subpixel_spec())
    shuffled = _shuffled_shape(second.rows[-1].shape)
    sheet.table(["layer", "module", "output shape", "parameters"],
                [(r.name, r.module, "x".join(map(str, r.shape)), r.params) for r in second.rows]
                + [("shuffle", "PixelShuffle(4)", "x".join(map(str, shuffled)), 0)],
                caption="Design (ii), the same way; the last row by the engine's NumPy pixel "
                        "shuffle.")
    target = (1, OUT_SIZE, OUT_SIZE)
    sheet.numeric(first.rows[-1].shape, target, method="the required output shape")
    sheet.numeric(shuffled, target, method="the required output shape")
    for name, size in (("dec1", 8), ("dec2", 16), ("dec3", 32)):
        row = next(r for r in first.rows if r.name == name)
        sheet.numeric(row.shape[1], _scatter_length(size, 4, 2, 1),
                      method=f"{name}: positions reached by scattering {size} inputs through "
                             f"4 taps at stride 2, minus the cropped padding")
    torch = _torch()
    if torch is not None:
        m1, m2 = _torch_models(torch)
        x = torch.zeros(1, IN_C, IN_SIZE, IN_SIZE)
        sheet.numeric(first.rows[-1].shape, tuple(m1(x).shape[1:]),
                      method="output shape of design (i) in torch.nn (PyTorch installed)")
        sheet.numeric(shuffled, tuple(m2(x).shape[1:]),
                      method="output shape of design (ii) in torch.nn (PyTorch installed)")
    sheet.answer("output shapes", f"(i) {first.rows[-1].shape}, (ii) {shuffled}")


def solve_b(sheet: Sheet) -> None:
    import numpy as np

    first = _walk(_transposed_spec())
    second = _walk(_subpixel_spec())

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

    sheet.numeric(first.params, entries(_transposed_spec()),
                  method="entries of the weight and bias tensors, allocated with NumPy")
    sheet.numeric(second.params, entries(_subpixel_spec()),
                  method="entries of the weight and bias tensors, allocated with NumPy")
    torch = _torch()
    if torch is not None:
        m1, m2 = _torch_models(torch)
        sheet.numeric(first.params, sum(p.numel() for p in m1.parameters()),
                      method="torch.nn design (i), learnable parameters (PyTorch installed)")
        sheet.numeric(second.params, sum(p.numel() for p in m2.parameters()),
                      method="torch.nn design (ii), learnable parameters (PyTorch installed)")
    sheet.table(["design", "parameters", "multiply-adds per sample"],
                [("(i) transposed convolutions", first.params, first.flops),
                 ("(ii) sub-pixel convolution", second.params, second.flops)],
                caption="From the engine's cost rules (multiply-adds of the convolution "
                        "layers).")
    sheet.answer("parameters", f"(i) {first.params:,}, (ii) {second.params:,}")
    sheet.text("The pixel shuffle has no parameters: design (ii) pays for its upsampling only "
               "through the last convolution, which has r^2 output channels, and it computes "
               "everything at the coarse resolution.")


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
    C, H, W = sym("C"), sym("H"), sym("W")
    assume = _digit_assumptions()

    def phi(q, hh, ww):
        """Pixel shuffle, input index (q, h, w) -> output index (c, y, x)."""
        return (sympy.floor(sympy.floor(q / r) / r), r * hh + sympy.Mod(sympy.floor(q / r), r),
                r * ww + sympy.Mod(q, r))

    def psi(cc, yy, xx):
        """The inverse candidate, output index -> input index."""
        return ((cc * r + sympy.Mod(yy, r)) * r + sympy.Mod(xx, r), sympy.floor(yy / r),
                sympy.floor(xx / r))

    sheet.text("The shuffle moves input entry (q, h, w) of a (C r^2, H, W) tensor to output "
               "entry (c, y, x) of a (C, rH, rW) tensor, where q = (c r + i) r + j is written "
               "in base r (0 <= i, j <= r - 1), y = r h + i and x = r w + j. As index maps:")
    sheet.matrix("phi(q, h, w)", sympy.Matrix(phi(sym("q"), h, w)))
    sheet.matrix("psi(c, y, x)", sympy.Matrix(psi(c, y, x)))
    sheet.claim(C * r ** 2 * H * W, C * (r * H) * (r * W),
                why="both tensors have the same number of entries")
    q = (c * r + i) * r + j
    image = sympy.Matrix([c, r * h + i, r * w + j])
    sheet.claim(sympy.Matrix(phi(q, h, w)), image,
                why="reading the base-r digits of q: phi sends (q, h, w) to (c, rh + i, rw + j)",
                assume=assume)
    sheet.claim(sympy.Matrix(psi(c, r * h + i, r * w + j)), sympy.Matrix([q, h, w]),
                why="psi(phi(q, h, w)) = (q, h, w): psi undoes phi", assume=assume)
    sheet.claim(sympy.Matrix([r * sympy.floor(y / r) + sympy.Mod(y, r),
                              r * sympy.floor(x / r) + sympy.Mod(x, r)]), sympy.Matrix([y, x]),
                why="division with remainder, so phi(psi(c, y, x)) = (c, y, x) (the digits of "
                    "psi's channel index are c, y mod r and x mod r, which lie in 0..r-1)",
                assume=assume)
    sheet.claim(r * (H - 1) + (r - 1), r * H - 1,
                why="the largest output row r(H - 1) + (r - 1) is the last row of rH")
    sheet.text("psi o phi and phi o psi are identities, so the shuffle is a bijection between "
               "the entries: a pure rearrangement that copies every input value to exactly "
               "one output pixel.")
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
    sheet.numeric(out, loops, method=f"explicit loops over the index formula (C = {cn}, "
                                      f"r = {rn}, H = {hn}, W = {wn})")
    sheet.numeric(np.sort(out.ravel()).reshape(-1, 1), data.reshape(-1, 1),
                  method="the output holds every input value exactly once")
    torch = _torch()
    if torch is not None:
        t = torch.nn.PixelShuffle(rn)(torch.from_numpy(data)[None])[0].numpy()
        sheet.numeric(out, t, method="torch.nn.PixelShuffle (PyTorch installed)")
    # checkerboard: how many taps reach each output pixel
    sheet.text("Checkerboard artifacts: a transposed convolution scatters each input pixel "
               "through its k x k kernel at stride s. Counting, with the engine's transposed "
               "convolution of an all-ones input and kernel, how many taps land on each "
               "output pixel:")
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
        sheet.numeric(counts[k], brute, method=f"k = {k}: counting the scattered taps in "
                                                f"explicit loops")
    sheet.matrix("overlap count, k = 3, s = 2 (centre 6 x 6)", counts[3][3:9, 3:9])
    sheet.matrix("overlap count, k = 4, s = 2 (centre 6 x 6)", counts[4][3:9, 3:9])
    uneven = sorted({int(v) for v in counts[3][2:-2, 2:-2].ravel()})
    even = sorted({int(v) for v in counts[4][2:-2, 2:-2].ravel()})
    sheet.numeric(len(uneven), 3, method=f"distinct interior counts for k = 3: {uneven}")
    sheet.numeric(len(even), 1, method=f"distinct interior counts for k = 4: {even}")
    shuffled = pixel_shuffle(np.ones((R * R, 6, 6), dtype=np.int64), R)
    sheet.numeric(shuffled, np.ones((1, 6 * R, 6 * R), dtype=np.int64),
                  method="pixel shuffle: every output pixel receives exactly one value")
    sheet.explain(
        "When the kernel size is not a multiple of the stride (k = 3, s = 2) neighbouring "
        "output pixels receive different numbers of contributions (1, 2 or 4 above), in a "
        "periodic pattern; unless training balances the weights exactly, that pattern shows "
        "up in the output as a checkerboard. Even with k divisible by s the learned taps "
        "must agree for a flat input to stay flat. The sub-pixel convolution does all its "
        "filtering at low resolution with an ordinary convolution, where every output "
        "position is computed the same way, and then only rearranges values: each high-"
        "resolution pixel is one output of one filter (count 1 everywhere), so no uneven "
        "overlap exists. Initialising the r^2 filters of each group identically (ICNR) "
        "makes the start equivalent to nearest-neighbour upsampling.",
        rests_on=["pixel-shuffle bijection above", "overlap counts above",
                  "derive.numeric.conv_transpose2d"])
    sheet.answer("pixel shuffle: input index ((c r + i) r + j, h, w) goes to", image.T)


def solve_d(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    values = [0, 0, 0, 10, 10]
    cc = sympy.Symbol("c", real=True)
    l2 = sum((v - cc) ** 2 for v in values)
    best_l2 = sympy.solve(sympy.diff(l2, cc), cc)[0]
    sheet.text(f"Suppose the fine-scale temperature at a pixel is, given the coarse input, "
               f"equally plausible in two regimes; five training cases give the values "
               f"{values}. A network that outputs one number c for this input is pushed "
               f"towards the minimiser of the summed loss:")
    n = len(values)
    mean = sympy.Rational(sum(values), n)
    sheet.derive("d/dc sum (v - c)^2", [
        (sympy.Add(*[sympy.Mul(-2, v - cc, evaluate=False) for v in values],
                   evaluate=False), "differentiate each (v - c)^2 into -2(v - c)"),
        (sympy.diff(l2, cc), "add up"),
        (2 * n * (cc - mean), f"collect: 2n(c - mean) with n = {n}")], assume=["c real"])
    sheet.claim(best_l2, mean, assume=["c real"],
                why="the only zero of the slope (a minimum: the loss is a parabola opening "
                    "upwards) is the mean of the values")
    # sum |v - c| is piecewise linear with corners at the data: its minimum over the reals
    # is attained at a data value, so searching the integers -2..12 is exhaustive here
    candidates = list(range(-2, 13))
    l1 = [sum(abs(v - c) for v in values) for c in candidates]
    best_l1 = candidates[l1.index(min(l1))]
    sheet.numeric(best_l1, sorted(values)[len(values) // 2],
                  method="minimum of sum |v - c| over c = -2..12 vs the middle value (median)")
    sheet.numeric(best_l2, sympy.Rational(float(np.mean(values))),
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
        "outputs it cannot tell from real fields, the generator minimising L1 + a small "
        "weight times these terms. Which weighting is best is an empirical question that "
        "needs the training runs, outside the book.",
        rests_on=["the L2 minimiser above", "the L1 minimiser above"])


PROBLEM = Problem(
    id="8.28", set="chapter8", order=28, title="A downscaling CNN",
    source="Chapter 8, exercise 8.28",
    statement=(f"Climate downscaling: from {IN_C} coarse variables on a {IN_SIZE} x {IN_SIZE} "
               f"grid predict the temperature on a {OUT_SIZE} x {OUT_SIZE} grid, a {R}x "
               f"upscaling. Training the models on climate data is outside the book (it needs "
               f"the data and training runs); the designs, their sizes and parameter counts "
               f"and the upsampling operations are analysed."),
    parts=(
        Part("a", "Design two architectures: (i) an encoder-decoder that upsamples with "
                  "transposed convolutions, (ii) an encoder followed by a sub-pixel "
                  "convolution (pixel shuffle).", solve_a),
        Part("b", "Build both and compare their parameter counts.", solve_b),
        Part("c", "A pixel shuffle rearranges a (C r^2, H, W) map into (C, rH, rW). Describe it "
                  "and explain why it avoids the checkerboard artifacts of transposed "
                  "convolutions.", solve_c),
        Part("d", "Which loss would you use, why might L1 beat L2 for spatial fields, and how "
                  "would perceptual or adversarial losses sharpen the output?", solve_d),
    ),
)
