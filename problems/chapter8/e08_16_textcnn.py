"""Exercise 8.16: a 1D CNN (TextCNN) for sentiment classification.

Every part needs the IMDB data set and training runs, so all four are out of scope.  What
the engine derives without data: the size of the embedded input, the output length of each
filter bank (:func:`derive.conv.shapes.output_size`), the parameter counts of the TextCNN,
of the bag-of-words baseline and of the single-kernel models (:mod:`derive.conv.costs`,
text treated as a 1 x L image with E channels), and the n-gram width each filter sees
(:func:`derive.conv.receptive.receptive_field`).  Counts are cross-checked by allocating
the weight tensors with NumPy, and with PyTorch modules where PyTorch is installed (the page
reads the same either way); the n-gram width by perturbing one token at a time.

Assumptions stated here (the exercise does not fix them): embedding dimension E = 128,
vocabulary V = 20,000 entries, two classes, one bias per filter and per output.
"""

from derive.book import Part, Problem, Sheet

VOCAB, LENGTH, EMBED, FILTERS, CLASSES = 20_000, 256, 128, 128, 2
KERNELS = (2, 3, 4, 5)


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


def solve_a(sheet: Sheet) -> None:
    sheet.text(f"What can be derived without the data: each review becomes {LENGTH} token ids "
               f"(padded or truncated), looked up in an embedding table of $V == {VOCAB}$ rows "
               f"and $E == {EMBED}$ columns ($E$ is our choice), giving an $E$ × {LENGTH} input.")
    table = _embedding_params(VOCAB, EMBED)
    import numpy as np
    sheet.numeric(table, np.zeros((VOCAB, EMBED), dtype=np.int8).size,
                  why="embedding parameters (the engine's dense-layer count)",
                  method="the entries of a $V$ × $E$ table allocated with NumPy")
    sheet.answer("embedding parameters", f"{table:,}")
    sheet.answer("input per review", f"{EMBED} × {LENGTH} = {EMBED * LENGTH:,} values")


def solve_b(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import dense_cost
    from derive.symbols import syms

    rows = []
    for k in KERNELS:
        cost, out = _bank(EMBED, FILTERS, k, LENGTH)
        brute = sum(1 for start in range(LENGTH) if start + k <= LENGTH)
        sheet.numeric(out, brute, why=f"output length for $k == {k}$ (the output-size rule)",
                      method="the window positions enumerated")
        rows.append((k, out, cost.params, cost.flops))
    sheet.table(["kernel k", "output length", "parameters", "multiply-adds"], rows,
                caption=f"Each bank: {FILTERS} filters over $E == {EMBED}$ channels, no padding; "
                        f"max pooling over time then keeps one value per filter.")
    e, f, v = syms("E F V")
    parts = ([_embedding_params(v, e)] + [_bank(e, f, k, LENGTH)[0].params for k in KERNELS]
             + [dense_cost(len(KERNELS) * f, CLASSES, convention="mac").params])
    sheet.derive("TextCNN parameters", [
        (sympy.Add(*parts, evaluate=False),
         "the embedding $V*E$, one bank $F*(E*k + 1)$ for each kernel size $k$ (2, 3, 4 and "
         "5), and the dense classifier from $4*F$ features to 2 classes (engine costs)"),
        (sympy.expand(sympy.Add(*parts)), "collect terms: 2 + 3 + 4 + 5 = 14")])
    total = _textcnn(KERNELS, FILTERS)
    sheet.numeric(total, _entries(KERNELS, FILTERS), why="TextCNN parameters (engine costs)",
                  method="the entries of every weight and bias tensor, allocated with NumPy")
    sheet.numeric_if_installed("torch", total, lambda torch: _torch_count(torch, KERNELS,
                                                                          FILTERS),
                               why="TextCNN parameters (engine costs)",
                               method="PyTorch's embedding, 1D convolution and linear modules")
    outside = total - _embedding_params(VOCAB, EMBED)
    sheet.answer("TextCNN parameters", f"{total:,} (of which {outside:,} outside the embedding)")


def solve_c(sheet: Sheet) -> None:
    from derive.conv.costs import dense_cost

    bow = _embedding_params(VOCAB, EMBED) + dense_cost(EMBED, CLASSES,
                                                       convention="mac").params
    import numpy as np
    sheet.numeric(bow, np.zeros((VOCAB, EMBED)).size + np.zeros((CLASSES, EMBED + 1)).size,
                  why="bag-of-words parameters (engine costs)",
                  method="the entries of the embedding table and of the classifier's weights "
                         "and biases, allocated with NumPy")
    cnn = _textcnn(KERNELS, FILTERS)
    sheet.table(["model", "parameters"], [("bag of words (mean embedding + linear)", bow),
                                          ("TextCNN, kernels 2 to 5, 128 filters each", cnn)],
                caption="Both share the embedding table; the CNN adds the filter banks.")
    sheet.answer("extra parameters of the CNN", f"{cnn - bow:,}")


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
                caption="Four single-kernel models of the ablation (derived).")
    sheet.text("Which width helps most is a measurement on the four trained models.")


_WHY = "needs the IMDB reviews and training runs"

PROBLEM = Problem(
    id="8.16", set="chapter8", order=16, title="TextCNN for sentiment",
    source="Chapter 8, exercise 8.16",
    statement=("Build a 1D CNN for sentiment classification of movie reviews: vocabulary of "
               "the 20,000 most frequent words, reviews cut or padded to 256 tokens, a TextCNN "
               "with filter banks of widths 2, 3, 4 and 5 (128 filters each). We take an "
               "embedding of dimension 128 and two classes where the exercise leaves them "
               "open."),
    parts=(
        Part("a", "Prepare the IMDB data: vocabulary of 20,000 words, sequences of 256 "
                  "tokens.", solve_a, scope="out-of-scope",
             reason="needs the IMDB data set; the sizes of the embedded input and of the "
                    "embedding table are derived"),
        Part("b", "Train the TextCNN with kernel sizes 2, 3, 4, 5 and 128 filters each.",
             solve_b, scope="out-of-scope",
             reason=_WHY + "; the output lengths and parameter counts are derived"),
        Part("c", "Report test accuracy and compare with a bag-of-words baseline (mean "
                  "embedding + linear classifier).", solve_c, scope="out-of-scope",
             reason=_WHY + "; the parameter counts of both models are derived"),
        Part("d", "Which kernel size matters most? Train one model per kernel size.", solve_d,
             scope="out-of-scope",
             reason=_WHY + "; each model's n-gram width and parameter count are derived"),
    ),
)
