"""A class of 200 submissions graded end to end: reference answers, malformed lines,
unknown keys, and every mistake of the catalogue named in the feedback of a line that
makes it; the CSV and the Gradescope file are written and valid."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from derive.cli import main
from derive.grade.mistakes import catalogue
from gradescope_fields import valid_gradescope

OUT = "floor((H + 2*P - D*(K - 1) - 1)/S) + 1"

# (reference answer, an answer that makes the mistake), by the catalogue's names
MISTAKES = {
    "missing-plus-one": (OUT, "floor((H + 2*P - D*(K - 1) - 1)/S)"),
    "dilation-ignored": (OUT, "floor((H + 2*P - K)/S) + 1"),
    "padding-counted-once": (OUT, "floor((H + P - D*(K - 1) - 1)/S) + 1"),
    "floor-for-ceiling": ("ceiling((H + 2*P - K)/S) + 1", "floor((H + 2*P - K)/S) + 1"),
    "ceiling-for-floor": ("floor((H + 2*P - K)/S) + 1", "ceiling((H + 2*P - K)/S) + 1"),
    "kernel-not-flipped": ("Sum(w[K - 1 - u]*g[i + u], (u, 0, K - 1))",
                           "Sum(w[u]*g[i + u], (u, 0, K - 1))"),
    "sum-range-one-too-long": ("Sum(w[u]*x[i + u], (u, 0, K - 1))",
                               "Sum(w[u]*x[i + u], (u, 0, K))"),
    "sum-range-one-too-short": ("Sum(w[u]*x[i + u], (u, 0, K - 1))",
                                "Sum(w[u]*x[i + u], (u, 0, K - 2))"),
    "bias-per-input-channel": ("(K**2*C_in + 1)*C_out", "(K**2 + 1)*C_in*C_out"),
    "macs-for-flops": ("2*K**2*C_in*C_out*H*W", "K**2*C_in*C_out*H*W"),
    "flops-for-macs": ("K**2*C_in*C_out*H*W", "2*K**2*C_in*C_out*H*W"),
    "receptive-field-without-jump": ("1 + (K_1 - 1) + (K_2 - 1)*S_1 + (K_3 - 1)*S_1*S_2",
                                     "1 + (K_1 - 1) + (K_2 - 1) + (K_3 - 1)"),
}


def _class() -> tuple[list[str], dict[int, str]]:
    """200 lines and, for the lines that make a catalogued mistake, its name."""
    lines: list[str] = []
    made: dict[int, str] = {}
    students = [f"s{k:02d}" for k in range(20)]

    def add(fields: dict, mistake: str | None = None) -> None:
        n = len(lines) + 1
        fields = {"id": f"q{n}", "student": students[n % len(students)], **fields}
        lines.append(json.dumps(fields))
        if mistake:
            made[n] = mistake

    for name, (expect, wrong) in MISTAKES.items():
        add({"text": wrong, "expect": expect}, name)                   # a wrong answer
        add({"text": f"{expect}\n{wrong}"}, name)                      # a wrong step
    for k in range(120):                                               # right answers
        add({"text": f"a*(b + {k})\na*b + {k}*a", "expect": f"a*b + {k}*a", "points": 2})
    for k in range(26):                                                # other wrong steps
        add({"text": f"(a + {k})**2\na**2 + {k * k}", "expect": f"(a + {k})**2"})
    malformed = ["{not json", "[1, 2]", json.dumps({"id": "x1", "text": "a +"}),
                 json.dumps({"id": "x2", "text": "a\na", "assumptions": ["a >= 1"]}),
                 json.dumps({"id": "x3", "text": 5}),
                 json.dumps({"id": "q1", "text": "a\na"}),                # duplicate id
                 json.dumps({"id": "x4", "text": "a\na", "format": "pdf"}),
                 json.dumps({"id": "x5", "text": "a\na", "expect": "a +"})]
    while len(lines) < 200:
        lines.append(malformed[len(lines) % len(malformed)])
    return lines, made


@pytest.mark.slow
def test_a_class_of_200_submissions(tmp_path: Path, capsys) -> None:
    lines, made = _class()
    assert len(lines) == 200 and set(made.values()) == {e.name for e in catalogue()}
    batch = tmp_path / "class.jsonl"
    batch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out, table, gs = tmp_path / "results.jsonl", tmp_path / "grades.csv", tmp_path / "gs.json"
    code = main(["verify", "--batch", str(batch), "--output", str(out), "--csv", str(table),
                 "--gradescope", str(gs), "--summary", "--jobs", "2"])
    assert code == 2                                       # some lines were bad input
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["line"] for r in rows] == list(range(1, 201))
    titles = {e.name: e.title for e in catalogue()}
    for number, name in made.items():
        r = rows[number - 1]
        assert r["verdict"] in ("wrong answer", "refuted"), r
        assert r["mistake"] == name and titles[name] in r["feedback"], (name, r["feedback"])
    right = [r for r in rows if r["id"] and str(r["id"]).startswith("q") and r["line"] > 24
             and r["line"] <= 144]
    assert all(r["verdict"] == "proved" and r["score"] == 2 for r in right)
    assert sum(r["verdict"] == "error" for r in rows) >= 30
    records = list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8"))))
    assert len(records) == 200 and records[0]["verdict"] == rows[0]["verdict"]
    data = json.loads(gs.read_text(encoding="utf-8"))
    valid_gradescope(data)
    assert len(data["tests"]) == 200
    summary = capsys.readouterr().out
    assert "200 submissions, 20 students" in summary
