"""Exercise 8.18: a 1D CNN for time-series classification.

Part (a) is a small computation and is done here: five classes of synthetic multivariate
series are generated with NumPy (fixed seed) and each class is checked to carry the
signature it was designed with (trend slope, dominant frequency, step position, decaying
envelope, drift).  Training and comparing the models (b-d) are measured by the seeded
``time-series`` experiment (:mod:`derive.lab.experiments.time_series`, which draws its own
series of the same five classes with random onsets, phases and offsets); the page renders its
stored results.  The engine derives the temporal CNN's receptive field (:mod:`derive.conv.receptive`), output lengths
(:mod:`derive.conv.shapes`) and the parameter counts of all three models
(:mod:`derive.conv.costs`).

The TemporalCNN is not specified by the exercise; we take three 1D convolutions (kernels 7,
5, 3, 'same' padding, 3, 32, 64 and 64 channels) with max pooling of 2 after the first two,
global average pooling and a linear layer to the 5 classes.
"""

from derive.book import EXPERIMENT, Part, Problem, Sheet

CHANNELS, STEPS, PER_CLASS, CLASSES = 3, 128, 40, 5
PERIOD_CYCLES, DAMPED_CYCLES, DRIFT, NOISE = 8, 4, 0.05, 0.3
HIDDEN = 64                                            # MLP hidden width


def _generate(seed: int = 818):
    """(x, y, design): x of shape (5 * PER_CLASS, CHANNELS, STEPS), labels, and the
    per-series design values each check compares against."""
    import numpy as np
    rng = np.random.default_rng(seed)
    t = np.arange(STEPS)
    xs, ys, design = [], [], []
    for label in range(CLASSES):
        for _ in range(PER_CLASS):
            noise = NOISE * rng.standard_normal((CHANNELS, STEPS))
            if label == 0:                                   # upward trend
                slope = rng.uniform(0.01, 0.03, (CHANNELS, 1))
                x, d = slope * t + noise, slope.ravel()
            elif label == 1:                                 # periodic
                phase = rng.uniform(0, 2 * np.pi, (CHANNELS, 1))
                x, d = np.sin(2 * np.pi * PERIOD_CYCLES * t / STEPS + phase) + noise, None
            elif label == 2:                                 # step
                tau = int(rng.integers(STEPS // 4, 3 * STEPS // 4))
                x, d = (t >= tau).astype(float) * 2.0 + noise, tau
            elif label == 3:                                 # damped oscillation
                x = (np.exp(-t / (STEPS / 4)) * 3 * np.sin(2 * np.pi * DAMPED_CYCLES * t / STEPS)
                     + noise)
                d = None
            else:                                            # random walk with drift
                x, d = np.cumsum(DRIFT + NOISE * rng.standard_normal((CHANNELS, STEPS)),
                                 axis=1), None
            xs.append(x)
            ys.append(label)
            design.append(d)
    return np.stack(xs), np.array(ys), design


def _expected_energy_ratio() -> float:
    """Energy of the first quarter over the last for the damped class, from the design:
    the noise-free envelope's energy plus the noise's expected energy, per quarter."""
    import numpy as np
    t = np.arange(STEPS)
    clean = np.exp(-t / (STEPS / 4)) * 3 * np.sin(2 * np.pi * DAMPED_CYCLES * t / STEPS)
    q = STEPS // 4
    noise = q * NOISE ** 2
    return float(((clean[:q] ** 2).sum() + noise) / ((clean[-q:] ** 2).sum() + noise))


def _round_up(tol: float) -> float:
    """A tolerance rounded up to one significant digit (the page shows it that way)."""
    import math
    scale = 10.0 ** math.floor(math.log10(tol))
    return math.ceil(tol / scale) * scale


def solve_a(sheet: Sheet) -> None:
    import numpy as np

    x, y, design = _generate()
    t = np.arange(STEPS)
    sheet.text(f"{PER_CLASS} series per class, {CHANNELS} channels, {STEPS} steps, Gaussian "
               f"noise of standard deviation {NOISE} (NumPy's default generator, seed 818): "
               f"(0) upward trend with a random slope per channel, drawn uniformly from 0.01 "
               f"to 0.03; (1) a sine of {PERIOD_CYCLES} cycles with a random phase; (2) a step "
               f"of height 2 at a random time between {STEPS // 4} and {3 * STEPS // 4}; (3) "
               f"the decaying sine "
               f"$3*exp(-(t/{STEPS // 4}))*sin(pi*t/{STEPS // (2 * DAMPED_CYCLES)})$ (the "
               f"same for every series, plus noise); (4) a random walk whose increments have "
               f"mean {DRIFT} and standard deviation {NOISE}. Each class is then checked to "
               f"carry the signature it was designed with.")
    sheet.numeric(x.shape, (CLASSES * PER_CLASS, CHANNELS, STEPS),
                  why="shape of the generated array", method="classes × series per class, "
                                                          "channels, steps")
    rows = []
    # (0) least-squares slopes against the designed ones
    trend = np.flatnonzero(y == 0)
    fitted = np.array([np.polyfit(t, x[i, c], 1)[0] for i in trend for c in range(CHANNELS)])
    designed = np.concatenate([design[i] for i in trend])
    # shown to 4 decimals (the tolerance is 40 times coarser)
    sheet.numeric(fitted.round(4), designed.round(4), tol=4e-3,
                  why=f"slope of each of the {fitted.size} trend channels, fitted by least "
                      f"squares",
                  method="the slope drawn for it (tolerance about 5 standard errors of the "
                         "fit)")
    rows.append(("trend", "least-squares slope", f"{designed.min():.4f} to {designed.max():.4f}",
                 f"{fitted.min():.4f} to {fitted.max():.4f}",
                 f"{np.abs(fitted - designed).max():.4f}"))
    # (1) dominant frequency of every periodic channel
    periodic = np.flatnonzero(y == 1)
    peaks = np.array([int(np.argmax(np.abs(np.fft.rfft(x[i, c]))[1:]) + 1) for i in periodic
                      for c in range(CHANNELS)])
    sheet.numeric(peaks, np.full(peaks.size, PERIOD_CYCLES),
                  why=f"largest non-constant Fourier coefficient of each of the {peaks.size} "
                      f"periodic channels (its index in cycles per series)",
                  method="the number of cycles of the designed sine")
    rows.append(("periodic", "cycles of the strongest frequency", PERIOD_CYCLES,
                 f"{peaks.min()} to {peaks.max()}", int(np.abs(peaks - PERIOD_CYCLES).max())))
    # (2) step position from the largest jump of a 9-step moving average
    steps = np.flatnonzero(y == 2)
    found = []
    for i in steps:
        smooth = np.convolve(x[i].mean(axis=0), np.ones(9) / 9, mode="valid")
        found.append(int(np.argmax(smooth[9:] - smooth[:-9])) + 9)
    drawn = np.array([design[i] for i in steps])
    sheet.numeric(np.array(found), drawn,
                  why=f"step time of each of the {len(found)} step series, found at the "
                      f"largest jump of the smoothed channel mean",
                  method="the step time drawn for it")
    rows.append(("step", "time of the largest jump", f"{drawn.min()} to {drawn.max()}",
                 f"{min(found)} to {max(found)}", int(np.abs(np.array(found) - drawn).max())))
    # (3) decaying envelope: energy in the first quarter vs the last
    damped = np.flatnonzero(y == 3)
    q = STEPS // 4
    ratios = np.array([float((x[i, :, :q] ** 2).sum() / (x[i, :, -q:] ** 2).sum())
                       for i in damped])
    expected = _expected_energy_ratio()
    sheet.numeric(float(ratios.mean()), expected,
                  tol=_round_up(4 * ratios.std(ddof=1) / np.sqrt(ratios.size)),
                  why=f"energy of the first quarter over the last, averaged over the "
                      f"{ratios.size} damped series",
                  method="the ratio of the expected energies from the design: the decaying "
                         "sine's plus the noise's (tolerance 4 standard errors of the mean)")
    rows.append(("damped", "energy of first over last quarter", f"{expected:.1f}",
                 f"{ratios.min():.1f} to {ratios.max():.1f}",
                 f"{abs(ratios.mean() - expected):.2f} (mean)"))
    # (4) drift: mean increment
    walks = np.flatnonzero(y == 4)
    inc = np.diff(x[walks], axis=2).mean()
    se = NOISE / np.sqrt(len(walks) * CHANNELS * (STEPS - 1))
    sheet.numeric(float(inc), DRIFT, tol=_round_up(4 * se),
                  why="mean increment of the random walks",
                  method="the drift (tolerance 4 standard errors)")
    rows.append(("random walk", "mean increment", DRIFT, f"{inc:.4f}",
                 f"{abs(inc - DRIFT):.4f}"))
    sheet.table(["class", "signature measured", "designed", "measured (range)",
                 "largest deviation"], rows,
                caption="The checks above in a few numbers: for the periodic and step "
                        "classes one value per channel or series, for the damped class one "
                        "ratio per series.")
    sheet.answer("data set", f"{x.shape[0]} series of shape {CHANNELS} × {STEPS}, "
                             f"{PER_CLASS} per class")


def _cnn_layers():
    from derive.conv.layers import Layer
    return [Layer("conv", kernel=7, padding=3, in_channels=CHANNELS, out_channels=32,
                  name="conv 7"),
            Layer("maxpool", kernel=2, stride=2, name="pool 2"),
            Layer("conv", kernel=5, padding=2, in_channels=32, out_channels=64, name="conv 5"),
            Layer("maxpool", kernel=2, stride=2, name="pool 2"),
            Layer("conv", kernel=3, padding=1, in_channels=64, out_channels=64, name="conv 3")]


def _cnn_params() -> tuple[int, list]:
    from derive.conv.costs import conv_cost, dense_cost
    from derive.conv.shapes import output_size, pool_output_size

    n, rows, total = STEPS, [], 0
    for layer in _cnn_layers():
        if layer.kind == "conv":
            n = output_size(n, layer.kernel, layer.padding)
            p = conv_cost(layer.in_channels, layer.out_channels, (1, layer.kernel), (1, n),
                          convention="mac").params
        else:
            n = pool_output_size(n, layer.kernel, stride=layer.stride)
            p = 0
        total += p
        rows.append((layer.name, n, p))
    head = dense_cost(64, CLASSES, convention="mac").params
    rows.append(("global average + linear", 1, head))
    return total + head, rows


NAMES = {"cnn": "TemporalCNN", "average_linear": "time average + linear", "mlp": "MLP"}


def _experiment(sheet: Sheet, what: str) -> dict:
    """The stored results of the time-series experiment (its own series: the same five
    classes as part (a), drawn with random onsets, phases and offsets by
    derive.lab.experiments.time_series)."""
    return sheet.measured("time-series", what)["results"]


def solve_b(sheet: Sheet) -> None:
    from derive.conv.receptive import receptive_field, receptive_field_steps

    total, rows = _cnn_params()
    sheet.table(["layer", "length after", "parameters"], rows,
                caption=f"The assumed TemporalCNN on {STEPS} steps (engine sizes and costs).")
    steps = receptive_field_steps(_cnn_layers())
    sheet.table(["layer", "field before", "field after", "jump after"],
                [(r.name, r.before.size, r.after.size, r.after.jump) for r in steps],
                caption="Receptive field in time steps (engine recurrence).")
    field = receptive_field(_cnn_layers()).size
    seen = {0}
    for layer in reversed(_cnn_layers()):
        seen = {layer.stride * i + u for i in seen for u in range(layer.kernel)}
    sheet.numeric(field, len(seen), why="receptive field in time steps (the engine's "
                                        "recurrence)",
                  method="the time steps one output unit depends on, enumerated backwards "
                         "through the layers")
    import numpy as np
    shapes = [(32, CHANNELS, 7), (32,), (64, 32, 5), (64,), (64, 64, 3), (64,), (CLASSES, 64),
              (CLASSES,)]
    sheet.numeric(total, int(sum(np.zeros(s).size for s in shapes)),
                  why="TemporalCNN parameters (engine costs)",
                  method="the entries of the weight and bias tensors, allocated with NumPy")
    sheet.answer("TemporalCNN", f"{total:,} parameters, receptive field {field} steps "
                                f"({STEPS} per series)")
    r = _experiment(sheet, "Validation accuracy per epoch of the TemporalCNN and of the two "
                           "baselines of part (c), trained on the experiment's own series.")
    from derive.lab.plots import line_plot
    sheet.figure(line_plot("time-series-accuracy",
                           [(NAMES[m], list(range(1, len(r["val_accuracy"][m]) + 1)),
                             r["val_accuracy"][m]) for m in r["models"]],
                           xlabel="epoch", ylabel="validation accuracy",
                           caption="Validation accuracy per epoch (stored results of the "
                                   "time-series experiment)."))
    sheet.text(f"The experiment's series are drawn by its own generator (the five classes of "
               f"part (a), with random onsets, phases and offsets), {r['sizes']['train']} for "
               f"training, {r['sizes']['val']} for validation and {r['sizes']['test']} for "
               f"testing. The TemporalCNN reaches a test accuracy of "
               f"{r['test_accuracy']['cnn']:.3f}.")


def solve_c(sheet: Sheet) -> None:
    from derive.conv.costs import dense_cost

    gap = dense_cost(CHANNELS, CLASSES, convention="mac").params
    mlp = (dense_cost(CHANNELS * STEPS, HIDDEN, convention="mac").params
           + dense_cost(HIDDEN, CLASSES, convention="mac").params)
    cnn, _ = _cnn_params()
    sheet.numeric(mlp, CHANNELS * STEPS * HIDDEN + HIDDEN + HIDDEN * CLASSES + CLASSES,
                  why="MLP parameters (engine costs)",
                  method="the weights and biases of the two dense layers, multiplied out")
    sheet.table(["model", "parameters"],
                [("(i) time average of each channel + linear", gap),
                 (f"(ii) MLP on the flattened series (one hidden layer of {HIDDEN})", mlp),
                 ("TemporalCNN", cnn)],
                caption="Derived parameter counts of the models as assumed on this page.")
    r = _experiment(sheet, "Test accuracy of the three trained models, overall and per class.")
    sheet.table(["model", "parameters", "test accuracy"] + r["classes"],
                [(NAMES[m], r["params"][m], f"{r['test_accuracy'][m]:.3f}")
                 + tuple(f"{a:.2f}" for a in r["test_class_accuracy"][m]) for m in r["models"]],
                caption="Measured on the experiment's test series (its models, whose sizes "
                        "are the experiment's).")


def solve_d(sheet: Sheet) -> None:
    from derive.conv.receptive import receptive_field

    field = receptive_field(_cnn_layers()).size
    period = STEPS // PERIOD_CYCLES
    sheet.table(["quantity", "time steps"],
                [("receptive field of a top unit (part (b))", field),
                 ("one period of the periodic class", period)],
                caption="The field spans more than one period.")
    r = _experiment(sheet, "Accuracy on the two periodic classes (oscillation and damped "
                           "oscillation) of each trained model.")
    per_class = r["sizes"]["train"] // len(r["classes"])
    sheet.explain(
        f"A convolution applies the same small filter at every time step, so a filter tuned "
        f"to one cycle of an oscillation responds wherever the oscillation occurs, whatever "
        f"its phase; global pooling then makes the decision independent of position. With a "
        f"field of {field} steps each top unit sees more than one period of {period} steps. "
        f"The MLP must learn a separate weight pattern for every phase and position from "
        f"the experiment's {per_class} training series per class, and averaging over time "
        f"removes the oscillation altogether (the mean of a sine over whole cycles is zero).",
        rests_on=["the receptive field of part (b)"])
    sheet.table(["model", "accuracy on the periodic classes"],
                [(NAMES[m], f"{r['periodic_accuracy'][m]:.3f}") for m in r["models"]],
                caption="Measured on the experiment's test series.")
    best = r["best_on_periodic"]
    verdict = ("as the argument above leads one to expect" if best == "cnn" else
               "against what the argument above leads one to expect")
    sheet.text(f"Best on the periodic classes: the {NAMES[best]}, {verdict}.")


PROBLEM = Problem(
    id="8.18", set="chapter8", order=18, title="1D CNNs for time series",
    source="Chapter 8, exercise 8.18",
    statement=("Classify synthetic multivariate time series from five classes, each defined "
               "by a temporal pattern, with a temporal CNN and two baselines."),
    parts=(
        Part("a", "Generate series from five classes: upward trend, periodic oscillations, a "
                  "step, a damped oscillation and a random walk with drift.", solve_a),
        Part("b", "Train the TemporalCNN on them.", solve_b, scope=EXPERIMENT),
        Part("c", "Compare with (i) averaging each channel over time + a linear classifier and "
                  "(ii) an MLP on the flattened series.", solve_c, scope=EXPERIMENT),
        Part("d", "Which model handles the periodic classes best, and why does locality help?",
             solve_d, scope=EXPERIMENT),
    ),
)
