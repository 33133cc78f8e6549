"""Exercise 8.17: reading the filters of a trained TextCNN.

All three parts need the trained model of exercise 8.16, so they are out of scope.  What can
be checked without it: that a filter's activation on an n-gram is the dot product of the
filter with the n-gram's stacked embeddings (a 1D convolution, evaluated with
:func:`derive.numeric.conv1d` and compared with explicit dot products), how many n-grams a
filter scores per review (:func:`derive.conv.shapes.output_size`), and how many windows
contain each token, which shapes a token's gradient (computed with the derived backward
formulas, :func:`derive.numeric.conv2d_backward`).
"""

from derive.book import Part, Problem, Sheet

LENGTH, EMBED = 256, 128
BANKS = (3, 5)


def solve_a(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.shapes import output_size
    from derive.numeric import conv1d

    rng = np.random.default_rng(817)
    tokens, e, f = 12, 8, 4
    emb = rng.standard_normal((e, tokens))            # embedded review: E x T
    for k in BANKS:
        w = rng.standard_normal((f, e, k))
        b = rng.standard_normal(f)
        conv = conv1d(emb[None], w, b)[0]
        dots = np.array([[float(np.dot(w[o].ravel(order="F"), emb[:, t:t + k].ravel(order="F")))
                          + b[o] for t in range(tokens - k + 1)] for o in range(f)])
        # flattened filter by filter, so the page shows a few entries and the count
        sheet.numeric(conv.ravel(), dots.ravel(), tol=1e-12,
                      why=f"activations of the $k == {k}$ bank, {f} filters × "
                          f"{tokens - k + 1} n-grams (the engine's 1D convolution)",
                      method=f"each n-gram's stacked embeddings dotted with the filter, with "
                             f"NumPy (random embeddings with $E == {e}$, {tokens} tokens, "
                             f"seed 817)")
    rows = []
    for k in BANKS:
        n = output_size(LENGTH, k)
        sheet.numeric(n, sum(1 for t in range(LENGTH) if t + k <= LENGTH),
                      why=f"n-grams scored per review for $k == {k}$ (the output-size rule)",
                      method="the n-grams enumerated")
        rows.append((k, n, k * EMBED))
    sheet.table(["kernel", "n-grams scored per 256-token review", "products per score"], rows,
                caption=f"With $E == {EMBED}$; the top 5 are the 5 largest of these scores "
                        f"over the whole corpus.")
    sheet.text("So the extraction is a convolution of every review followed by a top-5 "
               "selection per filter; which n-grams win depends on the trained weights.")


def solve_c(sheet: Sheet) -> None:
    import numpy as np

    from derive.numeric import conv2d, conv2d_backward

    rows = []
    for k in BANKS:
        x = np.zeros((1, 1, 1, LENGTH))
        w = np.ones((1, 1, 1, k))
        g = np.ones_like(conv2d(x, w))
        cover = conv2d_backward(x, w, g)[0][0, 0, 0]
        brute = np.array([sum(1 for s in range(LENGTH - k + 1) if s <= t < s + k)
                          for t in range(LENGTH)])
        sheet.numeric([int(v) for v in cover], [int(v) for v in brute],
                      why=f"windows that read each of the {LENGTH} tokens for $k == {k}$ (the "
                          f"input gradient from the engine's backward formulas)",
                      method="the windows containing each token, counted directly")
        rows.append((k, int(cover[0]), int(cover[k - 1]), int(cover[LENGTH // 2])))
    sheet.table(["kernel", "windows with token 0", "with token $k - 1$", "mid-review"], rows,
                caption="Input gradient of the sum of all window scores with unit weights: "
                        "the number of windows that read each token.")
    sheet.explain("The gradient of the positive-class logit with respect to a token's "
                  "embedding sums, over the windows that contain the token, the filter "
                  "column that multiplies it, weighted by how much that window's score "
                  "reaches the logit (after max pooling, only the winning window of each "
                  "filter counts). Tokens near the ends sit in fewer windows. Which tokens "
                  "come out on top for a given review needs the trained model.",
                  rests_on=["the window counts above (the engine's backward formulas)"])


_WHY = "needs the TextCNN trained in exercise 8.16"

PROBLEM = Problem(
    id="8.17", set="chapter8", order=17, title="What TextCNN filters learn",
    source="Chapter 8, exercise 8.17",
    statement=("Analyse the filters of the TextCNN trained in exercise 8.16 (kernel-3 and "
               "kernel-5 banks)."),
    parts=(
        Part("a", "For 5 filters of each of the two banks, find the 5 n-grams with the highest "
                  "activation (the dot product of the n-gram's embeddings with the filter).",
             solve_a, scope="out-of-scope",
             reason=_WHY + "; the activation as a convolution and the number of n-grams "
                           "scored are checked"),
        Part("b", "Are the n-grams interpretable (negations, phrases such as 'waste of "
                  "time')?", scope="out-of-scope",
             reason=_WHY + "; the question is about the learned weights"),
        Part("c", "For one review, which tokens have the largest gradient with respect to the "
                  "positive-class logit?", solve_c, scope="out-of-scope",
             reason=_WHY + "; how many windows read each token is derived"),
    ),
)
