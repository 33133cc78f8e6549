"""The ``derive`` command line.

Each subcommand lives in its own module under :mod:`derive.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (``args -> exit code``).
Command modules import nothing heavy at import time, so ``derive --help`` stays fast;
SymPy is loaded only by the command that needs it.

Exit codes: 0 success/proved, 1 refuted or failed check, 2 bad input, 3 tested/unknown.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

# Subcommands in the order ``derive --help`` lists them.
COMMANDS = ("verify", "list", "check", "build", "docs", "arch", "lab", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="derive",
        description="Machine-checked mathematics for convolutional networks: derive closed "
                    "forms, check statements, render worked solutions.")
    from derive import __version__
    parser.add_argument("--version", action="version", version=f"derive {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"derive.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"derive.commands.{name}":
                continue  # command not installed in this build
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from derive.errors import DeriveError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("derive: interrupted; outputs are replaced only once complete, so the previous "
              "ones and the cache are intact; run the same command again to finish",
              file=sys.stderr)
        return 130
    except DeriveError as exc:
        # A user mistake or a reported failure: one clear line, no traceback.
        print(f"derive: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    except BrokenPipeError:  # pragma: no cover - e.g. `derive list | head`
        return 0
    except OSError as exc:
        # A file the command needs could not be read or written: name it, no traceback.
        print(f"derive: error: {exc}", file=sys.stderr)
        return 1


def run() -> None:  # pragma: no cover - exercised through the installed command
    """The installed ``derive`` command: :func:`main`, then leave the process at once.

    Every file a command writes is closed before it returns, so once standard output and
    error are flushed nothing is left to do but tear down the interpreter's modules, which
    for SymPy takes longer than a whole ``verify``.  The library API is unaffected."""
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader left (e.g. `derive list | head`): nothing to say
        pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
