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
  separated by ``;``; ``H = 32`` in an assumption means ``H == 32``); ``# given: H = 32,
  K = 5`` fixes those symbols' values for the steps below it (each becomes the assumption
  ``H == 32``); ``# because: ...`` is the justification of the next step, and
  ``expr  # because: ...`` that of the step ending on that line; other ``#`` text is a
  comment.

Text pasted from a PDF or written by hand is tolerated (:func:`normalise_paste`): ``⌊x⌋``
and ``⌈x⌉`` are floor and ceiling, ``−`` is ``-``, ``×`` and ``·`` are ``*``, ``≤ ≥ ≠`` are
``<= >= !=``, ``^`` is a power, a number before a name or a bracket is a product (``2P``,
``2(H + 1)``; letters side by side, ``HK``, stay one name), ``y_{i+k}`` is the array entry
``y[i+k]``, a leading label (``Step 1:``, ``1)``, ``(1)``, ``1.``) and a trailing ``.`` or
``,`` are dropped.  Any other character outside ASCII is refused with its line, column and
what to write instead.

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
_ANNOTATION = re.compile(r"^\s*(assume|because|given)\s*:\s*(.*?)\s*$", re.IGNORECASE)
_LATEX_GIVEN = re.compile(r"^\s*%\s*given\s*:\s*(.*?)\s*$", re.IGNORECASE)
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
        givens = _latex_givens(lines, source)
        entries, notes = _read_latex(text, source)
        notes.extend(givens)
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
    entries = [Entry(lk.expr, lk.relation, lk.line, lk.column, lk.text, lk.because,
                     divisors=lk.divisors) for lk in chain.links]
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
                    if kind == "given":
                        words = given_assumptions(words, source, number,
                                                  raw.index("#") + 1 + comment.index(words) + 1)
                    note = Note(kind, words, number)
                    if kind in ("assume", "given"):
                        _validate_assumptions(note, source)
                    notes.append(note)
        code, columns = normalise_paste(code, source=source, line=number)
        if not code.strip():
            continue
        entries.extend(_read_line(code, number, source, symbols, because,
                                  continues=bool(entries), columns=columns))
    return entries, notes


def _split_comment(line: str) -> tuple[str, str | None]:
    i = line.find("#")
    if i < 0:
        return line, None
    return line[:i], line[i + 1:]


def _read_line(code: str, number: int, source: str, symbols: dict[str, Any], because: str,
               *, continues: bool, columns: list[int] | None = None) -> list[Entry]:
    """The expressions of one line, split at relations outside brackets; ``columns`` maps
    each character of ``code`` (as normalised) to its 1-based column in the source line."""
    def col(c: int) -> int:
        if columns is None or not columns:
            return c
        return columns[min(c, len(columns)) - 1] if c >= 1 else c

    pieces = _split_relations(code)
    lead_relation, first = pieces[0]
    if lead_relation is None and first[1].strip() == "" and len(pieces) > 1:
        # the line starts with a relation: "= expr", "<= expr"
        pieces = pieces[1:]
        lead_relation = pieces[0][0]
        if not continues:
            raise ParseError(f"{source}: the line starts with '{lead_relation}' but there is "
                             f"no expression before it", line=number,
                             column=col(_first_column(code)))
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
                             + (f" after '{rel}'" if rel else ""), line=number,
                             column=col(where))
        column = start + (len(piece) - len(piece.lstrip())) + 1
        divisors: list[Any] = []
        expr = _parse_piece(stripped, number, column, source, symbols, divisors, col)
        out.append(Entry(expr, rel, number, col(column), stripped, divisors=tuple(divisors)))
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
                 symbols: dict[str, Any], divisors: list[Any] | None = None,
                 to_source: Any = None) -> Any:
    from derive.check.parse import parse_expression

    try:
        return parse_expression(text, symbols, divisors=divisors)
    except ParseError as exc:
        col = column + (exc.column - 1 if exc.column else 0)
        if to_source is not None:
            col = to_source(col)
        message = _LOCATION.sub("", str(exc.args[0]) if exc.args else str(exc))
        raise ParseError(f"{source}: {message}", text=text, line=line, column=col) from None
    except RecursionError:
        raise ParseError(f"{source}: expression nested too deeply", line=line,
                         column=column) from None


def _relocate(exc: ParseError, source: str) -> ParseError:
    message = _LOCATION.sub("", str(exc.args[0]) if exc.args else str(exc))
    return ParseError(f"{source}: {message}", text=exc.text, line=exc.line, column=exc.column)


def split_assumptions(text: str) -> list[str]:
    """Assumptions written on one line, separated by ``;``, or by commas when every piece
    is a comparison (``m >= 0, m <= K - 1``; ``a, b real`` stays one); a single ``=`` is
    ``==``.

    >>> split_assumptions("s >= 2; P >= 1; H = 32")
    ['s >= 2', 'P >= 1', 'H == 32']
    >>> split_assumptions("m >= 0, m <= K - 1; a, b real")
    ['m >= 0', 'm <= K - 1', 'a, b real']
    """
    out = []
    for part in text.split(";"):
        pieces = _top_level_commas(part)
        if len(pieces) > 1 and all(re.search(r"[<>=]", p) for p in pieces):
            out.extend(pieces)
        elif part.strip():
            out.append(part)
    return [_SINGLE_EQ.sub("==", p.strip()) for p in out if p.strip()]


def _top_level_commas(text: str) -> list[str]:
    """``text`` split at the commas outside brackets."""
    pieces, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            pieces.append(text[start:i])
            start = i + 1
    pieces.append(text[start:])
    return pieces


_SINGLE_EQ = re.compile(r"(?<![=<>!])=(?!=)")


def given_assumptions(text: str, source: str = "<text>", line: int | None = None,
                      column: int | None = None) -> str:
    """The assumptions ``H == 32; K == 5`` for the given values ``H = 32, K = 5`` (separated
    by ``,`` or ``;``; ``==`` may be written); anything else is a :class:`ParseError`.

    >>> given_assumptions("H = 32, K = 5, P = 2")
    'H == 32; K == 5; P == 2'
    """
    out = []
    offset = 0
    for part in re.split(r"[,;]", text):
        where = None if column is None else column + offset + len(part) - len(part.lstrip())
        offset += len(part) + 1
        if not part.strip():
            continue
        m = re.fullmatch(r"\s*([A-Za-z][A-Za-z0-9_']*)\s*==?\s*(\S.*?)\s*", part)
        if not m:
            raise ParseError(f"{source}: a given value is written NAME = number, as in "
                             f"'# given: H = 32, K = 5'; got {part.strip()!r}", line=line,
                             column=where)
        value = m.group(2)
        if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)(\s*/\s*\d+)?", value):
            raise ParseError(f"{source}: the value given for {m.group(1)} must be a number "
                             f"such as 32, -1, 0.5 or 3/2; got {value!r}", line=line,
                             column=where)
        out.append(f"{m.group(1)} == {value}")
    if not out:
        raise ParseError(f"{source}: '# given:' needs values, as in '# given: H = 32, K = 5'",
                         line=line, column=column)
    return "; ".join(out)


def _latex_givens(lines: tuple[str, ...], source: str) -> list[Note]:
    notes = []
    for number, raw in enumerate(lines, start=1):
        m = _LATEX_GIVEN.match(raw)
        if m and m.group(1):
            note = Note("given", given_assumptions(m.group(1), source, number,
                                                   m.start(1) + 1), number)
            _validate_assumptions(note, source)
            notes.append(note)
    return notes


def _validate_assumptions(note: Note, source: str) -> None:
    from derive.check.domain import build_domain

    for item in split_assumptions(note.text):
        try:
            build_domain([], [item])
        except ParseError as exc:
            message = _LOCATION.sub("", str(exc.args[0]) if exc.args else str(exc))
            hint = " (separate several assumptions with ';')" if "," in item else ""
            raise ParseError(f"{source}: {message}{hint}", line=note.line) from None


# ---------------------------------------------------------------------------------------
# Pasted text


# One character for another (same width, so columns stay as written).
_SAME_WIDTH = {
    "\u2212": "-", "\u2013": "-", "\u00d7": "*", "\u00b7": "*", "\u22c5": "*", "\u2217": "*",
    "\u00f7": "/", "\u2032": "'", "\u2019": "'", "\u00a0": " ", "\u2009": " ", "\u202f": " ",
    "\u2002": " ", "\u2003": " ", "\u200a": " ",
}
# One character read as several.
_WIDER = {"\u2264": "<=", "\u2265": ">=", "\u2260": "!=", "\u00b2": "**2", "\u00b3": "**3",
          "\u230a": "floor(", "\u2308": "ceiling(", "\u230b": ")", "\u2309": ")"}
# What to write instead of characters that are refused.
_INSTEAD = {
    "\u221a": "sqrt(x)", "\u2211": "Sum(f, (k, a, b))", "\u03a3": "Sum(f, (k, a, b))",
    "\u220f": "Product(f, (k, a, b))", "\u03c0": "pi", "\u221e": "oo", "\u2248": "== (an exact "
    "equality)", "\u2261": "==", "\u2192": "a new line per step", "\u21d2": "a new line per step",
    "\u2026": "the terms, or Sum(...)", "\u22ef": "the terms, or Sum(...)",
    "\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2202": "Derivative(f, x)",
}
_LABEL = re.compile(r"\s*(?:step\s*\d+\s*[:.)]\s*|\d+\)\s+|"
                    r"(?:\(\d+\)|\d+\.)\s+(?=[A-Za-z0-9(\[\u230a\u2308]))",
                    re.IGNORECASE)
_NAME_CHAR = re.compile(r"[\w'\u02b9]")


def normalise_paste(code: str, *, source: str = "<text>", line: int | None = None,
                    derivation: bool = True) -> tuple[str, list[int]]:
    """The text as the claim language reads it, and each character's 1-based column in
    ``code``.  Always: ``⌊x⌋ ⌈x⌉ − × · ≤ ≥ ≠`` become ``floor(x) ceiling(x) - * * <= >= !=``.
    With ``derivation`` (a line of a ``.txt`` derivation): ``^`` is ``**``, a number before
    a name or a bracket is a product, ``y_{i+k}`` is ``y[i+k]``, and a leading label and a
    trailing ``.`` or ``,`` are dropped.  Other characters outside ASCII (but letters) are a
    :class:`ParseError` that says what to write instead.

    >>> normalise_paste("Step 2: \u230a(H \u2212 K + 2P)/S\u230b + 1.")[0]
    'floor((H - K + 2*P)/S) + 1'
    >>> normalise_paste("2(H+1)^2 + y_{i+k} + HK")[0]
    '2*(H+1)**2 + y[i+k] + HK'
    """
    start, end = 0, len(code)
    if derivation:
        m = _LABEL.match(code)
        if m:
            start = m.end()
        stripped = code.rstrip()
        if stripped.endswith((".", ",")) and not stripped.endswith("..") and \
                len(stripped) - 1 > start:
            end = len(stripped) - 1
    out: list[str] = []
    cols: list[int] = []
    stack: list[tuple[str, int]] = []       # open brackets: (closing text, column)

    def put(text: str, column: int) -> None:
        out.extend(text)
        cols.extend([column] * len(text))

    def fail(message: str, column: int) -> ParseError:
        return ParseError(f"{source}: {message}", text=code, line=line, column=column)

    i = start
    while i < end:
        ch, column = code[i], i + 1
        prev = out[-1] if out else ""
        if ch in "0123456789" and not _NAME_CHAR.match(prev) and prev != ".":
            m = re.compile(r"[0-9]+(?:\.[0-9]+)?").match(code, i, end)
            assert m is not None
            for k in range(m.start(), m.end()):
                put(code[k], k + 1)
            i = m.end()
            nxt = code[i] if i < end else ""
            literal = (nxt in "eE" and re.match(r"[eE][-+]?\d", code[i:end])) or (
                m.group() == "0" and nxt in "xXbBoO")          # 1e5, 0x1F: Python literals
            if derivation and nxt and (nxt.isalpha() or nxt in "(\u230a\u2308") and not literal:
                put("*", i + 1)
            continue
        if ch in _SAME_WIDTH:
            put(_SAME_WIDTH[ch], column)
        elif ch in ("\u230a", "\u2308"):
            stack.append(("\u230b" if ch == "\u230a" else "\u2309", column))
            put(_WIDER[ch], column)
        elif ch in ("\u230b", "\u2309"):
            if not stack or stack[-1][0] != ch:
                opened = ("" if not stack else
                          f" (the bracket open at column {stack[-1][1]} is still open)")
                want = "\u230a...\u230b or floor(...)" if ch == "\u230b" else \
                    "\u2308...\u2309 or ceiling(...)"
                raise fail(f"'{ch}' closes no matching opening "
                           f"bracket{opened}; write {want}", column)
            stack.pop()
            put(")", column)
        elif ch in _WIDER:
            put(_WIDER[ch], column)
        elif ch in "([{":
            if derivation and ch == "{" and prev == "_" and len(out) >= 2 and \
                    _NAME_CHAR.match(out[-2]):
                out.pop()
                cols.pop()
                stack.append(("}]", column))
                put("[", column)
            else:
                stack.append((")]}"["([{".index(ch)], column))
                put(ch, column)
        elif ch in ")]}":
            if stack and stack[-1][0] == "}]" and ch == "}":
                stack.pop()
                put("]", column)
            else:
                if stack and stack[-1][0] in (ch, "}]"):
                    stack.pop()
                put(ch, column)
        elif ch == "^" and derivation:
            put("**", column)
        elif ord(ch) > 127 and not ch.isalpha():
            instead = _INSTEAD.get(ch, "plain ASCII (see 'derive verify --help')")
            raise fail(f"character {ch!r} (U+{ord(ch):04X}) is not "
                       f"understood; write {instead} instead", column)
        else:
            put(ch, column)
        i += 1
    for closing, column in stack:
        if closing in ("\u230b", "\u2309"):
            raise fail(f"'{code[column - 1]}' is never closed; write "
                       f"'{closing}' after the expression", column)
    return "".join(out), cols


def claim_text(claim: str) -> str:
    """A command-line claim as the claim language reads it: pasted symbols (``⌊x⌋``, ``−``,
    ``≤`` ...) become ASCII, and a single ``=`` is refused with the ``==`` to write.

    >>> claim_text("⌈a/b⌉ == ⌊(a + b − 1)/b⌋")
    'ceiling(a/b) == floor((a + b - 1)/b)'
    >>> claim_text("a = b")
    Traceback (most recent call last):
    ...
    derive.errors.InputError: a claim uses '==' (a single '=' is for derivation files): write a == b
    """
    if not isinstance(claim, str):
        return claim
    text, columns = normalise_paste(claim, source="the claim", derivation=False)
    depth, single = 0, []
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and _SINGLE_EQ.match(text, i) and (i == 0 or text[i - 1] not in "=<>!"):
            single.append(i)
    if single and "==" not in text:
        fixed = "".join("==" if i in single else ch for i, ch in enumerate(text))
        raise InputError(f"a claim uses '==' (a single '=' is for derivation files): write "
                         f"{' '.join(fixed.split())}")
    if text == claim:
        return text
    from derive.check.parse import parse_claim
    try:
        parse_claim(text)
    except ParseError as exc:
        message = _LOCATION.sub("", str(exc.args[0]) if exc.args else str(exc))
        column = exc.column
        if column is not None and columns:
            column = columns[min(max(column, 1), len(columns)) - 1]
        raise ParseError(message, text=claim, column=column) from None
    return text
