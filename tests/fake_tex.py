"""A stand-in TeX for the build's fast tests: shell scripts named ``latexmk`` and
``pdflatex`` first on PATH, so that no TeX Live is needed."""

from __future__ import annotations

import stat
from pathlib import Path

# What the stand-in writes as the PDF: a digest of the document (so that two documents give
# two different PDFs and a test can recompute what it should be).
WRITE_PDF = "printf '%%PDF-fake %s' \"$(md5sum document.tex | cut -c1-8)\" > document.pdf\n"


def install_tex(bin_dir: Path, body: str) -> None:
    """``body`` as both ``latexmk`` and ``pdflatex`` in ``bin_dir`` (the build runs pdflatex
    itself; making a format, ``pdflatex -ini``, succeeds without one, so documents read
    their preamble)."""
    bin_dir.mkdir(exist_ok=True)
    for name in ("latexmk", "pdflatex"):
        script = bin_dir / name
        script.write_text("#!/bin/sh\ncase \" $* \" in *\" -ini \"*) exit 0 ;; esac\n" + body)
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
