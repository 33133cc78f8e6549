"""Exercise 8.25: TextCNN item embeddings in the progressive project.

The project's item catalogue and the training runs are not part of the course material, so
the three parts are out of scope.  The engine still derives, for the three TextCNN
configurations, the parameter count (:mod:`derive.conv.costs`), the embedding dimension
(one max-pooled value per filter) and the n-gram widths seen; and the cost of the
pairwise cosine similarities of part (b).  Counts are cross-checked with NumPy allocations
and, where PyTorch is installed, with its modules (the page is the same either way).

Sizes assumed, and stated on the page and in each part's reason: vocabulary V = 20,000
words, word-embedding dimension E = 128, F = 128 filters per kernel size (256 in
configuration (iii)), descriptions of L = 256 tokens (which enter no parameter count), and
an illustrative catalogue of 10,000 items for the similarity cost of part (b).
"""

from derive.book import Part, Problem, Sheet

VOCAB, EMBED, FILTERS, LENGTH = 20_000, 128, 128, 256
ITEMS = 10_000          # catalogue size, an illustrative assumption (part b)
CONFIGS = (("(i) kernel size 3", (3,), FILTERS),
           ("(ii) kernel sizes 3, 5 and 7", (3, 5, 7), FILTERS),
           ("(iii) kernel sizes 3, 4 and 5, twice the filters", (3, 4, 5), 2 * FILTERS))


def _encoder_params(kernels, filters) -> int:
    """Embedding table + filter banks (the encoder; a classifier head comes on top)."""
    from derive.conv.costs import conv_cost, dense_cost
    from derive.conv.shapes import output_size
    table = dense_cost(VOCAB, EMBED, bias=False, convention="mac").params
    return table + sum(conv_cost(EMBED, filters, (1, k), (1, output_size(LENGTH, k)),
                                 convention="mac").params for k in kernels)


def _sizes_text() -> str:
    return (f"The project's encoder sizes are not given, so this solution takes those of "
            f"exercise 8.16: a vocabulary of $V$ = {VOCAB:,} words, descriptions of "
            f"$L$ = {LENGTH} tokens and $F$ = {FILTERS} filters per kernel size ($2*F$ = "
            f"{2 * FILTERS} in (iii)); the word-embedding dimension $E$ = {EMBED} is an "
            f"assumption. Each filter is a 1D convolution of width $k$ over the $E$ embedding "
            f"channels, with a bias and no padding; its output is max-pooled over the "
            f"positions, so the item embedding has one value per filter.")


def _dims() -> list[int]:
    """Item embedding dimension of each configuration: one max-pooled value per filter."""
    return [len(k) * f for _, k, f in CONFIGS]


def _reason_a() -> str:
    return (f"needs the project's item catalogue and training runs. The parameter counts, "
            f"embedding dimensions and n-gram widths are derived for assumed sizes: a "
            f"vocabulary of {VOCAB:,} words, word embeddings of dimension {EMBED}, and "
            f"{FILTERS} filters per kernel size ({2 * FILTERS} in (iii)), each with a bias; "
            f"descriptions of {LENGTH} tokens are assumed too, but the length enters no "
            f"parameter count")


def _reason_b() -> str:
    a, b, c = _dims()
    return (f"needs the trained encoders and the catalogue. The cost of the similarity "
            f"matrix is derived for an assumed catalogue of {ITEMS:,} items and the "
            f"embedding dimensions of part (a), {a}, {b} and {c}")


def solve_a(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.layers import Layer
    from derive.conv.receptive import receptive_field

    sheet.text(_sizes_text())
    sheet.table(["quantity", "symbol", "value"],
                [("vocabulary size", "$V$", VOCAB), ("word-embedding dimension", "$E$", EMBED),
                 ("filters per kernel size", "$F$", FILTERS),
                 ("tokens per description", "$L$", LENGTH)],
                caption="Assumed sizes (the embedding table is $V$×$E$).")
    rows = []
    for name, kernels, filters in CONFIGS:
        params = _encoder_params(kernels, filters)
        entries = (np.zeros((VOCAB, EMBED)).size
                   + sum(np.zeros((filters, EMBED, k)).size + filters for k in kernels))
        sheet.numeric(params, int(entries), why=f"encoder parameters, {name}",
                      method="entries of the embedding table, the filter banks and the biases, "
                             "allocated with NumPy")
        widths = [receptive_field([Layer("conv", kernel=k)]).size for k in kernels]
        rows.append((name, len(kernels) * filters, ", ".join(map(str, widths)), params,
                     params - VOCAB * EMBED))
    for name, kernels, filters in CONFIGS:
        def count(torch, kernels=kernels, filters=filters):
            nn = torch.nn
            with torch.device("meta"):
                mods = nn.ModuleList([nn.Embedding(VOCAB, EMBED)]
                                     + [nn.Conv1d(EMBED, filters, k) for k in kernels])
            return sum(p.numel() for p in mods.parameters())

        sheet.numeric_if_installed("torch", _encoder_params(kernels, filters), count,
                                   why=f"encoder parameters, {name}",
                                   method="PyTorch's Embedding and Conv1d modules")
    sheet.table(["configuration", "item embedding dimension", "n-gram widths",
                 "encoder parameters", "without the embedding table"], rows,
                caption="Derived; the classification accuracy of each needs training.")


def solve_b(sheet: Sheet) -> None:
    from derive.conv.costs import dense_cost

    items = ITEMS
    dims = _dims()
    sheet.text(f"The item embeddings of part (a): dimension (number of kernel sizes)×"
               f"(filters per size), i.e. {dims[0]}, {dims[1]} and {dims[2]}. The catalogue "
               f"size is not given in the course; {items:,} items is an illustrative "
               f"assumption.")
    rows = [(name, d, dense_cost(d, items, bias=False, convention="mac").flops * items)
            for (name, _, _), d in zip(CONFIGS, dims)]
    sheet.numeric(rows[0][2], items * items * dims[0],
                  why=f"multiply-adds for all pairs, {CONFIGS[0][0]}",
                  method="one multiply-add per ordered item pair and embedding coordinate")
    sheet.table(["configuration", "dimension", f"multiply-adds for all pairs of {items:,} "
                                               "items"], rows,
                caption="Pairwise cosine similarities of unit-normalized embeddings are one "
                        "matrix product (illustrative catalogue size).")


PROBLEM = Problem(
    id="8.25", set="chapter8", order=25, title="TextCNN item embeddings",
    source="Chapter 8, exercise 8.25",
    statement=("In the course's progressive project, item descriptions are embedded with a "
               "TextCNN. Compare three configurations: (i) kernel size 3 only, (ii) kernel "
               "sizes 3, 5 and 7, (iii) kernel sizes 3, 4 and 5 with twice as many filters."),
    parts=(
        Part("a", "Train the three configurations and compare embedding quality through "
                  "category classification accuracy.", solve_a, scope="out-of-scope",
             reason=_reason_a()),
        Part("b", "Embed the whole catalogue, compute pairwise cosine similarities and "
                  "visualize the clusters (t-SNE or UMAP).", solve_b, scope="out-of-scope",
             reason=_reason_b()),
        Part("c", "Compare the nearest neighbours of five random items under the CNN "
                  "embeddings and under TF-IDF vectors.", scope="out-of-scope",
             reason="a qualitative judgement on the trained model's neighbours"),
    ),
)
