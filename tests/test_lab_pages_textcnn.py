"""The pages of exercises 8.16 and 8.17 (TextCNN), answered from the stored ``text-cnn``
results: every part is an experiment that solves cleanly, and the page's numbers and
comparisons agree with re-computations done here from the stored JSON (and, for the corpus,
by regenerating it with the experiment's own generator), never copied from the page.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from derive.book.model import Check, Derivation, Figure, Measurement, Table, Text
from derive.check.verdict import Status
from derive.lab.experiments import text_cnn
from derive.lab.runner import load as load_record
from lab_pages import answers, blocks, load_page, part_named, solve_page

ROOT = Path(__file__).resolve().parents[1] / "problems" / "chapter8"
FILES = {"8.16": "e08_16_textcnn.py", "8.17": "e08_17_textcnn_filters.py"}
RECORD = load_record("text-cnn")
R, C = RECORD["results"], RECORD["config"]
# the phrases and their polarity, spelt out here (the corpus's definition, restated)
POLARITY = {"not very good": -1, "not very bad": 1, "waste of time": -1,
            "absolutely loved": 1, "not good": -1, "not bad": 1, "very good": 1,
            "very bad": -1, "good": 1, "bad": -1}

_SOLVED: dict[str, object] = {}


def _solved(pid: str):
    if pid not in _SOLVED:
        _SOLVED[pid] = solve_page(FILES[pid])
    return _SOLVED[pid]


def _module(pid: str):
    return load_page(FILES[pid])


def _part(pid: str, label: str):
    return part_named(_solved(pid), label)


def _blocks(pid: str, label: str, kind):
    return blocks(_solved(pid), label, kind)


def _text(pid: str, label: str) -> str:
    return "\n".join(b.text for b in _blocks(pid, label, Text))


def _answers(pid: str, label: str) -> dict[str, object]:
    return answers(_solved(pid), label)


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _spans(tokens: list[str]) -> list[tuple[int, str]]:
    """Planted phrases by string search: cut out the longest phrases first (a reader of
    its own, like the one in test_lab_experiments)."""
    text = " " + " ".join(tokens) + " "
    found = []
    for phrase in sorted(POLARITY, key=lambda p: -len(p.split())):
        while f" {phrase} " in text:
            at = text.index(f" {phrase} ")
            found.append((text[:at + 1].count(" ") - 1, phrase))
            text = text[:at] + " " + " ".join("|" * len(w) for w in phrase.split()) + " " + \
                text[at + len(phrase) + 2:]
    return sorted(found)


# --------------------------------------------------------------------------- structure
@pytest.mark.parametrize("pid", sorted(FILES))
def test_every_part_is_a_clean_experiment(pid):
    result = _solved(pid)
    assert [p.part.label for p in result.parts] == list("abcd" if pid == "8.16" else "abc")
    for part in result.parts:
        assert part.error == "", (pid, part.part.label, part.error)
        assert part.part.scope == "experiment" and part.status == "experiment"
        assert part.part.reason == ""
        measures = [b for b in part.blocks if isinstance(b, Measurement)]
        assert measures and all(m.experiment == "text-cnn" for m in measures)
        assert all(m.seed == C["seed"] for m in measures)
        for block in part.blocks:
            verdicts = ([s.verdict for s in block.steps if s.verdict is not None]
                        if isinstance(block, Derivation) else
                        [block.verdict] if isinstance(block, Check) else [])
            for v in verdicts:
                optional = isinstance(block, Check) and block.kind == "optional"
                assert v.status not in (Status.REFUTED, Status.ERROR), (pid, v.method)
                assert optional or v.status is not Status.UNKNOWN, (pid, v.method)


def test_figures_are_the_stored_curves():
    figures = [b for p in _solved("8.16").parts for b in p.blocks if isinstance(b, Figure)]
    assert [f.name for f in figures] == ["text-cnn-validation", "text-cnn-kernel-widths"]
    assert not [b for p in _solved("8.17").parts for b in p.blocks if isinstance(b, Figure)]
    # the TextCNN's curve is the first series of the first plot
    first = re.search(r"coordinates \{([^}]*)\}", figures[0].tikz).group(1)
    points = [tuple(map(float, p.strip("()").split(","))) for p in first.split()]
    curve = R["val_accuracy"]["textcnn"]
    assert [x for x, _ in points] == list(range(1, len(curve) + 1))
    assert [round(y, 6) for _, y in points] == [round(v, 6) for v in curve]
    assert figures[1].tikz.count(r"\addplot") == len(C["kernels"]) + 1


# --------------------------------------------------------------------------- sizes
def test_as_posed_textcnn_parameters_by_hand():
    v, e, f = 20_000, 128, 128
    total = v * e + sum(f * e * k + f for k in (2, 3, 4, 5)) + (4 * f * 2 + 2)
    assert _number(_answers("8.16", "b")["TextCNN parameters"].split(" ")[0]) == total


def _by_hand(name: str) -> int:
    v, e, f = R["vocabulary"], C["embed"], C["filters"]
    if name == "bow":
        return v * e + e * 2 + 2
    ks = C["kernels"] if name == "textcnn" else [int(name[1:])]
    return v * e + sum(f * e * k + f for k in ks) + len(ks) * f * 2 + 2


def test_as_run_parameter_counts_by_hand_and_on_the_page():
    for name in R["models"]:
        assert _by_hand(name) == R["params"][name], name
    # the page's engine side of each cross-check is the count by hand
    engine = {}
    for label, names in (("b", ["textcnn"]), ("c", ["bow"]),
                         ("d", [m for m in R["models"] if m.startswith("k")])):
        check = next(c for c in _blocks("8.16", label, Check)
                     if "as run" in c.why and "parameters" in c.why)
        values = check.lhs if isinstance(check.lhs, list) else [check.lhs]
        engine.update(zip(names, values))
    assert engine == {m: _by_hand(m) for m in R["models"]}
    assert _number(_answers("8.16", "b")["TextCNN parameters as run"]) == _by_hand("textcnn")


def test_as_run_models_built_with_torch_have_the_stored_sizes():
    pytest.importorskip("torch")
    for name in R["models"]:
        model = text_cnn.build(name, R["vocabulary"], C)
        assert sum(p.numel() for p in model.parameters()) == R["params"][name], name


def test_as_run_output_lengths():
    table = next(t for t in _blocks("8.16", "b", Table) if "As run" in t.caption)
    assert [r[:2] for r in table.rows] == [(k, R["max_len"] - k + 1) for k in C["kernels"]]
    assert [r[2] for r in table.rows] == [C["filters"] * (C["embed"] * k + 1)
                                          for k in C["kernels"]]


# --------------------------------------------------------------------------- the corpus
def test_corpus_regenerated_agrees_with_the_stored_description():
    """The experiment's generator, run again with the stored configuration: the per-phrase
    review counts, the vocabulary and the saliency review are the stored ones, and each
    review plants one or two phrases and at most three lone distractors (as the page says)."""
    def corpus(split: int, n: int):
        return text_cnn.make_corpus(n, C["seed"] + split, C["words"], C["min_len"],
                                    C["max_len"], C["label_noise"])
    train = corpus(0, C["train"])[0]
    vocab = text_cnn.build_vocab(train, C["top_n"])
    assert len(vocab) == R["vocabulary"]
    reviews, labels, clean = corpus(2, C["test"])
    single: dict[str, int] = {}
    for review in reviews:
        found = _spans(review)
        assert 1 <= len(found) <= 2
        planted = {i + j for i, p in found for j in range(len(p.split()))}
        lone = [t for i, t in enumerate(review) if t in text_cnn.DISTRACTORS
                and i not in planted]
        assert len(lone) <= 3
        if len(found) == 1:
            single[found[0][1]] = single.get(found[0][1], 0) + 1
    assert single == R["single_phrase_reviews"]
    assert sum(a != b for a, b in zip(labels, clean)) / len(labels) == R["label_noise_test"]
    pick = R["saliency"]["index"]
    shown = " ".join(t if t in vocab else "<unk>" for t in reviews[pick][:C["max_len"]])
    assert shown == R["saliency"]["review"]
    assert clean[pick] == R["saliency"]["label"]


def test_word_table_shows_the_balanced_words():
    table = next(t for t in _blocks("8.16", "c", Table) if t.headers[0] == "word")
    rows = {r[0]: (r[1], r[2]) for r in table.rows}
    for word in ("not", "very", "good", "bad"):
        assert rows[word] == (2, 2)
    assert rows["waste"] == (0, 1) and rows["loved"] == (1, 0)


# --------------------------------------------------------------------------- comparisons
def _pooled(model: str, phrases: list[str]) -> float:
    right = sum(round(R["accuracy_by_phrase"][model][p] * R["single_phrase_reviews"][p])
                for p in phrases)
    return right / sum(R["single_phrase_reviews"][p] for p in phrases)


def test_bag_of_words_sentences_follow_the_data():
    text = _text("8.16", "c")
    balanced = ["good", "very good", "not bad", "not very bad", "bad", "very bad",
                "not good", "not very good"]
    n = sum(R["single_phrase_reviews"][p] for p in balanced)
    assert f"On the {n} reviews" in text
    for model in ("bow", "textcnn"):
        assert f"{_pooled(model, balanced):.3f}" in text
        assert f"{_pooled(model, ['absolutely loved', 'waste of time']):.3f}" in text
    near = abs(_pooled("bow", balanced) - 0.5) < 2 * math.sqrt(0.25 / n)
    assert ("within two standard errors of chance" in text) == near
    acc = R["test_accuracy"]
    lead = "TextCNN is ahead of the bag of words" if acc["textcnn"] > acc["bow"] else \
        "bag of words is ahead of the TextCNN"
    assert lead in text
    table = next(t for t in _blocks("8.16", "c", Table) if t.headers[0] == "phrase")
    for row in table.rows:
        p = row[0].strip("'")
        assert row[2] == R["single_phrase_reviews"][p]
        assert row[3] == f"{R['accuracy_by_phrase']['textcnn'][p]:.2f}"
        assert row[4] == f"{R['accuracy_by_phrase']['bow'][p]:.2f}"


def test_kernel_width_sentences_follow_the_data():
    acc = R["test_accuracy"]
    singles = [m for m in R["models"] if m.startswith("k")]
    best = max(singles, key=lambda m: acc[m])
    worst = min(singles, key=lambda m: acc[m])
    text = _text("8.16", "d")
    assert f"The best single width is {best[1:]} (test accuracy {acc[best]:.3f})" in text
    assert f"the worst {worst[1:]} ({acc[worst]:.3f})" in text
    se = math.sqrt(acc["textcnn"] * (1 - acc["textcnn"]) / R["sizes"]["test"])
    tie = abs(acc[best] - acc["textcnn"]) < 2 * se
    assert ("a tie at this test size" in text) == tie
    # the width-2 model on the three-word phrases that hide a two-word one of the other sign
    for p in ("not very bad", "not very good"):
        assert f"{R['accuracy_by_phrase']['k2'][p]:.2f} of the reviews whose only phrase " \
               f"is '{p}'" in text
    assert _answers("8.16", "d")["best single kernel width as run"].startswith(best[1:])


def test_curve_sentence_names_the_best_epoch():
    curve = R["val_accuracy"]["textcnn"]
    best = max(range(len(curve)), key=lambda i: (curve[i], -i))
    text = _text("8.16", "b")
    assert f"its best is {curve[best]:.3f}, after epoch {best + 1}" in text
    ceiling = 1 - R["label_noise_test"]
    assert f"would score {ceiling:.3f}" in text


def test_versus_wording():
    page = _module("8.16")
    versus = next(p.solve for p in page.parts if p.label == "c").__globals__["_versus"]
    assert "a tie" in versus("A", 0.90, "B", 0.89, 0.01)
    assert "the A is ahead of the B by 0.050" in versus("A", 0.90, "B", 0.85, 0.01)
    assert "the B is ahead of the A by 0.050 (0.900 against 0.850" in versus("A", 0.85, "B",
                                                                             0.90, 0.01)


# --------------------------------------------------------------------------- 8.17
def test_filter_table_is_the_stored_filters():
    table = next(t for t in _blocks("8.17", "a", Table) if "filter" in t.headers)
    assert len(table.rows) == len(R["filters"]) == 2 * C["top_filters"]
    for row, flt in zip(table.rows, R["filters"]):
        assert (row[0], row[1]) == (flt["bank"], flt["filter"])
        assert row[3] == ("positive" if flt["logit_weight"] > 0 else "negative")
        assert [g.rsplit(" (", 1)[0] for g in row[4].split("; ")] == flt["ngrams"]
    # the filters read are those with the largest weights: sorted by |weight| within a bank
    for bank in (3, 5):
        weights = [abs(f["logit_weight"]) for f in R["filters"] if f["bank"] == bank]
        assert weights == sorted(weights, reverse=True)


def test_phrase_counts_and_agreement_by_string_search():
    counts = dict.fromkeys(POLARITY, 0)
    agree = 0
    for flt in R["filters"]:
        found = [p for g in flt["ngrams"] for _, p in _spans(g.split())]
        for p in found:
            counts[p] += 1
        sign = 1 if flt["logit_weight"] > 0 else -1
        agree += all(POLARITY[p] == sign for p in found) and bool(found)
    table = next(t for t in _blocks("8.17", "b", Table))
    assert {r[0].strip("'"): r[2] for r in table.rows} == counts
    text = _text("8.17", "b")
    assert f"For {agree} of these" in text
    for p in (p for p, n in counts.items() if n == 0):
        assert f"'{p}'" in text.split("No top n-gram")[1].split(".")[0]


def test_saliency_sentences_by_string_search():
    sal = R["saliency"]
    tokens = sal["review"].split()
    planted = {i + j for i, p in _spans(tokens) for j in range(len(p.split()))}
    top = [t["position"] for t in sal["top"]]
    inside = sum(1 for t in top if t in planted)
    assert [t["token"] for t in sal["top"]] == [tokens[t] for t in top]
    text = _text("8.17", "c")
    assert (f"{inside} of the {len(top)} tokens with the largest gradient norm belong to the "
            f"planted phrases, which make up {len(planted)} of the review's {len(tokens)}") \
        in text
    reach = max(C["kernels"]) - 1
    near = sum(1 for t in top if t not in planted and min(abs(t - q) for q in planted) <= reach)
    assert f"{near} lie within {reach} tokens" in text
    shown = re.findall(r"\[([^\]]+)\]", text.split("in brackets: ")[1].split("\n")[0])
    assert shown == [tokens[t] for t in sorted(top)]
    assert ("correctly" in text) == ((sal["positive_probability"] > 0.5) == bool(sal["label"]))
