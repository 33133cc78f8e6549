"""The jinja2 environment: LaTeX-safe delimiters, strict undefined, no HTML escaping."""

from __future__ import annotations

import jinja2
import pytest

from derive.errors import InputError
from derive.render.env import TEMPLATE_DIR, make_env, render, templates_digest


def test_delimiters_leave_latex_alone() -> None:
    env = make_env()
    src = "\\section{\\VAR{ t | tex }} {braces} {{ not jinja }} {% raw %}\n"
    assert env.from_string(src).render(t="a_b") == (
        "\\section{a\\_b} {braces} {{ not jinja }} {% raw %}\n")


def test_line_statements_blocks_and_comments() -> None:
    env = make_env()
    src = "%% for x in xs\n\\VAR{ x }\n%% endfor\n\\BLOCK{ if flag }yes\\BLOCK{ endif }\n\\#{ gone }% kept\n"
    assert env.from_string(src).render(xs=[1, 2], flag=True) == "1\n2\nyes% kept\n"  # trim_blocks


def test_undefined_is_an_error_and_html_is_not_escaped() -> None:
    env = make_env()
    with pytest.raises(jinja2.UndefinedError, match="titel"):
        env.from_string("\\VAR{ titel }").render(title="x")
    with pytest.raises(jinja2.UndefinedError, match="titel"):
        env.from_string("\\VAR{ titel | tex }").render(title="x")
    assert env.from_string("\\VAR{ x }").render(x="<b> & 'q'") == "<b> & 'q'"


def test_templates_render_and_digest(tmp_path) -> None:
    tex = render("problem.tex.j2", problem={"id": "8.2", "path": "c/x.py", "body": "BODY"},
                 title="T & U", version="9")
    assert "pdftitle={T \\& U}" in tex and "% ---- problem 8.2 (c/x.py)\nBODY" in tex
    assert len(templates_digest()) == 64
    copy = tmp_path / "t"
    copy.mkdir()
    for p in TEMPLATE_DIR.iterdir():
        (copy / p.name).write_bytes(p.read_bytes())
    assert templates_digest(str(copy)) == templates_digest()
    (copy / "legend.tex.j2").write_text("changed")
    assert templates_digest(str(copy)) != templates_digest()


def test_prose_filters_typeset_inline_maths() -> None:
    env = make_env()
    src = r"\VAR{ s | prose } / \VAR{ s | mdprose } / \VAR{ s | tex }"
    assert env.from_string(src).render(s=r"at $H = 32$, \$5 for x_pad") == (
        r"at $H = 32$, \$5 for x\_pad / at $H = 32$, \$5 for x\_pad / "
        r"at \$H = 32\$, \textbackslash{}\$5 for x\_pad")
    with pytest.raises(InputError, match="unmatched"):
        env.from_string(r"\VAR{ s | prose }").render(s="costs $5")
