"""Exercise 8.17: reading the filters of a trained TextCNN.

What is checked without a trained model, for the sizes as posed (reviews of 256 tokens,
embeddings of 128): that a filter's activation on an n-gram is the dot product of the filter
with the n-gram's stacked embeddings (a 1D convolution, evaluated with
:func:`derive.numeric.conv1d` and compared with explicit dot products), how many n-grams a
filter scores per review (:func:`derive.conv.shapes.output_size`), and how many windows contain
each token, which shapes a token's gradient (computed with the derived backward formulas,
:func:`derive.numeric.conv2d_backward`).

The filters themselves are read from the stored results of the seeded ``text-cnn`` experiment
(:mod:`derive.lab.experiments.text_cnn`), the TextCNN of exercise 8.16 trained on a synthetic
stand-in for IMDB with planted sentiment phrases, at smaller sizes read from its stored
configuration: the top n-grams of the filters that weigh most in the classifier, and the
gradient of the positive logit for one test review.  The page reads the planted phrases in the
stored n-grams and review again with its own phrase reader and compares with the stored
readings; every comparison in the prose is computed from the stored numbers.
"""

from __future__ import annotations

from typing import Any

from derive.book import EXPERIMENT, Part, Problem, Sheet

LENGTH, EMBED = 256, 128
BANKS = (3, 5)
NAME = "text-cnn"


def _phrases() -> dict[str, int]:
    """Planted phrase -> polarity (+1 positive, -1 negative), as the corpus defines them."""
    from derive.lab.experiments.text_cnn import PHRASES
    return {" ".join(p): s for p, s in PHRASES.items()}


def _find(tokens: list[str]) -> list[tuple[int, str]]:
    """(position, phrase) of the planted phrases in ``tokens``, read phrase by phrase,
    longest first, each token used once: a reader independent of the experiment's
    left-to-right one."""
    found, taken = [], [False] * len(tokens)
    for phrase in sorted(_phrases(), key=lambda p: (-len(p.split()), p)):
        words = phrase.split()
        for i in range(len(tokens) - len(words) + 1):
            if tokens[i:i + len(words)] == words and not any(taken[i:i + len(words)]):
                found.append((i, phrase))
                taken[i:i + len(words)] = [True] * len(words)
    return sorted(found)


def _polarity(s: float) -> str:
    return "positive" if s > 0 else "negative"


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _common(flt: dict[str, Any]) -> str | None:
    """The planted phrase found in every one of a filter's top n-grams (the longest if
    several), or None."""
    sets = [{p for _, p in _find(g.split())} for g in flt["ngrams"]]
    shared = set.intersection(*sets) if sets else set()
    return max(sorted(shared), key=lambda p: len(p.split())) if shared else None


def _offsets(flt: dict[str, Any], phrase: str) -> set[int]:
    """Where ``phrase`` starts in each of the filter's top n-grams."""
    return {i for g in flt["ngrams"] for i, p in _find(g.split()) if p == phrase}


def _measured(sheet: Sheet, what: str) -> dict[str, Any]:
    return sheet.measured(NAME, what)


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
                      why=f"n-grams scored per review for $k == {k}$ as posed (the output-size "
                          f"rule)",
                      method="the n-grams enumerated")
        rows.append((k, "as posed", n, k * EMBED))
    record = _measured(sheet, "The n-grams of the test reviews with the highest activation "
                              "for the filters of the width-3 and width-5 banks of the "
                              "TextCNN trained in exercise 8.16 that weigh most in its "
                              "classifier.")
    c, r = record["config"], record["results"]
    run_len, run_e = int(r["max_len"]), int(c["embed"])
    rows += [(k, "as run", output_size(run_len, k), k * run_e) for k in BANKS]
    sheet.table(["kernel", "sizes", "n-grams scored per padded review", "products per score"],
                rows,
                caption=f"As posed: reviews of {LENGTH} tokens, $E == {EMBED}$. As run: reviews "
                        f"padded to {run_len} tokens, $E == {run_e}$.")
    filters = r["filters"]
    sheet.text(f"The experiment computes, for every distinct n-gram of the "
               f"{r['sizes']['test']:,} test reviews that contains no padding, each filter's "
               f"activation as the dot product above without the bias, and keeps the "
               f"{c['top_ngrams']} largest. It reads the {c['top_filters']} filters of each "
               f"bank (of {c['filters']}) with the largest weight, in absolute value, in the "
               f"difference of the two logits (positive minus negative) after max pooling: a "
               f"filter with a positive weight pushes a review toward the positive class when "
               f"it fires.")
    sheet.table(["bank", "filter", "weight in the logit difference", "pushes toward",
                 "top n-grams (activation), highest first"],
                [(flt["bank"], flt["filter"], f"{flt['logit_weight']:+.3f}",
                  _polarity(flt["logit_weight"]),
                  "; ".join(f"{g} ({a:.2f})" for g, a in zip(flt["ngrams"],
                                                             flt["activations"])))
                 for flt in filters],
                caption="Stored results of the text-cnn experiment; <unk> is a word outside "
                        "the vocabulary.")
    sheet.answer("filters read", f"{len(filters)} ({c['top_filters']} per bank), "
                                 f"{c['top_ngrams']} n-grams each")


def solve_b(sheet: Sheet) -> None:
    record = _measured(sheet, "Which planted phrases the top n-grams of part (a) contain, and "
                              "whether their polarity matches the filter's weight.")
    c, r = record["config"], record["results"]
    phrases = _phrases()
    filters = r["filters"]
    mine = dict.fromkeys(phrases, 0)
    for flt in filters:
        for g in flt["ngrams"]:
            for _, p in _find(g.split()):
                mine[p] += 1
    stored = r["phrase_counts_in_top_ngrams"]
    sheet.numeric([mine[p] for p in phrases], [stored[p] for p in phrases],
                  why="occurrences of each planted phrase among the stored top n-grams, read "
                      "on this page phrase by phrase, longest first",
                  method="the experiment's left-to-right reading of the same n-grams, stored "
                         "with the results")
    sheet.table(["phrase", "polarity", "occurrences among the top n-grams"],
                [(f"'{p}'", _polarity(s), mine[p]) for p, s in phrases.items()],
                caption=f"Over the {len(filters)} filters × {c['top_ngrams']} n-grams of "
                        f"part (a).")
    common = {i: _common(flt) for i, flt in enumerate(filters)}
    with_phrase = [i for i in common if common[i]]
    agree = [i for i in with_phrase
             if all(phrases[p] == (1 if filters[i]["logit_weight"] > 0 else -1)
                    for g in filters[i]["ngrams"] for _, p in _find(g.split()))]
    fixed = [i for i in with_phrase if len(_offsets(filters[i], common[i])) == 1]
    sheet.text(f"In {len(with_phrase)} of the {len(filters)} filters one planted phrase occurs "
               f"in all {c['top_ngrams']} top n-grams. For {len(agree)} of these, every planted "
               f"phrase in the top n-grams has the polarity the filter's weight pushes toward. "
               f"In {len(fixed)} of them the phrase sits at the same place in the window in all "
               f"{c['top_ngrams']} n-grams, with different filler words around it: the filter "
               f"detects the phrase at one offset in its window.")
    share = {p: sum(1 for i in with_phrase if common[i] == p) for p in phrases}
    most = max(share, key=lambda p: (share[p], p))
    if share[most] > 1:
        sheet.text(f"Several filters detect the same phrase: '{most}' is the phrase of "
                   f"{share[most]} of the {len(filters)} filters.")
    negated = [i for i in with_phrase if common[i].split()[0] == "not"]
    lines = []
    for i in negated:
        flt, p = filters[i], common[i]
        base = " ".join(p.split()[1:])
        toward = _polarity(flt["logit_weight"])
        opposite = base in phrases and phrases[base] != phrases[p]
        lines.append(f"filter {flt['filter']} of the width-{flt['bank']} bank responds most "
                     f"to '{p}' and pushes toward the {toward} class"
                     + (f", while '{base}' alone is {_polarity(phrases[base])}" if opposite
                        else ""))
    if lines:
        sheet.text("Negations are read as phrases: " + "; ".join(lines) + ".")
    absent = [p for p in phrases if mine[p] == 0]
    if absent:
        by = r["accuracy_by_phrase"]["textcnn"]
        rest = [int(k) for k in c["kernels"] if int(k) not in BANKS]
        sheet.text("No top n-gram of these filters contains " + ", ".join(
            f"'{p}'" for p in absent) + f". These {len(filters)} filters are the ones with the "
            f"largest weights, out of {len(BANKS) * int(c['filters'])} in the two banks of the "
            f"trained model"
            + (", and the " + " and ".join(f"width-{k}" for k in rest) + " banks have "
               "filters of their own" if rest else "")
            + "; the TextCNN is right on "
            + ", ".join(f"{by[p]:.2f} of the reviews whose only phrase is '{p}'"
                        for p in absent)
            + " (exercise 8.16(c)).")
    sheet.explain("On this corpus the filters are readable by construction: the planted "
                  "phrases are the only words that carry the label, so a filter that matters "
                  "for the decision can only have learnt one of them. That they do so, and "
                  "read 'not good' and 'not bad' as units, is what the run shows. On real "
                  "reviews the top n-grams of a filter are usually a mixture (several phrases, "
                  "names, punctuation), and this run cannot say how readable those would be.",
                  rests_on=["the phrase counts above (measured)",
                            "the corpus definition of exercise 8.16(a)"])
    verdict = ("yes on this corpus" if len(agree) == len(filters) else
               f"partly: {len(agree)} of {len(filters)} filters")
    sheet.answer("interpretable", f"{verdict} (each such filter detects one planted phrase "
                                  f"of the polarity it pushes toward)")


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
                      why=f"windows that read each of the {LENGTH} tokens for $k == {k}$, as "
                          f"posed (the input gradient from the engine's backward formulas)",
                      method="the windows containing each token, counted directly")
        rows.append((k, int(cover[0]), int(cover[k - 1]), int(cover[LENGTH // 2])))
    sheet.table(["kernel", "windows with token 0", "with token $k - 1$", "mid-review"], rows,
                caption=f"Input gradient of the sum of all window scores with unit weights, "
                        f"for a {LENGTH}-token review: the number of windows that read each "
                        f"token.")
    sheet.explain("The gradient of the positive-class logit with respect to a token's "
                  "embedding sums, over the windows that contain the token, the filter "
                  "column that multiplies it, weighted by how much that window's score "
                  "reaches the logit (after max pooling, only the winning window of each "
                  "filter counts). Tokens near the ends sit in fewer windows.",
                  rests_on=["the window counts above (the engine's backward formulas)"])

    record = _measured(sheet, "The gradient of the trained TextCNN's positive logit with "
                              "respect to each token's embedding, for one test review: the "
                              "tokens with the largest gradient norms.")
    c, r = record["config"], record["results"]
    sal = r["saliency"]
    tokens = sal["review"].split()
    top = sal["top"]
    rank = {t["position"]: i + 1 for i, t in enumerate(top)}
    prob = sal["positive_probability"]
    label = "positive" if sal["label"] else "negative"
    predicted = "positive" if prob > 0.5 else "negative"
    sheet.text(f"Test review {sal['index']}, the first test review with a negated phrase: "
               f"{len(tokens)} tokens, label {label} (before noise), planted phrases "
               + ", ".join(f"'{p}'" for p in sal["phrases"])
               + f". The TextCNN gives it a positive probability of {prob:.3f}, so it "
                 f"classifies it as {predicted}, "
               + ("correctly" if predicted == label else "wrongly") + ". The review, with its "
               f"{len(top)} tokens of largest gradient norm in brackets: "
               + " ".join(f"[{t}]" if i in rank else t for i, t in enumerate(tokens)))
    sheet.table(["rank", "position", "token", "gradient norm", "in a planted phrase"],
                [(rank[t["position"]], t["position"], t["token"], f"{t['magnitude']:.3f}",
                  "yes" if t["in_planted_phrase"] else "no") for t in top],
                caption="The Euclidean norm of the gradient of the positive logit with respect "
                        "to each token's embedding, largest first (stored results).")
    planted = {i + j for i, p in _find(tokens) for j in range(len(p.split()))}
    sheet.numeric([len(planted)] + [int(t["position"] in planted) for t in top],
                  [sal["planted_tokens"]] + [int(t["in_planted_phrase"]) for t in top],
                  why=f"the review's planted tokens, then whether each of the {len(top)} top "
                      f"tokens is one, read on this page from the stored review",
                  method="the experiment's reading of the review, stored with the results")
    inside = [t for t in top if t["position"] in planted]
    reach = max(int(k) for k in c["kernels"]) - 1
    others = [t for t in top if t["position"] not in planted]
    near = [t for t in others if any(abs(t["position"] - q) <= reach for q in planted)]
    far = [t for t in others if t not in near]
    parts = []
    for i, p in _find(tokens):
        words = [f"'{tokens[i + j]}' " + (_ordinal(rank[i + j]) if i + j in rank else
                                          f"outside the top {len(top)}")
                 for j in range(len(p.split()))]
        parts.append(f"in '{p}', " + ", ".join(words))
    sheet.text(f"{len(inside)} of the {len(top)} tokens with the largest gradient norm belong "
               f"to the planted phrases, which make up {len(planted)} of the review's "
               f"{len(tokens)} tokens (" + "; ".join(parts) + f"). Of the other {len(others)}, "
               f"{len(near)} lie within {reach} tokens of a planted phrase, inside a window of "
               f"the widest bank that also holds part of the phrase"
               + ("" if not far else "; " + ", ".join(f"'{t['token']}' at {t['position']}"
                                                      for t in far)
                  + (" is" if len(far) == 1 else " are") + " farther from every phrase")
               + ".")
    from derive.lab.experiments.text_cnn import DISTRACTORS
    lone = [(i, t) for i, t in enumerate(tokens) if t in DISTRACTORS and i not in planted]
    if lone:
        hit = [(i, t) for i, t in lone if i in rank]
        sheet.text("The lone distractor words of the review (" + ", ".join(
            f"'{t}' at {i}" for i, t in lone) + ") are "
            + ("not among them" if not hit else
               "among them: " + ", ".join(f"'{t}' at {i}" for i, t in hit))
            + ": in this review, a phrase word standing alone "
            + ("does not get one of the largest gradients." if not hit else
               "can get one of the largest gradients."))
    sheet.answer("largest gradients", ", ".join(f"'{t['token']}'" for t in top[:3])
                 + f" (of the {len(top)} largest, {len(inside)} in planted phrases)")


PROBLEM = Problem(
    id="8.17", set="chapter8", order=17, title="What TextCNN filters learn",
    source="Chapter 8, exercise 8.17",
    statement=("Analyse the filters of the TextCNN trained in exercise 8.16 (kernel-3 and "
               "kernel-5 banks). The checks of what a filter computes use the sizes as posed; "
               "the filters read are those of the model trained on the synthetic stand-in "
               "for IMDB of exercise 8.16."),
    parts=(
        Part("a", "For 5 filters of each of the two banks, find the 5 n-grams with the highest "
                  "activation (the dot product of the n-gram's embeddings with the filter).",
             solve_a, scope=EXPERIMENT),
        Part("b", "Are the n-grams interpretable (negations, phrases such as 'waste of "
                  "time')?", solve_b, scope=EXPERIMENT),
        Part("c", "For one review, which tokens have the largest gradient with respect to the "
                  "positive-class logit?", solve_c, scope=EXPERIMENT),
    ),
)
