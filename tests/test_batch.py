"""Batch grading: input order, isolation of failures (bad items, crashed or hung workers),
the progress bar, and the command line."""

from __future__ import annotations

import json
import multiprocessing
import os
import time

import pytest

from derive.cli import main
from derive.errors import ConfigurationError
from derive.grade import batch
from derive.grade.batch import grade_batch, grade_item

CLAIMS = [
    ("ok1", "ceiling(a/b) == floor((a + b - 1)/b)", "proved"),
    ("bad1", "floor(a/b) + floor(c/b) == floor((a + c)/b)", "refuted"),
    ("ok2", "(a + b)**2 == a**2 + 2*a*b + b**2", "proved"),
    ("bad2", "(a + b)**2 == a**2 + b**2", "refuted"),
]


def _lines(n: int) -> list[str]:
    out = []
    for i in range(n):
        ident, claim, _ = CLAIMS[i % len(CLAIMS)]
        out.append(json.dumps({"id": f"{ident}-{i}", "claim": claim.replace("a", f"(a + {i})")}))
    return out


def test_results_in_input_order_with_two_workers() -> None:
    lines = _lines(24)
    parallel = list(grade_batch(lines, jobs=2))
    assert [r["id"] for r in parallel] == [json.loads(x)["id"] for x in lines]
    assert [r["line"] for r in parallel] == list(range(1, 25))
    expected = [CLAIMS[i % len(CLAIMS)][2] for i in range(24)]
    assert [r["verdict"] for r in parallel] == expected


def test_each_kind_of_item_and_failures_do_not_stop_the_others() -> None:
    lines = [
        json.dumps({"id": 1, "claim": "x*(y + 1) == x*y + x"}),
        "{not json",
        json.dumps({"id": 3, "derivation": "2*(x + 1)\n2*x + 2\n2*x + 3"}),
        json.dumps([1, 2]),
        json.dumps({"id": 5, "claim": "x.__class__ == 1"}),
        "",
        json.dumps({"id": 7, "derivation": r"$$ \frac{a}{b} = a b^{-1} $$", "format": "latex"}),
        json.dumps({"id": 8, "claim": r"\lceil a/b \rceil = \lfloor (a+b-1)/b \rfloor",
                    "format": "latex"}),
        json.dumps({"id": 9, "claim": "floor((s + 1)/s) == 1", "assume": ["s >= 2"]}),
        json.dumps({"id": 10}),
        json.dumps({"id": 11, "claim": "a == a", "derivation": "a"}),
        json.dumps({"id": 12, "claim": 42}),
        json.dumps({"id": 13, "claim": "a == a", "format": "pdf"}),
        json.dumps({"id": 14, "claim": "a == a", "assume": [1]}),
        json.dumps({"id": 15, "derivation": "\\begin{align*} a &= \\frac{b}{c \\end{align*}"}),
    ]
    rows = list(grade_batch(lines, jobs=2))
    got = {r["line"]: (r["id"], r["verdict"]) for r in rows}
    assert len(rows) == len(lines) - 1                    # the blank line is skipped
    assert got[1] == (1, "proved")
    assert got[2] == (None, "error")
    assert got[3] == (3, "refuted")
    assert got[4] == (None, "error")
    assert got[5] == (5, "error")
    assert got[7] == (7, "proved")
    assert got[8] == (8, "proved")
    assert got[9][1] in ("proved", "tested")
    assert all(got[n][1] == "error" for n in (10, 11, 12, 13, 14, 15))
    derivation = next(r for r in rows if r["id"] == 3)
    assert derivation["kind"] == "derivation" and derivation["first_wrong_line"] == 3
    for r in rows:
        json.dumps(r)
        if r["verdict"] == "error":
            assert r["error"].startswith(f"line {r['line']}:")


def test_grade_item_never_raises() -> None:
    for line in ["", "null", "[]", "{}", '{"claim": "' + "(" * 500 + '"}', "\x00", '"x"',
                 '{"claim": "a ==' + " a +" * 10_000 + ' a"}', "[" * 100_000]:
        result = grade_item(line, 7)
        assert result["line"] == 7 and "verdict" in result


def test_jobs_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="jobs"):
        list(grade_batch(["{}"], jobs=0))


# --- crashed and hung workers (the worker function is replaced; needs 'fork') -----------

def _misbehaving(number: int, line: str, assume, budget):
    if "CRASH" in line:
        os._exit(3)
    if "HANG" in line:
        time.sleep(120)
    return grade_item(line, number, assume, budget)


needs_fork = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="the replaced worker function reaches workers by fork")


@needs_fork
def test_a_crashed_worker_costs_only_its_own_item(monkeypatch) -> None:
    monkeypatch.setattr(batch, "_grade_numbered", _misbehaving)
    lines = [json.dumps({"id": i, "claim": "CRASH" if i == 2 else f"x + {i} == {i} + x"})
             for i in range(6)]
    rows = list(grade_batch(lines, jobs=2, context=multiprocessing.get_context("fork")))
    assert [r["id"] for r in rows] == list(range(6))
    assert rows[2]["verdict"] == "error" and "stopped unexpectedly" in rows[2]["error"]
    assert all(r["verdict"] == "proved" for i, r in enumerate(rows) if i != 2)


@needs_fork
def test_a_hung_worker_is_replaced(monkeypatch) -> None:
    monkeypatch.setattr(batch, "_grade_numbered", _misbehaving)
    lines = [json.dumps({"id": i, "claim": "HANG" if i == 1 else f"x + {i} == {i} + x"})
             for i in range(4)]
    start = time.perf_counter()
    rows = list(grade_batch(lines, jobs=2, context=multiprocessing.get_context("fork"),
                            hard_limit=2.0))
    assert time.perf_counter() - start < 30
    assert rows[1]["verdict"] == "error" and "no result after" in rows[1]["error"]
    assert [r["verdict"] for i, r in enumerate(rows) if i != 1] == ["proved"] * 3


# --- progress and the command -------------------------------------------------------------

def test_progress_bar_on_stderr(capsys) -> None:
    list(grade_batch(_lines(4), jobs=1, progress=True))
    err = capsys.readouterr().err
    assert "\r[" in err and "4/4" in err and "refuted 2" in err
    list(grade_batch(_lines(2), jobs=1))          # not a terminal: no bar
    assert capsys.readouterr().err == ""


def test_command_line_batch(tmp_path, capsys) -> None:
    src = tmp_path / "submissions.jsonl"
    src.write_text("\n".join(_lines(4)) + "\n{broken\n")
    assert main(["verify", "--batch", str(src), "--jobs", "2"]) == 2    # a malformed line
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["line"] for r in rows] == list(range(1, 6))
    assert rows[-1]["verdict"] == "error"
    out = tmp_path / "results.jsonl"
    assert main(["verify", "--batch", str(src), "--jobs", "1", "--output", str(out)]) == 2
    assert [json.loads(x)["verdict"] for x in out.read_text().splitlines()] == \
        [r["verdict"] for r in rows]
    assert main(["verify", "--batch", str(tmp_path / "missing.jsonl")]) == 2
    (tmp_path / "binary.jsonl").write_bytes(b"\xff\xfe\x00")
    assert main(["verify", "--batch", str(tmp_path / "binary.jsonl")]) == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.slow
def test_spawn_context_works() -> None:
    lines = [json.dumps({"id": i, "claim": f"x + {i} == {i} + x"}) for i in range(3)]
    rows = list(grade_batch(lines, jobs=2, context=multiprocessing.get_context("spawn")))
    assert [r["verdict"] for r in rows] == ["proved"] * 3
