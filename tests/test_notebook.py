r"""Grading in Jupyter, end to end: a notebook built here runs headlessly in a real kernel
(the Python running the tests), and its outputs are what a reader sees: every step typeset
(``\( ... \)``) with its mark and reading, the right verdicts, the first wrong line, and bad
input shown as a message naming line and column, never as a traceback."""

from __future__ import annotations

import dataclasses
import html
import json
import re
import sys
from pathlib import Path

import pytest
import sympy

from derive.errors import DeriveError, ParseError
from derive.grade import grade_text
from derive.grade.notebook import report_html
from derive.grade.report import reading

ROOT = Path(__file__).resolve().parents[1]

# name -> (cell source, verdicts accepted).  The derivations are LaTeX as a student writes
# it; each verdict is the right one (a false step is refuted, never proved).
LATEX_CELLS = {
    "derivative": (r"\frac{d}{dx} x^2 = 2x", {"proved"}),
    "derivative_wrong": (r"\frac{d}{dx} x^2 = x", {"refuted"}),
    # an unknown function: additivity does not follow (sigma(t) = t^2 is a counterexample)
    "sigma": (r"\sigma(a + b) = \sigma(a) + \sigma(b)", {"refuted"}),
    "log": (r"\log 2n = n \log 2", {"refuted"}),
    "double_angle": (r"\sin 2x = 2 \sin x \cos x", {"proved"}),
    "remark": ("\\begin{align*}\n(a+b)^2 &= (a+b)(a+b) \\\\\n"
               "&= a^2 + 2ab + b^2 && \\text{by expanding}\n\\end{align*}", {"proved"}),
    "remark_inline": (r"(a+b)^2 = (a+b)(a+b) = a^2 + 2ab + b^2 \quad \text{by expanding}",
                      {"proved"}),
    # the course identity, true for 0 <= m <= K - 1
    "course": ("% assume: m >= 0; m <= K - 1\n"
               r"\frac{\partial}{\partial w_m} \sum_{u=0}^{K-1} w_u x_{i+u} = x_{i+m}",
               {"proved"}),
}


# --- in process: the HTML itself ---------------------------------------------------------

def test_latex_steps_are_typeset_and_escaped() -> None:
    page = report_html(grade_text(r"$$ a < a + 1 $$"))
    assert r"\(a\)" in page and r"\({} &lt; a + 1\)" in page   # escaped inside the maths
    assert "read as: \\(a + 1\\)" in page and "<" + " a + 1" not in page
    wrong = report_html(grade_text(r"\frac{d}{dx} x^2 = x"))
    assert r"\(\frac{d}{dx} x^2\)" in wrong and r"\({} = x\)" in wrong
    assert "&#10008;" in wrong and "line 1, column 20" in wrong
    assert "refuted</b> at x=1: left side = 2, right side = 1" in wrong
    assert wrong == report_html(grade_text(r"\frac{d}{dx} x^2 = x"))   # deterministic


def test_text_steps_are_code_with_a_typeset_reading() -> None:
    page = report_html(grade_text("# given: H = 32, K = 5\n# assume: S >= 1\n"
                                  "H_out = floor((H - K)/S) + 1\nfloor((H - K + S)/S)\n"
                                  "(H - K)/S\n"))
    assert "<code>floor((H - K + S)/S)</code>" in page
    assert r"read as: \(\left\lfloor" in page
    name = reading(sympy.Symbol("H_out"))["latex"]
    assert "definition (not checked)" in page and f"\\({name} = " in page
    assert "given values: <code>H = 32</code>, <code>K = 5</code>" in page
    assert "assumptions in force: <code>S &gt;= 1</code>" in page
    assert "First wrong step: line 5, column 1" in page and "&#10008;" in page
    tested = report_html(grade_text("# assume: x - y != 0\nx/(x - y)\nx/(x - y) + 0\n"))
    assert "&#8776;" in tested and "instances agree, no proof" in tested
    assert "hint: the divisor x - y may be zero" in tested


def test_the_report_prints_as_the_command_line_does() -> None:
    report = grade_text("(a + b)**2\na**2 + b**2")
    assert repr(report) == str(report) == report.explain()
    assert repr(report).startswith("<text>: REFUTED; the first wrong step is line 2")
    assert report == dataclasses.replace(report) != grade_text("a\na")   # fields compared


def test_errors_render_as_a_message_in_ipython() -> None:
    with pytest.raises(ParseError) as info:
        grade_text("a +")
    lines = info.value._render_traceback_()
    assert lines == [f"derive: {info.value}"] and "line 1, column 1" in lines[0]
    assert DeriveError("x")._render_traceback_() == ["derive: x"]


# --- a real kernel -----------------------------------------------------------------------

def _cells() -> list[tuple[str, str]]:
    cells = [("setup", "import sys, derive\nprint(sys.executable)\nprint(derive.__file__)"),
             ("load", "%load_ext derive.grade.notebook")]
    cells += [(name, "%%derive --latex\n" + text) for name, (text, _) in LATEX_CELLS.items()]
    cells += [
        ("api_text", 'derive.grade_text("2*(x + 1)\\n2*x + 2")'),
        ("api_latex", 'derive.grade_text(r"\\sin 2x = 2 \\sin x \\cos x", fmt="latex")'),
        ("malformed", "%%derive --latex\nx^2\n= \\frac{x}{"),
        ("malformed_text", "%%derive\n2*x\n= (x + 1"),
        ("raises", 'derive.grade_text("a +")'),
    ]
    return cells


def _kernel_manager(tmp: Path):
    """A kernel of this very Python (sys.executable), isolated from any user profile."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec_dir = tmp / "kernels" / "derive-test"
    spec_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "derive test kernel", "language": "python",
            "env": {"IPYTHONDIR": str(tmp / "ipython"), "PYTHONPATH": str(ROOT)}}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(tmp / "kernels")])
    return KernelManager(kernel_name="derive-test", kernel_spec_manager=specs)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, list[dict]]:
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed")

    tmp = tmp_path_factory.mktemp("notebook")
    cells = _cells()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for _, source in cells]
    client = nbclient.NotebookClient(nb, km=_kernel_manager(tmp), timeout=120,
                                     allow_errors=True,
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    nbformat.validate(nb)
    return {name: [dict(o) for o in cell.outputs] for (name, _), cell in zip(cells, nb.cells)}


def _data(outs: list[dict], mime: str) -> str:
    found = [o["data"][mime] for o in outs if o["output_type"] == "execute_result"]
    assert len(found) == 1, outs
    return found[0]


def _verdict(outs: list[dict]) -> str:
    head = _data(outs, "text/plain").splitlines()[0]
    return re.match(r"[^:]*: (\w+)", head).group(1).lower()


def test_the_kernel_is_this_python(outputs) -> None:
    printed = "".join(o.get("text", "") for o in outputs["setup"]).split("\n")
    assert Path(printed[0]).resolve() == Path(sys.executable).resolve()
    assert Path(printed[1]).resolve().is_relative_to(ROOT / "derive")


@pytest.mark.parametrize("name", list(LATEX_CELLS))
def test_latex_cells_get_their_verdicts(outputs, name) -> None:
    assert _verdict(outputs[name]) in LATEX_CELLS[name][1]


def test_cells_show_typeset_steps_marks_and_readings(outputs) -> None:
    marks = {"proved": "&#10004;", "tested": "&#8776;", "refuted": "&#10008;"}
    for name in LATEX_CELLS:
        page = _data(outputs[name], "text/html")
        assert "\\(" in page and "\\)" in page and "read as: \\(" in page, name
        assert marks[_verdict(outputs[name])] in page, name
    page = _data(outputs["derivative_wrong"], "text/html")     # lines counted as in the cell
    assert "\\(\\frac{d}{dx} x^2\\)" in page and "line 2, column 20" in page
    assert "left side = 2, right side = 1" in page
    for name in ("remark", "remark_inline"):
        assert "because: by expanding" in _data(outputs[name], "text/html")
    assert "assumptions in force: <code>m &gt;= 0</code>; <code>m &lt;= K - 1</code>" in \
        _data(outputs["course"], "text/html")
    # the plain-text view is the command line's report
    assert "line   2  REFUTED  x" in _data(outputs["derivative_wrong"], "text/plain")


def test_the_entry_point_displays_html(outputs) -> None:
    page = _data(outputs["api_text"], "text/html")
    read_as = grade_text("2*(x + 1)\n2*x + 2").steps[0].read_as["latex"]    # the printer's
    assert "<code>2*(x + 1)</code>" in page and f"read as: \\({html.escape(read_as)}\\)" in page
    assert "&#10004;" in page
    assert "&#10004;" in _data(outputs["api_latex"], "text/html")


def test_bad_input_is_a_message_with_line_and_column(outputs) -> None:
    for name in ("malformed", "malformed_text"):       # both go wrong on the cell's line 3
        text = "".join(o.get("text", "") for o in outputs[name] if o["output_type"] == "stream")
        assert text.startswith("derive: this cell: "), text
        assert re.search(r"\(at line 3, column \d+\)$", text.strip()), text
    [error] = outputs["raises"]
    assert error["output_type"] == "error" and error["ename"] == "ParseError"
    assert error["traceback"] == [f"derive: {error['evalue']}"]
    assert "line 1, column 1" in error["evalue"]


def test_no_traceback_and_no_placeholder_anywhere(outputs) -> None:
    everything = json.dumps(outputs)
    assert "Traceback" not in everything
    assert "<cell>" not in everything and "&lt;cell&gt;" not in everything
