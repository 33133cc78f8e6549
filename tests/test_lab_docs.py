"""The reference code as the docs show it: every listing of :mod:`derive.lab.listings` is
printed in the generated docs as a fenced ``python`` block whose text is the listing file
itself, and each listing is imported by a test module that compares it with PyTorch.

Runs without PyTorch: it reads the docs and the test modules, it does not run them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from derive.lab.listings import source

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "solutions"
LISTINGS = sorted(p.stem for p in (ROOT / "derive" / "lab" / "listings").glob("*.py")
                  if not p.stem.startswith("_"))
FENCE = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def _python_blocks() -> list[str]:
    return [m.group(1) for page in sorted(DOCS.rglob("*.md"))
            for m in FENCE.finditer(page.read_text(encoding="utf-8"))]


def _imports(path: Path) -> set[str]:
    """The modules a file imports (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return out


def _torch_tests(module: str) -> list[str]:
    """Test modules that import ``module`` and PyTorch (directly or by importorskip)."""
    found = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        uses_torch = "torch" in _imports(path) or 'importorskip("torch"' in text
        if module in _imports(path) and uses_torch:
            found.append(path.name)
    return found


def test_at_least_eight_listings_exist() -> None:
    assert len(LISTINGS) >= 8, LISTINGS


def test_every_python_block_in_the_docs_is_a_listing_file_verbatim() -> None:
    blocks = _python_blocks()
    sources = {name: source(name) for name in LISTINGS}
    for block in blocks:
        assert block in sources.values(), block[:200]
    shown = {name for name, text in sources.items() if text in blocks}
    assert shown == set(LISTINGS)


@pytest.mark.parametrize("name", LISTINGS)
def test_every_listing_is_imported_by_a_test_that_uses_pytorch(name: str) -> None:
    assert _torch_tests(f"derive.lab.listings.{name}"), name
