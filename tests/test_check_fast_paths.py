"""The cheaper paths of the checker give the verdicts and values of the general ones.

* exp, log, sin, cos and tan of an exact value are decided without SymPy: exact at the few
  rational points where the value is rational, "inexact" (for interval arithmetic) elsewhere;
  SymPy's own evaluation is the independent reference.
* A claim whose two sides are the same expression is evaluated once per point, and a
  difference is still found when the sides differ only in a divisor the other lacks.
* ``derive check --jobs 2`` reports what ``--jobs 1`` reports, line for line.
* Solving 8.21 leaves PyTorch's compiler stack unimported.
* Whole numbers are evaluated as Python ints inside the compiled functions: the values are
  the exact ones SymPy computes (negative powers included, where ints alone would give a
  float), and every value handed out is still a Fraction.
"""

from __future__ import annotations

import io
import itertools
import random
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from fractions import Fraction
from pathlib import Path

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from derive.check.engine import verify
from derive.check.evaluate import Inexact, Instance, Undefined, compile_expr
from derive.cli import main

FUNCTIONS = (sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tan)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(FUNCTIONS), st.integers(-6, 6), st.integers(1, 4))
def test_transcendental_values_match_sympy(fn, p: int, q: int) -> None:
    x = sympy.Symbol("x")
    compiled = compile_expr(fn(x))
    reference = fn(sympy.Rational(p, q))
    inst = Instance({"x": Fraction(p, q)}, random.Random(0))
    if reference.has(sympy.zoo, sympy.nan) or reference.is_infinite:
        with pytest.raises(Undefined):
            compiled(inst, {})
    elif reference.is_Rational:
        assert compiled(inst, {}) == Fraction(int(reference.p), int(reference.q))
    else:
        assert reference.is_number and not reference.is_rational
        with pytest.raises(Inexact):
            compiled(inst, {})


def test_transcendental_claims_keep_their_verdicts() -> None:
    assert verify("exp(x)*exp(y) == exp(x + y)").proved
    assert verify("sin(x)**2 + cos(x)**2 == 1").proved
    assert verify("sin(2*x) == 2*sin(x)").status.value == "refuted"
    assert verify("log(x*y) == log(x) + log(y)").proved
    assert verify("exp(x - 1) == 1").status.value == "refuted"


def test_same_sides_are_evaluated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from derive.check import interval
    calls = []
    real = interval._parts

    def counted(e, inst):
        calls.append(e)
        return real(e, inst)

    monkeypatch.setattr(interval, "_parts", counted)
    v = verify("exp(I*x) + 1 == exp(I*x) + 1")
    assert v.proved
    # one split per point tried, not two
    assert calls and all(c == calls[0] for c in calls)
    calls.clear()
    assert verify("exp(I*x) + 1 == exp(I*x) + 2").status.value == "refuted"
    assert len(calls) >= 2   # different sides: both are split


def test_same_sides_with_a_divisor_on_one_side_are_still_refuted() -> None:
    # the sides are the same expression after SymPy cancels x/x, but the left one divides by
    # a value that vanishes inside the domain
    v = verify("x/x + y == 1 + y", assume=["x >= 0"])
    assert v.status.value == "refuted"


def _check_output(problems: Path, jobs: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["check", "--problems", str(problems), "--jobs", jobs])
    return code, out.getvalue(), err.getvalue()


def test_check_in_parallel_reports_what_one_job_reports(tmp_path: Path) -> None:
    root = tmp_path / "problems"
    shutil.copytree(Path(__file__).parent / "fixtures" / "problems", root)
    one, two = _check_output(root, "1"), _check_output(root, "2")
    assert one == two
    assert one[0] == 0 and "problems; parts:" in one[1]


def test_check_rejects_a_bad_jobs_value(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check", "--jobs", "0"])
    assert exc.value.code == 2
    assert "--jobs" in capsys.readouterr().err


def test_solving_im2col_does_not_load_the_compiler_stack() -> None:
    pytest.importorskip("torch")
    code = ("import sys\n"
            "from derive.problems import discover, load, solve\n"
            "pf = [p for p in discover('problems') if 'e08_21' in p.relpath][0]\n"
            "solve(load(pf))\n"
            "assert 'torch' in sys.modules, 'the cross-checks did not run'\n"
            "print('torch._dynamo' in sys.modules)\n")
    root = Path(__file__).resolve().parents[1]
    got = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                         text=True, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == "False"


_x, _y = sympy.symbols("x y")
_ARITHMETIC = [_x ** -2 * _y, (_x + _y) ** -1, _x ** _y, sympy.floor(_x / _y) - _x / 3,
               sympy.Mod(_x, _y) + sympy.Rational(1, 2), sympy.ceiling(_x ** 2 / (_y + 7)),
               sympy.Abs(_x - _y) ** -3, sympy.Max(_x / 2, _y) * sympy.Min(_x, 3),
               sympy.binomial(_y + 6, 3) / _x, sympy.KroneckerDelta(_x, _y) - 1]


def test_int_arithmetic_inside_gives_sympys_exact_values() -> None:
    """Every expression at every point of a small grid (x = p/q, y whole), against SymPy."""
    for expr, p, q, y in itertools.product(_ARITHMETIC, range(-6, 7), range(1, 5),
                                           range(-6, 7)):
        values = {"x": Fraction(p, q), "y": Fraction(y)}
        try:
            reference = expr.xreplace({_x: sympy.Rational(p, q), _y: sympy.Integer(y)})
        except ZeroDivisionError:  # SymPy's Mod(x, 0) raises where other operations give zoo
            reference = sympy.nan
        try:
            got = compile_expr(expr)(Instance(values, random.Random(0)), {})
        except Undefined:
            assert reference.has(sympy.zoo, sympy.nan), (expr, p, q, y)
            continue
        except Inexact:
            assert not reference.is_Rational, (expr, p, q, y)
            continue
        assert type(got) is Fraction, (expr, p, q, y)
        assert sympy.Rational(got.numerator, got.denominator) == reference, (expr, p, q, y)


def test_sums_over_arrays_stay_exact_and_report_whole_entries() -> None:
    i, n = sympy.symbols("i n", integer=True)
    x = sympy.IndexedBase("x")
    expr = sympy.Sum(x[i] * sympy.Rational(1, 3), (i, 0, n))
    inst = Instance({"n": Fraction(4)}, random.Random(1))
    got = compile_expr(expr)(inst, {})
    entries = [inst.arrays["x"][(k,)] for k in range(5)]
    assert type(got) is Fraction and got == Fraction(sum(entries), 3)
    assert inst.report() == {"n": 4, **{f"x[{k}]": v for k, v in enumerate(entries)}}
