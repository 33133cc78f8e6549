"""Text pasted from a PDF or typed by hand: Unicode operators, '^', implicit products,
subscripts, labels and trailing punctuation in .txt derivations and on the command line;
every rejection names the line and column and what to write instead.  And every step
shows how it was read."""

from __future__ import annotations

import json

import pytest
import sympy

from derive.check.verdict import Status
from derive.cli import main
from derive.errors import ParseError
from derive.grade import grade_text, read_text
from derive.grade.batch import grade_item


def _exprs(text: str) -> list[str]:
    return [sympy.sstr(e.expr) for e in read_text(text, "text").entries]


# --- Unicode from a PDF --------------------------------------------------------------------

def test_pdf_symbols_read_as_their_ascii_meaning() -> None:
    text = ("⌊(H − K + 2·P)/S⌋ + 1\n"
            "⌈(H − K + 2×P + 1)/S⌉\n")
    assert _exprs(text) == ["floor((H - K + 2*P)/S) + 1", "ceiling((H - K + 2*P + 1)/S)"]
    r = grade_text("a ≤ b\n")
    assert r.steps[0].relation == "<="
    assert [e.relation for e in read_text("a\n≥ b\n≠ c\n").entries] == [None, ">=", "!="]


def test_floor_and_ceiling_brackets_must_match() -> None:
    with pytest.raises(ParseError, match="ceiling") as info:
        read_text("x\n  ⌊a/b⌉\n")
    assert (info.value.line, info.value.column) == (2, 7)
    with pytest.raises(ParseError, match="never closed") as info:
        read_text("x\n⌊a/b + 1\n")
    assert (info.value.line, info.value.column) == (2, 1)


def test_unknown_symbols_say_what_to_write() -> None:
    with pytest.raises(ParseError, match=r"write sqrt\(x\) instead") as info:
        read_text("a\na + √b\n")
    assert (info.value.line, info.value.column) == (2, 5)
    with pytest.raises(ParseError, match=r"write Sum\(f, \(k, a, b\)\)") as info:
        read_text("∑ a\n")
    assert (info.value.line, info.value.column) == (1, 1)


def test_columns_point_into_the_line_as_written() -> None:
    # '⌊' becomes 'floor(' (6 characters); the error still points at the pasted text
    with pytest.raises(ParseError) as info:
        read_text("x\n⌊a/b⌋ + * c\n")
    assert info.value.line == 2 and info.value.column == 9
    entries = read_text("x\nStep 2: ⌊a⌋ + 1\n").entries
    assert entries[1].column == 9


# --- '^', implicit products, subscripts ----------------------------------------------------

def test_caret_is_a_power_in_derivation_files() -> None:
    assert _exprs("(a + b)^2\na^2 + 2ab + b^2\n") == ["(a + b)**2", "a**2 + 2*ab + b**2"]
    # 'ab' is one name: the second line is not the square, and the step is refuted
    assert grade_text("(a + b)^2\na^2 + 2a*b + b^2\n").verdict is Status.PROVED
    assert grade_text("(a + b)^2\na^2 + 2ab + b^2\n").verdict is Status.REFUTED


def test_a_number_before_a_name_or_bracket_is_a_product() -> None:
    assert _exprs("2P + 3(H + 1) + 2⌊x/2⌋ + 0.5y\n") == [
        "3*H + 2*P + 0.5*y + 2*floor(x/2) + 3".replace("0.5*y", "y/2")]
    # letters side by side stay one name; digits inside names stay put
    assert _exprs("HK + x2 + log(x) + 1e3\n") == ["HK + x2 + log(x) + 1000"]


def test_braced_subscripts_are_array_entries() -> None:
    assert _exprs("y_{i+k} + x_{2i}\n") == ["x[2*i] + y[i + k]"]
    assert _exprs("H_out + 1\n") == ["H_out + 1"]


def test_labels_and_trailing_punctuation_are_dropped() -> None:
    text = "Step 1: a*(b + c)\n2) = a*b + a*c.\n(3) a*c + a*b,\n4. b*a + c*a\n"
    r = grade_text(text)
    assert [s.line for s in r.steps] == [2, 3, 4]
    assert r.verdict is Status.PROVED
    # an expression that starts with a bracketed number is not a label
    assert _exprs("(1) - x\n") == ["1 - x"]
    assert _exprs("1.5 + x\n") == ["x + 1.5".replace("1.5", "3/2")]


def test_normalise_paste_maps_columns() -> None:
    from derive.grade.reader import normalise_paste
    text, columns = normalise_paste("2P ≤ ⌈x⌉")
    assert text == "2*P <= ceiling(x)"
    assert len(columns) == len(text)
    assert columns[text.index("<")] == 4 and columns[text.index("c")] == 6
    # on the command line only the symbols are translated
    assert normalise_paste("2P^2", derivation=False)[0] == "2P^2"


# --- the command line -------------------------------------------------------------------------

def test_cli_single_equals_says_to_write_double(capsys) -> None:
    assert main(["verify", "a = b"]) == 2
    err = capsys.readouterr().err
    assert "a claim uses '==' (a single '=' is for derivation files): write a == b" in err
    assert main(["verify", "--json", "output_size(H, K, P, S) = 1"]) == 2
    assert "write output_size(H, K, P, S) == 1" in json.loads(capsys.readouterr().out)["method"]


def test_cli_accepts_pasted_symbols(capsys) -> None:
    assert main(["verify", "⌈a/b⌉ == ⌊(a + b − 1)/b⌋"]) == 0
    assert "PROVED" in capsys.readouterr().out
    assert main(["verify", "x + √2 == 1"]) == 2
    err = capsys.readouterr().err
    assert "sqrt(x)" in err and "column 5" in err
    # the command-line claim keeps its own message for '^'
    assert main(["verify", "a^2 == a*a"]) == 2
    assert "write '**'" in capsys.readouterr().err


def test_cli_latex_claim(capsys) -> None:
    assert main(["verify", "--format", "latex", r"\frac{a}{b} = c"]) == 1
    assert "REFUTED" in capsys.readouterr().out
    assert main(["verify", "--format", "latex", "--json",
                 r"\lceil a/b \rceil = \lfloor (a + b - 1)/b \rfloor"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "proved"
    assert main(["verify", "--format", "latex", r"\frac{a}{b"]) == 2


def test_batch_claims_get_the_same_tolerance() -> None:
    assert grade_item('{"id": 1, "claim": "a = b"}')["error"].startswith(
        "line 1: a claim uses '=='")
    assert grade_item('{"id": 1, "claim": "⌈a/b⌉ == ⌊(a + b − 1)/b⌋"}')["verdict"] == "proved"


# --- the reading, shown ------------------------------------------------------------------------

def test_every_step_shows_its_reading(tmp_path, capsys) -> None:
    path = tmp_path / "work.txt"
    path.write_text("H_out = floor((H + 2P - K)/S) + 1\n= ⌊(H − K + 2P + S)/S⌋\n")
    assert main(["verify", "--file", str(path)]) == 0
    out = capsys.readouterr().out
    assert "read as: floor((H - K + 2*P + S)/S)" in out
    assert main(["verify", "--json", "--file", str(path)]) == 0
    step = json.loads(capsys.readouterr().out)["steps"][0]
    assert step["read_as"]["text"] == "floor((H - K + 2*P + S)/S)"
    assert r"\left\lfloor" in step["read_as"]["latex"] and r"\frac" in step["read_as"]["latex"]


def test_batch_derivations_carry_the_reading() -> None:
    row = grade_item(json.dumps({"id": 1, "derivation": "a*(b + c)\na*b + a*c"}))
    assert row["verdict"] == "proved"
    assert row["steps"][0]["read_as"] == {"text": "a*b + a*c", "latex": "a b + a c"}


def test_latex_steps_carry_the_reading() -> None:
    r = grade_text(r"$$ \frac{a}{b} = a b^{-1} $$", fmt="latex")
    assert r.steps[0].read_as["text"] == "a/b"
    assert "read as: a/b" in r.explain()


def test_cli_claims_show_their_reading(capsys) -> None:
    assert main(["verify", "⌈a/b⌉ == ⌊(a + b − 1)/b⌋"]) == 0
    assert "read as: ceiling(a/b) == floor((a + b - 1)/b)" in capsys.readouterr().out
    assert main(["verify", "--json", "--format", "latex", r"\frac{a}{b} = c"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["read_as"] == {"text": "a/b == c", "latex": r"\frac{a}{b} = c"}


def test_only_a_written_name_is_a_definition() -> None:
    # 'x + 0' is read as the symbol x, but it is not a name written alone: the next line is
    # a checked step, not the definition of x
    r = grade_text("x + 0\n5\n")
    assert r.definitions == () and r.steps[0].status is Status.REFUTED
    assert [d.name for d in grade_text("x = 5\nx + 1 == 6\n").definitions] == ["x"]
