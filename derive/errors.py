"""One error hierarchy for the whole engine.

Every error the engine raises on purpose is a :class:`DeriveError`.  Errors caused by
user input also subclass the matching built-in (``ValueError``, ``TypeError``), so callers
that already catch those keep working.  Messages quote the offending argument and value.

The split follows two questions a user asks: *did I make a mistake?* (``InputError`` and its
children) and *is this something the engine cannot do (yet)?* (``UnsupportedError``).
"""

from __future__ import annotations


class DeriveError(Exception):
    """Base class of every error raised by derive on purpose.

    In IPython and Jupyter the error shows as its message, not as a traceback.

    >>> InputError("got stride=0")._render_traceback_()
    ['derive: got stride=0']
    """

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback: the message, on one line."""
        return [f"derive: {self}"]

    def with_context(self, context: str) -> "DeriveError":
        """Return the same error with ``context`` prepended to its message.

        >>> str(InputError("got stride=0").with_context("while checking 8.2(a)"))
        'while checking 8.2(a): got stride=0'
        """
        err = type(self).__new__(type(self))
        err.__dict__.update(self.__dict__)
        err.args = (f"{context}: {self}",)
        return err


class InputError(DeriveError, ValueError):
    """The user gave a value the engine cannot accept (names the argument and value)."""


class ParseError(InputError):
    """Text (a claim, an assumption, a LaTeX formula, a derivation file) could not be read.

    ``column`` and ``line`` (1-based) point at the offending piece when known.
    """

    def __init__(self, message: str, *, text: str = "", line: int | None = None,
                 column: int | None = None) -> None:
        where = []
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column}")
        full = f"{message} (at {', '.join(where)})" if where else message
        super().__init__(full)
        self.text = text
        self.line = line
        self.column = column


class ConfigurationError(InputError):
    """A convolution or layer configuration that cannot exist (stride 0, kernel too wide...)."""


class UnsupportedError(DeriveError, NotImplementedError):
    """A well-formed request the engine does not support (yet)."""


class BudgetExceeded(DeriveError, TimeoutError):
    """A symbolic computation ran past its time budget."""


class ProblemError(DeriveError):
    """A problem module is broken: it failed to load, raised, or returned malformed data."""


class BuildError(DeriveError):
    """Rendering or compiling the worked solutions failed; previous outputs are kept."""


def check_positive_int(name: str, value: object, *, minimum: int = 1) -> int:
    """Validate an integer argument and return it, or raise :class:`ConfigurationError`.

    >>> check_positive_int("stride", 2)
    2
    >>> check_positive_int("stride", 0)
    Traceback (most recent call last):
    ...
    derive.errors.ConfigurationError: got stride=0; stride must be an integer >= 1
    """
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            import numbers
            ok = isinstance(value, numbers.Integral)
        except Exception:  # pragma: no cover - defensive
            ok = False
        if not ok:
            raise ConfigurationError(
                f"got {name}={value!r}; {name} must be an integer >= {minimum}")
        value = int(value)  # type: ignore[arg-type]
    if value < minimum:
        raise ConfigurationError(f"got {name}={value}; {name} must be an integer >= {minimum}")
    return value
