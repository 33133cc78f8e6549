"""The pages with code and experiments build without PyTorch and scikit-learn, from the
stored results alone, and come out byte for byte as the committed docs (which CI builds
with both installed).

Each page is solved and rendered in a fresh interpreter in which importing ``torch`` or
``sklearn`` fails, as on a machine without the ``lab`` extra.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTER8 = ROOT / "problems" / "chapter8"
DOCS = ROOT / "docs" / "solutions" / "chapter8"
# Pages that print a listing or render stored measurements.
PAGES = sorted(p.name for p in CHAPTER8.glob("e08_*.py")
               if ".measured(" in p.read_text(encoding="utf-8")
               or ".listing(" in p.read_text(encoding="utf-8"))

RENDER = """
import json, sys
sys.modules["torch"] = None      # import torch -> ImportError
sys.modules["sklearn"] = None
from pathlib import Path
from derive.problems import ProblemFile, load, solve
from derive.render.build import make_entry
path = Path(sys.argv[1])
entry = make_entry(solve(load(ProblemFile("chapter8", path, "chapter8/" + path.name))),
                   "chapter8/" + path.name, "key")
print(json.dumps({"stem": entry["stem"], "md": entry["md"], "svgs": entry["svgs"]}))
"""


def test_there_are_pages_with_code_and_experiments() -> None:
    assert len(PAGES) >= 15, PAGES


@pytest.mark.slow
@pytest.mark.parametrize("filename", PAGES)
def test_page_builds_without_torch_and_equals_the_docs(filename: str) -> None:
    done = subprocess.run([sys.executable, "-c", RENDER, str(CHAPTER8 / filename)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    entry = json.loads(done.stdout)
    assert entry["md"] == (DOCS / f"{entry['stem']}.md").read_text(encoding="utf-8")
    for name, svg in entry["svgs"].items():
        assert svg == (DOCS / name).read_text(encoding="utf-8"), name
