"""Figures of the Sliding windows page: a picture with boxes on it, score maps side by side, a pyramid's maps as small
multiples, a segmentation. Built as plain dicts (see ``primitives``); pure functions of arrays and lists, no
Streamlit here.

A picture is drawn as an image trace whose pixel ``(i, j)`` is centred at ``(j, i)``; a box ``xyxy`` in pixel units
(``x0, y0`` the top-left pixel's corner) is therefore drawn from ``x0 − 0.5`` to ``x1 − 0.5``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from playground.figures.primitives import COUNTS, FONT, NO_TEMPLATE, Canvas, Scale, heatmap, legend_entry, png_uri

TRUTH = "#ffffff"  # the true boxes of a scene
FOUND = "#e45756"  # detections
WINDOW = "#4c78a8"  # a window or a proposal
HEAT = Scale(COUNTS, 0.0, 1.0)  # probabilities


@dataclass(frozen=True)
class BoxGroup:
    """Boxes drawn alike: ``boxes`` ``[[x0, y0, x1, y1], ...]`` in pixels, a ``text`` each (or none; "" leaves that
    box unlabelled), a colour, a dash ("solid", "dash", "dot") and a ``name`` for the legend."""

    boxes: Sequence[Sequence[float]]
    texts: Sequence[str] | None
    color: str
    name: str
    dash: str = "solid"
    width: float = 2.0


def picture_with_boxes(rgb: np.ndarray, groups: Sequence[BoxGroup], height: int = 460,
                       title: str | None = None) -> go.Figure:
    """The picture ``(H, W, 3)`` uint8 with each group's boxes (and their texts at their top-left corners)."""
    h, w = rgb.shape[:2]
    data: list[dict] = [{"type": "image", "source": png_uri(rgb), "x0": 0, "y0": 0, "dx": 1, "dy": 1,
                         "hoverinfo": "skip"}]
    shapes, notes = [], []
    for g in groups:
        entry = legend_entry(g.color, g.name)
        entry["marker"]["line"] = {"width": 1, "color": "#888888"}  # a white swatch shows on the white legend too
        data.append(entry)
        for k, (x0, y0, x1, y1) in enumerate(g.boxes):
            shapes.append({"type": "rect", "x0": x0 - 0.5, "x1": x1 - 0.5, "y0": y0 - 0.5, "y1": y1 - 0.5,
                           "line": {"color": g.color, "width": g.width, "dash": g.dash}, "layer": "above"})
            if g.texts and g.texts[k]:
                notes.append({"text": g.texts[k], "x": x0 - 0.5, "y": y0 - 0.5, "xanchor": "left",
                              "yanchor": "bottom", "showarrow": False, "font": {"size": 11, "color": "#000000"},
                              "bgcolor": g.color, "opacity": 0.9, "borderpad": 1})
    axis = {"visible": False, "showgrid": False, "zeroline": False, "constrain": "domain"}
    layout = {
        "xaxis": axis | {"range": [-0.5, w - 0.5]},
        "yaxis": axis | {"range": [h - 0.5, -0.5], "scaleanchor": "x"},
        "height": height, "margin": {"l": 4, "r": 4, "t": 36 if title else 4, "b": 4}, "font": FONT,
        "plot_bgcolor": "white", "showlegend": bool(groups), "template": NO_TEMPLATE, "shapes": shapes,
        "annotations": notes, "dragmode": "pan",
        "legend": {"orientation": "h", "x": 0.0, "y": -0.01, "yanchor": "top", "font": {"size": 11}},
    }
    if title:
        layout["title"] = {"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 14}}
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def score_maps(maps: Sequence[tuple[str, np.ndarray]], height: int = 380, hover: str = "probability") -> go.Figure:
    """Score maps ``(rows, cols)`` in [0, 1] side by side, each under its title; cell ``(r, c)`` is window row r,
    column c."""
    canvas = Canvas(1, len(maps), titles=[t for t, _ in maps], hspace=0.08)
    for k, (_, z) in enumerate(maps):
        canvas.add(heatmap(z, HEAT, text=False, hover=hover, showscale=k == len(maps) - 1), k)
        canvas.grid(k, z.shape)
    return canvas.figure(height)


def small_multiples(maps: Sequence[tuple[str, np.ndarray]], cols: int = 4, panel_px: int = 220) -> go.Figure:
    """Maps of different sizes as small multiples, ``cols`` a row, each with its own axes and title."""
    rows = -(-len(maps) // cols)
    canvas = Canvas(rows, cols, titles=[t for t, _ in maps], hspace=0.05, vspace=0.12 if rows > 1 else 0.1)
    for k, (_, z) in enumerate(maps):
        canvas.add(heatmap(z, HEAT, text=False, hover="face probability", showscale=k == 0), k)
        canvas.grid(k, z.shape, ticks=False)
    return canvas.figure(rows * panel_px + 40)


def palette(n: int) -> np.ndarray:
    """``n`` distinct colours ``(n, 3)`` uint8 (hues by the golden ratio), for segment labels."""
    hues = (np.arange(n) * 0.618034) % 1.0
    h6 = hues * 6
    x = 1 - np.abs(h6 % 2 - 1)
    z = np.zeros(n)
    sector = h6.astype(int) % 6
    rgb = np.select([sector[:, None] == k for k in range(6)],
                    [np.stack(c, 1) for c in ((np.ones(n), x, z), (x, np.ones(n), z), (z, np.ones(n), x),
                                              (z, x, np.ones(n)), (x, z, np.ones(n)), (np.ones(n), z, x))])
    return (55 + 200 * rgb).astype(np.uint8)


def segments_picture(segments: np.ndarray) -> np.ndarray:
    """A segmentation ``(H, W)`` int as a picture ``(H, W, 3)`` uint8: a colour per segment."""
    return palette(int(segments.max()) + 1)[segments]
