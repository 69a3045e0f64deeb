"""Plotly figure builders and tables for the builder page. Pure functions of engine results; no Streamlit here.

Figures are assembled as plain dicts and wrapped once, unvalidated (as the convolution lab's are): plotly's object
model costs tens of milliseconds for ResNet-50's drawing, on every edit."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from engine.nets.summary import Row, Summary
from engine.units import format_bytes, format_count, format_shape
from playground.theme import COLORS, FAMILY_COLORS

# --------------------------------------------------------------------------------------------------- table


def summary_table(s: Summary) -> pd.DataFrame:
    """One row per layer (nested layers indented), the columns a student reads left to right."""
    records = []
    for r in s.rows:
        records.append({
            "#": r.index,
            "layer": "\u2003" * r.depth + r.kind,
            "output": r.shape_text,
            "formula": " · ".join(f for f in r.formulas if not f.startswith("MACs")) if r.ok
            else "⚠ " + "; ".join(r.errors),
            "params": r.params + r.frozen_params,
            "MACs": r.macs,
            "receptive field": (f"{r.receptive_field[0]}×{r.receptive_field[1]}" + (" *" if r.notes else ""))
            if r.receptive_field else "—",
            "memory": format_bytes(r.memory) if r.memory else "—",
        })
    return pd.DataFrame.from_records(records, columns=["#", "layer", "output", "params", "MACs", "receptive field",
                                                        "memory", "formula"])


def totals(s: Summary) -> dict[str, str]:
    return {
        "parameters": f"{s.total_params:,}",
        "multiply-accumulates": format_count(s.total_macs),
        "activations / sample": format_bytes(s.activation_memory),
        "weights (float32)": format_bytes(s.param_memory),
        "output": format_shape(s.output_shape),
    }


# --------------------------------------------------------------------------------------------------- network drawing

_SHEAR = 0.45  # how far the depth axis leans, as a fraction of the depth
_NO_TEMPLATE = {"data": {}, "layout": {}}  # plotly would otherwise deep-copy its default template into each figure


def _volume_size(shape: tuple[int, ...]) -> tuple[float, float, float]:
    """(width along x = channels, height = H, depth = W) on a log scale, so LeNet and ResNet-50 both fit."""
    if len(shape) == 3:
        c, h, w = shape
        return 0.4 + 0.9 * math.log2(c + 1) ** 0.8, 1.0 + 1.6 * math.log2(h + 1), 0.6 + 0.9 * math.log2(w + 1)
    n = shape[0] if shape else 1
    return 0.5, 1.0 + 1.0 * math.log2(n + 1), 0.5


def _drawn_rows(s: Summary, show_all: bool) -> list[Row]:
    """Top-level layers that can change the shape (or all, when asked); elementwise layers are folded into the last
    one."""
    rows = [r for r in s.rows if r.depth == 0]
    return rows if show_all else [r for r in rows if not r.elementwise or not r.ok]


_HEIGHT, _MARGIN = 420, 10  # the drawing's largest height and its margins, in pixels
_MIN_WIDTH = 860  # the plot width the labels are laid out for (the builder's main column at 1280–1440 px; a wider
# plot draws at this scale too, since the figure's height is made to fit it)
_CHAR_PX, _LINE_PX = 6.4, 13.0  # a 10-px label's character width and line height, generously
_GAP = 1.2  # space between volumes, in drawing units


def network_figure(s: Summary, show_all: bool = False) -> go.Figure:
    """The network as volumes left to right, LeNet-figure style: each box is one layer's output (C×H×W). Labels go
    under their volume, on as many rows as it takes for none to overlap (``_label_rows``)."""
    xs: dict[str, list] = {}
    centres, labels, hovers, hover_y = [], [], [], []
    x, top = 0.0, 0.0
    items = [("input", tuple(s.spec.input), "input", None)] + [
        (r.index, r.out_shape, r.kind, r) for r in _drawn_rows(s, show_all)
    ]
    for _, shape, kind, row in items:
        bad = row is not None and (not row.ok or shape is None)
        dx, dy, dz = _volume_size(shape if shape else (1,))
        sx, sy = dz * _SHEAR, dz * _SHEAR * 0.6
        top = max(top, dy + sy)
        family_color = COLORS["input"] if row is None else FAMILY_COLORS.get(row.family, COLORS["neutral"])
        color = COLORS["error"] if bad else family_color
        faces = [
            [(x, 0), (x + dx, 0), (x + dx, dy), (x, dy)],  # front
            [(x, dy), (x + dx, dy), (x + dx + sx, dy + sy), (x + sx, dy + sy)],  # top
            [(x + dx, 0), (x + dx + sx, sy), (x + dx + sx, dy + sy), (x + dx, dy)],  # side
        ]
        for face_no, face in enumerate(faces):
            key = f"{color}|{face_no}"
            pts = xs.setdefault(key, [[], []])
            pts[0] += [p[0] for p in face] + [face[0][0], None]
            pts[1] += [p[1] for p in face] + [face[0][1], None]
        text = format_shape(shape) if shape else "invalid"
        centres.append(x + dx / 2)
        labels.append(f"{kind}<br>{text}")
        hover_y.append(dy / 2)
        if row is None:
            hovers.append(f"input {text}")
        else:
            hovers.append(f"<b>{row.name}</b><br>output {text}<br>params {row.params:,}<br>MACs {row.macs:,}"
                          + ("".join(f"<br>⚠ {e}" for e in row.errors) if row.errors else ""))
        x += dx + sx + _GAP
    x_range = [-2.5, max(x, 12) + 1]
    label_y, bottom, height = _label_rows(centres, labels, x_range, top + 0.5)
    shade = {0: 1.0, 1: 0.8, 2: 0.6}
    data = [{"type": "scatter", "x": px, "y": py, "mode": "lines", "fill": "toself", "fillcolor": key.split("|")[0],
             "opacity": shade[int(key.split("|")[1])], "line": {"color": "#333", "width": 0.8}, "hoverinfo": "skip",
             "showlegend": False} for key, (px, py) in xs.items()]
    data.append({"type": "scatter", "x": centres, "y": hover_y, "mode": "markers", "marker": {"size": 18, "opacity": 0},
                 "hovertext": hovers, "hoverinfo": "text", "showlegend": False})
    data.append({"type": "scatter", "x": centres, "y": label_y, "mode": "text", "text": labels,
                 "textfont": {"size": 10}, "textposition": "bottom center", "hoverinfo": "skip", "showlegend": False})
    layout = {
        "template": _NO_TEMPLATE, "height": height, "margin": {"l": _MARGIN, "r": _MARGIN, "t": _MARGIN, "b": _MARGIN},
        "plot_bgcolor": "white", "dragmode": "pan",
        "xaxis": {"visible": False, "range": x_range},
        "yaxis": {"visible": False, "scaleanchor": "x", "range": [bottom, top + 0.5]},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _label_rows(centres: list[float], labels: list[str], x_range: list[float], y_top: float
                ) -> tuple[list[float], float, int]:
    """The y of each label (its top), the drawing's bottom and the figure's height in pixels: every label on the
    first row below the volumes where it overlaps no earlier label, judged in pixels at the scale the figure is drawn
    at (x and y share one scale: the smaller of ``_MIN_WIDTH`` over the x range and ``_HEIGHT`` over the y range; the
    figure's height is then cut to what that scale needs, so a wider plot does not enlarge it). More rows make the
    drawing deeper, which can shrink the scale and widen the labels again: the layout is redone until it fits."""
    depth = 2.0  # drawing units below the volumes that the labels may take
    for _ in range(50):
        px = min(_MIN_WIDTH / (x_range[1] - x_range[0]), (_HEIGHT - 2 * _MARGIN) / (y_top + depth))  # px per unit
        row, pad = (2 * _LINE_PX + 4) / px, 6 / px
        ends: list[float] = []  # the right end of the last label on each row
        y = []
        for c, text in zip(centres, labels, strict=True):
            half = max(len(line) for line in text.split("<br>")) * _CHAR_PX / px / 2
            level = next((i for i, end in enumerate(ends) if c - half > end + pad), len(ends))
            ends.append(-math.inf) if level == len(ends) else None
            ends[level] = c + half
            y.append(-0.3 - level * row)
        need = 0.3 + len(ends) * row + 0.2
        if need <= depth:
            break
        depth = need
    height = min(_HEIGHT, math.ceil(px * (y_top + depth)) + 2 * _MARGIN)
    return y, -depth, height


def bottleneck_figure(direct_macs: int, neck_macs: int, first_macs: int) -> go.Figure:
    """Bar chart: multiplications of the direct convolution vs the 1×1 bottleneck (split into its two stages)."""
    bars = ["direct f×f", "1×1 then f×f"]
    data = [
        {"type": "bar", "y": bars, "x": [direct_macs, 0], "orientation": "h", "name": "f×f conv",
         "marker": {"color": COLORS["conv"]}},
        {"type": "bar", "y": bars, "x": [0, first_macs], "orientation": "h", "name": "1×1 conv",
         "marker": {"color": COLORS["accent"]}},
        {"type": "bar", "y": bars, "x": [0, neck_macs - first_macs], "orientation": "h",
         "name": "f×f conv after the bottleneck", "marker": {"color": COLORS["conv"]}, "opacity": 0.6},
    ]
    layout = {"template": _NO_TEMPLATE, "barmode": "stack", "height": 220,
              "margin": {"l": 10, "r": 10, "t": 10, "b": 10}, "xaxis": {"title": {"text": "multiplications"}},
              "legend": {"orientation": "h", "y": -0.35}}
    return go.Figure({"data": data, "layout": layout}, _validate=False)
