"""Every docstring example in the package runs and prints what it shows."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil

import pytest

import derive

# Modules written for the lab's optional packages (the listings and the experiments import
# PyTorch, some scikit-learn): their examples run where those are installed.
OPTIONAL = {"derive.lab.listings.": ("torch",), "derive.lab.experiments.": ("torch", "sklearn")}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _modules() -> list[str]:
    names = [derive.__name__]
    for info in pkgutil.walk_packages(derive.__path__, prefix="derive."):
        if info.name.endswith("__main__"):          # runs the command line on import
            continue
        needs = next((m for p, m in OPTIONAL.items() if info.name.startswith(p)), ())
        if all(_installed(m) for m in needs):
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
