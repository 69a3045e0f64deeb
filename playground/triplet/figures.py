"""Plotly figures of the One-shot lab: the embeddings' 2-D projection by identity (held-out ones marked), ROC curves,
FAR and FRR against the threshold. Pure functions of engine results; no Streamlit here."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from engine.faces.metrics import Roc
from playground.figures.primitives import FONT, NO_TEMPLATE

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
HEIGHT = 360


def _layout(fig: go.Figure, title: str, x: str, y: str, height: int = HEIGHT) -> go.Figure:
    fig.update_layout(template=NO_TEMPLATE, title={"text": title, "font": {"size": 14}}, font=FONT, height=height,
                      margin={"l": 50, "r": 10, "t": 40, "b": 40}, plot_bgcolor="white",
                      legend={"font": {"size": 11}}, xaxis_title=x, yaxis_title=y)
    fig.update_xaxes(gridcolor="#e5e5e5", zeroline=False)
    fig.update_yaxes(gridcolor="#e5e5e5", zeroline=False)
    return fig


def projection_figure(points: np.ndarray, ids: np.ndarray, names: Sequence[str], held_out: Sequence[int],
                      title: str) -> go.Figure:
    """A scatter of ``points`` ``(N, 2)`` coloured by identity; held-out identities drawn as crosses."""
    fig = go.Figure()
    for i in np.unique(ids):
        at = ids == i
        held = int(i) in held_out
        fig.add_trace(go.Scattergl(
            x=points[at, 0], y=points[at, 1], mode="markers",
            name=f"{names[int(i)]}{' (held out)' if held else ''}",
            marker={"size": 7 if held else 5, "color": PALETTE[int(i) % len(PALETTE)], "opacity": 0.75,
                    "symbol": "x" if held else "circle"}))
    fig = _layout(fig, title, "principal component 1", "principal component 2")
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def roc_figure(curves: dict[str, Roc], title: str) -> go.Figure:
    """ROC curves (true accept rate against false accept rate), one per name, and the chance diagonal."""
    fig = go.Figure()
    for k, (name, r) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=r.far.numpy(), y=r.tar.numpy(), mode="lines", name=name,
                                 line={"color": PALETTE[k % len(PALETTE)], "width": 2},
                                 customdata=r.threshold.numpy(),
                                 hovertemplate="FAR %{x:.3f}<br>TAR %{y:.3f}<br>distance ≤ %{customdata:.3f}"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance",
                             line={"color": "#aaaaaa", "dash": "dot", "width": 1}, hoverinfo="skip"))
    fig = _layout(fig, title, "false accept rate (different pairs accepted)", "true accept rate (1 − FRR)")
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1.02])
    return fig


def rates_figure(thresholds: np.ndarray, rates: dict[str, tuple[np.ndarray, np.ndarray]], chosen: float,
                 title: str) -> go.Figure:
    """FAR and FRR against the distance threshold, per name (solid FAR, dashed FRR), and the chosen threshold."""
    fig = go.Figure()
    for k, (name, (far, frr)) in enumerate(rates.items()):
        color = PALETTE[k % len(PALETTE)]
        fig.add_trace(go.Scatter(x=thresholds, y=far, mode="lines", name=f"FAR, {name}",
                                 line={"color": color, "width": 2}))
        fig.add_trace(go.Scatter(x=thresholds, y=frr, mode="lines", name=f"FRR, {name}",
                                 line={"color": color, "width": 2, "dash": "dash"}))
    fig.add_vline(x=chosen, line={"color": "#333333", "width": 1, "dash": "dot"})
    fig = _layout(fig, title, "threshold: accept a pair when its distance ≤ this", "rate")
    fig.update_yaxes(range=[0, 1.02])
    return fig
