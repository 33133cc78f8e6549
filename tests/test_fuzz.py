"""Hostile and broken input, everywhere input enters.

Every entry point for text or code is fed random text, random token soups, grammar-shaped
random formulas, deeply nested and huge inputs, and inputs that would leave a trace on disk
if anything were executed.  The property is the same everywhere: the call returns (a parse,
a verdict, a report) or raises a :class:`~derive.errors.DeriveError` subclass, within its
time budget, and nothing is executed.  Broken problem modules and broken templates must give
a :class:`~derive.errors.ProblemError` / part error / :class:`~derive.errors.BuildError`
that names what failed, never crash the loader or the build.

Examples per property: ``EXAMPLES`` (500 in CI, every run) for the parsers and readers;
``CHECK_EXAMPLES`` for the properties that also run the checker (each check has the budget
``CHECK_BUDGET``).  The suite's run is seeded (the same examples every time, so CI
is reproducible); ``DERIVE_FUZZ_RANDOM=1 DERIVE_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py``
runs a longer campaign with fresh random examples, worth doing before changing a parser.
"""

from __future__ import annotations

import json
import os
import shutil
import string
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from derive.errors import BuildError, DeriveError, ProblemError

EXAMPLES = int(os.environ.get("DERIVE_FUZZ_EXAMPLES", "500"))   # per parser / reader
CHECK_EXAMPLES = max(10, EXAMPLES // 5)    # properties that also run the checker
CHECK_BUDGET = 0.5        # seconds the checker gets per claim or step
PARSE_SECONDS = 5.0       # a generous bound on any single parse (shared CI machines)
CHECK_SLACK = 5.0         # allowed overrun of a check's budget (process load, SymPy calls)

SEEDED = not os.environ.get("DERIVE_FUZZ_RANDOM")

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=SEEDED,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture])
FUZZ_CHECKED = settings(FUZZ, max_examples=CHECK_EXAMPLES)


# ---------------------------------------------------------------------------------------
# The property


def outcome(fn: Callable[..., Any], *args: Any, seconds: float = PARSE_SECONDS,
            **kwargs: Any) -> Any:
    """Call ``fn``; a DeriveError is a fine answer (returned), anything else fails the
    test, and so does taking longer than ``seconds``."""
    start = time.perf_counter()
    try:
        result: Any = fn(*args, **kwargs)
    except DeriveError as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        result = exc
    elapsed = time.perf_counter() - start
    assert elapsed < seconds, f"{fn.__name__} took {elapsed:.1f} s (limit {seconds} s)"
    return result


HANG_SECONDS = 300.0       # a call still running after this is a hang: dump and stop


def checked(fn: Callable[..., Any], *args: Any, steps: int = 1, **kwargs: Any) -> Any:
    """Like :func:`outcome` for calls that run the checker on ``steps`` claims.  A call
    that never returns (a budget that failed to stop it) would hang CI; a watchdog thread
    dumps every stack and ends the run instead."""
    import faulthandler
    import sys
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True, file=sys.__stderr__)
    try:
        return outcome(fn, *args,
                       seconds=PARSE_SECONDS + steps * (CHECK_BUDGET + CHECK_SLACK), **kwargs)
    finally:
        faulthandler.cancel_dump_traceback_later()


# ---------------------------------------------------------------------------------------
# Strategies: random text, token soups, grammar-shaped formulas

NAMES = ["x", "y", "H", "K", "S", "P", "D", "k", "i", "s", "N", "E", "I", "Q", "O", "C_in",
         "pi", "oo", "nan", "zoo", "lambda_", "import_", "os", "eval", "exec", "open"]
NUMBERS = ["0", "1", "2", "3", "-1", "1.5", "0.25", "1e3", "1e-300", "10**9", "9" * 60,
           "2**4000", "0.0"]
FUNCTIONS = ["floor", "ceiling", "ceil", "Mod", "mod", "Abs", "abs", "Min", "Max",
             "binomial", "sqrt", "exp", "log", "sin", "cos", "KroneckerDelta", "Rational",
             "output_size", "pool_output_size", "transposed_output_size",
             "receptive_field_size", "params_conv", "flops_conv", "factorial", "Symbol",
             "sympify", "__import__", "getattr", "open", "Derivative"]
CLAIM_TOKENS = (NAMES + NUMBERS + [f + "(" for f in FUNCTIONS] + [
    "+", "-", "*", "/", "//", "%", "**", "^", "(", ")", "[", "]", ",", "==", "<=", "<",
    ">", ">=", "!=", "=", "Sum(", "Product(", "(k, 0, K - 1)", "(k, 0, 10**9)", "x[i + k]",
    "w[k]", "x[]", "lambda", ":", "import", "__class__", "__subclasses__", ".", "'", '"',
    "#", "\\", "\n", "\t", " ", "if", "else", "for", "in", "not", "and", "or", "{", "}",
    "@", "~", "<<", "...", "\x00", "é", "∑", "１", ";", "$", "stride=", "**{}", "*x"])
LATEX_TOKENS = [
    r"\frac", "{", "}", r"\dfrac", r"\tfrac", r"\sqrt", "[", "]", "(", ")", r"\left(",
    r"\right)", r"\lfloor", r"\rfloor", r"\lceil", r"\rceil", r"\left|", r"\right|", "|",
    r"\lvert", r"\rvert", "^", "_", r"\cdot", r"\times", "/", r"\div", r"\bmod", r"\mod",
    "+", "-", "=", r"\le", r"\leq", r"\ge", "<", ">", r"\ne", r"\sum_{k=0}^{K-1}",
    r"\prod_{i=1}^{n}", r"\sum", r"\sum_{k=0}^{10^{9}}", r"\binom", "x", "y", "H", "K", "S",
    "k", "i", "w", "x_{i+k}", "w_k", "H_{out}", "0", "1", "2", "3.5", "10", "9" * 80,
    r"\alpha", r"\pi", r"\mathrm{out}", r"\text{in}", r"\operatorname{output\_size}",
    r"\operatorname{floor}", r"\operatorname{evil}", r"\max", r"\min", r"\log", r"\log_2",
    r"\ln", r"\exp", "&", "&&", r"\\", r"\begin{align*}", r"\end{align*}",
    r"\begin{equation}", r"\end{equation}", r"\begin{verbatim}", "$$", "$", r"\[", r"\]",
    "%", "% assume: K >= 1", "% because: algebra", "% assume: x real", r"\input{x}",
    r"\include{x}", r"\def", r"\csname", r"\write18", r"\immediate", r"\catcode",
    r"\nonumber", r"\label{eq}", r"\quad", r"\,", "\n", " ", ",", "!", "'", r"\unknowncmd",
    "\x01", "é", "\\", "#"]
ASSUME_TOKENS = NAMES + NUMBERS + ["<=", ">=", "<", ">", "==", "!=", "real", "integer",
                                   "positive", "nonnegative", "negative", "odd", "even",
                                   "rational", ",", ";", "and", "+", "-", "*", "/", "(", ")",
                                   "floor(", "Mod(", " ", "x[k]", "__import__('os')"]


def soup(tokens: list[str], max_size: int = 40) -> st.SearchStrategy[str]:
    """Random sequences of the language's own tokens, joined with random separators."""
    sep = st.sampled_from(["", " ", "  ", "\t"])
    return st.tuples(st.lists(st.sampled_from(tokens), max_size=max_size), sep).map(
        lambda t: t[1].join(t[0]))


def random_text(max_size: int = 200) -> st.SearchStrategy[str]:
    return st.one_of(st.text(max_size=max_size),
                     st.text(alphabet=string.printable, max_size=max_size))


def formula(max_leaves: int = 12) -> st.SearchStrategy[str]:
    """Grammar-shaped claim-language expressions with hostile leaves here and there."""
    leaf = st.one_of(st.sampled_from(NAMES + NUMBERS), st.sampled_from(["x[i + k]", "w[k]",
                                                                       "x[i, j]"]))

    def grow(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binop = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "//", "%", "**"]),
                          children).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
        call = st.tuples(st.sampled_from(FUNCTIONS[:17]),
                         st.lists(children, min_size=1, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})")
        summed = st.tuples(st.sampled_from(["Sum", "Product"]), children, children).map(
            lambda t: f"{t[0]}({t[1]}, (k, 0, {t[2]}))")
        derivative = st.tuples(children, st.sampled_from(["w[k]", "x[i + k]", "x", "k'"])).map(
            lambda t: f"Derivative({t[0]}, {t[1]})")
        return st.one_of(binop, call, summed, derivative, children.map(lambda c: f"-{c}"))

    return st.recursive(leaf, grow, max_leaves=max_leaves)


def latex_formula(max_leaves: int = 12) -> st.SearchStrategy[str]:
    leaf = st.sampled_from(["x", "H", "K", "S", "P", "k", "2", "1", "0", "3.5", "x_{i+k}",
                            "w_k", r"\pi", r"\alpha", "H_{out}"])

    def grow(c: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(c, st.sampled_from(["+", "-", r"\cdot", "/", r"\bmod"]), c).map(
                lambda t: f"{t[0]} {t[1]} {t[2]}"),
            st.tuples(c, c).map(lambda t: rf"\frac{{{t[0]}}}{{{t[1]}}}"),
            c.map(lambda a: rf"\left\lfloor {a} \right\rfloor"),
            c.map(lambda a: rf"\lceil {a} \rceil"),
            c.map(lambda a: rf"\sqrt{{{a}}}"),
            st.tuples(c, c).map(lambda t: f"{{{t[0]}}}^{{{t[1]}}}"),
            st.tuples(c, c).map(lambda t: rf"\sum_{{k=0}}^{{{t[0]}}} {t[1]}"),
            c.map(lambda a: f"\\left( {a} \\right)"),
            c.map(lambda a: rf"\max({a}, 1)"),
        )

    return st.recursive(leaf, grow, max_leaves=max_leaves)


# ---------------------------------------------------------------------------------------
# The claim parser and the checker behind it


@FUZZ
@given(st.one_of(random_text(), soup(CLAIM_TOKENS), formula()))
@example("Mod(x, 0)")
@example("Mod(1, 0.0)")
@example("x[()]")
@example("binomial(10**4, 5000)")
@example("Sum(x, (k, 0, 10**9))")
@example("output_size(0, 0, 0, 0)")
@example("__import__('os').system('echo hacked')")
@example("Mod(Sum(sin(k), (k, 0, 10**9)), 7)")   # once ran for ever outside a comparison
@example("(10**9)**(10**9/3)")
def test_claim_parser_answers_or_refuses(text: str) -> None:
    from derive.check.parse import parse_claim, parse_expression, parse_relation
    for fn in (parse_expression, parse_relation, parse_claim):
        outcome(fn, text)
    outcome(parse_claim, f"{text} == {text}")
    outcome(parse_claim, f"x == {text}")


def claim_sides() -> st.SearchStrategy[tuple[str, str]]:
    """Two unrelated sides (mostly refuted), or a side and a disguised copy of it (which
    sends the claim through the proof strategies)."""
    disguise = st.sampled_from(["({}) + 0", "1*({})", "({}) + x - x", "floor({})",
                                "({})**1", "Mod({}, 7)", "({})/1"])
    return st.one_of(st.tuples(formula(), formula()),
                     st.tuples(formula(), disguise).map(lambda t: (t[0], t[1].format(t[0]))))


@FUZZ_CHECKED
@given(claim_sides().map(lambda t: t[0]), claim_sides().map(lambda t: t[1]))
@example("Sum(x[k], (k, 0, 10**9))", "0")
@example("factorial(10**6)", "1")
@example("(2**4000)**(2**4000)", "x")
def test_checker_gives_a_verdict_in_time(left: str, right: str) -> None:
    from derive.check.engine import verify
    from derive.check.verdict import Status, Verdict
    v = checked(verify, f"{left} == {right}", budget=CHECK_BUDGET)
    if isinstance(v, Verdict):
        assert v.status in set(Status)
        if v.status is Status.REFUTED:
            assert v.counterexample is not None


def test_budget_holds_when_an_alarm_lands_where_python_ignores_exceptions() -> None:
    """The budget's alarm can fire inside a ``__del__``, a weakref or a gc callback (test
    tools install one), where Python prints "Exception ignored" and goes on; one lost alarm
    must not make the check run without a limit."""
    from derive.check.budget import time_limit
    from derive.errors import BudgetExceeded

    class SwallowsTheAlarm:
        def __del__(self) -> None:
            t = time.perf_counter()
            while time.perf_counter() - t < 0.3:
                pass

    start = time.perf_counter()
    with pytest.raises(BudgetExceeded):
        with time_limit(0.1):
            SwallowsTheAlarm()        # the first alarm lands in __del__ and is lost
            while time.perf_counter() - start < 3.0:
                pass
    assert time.perf_counter() - start < 2.0


def test_budget_alarm_never_breaks_the_unraisable_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    """The swallowed alarm goes to ``sys.unraisablehook``; the next alarms must wait until
    the hook is done (an exception inside the hook is lost, and pytest's hook turns it into
    a failure of whatever test is running)."""
    import sys
    from derive.check.budget import time_limit
    from derive.errors import BudgetExceeded

    seen: list[str] = []

    def slow_hook(unraisable: Any) -> None:
        t = time.perf_counter()
        try:
            while time.perf_counter() - t < 0.3:      # several 50 ms re-arms land here
                pass
            seen.append(type(unraisable.exc_value).__name__)
        except BaseException as exc:                  # pragma: no cover - the defect
            seen.append(f"raised inside the hook: {exc!r}")

    class SwallowsTheAlarm:
        def __del__(self) -> None:
            t = time.perf_counter()
            while time.perf_counter() - t < 0.3:
                pass

    monkeypatch.setattr(sys, "unraisablehook", slow_hook)
    start = time.perf_counter()
    with pytest.raises(BudgetExceeded):
        with time_limit(0.1):
            SwallowsTheAlarm()
            while time.perf_counter() - start < 3.0:
                pass
    assert seen == ["BudgetExceeded"]
    assert time.perf_counter() - start < 2.0


# ---------------------------------------------------------------------------------------
# The LaTeX parser


@FUZZ
@given(st.one_of(random_text(), soup(LATEX_TOKENS), latex_formula(),
                 st.tuples(latex_formula(), latex_formula()).map(
                     lambda t: rf"\begin{{align*}} {t[0]} &= {t[1]} \\ &= {t[0]} \end{{align*}}")))
@example(r"\frac{x}{0}")
@example(r"\input{/etc/passwd}")
@example(r"\operatorname{output\_size}(0, 0, 0, 0)")
@example(r"\log_0 x")
@example(r"\sum_{k=0}^{10^{1000}} x_k")
def test_latex_parser_answers_or_refuses(text: str) -> None:
    from derive.check.latex import parse_latex_chain, parse_latex_claim, parse_latex_expression
    for fn in (parse_latex_chain, parse_latex_expression, parse_latex_claim):
        outcome(fn, text)


# ---------------------------------------------------------------------------------------
# Assumptions


@FUZZ
@given(st.lists(st.one_of(random_text(60), soup(ASSUME_TOKENS, 12)), max_size=4),
       st.lists(st.sampled_from(["x", "H", "K", "S", "P", "s", "a"]), max_size=4))
@example(["s >= 2", "a <= s - 1", "a >= 0"], ["s", "a"])
@example(["x real", "x > 0"], ["x"])
@example(["1 <= k <= 5", "k odd"], ["k"])
@example(["x y z real"], [])
@example(["k odd", "k even"], ["k"])
@example(["x >= 1e400"], ["x"])
@example(["__import__('os') >= 1"], [])
@example(["x >= Mod(Sum(sin(k), (k, 0, 10**9)), 7)"], ["x"])
def test_assumptions_answer_or_refuse(assume: list[str], names: list[str]) -> None:
    from derive.check.domain import Domain, build_domain
    d = outcome(build_domain, names, assume)
    if isinstance(d, Domain):
        for n in set(names) | set(d.symbols):
            d.of(n).describe()


@FUZZ
@given(st.lists(st.one_of(st.integers(), st.none(), st.floats(), st.binary(max_size=8),
                          st.lists(st.text(max_size=5), max_size=2)), max_size=3))
def test_assumptions_that_are_not_text_are_refused(assume: list[Any]) -> None:
    from derive.check.domain import build_domain
    outcome(build_domain, ["x"], assume)


# ---------------------------------------------------------------------------------------
# Derivation files and texts, batch files


def derivation_line() -> st.SearchStrategy[str]:
    return st.one_of(
        formula(6), random_text(80), soup(CLAIM_TOKENS, 15), latex_formula(6),
        formula(6).map(lambda f: f"= {f}"), formula(6).map(lambda f: f"<= {f}"),
        formula(6).map(lambda f: f"H_out = {f}"), formula(4).map(lambda f: f"{f} == {f}"),
        st.sampled_from(["# assume: s >= 2", "# assume: x real; y >= 1", "# assume: ???",
                         "# because: algebra", "#", "", "   ", "% assume: K >= 1",
                         "# assume: __import__('os')", "x  # because: nothing"]))


@FUZZ
@given(st.lists(derivation_line(), max_size=12).map("\n".join),
       st.sampled_from([None, "text", "latex"]))
@example("\n".join(["x"] * 10), None)
@example("H_out = H\nH_out = K", "text")
@example("\ufeffx\n= x", None)
def test_derivation_texts_are_read_or_refused(text: str, fmt: str | None) -> None:
    from derive.grade.reader import read_text
    outcome(read_text, text, fmt)


@FUZZ_CHECKED
@given(st.lists(derivation_line(), min_size=1, max_size=5).map("\n".join))
def test_derivation_texts_are_graded_in_time(text: str) -> None:
    from derive.grade.report import DerivationReport, grade_text
    r = checked(grade_text, text, budget=CHECK_BUDGET, steps=text.count("\n") + 1)
    if isinstance(r, DerivationReport):
        r.explain()
        json.dumps(r.to_dict())


@FUZZ
@given(st.binary(max_size=300), st.sampled_from([".txt", ".tex", ""]))
@example(b"\x89PNG\x00\x01", ".txt")
@example(b"\xff\xfe\x00x", ".tex")
@example(b"\xef\xbb\xbfx\n= x\n", ".txt")
def test_derivation_files_are_read_or_refused(data: bytes, suffix: str) -> None:
    from derive.grade.reader import read_file
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"derivation{suffix}"
        path.write_bytes(data)
        outcome(read_file, path)


JSON_VALUES = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(),
                                     st.floats(allow_nan=False), st.text(max_size=20)),
                           lambda c: st.one_of(st.lists(c, max_size=3),
                                               st.dictionaries(st.text(max_size=5), c,
                                                               max_size=3)),
                           max_leaves=8)


def batch_line() -> st.SearchStrategy[str]:
    obj = st.fixed_dictionaries({}, optional={
        "id": JSON_VALUES,
        "claim": st.one_of(formula(6).map(lambda f: f"{f} == {f}"), st.text(max_size=40),
                           JSON_VALUES),
        "derivation": st.one_of(st.lists(derivation_line(), max_size=4).map("\n".join),
                                JSON_VALUES),
        "format": st.one_of(st.sampled_from(["text", "latex", "pdf"]), JSON_VALUES),
        "assume": st.one_of(st.lists(soup(ASSUME_TOKENS, 6), max_size=2), JSON_VALUES),
        "budget": JSON_VALUES,
    })
    return st.one_of(obj.map(json.dumps), random_text(80), JSON_VALUES.map(json.dumps),
                     st.just('{"claim": "x == x"' * 3), st.just("[" * 5000 + "]" * 5000))


@FUZZ_CHECKED
@given(st.lists(batch_line(), min_size=1, max_size=4))
@example(['{"id": 1, "claim": "Mod(x, 0) == 1"}', '{"id": 2, "claim": "x[()] == 1"}'])
@example(['{"derivation": "x\\n= Mod(x, 0)"}'])
def test_batch_lines_each_get_a_result(lines: list[str]) -> None:
    from derive.grade.batch import grade_batch
    from derive.check.verdict import Status
    rows = checked(lambda: list(grade_batch(lines, jobs=1, budget=CHECK_BUDGET,
                                            progress=False)), steps=4 * len(lines))
    assert len(rows) == sum(1 for line in lines if line.strip())
    for row in rows:
        assert row["verdict"] in {s.value for s in Status}
        # an internal error means something other than a DeriveError escaped the grader
        assert "internal error" not in str(row.get("error", "")), row


def test_batch_in_worker_processes_survives_hostile_lines() -> None:
    from derive.grade.batch import grade_batch
    lines = ['{"id": 1, "claim": "x + x == 2*x"}', "not json", "[" * 3000 + "]" * 3000,
             '{"id": 2, "claim": "__import__(\'os\')"}', '{"id": 3, "derivation": 7}',
             '{"id": 4, "claim": "floor(x/2) == x/2"}', json.dumps({"claim": "x" * 300_000})]
    rows = checked(lambda: list(grade_batch(lines, jobs=2, budget=CHECK_BUDGET,
                                            progress=False)), steps=len(lines) + 4)
    assert [r["line"] for r in rows] == list(range(1, len(lines) + 1))
    assert [r["verdict"] for r in rows] == ["proved", "error", "error", "error", "error",
                                            "refuted", "error"]
    assert not any("internal error" in str(r.get("error", "")) for r in rows)


@settings(FUZZ, max_examples=max(10, EXAMPLES // 10))
@given(st.one_of(formula(), soup(CLAIM_TOKENS, 12), random_text(40)),
       st.lists(st.one_of(soup(ASSUME_TOKENS, 6), random_text(20)), max_size=2),
       st.sampled_from(["0.5", "0.01", "-1", "0", "nan", "abc", "1e-9"]),
       st.booleans())
def test_command_line_never_shows_a_traceback(claim: str, assume: list[str], budget: str,
                                              as_json: bool) -> None:
    import contextlib
    import io
    from derive.cli import main
    argv = ["verify", claim, "--budget", budget] + [f"--assume={a}" for a in assume]
    argv += ["--json"] if as_json else []
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = checked(main, argv)
        except SystemExit as exc:   # argparse's own usage errors
            code = exc.code
    assert code in (0, 1, 2, 3), (argv, code, err.getvalue())
    assert "Traceback" not in out.getvalue() + err.getvalue()
    if as_json and code != 2 or (as_json and out.getvalue().strip()):
        json.loads(out.getvalue())


def test_batch_file_that_cannot_be_read(tmp_path: Path) -> None:
    from derive.grade.batch import read_batch
    (tmp_path / "bad.jsonl").write_bytes(b"\xff\xfe\xfa")
    for path in (tmp_path / "bad.jsonl", tmp_path / "missing.jsonl", tmp_path):
        assert isinstance(outcome(read_batch, path), DeriveError)


# ---------------------------------------------------------------------------------------
# Deeply nested and huge inputs, at every entry point

DEEP_AND_HUGE = {
    "brackets 10k deep": "(" * 10_000 + "x" + ")" * 10_000,
    "unary chain": "-" * 19_000 + "x",
    "long sum": "x" + " + x" * 4_000,
    "long power tower": "x" + "**x" * 3_000,
    "nested calls": "floor(" * 110 + "x" + ")" * 110,
    "nested indices": "x[" * 110 + "0" + "]" * 110,
    "huge literal": "9" * 19_000,
    "too long": "x" * 1_000_000,
    "nested sums": "Sum(" * 40 + "k" + ", (k, 0, 3))" * 40,
    "power of powers": "((2**64)**64)**64",
    "many names": " + ".join(f"x{n}" for n in range(3_000)),
}
LATEX_DEEP_AND_HUGE = {
    "fractions 2k deep": r"\frac{" * 2_000 + "x" + "}{2}" * 2_000,
    "braces 50k deep": "{" * 50_000 + "x" + "}" * 50_000,
    "long sum": "x" + " + x" * 20_000,
    "roots": r"\sqrt{" * 500 + "x" + "}" * 500,
    "rows": r"\begin{align*} x " + r"\\ &= x " * 5_000 + r"\end{align*}",
    "too long": "x" * 1_000_000,
    "subscripts": "x" + "_{x" * 300 + "}" * 300,
    "sums": r"\sum_{k=0}^{K} " * 300 + "k",
}


@pytest.mark.parametrize("name", sorted(DEEP_AND_HUGE))
def test_deep_and_huge_claims(name: str) -> None:
    from derive.check.engine import verify
    from derive.check.parse import parse_expression
    from derive.grade.batch import grade_item
    from derive.grade.reader import read_text
    text = DEEP_AND_HUGE[name]
    outcome(parse_expression, text)
    checked(verify, f"{text} == x", budget=CHECK_BUDGET)
    outcome(read_text, text + "\n= x", "text")
    row = checked(grade_item, json.dumps({"claim": f"{text} == x"}), budget=CHECK_BUDGET)
    assert "internal error" not in str(row.get("error", "")), row


@pytest.mark.parametrize("name", sorted(LATEX_DEEP_AND_HUGE))
def test_deep_and_huge_latex(name: str) -> None:
    from derive.check.latex import parse_latex_chain
    from derive.grade.reader import read_text
    text = LATEX_DEEP_AND_HUGE[name]
    outcome(parse_latex_chain, text)
    outcome(read_text, text, "latex")


def test_huge_derivation_and_batch_inputs() -> None:
    from derive.grade.batch import grade_item
    from derive.grade.reader import read_text
    assert isinstance(outcome(read_text, "x\n" * 100_000), DeriveError)
    assert isinstance(outcome(read_text, "x\n= x\n" * 300), DeriveError)   # too many steps
    row = outcome(grade_item, json.dumps({"claim": "x" * 1_000_000}))
    assert row["verdict"] == "error"
    row = outcome(grade_item, "[" * 100_000 + "]" * 100_000)
    assert row["verdict"] == "error" and "internal error" not in row["error"]


# ---------------------------------------------------------------------------------------
# Nothing is executed: payloads that would leave a file behind if they ran


def payloads(canary: Path) -> list[str]:
    c = str(canary)
    return [
        f"__import__('os').system('touch {c}')",
        f"open('{c}', 'w')",
        f"exec(\"open('{c}', 'w')\")",
        f"eval(\"open('{c}', 'w')\")",
        f"().__class__.__base__.__subclasses__()",
        f"Symbol('x').__class__.__init__.__globals__",
        f"sympify(\"open('{c}', 'w')\")",
        f"x == __import__('pathlib').Path('{c}').touch()",
        f"lambda: open('{c}', 'w')",
        f"[open('{c}', 'w') for _ in '1']",
        f"output_size(H, K, P, S, D=__import__('os').system('touch {c}'))",
        rf"\input{{{c}}}",
        rf"\immediate\write18{{touch {c}}}",
        rf"\openout1={c} \write1{{x}} \closeout1",
        f"{{{{ ''.__class__.__mro__[1].__subclasses__() }}}}",
        f"\\VAR{{ open('{c}', 'w') }}",
        f"$(touch {c})",
        f"`touch {c}`",
    ]


def test_nothing_is_executed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from derive.check.domain import build_domain
    from derive.check.engine import verify
    from derive.check.latex import parse_latex_chain
    from derive.check.parse import parse_expression
    from derive.grade.batch import grade_item
    from derive.grade.reader import read_file, read_text
    from derive.grade.report import grade_text

    monkeypatch.chdir(tmp_path)
    canary = tmp_path / "CANARY"
    for p in payloads(canary):
        outcome(parse_expression, p)
        checked(verify, f"x == {p}", budget=CHECK_BUDGET)
        outcome(parse_latex_chain, p)
        outcome(build_domain, ["x"], [p, f"x >= {p}"])
        outcome(read_text, f"x\n= {p}\n# assume: {p}")
        checked(grade_text, f"x\n= {p}", budget=CHECK_BUDGET, steps=2)
        for item in ({"claim": p}, {"claim": f"x == {p}"}, {"derivation": f"x\n{p}"},
                     {"claim": f"x == {p}", "format": "latex"}, {"claim": "x == x",
                                                                 "assume": [p]}):
            row = checked(grade_item, json.dumps(item), budget=CHECK_BUDGET, steps=2)
            assert "internal error" not in str(row.get("error", "")), row
        f = tmp_path / "payload.tex"
        f.write_text(p)
        outcome(read_file, f)
        assert not canary.exists(), f"executed: {p!r}"
    assert sorted(q.name for q in tmp_path.iterdir()) == ["payload.tex"]


# ---------------------------------------------------------------------------------------
# Problem modules that raise or return malformed objects

HEADER = "from derive.book import Part, Problem\n"
GOOD_SOLVE = "def solve(sheet):\n    sheet.numeric(2 + 2, 4, method='arithmetic')\n"


def problem_source(**fields: str) -> str:
    args = {"id": "'practice-99'", "set": "'practice'", "title": "'t'", "statement": "'s'",
            "parts": "(Part('a', 'p', solve),)"}
    args.update(fields)
    body = ", ".join(f"{k}={v}" for k, v in args.items())
    return HEADER + GOOD_SOLVE + f"PROBLEM = Problem({body})\n"


BROKEN_AT_LOAD = {
    "syntax error": "def (:\n",
    "raises at import": "raise RuntimeError('boom at import')\n",
    "zero division at import": "x = 1 / 0\n",
    "import of a missing module": "import derive_no_such_module\n",
    "exits at import": "raise SystemExit(3)\n",
    "no PROBLEM": HEADER,
    "PROBLEM is a dict": "PROBLEM = {'id': 'practice-99'}\n",
    "PROBLEM is None": "PROBLEM = None\n",
    "empty id": problem_source(id="''"),
    "id not text": problem_source(id="42"),
    "wrong set": problem_source(set="'theory'"),
    "title not text": problem_source(title="None"),
    "no parts": problem_source(parts="()"),
    "parts is None": problem_source(parts="None"),
    "parts is a number": problem_source(parts="5"),
    "parts is text": problem_source(parts="'ab'"),
    "part not a Part": problem_source(parts="('a',)"),
    "duplicate labels": problem_source(parts="(Part('a', 'p', solve), Part('a', 'q', solve))"),
    "unknown scope": problem_source(parts="(Part('a', 'p', solve, scope='maybe'),)"),
    "out of scope without reason": problem_source(
        parts="(Part('a', 'p', None, scope='out-of-scope'),)"),
    "no solve": problem_source(parts="(Part('a', 'p', None),)"),
    "recursion at import": "def f():\n    return f()\nf()\n",
}

BROKEN_WHEN_SOLVED = {
    "raises": "def bad(sheet):\n    raise RuntimeError('boom')\n",
    "raises a derive error": ("def bad(sheet):\n    from derive.errors import InputError\n"
                              "    raise InputError('got stride=0')\n"),
    "exits": "def bad(sheet):\n    raise SystemExit(2)\n",
    "recursion": "def bad(sheet):\n    return bad(sheet)\n",
    "solve is not callable": "bad = 'not a function'\n",
    "wrong signature": "def bad():\n    return 1\n",
    "adds a non-block": "def bad(sheet):\n    sheet.add(object())\n",
    "adds an unchecked derivation": (
        "def bad(sheet):\n    from derive.book.model import Derivation, DerivationStep\n"
        "    sheet.add(Derivation('x', (DerivationStep(1, '', None),"
        " DerivationStep(2, '', None))))\n"),
    "claims text": "def bad(sheet):\n    sheet.claim('x', 'y')\n",
    "claims a hostile claim": "def bad(sheet):\n    sheet.claim(1, 2, assume=['__import__'])\n",
    "numeric with junk": "def bad(sheet):\n    sheet.numeric(object(), 'x', method='m')\n",
}


def _write_problem(root: Path, source: str) -> Any:
    from derive.problems import discover
    (root / "practice").mkdir(parents=True, exist_ok=True)
    (root / "practice" / "p99_broken.py").write_text(source)
    return discover(root)[0]


@pytest.mark.parametrize("name", sorted(BROKEN_AT_LOAD))
def test_broken_problem_modules_are_problem_errors(name: str, tmp_path: Path) -> None:
    from derive.problems import load, load_all
    pf = _write_problem(tmp_path, BROKEN_AT_LOAD[name])
    err = outcome(load, pf)
    assert isinstance(err, ProblemError), f"{name}: got {err!r}"
    assert "p99_broken.py" in str(err)
    assert isinstance(outcome(load_all, tmp_path), ProblemError)


@pytest.mark.parametrize("name", sorted(BROKEN_WHEN_SOLVED))
def test_parts_that_fail_become_part_errors(name: str, tmp_path: Path) -> None:
    from derive.problems import load, solve
    source = (HEADER + GOOD_SOLVE + BROKEN_WHEN_SOLVED[name] +
              "PROBLEM = Problem(id='practice-99', set='practice', title='t', statement='s',"
              " parts=(Part('a', 'p', solve), Part('b', 'q', bad)))\n")
    problem = load(_write_problem(tmp_path, source))
    result = outcome(solve, problem)
    assert not isinstance(result, DeriveError), f"{name}: solve raised {result!r}"
    good, bad = result.parts
    assert good.error == "" and good.status == "cross-checked"
    if bad.error:
        assert bad.error.startswith("while solving practice-99(b): "), bad.error
        assert bad.status == "error"
    else:   # a part may also fail by being refuted, which is a verdict, not a crash
        assert bad.status in ("refuted", "error", "unknown"), (name, bad.status)


# ---------------------------------------------------------------------------------------
# Prose that reaches the documents (problem statements, explanations)


@FUZZ
@given(st.one_of(random_text(120), soup(LATEX_TOKENS, 20)))
@example(r"\immediate\write18{touch CANARY} \input{/etc/passwd}")
@example("\x00\x07\ud800")
def test_prose_is_escaped_or_refused(text: str) -> None:
    from derive.render.escape import escape_latex, escape_latex_paragraphs, escape_markdown
    for fn in (escape_latex, escape_latex_paragraphs, escape_markdown):
        outcome(fn, text)


# ---------------------------------------------------------------------------------------
# Templates that fail


def _broken_templates(tmp_path: Path, name: str, text: str | None) -> str:
    from derive.render.env import TEMPLATE_DIR
    d = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, d)
    if text is None:
        (d / name).unlink()
    else:
        (d / name).write_text(text)
    return str(d)


BROKEN_TEMPLATES = {
    "syntax error": ("problem_body.tex.j2", r"\BLOCK{ if }" + "\n"),
    "unclosed block": ("book.tex.j2", r"\BLOCK{ for x in y }" + "\n"),
    "undefined name": ("problem.tex.j2", r"\VAR{ no_such_name }" + "\n"),
    "undefined attribute": ("problem_body.tex.j2", r"\VAR{ problem.no_such_field.x }" + "\n"),
    "unknown filter": ("book.tex.j2", r"\VAR{ title | no_such_filter }" + "\n"),
    "missing template": ("problem_body.tex.j2", None),
    "missing book": ("book.tex.j2", None),
    "division by zero": ("problem.tex.j2", r"\VAR{ 1 // 0 }" + "\n"),
    "division by zero in a body": ("problem_body.tex.j2", r"\VAR{ 1 // 0 }" + "\n"),
    "include of a missing file": ("book.tex.j2", r"\BLOCK{ include 'nowhere.j2' }" + "\n"),
    "markdown page": ("problem.md.j2", r"\VAR{ no_such_name }" + "\n"),
    "markdown index": ("index.md.j2", r"\BLOCK{ if }" + "\n"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_TEMPLATES))
def test_templates_that_fail_are_build_errors(case: str, tmp_path: Path) -> None:
    from derive.render.build import build, docs
    name, text = BROKEN_TEMPLATES[case]
    template_dir = _broken_templates(tmp_path, name, text)
    problems = tmp_path / "problems"
    (problems / "practice").mkdir(parents=True)
    (problems / "practice" / "p1.py").write_text(problem_source(id="'practice-1'"))
    out, docs_dir = tmp_path / "build", tmp_path / "docs"
    run = docs if name.endswith(".md.j2") else build
    kwargs = {"tex_only": True} if run is build else {}
    err = outcome(run, problems, out if run is build else docs_dir,
                  template_dir=template_dir, seconds=60, **kwargs)
    assert isinstance(err, (BuildError, ProblemError)), f"{case}: got {err!r}"
    message = str(err).replace(str(tmp_path), "<tmp>")
    assert name in message or "template" in message.lower(), message
