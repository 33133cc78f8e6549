"""Gradescope's autograder results.json: the documented fields, their types and values
(from the autograder specification), for checking the files derive writes."""

from __future__ import annotations

# Gradescope's documented results.json fields and the values they take
_GS_TOP = {"score": (int, float), "execution_time": (int, float), "output": str,
           "output_format": str, "test_output_format": str, "test_name_format": str,
           "visibility": str, "stdout_visibility": str, "extra_data": dict, "tests": list,
           "leaderboard": list}
_GS_TEST = {"score": (int, float), "max_score": (int, float), "status": str, "name": str,
            "name_format": str, "number": str, "output": str, "output_format": str,
            "tags": list, "visibility": str, "extra_data": dict}
_GS_VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def valid_gradescope(data: dict) -> None:
    """Every key is one of Gradescope's documented fields, with a value of its type."""
    assert set(data) <= set(_GS_TOP), set(data) - set(_GS_TOP)
    for key, value in data.items():
        assert isinstance(value, _GS_TOP[key]), key
    for key in ("visibility", "stdout_visibility"):
        assert data.get(key, "visible") in _GS_VISIBILITY
    for test in data["tests"]:
        assert set(test) <= set(_GS_TEST), set(test) - set(_GS_TEST)
        for key, value in test.items():
            assert isinstance(value, _GS_TEST[key]), key
        assert test.get("status", "passed") in ("passed", "failed")
        assert test.get("visibility", "visible") in _GS_VISIBILITY
        assert 0 <= test["score"] <= test["max_score"]
