"""Plotly figures for the "Look inside" page: filters, feature-map grids, the overview strip across layers, top-k.

Pure functions of engine results (numpy arrays); no Streamlit here. Maps are drawn as heatmaps on a diverging scale
centred on zero (blue negative, red positive, as CNN Explainer does), one scale per layer so channels compare;
several small maps are laid out as one mosaic (one trace, quick to draw) with blank gaps between tiles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.units import format_shape
from playground.theme import COLORS

DIVERGING = "RdBu_r"  # negative blue, zero white, positive red
GAP = 1  # blank cells between tiles of a mosaic
MARGIN = dict(l=10, r=10, t=36, b=10)


def _mosaic(tiles: np.ndarray, cols: int, fill: float = np.nan) -> tuple[np.ndarray, np.ndarray]:
    """``tiles`` ``(N, h, w)`` or ``(N, h, w, 3)`` laid out ``cols`` wide with ``GAP`` cells of ``fill`` between them.
    Returns the mosaic and, for hovering, the tile index of every cell (-1 in the gaps)."""
    n, h, w = tiles.shape[:3]
    rows = math.ceil(n / cols)
    shape = (rows * (h + GAP) - GAP, cols * (w + GAP) - GAP, *tiles.shape[3:])
    out = np.full(shape, fill, dtype=np.float64 if np.isnan(fill) else tiles.dtype)
    index = np.full(shape[:2], -1, dtype=np.int64)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = r * (h + GAP), c * (w + GAP)
        out[y : y + h, x : x + w] = tiles[i]
        index[y : y + h, x : x + w] = i
    return out, index


def _columns(n: int, h: int, w: int, max_cols: int = 16) -> int:
    """A column count that makes a mosaic of ``n`` tiles roughly twice as wide as tall."""
    return max(1, min(n, max_cols, math.ceil(math.sqrt(2 * n * h / max(w, 1)))))


def _pixel_axes(fig: go.Figure, row: int | None = None, col: int | None = None, cols: int = 1) -> None:
    """Square cells, first row on top, no ticks (in a grid of subplots ``cols`` wide: the one at ``row``, ``col``)."""
    kw, anchor = {}, "x"
    if row is not None:
        kw = {"row": row, "col": col}
        k = (row - 1) * cols + col
        anchor = "x" if k == 1 else f"x{k}"
    fig.update_xaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False, constrain="domain", **kw)
    fig.update_yaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False, autorange="reversed",
                     scaleanchor=anchor, constrain="domain", **kw)


def _height(rows: int, cols: int, width: int = 900, cap: int = 900) -> int:
    return int(min(cap, max(220, width * rows / max(cols, 1) + 60)))


def filters_figure(weight: np.ndarray, images: np.ndarray, name: str) -> go.Figure:
    """The first layer's filters, one tile each. ``weight`` ``(K, C, kh, kw)`` the raw weights; ``images`` the same
    scaled to [0, 1] per filter (``engine.nets.inspect.filter_images``). Three input channels: colour tiles from
    ``images``; otherwise the raw weights (averaged over input channels) on a diverging scale, zero white."""
    k, c, kh, kw = weight.shape
    cols = min(k, 8 if k <= 32 else 16)
    rows = math.ceil(k / cols)
    fig = go.Figure()
    if c == 3:
        tiles = np.rint(images.transpose(0, 2, 3, 1) * 255).astype(np.uint8)  # (K, kh, kw, 3)
        z, index = _mosaic(tiles, cols, fill=255)
        fig.add_trace(go.Image(z=z, customdata=index, hovertemplate="filter %{customdata}<extra></extra>"))
    else:
        tiles = weight.mean(axis=1)  # (K, kh, kw)
        z, index = _mosaic(tiles, cols)
        bound = float(np.nanmax(np.abs(z))) or 1.0
        fig.add_trace(go.Heatmap(z=z, customdata=index, colorscale=DIVERGING, zmin=-bound, zmax=bound,
                                 hoverongaps=False, colorbar=dict(title="weight", thickness=12),
                                 hovertemplate="filter %{customdata} · weight %{z:.3f}<extra></extra>"))
    _pixel_axes(fig)
    fig.update_layout(title=f"{name}: {k} filters of {c}×{kh}×{kw}", margin=MARGIN,
                      height=_height(rows, cols, cap=520), plot_bgcolor="white")
    return fig


def maps_figure(maps: np.ndarray, channels: Sequence[int], title: str) -> go.Figure:
    """One layer's feature maps ``(C, H, W)`` for the given ``channels`` (in that order), as a grid of heatmaps on
    one diverging scale (the layer's largest absolute value), hover naming the channel."""
    chosen = np.asarray(maps)[list(channels)]  # (n, H, W)
    n, h, w = chosen.shape
    cols = _columns(n, h, w)
    z, index = _mosaic(chosen, cols)
    labels = np.where(index >= 0, np.asarray(list(channels) + [-1])[index], -1)
    bound = float(np.abs(maps).max()) or 1.0
    fig = go.Figure(go.Heatmap(z=z, customdata=labels, colorscale=DIVERGING, zmin=-bound, zmax=bound,
                               hoverongaps=False, colorbar=dict(title="activation", thickness=12),
                               hovertemplate="channel %{customdata} · %{z:.3f}<extra></extra>"))
    _pixel_axes(fig)
    fig.update_layout(title=title, margin=MARGIN, height=_height(math.ceil(n / cols), cols), plot_bgcolor="white")
    return fig


def overview_figure(image: np.ndarray, layers: Sequence[tuple[str, np.ndarray, Sequence[int], tuple[int, ...]]],
                    per_layer: int = 4) -> go.Figure:
    """CNN Explainer's overview: the input, then one column per layer holding its ``per_layer`` strongest maps
    (``layers``: (name, maps ``(C, h, w)`` — possibly reduced for drawing —, channel order, the layer's true
    ``(C, H, W)``)), each layer on its own diverging scale, with its shape below. ``image``: the network's input as a
    picture, ``(h, w)`` or ``(h, w, 3)`` in [0, 1]."""
    cols = 1 + len(layers)
    fig = make_subplots(rows=per_layer, cols=cols, horizontal_spacing=0.012, vertical_spacing=0.02)
    gray = image.ndim == 2
    fig.add_trace(go.Heatmap(z=image, colorscale="gray", zmin=0, zmax=1, showscale=False,
                             hovertemplate="input · %{z:.2f}<extra></extra>") if gray else
                  go.Image(z=np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8),
                           hovertemplate="input<extra></extra>"), row=1, col=1)
    _pixel_axes(fig, 1, 1, cols)
    annotations = [_caption("input", format_shape(image.shape[:2]), 1, cols, per_layer)]
    for j, (name, maps, order, shape) in enumerate(layers, start=2):
        bound = float(np.abs(maps).max()) or 1.0
        for i, ch in enumerate(order[:per_layer], start=1):
            fig.add_trace(go.Heatmap(z=maps[ch], colorscale=DIVERGING, zmin=-bound, zmax=bound, showscale=False,
                                     hovertemplate=f"{name} · channel {ch} · %{{z:.3f}}<extra></extra>"),
                          row=i, col=j)
            _pixel_axes(fig, i, j, cols)
        annotations.append(_caption(name, format_shape(shape), j, cols, per_layer))
    for i in range(per_layer * cols):  # hide the axes of empty cells
        suffix = "" if i == 0 else str(i + 1)
        fig.layout[f"xaxis{suffix}"].visible = False
        fig.layout[f"yaxis{suffix}"].visible = False
    fig.update_layout(annotations=annotations, margin=dict(l=10, r=10, t=10, b=58), height=150 + 95 * per_layer,
                      plot_bgcolor="white", showlegend=False)
    return fig


def _caption(name: str, shape: str, col: int, cols: int, rows: int) -> dict:
    x = (col - 0.5) / cols
    return dict(text=f"<b>{name}</b><br>{shape}", x=x, y=-0.02, xref="paper", yref="paper", xanchor="center",
                yanchor="top", showarrow=False, font=dict(size=11))


def topk_figure(top: Sequence[tuple[str, float]], true: str | None = None) -> go.Figure:
    """The top-k classes as horizontal bars, most probable on top; the true class (when known) in green, the others
    grey (the prediction, when wrong, in the accent colour)."""
    names = [n for n, _ in top][::-1]
    probs = [p for _, p in top][::-1]
    best = top[0][0] if top else None

    def color(name: str) -> str:
        if true is not None and name == true:
            return COLORS["dense"]
        if name == best:
            return COLORS["accent"] if true is not None else COLORS["conv"]
        return COLORS["neutral"]

    colors = [color(n) for n in names]
    fig = go.Figure(go.Bar(x=probs, y=[f"{n} " for n in names], orientation="h", marker_color=colors,
                           text=[f"{100 * p:.1f}%" for p in probs], textposition="auto",
                           hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    fig.update_layout(xaxis=dict(range=[0, 1], tickformat=".0%", title="probability"),
                      yaxis=dict(type="category"),  # class names like "7" are labels, not numbers
                      uniformtext=dict(minsize=12, mode="show"), margin=MARGIN, height=90 + 34 * len(names),
                      title="Top predictions")
    return fig


def input_figure(image: np.ndarray, title: str) -> go.Figure:
    """The network's input as it sees it (normalisation undone): ``(h, w)`` gray or ``(h, w, 3)`` in [0, 1], with
    every pixel visible."""
    if image.ndim == 2:
        trace = go.Heatmap(z=image, colorscale="gray", zmin=0, zmax=1, showscale=False,
                           hovertemplate="(%{y}, %{x}) · %{z:.2f}<extra></extra>")
    else:
        trace = go.Image(z=np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8))
    fig = go.Figure(trace)
    _pixel_axes(fig)
    fig.update_layout(title=title, margin=MARGIN, height=300, plot_bgcolor="white")
    return fig
