"""Plotly figures for the "Look inside" page: filters, feature-map grids, the overview strip across layers, top-k.

Pure functions of engine results (numpy arrays); no Streamlit here. Maps are drawn as heatmaps on a diverging scale
centred on zero (blue negative, red positive, as CNN Explainer does), one scale per layer so channels compare;
several small maps are laid out as one mosaic (``primitives.tile``: one trace, quick to draw) with blank gaps between
tiles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.units import format_shape, plural
from playground.figures.primitives import GRAY, SIGNED, pixel_axes, tile, tile_columns, tiles_height
from playground.theme import COLORS

MARGIN = dict(l=10, r=10, t=36, b=10)


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
        z, index = tile(tiles, cols, fill=255)
        fig.add_trace(go.Image(z=z, customdata=index, hovertemplate="filter %{customdata}<extra></extra>"))
    else:
        tiles = weight.mean(axis=1)  # (K, kh, kw)
        z, index = tile(tiles, cols)
        bound = float(np.nanmax(np.abs(z))) or 1.0
        fig.add_trace(go.Heatmap(z=z, customdata=index, colorscale=SIGNED, zmin=-bound, zmax=bound,
                                 hoverongaps=False, colorbar=dict(title="weight", thickness=12),
                                 hovertemplate="filter %{customdata} · weight %{z:.3f}<extra></extra>"))
    pixel_axes(fig)
    fig.update_layout(title=f"{name}: {plural(k, 'filter')} of {c}×{kh}×{kw}", margin=MARGIN,
                      height=tiles_height(rows, cols, cap=520), plot_bgcolor="white")
    return fig


def maps_figure(maps: np.ndarray, channels: Sequence[int], title: str) -> go.Figure:
    """One layer's feature maps ``(C, H, W)`` for the given ``channels`` (in that order), as a grid of heatmaps on
    one diverging scale (the layer's largest absolute value), hover naming the channel."""
    chosen = np.asarray(maps)[list(channels)]  # (n, H, W)
    n, h, w = chosen.shape
    cols = tile_columns(n, h, w)
    z, index = tile(chosen, cols)
    labels = np.where(index >= 0, np.asarray(list(channels) + [-1])[index], -1)
    bound = float(np.abs(maps).max()) or 1.0
    fig = go.Figure(go.Heatmap(z=z, customdata=labels, colorscale=SIGNED, zmin=-bound, zmax=bound,
                               hoverongaps=False, colorbar=dict(title="activation", thickness=12),
                               hovertemplate="channel %{customdata} · %{z:.3f}<extra></extra>"))
    pixel_axes(fig)
    fig.update_layout(title=title, margin=MARGIN, height=tiles_height(math.ceil(n / cols), cols), plot_bgcolor="white")
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
    fig.add_trace(go.Heatmap(z=image, colorscale=GRAY, zmin=0, zmax=1, showscale=False,
                             hovertemplate="input · %{z:.2f}<extra></extra>") if gray else
                  go.Image(z=np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8),
                           hovertemplate="input<extra></extra>"), row=1, col=1)
    pixel_axes(fig, 1, 1, cols)
    annotations = [_caption("input", format_shape(image.shape[:2]), 1, cols, per_layer)]
    for j, (name, maps, order, shape) in enumerate(layers, start=2):
        bound = float(np.abs(maps).max()) or 1.0
        for i, ch in enumerate(order[:per_layer], start=1):
            fig.add_trace(go.Heatmap(z=maps[ch], colorscale=SIGNED, zmin=-bound, zmax=bound, showscale=False,
                                     hovertemplate=f"{name} · channel {ch} · %{{z:.3f}}<extra></extra>"),
                          row=i, col=j)
            pixel_axes(fig, i, j, cols)
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
        trace = go.Heatmap(z=image, colorscale=GRAY, zmin=0, zmax=1, showscale=False,
                           hovertemplate="(%{y}, %{x}) · %{z:.2f}<extra></extra>")
    else:
        trace = go.Image(z=np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8))
    fig = go.Figure(trace)
    pixel_axes(fig)
    fig.update_layout(title=title, margin=MARGIN, height=300, plot_bgcolor="white")
    return fig


def overlay_figure(image: np.ndarray, title: str, boxes: Sequence[tuple[Sequence[float], str]] = (),
                   points: Sequence[tuple[float, float, str]] = ()) -> go.Figure:
    """``input_figure`` with a run's decoded prediction drawn on it: ``boxes`` (``xyxy`` in the input's pixels, a
    label) and ``points`` (x, y in pixels, a name). A pixel's centre is at its integer coordinate, so a box edge at
    pixel position ``x`` is drawn at ``x - 0.5``."""
    fig = input_figure(image, title)
    color = COLORS["prediction"]
    for (x1, y1, x2, y2), label in boxes:
        fig.add_shape(type="rect", x0=x1 - 0.5, y0=y1 - 0.5, x1=x2 - 0.5, y1=y2 - 0.5,
                      line=dict(color=color, width=2))
        fig.add_annotation(x=x1 - 0.5, y=y1 - 0.5, text=label, showarrow=False, xanchor="left", yanchor="bottom",
                           font=dict(color="white", size=11), bgcolor=color)
    if points:
        fig.add_trace(go.Scatter(x=[x - 0.5 for x, _, _ in points], y=[y - 0.5 for _, y, _ in points],
                                 mode="markers+text", text=[n for _, _, n in points], textposition="top center",
                                 textfont=dict(color=color), marker=dict(color=color, size=9, symbol="x"),
                                 hovertemplate="%{text}: (%{x:.1f}, %{y:.1f})<extra></extra>", showlegend=False))
    return fig


def embedding_figure(values: Sequence[float]) -> go.Figure:
    """An embedding's components as bars (index on x)."""
    fig = go.Figure(go.Bar(x=list(range(len(values))), y=list(values), marker_color=COLORS["conv"],
                           hovertemplate="f(x)[%{x}] = %{y:.3f}<extra></extra>"))
    fig.update_layout(title=f"The embedding f(x): {plural(len(values), 'number')}", margin=MARGIN, height=260,
                      xaxis_title="component", yaxis_title="value", bargap=0.1)
    return fig
