"""Figures drawn from the engine's numbers, shared by problems.

Design rule: a figure never holds a typed-in coordinate.  Every position comes from the
engine (:func:`derive.conv.shapes.output_size` for how many units a level has,
:func:`derive.conv.receptive.receptive_field` for where a unit sits in input coordinates and
which units the top unit sees, the engine's im2col for which input cells a window reads,
:mod:`derive.conv.frequency` for frequency responses, the numeric pooling, shift, flip and
pixel-shuffle operations for drawn values); the same geometry is written once as TikZ and
once as SVG.

Builders: :func:`receptive_growth` (receptive fields), :func:`im2col_patch` (a patch
becoming a column), :func:`conv_windows` (padding, stride and dilation on a 1-D input),
:func:`pooling_windows`, :func:`filter_responses` (gains on ``[0, pi]``),
:func:`aliasing_shift` (subsampling before and after a shift), :func:`kernel_flip` (the
input gradient as a full convolution) and :func:`architecture_stages` (feature-map shapes
of networks).
"""

from __future__ import annotations

from typing import Any, Sequence


def receptive_growth(layers: Sequence[Any], *, name: str, caption: str,
                     top_units: int = 3) -> Any:
    """Rows of units, input at the bottom, one row per layer; the units that the first
    unit of the top layer sees are filled, and the input row carries a brace over its field.

    ``layers`` is a chain of :class:`derive.conv.layers.Layer` (no merges).
    """
    from derive.book import Figure
    from derive.conv.receptive import layer_geometry, receptive_field
    from derive.conv.shapes import output_size

    whole = receptive_field(layers)
    # input long enough for ``top_units`` units at the top (no padding: (n - size)/jump + 1)
    length = whole.size + (top_units - 1) * whole.jump + 2 * whole.start
    rows = []   # (label, [(centre, seen)], level field)
    n = length
    for level in range(len(layers) + 1):
        if level > 0:
            # effective kernel, stride (pooling's default included) and padding of the layer
            k, s, p = layer_geometry(layers[level - 1])
            n = output_size(n, k, padding=p, stride=s)
        here = receptive_field(layers[:level]) if level else None
        seen_first, seen_last = receptive_field(layers[level:]).interval(0) if level < len(
            layers) else (0, 0)
        units = []
        for f in range(n):
            centre = here.center(f) if here is not None else f
            units.append((float(centre), seen_first <= f <= seen_last))
        label = "input" if level == 0 else (
            f"layer {level}: R = {here.size}, J = {here.jump}")
        rows.append((label, units))
    first, last = whole.interval(0)
    return Figure(tikz=_tikz(rows, first, last, whole.size),
                  svg=_svg(rows, first, last, whole.size), caption=caption, name=name)


_CELL = 0.6     # cm per input position (TikZ)
_ROW = 1.0      # cm between rows (TikZ)
_PX = 22        # px per input position (SVG)
_PY = 44        # px between rows (SVG)
_LABEL_PX = 170  # px reserved for labels on the left (SVG)


def _tikz(rows: list, first: int, last: int, size: int) -> str:
    out = [r"\begin{tikzpicture}[font=\footnotesize]"]
    for level, (label, units) in enumerate(rows):
        y = level * _ROW
        out.append(f"\\node[anchor=east] at (-0.4,{y:.2f}) {{{label}}};")
        for centre, seen in units:
            x = centre * _CELL
            style = "fill=blue!45,draw=blue!60!black" if seen else "draw=black!40"
            out.append(f"\\draw[{style}] ({x - 0.24:.3f},{y - 0.24:.2f}) rectangle "
                       f"({x + 0.24:.3f},{y + 0.24:.2f});")
    y = -0.36
    x0, x1 = first * _CELL - 0.26, last * _CELL + 0.26
    out.append(f"\\draw ({x0:.3f},{y:.2f}) -- ({x0:.3f},{y - 0.12:.2f}) -- "
               f"({x1:.3f},{y - 0.12:.2f}) node[midway,below] "
               f"{{receptive field: {size} input positions}} -- ({x1:.3f},{y:.2f});")
    out.append(r"\end{tikzpicture}")
    return "\n".join(out)


def _svg(rows: list, first: int, last: int, size: int) -> str:
    span = max(c for _, units in rows for c, _ in units)
    width = int(_LABEL_PX + (span + 2) * _PX)
    height = int(len(rows) * _PY + 50)
    base = len(rows) * _PY - _PY // 2 + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    for level, (label, units) in enumerate(rows):
        y = base - level * _PY
        out.append(f'<text x="{_LABEL_PX - 12}" y="{y + 4}" text-anchor="end">{label}</text>')
        for centre, seen in units:
            x = _LABEL_PX + centre * _PX
            fill, stroke = ("#6f8fd8", "#23408f") if seen else ("white", "#999999")
            out.append(f'<rect x="{x - 7:.1f}" y="{y - 7}" width="14" height="14" '
                       f'fill="{fill}" stroke="{stroke}"/>')
    y = base + 16
    x0, x1 = _LABEL_PX + first * _PX - 8, _LABEL_PX + last * _PX + 8
    out.append(f'<path d="M {x0:.1f} {y} L {x0:.1f} {y + 6} L {x1:.1f} {y + 6} '
               f'L {x1:.1f} {y}" fill="none" stroke="black"/>')
    out.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{y + 22}" text-anchor="middle">'
               f'receptive field: {size} input positions</text>')
    out.append("</svg>")
    return "\n".join(out)


# ============================================================================ shared drawing
# The builders below follow the same rule: what is drawn where is read off the engine (the
# im2col patch matrix for windows, the output-size rules for counts, the frequency module
# for curves, the numeric pooling, shift and pixel-shuffle operations for values); only the
# page layout (cell sizes, margins, colours) is fixed here.  SVG numbers are written with a
# fixed format and elements carry a ``class`` naming their role, so the text is
# deterministic and a test can read the geometry back.

# (TikZ colour, SVG colour) pairs, in the order windows and curves use them
_PALETTE = (("blue!35", "#a9bef0"), ("orange!45", "#f7c98b"), ("green!35", "#aee0a8"),
            ("red!30", "#f3b0b0"), ("violet!30", "#d4bde8"), ("cyan!30", "#b3e6f0"))
_LINES = (("blue!80!black", "#1f4fb8", ""), ("red!80!black", "#c0392b", "6 3"),
          ("orange!90!black", "#d98200", "2 2"), ("green!50!black", "#2e8b3a", "8 3 2 3"),
          ("violet!80!black", "#7b3fa8", ""))
_LINE_STYLES = ("solid", "dashed", "dotted", "dash dot", "solid")
_PAD_TIKZ, _PAD_SVG = "black!12", "#e3e3e3"
_EDGE_TIKZ, _EDGE_SVG = "black!55", "#777777"


def _num(v: float, places: int = 2) -> str:
    """A coordinate with a fixed number of decimals, trailing zeros dropped, never '-0'."""
    text = f"{v:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _esc(text: str) -> str:
    """Text content of an SVG element."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _sub(base: str, sub: str, tail: str = "") -> str:
    """SVG text ``base`` with subscript ``sub`` (then ``tail`` back on the baseline)."""
    head = (f'<tspan font-style="italic">{_esc(base)}</tspan>' if len(base) == 1
            else _esc(base))
    out = f'{head}<tspan dy="4" font-size="0.75em">{_esc(sub)}</tspan>'
    if tail:
        out += f'<tspan dy="-4">{_esc(tail)}</tspan>'
    return out


def _svg_open(width: float, height: float, font: int = 12) -> list[str]:
    w, h = int(round(width)), int(round(height))
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="{font}">',
            f'<rect width="{w}" height="{h}" fill="white"/>']


def _svg_cell(x: float, y: float, size: float, fill: str, cls: str, label: str = "",
              stroke: str = _EDGE_SVG, hatch: bool = False, font: int = 0) -> list[str]:
    """A square cell with its top-left corner at ``(x, y)``, optionally labelled."""
    out = [f'<rect class="{cls}" x="{_num(x)}" y="{_num(y)}" width="{_num(size)}" '
           f'height="{_num(size)}" fill="{fill}" stroke="{stroke}"/>']
    if hatch:
        out.append(f'<path d="M {_num(x)} {_num(y + size)} L {_num(x + size)} {_num(y)}" '
                   f'stroke="#aaaaaa"/>')
    if label:
        size_attr = f' font-size="{font}"' if font else ""
        out.append(f'<text class="{cls} label" x="{_num(x + size / 2)}" '
                   f'y="{_num(y + size / 2 + 4)}" text-anchor="middle"{size_attr}>'
                   f'{label}</text>')
    return out


def _tikz_cell(x: float, y: float, size: float, fill: str = "", label: str = "",
               hatch: bool = False) -> list[str]:
    """A square cell with its bottom-left corner at ``(x, y)`` (cm), optionally labelled."""
    style = f"fill={fill},draw={_EDGE_TIKZ}" if fill else f"draw={_EDGE_TIKZ}"
    out = [f"\\draw[{style}] ({_num(x)},{_num(y)}) rectangle "
           f"({_num(x + size)},{_num(y + size)});"]
    if hatch:
        out.append(f"\\draw[black!35] ({_num(x)},{_num(y)}) -- "
                   f"({_num(x + size)},{_num(y + size)});")
    if label:
        out.append(f"\\node at ({_num(x + size / 2)},{_num(y + size / 2)}) {{{label}}};")
    return out


def _signed(v: Any) -> str:
    """An integer-valued number as text (a true minus sign in SVG)."""
    f = float(v)
    text = str(int(f)) if f.is_integer() else _num(f, 3)
    return text.replace("-", "\u2212")


def _signed_tex(v: Any) -> str:
    f = float(v)
    return "$" + (str(int(f)) if f.is_integer() else _num(f, 3)) + "$"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _figure(tikz: list[str], svg: list[str], caption: str, name: str) -> Any:
    from derive.book import Figure
    return Figure(tikz="\n".join(tikz), svg="\n".join(svg + ["</svg>"]), caption=caption,
                  name=name)


# ============================================================================ 1. im2col
def im2col_patch(size: int = 4, kernel: int = 3, *, column: int = 1,
                 name: str = "im2col patch", caption: str | None = None) -> Any:
    """A ``size`` x ``size`` input and its im2col matrix (stride 1, no padding): the patch
    of output position ``column`` (row-major) is highlighted in the input, and the column
    of the matrix it becomes.

    Every label of the matrix is read off the engine's :func:`derive.conv.im2col.im2col`
    applied to the grid of input positions, so the drawing is the engine's index map.
    """
    import numpy as np

    from derive.conv.im2col import im2col, patch_matrix_shape
    from derive.conv.shapes import output_size

    positions = np.arange(size * size, dtype=float).reshape(size, size)
    matrix = np.asarray(im2col(positions, kernel)).astype(int)
    out = output_size(size, kernel)
    if matrix.shape != patch_matrix_shape((size, size), kernel):  # pragma: no cover
        raise AssertionError("im2col and the patch-matrix shape disagree")
    rows, cols = matrix.shape
    if not 0 <= column < cols:
        raise ValueError(f"got column={column}; the matrix has {cols} columns")
    patch = {(int(v) // size, int(v) % size) for v in matrix[:, column]}
    hi_tikz, hi_svg = _PALETTE[0]

    # TikZ (cm, y upwards): matrix rows from y = 0 down, input centred beside it
    a = 0.7
    gap = 2.4
    top_in = -(rows - size) * a / 2
    mx = size * a + gap
    tikz = [r"\begin{tikzpicture}[font=\scriptsize]"]
    for i in range(size):
        for j in range(size):
            tikz += _tikz_cell(j * a, top_in - (i + 1) * a, a,
                               hi_tikz if (i, j) in patch else "", f"$x_{{{i},{j}}}$")
    tikz.append(f"\\node[above] at ({_num(size * a / 2)},{_num(top_in + 0.05)}) "
                f"{{input ${size}\\times{size}$}};")
    for c in range(cols):
        tikz.append(f"\\node[above] at ({_num(mx + (c + 0.5) * a)},0.02) "
                    f"{{$({c // out},{c % out})$}};")
        for r in range(rows):
            v = int(matrix[r, c])
            tikz += _tikz_cell(mx + c * a, -(r + 1) * a, a, hi_tikz if c == column else "",
                               f"$x_{{{v // size},{v % size}}}$")
    tikz.append(f"\\node[above] at ({_num(mx + cols * a / 2)},0.4) "
                f"{{im2col matrix ${rows}\\times{cols}$}};")
    mid = top_in - size * a / 2
    tikz.append(f"\\draw[->,thick] ({_num(size * a + 0.2)},{_num(mid)}) -- "
                f"({_num(mx - 0.2)},{_num(mid)}) node[midway,above] {{patch}} "
                f"node[midway,below] {{to column}};")
    tikz.append(r"\end{tikzpicture}")

    # SVG (px, y downwards)
    p, top, left = 34, 56, 20
    sgap = 130
    svg_mx = left + size * p + sgap
    in_top = top + (rows - size) * p / 2
    width = svg_mx + cols * p + 20
    height = top + rows * p + 20
    svg = _svg_open(width, height, 11)
    for i in range(size):
        for j in range(size):
            svg += _svg_cell(left + j * p, in_top + i * p, p,
                             hi_svg if (i, j) in patch else "white",
                             "input patch" if (i, j) in patch else "input",
                             _sub("x", f"{i},{j}"))
    svg.append(f'<text x="{_num(left + size * p / 2)}" y="{_num(in_top - 10)}" '
               f'text-anchor="middle" font-size="12">input {size}\u00d7{size}</text>')
    for c in range(cols):
        svg.append(f'<text class="column-head" x="{_num(svg_mx + (c + 0.5) * p)}" '
                   f'y="{top - 8}" text-anchor="middle">({c // out},{c % out})</text>')
        for r in range(rows):
            v = int(matrix[r, c])
            cls = f"entry col{c} row{r}" + (" chosen" if c == column else "")
            svg += _svg_cell(svg_mx + c * p, top + r * p, p,
                             hi_svg if c == column else "white", cls,
                             _sub("x", f"{v // size},{v % size}"))
    svg.append(f'<text x="{_num(svg_mx + cols * p / 2)}" y="{top - 28}" text-anchor="middle" '
               f'font-size="12">im2col matrix {rows}\u00d7{cols}</text>')
    y = in_top + size * p / 2
    x0, x1 = left + size * p + 10, svg_mx - 10
    svg.append(f'<path d="M {_num(x0)} {_num(y)} L {_num(x1)} {_num(y)} M {_num(x1 - 8)} '
               f'{_num(y - 5)} L {_num(x1)} {_num(y)} L {_num(x1 - 8)} {_num(y + 5)}" '
               f'fill="none" stroke="black" stroke-width="1.5"/>')
    svg.append(f'<text x="{_num((x0 + x1) / 2)}" y="{_num(y - 8)}" text-anchor="middle">'
               f'patch to column</text>')
    if caption is None:
        i0, j0 = column // out, column % out
        caption = (f"im2col of a {size}\u00d7{size} input for a {kernel}\u00d7{kernel} "
                   f"kernel (stride 1, no padding): each of the {cols} windows becomes a "
                   f"column of {rows} entries read row by row. The window of output "
                   f"row {i0}, column {j0} and its column of the matrix are shaded; the "
                   f"headings are the output positions (row, column).")
    return _figure(tikz, svg, caption, name)


# ============================================================================ 2. windows
def conv_windows(n: int, kernel: int, padding: int = 0, stride: int = 1, dilation: int = 1,
                 *, first: int = 3, name: str = "windows", caption: str | None = None) -> Any:
    """A 1-D input of length ``n`` padded by ``padding`` zeros on each side (padded cells
    grey and hatched), with the taps of the first ``first`` windows and of the last window
    of a convolution with the given kernel size, stride and dilation marked below it.

    The taps are the columns of the engine's im2col
    (:func:`derive.conv.im2col.im2col`) of the padded positions, and their number is checked
    against :func:`derive.conv.shapes.output_size`.
    """
    import numpy as np

    from derive.conv.im2col import im2col
    from derive.conv.shapes import output_size

    length = n + 2 * padding
    positions = np.arange(length, dtype=float)[None, :]
    taps = np.asarray(im2col(positions, (1, kernel), stride=(1, stride),
                             dilation=(1, dilation))).astype(int)
    count = output_size(n, kernel, padding=padding, stride=stride, dilation=dilation)
    if taps.shape != (kernel, count):  # pragma: no cover - the two engine rules agree
        raise AssertionError("im2col and output_size disagree on the number of windows")
    shown = list(range(min(first, count)))
    if count > len(shown):
        shown.append(count - 1)

    def is_pad(t: int) -> bool:
        return t < padding or t >= padding + n

    a = 0.34 if length > 16 else 0.55         # cm per cell
    row = 0.5
    tikz = [r"\begin{tikzpicture}[font=\scriptsize]"]
    tikz.append(f"\\node[anchor=east] at (-0.15,{_num(a / 2)}) {{padded input}};")
    for t in range(length):
        label = "" if is_pad(t) else r"{\tiny " + str(t - padding) + "}"
        tikz += _tikz_cell(t * a, 0, a, _PAD_TIKZ if is_pad(t) else "", label, is_pad(t))
    p, top, left = 20 if length > 16 else 30, 30, 110
    width = left + length * p + 20
    rows_svg = len(shown) + (1 if count > first else 0)
    height = top + p + 22 * rows_svg + 60
    svg = _svg_open(width, height, 11)
    svg.append(f'<text x="{left - 8}" y="{_num(top + p / 2 + 4)}" text-anchor="end">'
               f'padded input</text>')
    for t in range(length):
        svg += _svg_cell(left + t * p, top, p, _PAD_SVG if is_pad(t) else "white",
                         "pad" if is_pad(t) else "cell",
                         "" if is_pad(t) else str(t - padding), hatch=is_pad(t),
                         font=9 if p < 25 else 0)
    level = 0
    for number, window in enumerate(shown):
        level += 1
        if number == len(shown) - 1 and count > first:
            # the windows skipped between the first ones and the last one
            tikz.append(f"\\node at ({_num(taps[0, window] * a + a / 2)},"
                        f"{_num(-level * row + a / 2)}) {{$\\vdots$}};")
            svg.append(f'<text x="{_num(left + taps[0, window] * p + p / 2)}" '
                       f'y="{_num(top + p + level * 22 - 2)}" text-anchor="middle">'
                       f'\u22ee</text>')
            level += 1
        tc, sc = _LINES[number % len(_LINES)][:2]
        y = -level * row + a / 2
        sy = top + p + level * 22 - 6
        lo, hi = int(taps[0, window]), int(taps[-1, window])
        tikz.append(f"\\node[anchor=east] at (-0.15,{_num(y)}) {{window {window}}};")
        tikz.append(f"\\draw[{tc},thick] ({_num(lo * a + a / 2)},{_num(y)}) -- "
                    f"({_num(hi * a + a / 2)},{_num(y)});")
        svg.append(f'<text x="{left - 8}" y="{_num(sy + 4)}" text-anchor="end">'
                   f'window {window}</text>')
        svg.append(f'<path d="M {_num(left + lo * p + p / 2)} {_num(sy)} L '
                   f'{_num(left + hi * p + p / 2)} {_num(sy)}" stroke="{sc}" '
                   f'stroke-width="2"/>')
        for t in taps[:, window]:
            tikz.append(f"\\fill[{tc}] ({_num(int(t) * a + a / 2)},{_num(y)}) circle (0.08);")
            svg.append(f'<circle class="tap window{window}" cx="{_num(left + int(t) * p + p / 2)}" '
                       f'cy="{_num(sy)}" r="4.5" fill="{sc}"/>')
    tikz.append(f"\\node[anchor=west] at (0,{_num(-(level + 1) * row + a / 2)}) "
                "{$H_{\\mathrm{out}} = " + f"{count}$ {'window' if count == 1 else 'windows'}: "
                f"$K = {kernel}$, $P = {padding}$, $S = {stride}$, $D = {dilation}$}};")
    svg.append(f'<text class="summary" x="{left}" y="{_num(top + p + (level + 1) * 22 + 8)}">'
               f'{_sub("H", "out", f" = {count} ")}{"window" if count == 1 else "windows"}: '
               f'K = {kernel}, P = {padding}, S = {stride}, D = {dilation}</text>')
    tikz.append(r"\end{tikzpicture}")
    if caption is None:
        caption = (f"The windows of a convolution with kernel size {kernel}, padding "
                   f"{padding}, stride {stride} and dilation {dilation} on an input of length "
                   f"{n} (cells numbered from 0). Padded cells are grey; a dot marks each "
                   f"position a window reads: window $i$ starts $i$ strides from the left "
                   f"end of the padded input and its taps are one dilation apart. "
                   f"{_plural(count, 'window')} fit.")
    return _figure(tikz, svg, caption, name)


# ============================================================================ 3. pooling
def pooling_windows(x: Any, kernel: int = 2, stride: int | None = None, *,
                    name: str = "pooling windows", caption: str | None = None,
                    note: str = "") -> Any:
    """A 2-D input with its pooling windows in colours, next to the max-pooled and the
    average-pooled outputs, each output cell in the colour of its window.  ``note`` is
    added to the default caption (say where the input comes from).

    The windows are the columns of the engine's im2col of the grid of input positions
    (their number per axis checked against :func:`derive.conv.shapes.pool_output_size`);
    the pooled values are the engine's :func:`derive.numeric.max_pool2d` and
    :func:`derive.numeric.avg_pool2d`.
    """
    import numpy as np

    from derive.conv.im2col import im2col
    from derive.conv.shapes import pool_output_size
    from derive.numeric import avg_pool2d, max_pool2d

    values = np.asarray(x)
    h, w = values.shape
    s = kernel if stride is None else stride
    oh, ow = pool_output_size(h, kernel, stride=s), pool_output_size(w, kernel, stride=s)
    positions = np.arange(h * w, dtype=float).reshape(h, w)
    windows = np.asarray(im2col(positions, kernel, stride=s)).astype(int)
    if windows.shape[1] != oh * ow:  # pragma: no cover - the two engine rules agree
        raise AssertionError("im2col and pool_output_size disagree on the windows")
    owner: dict[tuple[int, int], int] = {}
    for c in range(windows.shape[1]):
        for v in windows[:, c]:
            owner.setdefault((int(v) // w, int(v) % w), c)
    pooled = {"max": max_pool2d(values[None].astype(float), kernel, s)[0],
              "average": avg_pool2d(values[None].astype(float), kernel, s)[0]}

    a = 0.75
    tikz = [r"\begin{tikzpicture}[font=\small]"]
    p, top, left = 40, 40, 20
    gap_px = 60
    width = left + (w + ow * 2) * p + 2 * gap_px + 20
    height = top + h * p + 20
    svg = _svg_open(width, height, 13)

    for i in range(h):
        for j in range(w):
            c = owner.get((i, j))        # None: a cell no window reads
            tc, sc = _PALETTE[c % len(_PALETTE)] if c is not None else ("", "white")
            tikz.extend(_tikz_cell(j * a, (h - i - 1) * a, a, tc, _signed_tex(values[i, j])))
            svg.extend(_svg_cell(left + j * p, top + i * p, p, sc, f"input window{c}",
                                 _signed(values[i, j])))
    tikz.append(f"\\node[above] at ({_num(w * a / 2)},{_num(h * a)}) {{input}};")
    svg.append(f'<text x="{_num(left + w * p / 2)}" y="{top - 10}" text-anchor="middle">'
               f'input</text>')
    # outputs, bottom-aligned with the input
    x_t = w * a + 1.0
    x_s = left + w * p + gap_px
    for kind in ("max", "average"):
        out = pooled[kind]
        shift_t = (h - out.shape[0]) * a / 2
        shift_s = (h - out.shape[0]) * p / 2
        rows_, cols_ = out.shape
        for i in range(rows_):
            for j in range(cols_):
                c = i * ow + j
                tc, sc = _PALETTE[c % len(_PALETTE)]
                tikz.extend(_tikz_cell(x_t + j * a, (rows_ - i - 1) * a + shift_t, a, tc,
                                       _signed_tex(out[i, j])))
                svg.extend(_svg_cell(x_s + j * p, top + i * p + shift_s, p, sc,
                                     f"{kind} window{c}", _signed(out[i, j])))
        tikz.append(f"\\node[above] at ({_num(x_t + cols_ * a / 2)},"
                    f"{_num(rows_ * a + shift_t)}) {{{kind}}};")
        svg.append(f'<text x="{_num(x_s + cols_ * p / 2)}" y="{_num(top + shift_s - 10)}" '
                   f'text-anchor="middle">{kind}</text>')
        x_t += cols_ * a + 1.0
        x_s += cols_ * p + gap_px
    tikz.append(r"\end{tikzpicture}")
    if caption is None:
        caption = (f"Pooling a {h}\u00d7{w} input with a {kernel}\u00d7{kernel} window at "
                   f"stride {s}: the {_plural(oh * ow, 'window')} are shaded in different "
                   f"colours, and each output cell (maximum, then average of its window) "
                   f"has the colour of its window." + (" " + note if note else ""))
    return _figure(tikz, svg, caption, name)


# ============================================================================ 4. |H(omega)|
def filter_responses(gabor: Any, *, sigma: float, samples: int = 129,
                     name: str = "frequency responses", caption: str | None = None) -> Any:
    """``|H(omega)|`` on ``[0, pi]`` of the kernels of exercise 8.26: the sampled Gaussian
    of width ``sigma`` (:func:`derive.conv.frequency.gaussian_kernel`), the binomial
    ``[1, 2, 1]/4`` (:func:`derive.conv.frequency.binomial_kernel`), the two 1-D factors of
    the Sobel kernel (:func:`derive.conv.frequency.separable_factors`: the smoothing column
    and the differencing row) and the Gabor kernel with taps ``gabor``.

    Every curve is sampled at ``samples`` equally spaced frequencies from the engine's
    response (:func:`derive.conv.frequency.frequency_response`, ``magnitude_at``).
    """
    import math

    import numpy as np

    from derive.conv.frequency import (
        SOBEL_X, binomial_kernel, frequency_response, gaussian_kernel, separable_factors,
    )

    column, row = separable_factors(SOBEL_X)
    kernels = [
        (f"Gaussian, $\\sigma = {_num(sigma)}$", f"Gaussian, \u03c3 = {_num(sigma)}",
         [float(v) for v in gaussian_kernel(sigma)]),
        ("binomial $[1, 2, 1]/4$", "binomial [1, 2, 1]/4", list(binomial_kernel(2))),
        ("Sobel, smoothing column $[1, 2, 1]$", "Sobel, smoothing column [1, 2, 1]",
         list(column)),
        ("Sobel, differencing row $[-1, 0, 1]$", "Sobel, differencing row [\u22121, 0, 1]",
         list(row)),
        ("Gabor", "Gabor", [float(v) for v in gabor]),
    ]
    grid = np.linspace(0.0, math.pi, samples)
    curves = [(tex, text, np.asarray(frequency_response(taps).magnitude_at(grid), float))
              for tex, text, taps in kernels]
    top = max(1, math.ceil(max(float(c.max()) for _, _, c in curves) - 1e-9))

    # TikZ: 9 cm by 5 cm plot area
    pw, ph = 9.0, 5.0
    tikz = [r"\begin{tikzpicture}[font=\small]"]
    tikz.append(f"\\draw[black!60] (0,0) rectangle ({_num(pw)},{_num(ph)});")
    for frac, label in ((0.0, "$0$"), (0.25, r"$\pi/4$"), (0.5, r"$\pi/2$"),
                        (0.75, r"$3\pi/4$"), (1.0, r"$\pi$")):
        xx = frac * pw
        tikz.append(f"\\draw[black!15] ({_num(xx)},0) -- ({_num(xx)},{_num(ph)});")
        tikz.append(f"\\node[below] at ({_num(xx)},0) {{{label}}};")
    for k in range(top + 1):
        yy = k / top * ph
        tikz.append(f"\\draw[black!15] (0,{_num(yy)}) -- ({_num(pw)},{_num(yy)});")
        tikz.append(f"\\node[left] at (0,{_num(yy)}) {{${k}$}};")
    tikz.append(f"\\node[below] at ({_num(pw / 2)},-0.45) {{frequency $\\omega$}};")
    tikz.append(f"\\node[rotate=90] at (-0.75,{_num(ph / 2)}) {{gain $|H(\\omega)|$}};")
    for number, (tex, _, mag) in enumerate(curves):
        colour, _, _ = _LINES[number]
        style = _LINE_STYLES[number]
        points = " ".join(f"({_num(float(w_) / math.pi * pw, 3)},"
                          f"{_num(float(m_) / top * ph, 3)})" for w_, m_ in zip(grid, mag))
        tikz.append(f"\\draw[{colour},{style},thick] plot coordinates {{{points}}};")
        ly = ph - 0.3 - 0.5 * number            # legend, right of the plot area
        tikz.append(f"\\draw[{colour},{style},thick] ({_num(pw + 0.3)},{_num(ly)}) -- "
                    f"({_num(pw + 1.0)},{_num(ly)}) node[right,black] {{\\footnotesize {tex}}};")
    tikz.append(r"\end{tikzpicture}")

    # SVG: the same plot, 420 x 240 px plot area
    sw, sh, x0, y0 = 420, 240, 60, 20
    svg = _svg_open(x0 + sw + 260, y0 + sh + 55, 12)
    svg.append(f'<rect class="plot-area" x="{x0}" y="{y0}" width="{sw}" height="{sh}" '
               f'fill="none" stroke="#999999"/>')
    for frac, label in ((0.0, "0"), (0.25, "\u03c0/4"), (0.5, "\u03c0/2"), (0.75, "3\u03c0/4"),
                        (1.0, "\u03c0")):
        xx = x0 + frac * sw
        svg.append(f'<path d="M {_num(xx)} {y0} L {_num(xx)} {y0 + sh}" stroke="#e6e6e6"/>')
        svg.append(f'<text x="{_num(xx)}" y="{y0 + sh + 16}" text-anchor="middle">'
                   f'{label}</text>')
    for k in range(top + 1):
        yy = y0 + sh - k / top * sh
        svg.append(f'<path d="M {x0} {_num(yy)} L {x0 + sw} {_num(yy)}" stroke="#e6e6e6"/>')
        svg.append(f'<text class="y-tick" x="{x0 - 6}" y="{_num(yy + 4)}" '
                   f'text-anchor="end">{k}</text>')
    svg.append(f'<text x="{x0 + sw / 2}" y="{y0 + sh + 36}" text-anchor="middle">frequency '
               f'<tspan font-style="italic">\u03c9</tspan></text>')
    svg.append(f'<text x="16" y="{_num(y0 + sh / 2)}" text-anchor="middle" '
               f'transform="rotate(-90 16 {_num(y0 + sh / 2)})">gain |<tspan '
               f'font-style="italic">H</tspan>(<tspan font-style="italic">\u03c9</tspan>)|'
               f'</text>')
    for number, (_, text, mag) in enumerate(curves):
        _, colour, dash = _LINES[number]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        points = " ".join(f"{_num(x0 + float(w_) / math.pi * sw)},"
                          f"{_num(y0 + sh - float(m_) / top * sh)}" for w_, m_ in zip(grid, mag))
        svg.append(f'<polyline class="curve curve{number}" points="{points}" fill="none" '
                   f'stroke="{colour}" stroke-width="2"{dash_attr}/>')
        ly = y0 + 16 + 18 * number
        lx = x0 + sw + 14
        svg.append(f'<path d="M {lx} {ly} L {lx + 30} {ly}" stroke="{colour}" '
                   f'stroke-width="2"{dash_attr}/>')
        svg.append(f'<text class="legend" x="{lx + 36}" y="{ly + 4}">{_esc(text)}</text>')
    if caption is None:
        caption = (f"Gain of each kernel at frequency $omega$ from $0$ to $pi$, from the "
                   f"engine's frequency response ({samples} samples). The Gaussian and the "
                   f"binomial kernel are low-pass; the Sobel kernel smooths along its column "
                   f"(low-pass) and differences along its row (zero gain at frequency 0, "
                   f"largest at the middle frequency); the Gabor kernel is band-pass, "
                   f"peaking near its carrier frequency.")
    return _figure(tikz, svg, caption, name)


# ============================================================================ 5. aliasing
def aliasing_shift(signal: Sequence[Any], *, stride: int = 2, shift: int = 1,
                   name: str = "aliasing under a shift", caption: str | None = None,
                   note: str = "") -> Any:
    """A 1-D signal and its circular shift by ``shift`` samples, each with its subsampling
    at ``stride`` (the samples kept are shaded and drawn again below, under their position).
    ``note`` is added to the default caption.

    The shift is the engine's :func:`derive.conv.equivariance.circular_shift`; the
    subsampling is the engine's convolution (:func:`derive.numeric.conv2d`) with the 1x1
    kernel 1 at stride ``stride``, and its length is checked against
    :func:`derive.conv.shapes.output_size`.  Every circular shift of the first output is
    compared with the second; the figure says how many match.
    """
    import numpy as np

    from derive.conv.equivariance import circular_shift
    from derive.conv.shapes import output_size
    from derive.numeric import conv2d

    x = np.asarray(signal, dtype=float)
    n = x.size
    moved = circular_shift(x[None, :], (0, shift))[0]
    one = np.ones((1, 1, 1, 1))

    def subsample(v: Any) -> Any:
        return conv2d(v[None, None, None, :], one, stride=(1, stride))[0, 0, 0]

    kept = (subsample(x), subsample(moved))
    m = output_size(n, 1, stride=stride)
    if kept[0].size != m:  # pragma: no cover - the two engine rules agree
        raise AssertionError("the subsampling and output_size disagree")
    matches = sum(1 for t in range(m) if np.array_equal(np.roll(kept[0], t), kept[1]))

    ex = '<tspan font-style="italic">x</tspan>'
    rows = [("signal $x$", f"signal {ex}", x, "signal", True),
            ("kept samples", "kept samples", kept[0], "kept", False),
            (f"$x$ shifted by {shift}", f"{ex} shifted by {shift}", moved, "shifted", True),
            ("kept samples", "kept samples", kept[1], "kept-shifted", False)]
    a, row_gap = 0.6, 0.35
    hi_t, hi_s = _PALETTE[0]
    tikz = [r"\begin{tikzpicture}[font=\small]"]
    p, top, left = 34, 16, 130
    width = left + max(n * p, 400) + 20
    height = top + 4 * p + 3 * 14 + 2 * 18 + 40
    svg = _svg_open(width, height, 13)
    y_t, y_s = 0.0, float(top)
    for number, (tex, text, values, cls, full) in enumerate(rows):
        if number == 2:                       # a gap between the two pairs
            y_t -= 0.35
            y_s += 18
        tikz.append(f"\\node[anchor=east] at (-0.15,{_num(y_t - a / 2)}) {{{tex}}};")
        svg.append(f'<text x="{left - 10}" y="{_num(y_s + p / 2 + 4)}" text-anchor="end">'
                   f'{text}</text>')
        for k, v in enumerate(values):
            position = k if full else k * stride
            shade = full and position % stride == 0
            tikz += _tikz_cell(position * a, y_t - a, a, hi_t if shade or not full else "",
                               _signed_tex(v))
            svg += _svg_cell(left + position * p, y_s, p, hi_s if shade or not full else
                             "white", f"{cls} at{position}", _signed(v))
            if not full:   # an arrow from the kept sample down to its copy
                xc = position * a + a / 2
                tikz.append(f"\\draw[->,black!50] ({_num(xc)},{_num(y_t + row_gap)}) -- "
                            f"({_num(xc)},{_num(y_t + 0.03)});")
                xs = left + position * p + p / 2
                svg.append(f'<path d="M {_num(xs)} {_num(y_s - 13)} L {_num(xs)} '
                           f'{_num(y_s - 2)}" stroke="#999999"/>')
        y_t -= a + row_gap
        y_s += p + 14
    verdict = ("no circular shift of the first output equals the second" if matches == 0
               else f"{_plural(matches, 'circular shift')} of the first output "
                    f"{'equals' if matches == 1 else 'equal'} the second")
    tikz.append(f"\\node[anchor=west] at (0,{_num(y_t + row_gap - 0.45)}) {{{verdict}}};")
    svg.append(f'<text class="verdict" x="{left}" y="{_num(y_s + 8)}">{verdict}</text>')
    tikz.append(r"\end{tikzpicture}")
    if caption is None:
        caption = (f"Subsampling with stride {stride} (keeping the shaded samples) before and "
                   f"after a circular shift of the input by {_plural(shift, 'sample')}: the "
                   f"shift moves the input onto the samples that were dropped, so the output "
                   f"changes instead of shifting." + (" " + note if note else ""))
    return _figure(tikz, svg, caption, name)


# ============================================================================ 6. kernel flip
def kernel_flip(n: int, kernel: int, *, name: str = "kernel flip",
                caption: str | None = None) -> Any:
    """The input gradient of a 1-D convolution (stride and dilation 1, no padding) as a
    full convolution: the upstream gradient ``g`` (length ``n - kernel + 1``) padded by
    ``kernel - 1`` zeros on each side, and the flipped kernel at each of its ``n``
    positions, the one at position ``m`` giving ``dL/dx[m]``.

    The lengths come from :func:`derive.conv.shapes.output_size` and
    :func:`derive.conv.shapes.full_padding`, the flip from the engine's backward pass
    (:func:`derive.numeric.backward.flip_kernel`) and the positions from the engine's
    im2col of the padded gradient.
    """
    import numpy as np

    from derive.conv.im2col import im2col
    from derive.conv.shapes import full_padding, output_size
    from derive.numeric.backward import flip_kernel

    out = output_size(n, kernel)                    # length of g
    pad = full_padding(kernel)
    length = out + 2 * pad
    positions = np.arange(length, dtype=float)[None, :]
    windows = np.asarray(im2col(positions, (1, kernel))).astype(int)
    if windows.shape[1] != output_size(out, kernel, padding=pad) or windows.shape[1] != n:
        # pragma: no cover - a full convolution of the output returns to the input length
        raise AssertionError("the full convolution does not return to the input length")
    flipped = flip_kernel(np.arange(kernel, dtype=float).reshape(1, 1, 1, kernel))[0, 0, 0]
    taps = [int(v) for v in flipped]                # tap t of the flipped kernel is w[taps[t]]

    def is_pad(t: int) -> bool:
        return t < pad or t >= pad + out

    a, row = 0.62, 0.72
    hi_t, hi_s = _PALETTE[1]
    tikz = [r"\begin{tikzpicture}[font=\small]"]
    tikz.append(f"\\node[anchor=east] at (-0.15,{_num(a / 2)}) "
                f"{{$g$ padded by $K - 1 = {pad}$}};")
    p, top, left = 36, 14, 170
    width = left + length * p + 150
    height = top + (n + 1) * (p + 8) + 20
    svg = _svg_open(width, height, 13)
    svg.append(f'<text x="{left - 10}" y="{_num(top + p / 2 + 4)}" text-anchor="end">'
               f'<tspan font-style="italic">g</tspan> padded by K \u2212 1 = {pad}</text>')
    for t in range(length):
        if is_pad(t):
            tikz += _tikz_cell(t * a, 0, a, _PAD_TIKZ, "$0$", hatch=False)
            svg += _svg_cell(left + t * p, top, p, _PAD_SVG, "pad", "0")
        else:
            tikz += _tikz_cell(t * a, 0, a, "", f"$g_{{{t - pad}}}$")
            svg += _svg_cell(left + t * p, top, p, "white", f"g at{t}", _sub("g", str(t - pad)))
    for m in range(n):
        y = -(m + 1) * row
        sy = top + (m + 1) * (p + 8)
        for tap, t in enumerate(windows[:, m]):
            t = int(t)
            tikz += _tikz_cell(t * a, y, a, hi_t, f"$w_{{{taps[tap]}}}$")
            svg += _svg_cell(left + t * p, sy, p, hi_s, f"tap row{m} at{t} w{taps[tap]}",
                             _sub("w", str(taps[tap])))
        end = int(windows[-1, m]) + 1
        tikz.append(f"\\node[anchor=west] at ({_num(end * a + 0.1)},{_num(y + a / 2)}) "
                    f"{{$\\to \\partial L/\\partial x_{{{m}}}$}};")
        svg.append(f'<text x="{_num(left + end * p + 8)}" y="{_num(sy + p / 2 + 4)}">'
                   f'\u2192 \u2202L/\u2202{_sub("x", str(m))}</text>')
    tikz.append(r"\end{tikzpicture}")
    if caption is None:
        caption = (f"The input gradient as a full convolution (stride and dilation 1, no "
                   f"padding, kernel size {kernel} and an input of length {n}, so $g$ has "
                   f"{'1 entry' if out == 1 else f'{out} entries'}): $g$ is padded by "
                   f"{_plural(pad, 'zero')} (the kernel size minus 1) on each side and the "
                   f"kernel $w$, flipped (its weights in "
                   f"reverse order), slides over it. At position $m$ it covers exactly the "
                   f"entries of $g$ whose forward windows read input position $m$, and pairs "
                   f"each with the weight that multiplied that input: their sum is the "
                   f"gradient with respect to input $m$.")
    return _figure(tikz, svg, caption, name)


# ============================================================================ 7. architectures
_STAGE_COLOURS = {"input": ("black!12", "#e3e3e3"), "conv": _PALETTE[0],
                  "deconv": _PALETTE[1], "shuffle": _PALETTE[2]}
_STAGE_WORDS = {"input": "input", "conv": "convolution", "deconv": "transposed convolution",
                "shuffle": "pixel shuffle"}
_STAGE_SHORT = {"input": "input", "conv": "conv", "deconv": "transposed conv",
                "shuffle": "pixel shuffle"}


def _stages(spec: Any, shuffle: int | None) -> list[tuple[str, tuple[int, int, int], str]]:
    """``(kind, (C, H, W), description)`` after every convolution-like layer of ``spec``
    (activations change no shape and get no box), then the pixel shuffle if any."""
    import numpy as np

    from derive.conv.shapes import output_size, transposed_output_size
    from derive.numeric import pixel_shuffle

    shape = tuple(spec.input_shape)
    out = [("input", shape, "")]
    for layer in spec.features:
        c, h, w = shape
        if layer.kind == "conv":
            size = (output_size(h, layer.kernel, layer.padding, layer.stride),
                    output_size(w, layer.kernel, layer.padding, layer.stride))
        elif layer.kind == "deconv":
            size = (transposed_output_size(h, layer.kernel, layer.padding, layer.stride),
                    transposed_output_size(w, layer.kernel, layer.padding, layer.stride))
        else:
            continue
        shape = (layer.out_channels, *size)
        words = f"{layer.kernel}\u00d7{layer.kernel}" + (
            f", stride {layer.stride}" if layer.stride != 1 else "")
        out.append((layer.kind, shape, words))
    if shuffle:
        shape = tuple(pixel_shuffle(np.zeros(shape), shuffle).shape)
        out.append(("shuffle", shape, f"factor {shuffle}"))
    return out


def architecture_stages(designs: Sequence[Any], *, name: str = "architectures",
                        caption: str | None = None) -> Any:
    """Each design as a row of boxes, one per feature map: the input, the output of every
    convolution and transposed convolution, and of a final pixel shuffle.  A box's height
    is proportional to the spatial size and its width grows with the number of channels
    (``0.25 + 0.16 log2 C`` cm); the label gives the layer type and ``C x H x W``.

    ``designs`` holds :class:`derive.arch.spec.Architecture` specs, or ``(spec, r)`` pairs
    for a spec followed by a pixel shuffle with factor ``r``.  Shapes come from
    :func:`derive.conv.shapes.output_size`, :func:`derive.conv.shapes.transposed_output_size`
    and the engine's :func:`derive.numeric.pixel_shuffle`.
    """
    import math

    rows = []
    for design in designs:
        spec, factor = design if isinstance(design, tuple) else (design, None)
        rows.append((spec.name, _stages(spec, factor)))
    numerals = ("i", "ii", "iii", "iv", "v", "vi")
    tallest = max(shape[1] for _, stages in rows for _, shape, _ in stages)
    unit = 2.4 / tallest                      # cm per row of pixels: the tallest box 2.4 cm

    def box_width(channels: int) -> float:
        return 0.25 + 0.16 * math.log2(channels)

    slot = 2.4
    tikz = [r"\begin{tikzpicture}[font=\scriptsize]"]
    sx, px_per_cm = 20, 48
    longest = max(len(stages) for _, stages in rows)
    width = sx + longest * slot * px_per_cm + 20
    band = 2.4 + 2.0                         # cm per design: tallest box, title and labels
    height = len(rows) * band * px_per_cm + 50
    svg = _svg_open(width, height, 11)
    base = 0.0
    kinds_used: list[str] = []
    for number, (title, stages) in enumerate(rows):
        mid = base - 0.55 - 1.2                       # centre line of the boxes
        tikz.append(f"\\node[anchor=west,font=\\small] at (0,{_num(base - 0.2)}) "
                    f"{{({numerals[number]}) {title}}};")
        svg_mid = (-mid) * px_per_cm + 20
        svg.append(f'<text x="{sx}" y="{_num((-base + 0.3) * px_per_cm + 20)}" '
                   f'font-size="13">({numerals[number]}) {_esc(title)}</text>')
        for k, (kind, (c, h, w), words) in enumerate(stages):
            if kind not in kinds_used:
                kinds_used.append(kind)
            bw, bh = box_width(c), h * unit
            cx = k * slot + slot / 2
            tc, sc = _STAGE_COLOURS[kind]
            tikz.append(f"\\draw[fill={tc},draw={_EDGE_TIKZ}] ({_num(cx - bw / 2)},"
                        f"{_num(mid - bh / 2)}) rectangle ({_num(cx + bw / 2)},"
                        f"{_num(mid + bh / 2)});")
            lines = [_STAGE_SHORT[kind]] + ([words] if words else [])
            tex_lines = [v.replace("\u00d7", r"$\times$") for v in lines]
            text = r" \\ ".join(tex_lines + [f"${c}\\times{h}\\times{w}$"])
            tikz.append(f"\\node[align=center,anchor=north] at ({_num(cx)},{_num(mid - 1.3)}) "
                        f"{{{text}}};")
            x_px, y_px = sx + (cx - bw / 2) * px_per_cm, svg_mid - bh / 2 * px_per_cm
            svg.append(f'<rect class="stage {kind} shape-{c}-{h}-{w}" x="{_num(x_px)}" '
                       f'y="{_num(y_px)}" width="{_num(bw * px_per_cm)}" '
                       f'height="{_num(bh * px_per_cm)}" fill="{sc}" stroke="{_EDGE_SVG}"/>')
            ly = svg_mid + 1.3 * px_per_cm + 12
            for line in lines:
                svg.append(f'<text x="{_num(sx + cx * px_per_cm)}" y="{_num(ly)}" '
                           f'text-anchor="middle">{_esc(line)}</text>')
                ly += 13
            svg.append(f'<text class="shape" x="{_num(sx + cx * px_per_cm)}" '
                       f'y="{_num(ly)}" text-anchor="middle">{c}\u00d7{h}\u00d7{w}</text>')
            if k:
                prev_w = box_width(stages[k - 1][1][0])
                x0, x1 = (k - 1) * slot + slot / 2 + prev_w / 2 + 0.08, cx - bw / 2 - 0.08
                tikz.append(f"\\draw[->,black!60] ({_num(x0)},{_num(mid)}) -- "
                            f"({_num(x1)},{_num(mid)});")
                a0, a1 = sx + x0 * px_per_cm, sx + x1 * px_per_cm
                svg.append(f'<path d="M {_num(a0)} {_num(svg_mid)} L {_num(a1)} '
                           f'{_num(svg_mid)} M {_num(a1 - 5)} {_num(svg_mid - 3)} L '
                           f'{_num(a1)} {_num(svg_mid)} L {_num(a1 - 5)} {_num(svg_mid + 3)}" '
                           f'fill="none" stroke="#888888"/>')
        base -= band
    tikz.append(r"\end{tikzpicture}")
    if caption is None:
        kinds = ", ".join(_STAGE_WORDS[k] for k in kinds_used[1:])
        caption = (f"The feature maps of each design, from the engine's shape rules: a box "
                   f"per map (input, then after each {kinds}), its height proportional to "
                   f"the spatial size and its width growing with the number of channels; "
                   f"labels give the layer and channels \u00d7 height \u00d7 width. "
                   f"Activations change no shape and are left out.")
    return _figure(tikz, svg, caption, name)
