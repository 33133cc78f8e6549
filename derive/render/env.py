"""The jinja2 environment for the document skeletons (LaTeX and Markdown).

Design rule: jinja2 lays out documents; it never builds mathematics (that is the printer's
job) and never escapes for HTML.  The delimiters are chosen so that LaTeX source stays
readable and a brace in LaTeX never starts a template construct:

=================  ============================  ========================================
construct          LaTeX-safe spelling           note
=================  ============================  ========================================
expression         ``\\VAR{ name }``
statement          ``\\BLOCK{ if x }``           or a line starting with ``%%``
comment            ``\\#{ ... }``                (so a LaTeX comment never starts ``%%``)
=================  ============================  ========================================

A line statement swallows the blank lines that follow it: put a needed blank line before the
statement, or write it as an empty expression ``\\VAR{ "" }``.

Undefined names raise (``StrictUndefined``) instead of printing nothing, and autoescaping is
off: text is escaped explicitly with the ``tex`` / ``md`` filters, exactly once.

>>> env = make_env()
>>> env.from_string(r"\\section{\\VAR{ title | tex }}").render(title="50% & more")
'\\\\section{50\\\\% \\\\& more}'
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

from derive.render.escape import (
    escape_latex, escape_latex_paragraphs, escape_markdown, escape_markdown_paragraphs,
)
from derive.render.prose import (
    prose_latex, prose_latex_paragraphs, prose_markdown, prose_markdown_paragraphs,
)

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


@lru_cache(maxsize=None)
def make_env(template_dir: str | None = None) -> jinja2.Environment:
    r"""The shared environment (cached; ``template_dir`` overrides the packaged templates).

    >>> make_env().from_string("%% for x in xs\n\\VAR{x}\n%% endfor\n").render(xs=[1, 2])
    '1\n2\n'
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir or str(TEMPLATE_DIR)),
        block_start_string=r"\BLOCK{",
        block_end_string="}",
        variable_start_string=r"\VAR{",
        variable_end_string="}",
        comment_start_string=r"\#{",
        comment_end_string="}",
        line_statement_prefix="%%",
        line_comment_prefix="%#",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["tex"] = lambda v: escape_latex(_text(v))
    env.filters["texpar"] = lambda v: escape_latex_paragraphs(_text(v))
    env.filters["md"] = lambda v: escape_markdown(_text(v))
    env.filters["mdpar"] = lambda v: escape_markdown_paragraphs(_text(v))
    # Author text (statements, prompts, reasons): prose with $...$ mathematics.
    env.filters["prose"] = lambda v: prose_latex(_text(v))
    env.filters["prosepar"] = lambda v: prose_latex_paragraphs(_text(v))
    env.filters["mdprose"] = lambda v: prose_markdown(_text(v))
    env.filters["mdprosepar"] = lambda v: prose_markdown_paragraphs(_text(v))
    from derive.render.lab import LISTING_LITERATE
    env.globals["listing_literate"] = " ".join(
        "{%s}{{%s}}1" % (char, tex) for char, tex in LISTING_LITERATE.items())
    return env


def _text(value: object) -> str:
    """A filter's argument as text; an undefined name raises (StrictUndefined) here."""
    if isinstance(value, jinja2.Undefined):
        return str(value)  # StrictUndefined: raises UndefinedError naming the variable
    return value if isinstance(value, str) else str(value)


def render(template: str, template_dir: str | None = None, **context: object) -> str:
    """Render the named template with ``context``.

    >>> tex = render("problem.tex.j2", problem={"id": "x", "path": "p.py", "body": ""},
    ...              title="t", version="0")
    >>> "\\\\begin{document}" in tex
    True
    """
    return make_env(template_dir).get_template(template).render(**context)


def templates_digest(template_dir: str | None = None) -> str:
    """A hash of every template file (part of the build cache key).

    >>> len(templates_digest())
    64
    """
    import hashlib
    root = Path(template_dir) if template_dir else TEMPLATE_DIR
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()
