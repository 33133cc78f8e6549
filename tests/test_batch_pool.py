"""The worker pool of batch grading: workers started once and reused, lines sent in chunks,
a hung or crashed line in the middle of a chunk costs only that line, a slow line does not
stop the other workers, the reordering buffer is bounded, and nothing is left running.

The grading function is replaced by a fake that reports the worker's pid and when it ran
(the replacement reaches the workers by fork)."""

from __future__ import annotations

import json
import multiprocessing
import os
import time

import pytest

from derive.errors import DeriveError
from derive.grade import batch
from derive.grade.batch import grade_batch

HAS_FORK = "fork" in multiprocessing.get_all_start_methods()
pytestmark = pytest.mark.skipif(not HAS_FORK,
                                reason="the replaced worker function reaches workers by fork")
FORK = multiprocessing.get_context("fork") if HAS_FORK else None


def _fake(number: int, line: str, assume, budget):
    item = json.loads(line)
    text = item["claim"]
    if "CRASH" in text:
        os._exit(3)
    if "HANG" in text:
        time.sleep(120)
    if "SLOW" in text:
        time.sleep(3)
    elif "NAP" in text:
        time.sleep(0.01)
    return {"id": item["id"], "line": number, "kind": "claim", "verdict": "proved",
            "pid": os.getpid(), "finished": time.time()}


def _lines(n: int, special: dict[int, str] | None = None, filler: str = "x == x") -> list[str]:
    special = special or {}
    return [json.dumps({"id": i, "claim": special.get(i, filler)}) for i in range(n)]


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(batch, "_grade_numbered", _fake)
    return monkeypatch


def test_workers_are_started_once_and_serve_many_lines(fake) -> None:
    rows = list(grade_batch(_lines(300), jobs=2, context=FORK))
    assert [r["line"] for r in rows] == list(range(1, 301))
    pids = {r["pid"] for r in rows}
    assert 1 <= len(pids) <= 2 and os.getpid() not in pids
    assert not multiprocessing.active_children()       # and they are gone afterwards


def test_a_hung_line_in_the_middle_of_a_chunk_costs_only_that_line(fake) -> None:
    fake.setattr(batch, "CHUNK_LINES", 8)
    fake.setattr(batch, "CHUNK_SECONDS", 1e9)           # chunks by count only
    # 40 lines on 2 workers: the first chunk is lines 1-8, and line 4 hangs
    lines = _lines(40, {3: "HANG"})
    rows = list(grade_batch(lines, jobs=2, context=FORK, hard_limit=2.0))
    assert [r["line"] for r in rows] == list(range(1, 41))
    assert [r["id"] for r in rows] == list(range(40))
    assert rows[3]["verdict"] == "error" and "no result after 2 s" in rows[3]["error"]
    assert rows[3]["id"] == 3 and rows[3]["error"].startswith("line 4:")
    assert all(r["verdict"] == "proved" for i, r in enumerate(rows) if i != 3)
    # lines 1-3 were graded by the worker that then hung; 5-8 were graded again elsewhere
    hung = rows[0]["pid"]
    assert rows[1]["pid"] == rows[2]["pid"] == hung
    assert all(rows[i]["pid"] != hung for i in range(4, 8))


def test_a_crash_in_the_middle_of_a_chunk_costs_only_that_line(fake) -> None:
    fake.setattr(batch, "CHUNK_LINES", 8)
    fake.setattr(batch, "CHUNK_SECONDS", 1e9)
    rows = list(grade_batch(_lines(40, {5: "CRASH", 20: "CRASH"}), jobs=2, context=FORK))
    assert [r["line"] for r in rows] == list(range(1, 41))
    for i in (5, 20):
        assert rows[i]["verdict"] == "error" and "stopped unexpectedly" in rows[i]["error"]
        assert rows[i]["id"] == i
    assert all(r["verdict"] == "proved" for i, r in enumerate(rows) if i not in (5, 20))


def test_a_slow_line_does_not_stop_the_other_workers(fake) -> None:
    rows = list(grade_batch(_lines(100, {1: "SLOW"}, filler="NAP"), jobs=2, context=FORK))
    assert [r["line"] for r in rows] == list(range(1, 101))
    slow_done = rows[1]["finished"]
    # while line 2 took its 3 s, the other worker went on past it (results still in order)
    assert sum(r["finished"] < slow_done for r in rows) >= 50


def test_the_reordering_buffer_is_bounded(fake) -> None:
    fake.setattr(batch, "REORDER_LIMIT", 20)
    rows = list(grade_batch(_lines(100, {1: "SLOW"}, filler="NAP"), jobs=2, context=FORK))
    assert [r["line"] for r in rows] == list(range(1, 101))
    slow_done = rows[1]["finished"]
    assert sum(r["finished"] < slow_done for r in rows) < 20


def test_lines_from_a_generator_and_blank_lines(fake) -> None:
    lines = (x if i % 3 else "  " for i, x in enumerate(_lines(60)))
    rows = list(grade_batch(lines, jobs=3, context=FORK))
    assert [r["line"] for r in rows] == [i + 1 for i in range(60) if i % 3]


def test_stopping_early_stops_the_workers(fake) -> None:
    results = grade_batch(_lines(200, filler="NAP"), jobs=2, context=FORK)
    assert next(results)["line"] == 1
    results.close()
    assert not multiprocessing.active_children()


def _dies_at_start(conn, assume, budget) -> None:
    os._exit(1)


def test_workers_that_cannot_start_are_an_error_not_a_loop(fake) -> None:
    fake.setattr(batch, "_serve", _dies_at_start)
    with pytest.raises(DeriveError, match="--jobs 1"):
        list(grade_batch(_lines(10), jobs=2, context=FORK))
    assert not multiprocessing.active_children()


def test_real_grading_in_chunks_matches_one_process() -> None:
    lines = [json.dumps({"id": i, "claim": f"(a + {i % 5})**2 == a**2 + {2 * (i % 5)}*a + "
                                           f"{(i % 5) ** 2 + (i % 2)}"}) for i in range(40)]
    one = list(grade_batch(lines, jobs=1))
    two = list(grade_batch(lines, jobs=2, context=FORK))
    assert [r["verdict"] for r in two] == [r["verdict"] for r in one]
    assert [r["verdict"] for r in one] == ["proved", "refuted"] * 20


def test_a_repeated_answer_follows_the_first_to_its_worker() -> None:
    def line(ident: int, claim: str) -> str:
        return json.dumps({"id": ident, "claim": claim, "student": f"s{ident}"})

    queue = batch._Queue(2)
    for number, claim in enumerate(["X", "Y", "Z", "X", "Y", "Z"], start=1):
        queue.add(number, line(number, claim))
    numbers = lambda entries: [entry[0] for entry in entries]  # noqa: E731
    assert numbers(queue.take(0, 1)) == [1]            # X is worker 0's now, and so is 4
    assert numbers(queue.take(1, 1)) == [2]            # Y is worker 1's, and so is 5
    assert numbers(queue.take(0, 3)) == [3, 4, 6]      # in input order: Z (with 6), then X
    queue.add(7, line(7, "X"))                         # read later: still worker 0's
    queue.add(8, "{not json")
    assert numbers(queue.take(1, 3)) == [5, 8, 7]      # its own, the shared, then another's
    assert len(queue) == 0 and queue.take(0, 4) == []
    queue.put_back([(4, line(4, "X"), 1, 0)])          # a stopped worker's lines come first
    assert numbers(queue.take(1, 2)) == [4]
