"""The public API is small, sorted, and every name in it resolves."""

from __future__ import annotations

import subprocess
import sys

import derive

EXPECTED = [
    "Claim", "DeriveError", "Layer", "Merge", "Status", "Verdict", "analyze", "check_derivation",
    "conv_matrix", "conv_matrix_2d", "grade_file", "grade_text", "im2col", "output_size",
    "pool_output_size", "receptive_field", "transposed_output_size", "verify",
]


def test_all_is_sorted_and_guarded() -> None:
    assert derive.__all__ == sorted(derive.__all__)
    assert derive.__all__ == EXPECTED


def test_every_name_resolves() -> None:
    for name in derive.__all__:
        assert getattr(derive, name) is not None, name


def test_import_is_light() -> None:
    code = "import sys, derive; print('sympy' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def test_one_error_hierarchy() -> None:
    from derive import errors
    for name in dir(errors):
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and obj.__module__ == errors.__name__:
            assert issubclass(obj, errors.DeriveError)
    assert issubclass(errors.InputError, ValueError)
    assert issubclass(errors.ConfigurationError, ValueError)
    assert issubclass(errors.ParseError, ValueError)


def test_the_authoring_api_of_the_book() -> None:
    from derive import book
    assert {"Sheet", "written", "Check", "Part", "Problem"} <= set(book.__all__)
    assert str(book.written("H + H")) == "H + H"     # as written: SymPy would make it 2*H


def test_analyze_is_the_function_whatever_was_imported_first() -> None:
    # the implementation lives in derive.analysis, so importing one of its modules first
    # cannot put a module where the function belongs
    code = ("import derive.analysis.rules, derive\n"
            "print(callable(derive.analyze), derive.analyze.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "derive.analysis"]
