r"""Reading hand derivations: a file or a text becomes an ordered list of expressions.

Design rule: reading never checks and never evaluates.  Input is bounded before it is
parsed (file size, number of lines, line length: the named constants below), every
expression goes through a whitelist parser (:mod:`derive.check.parse` for plain text,
:mod:`derive.check.latex` for LaTeX), and anything malformed is a
:class:`~derive.errors.ParseError` or :class:`~derive.errors.InputError` that names the
line and column, never a traceback.

The plain-text format, one expression per line::

    # assume: S >= 1
    H_out = floor((H + 2*P - D*(K - 1) - 1)/S) + 1
    floor((H + 2*P - D*K + D - 1)/S) + 1      # because: expand D*(K - 1)
    = floor((H + 2*P - D*K + D - 1 + S)/S)
    ceiling(a/b) == floor((a + b - 1)/b)

* a line holding one expression is claimed equal to the expression before it (a leading
  ``=`` or ``==`` may be written; ``<=``, ``<``, ``>=``, ``>``, ``!=`` at the start of a line
  state that relation instead);
* a line ``lhs == rhs`` (or a chain ``a == b == c``; a single ``=`` means the same) states
  its own claim and does not refer to the line before; the next plain line continues from
  its last expression;
* ``NAME = expr`` with a name that does not occur in ``expr`` *defines* ``NAME`` (not
  checked), so ``H_out = ...`` can start a derivation; see :mod:`derive.grade.report`;
* ``# assume: s >= 2`` applies to every step written below it (several assumptions are
  separated by ``;``); ``# because: ...`` is the justification of the next step, and
  ``expr  # because: ...`` that of the step ending on that line; other ``#`` text is a
  comment.

LaTeX files (``.tex``, or any text with a backslash command or ``$$``) are read by
:func:`derive.check.latex.parse_latex_chain`; ``% assume:`` and ``% because:`` comment lines
play the same roles (a ``% because:`` written at the end of a row belongs to the step of
that row).

>>> d = read_text("a*(b + c)\na*b + a*c  # because: distribute")
>>> [(e.line, e.relation, str(e.expr)) for e in d.entries]
[(1, None, 'a*(b + c)'), (2, '=', 'a*b + a*c')]
>>> d.entries[1].because
'distribute'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from derive.errors import InputError, ParseError

MAX_FILE_BYTES = 256 * 1024   # a hand derivation is far smaller; larger files are refused
MAX_LINES = 2_000             # lines of a derivation file
MAX_LINE_CHARS = 2_000        # characters of one line
MAX_STEPS = 200               # checked steps in one derivation (each gets a time budget)

FORMATS = ("text", "latex")
LATEX_SUFFIXES = (".tex", ".latex", ".ltx")

_RELATION_AT = re.compile(r"==|<=|>=|!=|=|<|>")
_ANNOTATION = re.compile(r"^\s*(assume|because)\s*:\s*(.*?)\s*$", re.IGNORECASE)
_LOCATION = re.compile(r"\s*\(at (?:line \d+, )?column \d+\)$|\s*\(at line \d+\)$")


@dataclass(frozen=True)
class Entry:
    """One expression of a derivation, where it was written, and its relation to the previous.

    ``relation`` is ``None`` when the expression starts a chain (it is compared with nothing
    before it), otherwise ``=``, ``==``, ``<``, ``<=``, ``>``, ``>=`` or ``!=``.
    """

    expr: Any
    relation: str | None
    line: int
    column: int
    text: str
    because: str = ""
    divisors: tuple[Any, ...] = ()    # what the text divides by (kept where SymPy cancelled)


@dataclass(frozen=True)
class Note:
    """An ``assume:`` or ``because:`` annotation and the line it is written on."""

    kind: str
    text: str
    line: int


@dataclass(frozen=True)
class Derivation:
    """A derivation as read: entries in order, annotations, and the source lines."""

    entries: tuple[Entry, ...]
    notes: tuple[Note, ...] = ()
    fmt: str = "text"
    source: str = "<text>"
    lines: tuple[str, ...] = field(default=(), repr=False)

    def line_text(self, number: int) -> str:
        """The source line ``number`` (1-based), or an empty string."""
        return self.lines[number - 1] if 1 <= number <= len(self.lines) else ""


# ---------------------------------------------------------------------------------------


def read_file(path: str | Path, fmt: str | None = None) -> Derivation:
    """Read a derivation file (format from ``fmt``, else from its name and content).

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
    ...     _ = f.write("2*x\\nx + x\\n")
    >>> [str(e.expr) for e in read_file(f.name).entries]
    ['2*x', '2*x']
    >>> os.unlink(f.name)
    """
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"got format={fmt!r}; the format must be one of {', '.join(FORMATS)}")
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read derivation file {str(path)!r}: "
                         f"{exc.strerror or exc}") from None
    if p.is_dir():
        raise InputError(f"got path={str(path)!r}; it is a directory, not a derivation file")
    if size > MAX_FILE_BYTES:
        raise InputError(f"derivation file {str(path)!r} is {size:,} bytes; the limit is "
                         f"{MAX_FILE_BYTES:,} bytes")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read derivation file {str(path)!r}: "
                         f"{exc.strerror or exc}") from None
    text = decode(data, str(path))
    if fmt is None and p.suffix.lower() in LATEX_SUFFIXES:
        fmt = "latex"
    return read_text(text, fmt, source=str(path))


def decode(data: bytes, source: str = "<text>") -> str:
    """UTF-8 text of ``data``, or an :class:`InputError` for binary data.

    >>> decode(b"x + 1")
    'x + 1'
    >>> decode(b"\\x89PNG\\x00\\x01")
    Traceback (most recent call last):
    ...
    derive.errors.InputError: <text> is not a text file (a NUL byte at byte 5)
    """
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{source} is {len(data):,} bytes; the limit is {MAX_FILE_BYTES:,}")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(f"{source} is not a text file (a NUL byte at byte {nul + 1})")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source} is not UTF-8 text (byte {exc.start + 1} cannot be "
                         f"decoded)") from None


def detect_format(text: str) -> str:
    r"""``"latex"`` when the text holds a LaTeX command or ``$``, else ``"text"``.

    >>> detect_format(r"\frac{a}{b} = c"), detect_format("a/b == c")
    ('latex', 'text')
    """
    return "latex" if re.search(r"\\[a-zA-Z\[]|\$|&=", text) else "text"


def read_text(text: str, fmt: str | None = None, source: str = "<text>") -> Derivation:
    """Read a derivation from text; ``fmt`` is ``"text"``, ``"latex"`` or ``None`` (detect).

    >>> d = read_text(r"$$ \\frac{a}{b} = a b^{-1} $$")
    >>> d.fmt, [str(e.expr) for e in d.entries]
    ('latex', ['a/b', 'a/b'])
    """
    if not isinstance(text, str):
        raise InputError(f"a derivation must be text, got {type(text).__name__}")
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"got format={fmt!r}; the format must be one of {', '.join(FORMATS)}")
    _check_limits(text, source)
    fmt = fmt or detect_format(text)
    lines = tuple(text.splitlines())
    if fmt == "latex":
        entries, notes = _read_latex(text, source)
    else:
        entries, notes = _read_plain(lines, source)
    if not entries:
        raise InputError(f"{source} holds no expression (only blank lines and comments)")
    steps = sum(1 for e in entries if e.relation is not None)
    if steps > MAX_STEPS:
        raise InputError(f"{source} has {steps} steps; the limit is {MAX_STEPS}")
    return Derivation(tuple(entries), tuple(notes), fmt, source, lines)


def _check_limits(text: str, source: str) -> None:
    if not text.strip():
        raise InputError(f"{source} is empty: write one expression per line")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise InputError(f"{source} is larger than {MAX_FILE_BYTES:,} bytes")
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise InputError(f"{source} has {len(lines):,} lines; the limit is {MAX_LINES:,}")
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_LINE_CHARS:
            raise ParseError(f"{source}: line is {len(line):,} characters long; the limit is "
                             f"{MAX_LINE_CHARS:,}", line=number, column=MAX_LINE_CHARS + 1)
        bad = re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", line)
        if bad:
            raise ParseError(f"{source}: control character {bad.group()!r} in the text",
                             line=number, column=bad.start() + 1)


# ---------------------------------------------------------------------------------------
# LaTeX


def _read_latex(text: str, source: str) -> tuple[list[Entry], list[Note]]:
    from derive.check.latex import parse_latex_chain

    try:
        chain = parse_latex_chain(text)
    except ParseError as exc:
        raise _relocate(exc, source) from None
    entries = [Entry(lk.expr, lk.relation, lk.line, lk.column, lk.text, lk.because)
               for lk in chain.links]
    notes = [Note(a.kind, a.text, a.line) for a in chain.annotations]
    for note in notes:
        if note.kind == "assume":
            _validate_assumptions(note, source)
    return entries, notes


# ---------------------------------------------------------------------------------------
# Plain text


def _read_plain(lines: tuple[str, ...], source: str) -> tuple[list[Entry], list[Note]]:
    entries: list[Entry] = []
    notes: list[Note] = []
    symbols: dict[str, Any] = {}
    for number, raw in enumerate(lines, start=1):
        code, comment = _split_comment(raw)
        because = ""
        if comment is not None:
            m = _ANNOTATION.match(comment)
            if m and m.group(2):
                kind, words = m.group(1).lower(), m.group(2)
                if code.strip() and kind == "because":
                    because = words
                else:
                    note = Note(kind, words, number)
                    if kind == "assume":
                        _validate_assumptions(note, source)
                    notes.append(note)
        if not code.strip():
            continue
        entries.extend(_read_line(code, number, source, symbols, because,
                                  continues=bool(entries)))
    return entries, notes


def _split_comment(line: str) -> tuple[str, str | None]:
    i = line.find("#")
    if i < 0:
        return line, None
    return line[:i], line[i + 1:]


def _read_line(code: str, number: int, source: str, symbols: dict[str, Any], because: str,
               *, continues: bool) -> list[Entry]:
    """The expressions of one line, split at relations outside brackets."""
    pieces = _split_relations(code)
    lead_relation, first = pieces[0]
    if lead_relation is None and first[1].strip() == "" and len(pieces) > 1:
        # the line starts with a relation: "= expr", "<= expr"
        pieces = pieces[1:]
        lead_relation = pieces[0][0]
        if not continues:
            raise ParseError(f"{source}: the line starts with '{lead_relation}' but there is "
                             f"no expression before it", line=number,
                             column=_first_column(code))
    elif len(pieces) == 1:
        lead_relation = "=" if continues else None
    else:
        lead_relation = None        # "lhs == rhs": a claim of its own
    out: list[Entry] = []
    for i, (relation, (start, piece)) in enumerate(pieces):
        rel = lead_relation if i == 0 else relation
        stripped = piece.strip()
        if not stripped:
            where = start + 1 if i else _first_column(code)
            raise ParseError(f"{source}: missing expression"
                             + (f" after '{rel}'" if rel else ""), line=number, column=where)
        column = start + (len(piece) - len(piece.lstrip())) + 1
        divisors: list[Any] = []
        expr = _parse_piece(stripped, number, column, source, symbols, divisors)
        out.append(Entry(expr, rel, number, column, stripped, divisors=tuple(divisors)))
    if because:
        target = next((i for i, e in enumerate(out) if e.relation), len(out) - 1)
        e = out[target]
        out[target] = Entry(e.expr, e.relation, e.line, e.column, e.text, because, e.divisors)
    return out


def _split_relations(code: str) -> list[tuple[str | None, tuple[int, str]]]:
    """[(relation before the piece, (start offset, piece text)), ...] at bracket depth 0."""
    pieces: list[tuple[str | None, tuple[int, str]]] = []
    depth = 0
    start = 0
    relation: str | None = None
    i = 0
    while i < len(code):
        ch = code[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            m = _RELATION_AT.match(code, i)
            if m and not (m.group() in ("<", ">") and code.startswith(m.group() * 2, i)):
                pieces.append((relation, (start, code[start:i])))
                relation = m.group()
                start = i = m.end()
                continue
        i += 1
    pieces.append((relation, (start, code[start:])))
    return pieces


def _first_column(code: str) -> int:
    return len(code) - len(code.lstrip()) + 1


def _parse_piece(text: str, line: int, column: int, source: str,
                 symbols: dict[str, Any], divisors: list[Any] | None = None) -> Any:
    from derive.check.parse import parse_expression

    try:
        return parse_expression(text, symbols, divisors=divisors)
    except ParseError as exc:
        col = column + (exc.column - 1 if exc.column else 0)
        message = _LOCATION.sub("", str(exc.args[0]) if exc.args else str(exc))
        raise ParseError(f"{source}: {message}", text=text, line=line, column=col) from None
    except RecursionError:
        raise ParseError(f"{source}: expression nested too deeply", line=line,
                         column=column) from None


def _relocate(exc: ParseError, source: str) -> ParseError:
    message = _LOCATION.sub("", str(exc.args[0]) if exc.args else str(exc))
    return ParseError(f"{source}: {message}", text=exc.text, line=exc.line, column=exc.column)


def split_assumptions(text: str) -> list[str]:
    """Assumptions written on one line, separated by ``;``.

    >>> split_assumptions("s >= 2; P >= 1")
    ['s >= 2', 'P >= 1']
    """
    return [part.strip() for part in text.split(";") if part.strip()]


def _validate_assumptions(note: Note, source: str) -> None:
    from derive.check.domain import build_domain

    for item in split_assumptions(note.text):
        try:
            build_domain([], [item])
        except ParseError as exc:
            message = _LOCATION.sub("", str(exc.args[0]) if exc.args else str(exc))
            hint = " (separate several assumptions with ';')" if "," in item else ""
            raise ParseError(f"{source}: {message}{hint}", line=note.line) from None
