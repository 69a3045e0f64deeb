"""Plotly figures of the convolution lab: pure functions of engine results (``engine.conv``); no Streamlit here.

Every grid is drawn the way an image is read, with the input's own coordinates: padding cells have row or column −1,
−2, … or ≥ n, so hovering tells exactly where a value lives. Built on ``playground.figures.primitives`` (dict traces,
panel grids, unvalidated figures: fast enough to redraw on every frame of "Play").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from engine.conv.coverage import CoverageFacts
from engine.conv.pooling import PoolStep
from engine.conv.reference import ConvStep
from engine.units import format_number as fmt
from playground.figures.primitives import (
    COUNTS,
    GRAY,
    Canvas,
    Mosaic,
    Scale,
    box,
    gray_scale,
    heatmap,
    legend_entry,
    mask_layer,
    png_uri,
    rgb_image,
    signed_scale,
)
from playground.theme import COLORS

WINDOW = COLORS["accent"]  # the filter's window and the output cell it produces
PADDING_FILL = "rgba(78, 121, 167, 0.40)"  # zero padding: a blue veil over the padded cells
PADDING_EDGE = COLORS["conv"]
NEVER = "#d62728"  # input pixels that no window reads
ARGMAX = "#f2b701"  # the pixel each maximum came from
CHANNEL_SCALES = {
    "R": [[0.0, "#000000"], [1.0, "#ff2a2a"]],
    "G": [[0.0, "#000000"], [1.0, "#2ad42a"]],
    "B": [[0.0, "#000000"], [1.0, "#3a6bff"]],
}
CHANNEL_NAMES = ("R", "G", "B")


def output_scale(z: np.ndarray) -> Scale:
    """A convolution's output: signed when it has negative values (edges), else an image in gray (a blur)."""
    return signed_scale(z) if z.size and float(np.nanmin(z)) < 0 else gray_scale(z)


def window_shapes(rows: np.ndarray, cols: np.ndarray, color: str = WINDOW) -> list[dict]:
    """The filter's window: one box when its taps touch (no dilation), else each tap and a dotted outline."""
    rows, cols = np.asarray(rows), np.asarray(cols)
    contiguous = bool(np.all(np.diff(rows) == 1) and np.all(np.diff(cols) == 1))
    outline = box(rows.min(), rows.max(), cols.min(), cols.max(), color, width=3.5 if contiguous else 1.5,
                  dash="solid" if contiguous else "dot")
    if contiguous:
        return [outline]
    return [outline, *(box(r, r, c, c, color, width=2.5) for r in rows for c in cols)]


def _padding_shapes(h: int, w: int, pad: tuple[int, int, int, int]) -> list[dict]:
    """Veil the padding bands and outline the real input (rows 0..h−1, columns 0..w−1)."""
    top, bottom, left, right = pad
    if not any(pad):
        return []
    bands = [(-top, -1, -left, w + right - 1) if top else None, (h, h + bottom - 1, -left, w + right - 1) if bottom
             else None, (0, h - 1, -left, -1) if left else None, (0, h - 1, w, w + right - 1) if right else None]
    shapes = [box(*band, color=PADDING_FILL, width=0, fill=PADDING_FILL) for band in bands if band is not None]
    return [*shapes, box(0, h - 1, 0, w - 1, PADDING_EDGE, width=2, dash="dash")]


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
    cv = Canvas()
    if c == 3:
        cv.add({"type": "image", "source": png_uri(rgb_image(x_padded)), "x0": -left, "y0": -top, "dx": 1,
                "dy": 1, "name": "input", "hovertemplate": "row %{y}, column %{x}<br>RGBA %{color}<extra></extra>"})
    else:
        cv.add(heatmap(x_padded[0], gray_scale(x_padded[0]), y0=-top, x0=-left, name="input"))
    legend = False
    for o in overlays:
        if o.mask.any():
            cv.add(mask_layer(o.mask, o.color, o.label))
            cv.add(legend_entry(o.color, o.label))
            legend = True
    if any(padding):
        cv.shape(_padding_shapes(h, w, padding))
        cv.add(legend_entry(PADDING_FILL, "zero padding"))
        legend = True
    if taps is not None:
        cv.shape(window_shapes(*taps))
        cv.add(legend_entry(WINDOW, "filter window", symbol="square-open"))
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
    cv = Canvas()
    cv.add(heatmap(out, scale or output_scale(out), name="output", showscale=True))
    if cell is not None:
        cv.shape([box(cell[0], cell[0], cell[1], cell[1], WINDOW, width=3.5)])
    cv.grid(0, out.shape)
    return cv.figure(height, title)


def coverage_figure(facts: CoverageFacts, title: str | None = None, height: int = 380) -> go.Figure:
    """How many windows read each input pixel (n, n); pixels read by none are painted red."""
    cv = Canvas()
    counts = facts.counts
    cv.add(heatmap(counts, Scale(COUNTS, 0, max(int(counts.max()), 1)), name="coverage", showscale=True,
                   hover="read by"))
    if facts.unread:
        cv.add(mask_layer(facts.never, NEVER, "never read by any window", opacity=0.85))
        cv.add(legend_entry(NEVER, "never read by any window"))
    cv.grid(0, counts.shape)
    return cv.figure(height, title, bool(facts.unread))


# --------------------------------------------------------------------------------------------------- one step


def step_figure(step: ConvStep, channel_names: Sequence[str] | None = None, height_per_row: int = 190) -> go.Figure:
    """One output value taken apart, a row per input channel: the window under the filter × the filter = their
    elementwise products (each channel's sum in its title). Taps on the zero padding are veiled."""
    window, kernel, products = step.window, step.kernel, step.products
    c, fh, fw = window.shape
    names = list(channel_names) if channel_names else ([""] if c == 1 else [f"channel {k}" for k in range(c)])
    titles = []
    for k in range(c):
        prefix = f"{names[k]}: " if names[k] else ""
        titles += [f"{prefix}input window", f"{prefix}filter", f"{prefix}products, Σ = {fmt(step.channel_sums[k])}"]
    cv = Mosaic(c, 3, (fh, fw), titles, cell_px=height_per_row / max(fh, 1))
    win_scale, ker_scale, prod_scale = gray_scale(window), signed_scale(kernel), signed_scale(products)
    pads = [box(r, r, q, q, PADDING_FILL, width=0, fill=PADDING_FILL)
            for r in range(fh) for q in range(fw) if not step.in_input[r, q]]
    for k in range(c):
        scale = Scale(CHANNEL_SCALES[names[k]], win_scale.zmin, win_scale.zmax) if names[k] in CHANNEL_SCALES \
            else win_scale
        panels = [(window[k], scale, "window", "value"), (kernel[k], ker_scale, "filter", "weight"),
                  (products[k], prod_scale, "product", "product")]
        for col, (z, sc, name, hover) in enumerate(panels):
            cv.add(heatmap(z, sc, text=True, name=name, hover=hover), 3 * k + col)
            cv.grid(3 * k + col)
        cv.shape(pads, 3 * k)
        cv.between(3 * k, "×")
        cv.between(3 * k + 1, "=")
    return cv.figure(20 + height_per_row * c)


def pool_window_figure(step: PoolStep, title: str, height: int = 260) -> go.Figure:
    """A pooling window's values (f, f), the maximum boxed (max pooling)."""
    cv = Canvas()
    cv.add(heatmap(step.window, gray_scale(step.window), text=True, name="window"))
    best = step.best
    if best is not None:
        cv.shape([box(best[0], best[0], best[1], best[1], ARGMAX, width=4)])
    cv.grid(0, step.window.shape)
    return cv.figure(height, title)


# --------------------------------------------------------------------------------------------------- volumes


def channels_figure(x_padded: np.ndarray, padding: tuple[int, int, int, int],
                    taps: tuple[np.ndarray, np.ndarray] | None = None, height: int = 330) -> go.Figure:
    """A volume's channels side by side (R, G, B in their colours), each with the window on it: an f×f×3 filter
    reads the same f×f place in every channel."""
    c, hp, wp = x_padded.shape
    top, bottom, left, right = padding
    names = CHANNEL_NAMES if c == 3 else tuple(f"channel {k}" for k in range(c))
    cv = Canvas(1, c, [f"{n} channel" if n in CHANNEL_SCALES else n for n in names], hspace=0.03)
    scale = gray_scale(x_padded)
    for k in range(c):
        cs = CHANNEL_SCALES.get(names[k], GRAY)
        cv.add(heatmap(x_padded[k], Scale(cs, scale.zmin, scale.zmax), y0=-top, x0=-left, name=names[k]), k)
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
    cv = Mosaic(rows, cols, (h, w), titles, cell_px=height_per_row / max(h, 1))
    scale = output_scale(out)
    for k in range(n_k):
        cv.add(heatmap(out[k], scale, name=f"channel {k + 1}", showscale=(k == 0)), k)
        cv.grid(k)
    if current is not None:
        k, i, j = current
        cv.shape([box(i, i, j, j, WINDOW, width=3)], k)
        cv.frame(k, WINDOW)
    return cv.figure(10 + height_per_row * rows)


def filter_bank_figure(kernels: np.ndarray, titles: Sequence[str], height_per_row: int = 120) -> go.Figure:
    """K filters of f×f×C as a grid: a row per filter, a column per channel, on one signed scale."""
    n_k, c, fh, fw = kernels.shape
    names = CHANNEL_NAMES if c == 3 else tuple(f"ch {k}" for k in range(c))
    sub = [f"{titles[k]} · {names[ch]}" for k in range(n_k) for ch in range(c)]
    cv = Mosaic(n_k, c, (fh, fw), sub, cell_px=height_per_row / max(fh, 1))
    scale = signed_scale(kernels)
    for k in range(n_k):
        for ch in range(c):
            cv.add(heatmap(kernels[k, ch], scale, text=fh <= 7, name=titles[k], hover="weight"), k * c + ch)
            cv.grid(k * c + ch)
    return cv.figure(10 + height_per_row * n_k)


# --------------------------------------------------------------------------------------------------- cross-correlation


def kernels_figure(panels: Sequence[tuple[str, np.ndarray]], height: int = 230) -> go.Figure:
    """Small annotated filters side by side on one signed scale, e.g. a filter and its 180° rotation."""
    shape = panels[0][1].shape
    cv = Mosaic(1, len(panels), shape, [t for t, _ in panels], cell_px=height / max(shape[0], 1) * 0.8)
    scale = signed_scale(*(k for _, k in panels))
    for col, (title, k) in enumerate(panels):
        cv.add(heatmap(k, scale, text=True, name=title, hover="weight"), col)
        cv.grid(col)
    return cv.figure(height)


def compare_figure(first: tuple[str, np.ndarray], second: tuple[str, np.ndarray], diff_title: str,
                   height: int = 360) -> go.Figure:
    """Two outputs on one colour scale and their difference (second − first) on its own."""
    (t1, a), (t2, b) = first, second
    diff = b - a
    cv = Canvas(1, 3, [t1, t2, diff_title], hspace=0.05)
    scale = output_scale(np.concatenate([a.ravel(), b.ravel()]))
    cv.add(heatmap(a, scale, name=t1), 0)
    cv.add(heatmap(b, scale, name=t2), 1)
    cv.add(heatmap(diff, signed_scale(diff), name="difference", showscale=True), 2)
    for k in range(3):
        cv.grid(k, a.shape)
    return cv.figure(height)
