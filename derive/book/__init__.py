"""The worked-solutions book: problems, parts, and the checked blocks of their solutions.

Problems are data (``problems/<set>/*.py`` define a ``PROBLEM``); solving a part runs the
engine and the checker and yields blocks; rendering only ever reads solved blocks.
"""

from derive.book.model import (
    CHECKED, CODE, EXPERIMENT, EXPLANATION, OUT_OF_SCOPE, Answer, Block, Check, Derivation,
    Explanation, Figure, Listing, MatrixView, Measurement, Part, PartResult, Problem,
    ProblemResult, Table, Text, SETS,
)
from derive.book.sheet import Sheet, written

__all__ = [
    "CHECKED", "CODE", "EXPERIMENT", "EXPLANATION", "OUT_OF_SCOPE", "Answer", "Block", "Check",
    "Derivation", "Explanation", "Figure", "Listing", "MatrixView", "Measurement", "Part",
    "PartResult", "Problem", "ProblemResult", "SETS", "Sheet", "Table", "Text", "written",
]
