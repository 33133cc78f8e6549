"""Grade files from batch results: the summary table, a CSV, Gradescope's ``results.json``.

Design rule: these are views of the JSONL results and nothing else: no checking happens
here, and each file is written whole (to a temporary name, then renamed) so that a failed
run never leaves a half-written grade file behind.

>>> rows = [{"id": "a", "student": "ann", "verdict": "proved", "score": 1.0, "points": 1.0,
...          "first_wrong_line": None, "feedback": "All 2 steps proved."},
...         {"id": "b", "student": "bob", "verdict": "refuted", "score": 0.5, "points": 1.0,
...          "first_wrong_line": 3, "feedback": "Line 3: ..."}]
>>> print(summary(rows))
2 submissions, 2 students; mean score 0.75 of 1 (75.0%)
verdict         count
proved              1
wrong answer        0
refuted             1
needs review        0
error               0
student  submissions  score  of
ann                1      1   1
bob                1    0.5   1
>>> gradescope(rows)["score"]
1.5
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

from derive.errors import InputError
from derive.grade.grading import VERDICTS

CSV_COLUMNS = ("id", "student", "verdict", "first_wrong_line", "score", "feedback")


def summary(rows: list[dict[str, Any]]) -> str:
    """Counts per verdict, scores per student and the mean score, as a plain-text table."""
    counts = {v: 0 for v in VERDICTS}
    for r in rows:
        counts[r.get("verdict", "error")] = counts.get(r.get("verdict", "error"), 0) + 1
    scored = [r for r in rows if r.get("score") is not None]
    got = sum(r["score"] for r in scored)
    possible = sum(r.get("points", 1.0) or 0.0 for r in scored)
    students: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        students.setdefault(r.get("student") or _NOBODY, []).append(r)
    named = len([s for s in students if s != _NOBODY])
    head = (f"{len(rows)} submission{'s' if len(rows) != 1 else ''}, {named} "
            f"student{'s' if named != 1 else ''}")
    if scored:
        mean = got / len(scored)
        share = f" ({100 * got / possible:.1f}%)" if possible else ""
        head += f"; mean score {_num(mean)} of {_num(possible / len(scored))}{share}"
    if counts.get("needs review"):
        head += f"; {counts['needs review']} to review (no score yet)"
    out = [head, f"{'verdict':<14}{'count':>7}"]
    out += [f"{v:<14}{n:>7}" for v, n in counts.items()]
    width = max([7] + [len(s) for s in students])
    out.append(f"{'student':<{width}}  submissions  score  of")
    for name in sorted(students):
        mine = students[name]
        score = sum(r["score"] for r in mine if r.get("score") is not None)
        of = sum(r.get("points", 1.0) or 0.0 for r in mine)
        out.append(f"{name:<{width}}  {len(mine):>11}  {_num(score):>5}  {_num(of):>2}")
    return "\n".join(out)


def csv_text(rows: Iterable[dict[str, Any]]) -> str:
    """One row per submission: ``id, student, verdict, first_wrong_line, score, feedback``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(["" if r.get(c) is None else r.get(c) for c in CSV_COLUMNS])
    return buffer.getvalue()


def gradescope(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Gradescope's autograder ``results.json``: the overall score and one test per
    submission (score, max_score, visible feedback).  A submission that needs review
    scores 0 here and says so; its score is the grader's to give."""
    tests = []
    for r in rows:
        name = str(r.get("id") if r.get("id") is not None else f"line {r.get('line')}")
        if r.get("student"):
            name = f"{r['student']}: {name}"
        verdict = r.get("verdict", "error")
        text = r.get("feedback") or r.get("error") or ""
        if verdict == "needs review":
            text = f"Needs review by a grader (no score yet). {text}"
        tests.append({
            "name": name,
            "score": float(r.get("score") or 0.0),
            "max_score": float(r.get("points", 1.0) or 0.0),
            "status": "passed" if verdict == "proved" else "failed",
            "output": f"{verdict}: {text}" if text else verdict,
            "visibility": "visible",
        })
    return {
        "score": round(sum(t["score"] for t in tests), 4),
        "output": summary(rows),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def write_file(path: str | Path, text: str, what: str) -> None:
    """Write ``text`` to ``path`` whole, or not at all (bad paths name the option)."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(f"cannot write {what} {str(path)!r}: the folder {str(directory)!r} "
                         f"does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise InputError(f"cannot write {what} {str(path)!r}: {exc.strerror}") from None


def gradescope_text(rows: list[dict[str, Any]]) -> str:
    return json.dumps(gradescope(rows), indent=2, ensure_ascii=False) + "\n"


_NOBODY = "(no student)"


def _num(x: float) -> str:
    return f"{round(x, 2):g}"
