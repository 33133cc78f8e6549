"""Grading a class: the submission schema, grader verdicts against reference answers,
scores with partial credit, and the grade files (summary, CSV, Gradescope results.json)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from derive.cli import main
from derive.errors import InputError
from derive.grade.batch import grade_batch, grade_item
from derive.grade.grading import rescore
from derive.grade.submission import SCHEMA_PATH, duplicate_ids, schema, validate
from gradescope_fields import valid_gradescope

OUTPUT = "floor((H + 2*P - K)/S) + 1"


def row(**fields) -> str:
    return json.dumps(fields)


# --- the schema --------------------------------------------------------------------------

def test_the_schema_file_documents_every_key_and_is_the_validation() -> None:
    spec = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert spec == schema()
    assert spec["additionalProperties"] is False and spec["required"] == ["id"]
    for key, field in spec["properties"].items():
        assert field["description"], key
    for key in ("id", "student", "text", "format", "assume", "given", "expect", "start",
                "points"):
        assert key in spec["properties"]


@pytest.mark.parametrize("item, words", [
    ({"id": 1, "text": "a\na", "assumptions": ["a >= 1"]}, '"assumptions" (did you mean "assume"'),
    ({"id": 1, "text": "a\na", "expected": "a"}, '"expected" (did you mean "expect"'),
    ({"id": 1, "text": 5}, '"text" must be a text'),
    ({"id": [1], "text": "a"}, '"id" must be a text or a whole number'),
    ({"id": True, "text": "a"}, '"id" must be'),
    ({"id": 1, "text": "a", "points": -1}, '"points" must be at least 0'),
    ({"id": 1, "text": "a", "format": "pdf"}, '"format" must be one of'),
    ({"id": 1, "text": "a", "assume": [3]}, '"assume"[0] must be a text'),
    ({"id": 1, "text": "a", "given": {"H": [32]}}, '"given.H" must be'),
    ({"id": 1, "text": "a", "given": "H is 32"}, '"given"'),
    ({"text": "a"}, '"id" is required'),
    ({"id": 1}, 'exactly one of the keys "text"'),
    ({"id": 1, "text": "a", "claim": "a == a"}, "(got text, claim)"),
])
def test_a_bad_line_is_refused_naming_the_key(item: dict, words: str) -> None:
    with pytest.raises(InputError) as info:
        validate(item, 7)
    assert str(info.value).startswith("line 7: ") and words in str(info.value)
    result = grade_item(json.dumps(item), 7)
    assert result["verdict"] == "error" and words in result["error"]


def test_a_misspelt_key_no_longer_turns_a_right_answer_into_refuted() -> None:
    good = grade_item(row(id=1, text="floor((s + 1)/s)\n1", assume=["s >= 2"]))
    assert good["verdict"] == "proved"
    typo = grade_item(row(id=1, text="floor((s + 1)/s)\n1", assumptions=["s >= 2"]))
    assert typo["verdict"] == "error" and "assume" in typo["error"]


def test_duplicate_ids_are_found_in_the_file() -> None:
    lines = [row(id="a", text="x"), "", row(id="b", text="x"), row(id="a", text="y"),
             "{bad", row(id=1, text="x"), row(id="1", text="x")]
    assert duplicate_ids(lines) == {4: 1, 7: 6}


# --- verdicts against reference answers ----------------------------------------------------

@pytest.mark.parametrize("fields, verdict", [
    ({"text": f"{OUTPUT}\nfloor((H + 2*P - K + S)/S)", "expect": OUTPUT,
      "assume": ["S >= 1"]}, "proved"),
    ({"text": "a\na", "expect": "a + 1"}, "wrong answer"),
    ({"text": "a\na"}, "proved"),
    ({"text": "(a + b)**2\na**2 + b**2", "expect": "a**2 + b**2"}, "refuted"),
    ({"text": "a == c - b", "assume": ["a + b == c"]}, "needs review"),
    ({"text": "H - K + 1\n28", "given": {"H": 32, "K": 5}, "expect": "28"}, "proved"),
    ({"text": "H - K + 1\n28", "given": "H = 32, K = 5", "expect": "27"}, "wrong answer"),
    ({"text": "H - K\nH - K", "start": "H - K + 1"}, "refuted"),
    ({"text": "H - K + 1\nH + 1 - K", "start": "H - K + 1"}, "proved"),
    ({"text": r"$$ \frac{d}{dx} x^2 = 2x $$", "format": "latex", "expect": "2*x"}, "proved"),
    ({"text": "a +\nb"}, "error"),
    ({"text": "a\na", "expect": "a +"}, "error"),
])
def test_grader_verdicts(fields: dict, verdict: str) -> None:
    result = grade_item(row(id="q", **fields), 3)
    assert result["verdict"] == verdict, result
    assert result["feedback"]
    json.dumps(result)


def test_wrong_answer_feedback_states_the_difference_in_words() -> None:
    r = grade_item(row(id="q", text="H - K\nH + 1 - K - 1", given={"H": 9, "K": 3},
                       expect="H + K"))
    assert r["verdict"] == "wrong answer" and r["first_wrong_line"] == 2
    assert "with H = 9, K = 3 your answer gives 6; the expected answer gives 12" in r["feedback"]


def test_refuted_feedback_names_the_line_and_the_values() -> None:
    r = grade_item(row(id="q", text="(a + b)**2\na**2 + b**2"))
    assert r["verdict"] == "refuted" and r["first_wrong_line"] == 2
    assert r["feedback"].startswith("Line 2: ") and "line 1 gives" in r["feedback"]


# --- scores ------------------------------------------------------------------------------------

def test_scores_full_partial_none_and_review() -> None:
    three = "a*(b + c)\na*b + a*c\na*c + a*b\na*c + a*b + 1"   # two valid steps, then wrong
    r = grade_item(row(id="q", text=three, points=3))
    assert (r["verdict"], r["checks"], r["score"]) == ("refuted", [2, 3], 2.0)
    assert rescore(r, "none")["score"] == 0.0
    assert grade_item(row(id="q", text="a\na", points=2))["score"] == 2
    review = grade_item(row(id="q", text="a == c - b", assume=["a + b == c"]))
    assert review["score"] is None
    assert grade_item(row(id="q", text="a +"))["score"] == 0.0


# --- the grade files ----------------------------------------------------------------------------

LINES = [
    row(id="ann-1", student="ann", text=f"{OUTPUT}\nfloor((H + 2*P - K + S)/S)",
        assume=["S >= 1"], expect=OUTPUT, points=2),
    row(id="bob-1", student="bob", text="(a + b)**2\na**2 + b**2"),
    "{not json",
    row(id="ann-2", student="ann", text="a\na", expect="a + 1"),
    row(id="bob-2", student="bob", text="a == c - b", assume=["a + b == c"]),
    row(id="ann-1", student="ann", text="a\na"),
    row(id="cy-1", student="cy", text="x", assumptions=["x >= 1"]),
]

def test_batch_command_writes_results_csv_gradescope_and_a_summary(tmp_path: Path,
                                                                   capsys) -> None:
    batch = tmp_path / "class.jsonl"
    batch.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    out, table, gs = tmp_path / "results.jsonl", tmp_path / "grades.csv", tmp_path / "gs.json"
    code = main(["verify", "--batch", str(batch), "--output", str(out), "--csv", str(table),
                 "--gradescope", str(gs), "--summary"])
    assert code == 2                           # a malformed line, a typo, a duplicate id
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["verdict"] for r in rows] == ["proved", "refuted", "error", "wrong answer",
                                            "needs review", "error", "error"]
    assert "used before, on line 1" in rows[5]["error"]
    printed = capsys.readouterr().out
    assert "7 submissions, 3 students" in printed and "needs review" in printed
    assert "mean score 0.42 of 1.17" in printed and "(no student)" in printed
    records = list(csv.DictReader(io.StringIO(table.read_text())))
    assert list(records[0]) == ["id", "student", "verdict", "first_wrong_line", "score",
                                "feedback"]
    assert [r["verdict"] for r in records] == [r["verdict"] for r in rows]
    assert records[1]["first_wrong_line"] == "2" and records[0]["score"] == "2.0"
    data = json.loads(gs.read_text())
    valid_gradescope(data)
    assert len(data["tests"]) == len(rows)
    assert data["score"] == sum(t["score"] for t in data["tests"])
    assert data["tests"][0] == {"name": "ann: ann-1", "score": 2.0, "max_score": 2.0,
                                "status": "passed", "output": data["tests"][0]["output"],
                                "visibility": "visible"}
    assert data["tests"][4]["output"].startswith("needs review: Needs review by a grader")


def test_all_good_lines_exit_0_and_standard_input_is_read(tmp_path: Path, monkeypatch,
                                                          capsys) -> None:
    text = "\n".join([row(id=1, text="a\na"), row(id=2, text="(a + b)**2\na**2 + b**2")])
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    assert main(["verify", "--batch", "-", "--jobs", "1", "--partial", "none"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(r["verdict"], r["score"]) for r in rows] == [("proved", 1.0), ("refuted", 0.0)]


def test_a_grade_file_in_a_missing_folder_is_refused_before_grading(tmp_path: Path,
                                                                   capsys) -> None:
    batch = tmp_path / "b.jsonl"
    batch.write_text(row(id=1, text="a\na") + "\n")
    assert main(["verify", "--batch", str(batch), "--csv", str(tmp_path / "no" / "g.csv")]) == 2
    assert "--csv" in capsys.readouterr().err


def test_help_documents_the_line_format(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    text = capsys.readouterr().out
    for key in schema()["properties"]:
        assert f"  {key} " in text
    assert "wrong answer" in text and "--gradescope" in text


def test_results_stay_in_order_with_workers() -> None:
    rows = list(grade_batch(LINES, jobs=2))
    assert [r["line"] for r in rows] == list(range(1, len(LINES) + 1))
