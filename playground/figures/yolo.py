"""Figures of the YOLO lab: two boxes with their intersection and union, a scene with its S×S grid, owning cells,
anchors and boxes (coloured by class or by score), and the anchors' k-means explorer. Pure functions of arrays and
lists (no Streamlit here), built as plain dicts like the other figure modules.

Positions are the image's pixels, as in ``engine.data.targets``: pixel ``(i, j)`` covers ``[j, j+1) × [i, i+1)``, so
a box ``xyxy`` is drawn as it is (the image trace is placed with ``x0 = y0 = 0.5``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from playground.figures.primitives import FONT, NO_TEMPLATE, legend_entry, png_uri
from playground.theme import COLORS

A_COLOR, B_COLOR = "#4e79a7", "#e4572e"
INTER_COLOR = "#f2c14e"
TRUTH = "#ffffff"
OWNER = "rgba(255, 210, 0, 0.35)"  # an object's owning cell
GRID_LINE = "rgba(255, 255, 255, 0.75)"
SCORES = "Viridis"  # the colour scale of boxes drawn by score
CLASS_COLORS = ("#e4572e", "#4e79a7", "#59a14f", "#b07aa1", "#f28e2b", "#76b7b2", "#edc948", "#ff9da7")


def class_color(label: int) -> str:
    return CLASS_COLORS[int(label) % len(CLASS_COLORS)]


def score_colors(scores: Sequence[float]) -> list[str]:
    """One colour of ``SCORES`` per score in [0, 1]."""
    return sample_colorscale(SCORES, [min(1.0, max(0.0, float(s))) for s in scores]) if len(scores) else []


@dataclass(frozen=True)
class Layer:
    """Boxes drawn alike: ``boxes`` ``(N, 4)`` ``xyxy`` pixels, a colour each (or one for all), a hover ``text`` each,
    a ``name`` for the legend (none: no entry), a dash, a width; ``labels``: write each text above its box; an
    opacity each (optional)."""

    boxes: Sequence[Sequence[float]]
    colors: Sequence[str] | str
    name: str = ""
    texts: Sequence[str] = ()
    dash: str = "solid"
    width: float = 2.0
    labels: bool = False
    fill: str | None = None
    opacities: Sequence[float] = ()  # one per box (none: opaque)


def _axes(w: float, h: float, visible: bool = False) -> dict:
    axis = {"visible": visible, "showgrid": False, "zeroline": False, "constrain": "domain"}
    return {"xaxis": axis | {"range": [0, w]}, "yaxis": axis | {"range": [h, 0], "scaleanchor": "x"}}


def picture(rgb: np.ndarray, layers: Sequence[Layer] = (), grid: int | None = None,
            cells: Sequence[tuple[int, int]] = (), title: str | None = None, height: int = 380,
            colorbar: str | None = None) -> go.Figure:
    """The picture ``(H, W, 3)`` uint8 with its ``grid``×``grid`` lines, the ``cells`` ``(row, col)`` filled, and
    each layer's boxes (hover a box's centre for its text). ``colorbar``: a title for a score scale from 0 to 1."""
    h, w = rgb.shape[:2]
    data: list[dict] = [{"type": "image", "source": png_uri(np.ascontiguousarray(rgb)), "x0": 0.5, "y0": 0.5,
                         "dx": 1, "dy": 1, "hoverinfo": "skip"}]
    shapes: list[dict] = []
    notes: list[dict] = []
    if grid:
        ch, cw = h / grid, w / grid
        for r, c in cells:
            shapes.append({"type": "rect", "x0": c * cw, "x1": (c + 1) * cw, "y0": r * ch, "y1": (r + 1) * ch,
                           "fillcolor": OWNER, "line": {"width": 0}, "layer": "above"})
        for k in range(1, grid):
            shapes.append({"type": "line", "x0": k * cw, "x1": k * cw, "y0": 0, "y1": h,
                           "line": {"color": GRID_LINE, "width": 1}, "layer": "above"})
            shapes.append({"type": "line", "x0": 0, "x1": w, "y0": k * ch, "y1": k * ch,
                           "line": {"color": GRID_LINE, "width": 1}, "layer": "above"})
    for layer in layers:
        boxes = np.asarray(layer.boxes, dtype=np.float64).reshape(-1, 4)
        colors = [layer.colors] * len(boxes) if isinstance(layer.colors, str) else list(layer.colors)
        for k, (x0, y0, x1, y1) in enumerate(boxes):
            shapes.append({"type": "rect", "x0": x0, "x1": x1, "y0": y0, "y1": y1, "layer": "above",
                           "line": {"color": colors[k], "width": layer.width, "dash": layer.dash},
                           **({"fillcolor": layer.fill} if layer.fill else {}),
                           **({"opacity": float(layer.opacities[k])} if k < len(layer.opacities) else {})})
            if layer.labels and k < len(layer.texts):
                notes.append({"text": layer.texts[k], "x": x0, "y": y0, "xanchor": "left", "yanchor": "bottom",
                              "showarrow": False, "font": {"size": 10, "color": "#ffffff"}, "bgcolor": colors[k],
                              "borderpad": 1})
        if layer.texts and len(boxes):
            data.append({"type": "scatter", "x": ((boxes[:, 0] + boxes[:, 2]) / 2).tolist(),
                         "y": ((boxes[:, 1] + boxes[:, 3]) / 2).tolist(), "mode": "markers",
                         "marker": {"size": 6, "color": colors, "opacity": 0.6}, "text": list(layer.texts),
                         "hovertemplate": "%{text}<extra></extra>", "showlegend": False})
        if layer.name:
            color = layer.colors if isinstance(layer.colors, str) else (colors[0] if colors else "#888888")
            entry = legend_entry(color, layer.name)
            entry["marker"]["line"] = {"width": 1, "color": "#888888"}
            data.append(entry)
    if colorbar:
        data.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers", "showlegend": False,
                     "marker": {"color": [0, 1], "cmin": 0, "cmax": 1, "colorscale": SCORES, "showscale": True,
                                "colorbar": {"title": {"text": colorbar}, "thickness": 12, "len": 0.8}}})
    layout = {**_axes(w, h), "height": height, "font": FONT, "plot_bgcolor": "white", "dragmode": False,
              "margin": {"l": 4, "r": 4, "t": 30 if title else 4, "b": 4}, "shapes": shapes, "annotations": notes,
              "legend": {"orientation": "h", "x": 0, "y": -0.02, "yanchor": "top"}, "template": NO_TEMPLATE,
              "title": {"text": title or "", "x": 0.5, "xanchor": "center", "font": {"size": 13}}}
    return go.Figure({"data": data, "layout": layout})


def iou_figure(a: Sequence[float], b: Sequence[float], inter: Sequence[float] | None, side: float,
               iou: float) -> go.Figure:
    """Boxes ``a`` and ``b`` (``xyxy``) on a ``side``×``side`` canvas: their union shaded, the intersection filled,
    the IoU in the title."""
    shapes = []
    for box, color in ((a, A_COLOR), (b, B_COLOR)):
        shapes.append({"type": "rect", "x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3],
                       "fillcolor": "rgba(150, 150, 150, 0.18)", "line": {"color": color, "width": 3}})
    if inter is not None:
        shapes.append({"type": "rect", "x0": inter[0], "y0": inter[1], "x1": inter[2], "y1": inter[3],
                       "fillcolor": INTER_COLOR, "opacity": 0.8, "line": {"width": 0}})
    data = [legend_entry(A_COLOR, "box A"), legend_entry(B_COLOR, "box B"),
            legend_entry(INTER_COLOR, "intersection"), legend_entry("rgba(150, 150, 150, 0.4)", "union")]
    layout = {**_axes(side, side, visible=True), "height": 420, "font": FONT, "plot_bgcolor": "white",
              "margin": {"l": 40, "r": 10, "t": 40, "b": 30}, "shapes": shapes, "template": NO_TEMPLATE,
              "dragmode": False, "title": {"text": f"IoU = {iou:.3f}", "x": 0.5, "xanchor": "center"},
              "legend": {"orientation": "h", "x": 0, "y": -0.06, "yanchor": "top"}}
    layout["xaxis"]["showgrid"] = layout["yaxis"]["showgrid"] = True
    layout["xaxis"]["gridcolor"] = layout["yaxis"]["gridcolor"] = "#eeeeee"
    return go.Figure({"data": data, "layout": layout})


def anchors_figure(shapes: np.ndarray, assignment: np.ndarray, anchors: np.ndarray, side: int) -> go.Figure:
    """Every training box's ``(w, h)`` (fractions of the image, ``(M, 2)``), coloured by its anchor, and the ``k``
    anchors (``(k, 2)``) as crosses; axes in pixels of a ``side``-pixel image."""
    data: list[dict] = []
    shown = np.arange(len(shapes)) if len(shapes) <= 3000 else np.linspace(0, len(shapes) - 1, 3000).astype(int)
    for j, (aw, ah) in enumerate(anchors):
        pick = shown[assignment[shown] == j]
        color = CLASS_COLORS[j % len(CLASS_COLORS)]
        data.append({"type": "scattergl", "x": (shapes[pick, 0] * side).tolist(),
                     "y": (shapes[pick, 1] * side).tolist(), "mode": "markers", "name": f"boxes of anchor {j + 1}",
                     "marker": {"size": 4, "color": color, "opacity": 0.35}, "hoverinfo": "skip"})
        data.append({"type": "scatter", "x": [aw * side], "y": [ah * side], "mode": "markers",
                     "name": f"anchor {j + 1}: {aw * side:.1f} × {ah * side:.1f} px",
                     "marker": {"size": 16, "color": color, "symbol": "x", "line": {"color": "black", "width": 1}},
                     "hovertemplate": "anchor: w %{x:.1f}, h %{y:.1f} px<extra></extra>"})
    layout = {"height": 420, "font": FONT, "template": NO_TEMPLATE, "plot_bgcolor": "white",
              "xaxis": {"title": {"text": "box width (pixels)"}, "gridcolor": "#eeeeee", "rangemode": "tozero"},
              "yaxis": {"title": {"text": "box height (pixels)"}, "gridcolor": "#eeeeee", "rangemode": "tozero"},
              "margin": {"l": 50, "r": 10, "t": 30, "b": 40},
              "title": {"text": "training boxes by shape, and the anchors", "x": 0.5, "xanchor": "center"}}
    return go.Figure({"data": data, "layout": layout})


def anchor_shapes_figure(anchors: np.ndarray, side: int, task_anchors: np.ndarray | None = None) -> go.Figure:
    """The anchors drawn as boxes centred on the image's centre (``side`` pixels a side); the detector's own anchors
    dashed beside them."""
    shapes, data = [], []
    for group, dash, label in ((anchors, "solid", "k-means anchor"), (task_anchors, "dash", "the detector's anchor")):
        if group is None:
            continue
        for j, (aw, ah) in enumerate(group):
            color = CLASS_COLORS[j % len(CLASS_COLORS)] if dash == "solid" else "#555555"
            w, h = aw * side, ah * side
            shapes.append({"type": "rect", "x0": side / 2 - w / 2, "x1": side / 2 + w / 2, "y0": side / 2 - h / 2,
                           "y1": side / 2 + h / 2, "line": {"color": color, "width": 2, "dash": dash}})
        data.append({"type": "scatter", "x": [None], "y": [None], "mode": "lines", "name": label,
                     "line": {"color": "#555555", "dash": dash}})
    layout = {**_axes(side, side, visible=True), "height": 420, "font": FONT, "template": NO_TEMPLATE,
              "plot_bgcolor": "#fafafa", "margin": {"l": 40, "r": 10, "t": 30, "b": 30}, "shapes": shapes,
              "title": {"text": "the anchors' shapes on the image", "x": 0.5, "xanchor": "center"},
              "legend": {"orientation": "h", "x": 0, "y": -0.06, "yanchor": "top"}}
    return go.Figure({"data": data, "layout": layout})


def iou_curve_figure(ks: Sequence[int], ious: Sequence[float], chosen: int) -> go.Figure:
    """Mean IoU of each box with its best anchor against k, the chosen k marked."""
    data = [{"type": "scatter", "x": list(ks), "y": list(ious), "mode": "lines+markers", "name": "mean IoU",
             "line": {"color": COLORS["conv"]}, "hovertemplate": "k = %{x}: mean IoU %{y:.3f}<extra></extra>"}]
    if chosen in ks:
        data.append({"type": "scatter", "x": [chosen], "y": [ious[list(ks).index(chosen)]], "mode": "markers",
                     "name": f"k = {chosen}", "marker": {"size": 13, "color": COLORS["accent"]}})
    layout = {"height": 320, "font": FONT, "template": NO_TEMPLATE, "plot_bgcolor": "white",
              "xaxis": {"title": {"text": "k (anchors)"}, "dtick": 1, "gridcolor": "#eeeeee"},
              "yaxis": {"title": {"text": "mean IoU with the best anchor"}, "gridcolor": "#eeeeee"},
              "margin": {"l": 50, "r": 10, "t": 30, "b": 40}, "showlegend": False,
              "title": {"text": "mean IoU vs k", "x": 0.5, "xanchor": "center"}}
    return go.Figure({"data": data, "layout": layout})
