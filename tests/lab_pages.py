"""What the experiment-page tests share: a chapter-8 page loaded and solved, its parts and
blocks by kind, its answers, the points of its plots, and the stored results it renders."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from derive.book.model import Answer
from derive.problems import ProblemFile, load, solve

ROOT = Path(__file__).resolve().parents[1]
CHAPTER8 = ROOT / "problems" / "chapter8"
RESULTS = ROOT / "derive" / "lab" / "results"


def load_page(filename: str) -> Any:
    """The problem module ``problems/chapter8/<filename>``, loaded."""
    path = CHAPTER8 / filename
    return load(ProblemFile("chapter8", path, f"chapter8/{path.name}"))


def solve_page(filename: str) -> Any:
    return solve(load_page(filename))


def stored(name: str) -> dict:
    """The whole stored record of experiment ``name`` (config, results, ...)."""
    return json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))


def part_named(result: Any, label: str) -> Any:
    return next(p for p in result.parts if p.part.label == label)


def blocks(result: Any, label: str, kind: Any) -> list:
    return [b for b in part_named(result, label).blocks if isinstance(b, kind)]


def answers(result: Any, label: str) -> dict:
    return {b.label: b.value for b in blocks(result, label, Answer)}


def plot_series(tikz: str) -> list[list[tuple[float, float]]]:
    """The (x, y) points of every series of a pgfplots picture."""
    return [[(float(x), float(y)) for x, y in re.findall(r"\(([-\d.e]+),([-\d.e]+)\)", body)]
            for body in re.findall(r"coordinates \{([^}]*)\}", tikz)]
