"""Plots drawn from stored experiment results: pgfplots for the book, SVG for the docs.

Both are pure functions of the numbers given (fixed decimals, no dates), so a page built
from the same stored results has the same bytes on every machine.
"""

from __future__ import annotations

import math
from typing import Sequence

from derive.book.model import Figure
from derive.errors import InputError
from derive.render.escape import escape_latex

Series = tuple[str, Sequence[float], Sequence[float]]   # (legend label, xs, ys)

# (pgfplots colour, SVG colour, pgfplots mark): told apart by mark as well as by colour.
STYLES = (("blue!70!black", "#23408f", "*"), ("red!70!black", "#b03030", "square*"),
          ("green!45!black", "#2e7d32", "triangle*"), ("orange!85!black", "#d9822b", "diamond*"),
          ("violet!80!black", "#6a3d9a", "pentagon*"), ("gray!80!black", "#555555", "o"),
          ("cyan!60!black", "#1f8a99", "x"), ("brown!80!black", "#8c564b", "+"))

W, H, LEFT, TOP, BOTTOM, LEGEND_W = 480, 250, 64, 14, 44, 170    # SVG geometry (px)


def line_plot(name: str, series: Sequence[Series], *, xlabel: str, ylabel: str,
              caption: str, log_y: bool = False) -> Figure:
    """A line plot with one line per series (at most eight).

    >>> f = line_plot("demo", [("a", [0, 1, 2], [1.0, 0.5, 0.25])], xlabel="epoch",
    ...               ylabel="loss", caption="A demo.", log_y=True)
    >>> "ymode=log" in f.tikz and f.svg.startswith("<svg")
    True
    """
    if not series or len(series) > len(STYLES):
        raise InputError(f"got {len(series)} series for plot {name!r}; give 1 to "
                         f"{len(STYLES)}")
    for label, xs, ys in series:
        if len(xs) != len(ys) or not xs:
            raise InputError(f"series {label!r} of plot {name!r} has {len(xs)} x values and "
                             f"{len(ys)} y values")
        if log_y and any(y <= 0 for y in ys):
            raise InputError(f"series {label!r} of plot {name!r} has a value <= 0 on a log "
                             "scale")
    return Figure(tikz=_tikz(series, xlabel, ylabel, log_y), svg=_svg(series, xlabel, ylabel,
                                                                       log_y),
                  caption=caption, name=name)


def _num(v: float) -> str:
    """A coordinate with at most six significant digits and no exponent noise."""
    if v == 0:
        return "0"
    return f"{v:.6g}"


def _tikz(series: Sequence[Series], xlabel: str, ylabel: str, log_y: bool) -> str:
    opts = [r"width=0.92\linewidth", "height=6.2cm", f"xlabel={{{escape_latex(xlabel)}}}",
            f"ylabel={{{escape_latex(ylabel)}}}", "grid=major",
            "grid style={gray!25}", r"legend style={font=\footnotesize,cells={anchor=west}}",
            "legend pos=outer north east", r"tick label style={font=\footnotesize}",
            r"label style={font=\small}", "scaled ticks=false"]
    if log_y:
        opts.append("ymode=log")
    xs_all = [float(x) for _, xs, _ in series for x in xs]
    if all(x.is_integer() for x in xs_all):   # epochs, layers: no tick between two of them
        opts.append("xtick={" + ",".join(_num(t) for t in x_ticks(xs_all)) + "}")
    lines = [r"\begin{tikzpicture}", r"\begin{axis}[" + ",\n  ".join(opts) + "]"]
    for (label, xs, ys), (colour, _, mark) in zip(series, STYLES):
        points = " ".join(f"({_num(x)},{_num(y)})" for x, y in zip(xs, ys))
        lines.append(f"\\addplot[color={colour},mark={mark},mark size=1.3pt,thick] "
                     f"coordinates {{{points}}};")
        lines.append(f"\\addlegendentry{{{escape_latex(label)}}}")
    lines += [r"\end{axis}", r"\end{tikzpicture}"]
    return "\n".join(lines)


def x_ticks(xs: Sequence[float]) -> list[float]:
    """Round ticks covering the x values; whole numbers only when the values all are.

    >>> x_ticks([1, 2, 3, 4, 5, 6, 7])
    [1, 2, 3, 4, 5, 6, 7]
    >>> x_ticks([0.0, 0.5, 0.9])
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    """
    ticks = nice_ticks(min(xs), max(xs))
    if all(float(x).is_integer() for x in xs) and not all(float(t).is_integer() for t in ticks):
        lo, hi = math.floor(min(xs)), math.ceil(max(xs))
        step = max(1, math.ceil((hi - lo) / 8))
        ticks = [float(t) for t in range(lo, hi + step, step)]
    return ticks


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Round tick values covering ``[lo, hi]``.

    >>> nice_ticks(0, 1)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    """
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / target
    step = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * step >= raw:
            step *= m
            break
    start = math.floor(lo / step + 1e-9)
    stop = math.ceil(hi / step - 1e-9)
    return [round(k * step, 10) for k in range(start, stop + 1)]


def _svg(series: Sequence[Series], xlabel: str, ylabel: str, log_y: bool) -> str:
    from html import escape

    xs_all = [float(x) for _, xs, _ in series for x in xs]
    f = (lambda y: math.log10(y)) if log_y else float
    ys_all = [f(y) for _, _, ys in series for y in ys]
    xt = x_ticks(xs_all)
    if log_y:   # powers of ten, at most about eight of them
        lo, hi = math.floor(min(ys_all)), math.ceil(max(ys_all))
        hi = max(hi, lo + 1)
        step = max(1, math.ceil((hi - lo) / 7))
        yt = list(range(lo, lo + step * math.ceil((hi - lo) / step) + 1, step))
    else:
        yt = nice_ticks(min(ys_all), max(ys_all))
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]

    def px(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * W

    def py(y: float) -> float:
        return TOP + H - (y - y0) / (y1 - y0) * H

    width, height = LEFT + W + LEGEND_W, TOP + H + BOTTOM
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    for t in xt:
        out.append(f'<line x1="{px(t):.1f}" y1="{TOP}" x2="{px(t):.1f}" y2="{TOP + H}" '
                   'stroke="#e4e4e4"/>')
        out.append(f'<text x="{px(t):.1f}" y="{TOP + H + 16}" text-anchor="middle">'
                   f'{_num(t)}</text>')
    for t in yt:
        label = f"1e{t}" if log_y else _num(t)
        out.append(f'<line x1="{LEFT}" y1="{py(t):.1f}" x2="{LEFT + W}" y2="{py(t):.1f}" '
                   'stroke="#e4e4e4"/>')
        out.append(f'<text x="{LEFT - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{label}'
                   '</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{W}" height="{H}" fill="none" '
               'stroke="black"/>')
    out.append(f'<text x="{LEFT + W / 2:.1f}" y="{TOP + H + 36}" text-anchor="middle">'
               f'{escape(xlabel)}</text>')
    out.append(f'<text transform="translate(14,{TOP + H / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle">{escape(ylabel)}</text>')
    for i, ((label, xs, ys), (_, colour, _)) in enumerate(zip(series, STYLES)):
        pts = " ".join(f"{px(float(x)):.1f},{py(f(y)):.1f}" for x, y in zip(xs, ys))
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" '
                   'stroke-width="2"/>')
        for x, y in zip(xs, ys):
            out.append(f'<circle cx="{px(float(x)):.1f}" cy="{py(f(y)):.1f}" r="2.5" '
                       f'fill="{colour}"/>')
        ly = TOP + 14 + 18 * i
        out.append(f'<line x1="{LEFT + W + 14}" y1="{ly - 4}" x2="{LEFT + W + 36}" '
                   f'y2="{ly - 4}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{LEFT + W + 42}" y="{ly}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def heatmap_grid(name: str, grids: Sequence[Sequence[Sequence[float]]],
                 titles: Sequence[str], *, caption: str, columns: int = 5) -> Figure:
    """Small images side by side (values in [0, 1], black to white; a heatmap's values
    from blue to red), e.g. digits and their Grad-CAM maps.  A title starting with ``"~"``
    marks a heatmap (the ``~`` is dropped)."""
    if len(grids) != len(titles) or not grids:
        raise InputError(f"got {len(grids)} grids and {len(titles)} titles for {name!r}")
    cell_cm, gap_cm, cell_px, gap_px = 0.28, 0.5, 10, 16
    tikz = [r"\begin{tikzpicture}[font=\footnotesize]"]
    svg_rows = []
    n_rows = math.ceil(len(grids) / columns)
    size = len(grids[0])
    width_px = columns * (size * cell_px + gap_px)
    height_px = n_rows * (size * cell_px + 30)
    svg_rows.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_px}" '
                    f'height="{height_px}" font-family="sans-serif" font-size="11">')
    svg_rows.append(f'<rect width="{width_px}" height="{height_px}" fill="white"/>')
    for k, (grid, title) in enumerate(zip(grids, titles)):
        heat = title.startswith("~")
        title = title.lstrip("~")
        r, c = divmod(k, columns)
        ox = c * (size * cell_cm + gap_cm)
        oy = -r * (size * cell_cm + 0.9)
        sx, sy = c * (size * cell_px + gap_px), r * (size * cell_px + 30) + 16
        tikz.append(f"\\node[above] at ({ox + size * cell_cm / 2:.2f},{oy:.2f}) "
                    f"{{{escape_latex(title)}}};")
        svg_rows.append(f'<text x="{sx + size * cell_px / 2}" y="{sy - 4}" '
                        f'text-anchor="middle">{title.replace("&", "&amp;").replace("<", "&lt;")}</text>')
        for i, row in enumerate(grid):
            for j, v in enumerate(row):
                v = min(1.0, max(0.0, float(v)))
                if heat:
                    tex_colour = f"red!{round(100 * v)}!blue"
                    red, blue = round(255 * v), round(255 * (1 - v))
                    hexc = f"#{red:02x}00{blue:02x}"
                else:
                    tex_colour = f"white!{round(100 * v)}!black"
                    g = round(255 * v)
                    hexc = f"#{g:02x}{g:02x}{g:02x}"
                x, y = ox + j * cell_cm, oy - (i + 1) * cell_cm
                tikz.append(f"\\fill[{tex_colour}] ({x:.2f},{y:.2f}) rectangle "
                            f"({x + cell_cm:.2f},{y + cell_cm:.2f});")
                svg_rows.append(f'<rect x="{sx + j * cell_px}" y="{sy + i * cell_px}" '
                                f'width="{cell_px}" height="{cell_px}" fill="{hexc}"/>')
    tikz.append(r"\end{tikzpicture}")
    svg_rows.append("</svg>")
    return Figure(tikz="\n".join(tikz), svg="\n".join(svg_rows), caption=caption, name=name)
