"""Discovery, loading and solving of the problems under ``problems/<set>/*.py``.

Design rule: a problem module is data.  It defines ``PROBLEM = derive.book.Problem(...)`` and
nothing runs at load time beyond building that record; the engine runs when a part is
*solved*.  Anything wrong with a module is reported as a :class:`~derive.errors.ProblemError`
that names the file; an exception while solving one part is caught and recorded on that
part (``PartResult.error``, with context such as ``while solving 8.4(b): ...``) so the other
parts and problems are still solved and rendered.

Files whose name starts with ``_`` are helpers shared by problems, not problems; they count
towards every problem's cache key (see :func:`helpers_digest`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from derive.errors import DeriveError, InputError, ProblemError

SET_KEYS: tuple[str, ...] = ("practice", "theory", "chapter8", "formulas")


@dataclass(frozen=True)
class ProblemFile:
    """A problem module found on disk (not loaded yet)."""
    set: str
    path: Path
    relpath: str          # posix path relative to the problems directory

    def source_digest(self) -> str:
        """sha256 of the module's bytes."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def set_order() -> dict[str, int]:
    """Position of each set in the book (from :data:`derive.book.model.SETS`)."""
    from derive.book.model import SETS
    return {key: i for i, (key, _title) in enumerate(SETS)}


def natural_key(text: str) -> tuple:
    """Sort key that orders embedded numbers by value.

    >>> sorted(["8.10", "8.2", "practice-10", "practice-9"], key=natural_key)
    ['8.2', '8.10', 'practice-9', 'practice-10']
    """
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t)
                 for t in re.split(r"(\d+)", text) if t)


def discover(root: str | Path) -> list[ProblemFile]:
    """Every problem module under ``root``, in set order, then by file name.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); (d / "practice").mkdir()
    >>> _ = (d / "practice" / "ex2.py").write_text("")
    >>> _ = (d / "practice" / "_shared.py").write_text("")
    >>> [f.relpath for f in discover(d)]
    ['practice/ex2.py']
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"got problems directory {str(root)!r}; it does not exist (run from "
                         f"the repository root or pass --problems DIR)")
    order = set_order()
    found: list[ProblemFile] = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        if sub.name.startswith((".", "_")):
            continue
        if sub.name not in order:
            raise ProblemError(f"{sub}: unknown problem set {sub.name!r}; the sets are "
                               f"{', '.join(order)}")
        for path in sorted(sub.glob("*.py")):
            if path.name.startswith("_"):
                continue
            found.append(ProblemFile(sub.name, path, path.relative_to(root).as_posix()))
    return sorted(found, key=lambda f: (order[f.set], natural_key(f.path.name)))


def helpers_digest(root: str | Path) -> str:
    """sha256 over the helper modules (``_*.py``) anywhere under ``root``."""
    h = hashlib.sha256()
    root = Path(root)
    for path in sorted(root.rglob("_*.py")):
        if "__pycache__" in path.parts:
            continue
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def load(pf: ProblemFile):
    """Import one problem module and return its validated ``PROBLEM``."""
    from derive.book.model import Problem
    name = "derive_problems." + re.sub(r"\W", "_", pf.relpath[:-3])
    spec = importlib.util.spec_from_file_location(name, pf.path)
    if spec is None or spec.loader is None:  # pragma: no cover - only for odd paths
        raise ProblemError(f"{pf.path}: cannot be imported as a module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # a module that exits is broken, not fatal
        sys.modules.pop(name, None)
        raise ProblemError(f"{pf.path}: failed to load: {type(exc).__name__}: {exc}") from exc
    problem = getattr(module, "PROBLEM", None)
    if problem is None:
        raise ProblemError(f"{pf.path}: defines no PROBLEM; a problem module sets "
                           f"PROBLEM = derive.book.Problem(...)")
    if not isinstance(problem, Problem):
        raise ProblemError(f"{pf.path}: PROBLEM is a {type(problem).__name__}, expected "
                           f"derive.book.Problem")
    try:
        validate(problem, pf)
    except ProblemError:
        raise
    except (TypeError, AttributeError, ValueError) as exc:
        raise ProblemError(f"{pf.path}: malformed PROBLEM: {type(exc).__name__}: {exc}") from exc
    return problem


def validate(problem, pf: ProblemFile) -> None:
    """Check the shape of a loaded problem; raise :class:`ProblemError` naming the file."""
    from derive.book.model import CHECKED, CODE, EXPERIMENT, EXPLANATION, OUT_OF_SCOPE, Part
    where = str(pf.path)
    if not problem.id or not isinstance(problem.id, str):
        raise ProblemError(f"{where}: got id={problem.id!r}; a problem needs a non-empty id")
    if problem.set != pf.set:
        raise ProblemError(f"{where}: got set={problem.set!r} for problem {problem.id!r}, but "
                           f"the module lives in {pf.set}/; move it or fix the set")
    for field_name in ("title", "statement", "source"):
        if not isinstance(getattr(problem, field_name), str):
            raise ProblemError(f"{where}: got {field_name}={getattr(problem, field_name)!r}; "
                               f"{field_name} must be a str")
    if not problem.parts:
        raise ProblemError(f"{where}: problem {problem.id!r} has no parts")
    labels: set[str] = set()
    for part in problem.parts:
        if not isinstance(part, Part):
            raise ProblemError(f"{where}: got part {part!r}; parts must be derive.book.Part")
        if part.label in labels:
            raise ProblemError(f"{where}: part label {part.label!r} appears twice")
        labels.add(part.label)
        scopes = (CHECKED, EXPLANATION, CODE, EXPERIMENT, OUT_OF_SCOPE)
        if part.scope not in scopes:
            raise ProblemError(f"{where}: got scope={part.scope!r} for part {part.label!r}; "
                               f"scope is one of {', '.join(map(repr, scopes))}")
        if part.scope == OUT_OF_SCOPE and not part.reason:
            raise ProblemError(f"{where}: part {part.label!r} is out of scope but gives no "
                               f"reason")
        if part.scope != OUT_OF_SCOPE and part.solve is None:
            raise ProblemError(f"{where}: part {part.label!r} has no solve function")


def load_all(root: str | Path) -> list:
    """Load every problem under ``root``, sorted for the book; ids must be unique."""
    problems = []
    seen: dict[str, Path] = {}
    for pf in discover(root):
        p = load(pf)
        if p.id in seen:
            raise ProblemError(f"{pf.path}: problem id {p.id!r} is already used by "
                               f"{seen[p.id]}")
        seen[p.id] = pf.path
        problems.append(p)
    order = set_order()
    return sorted(problems, key=lambda p: (order[p.set], p.order, natural_key(p.id)))


def solve(problem):
    """Solve every part of ``problem``; an exception in a part is recorded on that part.

    >>> from derive.book import Part, Problem
    >>> def bad(sheet): raise ZeroDivisionError("division by zero")
    >>> r = solve(Problem("8.4", "chapter8", "t", "s", (Part("b", "p", bad),)))
    >>> r.parts[0].error
    'while solving 8.4(b): ZeroDivisionError: division by zero'
    """
    from derive.book.model import (
        CODE, EXPERIMENT, Listing, Measurement, PartResult, ProblemResult,
    )
    from derive.book.sheet import Sheet
    from derive.render.steps import part_name

    results = []
    for part in problem.parts:
        sheet = Sheet()
        error = ""
        if part.solve is not None:
            try:
                part.solve(sheet)
            except DeriveError as exc:
                error = str(exc.with_context(f"while solving "
                                             f"{part_name(problem.id, part.label)}"))
            except (Exception, SystemExit) as exc:
                error = (f"while solving {part_name(problem.id, part.label)}: "
                         f"{type(exc).__name__}: {exc}")
        # A part marked as code or as an experiment shows the listing or the measurement
        # its mark promises.
        needs = {CODE: (Listing, "prints no listing"),
                 EXPERIMENT: (Measurement, "shows no measurement")}.get(part.scope)
        if needs and not error and not any(isinstance(b, needs[0]) for b in sheet.blocks):
            error = (f"{part_name(problem.id, part.label)} is marked {part.scope!r} but "
                     f"{needs[1]}")
        results.append(PartResult(part, tuple(sheet.blocks), error))
    return ProblemResult(problem, tuple(results))
