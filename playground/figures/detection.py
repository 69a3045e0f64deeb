"""Plotly figures and tables for localisation and landmarks: a scene with its boxes and points, grids of held-out
images with the predicted (one colour) and true (another) boxes or points, distributions of IoU and point error, and
the tables of the target vector y and its loss terms. Pure functions of engine results; no Streamlit here.

Positions are drawn in the image's pixel coordinates, the convention of ``engine.data.targets``: pixel ``(i, j)``
covers ``[j, j+1) × [i, i+1)``, so a box's ``xyxy`` and a point's ``(x, y)`` are plotted as they are. Images are
scaled up by whole numbers (nearest neighbour, crisp) and laid out as one PNG (``primitives.png_uri``: one trace).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from engine.data import Boxes, Points, Targets
from playground.figures.primitives import NO_TEMPLATE, png_uri
from playground.figures.training import to_rgb_uint8
from playground.theme import COLORS

TRUE_COLOR = COLORS["truth"]
PRED_COLOR = COLORS["prediction"]
GAP_PX = 8  # between two tiles of a grid
TITLE_PX = 30  # above each tile, for two lines of its title


@dataclass(frozen=True)
class Marks:
    """What to draw on one image: ``boxes`` ``xyxy`` (None: no object), ``points`` ``(K, 2)`` ``(x, y)``, in the
    image's pixels, in ``color`` with a legend ``name``; ``dash`` for the boxes' line."""

    name: str
    color: str
    boxes: Sequence[Sequence[float] | None] = ()
    points: np.ndarray | None = None  # (N, K, 2)
    symbol: str = "circle"
    dash: str = "solid"
    scale: float = 1.0  # multiplies every position: from the network input's pixels to the image's
    centres: bool = False  # a cross at each box's centre (b_x, b_y)


def _canvas(rgb: np.ndarray, cols: int, zoom: int, head: int) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Tiles ``(N, H, W, 3)`` scaled ``zoom`` times, ``cols`` wide, ``head`` px of room above each -> the canvas and
    every tile's top-left corner in image units (canvas pixels / zoom)."""
    n, h, w = rgb.shape[:3]
    rows = max(1, math.ceil(n / cols))
    pitch_x, pitch_y = w * zoom + GAP_PX, h * zoom + GAP_PX + head
    canvas = np.full((rows * pitch_y - GAP_PX, min(n, cols) * pitch_x - GAP_PX, 3), 255, np.uint8)
    corners = []
    for i in range(n):
        r, c = divmod(i, cols)
        y0, x0 = r * pitch_y + head, c * pitch_x
        canvas[y0:y0 + h * zoom, x0:x0 + w * zoom] = rgb[i].repeat(zoom, axis=0).repeat(zoom, axis=1)
        corners.append((x0 / zoom, y0 / zoom))
    return canvas, corners


def image_marks(images: np.ndarray, marks: Sequence[Marks] = (), titles: Sequence[str] | None = None, cols: int = 8,
                zoom: int = 2, names: Sequence[str] = (), axes: bool = False) -> go.Figure:
    """Images ``(N, C, H, W)`` in a grid ``cols`` wide, each ``zoom`` times its size, with every ``Marks``' boxes and
    points on them and an optional title above each. ``names`` label the points on hover (landmark names); ``axes``
    shows pixel ticks (for a single image)."""
    rgb = to_rgb_uint8(images)
    n = len(rgb)
    cols = max(1, min(cols, n))
    head = TITLE_PX if titles and not axes else 0  # with axes, the title goes above the axes, so y's ticks start at 0
    canvas, corners = _canvas(rgb, cols, zoom, head)
    data: list[dict] = [{"type": "image", "source": png_uri(canvas), "x0": 0.5 / zoom, "y0": 0.5 / zoom,
                         "dx": 1 / zoom, "dy": 1 / zoom, "hoverinfo": "skip"}]
    shapes, annotations = [], []
    for m in marks:
        for i, b in enumerate(m.boxes):
            if b is None:
                continue
            ox, oy = corners[i]
            x0, y0, x1, y1 = (float(v) * m.scale for v in b)
            shapes.append({"type": "rect", "x0": ox + x0, "x1": ox + x1, "y0": oy + y0, "y1": oy + y1, "xref": "x",
                           "yref": "y", "line": {"color": m.color, "width": 2.5, "dash": m.dash}, "layer": "above"})
            if m.centres:
                data.append({"type": "scatter", "x": [ox + (x0 + x1) / 2], "y": [oy + (y0 + y1) / 2],
                             "mode": "markers", "name": f"{m.name}: centre", "showlegend": False,
                             "marker": {"color": m.color, "symbol": "cross-thin", "size": 14,
                                        "line": {"color": m.color, "width": 2}},
                             "hovertemplate": "centre: x %{x:.1f}, y %{y:.1f}<extra></extra>"})
        if m.boxes:
            data.append({"type": "scatter", "x": [None], "y": [None], "mode": "lines", "name": m.name,
                         "line": {"color": m.color, "width": 2.5, "dash": m.dash}, "showlegend": True})
        if m.points is not None:
            pts = np.asarray(m.points, dtype=np.float64) * m.scale  # (N, K, 2)
            offsets = np.asarray(corners)[:, None, :]  # (N, 1, 2)
            xy = (pts + offsets).reshape(-1, 2)
            k = pts.shape[1]
            labels = [f"{names[j] if j < len(names) else j + 1} (image {i + 1})" for i in range(len(pts))
                      for j in range(k)]
            data.append({"type": "scatter", "x": xy[:, 0], "y": xy[:, 1], "mode": "markers", "name": m.name,
                         "text": labels, "hovertemplate": "%{text}: x %{x:.1f}, y %{y:.1f}<extra>" + m.name
                         + "</extra>" if not axes else "%{text}<extra>" + m.name + "</extra>",
                         "marker": {"color": m.color, "symbol": m.symbol, "size": 7 if zoom <= 3 else 11,
                                    "line": {"color": "white", "width": 1}}})
    for i, title in enumerate(titles if head else []):
        ox, oy = corners[i]
        annotations.append({"text": title, "x": ox + rgb.shape[2] / 2, "y": oy - 1 / zoom, "xref": "x", "yref": "y",
                            "xanchor": "center", "yanchor": "bottom", "showarrow": False, "font": {"size": 11}})
    width, height = canvas.shape[1] / zoom, canvas.shape[0] / zoom
    axis = {"showgrid": False, "zeroline": False, "visible": axes, "ticks": "outside"}
    legend = any(m.boxes or m.points is not None for m in marks)
    layout = {
        "xaxis": axis | {"range": [0, width], "constrain": "domain"},
        "yaxis": axis | {"range": [height, 0], "scaleanchor": "x", "constrain": "domain"},
        "width": canvas.shape[1] + (60 if axes else 20), "height": canvas.shape[0] + (110 if axes else 50),
        "margin": {"l": 40 if axes else 10, "r": 10, "t": 36 if axes else 4, "b": 60 if axes else 40},
        "showlegend": legend, "legend": {"orientation": "h", "x": 0, "y": -0.1 if axes else 0, "yanchor": "top"},
        "title": {"text": titles[0], "x": 0.5, "xanchor": "center", "font": {"size": 13}} if titles and axes else {},
        "plot_bgcolor": "white", "dragmode": False, "template": NO_TEMPLATE,
        "shapes": shapes, "annotations": annotations,
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def labelled_samples(images, targets: Targets, idx: Sequence[int], cols: int = 8) -> go.Figure | None:
    """A set's images ``(N, C, H, W)`` (array or tensor) at ``idx`` with their labels drawn: each box with its class
    above the image ("no object" without one), or the landmarks (named on hover); None for targets of another kind."""
    if not isinstance(targets, Boxes | Points):
        return None
    pick = list(idx)
    shown = np.asarray(images[pick])
    frame = targets.frame or images.shape[-2:]
    scale = images.shape[-1] / frame[-1]  # labels are in pixels of their frame
    if isinstance(targets, Boxes):
        boxes = [targets.boxes[i][0].tolist() if len(targets.boxes[i]) else None for i in pick]
        titles = [targets.names[int(targets.labels[i][0])] if len(targets.labels[i]) else "no object" for i in pick]
        marks = [Marks("box", TRUE_COLOR, boxes=boxes, scale=scale)]
        return image_marks(shown, marks, titles, cols=cols, zoom=2)
    marks = [Marks("landmarks", TRUE_COLOR, points=targets.points[pick].numpy(), scale=scale)]
    return image_marks(shown, marks, cols=cols, zoom=2, names=targets.names)


def distribution(values: np.ndarray, title: str, x_title: str, threshold: float | None = None,
                 threshold_text: str = "", value_range: tuple[float, float] | None = None,
                 bins: int = 20) -> go.Figure:
    """A histogram of ``values`` (per-image IoUs, per-image errors), with a dashed line at ``threshold``."""
    v = np.asarray(values, dtype=np.float64)
    lo, hi = value_range if value_range is not None else (0.0, max(float(v.max()) if v.size else 1.0, 1e-6))
    size = (hi - lo) / bins
    fig = go.Figure(go.Histogram(x=v, xbins={"start": lo, "end": hi + 1e-9, "size": size},
                                 marker={"color": COLORS["conv"]}, hovertemplate="%{x}: %{y} images<extra></extra>"))
    if threshold is not None:
        fig.add_vline(x=threshold, line={"color": COLORS["accent"], "dash": "dash"}, annotation_text=threshold_text,
                      annotation_position="top")
    fig.update_xaxes(title_text=x_title, range=[lo, hi])
    fig.update_yaxes(title_text="images")
    fig.update_layout(title={"text": title, "x": 0}, height=300, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      bargap=0.05)
    return fig


# --------------------------------------------------------------------------------------------------- tables

Y_MEANINGS = {
    "p_c": "1 if there is an object, else 0",
    "b_x": "the box's centre, x (fraction of the width)",
    "b_y": "the box's centre, y (fraction of the height)",
    "b_h": "the box's height (fraction of the image)",
    "b_w": "the box's width (fraction of the image)",
}


def y_table(y: Sequence[float], classes: Sequence[str], present: bool) -> pd.DataFrame:
    """The course's target vector y = (p_c, b_x, b_y, b_h, b_w, c_1…c_K) as rows: component, value, meaning."""
    names = ["p_c", "b_x", "b_y", "b_h", "b_w", *(f"c_{k + 1}" for k in range(len(classes)))]
    meanings = [Y_MEANINGS[n] if n in Y_MEANINGS else f"1 if it is a {classes[i - 5]}" for i, n in enumerate(names)]
    if not present:
        meanings = [meanings[0]] + ["? — no object: nothing to say, the loss ignores it"] * (len(names) - 1)
    return pd.DataFrame({"component": names, "y": [float(v) for v in y], "meaning": meanings})


def loss_table(y: Sequence[float], y_hat: Sequence[float], terms: dict[str, float], weights: dict[str, float],
               classes: Sequence[str]) -> pd.DataFrame:
    """One row per loss term: the target's and the prediction's values, the term, its weight and what it adds to the
    total (None where p_c = 0 leaves it out). ``y_hat`` is ŷ as probabilities and fractions (p̂_c, b̂…, ĉ…);
    ``terms`` the engine's per-component losses (``LossTerms.means``)."""
    present = float(y[0]) > 0.5
    k = len(classes)
    rows = [("p_c", "binary cross-entropy  −[y log p̂ + (1 − y) log(1 − p̂)]", f"{y[0]:.0f}", f"{y_hat[0]:.3f}")]
    for i, name in enumerate(("b_x", "b_y", "b_h", "b_w")):
        rows.append((name, "squared error  (b̂ − b)²", f"{y[1 + i]:.3f}", f"{y_hat[1 + i]:.3f}"))
    true_class = int(np.argmax(y[5:])) if k else 0
    rows.append(("class", "cross-entropy  −log ĉ of the true class",
                 classes[true_class] if present else "—",
                 ", ".join(f"{c} {p:.2f}" for c, p in zip(classes, y_hat[5:], strict=True))))
    out = []
    for name, rule, target, pred in rows:
        counts = name == "p_c" or present
        term = terms[name]
        out.append({"term": name, "rule": rule, "y": target, "ŷ": pred, "loss": term,
                    "weight": weights.get(name, 1.0), "adds to the total": weights.get(name, 1.0) * term if counts
                    else None})
    return pd.DataFrame.from_records(out)


def points_table(names: Sequence[str], y: Sequence[float], y_hat: Sequence[float], terms: Sequence[float]
                 ) -> pd.DataFrame:
    """The landmark target y = (l1_x, l1_y, l2_x, …) beside the prediction ŷ, one row per point, with its squared
    error."""
    return pd.DataFrame({
        "point": [f"l{k + 1}: {n}" for k, n in enumerate(names)],
        "l_x": [float(y[2 * k]) for k in range(len(names))], "l_y": [float(y[2 * k + 1]) for k in range(len(names))],
        "l̂_x": [float(y_hat[2 * k]) for k in range(len(names))],
        "l̂_y": [float(y_hat[2 * k + 1]) for k in range(len(names))],
        "squared error": [float(t) for t in terms]})
