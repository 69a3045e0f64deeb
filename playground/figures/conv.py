"""Plotly figures of the convolution lab. Pure functions of engine results (``engine.conv.reference``); no Streamlit
here.

Every grid is drawn the way an image is read: row 0 at the top, one square cell per pixel, and the coordinates are
the input's own — padding cells have row or column −1, −2, … or ≥ n, so hovering tells exactly where a value lives.
Small grids (up to ``TEXT_MAX`` cells a side) carry their numbers in the cells, as in the course's drawings.

Figures are assembled as plain dicts and wrapped once, unvalidated: plotly's object model costs ~0.1 s per figure of
a few panels, dicts ~1 ms, and the lab redraws several figures on every slider move (and on every frame of "Play").
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from playground.theme import COLORS

# --------------------------------------------------------------------------------------------------- constants

TEXT_MAX = 16  # write the numbers into the cells of grids up to this many cells a side
WINDOW = COLORS["accent"]  # the filter's window and the output cell it produces
PADDING_FILL = "rgba(78, 121, 167, 0.40)"  # zero padding: a blue veil over the padded cells
PADDING_EDGE = COLORS["conv"]
NEVER = "#d62728"  # input pixels that no window reads
ARGMAX = "#f2b701"  # the pixel each maximum came from
GRID_LINES = "#c4c4c4"  # drawn between the cells of small grids, so white cells stay visible on the white page
GRAY = [[0.0, "#000000"], [1.0, "#ffffff"]]
# Colour scales as explicit lists: figures skip plotly.py's validation, which is what expands names such as "RdBu_r"
# (plotly.js knows only some names, and its "RdBu" differs). ColorBrewer RdBu reversed and Blues:
SIGNED = [[i / 10, c] for i, c in enumerate([  # negative blue, zero white, positive red
    "#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d", "#b2182b",
    "#67001f"])]
COUNTS = [[i / 8, c] for i, c in enumerate([
    "#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"])]
CHANNEL_SCALES = {
    "R": [[0.0, "#000000"], [1.0, "#ff2a2a"]],
    "G": [[0.0, "#000000"], [1.0, "#2ad42a"]],
    "B": [[0.0, "#000000"], [1.0, "#3a6bff"]],
}
CHANNEL_NAMES = ("R", "G", "B")
_FONT = {"size": 12}
# An explicit empty template: plotly otherwise deep-copies its default one into every figure (~5 ms each), and
# Streamlit's theme styles the charts in the browser anyway.
_NO_TEMPLATE = {"data": {}, "layout": {}}
_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}


def plotly_config() -> dict:
    """The ``config`` every chart of the lab is drawn with."""
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


def output_scale(z: np.ndarray) -> Scale:
    """A convolution's output: signed when it has negative values (edges), else an image in gray (a blur)."""
    return signed_scale(z) if z.size and float(np.nanmin(z)) < 0 else gray_scale(z)


# --------------------------------------------------------------------------------------------------- traces (dicts)


def _heatmap(z: np.ndarray, scale: Scale, y0: int = 0, x0: int = 0, text: bool | None = None,
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


def _mask_layer(mask: np.ndarray, color: str, name: str, opacity: float = 0.6) -> dict:
    """Cells where ``mask`` (over the unpadded input) is True painted in ``color``, the rest transparent."""
    return {
        "type": "heatmap", "z": np.where(mask, 1.0, np.nan).astype(np.float32), "x0": 0, "dx": 1, "y0": 0, "dy": 1,
        "colorscale": [[0, color], [1, color]], "showscale": False, "opacity": opacity, "name": name,
        "hovertemplate": f"row %{{y}}, column %{{x}}<br>{name}<extra></extra>",
    }


def _legend_entry(color: str, name: str, symbol: str = "square") -> dict:
    """An invisible trace that only puts ``name`` with a ``color`` swatch into the legend."""
    return {"type": "scatter", "x": [None], "y": [None], "mode": "markers", "name": name, "showlegend": True,
            "marker": {"color": color, "symbol": symbol, "size": 12, "line": {"width": 0}}}


def _grid_lines(h: int, w: int, r0: int, c0: int) -> dict:
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


def _box(r0: float, r1: float, c0: float, c1: float, color: str, width: float = 3, dash: str = "solid",
         fill: str | None = None) -> dict:
    """A rectangle around cells rows r0..r1, columns c0..c1 (inclusive)."""
    return {"type": "rect", "x0": c0 - 0.5, "x1": c1 + 0.5, "y0": r0 - 0.5, "y1": r1 + 0.5,
            "line": {"color": color, "width": width, "dash": dash}, "fillcolor": fill or "rgba(0,0,0,0)",
            "layer": "above"}


def window_shapes(rows: np.ndarray, cols: np.ndarray, color: str = WINDOW) -> list[dict]:
    """The filter's window: one box when its taps touch (no dilation), else each tap and a dotted outline."""
    rows, cols = np.asarray(rows), np.asarray(cols)
    contiguous = bool(np.all(np.diff(rows) == 1) and np.all(np.diff(cols) == 1))
    outline = _box(rows.min(), rows.max(), cols.min(), cols.max(), color, width=3.5 if contiguous else 1.5,
                   dash="solid" if contiguous else "dot")
    if contiguous:
        return [outline]
    return [outline, *(_box(r, r, c, c, color, width=2.5) for r in rows for c in cols)]


def _padding_shapes(h: int, w: int, pad: tuple[int, int, int, int]) -> list[dict]:
    """Veil the padding bands and outline the real input (rows 0..h−1, columns 0..w−1)."""
    top, bottom, left, right = pad
    if not any(pad):
        return []
    bands = [(-top, -1, -left, w + right - 1) if top else None, (h, h + bottom - 1, -left, w + right - 1) if bottom
             else None, (0, h - 1, -left, -1) if left else None, (0, h - 1, w, w + right - 1) if right else None]
    shapes = [_box(*band, color=PADDING_FILL, width=0, fill=PADDING_FILL) for band in bands if band is not None]
    return [*shapes, _box(0, h - 1, 0, w - 1, PADDING_EDGE, width=2, dash="dash")]


# --------------------------------------------------------------------------------------------------- canvas


class _Canvas:
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
            self.add(_grid_lines(h, w, r0, c0), k)
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
            "height": height, "margin": {"l": 8, "r": 8, "t": 56 if title else 28, "b": 8}, "font": _FONT,
            "plot_bgcolor": "white", "dragmode": "pan", "showlegend": legend, "hoverlabel": {"font": {"size": 12}},
            "template": _NO_TEMPLATE,
            "legend": {"orientation": "h", "x": 0.0, "y": -0.02, "yanchor": "top", "font": {"size": 11}},
            "shapes": self.shapes, "annotations": self.annotations,
        }
        if title:
            layout["title"] = {"text": title, "x": 0.0, "xanchor": "left", "y": 0.985, "yanchor": "top",
                               "font": {"size": 14}}
        return go.Figure({"data": self.data, "layout": layout}, _validate=False)


class _Mosaic:
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
        self.shape([_box(r0 - 0.25, r0 + self.ph - 0.75, c0 - 0.25, c0 + self.pw - 0.75, color, width=2)], k)

    def grid(self, k: int) -> None:
        """Thin lines between the cells of panel k, when it is small enough to have its numbers written in."""
        if max(self.ph, self.pw) <= TEXT_MAX:
            self.add(_grid_lines(self.ph, self.pw, *self.origin), k)

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
            "height": height, "margin": {"l": 8, "r": 8, "t": 40 if title else 4, "b": 4}, "font": _FONT,
            "plot_bgcolor": "white", "dragmode": "pan", "showlegend": legend, "hoverlabel": {"font": {"size": 12}},
            "template": _NO_TEMPLATE,
            "shapes": self.shapes, "annotations": self.annotations,
        }
        if title:
            layout["title"] = {"text": title, "x": 0.0, "xanchor": "left", "y": 0.985, "yanchor": "top",
                               "font": {"size": 14}}
        return go.Figure({"data": self.data, "layout": layout}, _validate=False)


def _rgb_image(x_chw: np.ndarray) -> np.ndarray:
    """(3, H, W) float in [0, 1] (or any range: scaled) -> (H, W, 3) uint8 for an image trace."""
    a = np.asarray(x_chw, np.float64)
    lo, hi = min(0.0, float(a.min())), float(a.max())
    if lo < 0 or hi > 1:
        a = (a - lo) / (hi - lo if hi > lo else 1.0)
    return (np.clip(a, 0, 1) * 255).round().astype(np.uint8).transpose(1, 2, 0)


def _png_uri(rgb: np.ndarray) -> str:
    """(H, W, 3) uint8 as a PNG data URI: an image trace with a ``source`` draws ~4× faster than one with ``z``."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _fmt(v: float) -> str:
    return f"{float(v):.4g}".replace("-", "−")


# --------------------------------------------------------------------------------------------------- input and output


@dataclass(frozen=True)
class Overlay:
    """Input pixels to mark: ``mask`` is (H, W) over the unpadded input."""

    mask: np.ndarray
    color: str
    label: str


def input_figure(x_padded: np.ndarray, padding: tuple[int, int, int, int],
                 taps: tuple[np.ndarray, np.ndarray] | None = None, overlays: Sequence[Overlay] = (),
                 star: tuple[int, int] | None = None, title: str | None = None, height: int = 430) -> go.Figure:
    """The zero-padded input (C, Hp, Wp) — gray for one channel, colour for three — with the padding veiled, the
    window's taps (input rows and columns; padding ones lie outside 0..n−1) boxed, marked pixels and a star."""
    c, hp, wp = x_padded.shape
    top, bottom, left, right = padding
    h, w = hp - top - bottom, wp - left - right
    cv = _Canvas()
    if c == 3:
        cv.add({"type": "image", "source": _png_uri(_rgb_image(x_padded)), "x0": -left, "y0": -top, "dx": 1,
                "dy": 1, "name": "input", "hovertemplate": "row %{y}, column %{x}<br>RGBA %{color}<extra></extra>"})
    else:
        cv.add(_heatmap(x_padded[0], gray_scale(x_padded[0]), y0=-top, x0=-left, name="input"))
    legend = False
    for o in overlays:
        if o.mask.any():
            cv.add(_mask_layer(o.mask, o.color, o.label))
            cv.add(_legend_entry(o.color, o.label))
            legend = True
    if any(padding):
        cv.shape(_padding_shapes(h, w, padding))
        cv.add(_legend_entry(PADDING_FILL, "zero padding"))
        legend = True
    if taps is not None:
        cv.shape(window_shapes(*taps))
        cv.add(_legend_entry(WINDOW, "filter window", symbol="square-open"))
        legend = True
    cv.grid(0, (hp, wp), origin=(-top, -left))
    if star is not None:
        cv.add({"type": "scatter", "x": [star[1]], "y": [star[0]], "mode": "markers", "name": "this maximum",
                "hoverinfo": "skip", "marker": {"symbol": "star", "size": 16, "color": ARGMAX,
                                                "line": {"color": "#000", "width": 1}}})
    return cv.figure(height, title, legend)


def output_figure(out: np.ndarray, cell: tuple[int, int] | None = None, title: str | None = None,
                  scale: Scale | None = None, height: int = 430) -> go.Figure:
    """One output channel (H', W') with the cell the current window produces boxed."""
    cv = _Canvas()
    cv.add(_heatmap(out, scale or output_scale(out), name="output", showscale=True))
    if cell is not None:
        cv.shape([_box(cell[0], cell[0], cell[1], cell[1], WINDOW, width=3.5)])
    cv.grid(0, out.shape)
    return cv.figure(height, title)


def coverage_figure(cov: np.ndarray, title: str | None = None, height: int = 380) -> go.Figure:
    """How many windows read each input pixel (n, n); pixels read by none are painted red."""
    cv = _Canvas()
    cv.add(_heatmap(cov, Scale(COUNTS, 0, max(int(cov.max()), 1)), name="coverage", showscale=True, hover="read by"))
    never = cov == 0
    if never.any():
        cv.add(_mask_layer(never, NEVER, "never read by any window", opacity=0.85))
        cv.add(_legend_entry(NEVER, "never read by any window"))
    cv.grid(0, cov.shape)
    return cv.figure(height, title, bool(never.any()))


# --------------------------------------------------------------------------------------------------- one step


def step_figure(window: np.ndarray, kernel: np.ndarray, products: np.ndarray, in_input: np.ndarray,
                channel_names: Sequence[str] | None = None, height_per_row: int = 190) -> go.Figure:
    """One output value taken apart, a row per input channel: the window under the filter × the filter = their
    elementwise products (each channel's sum in its title). Taps on the zero padding are veiled."""
    c, fh, fw = window.shape
    names = list(channel_names) if channel_names else ([""] if c == 1 else [f"channel {k}" for k in range(c)])
    titles = []
    for k in range(c):
        prefix = f"{names[k]}: " if names[k] else ""
        titles += [f"{prefix}input window", f"{prefix}filter", f"{prefix}products, Σ = {_fmt(products[k].sum())}"]
    cv = _Mosaic(c, 3, (fh, fw), titles, cell_px=height_per_row / max(fh, 1))
    win_scale, ker_scale, prod_scale = gray_scale(window), signed_scale(kernel), signed_scale(products)
    pads = [_box(r, r, q, q, PADDING_FILL, width=0, fill=PADDING_FILL)
            for r in range(fh) for q in range(fw) if not in_input[r, q]]
    for k in range(c):
        scale = Scale(CHANNEL_SCALES[names[k]], win_scale.zmin, win_scale.zmax) if names[k] in CHANNEL_SCALES \
            else win_scale
        panels = [(window[k], scale, "window", "value"), (kernel[k], ker_scale, "filter", "weight"),
                  (products[k], prod_scale, "product", "product")]
        for col, (z, sc, name, hover) in enumerate(panels):
            cv.add(_heatmap(z, sc, text=True, name=name, hover=hover), 3 * k + col)
            cv.grid(3 * k + col)
        cv.shape(pads, 3 * k)
        cv.between(3 * k, "×")
        cv.between(3 * k + 1, "=")
    return cv.figure(20 + height_per_row * c)


def pool_window_figure(values: np.ndarray, best: tuple[int, int] | None, title: str, height: int = 260) -> go.Figure:
    """A pooling window's values (f, f), the maximum boxed (max pooling)."""
    cv = _Canvas()
    cv.add(_heatmap(values, gray_scale(values), text=True, name="window"))
    if best is not None:
        cv.shape([_box(best[0], best[0], best[1], best[1], ARGMAX, width=4)])
    cv.grid(0, values.shape)
    return cv.figure(height, title)


# --------------------------------------------------------------------------------------------------- volumes


def channels_figure(x_padded: np.ndarray, padding: tuple[int, int, int, int],
                    taps: tuple[np.ndarray, np.ndarray] | None = None, height: int = 330) -> go.Figure:
    """A volume's channels side by side (R, G, B in their colours), each with the window on it: an f×f×3 filter
    reads the same f×f place in every channel."""
    c, hp, wp = x_padded.shape
    top, bottom, left, right = padding
    names = CHANNEL_NAMES if c == 3 else tuple(f"channel {k}" for k in range(c))
    cv = _Canvas(1, c, [f"{n} channel" if n in CHANNEL_SCALES else n for n in names], hspace=0.03)
    scale = gray_scale(x_padded)
    for k in range(c):
        cs = CHANNEL_SCALES.get(names[k], GRAY)
        cv.add(_heatmap(x_padded[k], Scale(cs, scale.zmin, scale.zmax), y0=-top, x0=-left, name=names[k]), k)
        cv.shape(_padding_shapes(hp - top - bottom, wp - left - right, padding), k)
        if taps is not None:
            cv.shape(window_shapes(*taps), k)
        cv.grid(k, (hp, wp), origin=(-top, -left))
    return cv.figure(height)


def feature_maps_figure(out: np.ndarray, current: tuple[int, int, int] | None = None,
                        titles: Sequence[str] | None = None, max_cols: int = 5,
                        height_per_row: int = 240) -> go.Figure:
    """The output volume (K, H', W') as K maps on one shared colour scale: each filter gave one channel. The map
    and cell of ``current`` = (k, i, j) are outlined."""
    n_k, h, w = out.shape
    cols = min(n_k, max_cols)
    rows = -(-n_k // cols)
    titles = list(titles) if titles else [f"channel {k}" for k in range(n_k)]
    if current is not None:
        titles[current[0]] = f"<b>{titles[current[0]]}</b>"
    cv = _Mosaic(rows, cols, (h, w), titles, cell_px=height_per_row / max(h, 1))
    scale = output_scale(out)
    for k in range(n_k):
        cv.add(_heatmap(out[k], scale, name=f"channel {k + 1}", showscale=(k == 0)), k)
        cv.grid(k)
    if current is not None:
        k, i, j = current
        cv.shape([_box(i, i, j, j, WINDOW, width=3)], k)
        cv.frame(k, WINDOW)
    return cv.figure(10 + height_per_row * rows)


def filter_bank_figure(kernels: np.ndarray, titles: Sequence[str], height_per_row: int = 120) -> go.Figure:
    """K filters of f×f×C as a grid: a row per filter, a column per channel, on one signed scale."""
    n_k, c, fh, fw = kernels.shape
    names = CHANNEL_NAMES if c == 3 else tuple(f"ch {k}" for k in range(c))
    sub = [f"{titles[k]} · {names[ch]}" for k in range(n_k) for ch in range(c)]
    cv = _Mosaic(n_k, c, (fh, fw), sub, cell_px=height_per_row / max(fh, 1))
    scale = signed_scale(kernels)
    for k in range(n_k):
        for ch in range(c):
            cv.add(_heatmap(kernels[k, ch], scale, text=fh <= 7, name=titles[k], hover="weight"), k * c + ch)
            cv.grid(k * c + ch)
    return cv.figure(10 + height_per_row * n_k)


# --------------------------------------------------------------------------------------------------- pooling


def argmax_mask(where: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H', W', 2) positions of each maximum -> (H, W) bool, True where some maximum came from."""
    mask = np.zeros(shape, bool)
    rows, cols = where[..., 0].ravel(), where[..., 1].ravel()
    inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    mask[rows[inside], cols[inside]] = True
    return mask


# --------------------------------------------------------------------------------------------------- cross-correlation


def kernels_figure(panels: Sequence[tuple[str, np.ndarray]], height: int = 230) -> go.Figure:
    """Small annotated filters side by side on one signed scale, e.g. a filter and its 180° rotation."""
    shape = panels[0][1].shape
    cv = _Mosaic(1, len(panels), shape, [t for t, _ in panels], cell_px=height / max(shape[0], 1) * 0.8)
    scale = signed_scale(*(k for _, k in panels))
    for col, (title, k) in enumerate(panels):
        cv.add(_heatmap(k, scale, text=True, name=title, hover="weight"), col)
        cv.grid(col)
    return cv.figure(height)


def compare_figure(first: tuple[str, np.ndarray], second: tuple[str, np.ndarray], diff_title: str,
                   height: int = 360) -> go.Figure:
    """Two outputs on one colour scale and their difference (second − first) on its own."""
    (t1, a), (t2, b) = first, second
    diff = b - a
    cv = _Canvas(1, 3, [t1, t2, diff_title], hspace=0.05)
    scale = output_scale(np.concatenate([a.ravel(), b.ravel()]))
    cv.add(_heatmap(a, scale, name=t1), 0)
    cv.add(_heatmap(b, scale, name=t2), 1)
    cv.add(_heatmap(diff, signed_scale(diff), name="difference", showscale=True), 2)
    for k in range(3):
        cv.grid(k, a.shape)
    return cv.figure(height)
