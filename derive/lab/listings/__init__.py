"""Reference implementations printed in the book as listings (each module whole, as it is)
and imported by the tests, which compare them with PyTorch's own operators.

Each module is self-contained (imports only PyTorch and the standard library), short enough
to print, and written for reading: loops where the exercise asks for loops, comments that
say why."""

from __future__ import annotations

from importlib import resources


def source(name: str) -> str:
    """The text of listing ``name`` (a module of this package), as the book prints it.

    >>> "def im2col(" in source("im2col")
    True
    """
    from derive.errors import InputError

    path = resources.files(__name__) / f"{name}.py"
    if not name.isidentifier() or name.startswith("_") or not path.is_file():
        raise InputError(f"no listing named {name!r} in derive.lab.listings")
    return path.read_text(encoding="utf-8")
