"""One submission of a batch: the JSON object of one line, checked against the schema.

Design rule: the schema file ``submission.json`` (shipped with the package) is the one
description of the fields; the validation below reads it, so the documentation, the
``--help`` text and the checks cannot drift apart.  A line with an unknown key (a misspelt
``"assumptions"``), a value of the wrong type, or an ``id`` used before is refused with a
message naming the key, never graded with the key silently ignored.

>>> s = validate({"id": "a1", "text": "2*(x + 1)\\n2*x + 2", "expect": "2*x + 2"}, 3)
>>> s.ident, s.kind, s.expect, s.points
('a1', 'text', '2*x + 2', 1.0)
>>> validate({"id": "a1", "text": "x", "assumptions": ["x >= 1"]}, 4)
Traceback (most recent call last):
...
derive.errors.InputError: line 4: unknown key "assumptions" (did you mean "assume"?); the keys are: assume, claim, derivation, expect, format, given, id, points, start, student, text
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from derive.errors import InputError

SCHEMA_PATH = Path(__file__).with_name("submission.json")
ANSWER_KEYS = ("text", "claim", "derivation")

_JSON_TYPES = {"string": (str,), "integer": (int,), "number": (int, float),
               "array": (list,), "object": (dict,), "boolean": (bool,)}


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The JSON Schema of one submission line (``derive/grade/submission.json``)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Submission:
    """A validated line: what to grade and against what."""

    line: int
    ident: str | int
    text: str
    kind: str                       # "text", "claim" or "derivation": the key it came in
    student: str | None = None
    fmt: str | None = None          # "text", "latex", or None (detected)
    assume: tuple[str, ...] = ()
    given: tuple[str, ...] = ()     # assumptions such as "H == 32"
    expect: str | None = None
    start: str | None = None
    points: float = 1.0


def validate(item: Any, line: int) -> Submission:
    """The submission in ``item`` (a decoded JSON line), or :class:`InputError` naming the
    key at fault."""
    if not isinstance(item, dict):
        raise InputError(f"line {line}: expected a JSON object, got {type(item).__name__}")
    spec = schema()
    known = spec["properties"]
    for key in item:
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            if key in ("assumptions", "assumption", "assuming"):
                close = ["assume"]
            hint = f" (did you mean \"{close[0]}\"?)" if close else ""
            raise InputError(f"line {line}: unknown key \"{key}\"{hint}; the keys are: "
                             f"{', '.join(sorted(known))}")
    for key in spec["required"]:
        if key not in item:
            raise InputError(f"line {line}: the key \"{key}\" is required")
    answers = [k for k in ANSWER_KEYS if k in item]
    if len(answers) != 1:
        raise InputError(f"line {line}: give the answer in exactly one of the keys "
                         f"\"text\", \"claim\", \"derivation\""
                         + (f" (got {', '.join(answers)})" if answers else ""))
    for key, value in item.items():
        _check_value(key, value, known[key], line)
    assume = item.get("assume", [])
    if isinstance(assume, str):
        assume = [assume]
    return Submission(
        line=line, ident=item["id"], text=item[answers[0]], kind=answers[0],
        student=item.get("student"), fmt=item.get("format"),
        assume=tuple(assume), given=_given(item.get("given"), line),
        expect=item.get("expect"), start=item.get("start"),
        points=float(item.get("points", 1)))


def _check_value(key: str, value: Any, spec: dict[str, Any], line: int) -> None:
    kinds = spec.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if isinstance(value, bool) or not any(isinstance(value, _JSON_TYPES[k])
                                              for k in kinds):
            raise InputError(f"line {line}: \"{key}\" must be {' or '.join(_WORDS[k] for k in kinds)}, "
                             f"got {json.dumps(value)[:60]}")
    if "enum" in spec and value not in spec["enum"]:
        raise InputError(f"line {line}: \"{key}\" must be one of "
                         f"{', '.join(json.dumps(v) for v in spec['enum'])}, got "
                         f"{json.dumps(value)[:60]}")
    if "minimum" in spec and value < spec["minimum"]:
        raise InputError(f"line {line}: \"{key}\" must be at least {spec['minimum']}, got "
                         f"{value}")
    if isinstance(value, list) and "items" in spec:
        for i, entry in enumerate(value):
            try:
                _check_value(key, entry, spec["items"], line)
            except InputError:
                raise InputError(f"line {line}: \"{key}\"[{i}] must be "
                                 f"{_WORDS[spec['items']['type']]}, got "
                                 f"{json.dumps(entry)[:60]}") from None
    if isinstance(value, dict) and isinstance(spec.get("additionalProperties"), dict):
        for name, entry in value.items():
            _check_value(f"{key}.{name}", entry, spec["additionalProperties"], line)


_WORDS = {"string": "a text", "integer": "a whole number", "number": "a number",
          "array": "a list", "object": "an object", "boolean": "true or false"}


def _given(value: Any, line: int) -> tuple[str, ...]:
    """``{"H": 32}`` or ``"H = 32, K = 5"`` as assumptions ``("H == 32", ...)``."""
    from derive.errors import ParseError
    from derive.grade.reader import given_assumptions, split_assumptions

    if value is None:
        return ()
    text = value if isinstance(value, str) else ", ".join(f"{k} = {v}" for k, v in value.items())
    try:
        return tuple(split_assumptions(given_assumptions(text, source=f"line {line}")))
    except ParseError as exc:
        raise InputError(f"line {line}: \"given\": {exc}") from None


def duplicate_ids(lines: list[str]) -> dict[int, int]:
    """``{line number: first line with the same id}`` for every repeated ``id`` (lines that
    are not JSON objects with an id are left to the per-line checks).

    >>> duplicate_ids(['{"id": 1}', '', '{"id": 2}', '{"id": 1}'])
    {4: 1}
    """
    seen: dict[Any, int] = {}
    out: dict[int, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if not isinstance(item, dict) or not isinstance(item.get("id"), (str, int)) \
                or isinstance(item.get("id"), bool):
            continue
        key = str(item["id"])          # 1 and "1" name the same submission in a grade file
        if key in seen:
            out[number] = seen[key]
        else:
            seen[key] = number
    return out
