"""Rendering code listings and experiment records, shared by the LaTeX and Markdown
renderers: a listing is printed whole (the very file the tests import), a measurement says
what was measured, at what scale, with which seed, on which machine, and how to re-run it.
"""

from __future__ import annotations

from derive.book.model import Listing, Measurement
from derive.render.escape import escape_latex, escape_markdown
from derive.render.prose import prose_latex, prose_markdown

# Package versions worth naming under a measurement, in this order.
_VERSIONS = (("python", "Python"), ("torch", "PyTorch"), ("numpy", "NumPy"),
             ("sklearn", "scikit-learn"))
# Non-ASCII characters a listing may use, and how the listings package typesets them.
LISTING_LITERATE = {"×": r"$\times$", "λ": r"$\lambda$", "α": r"$\alpha$", "≤": r"$\le$",
                    "≥": r"$\ge$", "−": "-", "·": r"$\cdot$", "→": r"$\to$", "σ": r"$\sigma$",
                    "²": r"$^2$", "ℓ": r"$\ell$"}


def listing_path(name: str) -> str:
    """Where a listing lives in the repository.

    >>> listing_path("im2col")
    'derive/lab/listings/im2col.py'
    """
    return f"derive/lab/listings/{name}.py"


def _listing_note(block: Listing) -> str:
    where = listing_path(block.name)
    tested = f"; tested against PyTorch by {block.tests}" if block.tests else ""
    return f"{where}{tested}"


def listing_latex(block: Listing) -> str:
    """A listing in the book: caption, the file whole, and where it lives and is tested."""
    bad = sorted({c for c in block.source if ord(c) > 126 and c not in LISTING_LITERATE})
    if bad:
        from derive.errors import InputError
        raise InputError(f"listing {block.name!r} uses characters the book cannot typeset: "
                         f"{''.join(bad)!r}")
    return "\n".join([
        r"\ListingCaption{%s}{%s}" % (prose_latex(block.caption),
                                      escape_latex(_listing_note(block))),
        r"\begin{DeriveListing}", block.source.rstrip("\n"), r"\end{DeriveListing}"])


def listing_markdown(block: Listing) -> str:
    """A listing in the docs: caption, a fenced ``python`` block with the file whole."""
    tested = f"; tested against PyTorch by `{block.tests}`" if block.tests else ""
    return "\n".join([f"**⌨ Code.** {prose_markdown(block.caption)} "
                      f"(`{listing_path(block.name)}`{tested})", "", "```python",
                      block.source.rstrip("\n"), "```"])


def _environment_words(block: Measurement) -> tuple[str, str]:
    env = dict(block.environment)
    machine = f"{env.get('processor', 'unknown processor')}, {env.get('cpus', '?')} CPUs"
    versions = ", ".join(f"{label} {env[key]}" for key, label in _VERSIONS if key in env)
    return machine, versions


def measurement_lines(block: Measurement) -> tuple[str, str]:
    """The two plain lines under a measurement: how it ran, and how to run it again.

    >>> m = Measurement("mixup", "accuracy", "quick", "digits, 8 epochs", 3, 12.5,
    ...                 (("cpus", "2"), ("processor", "CPU X"), ("torch", "2.13.0")))
    >>> measurement_lines(m)[0]
    'Quick configuration (digits, 8 epochs), seed 3; ran in 12.5 s on CPU X, 2 CPUs (PyTorch 2.13.0).'
    """
    machine, versions = _environment_words(block)
    scale = "Full configuration" if block.scale == "full" else "Quick configuration"
    how = (f"{scale} ({block.scaling.rstrip('.')}), seed {block.seed}; ran in "
           f"{block.seconds:g} s on {machine}" + (f" ({versions})." if versions else "."))
    again = (f"Stored in derive/lab/results/{block.experiment}.json; re-run with "
             f"'derive lab run {block.experiment}', compare with 'derive lab check "
             f"{block.experiment}'.")
    return how, again


def measurement_latex(block: Measurement) -> str:
    how, again = measurement_lines(block)
    return "\n".join([r"\begin{experimentbox}", prose_latex(block.what) + r"\par",
                      r"{\footnotesize\color{markgrey}%s\par %s\par}" % (
                          prose_latex(how), escape_latex(again)),
                      r"\end{experimentbox}"])


def measurement_markdown(block: Measurement) -> str:
    how, again = measurement_lines(block)
    return "\n".join([f"> **⚗ Experiment (measured), not proved.** {prose_markdown(block.what)}",
                      ">", f"> *{prose_markdown(how)}* {escape_markdown(again)}"])
