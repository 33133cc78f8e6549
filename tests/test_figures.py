"""The figure builders of :mod:`derive.book.figures`: geometry read back from the SVG and
compared with an independent computation (brute-force enumeration, plain loops, NumPy's
FFT, the size formulas written out here), plus well-formed, deterministic output and
captions that typeset without program notation."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from derive.book import figures
from derive.render.prose import plain, prose_latex, prose_markdown

sys.path.insert(0, str(Path(__file__).resolve().parent))
from leaks import leaks_in_prose  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"
GABOR = np.exp(-np.arange(-6, 7) ** 2 / 8.0) * np.cos(np.pi / 2 * np.arange(-6, 7))


def _downscaling_specs():
    from problems.chapter8 import e08_28_downscaling as m
    return [m._transposed_spec(), (m._subpixel_spec(), m.R)]


BUILDERS = {
    "im2col": lambda: figures.im2col_patch(4, 3),
    "windows": lambda: figures.conv_windows(32, 3, padding=1, stride=1, dilation=1),
    "windows-strided": lambda: figures.conv_windows(9, 3, padding=2, stride=2, dilation=2),
    "pooling": lambda: figures.pooling_windows(
        ((1, 5, 0, 3), (2, 4, 7, 1), (6, 2, 3, 3), (0, 8, 1, 2)), 2),
    "responses": lambda: figures.filter_responses(GABOR, sigma=2.0),
    "aliasing": lambda: figures.aliasing_shift([(-1) ** n for n in range(8)]),
    "flip": lambda: figures.kernel_flip(5, 3),
    "architectures": lambda: figures.architecture_stages(_downscaling_specs()),
}


def _root(fig) -> ET.Element:
    return ET.fromstring(fig.svg)


def _elements(root: ET.Element, tag: str, *classes: str) -> list[ET.Element]:
    """Elements ``tag`` whose class attribute holds every one of ``classes``."""
    out = []
    for e in root.iter(SVG + tag):
        have = set(e.get("class", "").split())
        if set(classes) <= have:
            out.append(e)
    return out


def _text(e: ET.Element) -> str:
    return "".join(e.itertext()).replace("\u2212", "-")


def _class_value(e: ET.Element, prefix: str) -> str:
    """The suffix of the class token starting with ``prefix`` (``at12`` -> ``12``)."""
    return next(t[len(prefix):] for t in e.get("class", "").split() if t.startswith(prefix)
                and t[len(prefix):].lstrip("-").isdigit())


# ------------------------------------------------------------------------ every builder
@pytest.mark.parametrize("key", sorted(BUILDERS))
def test_output_is_well_formed_deterministic_and_readable(key: str) -> None:
    first, second = BUILDERS[key](), BUILDERS[key]()
    assert first == second                                   # no random ids, no timestamps
    root = _root(first)
    assert root.tag == SVG + "svg"
    assert int(root.get("width")) > 0 and int(root.get("height")) > 0
    tikz = first.tikz.strip()
    assert tikz.startswith(r"\begin{tikzpicture}") and tikz.endswith(r"\end{tikzpicture}")
    assert tikz.count("{") == tikz.count("}")
    assert not re.search(r"\d\.\d{4,}", first.svg)          # fixed number formatting
    prose_latex(first.caption), prose_markdown(first.caption)   # the maths parses
    # the caption is also the image's alt text, where the maths is shown as written
    assert leaks_in_prose(plain(first.caption)) == []
    assert first.name


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="needs pdflatex")
def test_tikz_compiles(tmp_path: Path) -> None:
    body = "\n".join(r"\begin{adjustbox}{max width=\linewidth}" + "\n" + f().tikz + "\n"
                     r"\end{adjustbox}\par" for f in BUILDERS.values())
    (tmp_path / "f.tex").write_text(
        r"\documentclass{article}\usepackage{tikz}\usepackage{amsmath}\usepackage{adjustbox}"
        r"\begin{document}" + body + r"\end{document}", encoding="utf-8")
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "f.tex"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:]


# ------------------------------------------------------------------------ 1. im2col
def test_im2col_columns_are_the_windows() -> None:
    size, k, column = 4, 3, 1
    root = _root(figures.im2col_patch(size, k, column=column))
    out = size - k + 1
    for e in _elements(root, "text", "entry", "label"):
        c, r = int(_class_value(e, "col")), int(_class_value(e, "row"))
        i, j = divmod(c, out)                                 # window of output (i, j)
        u, v = divmod(r, k)                                   # tap (u, v), read row by row
        assert _text(e) == f"x{i + u},{j + v}"
    assert len(_elements(root, "text", "entry", "label")) == k * k * out * out
    chosen = {int(_class_value(e, "col")) for e in _elements(root, "rect", "entry", "chosen")}
    assert chosen == {column}
    patch = {_text(e) for e in _elements(root, "text", "input", "patch", "label")}
    i, j = divmod(column, out)
    assert patch == {f"x{i + u},{j + v}" for u in range(k) for v in range(k)}


# ------------------------------------------------------------------------ 2. windows
def _windows_geometry(fig):
    root = _root(fig)
    cells = sorted(_elements(root, "rect", "cell") + _elements(root, "rect", "pad"),
                   key=lambda e: float(e.get("x")))
    spans = [(float(e.get("x")), float(e.get("x")) + float(e.get("width"))) for e in cells]
    pads = {n for n, e in enumerate(cells) if "pad" in e.get("class").split()}

    def index(cx: float) -> int:
        return next(n for n, (a, b) in enumerate(spans) if a < cx < b)

    taps: dict[int, list[int]] = {}
    for c in _elements(root, "circle", "tap"):
        taps.setdefault(int(_class_value(c, "window")), []).append(index(float(c.get("cx"))))
    summary = _text(_elements(root, "text", "summary")[0])
    return len(cells), pads, taps, summary


@pytest.mark.parametrize("n, k, p, s, d", [(32, 3, 1, 1, 1), (9, 3, 2, 2, 2), (7, 2, 0, 3, 1),
                                           (5, 5, 0, 1, 1)])
def test_window_taps_match_enumeration(n: int, k: int, p: int, s: int, d: int) -> None:
    length, pads, taps, summary = _windows_geometry(
        figures.conv_windows(n, k, padding=p, stride=s, dilation=d))
    assert length == n + 2 * p
    assert pads == set(range(p)) | set(range(n + p, n + 2 * p))
    # brute force: window i reads padded positions s*i + d*u; keep the windows that fit
    windows = []
    start = 0
    while start + d * (k - 1) <= n + 2 * p - 1:
        windows.append(sorted(start + d * u for u in range(k)))
        start += s
    shown = list(range(min(3, len(windows))))
    if len(windows) > 3:
        shown.append(len(windows) - 1)
    assert sorted(taps) == shown
    for w in shown:
        assert sorted(taps[w]) == windows[w]
    assert f"= {len(windows)} window" in summary


# ------------------------------------------------------------------------ 3. pooling
def test_pooling_windows_and_values() -> None:
    x = ((1, 5, 0, 3), (2, 4, 7, 1), (6, 2, 3, 3), (0, 8, 1, 2))
    root = _root(figures.pooling_windows(x, 2))
    groups: dict[str, list[float]] = {}
    for e in _elements(root, "text", "input", "label"):
        groups.setdefault(_class_value(e, "window"), []).append(float(_text(e)))
    # brute force: the 2x2 blocks at stride 2
    blocks = [sorted(x[i + a][j + b] for a in (0, 1) for b in (0, 1))
              for i in (0, 2) for j in (0, 2)]
    assert sorted(sorted(g) for g in groups.values()) == sorted(blocks)
    for kind, reduce in (("max", max), ("average", lambda v: sum(v) / len(v))):
        shown = {_class_value(e, "window"): float(_text(e))
                 for e in _elements(root, "text", kind, "label")}
        assert set(shown) == set(groups)
        for window, value in shown.items():
            assert value == reduce(groups[window])


def test_pooling_windows_with_a_cell_no_window_reads() -> None:
    x = np.arange(25).reshape(5, 5)
    root = _root(figures.pooling_windows(x, 2))
    unread = [e for e in _elements(root, "text", "input", "label")
              if _class_value_or_none(e, "window") is None]
    # floor((5 - 2)/2) + 1 = 2 windows per axis: the last row and column are not read
    assert sorted(int(_text(e)) for e in unread) == sorted(
        [20, 21, 22, 23, 24, 4, 9, 14, 19])
    assert len(_elements(root, "text", "max", "label")) == 4


def _class_value_or_none(e: ET.Element, prefix: str):
    try:
        return _class_value(e, prefix)
    except StopIteration:
        return None


# ------------------------------------------------------------------------ 4. |H(omega)|
def test_response_curves_match_numpy_fft() -> None:
    samples = 129
    root = _root(figures.filter_responses(GABOR, sigma=2.0, samples=samples))
    area = _elements(root, "rect", "plot-area")[0]
    x0, y0 = float(area.get("x")), float(area.get("y"))
    w, h = float(area.get("width")), float(area.get("height"))
    top = max(int(_text(e)) for e in _elements(root, "text", "y-tick"))
    # independent taps: the sampled Gaussian of width 2 on k = -8..8, normalised
    k = np.arange(-8, 9)
    gauss = np.exp(-k ** 2 / 8.0)
    kernels = [gauss / gauss.sum(), np.array([1, 2, 1]) / 4, np.array([1, 2, 1]),
               np.array([-1, 0, 1]), GABOR]
    size = 2 * (samples - 1)             # FFT bins 2 pi m / size, m = 0..samples-1: [0, pi]
    for number, taps in enumerate(kernels):
        line = _elements(root, "polyline", f"curve{number}")[0]
        pts = np.array([[float(v) for v in p.split(",")] for p in line.get("points").split()])
        omega = (pts[:, 0] - x0) / w * math.pi
        gain = (y0 + h - pts[:, 1]) / h * top
        reference = np.abs(np.fft.fft(taps, size))[:samples]
        assert np.allclose(omega, np.linspace(0, math.pi, samples), atol=1e-3)
        assert np.allclose(gain, reference, atol=2e-3 * top)
    assert top == math.ceil(4.0)         # the Sobel column [1, 2, 1] has gain 4 at 0


# ------------------------------------------------------------------------ 5. aliasing
def _row(root: ET.Element, cls: str) -> dict[int, float]:
    return {int(_class_value(e, "at")): float(_text(e))
            for e in _elements(root, "text", cls, "label")}


@pytest.mark.parametrize("signal, shift", [([(-1) ** n for n in range(8)], 1),
                                           ([4, 0, 3, 1, 2, 2, 1, 3], 1),
                                           ([4, 0, 3, 1, 2, 2, 1, 3], 2)])
def test_aliasing_rows_match_slicing(signal: list[int], shift: int) -> None:
    root = _root(figures.aliasing_shift(signal, shift=shift))
    x = list(signal)
    moved = x[-shift:] + x[:-shift]                  # circular shift by hand
    assert _row(root, "signal") == {n: v for n, v in enumerate(x)}
    assert _row(root, "shifted") == {n: v for n, v in enumerate(moved)}
    # the kept samples sit under the sample they copy: every second position
    assert _row(root, "kept") == {n: x[n] for n in range(0, len(x), 2)}
    assert _row(root, "kept-shifted") == {n: moved[n] for n in range(0, len(x), 2)}
    a, b = x[::2], moved[::2]
    matches = sum(1 for t in range(len(a)) if a[len(a) - t:] + a[:len(a) - t] == b)
    verdict = _text(_elements(root, "text", "verdict")[0])
    assert verdict.startswith("no circular shift") == (matches == 0)


# ------------------------------------------------------------------------ 6. kernel flip
@pytest.mark.parametrize("n, k", [(5, 3), (6, 2), (4, 4)])
def test_flipped_kernel_pairs_are_the_chain_rule(n: int, k: int) -> None:
    root = _root(figures.kernel_flip(n, k))
    out, pad = n - k + 1, k - 1
    pairs: dict[int, set[tuple[int, int]]] = {}
    order: dict[int, list[tuple[int, int]]] = {}
    for e in _elements(root, "rect", "tap"):
        m, t, u = (int(_class_value(e, p)) for p in ("row", "at", "w"))
        order.setdefault(m, []).append((t, u))
        if 0 <= t - pad < out:                       # a real entry of g, not padding
            pairs.setdefault(m, set()).add((t - pad, u))
    assert sorted(order) == list(range(n))
    for m in range(n):
        # the flipped kernel: weights in reverse order from left to right
        assert [u for _, u in sorted(order[m])] == list(range(k - 1, -1, -1))
        # brute force: y[i] = sum_u w[u] x[i + u], so dL/dx[m] pairs g[i] with w[u], i + u = m
        expected = {(i, u) for i in range(out) for u in range(k) if i + u == m}
        assert pairs.get(m, set()) == expected
    assert len(_elements(root, "rect", "pad")) == 2 * pad


# ------------------------------------------------------------------------ 7. architectures
def test_architecture_boxes_follow_the_size_formulas() -> None:
    root = _root(figures.architecture_stages(_downscaling_specs()))
    boxes = _elements(root, "rect", "stage")
    shapes = [tuple(int(v) for v in next(t for t in b.get("class").split()
                                         if t.startswith("shape-"))[6:].split("-"))
              for b in boxes]

    def conv(shape, c_out, k=3, s=1, p=1):
        return (c_out, (shape[1] + 2 * p - k) // s + 1, (shape[2] + 2 * p - k) // s + 1)

    def deconv(shape, c_out, k=4, s=2, p=1):
        return (c_out, (shape[1] - 1) * s - 2 * p + k, (shape[2] - 1) * s - 2 * p + k)

    first = [(6, 16, 16)]
    first.append(conv(first[-1], 64))
    first.append(conv(first[-1], 128, s=2))
    for c in (64, 32, 16):
        first.append(deconv(first[-1], c))
    first.append(conv(first[-1], 1))
    second = [(6, 16, 16)]
    for c in (64, 64, 16):
        second.append(conv(second[-1], c))
    c, hh, ww = second[-1]
    second.append((c // 16, hh * 4, ww * 4))                # pixel shuffle, r = 4
    assert shapes == first + second
    assert first[-1] == second[-1] == (1, 64, 64)
    # heights proportional to the spatial size
    ratios = {round(float(b.get("height")) / s[1], 3) for b, s in zip(boxes, shapes)}
    assert len(ratios) == 1
    kinds = [next(k for k in ("input", "conv", "deconv", "shuffle")
                  if k in b.get("class").split()) for b in boxes]
    assert kinds == ["input", "conv", "conv", "deconv", "deconv", "deconv", "conv",
                     "input", "conv", "conv", "conv", "shuffle"]
