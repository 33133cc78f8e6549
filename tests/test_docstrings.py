"""Every docstring example in the package runs and prints what it shows."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import derive


def _modules() -> list[str]:
    names = [derive.__name__]
    for info in pkgutil.walk_packages(derive.__path__, prefix="derive."):
        if not info.name.endswith("__main__"):          # runs the command line on import
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_the_examples_are_found() -> None:
    # The parametrization above must not be empty by accident (a moved package, say).
    examples = sum(len(t.examples) for name in _modules()
                   for t in doctest.DocTestFinder().find(importlib.import_module(name), name))
    assert examples > 200
