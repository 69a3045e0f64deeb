"""Plotting primitives shared by the figure modules: colour scales, heatmap traces as plain dicts, grids of panels
(``Canvas``: one pair of axes per panel; ``Mosaic``: every panel in one coordinate system), image tiles, PNG data URIs,
pixel axes for plotly figures, and the one ``config`` every chart is drawn with. Pure functions; no Streamlit here.

Grids are drawn the way an image is read: row 0 at the top, one square cell per pixel. Small grids (up to ``TEXT_MAX``
cells a side) carry their numbers in the cells, as in the course's drawings.

Figures are assembled as plain dicts and wrapped once, unvalidated: plotly's object model costs ~0.1 s per figure of
a few panels, dicts ~1 ms, and the convolution lab redraws several figures on every slider move (and on every frame of
"Play"). Colour scales are therefore explicit lists (plotly.py's validation is what expands names such as "RdBu_r").
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from PIL import Image

# --------------------------------------------------------------------------------------------------- constants

TEXT_MAX = 16  # write the numbers into the cells of grids up to this many cells a side
GRID_LINES = "#c4c4c4"  # drawn between the cells of small grids, so white cells stay visible on the white page
GRAY = [[0.0, "#000000"], [1.0, "#ffffff"]]
# ColorBrewer RdBu reversed (plotly.py's "RdBu_r") and Blues, as explicit lists:
SIGNED = [[i / 10, c] for i, c in enumerate([  # negative blue, zero white, positive red
    "#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d", "#b2182b",
    "#67001f"])]
COUNTS = [[i / 8, c] for i, c in enumerate([
    "#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"])]
FONT = {"size": 12}
# An explicit empty template: plotly otherwise deep-copies its default one into every figure (~5 ms each), and
# Streamlit's theme styles the charts in the browser anyway.
NO_TEMPLATE = {"data": {}, "layout": {}}
_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}
TILE_GAP = 1  # blank cells between the tiles of an image mosaic


def plotly_config() -> dict:
    """The ``config`` every chart is drawn with (``st.plotly_chart(fig, config=plotly_config())``)."""
    return dict(_CONFIG)


# --------------------------------------------------------------------------------------------------- scales


@dataclass(frozen=True)
class Scale:
    """How a grid's values map to colours."""

    colorscale: str | list
    zmin: float
    zmax: float


def gray_scale(z: np.ndarray) -> Scale:
    """Black at min(0, z), white at max(z): an image (or the course's 0/10 grid) reads as it should."""
    lo = min(0.0, float(np.nanmin(z))) if z.size else 0.0
    hi = float(np.nanmax(z)) if z.size else 1.0
    return Scale(GRAY, lo, hi if hi > lo else lo + 1.0)


def signed_scale(*arrays: np.ndarray) -> Scale:
    """White at zero, symmetric about it, shared by all ``arrays`` (so panels compare)."""
    top = max((float(np.nanmax(np.abs(a))) for a in arrays if a.size), default=0.0)
    top = top if top > 0 else 1.0
    return Scale(SIGNED, -top, top)


# --------------------------------------------------------------------------------------------------- traces (dicts)


def heatmap(z: np.ndarray, scale: Scale, y0: int = 0, x0: int = 0, text: bool | None = None,
             name: str = "", showscale: bool = False, hover: str = "value") -> dict:
    h, w = z.shape
    if text is None:
        text = max(h, w) <= TEXT_MAX
    trace = {
        "type": "heatmap", "z": np.asarray(z, np.float32), "x0": x0, "dx": 1, "y0": y0, "dy": 1,
        "colorscale": scale.colorscale, "zmin": scale.zmin, "zmax": scale.zmax, "showscale": showscale,
        "name": name, "hovertemplate": f"row %{{y}}, column %{{x}}<br>{hover} %{{z:.4~g}}<extra>{name}</extra>",
    }
    if text:
        trace |= {"texttemplate": "%{z:.3~g}", "textfont": {"size": 11 if max(h, w) <= 8 else 9}}
    if showscale:
        trace["colorbar"] = {"thickness": 12, "len": 0.9}
    return trace


def mask_layer(mask: np.ndarray, color: str, name: str, opacity: float = 0.6) -> dict:
    """Cells where ``mask`` (over the unpadded input) is True painted in ``color``, the rest transparent."""
    return {
        "type": "heatmap", "z": np.where(mask, 1.0, np.nan).astype(np.float32), "x0": 0, "dx": 1, "y0": 0, "dy": 1,
        "colorscale": [[0, color], [1, color]], "showscale": False, "opacity": opacity, "name": name,
        "hovertemplate": f"row %{{y}}, column %{{x}}<br>{name}<extra></extra>",
    }


def legend_entry(color: str, name: str, symbol: str = "square") -> dict:
    """An invisible trace that only puts ``name`` with a ``color`` swatch into the legend."""
    return {"type": "scatter", "x": [None], "y": [None], "mode": "markers", "name": name, "showlegend": True,
            "marker": {"color": color, "symbol": symbol, "size": 12, "line": {"width": 0}}}


def grid_lines(h: int, w: int, r0: int, c0: int) -> dict:
    """Thin lines around every cell of an h×w grid (one trace, above the heatmap)."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for c in range(w + 1):
        xs += [c0 + c - 0.5, c0 + c - 0.5, None]
        ys += [r0 - 0.5, r0 + h - 0.5, None]
    for r in range(h + 1):
        xs += [c0 - 0.5, c0 + w - 0.5, None]
        ys += [r0 + r - 0.5, r0 + r - 0.5, None]
    return {"type": "scatter", "x": xs, "y": ys, "mode": "lines", "line": {"color": GRID_LINES, "width": 1},
            "hoverinfo": "skip", "showlegend": False}


# --------------------------------------------------------------------------------------------------- shapes


def box(r0: float, r1: float, c0: float, c1: float, color: str, width: float = 3, dash: str = "solid",
         fill: str | None = None) -> dict:
    """A rectangle around cells rows r0..r1, columns c0..c1 (inclusive)."""
    return {"type": "rect", "x0": c0 - 0.5, "x1": c1 + 0.5, "y0": r0 - 0.5, "y1": r1 + 0.5,
            "line": {"color": color, "width": width, "dash": dash}, "fillcolor": fill or "rgba(0,0,0,0)",
            "layer": "above"}


# --------------------------------------------------------------------------------------------------- canvas


class Canvas:
    """A figure of rows × cols grid panels, built as dicts. Panels are numbered from 0, row by row."""

    def __init__(self, rows: int = 1, cols: int = 1, titles: Sequence[str] | None = None, hspace: float = 0.06,
                 vspace: float = 0.1):
        self.rows, self.cols = rows, cols
        self.data: list[dict] = []
        self.shapes: list[dict] = []
        self.annotations: list[dict] = []
        self.layout: dict = {}
        self._w = (1 - hspace * (cols - 1)) / cols
        self._h = (1 - vspace * (rows - 1)) / rows
        self._hs, self._vs = hspace, vspace
        for k, title in enumerate(titles or []):
            if title:
                (x0, x1), (_, y1) = self._domain(k)
                self.annotations.append({"text": title, "x": (x0 + x1) / 2, "y": y1, "xref": "paper", "yref": "paper",
                                         "xanchor": "center", "yanchor": "bottom", "showarrow": False,
                                         "font": {"size": 12}})

    def _domain(self, k: int) -> tuple[tuple[float, float], tuple[float, float]]:
        r, c = divmod(k, self.cols)
        x0 = c * (self._w + self._hs)
        y1 = 1 - r * (self._h + self._vs)
        return (x0, min(x0 + self._w, 1.0)), (max(y1 - self._h, 0.0), y1)

    @staticmethod
    def _ref(k: int) -> tuple[str, str]:
        return ("x", "y") if k == 0 else (f"x{k + 1}", f"y{k + 1}")

    def add(self, trace: dict, k: int = 0) -> None:
        xref, yref = self._ref(k)
        self.data.append(trace | {"xaxis": xref, "yaxis": yref})

    def shape(self, shapes: Sequence[dict], k: int = 0) -> None:
        xref, yref = self._ref(k)
        self.shapes += [s | {"xref": xref, "yref": yref} for s in shapes]

    def frame(self, k: int, color: str) -> None:
        """Outline panel k (its plot area)."""
        xref, yref = self._ref(k)
        self.shapes.append({"type": "rect", "xref": f"{xref} domain", "yref": f"{yref} domain", "x0": 0, "x1": 1,
                            "y0": 0, "y1": 1, "line": {"color": color, "width": 2}})

    def grid(self, k: int, shape: tuple[int, int], origin: tuple[int, int] = (0, 0), ticks: bool = True) -> None:
        """Image-like axes for panel k over a grid of ``shape`` cells whose top-left cell is ``origin``: row 0 on top,
        square cells, whole-number ticks, exactly the grid in view, thin lines between the cells of small grids. A
        single panel has its column numbers on top, as a matrix is read; several have them under each panel."""
        (h, w), (r0, c0) = shape, origin
        side = max(h, w)
        if side <= TEXT_MAX:
            self.add(grid_lines(h, w, r0, c0), k)
        step = 1 if side <= 12 else 2 if side <= 24 else None  # None: plotly's own spacing
        tick = {"dtick": step, "tickmode": "linear"} if step else {}
        (x0, x1), (y0, y1) = self._domain(k)
        xref, yref = self._ref(k)
        single = self.rows * self.cols == 1
        common = {"showgrid": False, "zeroline": False, "constrain": "domain", "showticklabels": ticks,
                  "tickfont": {"size": 10}, **tick}
        self.layout["xaxis" + xref[1:]] = common | {
            "domain": [x0, x1], "range": [c0 - 0.5, c0 + w - 0.5], "side": "top" if single else "bottom",
            "anchor": yref,
        }
        self.layout["yaxis" + yref[1:]] = common | {
            "domain": [y0, y1], "range": [r0 + h - 0.5, r0 - 0.5], "scaleanchor": xref, "anchor": xref,
            "constraintoward": "top",
        }

    def figure(self, height: int, title: str | None = None, legend: bool = False) -> go.Figure:
        layout = self.layout | {
            "height": height, "margin": {"l": 8, "r": 8, "t": 56 if title else 28, "b": 8}, "font": FONT,
            "plot_bgcolor": "white", "dragmode": "pan", "showlegend": legend, "hoverlabel": {"font": {"size": 12}},
            "template": NO_TEMPLATE,
            "legend": {"orientation": "h", "x": 0.0, "y": -0.02, "yanchor": "top", "font": {"size": 11}},
            "shapes": self.shapes, "annotations": self.annotations,
        }
        if title:
            layout["title"] = {"text": title, "x": 0.0, "xanchor": "left", "y": 0.985, "yanchor": "top",
                               "font": {"size": 14}}
        return go.Figure({"data": self.data, "layout": layout}, _validate=False)


class Mosaic:
    """Equal grid panels, rows × cols, laid out in one coordinate system (a single pair of hidden axes). The browser
    draws this several times faster than subplots, whose every pair of square axes costs plotly ~30 ms. Coordinates
    given to ``add``/``shape`` are the panel's own; hover shows values (panel coordinates would need per-cell text)."""

    def __init__(self, rows: int, cols: int, panel: tuple[int, int], titles: Sequence[str] | None = None,
                 origin: tuple[int, int] = (0, 0), cell_px: float = 30.0):
        self.rows, self.cols = rows, cols
        self.ph, self.pw = panel
        self.origin = origin  # the panel coordinates of each panel's top-left cell
        self.gx = max(1, round(0.25 * self.pw))
        self.gy = max(1, -(-34 // max(int(cell_px), 1)))  # room for a title: ~34 px
        self.data: list[dict] = []
        self.shapes: list[dict] = []
        self.annotations: list[dict] = []
        for k, title in enumerate(titles or []):
            if title:
                dy, dx = self._offset(k)
                self.annotations.append({
                    "text": title, "x": dx + origin[1] + (self.pw - 1) / 2, "y": dy + origin[0] - 0.5, "xref": "x",
                    "yref": "y", "xanchor": "center", "yanchor": "bottom", "showarrow": False, "font": {"size": 12},
                })

    def _offset(self, k: int) -> tuple[int, int]:
        """What to add to panel k's own coordinates to place them in the mosaic."""
        r, c = divmod(k, self.cols)
        return r * (self.ph + self.gy) - self.origin[0], c * (self.pw + self.gx) - self.origin[1]

    def add(self, trace: dict, k: int = 0) -> None:
        dy, dx = self._offset(k)
        t = dict(trace)
        if t["type"] in ("heatmap", "image"):
            t["x0"], t["y0"] = t.get("x0", 0) + dx, t.get("y0", 0) + dy
            if "hovertemplate" in t and "<br>" in t["hovertemplate"]:
                t["hovertemplate"] = t["hovertemplate"].split("<br>", 1)[1]  # drop the mosaic's coordinates
        else:
            t["x"] = [None if v is None else v + dx for v in t["x"]]
            t["y"] = [None if v is None else v + dy for v in t["y"]]
        self.data.append(t)

    def shape(self, shapes: Sequence[dict], k: int = 0) -> None:
        dy, dx = self._offset(k)
        self.shapes += [s | {"x0": s["x0"] + dx, "x1": s["x1"] + dx, "y0": s["y0"] + dy, "y1": s["y1"] + dy,
                             "xref": "x", "yref": "y"} for s in shapes]

    def frame(self, k: int, color: str) -> None:
        """Outline panel k."""
        r0, c0 = self.origin
        self.shape([box(r0 - 0.25, r0 + self.ph - 0.75, c0 - 0.25, c0 + self.pw - 0.75, color, width=2)], k)

    def grid(self, k: int) -> None:
        """Thin lines between the cells of panel k, when it is small enough to have its numbers written in."""
        if max(self.ph, self.pw) <= TEXT_MAX:
            self.add(grid_lines(self.ph, self.pw, *self.origin), k)

    def between(self, k: int, text: str) -> None:
        """A sign (×, =) in the gap right of panel k."""
        dy, dx = self._offset(k)
        self.annotations.append({"text": text, "x": dx + self.origin[1] + self.pw - 0.5 + self.gx / 2,
                                 "y": dy + self.origin[0] + (self.ph - 1) / 2, "xref": "x", "yref": "y",
                                 "showarrow": False, "font": {"size": 20}})

    def figure(self, height: int, title: str | None = None, legend: bool = False) -> go.Figure:
        total_w = self.cols * self.pw + (self.cols - 1) * self.gx
        total_h = self.rows * self.ph + (self.rows - 1) * self.gy
        hidden = {"visible": False, "showgrid": False, "zeroline": False, "constrain": "domain"}
        layout = {
            "xaxis": hidden | {"range": [-1, total_w]},  # half a cell of margin, for the frame of a panel
            "yaxis": hidden | {"range": [total_h, -1 - self.gy], "scaleanchor": "x"},
            "height": height, "margin": {"l": 8, "r": 8, "t": 40 if title else 4, "b": 4}, "font": FONT,
            "plot_bgcolor": "white", "dragmode": "pan", "showlegend": legend, "hoverlabel": {"font": {"size": 12}},
            "template": NO_TEMPLATE,
            "shapes": self.shapes, "annotations": self.annotations,
        }
        if title:
            layout["title"] = {"text": title, "x": 0.0, "xanchor": "left", "y": 0.985, "yanchor": "top",
                               "font": {"size": 14}}
        return go.Figure({"data": self.data, "layout": layout}, _validate=False)


def rgb_image(x_chw: np.ndarray) -> np.ndarray:
    """(3, H, W) float in [0, 1] (or any range: scaled) -> (H, W, 3) uint8 for an image trace."""
    a = np.asarray(x_chw, np.float64)
    lo, hi = min(0.0, float(a.min())), float(a.max())
    if lo < 0 or hi > 1:
        a = (a - lo) / (hi - lo if hi > lo else 1.0)
    return (np.clip(a, 0, 1) * 255).round().astype(np.uint8).transpose(1, 2, 0)


def png_uri(rgb: np.ndarray) -> str:
    """(H, W, 3) uint8 as a PNG data URI: an image trace with a ``source`` draws ~4× faster than one with ``z``."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# --------------------------------------------------------------------------------------------------- tiles


def tile(tiles: np.ndarray, cols: int, fill: float = np.nan, gap: int = TILE_GAP) -> tuple[np.ndarray, np.ndarray]:
    """``tiles`` ``(N, h, w)`` or ``(N, h, w, 3)`` laid out ``cols`` wide with ``gap`` cells of ``fill`` between them,
    as one array (one trace: quick to draw). Returns the mosaic and, for hovering, the tile index of every cell (−1 in
    the gaps)."""
    n, h, w = tiles.shape[:3]
    rows = math.ceil(n / cols)
    shape = (rows * (h + gap) - gap, cols * (w + gap) - gap, *tiles.shape[3:])
    out = np.full(shape, fill, dtype=np.float64 if np.isnan(fill) else tiles.dtype)
    index = np.full(shape[:2], -1, dtype=np.int64)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = r * (h + gap), c * (w + gap)
        out[y : y + h, x : x + w] = tiles[i]
        index[y : y + h, x : x + w] = i
    return out, index


def tile_columns(n: int, h: int, w: int, max_cols: int = 16) -> int:
    """A column count that makes a mosaic of ``n`` tiles of h×w roughly twice as wide as tall."""
    return max(1, min(n, max_cols, math.ceil(math.sqrt(2 * n * h / max(w, 1)))))


def pixel_axes(fig: go.Figure, row: int | None = None, col: int | None = None, cols: int = 1) -> None:
    """Image axes on a plotly figure: square cells, first row on top, no ticks (in a grid of subplots ``cols`` wide:
    the one at ``row``, ``col``)."""
    kw, anchor = {}, "x"
    if row is not None:
        kw = {"row": row, "col": col}
        k = (row - 1) * cols + col
        anchor = "x" if k == 1 else f"x{k}"
    fig.update_xaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False, constrain="domain", **kw)
    fig.update_yaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False, autorange="reversed",
                     scaleanchor=anchor, constrain="domain", **kw)


def tiles_height(rows: int, cols: int, width: int = 900, cap: int = 900) -> int:
    """A figure height (px) that keeps tiles of a ``rows``×``cols`` grid square at about ``width`` px wide."""
    return int(min(cap, max(220, width * rows / max(cols, 1) + 60)))
