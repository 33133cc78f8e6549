"""``derive verify`` on the command line: words, JSON, exit codes, and a fast --help."""

from __future__ import annotations

import json
import subprocess
import sys

from derive.cli import main


def test_refutation_prints_values(capsys) -> None:
    code = main(["verify", "floor((H + 2*P - K)/S) + 1 == floor((H + 2*P - D*(K-1) - 1)/S) + 1"])
    out = capsys.readouterr().out
    assert code == 1
    assert "REFUTED" in out and "D=" in out and "left side" in out


def test_proved_exit_zero_and_json(capsys) -> None:
    code = main(["verify", "--json", "ceiling(a/b) == floor((a + b - 1)/b)"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["verdict"] == "proved"
    assert data["method"].startswith("floor/ceiling lemmas")


def test_assume_option(capsys) -> None:
    code = main(["verify", "--json", "--assume", "s >= 2", "floor((s + 1)/s) == 1"])
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] in ("proved", "tested")
    assert code in (0, 3)


def test_bad_input_exit_two(capsys) -> None:
    code = main(["verify", "x.__class__ == 1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "attribute access" in err and "Traceback" not in err
    code = main(["verify", "--json", "a +"])
    assert code == 2
    assert json.loads(capsys.readouterr().out)["verdict"] == "error"


def test_help_does_not_import_sympy() -> None:
    code = ("import sys; from derive.cli import build_parser; build_parser(); "
            "print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_python_warnings_never_reach_the_user(capfd) -> None:
    # '1if' makes Python's tokenizer print a SyntaxWarning to stderr; a claim is not Python,
    # so the user gets one clear error instead of a stray warning line.
    code = main(["verify", "x == 1if 1 else 2"])
    err = capfd.readouterr().err
    assert code == 2
    assert "SyntaxWarning" not in err
    assert err.startswith("derive: error: not a well-formed expression: invalid decimal literal")
