"""Discovery, loading and solving of problem modules; errors name the file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from derive.book.model import Part, Problem
from derive.errors import InputError, ProblemError
from derive.problems import discover, helpers_digest, load, load_all, solve

FIXTURES = Path(__file__).parent / "fixtures" / "problems"

GOOD = '''
from derive.book import Part, Problem

def solve(sheet):
    sheet.numeric(2 + 2, 4, method="arithmetic")

PROBLEM = Problem(id={id!r}, set={set!r}, title="t", statement="s",
                  parts=(Part("a", "p", solve),), order={order})
'''


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def good(root: Path, rel: str, pid: str, order: float = 0) -> Path:
    return write(root, rel, GOOD.format(id=pid, set=rel.split("/")[0], order=order))


def test_discovery_order_skips_helpers(tmp_path: Path) -> None:
    good(tmp_path, "chapter8/ex8_2.py", "8.2")
    good(tmp_path, "practice/ex2.py", "practice-2")
    write(tmp_path, "practice/_shared.py", "X = 1\n")
    (tmp_path / "theory").mkdir()
    (tmp_path / "__pycache__").mkdir()
    assert [f.relpath for f in discover(tmp_path)] == ["practice/ex2.py", "chapter8/ex8_2.py"]


def test_missing_directory_and_unknown_set(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        discover(tmp_path / "nope")
    (tmp_path / "homework").mkdir()
    with pytest.raises(ProblemError, match="unknown problem set 'homework'"):
        discover(tmp_path)


def test_load_all_sorts_by_set_then_order(tmp_path: Path) -> None:
    good(tmp_path, "practice/b.py", "practice-1", order=1)
    good(tmp_path, "practice/a.py", "practice-2", order=2)
    good(tmp_path, "chapter8/c.py", "8.1", order=0)
    assert [p.id for p in load_all(tmp_path)] == ["practice-1", "practice-2", "8.1"]


@pytest.mark.parametrize("source, message", [
    ("raise RuntimeError('no')\n", "failed to load: RuntimeError: no"),
    ("x = (\n", "failed to load: SyntaxError"),
    ("X = 1\n", "defines no PROBLEM"),
    ("PROBLEM = 3\n", "PROBLEM is a int, expected derive.book.Problem"),
    (GOOD.format(id="z", set="theory", order=0), "got set='theory'"),
    (GOOD.format(id="", set="practice", order=0), "non-empty id"),
    (GOOD.replace('(Part("a", "p", solve),)', "()").format(id="z", set="practice", order=0),
     "has no parts"),
    (GOOD.replace('(Part("a", "p", solve),)', '(Part("a", "p", solve), Part("a", "q", solve))')
     .format(id="z", set="practice", order=0), "appears twice"),
    (GOOD.replace('Part("a", "p", solve)', 'Part("a", "p", None)')
     .format(id="z", set="practice", order=0), "has no solve function"),
    (GOOD.replace('Part("a", "p", solve)', 'Part("a", "p", None, scope="out-of-scope")')
     .format(id="z", set="practice", order=0), "gives no reason"),
    (GOOD.replace('Part("a", "p", solve)', 'Part("a", "p", solve, scope="maybe")')
     .format(id="z", set="practice", order=0), "got scope='maybe'"),
])
def test_loading_errors_name_the_file(tmp_path: Path, source: str, message: str) -> None:
    path = write(tmp_path, "practice/broken.py", source)
    [pf] = discover(tmp_path)
    with pytest.raises(ProblemError) as info:
        load(pf)
    assert str(path) in str(info.value) and message in str(info.value)


def test_duplicate_ids(tmp_path: Path) -> None:
    good(tmp_path, "practice/a.py", "same")
    good(tmp_path, "practice/b.py", "same")
    with pytest.raises(ProblemError, match="already used by .*a.py"):
        load_all(tmp_path)


def test_solve_records_errors_per_part_with_context() -> None:
    def ok(sheet):
        sheet.numeric(4, 4, method="arithmetic")

    def bad(sheet):
        sheet.text("before the failure")
        raise KeyError("K")

    def config(sheet):
        from derive.errors import check_positive_int
        check_positive_int("stride", 0)

    result = solve(Problem("8.4", "chapter8", "t", "s",
                           (Part("a", "p", ok), Part("b", "p", bad), Part("c", "p", config))))
    a, b, c = result.parts
    assert a.status == "cross-checked" and not a.error
    assert b.status == "error" and b.error == "while solving 8.4(b): KeyError: 'K'"
    assert len(b.blocks) == 1  # what was written before the failure is kept
    assert c.error == ("while solving 8.4(c): got stride=0; stride must be an integer >= 1")
    assert result.counts() == {"cross-checked": 1, "error": 2}


def test_fixture_set_loads_and_solves() -> None:
    problems = load_all(FIXTURES)
    assert [p.id for p in problems] == ["fixture-1", "fx-8.1"]
    statuses = [pr.status for pr in solve(problems[0]).parts]
    assert statuses == ["proved", "cross-checked", "explanation", "out-of-scope"]


def test_helpers_digest_tracks_shared_modules(tmp_path: Path) -> None:
    good(tmp_path, "practice/a.py", "a")
    before = helpers_digest(tmp_path)
    write(tmp_path, "practice/_shared.py", "X = 1\n")
    after = helpers_digest(tmp_path)
    assert before != after
    write(tmp_path, "practice/a.py", "changed = True\n")
    assert helpers_digest(tmp_path) == after


def test_ids_sort_naturally_when_orders_tie(tmp_path: Path) -> None:
    for pid in ("8.10", "8.2", "8.1"):
        good(tmp_path, f"chapter8/ex{pid.replace('.', '_')}.py", pid)
    assert [p.id for p in load_all(tmp_path)] == ["8.1", "8.2", "8.10"]
    assert [f.relpath for f in discover(tmp_path)] == [
        "chapter8/ex8_1.py", "chapter8/ex8_2.py", "chapter8/ex8_10.py"]
