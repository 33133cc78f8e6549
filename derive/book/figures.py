"""Figures drawn from the engine's numbers, shared by problems.

Design rule: a figure never holds a typed-in coordinate.  Every position comes from the
engine (:func:`derive.conv.shapes.output_size` for how many units a level has,
:func:`derive.conv.receptive.receptive_field` for where a unit sits in input coordinates and
which units the top unit sees); the same geometry is written once as TikZ and once as SVG.
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

