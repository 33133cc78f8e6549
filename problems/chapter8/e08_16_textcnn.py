"""Exercise 8.16: a 1D CNN (TextCNN) for sentiment classification.

Two kinds of numbers.  For the sizes as posed (a vocabulary of 20,000 words, reviews of 256
tokens, 128 filters per width; we take embeddings of 128 and two classes) the engine derives
the size of the embedded input, the output length of each filter bank
(:func:`derive.conv.shapes.output_size`), the parameter counts of the TextCNN, of the
bag-of-words baseline and of the single-kernel models (:mod:`derive.conv.costs`, text treated
as a 1 x L image with E channels), and the n-gram width each filter sees
(:func:`derive.conv.receptive.receptive_field`).  Counts are cross-checked by allocating the
weight tensors with NumPy, and with PyTorch modules where PyTorch is installed (the page reads
the same either way); the n-gram width by perturbing one token at a time.

Every part is also measured by the seeded ``text-cnn`` experiment
(:mod:`derive.lab.experiments.text_cnn`), whose stored results the page renders: a synthetic
stand-in for IMDB (filler words with planted sentiment phrases, negations among them), run at
smaller sizes read from its stored configuration.  The engine's counts at those sizes are
cross-checked against the parameter counts the run stored.  The stand-in can show what the
models can and cannot represent (word order, negation, phrases of three words); it cannot show
accuracy on real reviews or the effects of a real vocabulary.  All comparisons in the prose are
computed from the stored numbers.
"""

from __future__ import annotations

import math
from typing import Any

from derive.book import EXPERIMENT, Part, Problem, Sheet

VOCAB, LENGTH, EMBED, FILTERS, CLASSES = 20_000, 256, 128, 128, 2
KERNELS = (2, 3, 4, 5)
NAME = "text-cnn"


def _embedding_params(v, e):
    """An embedding is a dense layer applied to one-hot vectors, without bias."""
    from derive.conv.costs import dense_cost
    return dense_cost(v, e, bias=False, convention="mac").params


def _bank(e, f, k, length):
    from derive.conv.costs import conv_cost
    from derive.conv.shapes import output_size
    out = output_size(length, k)
    return conv_cost(e, f, (1, k), (1, out), convention="mac"), out


def _textcnn(kernels, filters, v=VOCAB, e=EMBED, length=LENGTH, classes=CLASSES) -> int:
    from derive.conv.costs import dense_cost
    banks = sum(_bank(e, filters, k, length)[0].params for k in kernels)
    head = dense_cost(len(kernels) * filters, classes, convention="mac").params
    return _embedding_params(v, e) + banks + head


def _entries(kernels, filters, v=VOCAB, e=EMBED, classes=CLASSES) -> int:
    """Independent count: allocate every weight and bias tensor and add up their sizes."""
    import numpy as np
    shapes = [(v, e)] + [s for k in kernels for s in ((filters, e, k), (filters,))]
    shapes += [(classes, len(kernels) * filters), (classes,)]
    return int(sum(np.zeros(s, dtype=np.int8).size for s in shapes))


def _torch_count(torch, kernels, filters, v=VOCAB, e=EMBED, classes=CLASSES):
    nn = torch.nn
    modules = [nn.Embedding(v, e)] + [nn.Conv1d(e, filters, k) for k in kernels]
    modules.append(nn.Linear(len(kernels) * filters, classes))
    return sum(p.numel() for p in nn.ModuleList(modules).parameters())


# ------------------------------------------------------------------ the experiment as run
def _sizes(record: dict[str, Any]) -> dict[str, Any]:
    """The experiment's sizes: vocabulary rows (padding and unknown included), embedding,
    filters per width, padded review length and kernel widths."""
    c, r = record["config"], record["results"]
    return {"v": int(r["vocabulary"]), "e": int(c["embed"]), "f": int(c["filters"]),
            "length": int(r["max_len"]), "kernels": tuple(int(k) for k in c["kernels"])}


def _engine_params(name: str, s: dict[str, Any]) -> int:
    """The engine's count of one of the experiment's models at its sizes."""
    from derive.conv.costs import dense_cost
    if name == "bow":
        return (_embedding_params(s["v"], s["e"])
                + dense_cost(s["e"], CLASSES, convention="mac").params)
    kernels = s["kernels"] if name == "textcnn" else (int(name[1:]),)
    return _textcnn(kernels, s["f"], v=s["v"], e=s["e"], length=s["length"])


def _check_params(sheet: Sheet, record: dict[str, Any], names: list[str]) -> None:
    s = _sizes(record)
    stored = record["results"]["params"]
    engine = [_engine_params(n, s) for n in names]
    sizes = f"$V = {s['v']}$ rows, $E = {s['e']}$" + ("" if names == ["bow"] else
                                                       f", $F = {s['f']}$")
    sheet.numeric(engine if len(names) > 1 else engine[0],
                  [stored[n] for n in names] if len(names) > 1 else stored[names[0]],
                  why=f"parameters of the trained {', '.join(_label(n) for n in names)} as "
                      f"run: {sizes} (engine costs)",
                  method="PyTorch's count of the trained modules' parameter entries, stored "
                         "with the results")


def _label(name: str) -> str:
    if name == "textcnn":
        return "TextCNN"
    if name == "bow":
        return "bag of words"
    return f"width-{name[1:]} model"


def _measured(sheet: Sheet, what: str) -> dict[str, Any]:
    return sheet.measured(NAME, what)


def _curves(name: str, record: dict[str, Any], models: list[str], caption: str):
    from derive.lab.plots import line_plot
    curves = record["results"]["val_accuracy"]
    return line_plot(name, [(_label(m), list(range(1, len(curves[m]) + 1)), curves[m])
                            for m in models],
                     xlabel="epoch", ylabel="validation accuracy", caption=caption)


def _se(p: float, n: int) -> float:
    """Standard error of an accuracy p measured on n reviews (binomial)."""
    return math.sqrt(p * (1 - p) / n)


def _versus(a: str, acc_a: float, b: str, acc_b: float, se: float) -> str:
    """A comparison of two test accuracies in words, with ties called ties: differences
    below two standard errors of one accuracy are not told apart."""
    d = acc_a - acc_b
    if abs(d) < 2 * se:
        return (f"the {a} ({acc_a:.3f}) and the {b} ({acc_b:.3f}) differ by {abs(d):.3f}, "
                f"less than two standard errors ({2 * se:.3f}): a tie at this test size")
    (better, hi), (worse, lo) = ((a, acc_a), (b, acc_b)) if d > 0 else ((b, acc_b), (a, acc_a))
    return (f"the {better} is ahead of the {worse} by {abs(d):.3f} ({hi:.3f} against "
            f"{lo:.3f}; two standard errors are {2 * se:.3f})")


def _phrases() -> dict[str, int]:
    """Planted phrase -> polarity (+1 positive, -1 negative), as the corpus defines them."""
    from derive.lab.experiments.text_cnn import PHRASES
    return {" ".join(p): s for p, s in PHRASES.items()}


def _pooled(record: dict[str, Any], model: str, phrases: list[str]) -> tuple[float, int]:
    """Accuracy over all test reviews whose only phrase is one of ``phrases``, and their
    number (each phrase's accuracy weighted by its count of reviews)."""
    r = record["results"]
    n = sum(r["single_phrase_reviews"][p] for p in phrases)
    right = sum(r["accuracy_by_phrase"][model][p] * r["single_phrase_reviews"][p]
                for p in phrases)
    return right / n, n


def _polarity(s: int) -> str:
    return "positive" if s > 0 else "negative"


# ------------------------------------------------------------------ parts
def solve_a(sheet: Sheet) -> None:
    sheet.text(f"As posed: each review becomes {LENGTH} token ids (padded or truncated), "
               f"looked up in an embedding table of $V == {VOCAB}$ rows and $E == {EMBED}$ "
               f"columns ($E$ is our choice), giving an $E$ × {LENGTH} input.")
    table = _embedding_params(VOCAB, EMBED)
    import numpy as np
    sheet.numeric(table, np.zeros((VOCAB, EMBED), dtype=np.int8).size,
                  why="embedding parameters as posed (the engine's dense-layer count)",
                  method="the entries of a $V$ × $E$ table allocated with NumPy")
    sheet.answer("embedding parameters", f"{table:,}")
    sheet.answer("input per review", f"{EMBED} × {LENGTH} = {EMBED * LENGTH:,} values")

    record = _measured(sheet, "The corpus the experiment trains on: a synthetic stand-in "
                              "for IMDB, its vocabulary and its planted phrases.")
    c, r = record["config"], record["results"]
    s = _sizes(record)
    from derive.lab.experiments.text_cnn import DISTRACTORS
    sheet.text(f"The run does not use IMDB. Its reviews are made of {c['words']:,} made-up "
               f"filler words w0, w1, ..., drawn with Zipf frequencies (the word of rank $n$ "
               f"with probability proportional to $1/n$), {c['min_len']} to {c['max_len']} "
               f"tokens long. Into each review one or two sentiment phrases of its polarity "
               f"are planted, and up to three lone distractor words ("
               + ", ".join(f"'{w}'" for w in DISTRACTORS)
               + f"), always with filler words in between. A review's label is the polarity "
               f"of its phrases; then a fraction {c['label_noise']} of the labels is flipped "
               f"at random (label noise; {r['label_noise_test']:.1%} of the test labels "
               f"ended up flipped).")
    counts = r["single_phrase_reviews"]
    sheet.table(["phrase", "polarity", "test reviews with only this phrase"],
                [(f"'{p}'", _polarity(pol), counts[p]) for p, pol in _phrases().items()],
                caption="The planted phrases. Per-phrase accuracies in parts (c) and (d) are "
                        "measured on the test reviews whose only phrase is the one named, "
                        "against the labels before noise.")
    from derive.lab.experiments.text_cnn import phrases_in
    review = r["saliency"]["review"].split()
    start, first = phrases_in(review)[0]
    head = review[:start + len(first) + len(first)]     # a few words past the first phrase
    sheet.text("The beginning of a test review (the one examined in exercise 8.17(c)), "
               "after the vocabulary cut: " + " ".join(head) + " ...")
    sheet.table(["", "as posed", "as run"],
                [("vocabulary", f"{VOCAB:,} words", f"the {c['top_n']:,} most frequent "
                                                     f"training tokens, plus padding and "
                                                     f"unknown: {s['v']:,} rows"),
                 ("tokens per review", f"cut or padded to {LENGTH}",
                  f"{c['min_len']} to {c['max_len']}, padded to {s['length']}"),
                 ("embedding $E$", f"{EMBED} (our choice)", s["e"]),
                 ("filters per width $F$", FILTERS, s["f"]),
                 ("epochs", "not fixed", c["epochs"]),
                 ("reviews", "the IMDB split", f"{r['sizes']['train']:,} training, "
                                               f"{r['sizes']['val']:,} validation, "
                                               f"{r['sizes']['test']:,} test")],
                caption="The exercise's sizes and the experiment's (read from its stored "
                        "configuration and results).")
    sheet.numeric(c["top_n"] + 2, r["vocabulary"],
                  why="rows of the experiment's embedding table: the kept words plus the "
                      "padding and unknown entries (configuration)",
                  method="the size of the vocabulary built from the training reviews, "
                         "stored with the results")
    # words the stored texts show after the vocabulary cut (unknown words print as <unk>)
    shown = set(review) | {w for flt in r["filters"] for g in flt["ngrams"] for w in g.split()}
    kept = all(w in shown for p in _phrases() for w in p.split())
    sheet.text(f"With this cut, {r['unknown_fraction_test']:.1%} of the test tokens are "
               f"unknown" + (" (rare filler words: every phrase word appears in the stored "
                             "texts, so it was kept)" if kept else "")
               + ". What the stand-in can show: whether a model can read "
               f"phrases whose meaning depends on word order ('not good' against 'good'), "
               f"which a bag of words cannot, and whether the n-gram filters find the planted "
               f"phrases. What it cannot show: accuracy on real reviews, whose cues are many, "
               f"varied and spread out, or the effect of a real vocabulary (rare words, "
               f"synonyms, misspellings, the choice of {VOCAB:,} words), which filler words "
               f"do not have.")
    sheet.answer("embedding parameters as run",
                 f"{_embedding_params(s['v'], s['e']):,} ({s['v']:,} × {s['e']})")


def solve_b(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import dense_cost
    from derive.symbols import syms

    rows = []
    for k in KERNELS:
        cost, out = _bank(EMBED, FILTERS, k, LENGTH)
        brute = sum(1 for start in range(LENGTH) if start + k <= LENGTH)
        sheet.numeric(out, brute, why=f"output length for $k == {k}$ as posed (the "
                                      f"output-size rule)",
                      method="the window positions enumerated")
        rows.append((k, out, cost.params, cost.flops))
    sheet.table(["kernel k", "output length", "parameters", "multiply-adds"], rows,
                caption=f"As posed, each bank: {FILTERS} filters over $E == {EMBED}$ channels "
                        f"of a {LENGTH}-token review, no padding; max pooling over time then "
                        f"keeps one value per filter.")
    e, f, v = syms("E F V")
    parts = ([_embedding_params(v, e)] + [_bank(e, f, k, LENGTH)[0].params for k in KERNELS]
             + [dense_cost(len(KERNELS) * f, CLASSES, convention="mac").params])
    sheet.derive("TextCNN parameters", [
        (sympy.Add(*parts, evaluate=False),
         "the embedding $V*E$, one bank $F*(E*k + 1)$ for each kernel size $k$ (2, 3, 4 and "
         "5), and the dense classifier from $4*F$ features to 2 classes (engine costs)"),
        (sympy.expand(sympy.Add(*parts)), "collect terms: 2 + 3 + 4 + 5 = 14")])
    total = _textcnn(KERNELS, FILTERS)
    sheet.numeric(total, _entries(KERNELS, FILTERS),
                  why="TextCNN parameters as posed (engine costs)",
                  method="the entries of every weight and bias tensor, allocated with NumPy")
    sheet.numeric_if_installed("torch", total, lambda torch: _torch_count(torch, KERNELS,
                                                                          FILTERS),
                               why="TextCNN parameters as posed (engine costs)",
                               method="PyTorch's embedding, 1D convolution and linear modules")
    outside = total - _embedding_params(VOCAB, EMBED)
    sheet.answer("TextCNN parameters", f"{total:,} (of which {outside:,} outside the embedding)")

    record = _measured(sheet, "The TextCNN trained on the stand-in corpus at the experiment's "
                              "sizes: validation accuracy after each epoch and test accuracy "
                              "(the bag of words of part (c) is plotted for comparison).")
    s, r = _sizes(record), record["results"]
    sheet.table(["kernel k", "output length", "parameters"],
                [(k, _bank(s["e"], s["f"], k, s["length"])[1],
                  _bank(s["e"], s["f"], k, s["length"])[0].params) for k in s["kernels"]],
                caption=f"As run, each bank: {s['f']} filters over $E == {s['e']}$ channels of "
                        f"a review padded to {s['length']} tokens (engine sizes and costs).")
    _check_params(sheet, record, ["textcnn"])
    sheet.figure(_curves("text-cnn-validation", record, ["textcnn", "bow"],
                         "Validation accuracy after each epoch, TextCNN and bag of words "
                         "(stored results of the text-cnn experiment, validation labels with "
                         "noise)."))
    curve = r["val_accuracy"]["textcnn"]
    best = max(range(len(curve)), key=lambda i: (curve[i], -i))
    noise, acc = r["label_noise_test"], r["test_accuracy"]["textcnn"]
    ceiling = 1 - noise
    sheet.text(f"The TextCNN's validation accuracy is {curve[0]:.3f} after the first epoch and "
               f"{curve[-1]:.3f} after the last ({len(curve)} epochs); its best is "
               f"{curve[best]:.3f}, after epoch {best + 1}. The mean training loss of its last "
               f"epoch is {r['final_loss']['textcnn']:.3f}. On the {r['sizes']['test']:,} test "
               f"reviews it is right on {acc:.3f} against the labels as given and on "
               f"{r['test_accuracy_clean']['textcnn']:.3f} against the labels before noise. "
               f"Since {noise:.1%} of the test labels were flipped, a model that read every "
               f"review's phrases correctly would score {ceiling:.3f} against the given "
               f"labels: the TextCNN is {abs(ceiling - acc):.3f} "
               + ("below" if acc < ceiling else "above") + " that.")
    sheet.answer("TextCNN parameters as run", f"{r['params']['textcnn']:,}")
    sheet.answer("TextCNN test accuracy as run", f"{acc:.3f} (labels as given), "
                                                 f"{r['test_accuracy_clean']['textcnn']:.3f} "
                                                 f"(labels before noise)")


def solve_c(sheet: Sheet) -> None:
    from derive.conv.costs import dense_cost

    bow = _embedding_params(VOCAB, EMBED) + dense_cost(EMBED, CLASSES,
                                                       convention="mac").params
    import numpy as np
    sheet.numeric(bow, np.zeros((VOCAB, EMBED)).size + np.zeros((CLASSES, EMBED + 1)).size,
                  why="bag-of-words parameters as posed (engine costs)",
                  method="the entries of the embedding table and of the classifier's weights "
                         "and biases, allocated with NumPy")
    cnn = _textcnn(KERNELS, FILTERS)
    sheet.table(["model", "parameters"],
                [("bag of words (mean embedding + linear)", bow),
                 (f"TextCNN, kernels 2 to 5, {FILTERS} filters each", cnn)],
                caption=f"As posed ($V == {VOCAB}$, $E == {EMBED}$). Both share the embedding "
                        f"table; the CNN adds the filter banks.")
    sheet.answer("extra parameters of the CNN", f"{cnn - bow:,}")

    record = _measured(sheet, "Test accuracy of the trained TextCNN and bag of words, overall "
                              "and on the test reviews whose only phrase is a given one.")
    r = record["results"]
    _check_params(sheet, record, ["bow"])
    models = ["textcnn", "bow"]
    sheet.table(["model", "parameters", "test accuracy (labels as given)",
                 "test accuracy (before noise)"],
                [(_label(m), r["params"][m], f"{r['test_accuracy'][m]:.3f}",
                  f"{r['test_accuracy_clean'][m]:.3f}") for m in models],
                caption="Measured on the experiment's test reviews, models at its sizes.")
    n = r["sizes"]["test"]
    acc = r["test_accuracy"]
    sheet.text("Overall, " + _versus("TextCNN", acc["textcnn"], "bag of words", acc["bow"],
                                     _se(acc["bow"], n)) + ".")

    phrases = _phrases()
    words = sorted({w for p in phrases for w in p.split()})
    uses = {w: [sum(1 for p, pol in phrases.items() if w in p.split() and pol == side)
                for side in (1, -1)] for w in words}
    sheet.table(["word", "positive phrases containing it", "negative phrases containing it"],
                [(w, *uses[w]) for w in words],
                caption="Each review draws its phrases uniformly from the five of its "
                        "polarity, so a word in as many positive as negative phrases is "
                        "equally frequent in both classes.")
    balanced = [p for p in phrases if all(uses[w][0] == uses[w][1] for w in p.split())]
    one_sided = [p for p in phrases if p not in balanced]
    counts = r["single_phrase_reviews"]
    sheet.table(["phrase", "polarity", "reviews", "TextCNN", "bag of words"],
                [(f"'{p}'", _polarity(phrases[p]), counts[p],
                  f"{r['accuracy_by_phrase']['textcnn'][p]:.2f}",
                  f"{r['accuracy_by_phrase']['bow'][p]:.2f}") for p in phrases],
                caption="Accuracy on the test reviews whose only phrase is the one named, "
                        "against the labels before noise.")
    bow_bal, n_bal = _pooled(record, "bow", balanced)
    cnn_bal, _ = _pooled(record, "textcnn", balanced)
    bow_one, n_one = _pooled(record, "bow", one_sided)
    cnn_one, _ = _pooled(record, "textcnn", one_sided)
    se = _se(0.5, n_bal)
    chance = ("within two standard errors of chance" if abs(bow_bal - 0.5) < 2 * se else
              f"{abs(bow_bal - 0.5):.3f} " + ("above" if bow_bal > 0.5 else "below")
              + " chance, more than two standard errors")
    sheet.text(f"On the {n_bal} reviews whose only phrase is one of the {len(balanced)} made "
               f"of balanced words (" + ", ".join(f"'{p}'" for p in balanced) + "), the bag "
               f"of words is right on {bow_bal:.3f}: {chance} (0.5; two standard errors are "
               f"{2 * se:.3f} for {n_bal} reviews). The TextCNN is right on {cnn_bal:.3f} of "
               f"them. On the {n_one} reviews whose phrase contains a word of one polarity "
               f"only (" + ", ".join(f"'{p}'" for p in one_sided) + f"), the bag of words "
               f"reaches {bow_one:.3f} and the TextCNN {cnn_one:.3f}.")
    sheet.explain("The bag of words averages the embeddings of a review's tokens, so its logit "
                  "is a linear function of the word frequencies. 'not', 'very', 'good' and "
                  "'bad' are as frequent in positive as in negative reviews (the word table), "
                  "so no linear function of frequencies separates 'not good' from 'not bad' or "
                  "'very good' from 'not very good'. Only the words that occur in phrases of "
                  "one polarity carry a signal it can use. A convolution reads the words of a "
                  "window in order and max pooling keeps the strongest window, so a filter can "
                  "respond to 'not good' and not to 'good'. On real reviews the gap can be much "
                  "smaller: most sentiment words there are not balanced the way this corpus "
                  "balances them, and a bag of words reads them well.",
                  rests_on=["the word table (from the corpus definition)",
                            "the per-phrase accuracies above (measured)"])
    sheet.answer("test accuracy as run", f"TextCNN {acc['textcnn']:.3f}, bag of words "
                                         f"{acc['bow']:.3f} (labels as given)")


def _tokens_read(k: int, length: int = 16) -> int:
    """Independent: perturb each token of a random sequence and count those that change the
    first output of a width-k convolution."""
    import numpy as np

    from derive.numeric import conv1d
    rng = np.random.default_rng(816)
    x = rng.standard_normal((1, 3, length))
    w = rng.standard_normal((1, 3, k))
    base = conv1d(x, w)[0, 0, 0]
    moved = 0
    for t in range(length):
        y = x.copy()
        y[0, :, t] += 1.0
        moved += abs(conv1d(y, w)[0, 0, 0] - base) > 1e-9
    return int(moved)


def solve_d(sheet: Sheet) -> None:
    from derive.conv.layers import Layer
    from derive.conv.receptive import receptive_field

    rows = []
    for k in KERNELS:
        field = receptive_field([Layer("conv", kernel=k)]).size
        sheet.numeric(field, _tokens_read(k), why=f"n-gram width for $k == {k}$ (the engine's "
                                                  f"receptive field)",
                      method="the tokens whose change moves the first output, found by "
                             "perturbing one token at a time (the engine's NumPy convolution, "
                             "random sequence of 16 tokens, seed 816)")
        rows.append((k, field, _textcnn((k,), FILTERS)))
    sheet.table(["kernel", "n-gram width seen", "parameters of a single-kernel model"], rows,
                caption=f"As posed ({FILTERS} filters, $E == {EMBED}$, $V == {VOCAB}$): the "
                        f"four single-kernel models of the ablation (derived).")

    record = _measured(sheet, "One TextCNN per kernel width, trained like the full one: "
                              "validation accuracy after each epoch, test accuracy overall "
                              "and per phrase.")
    r = record["results"]
    singles = [m for m in r["models"] if m.startswith("k")]
    _check_params(sheet, record, singles)
    sheet.figure(_curves("text-cnn-kernel-widths", record, singles + ["textcnn"],
                         "Validation accuracy after each epoch of the single-width models "
                         "and of the TextCNN with all widths (stored results of the text-cnn "
                         "experiment)."))
    models = singles + ["textcnn"]
    sheet.table(["model", "parameters", "test accuracy (labels as given)",
                 "test accuracy (before noise)"],
                [(_label(m), r["params"][m], f"{r['test_accuracy'][m]:.3f}",
                  f"{r['test_accuracy_clean'][m]:.3f}") for m in models],
                caption="Measured on the experiment's test reviews, models at its sizes.")
    phrases = _phrases()
    sheet.table(["phrase", "reviews"] + [_label(m) for m in models],
                [(f"'{p}'", r["single_phrase_reviews"][p])
                 + tuple(f"{r['accuracy_by_phrase'][m][p]:.2f}" for m in models)
                 for p in phrases],
                caption="Accuracy on the test reviews whose only phrase is the one named, "
                        "against the labels before noise.")
    acc, n = r["test_accuracy"], r["sizes"]["test"]
    best = max(singles, key=lambda m: (acc[m], m))
    worst = min(singles, key=lambda m: (acc[m], m))
    longest = max(len(p.split()) for p in phrases)
    narrow = [m for m in singles if int(m[1:]) < longest]
    wide = [m for m in singles if int(m[1:]) >= longest]
    by = r["accuracy_by_phrase"]
    floor = min(by[w][p] for w in wide for p in phrases)   # worst phrase of a wide model
    weak = {m: [p for p in phrases if by[m][p] < floor] for m in narrow}
    se_best = _se(acc[best], n)
    tied = [m for m in singles if m != best and acc[best] - acc[m] < 2 * se_best]
    sheet.text(f"The best single width is {best[1:]} (test accuracy {acc[best]:.3f}), the "
               f"worst {worst[1:]} ({acc[worst]:.3f}). "
               + (f"Within two standard errors ({2 * se_best:.3f}) of the best: " + ", ".join(
                   f"width {m[1:]} ({acc[m]:.3f})" for m in tied) + ". " if tied else
                  f"No other width is within two standard errors ({2 * se_best:.3f}) of it. ")
               + "Against the TextCNN with all widths, "
               + _versus(f"{_label(best)}", acc[best], "TextCNN", acc["textcnn"],
                         _se(acc["textcnn"], n)) + ".")
    for m in narrow:
        width = int(m[1:])
        # phrases longer than the width that contain a shorter phrase of the other polarity
        hidden = {p: q for p in phrases for q in phrases if len(p.split()) > width
                  and len(q.split()) == width and f" {q} " in f" {p} "
                  and phrases[q] != phrases[p]}
        if hidden:
            lowest = min(by[w][p] for w in wide for p in hidden)
            sheet.text(f"Of the phrases longer than {width} words, "
                       + " and ".join(f"'{p}' contains '{q}'" for p, q in hidden.items())
                       + f", of the opposite polarity. The {_label(m)} is right on "
                       + " and ".join(f"{by[m][p]:.2f} of the reviews whose only phrase is "
                                      f"'{p}'" for p in hidden)
                       + f"; every wider single-width model on at least {lowest:.2f}.")
        sheet.text(f"The {_label(m)} is below the worst per-phrase accuracy of any wider "
                   f"single-width model ({floor:.2f}) on "
                   + (", ".join(f"'{p}'" for p in weak[m]) or "no phrase") + ".")
    behind = [p for p in phrases if all(by["textcnn"][p] < by[w][p] for w in wide)]
    if behind:
        sheet.text("The TextCNN with all widths is below every single-width model of width "
                   f"{longest} or more on " + ", ".join(
                       f"'{p}' ({by['textcnn'][p]:.2f})" for p in behind)
                   + ": adding narrower and wider banks does not make every phrase easier. "
                     "One training run with one seed cannot tell whether this is "
                     "systematic.")
    gain = acc["textcnn"] - acc[best]
    extra = ("the extra widths of the full TextCNN add nothing measurable here"
             if abs(gain) < 2 * _se(acc["textcnn"], n) else
             f"the extra widths of the full TextCNN add {gain:.3f}" if gain > 0 else
             f"the full TextCNN is even {-gain:.3f} behind the best single width")
    bigram = ("A width-2 filter sees 'not very' and 'very good' but never the three words "
              "together. After max pooling, its features say roughly which bigrams occur "
              "somewhere in the review: 'very good' alone is positive, with 'not very' before "
              "it negative; 'very bad' alone is negative, with 'not very' before it positive. "
              "A linear classifier on the presence of 'not very', 'very good' and 'very bad' "
              "alone would need the weight of 'not very' to be below minus that of 'very "
              "good' and above minus that of 'very bad', which is impossible with 'very good' "
              "positive and 'very bad' negative: the width-2 model must get some of these "
              "phrases wrong, and its classifier's compromise also costs it on phrases it "
              "could read alone. ")
    sheet.explain((bigram if "k2" in singles else "")
                  + f"Every phrase of this corpus fits in a window of {longest}, so any width "
                    f"from {longest} up can read all of them, and {extra}. On real reviews, "
                    f"with longer and looser phrasing, the answer may differ; this run cannot "
                    f"show that.",
                  rests_on=["the per-phrase accuracies above (measured)",
                            "the phrase lengths of the corpus"])
    sheet.answer("best single kernel width as run",
                 f"{best[1:]} (test accuracy {acc[best]:.3f}"
                 + "".join(f"; width {m[1:]}: {acc[m]:.3f}, within two standard errors"
                           for m in tied)
                 + f"; width {worst[1:]} alone: {acc[worst]:.3f})")


PROBLEM = Problem(
    id="8.16", set="chapter8", order=16, title="TextCNN for sentiment",
    source="Chapter 8, exercise 8.16",
    statement=("Build a 1D CNN for sentiment classification of movie reviews: vocabulary of "
               "the 20,000 most frequent words, reviews cut or padded to 256 tokens, a TextCNN "
               "with filter banks of widths 2, 3, 4 and 5 (128 filters each). We take an "
               "embedding of dimension 128 and two classes where the exercise leaves them "
               "open. The sizes as posed are derived; the training is measured on a synthetic "
               "stand-in for IMDB at smaller sizes."),
    parts=(
        Part("a", "Prepare the IMDB data: vocabulary of 20,000 words, sequences of 256 "
                  "tokens.", solve_a, scope=EXPERIMENT),
        Part("b", "Train the TextCNN with kernel sizes 2, 3, 4, 5 and 128 filters each.",
             solve_b, scope=EXPERIMENT),
        Part("c", "Report test accuracy and compare with a bag-of-words baseline (mean "
                  "embedding + linear classifier).", solve_c, scope=EXPERIMENT),
        Part("d", "Which kernel size matters most? Train one model per kernel size.", solve_d,
             scope=EXPERIMENT),
    ),
)
