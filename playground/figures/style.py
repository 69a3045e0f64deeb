"""Figures of the style page: the cost curves of an optimisation, and two Gram matrices side by side."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.style.grams import GramPair
from playground.figures.primitives import FONT, NO_TEMPLATE, Scale, heatmap

COLOURS = {"total": "#333333", "content": "#1f77b4", "style": "#d62728"}


def cost_curves(points: Sequence[tuple[int, float, float, float]], steps: int, alpha: float, beta: float
                ) -> go.Figure:
    """The weighted costs α·J_content and β·J_style and their sum J per step, on a log scale (they fall by orders of
    magnitude). ``points``: ``(step, J_content, J_style, J)``."""
    fig = go.Figure(layout={"template": NO_TEMPLATE})
    if points:
        x = [p[0] for p in points]
        for name, values in (("J = α·J_content + β·J_style", [p[3] for p in points]),
                             ("α·J_content", [alpha * p[1] for p in points]),
                             ("β·J_style", [beta * p[2] for p in points])):
            colour = COLOURS["total" if name.startswith("J =") else "content" if "content" in name else "style"]
            y = [v if v > 0 else None for v in values]  # a log axis has no 0 (α or β may be 0)
            dash = "dot" if name.startswith("J =") else "solid"  # J lies on β·J_style when the style dominates
            fig.add_trace(go.Scatter(x=x, y=y, name=name, mode="lines", line={"color": colour, "width": 2,
                                                                               "dash": dash}))
    fig.update_layout(title={"text": "Costs per step"}, font=FONT, height=320, margin={"l": 50, "r": 10, "t": 40,
                      "b": 40}, legend={"orientation": "h", "y": -0.25}, plot_bgcolor="white")
    fig.update_xaxes(title="step", range=[0, max(steps, 1)], gridcolor="#eee")
    fig.update_yaxes(title="cost", type="log", gridcolor="#eee")
    return fig


def gram_figure(pair: GramPair) -> go.Figure:
    """The style image's and the generated image's Gram matrices (divided by n_H·n_W) on one colour scale."""
    top = float(max(np.abs(pair.style).max(), np.abs(pair.generated).max(), 1e-12))
    lo = min(0.0, float(min(pair.style.min(), pair.generated.min())))
    scale = Scale("Viridis", lo, top)
    fig = make_subplots(1, 2, subplot_titles=("style image S", "generated image G"), horizontal_spacing=0.06)
    fig.add_trace(heatmap(pair.style, scale, text=False, name="S", hover="G[k, k']/(n_H·n_W)"), 1, 1)
    fig.add_trace(heatmap(pair.generated, scale, text=False, name="G", hover="G[k, k']/(n_H·n_W)",
                          showscale=True), 1, 2)
    shown = "" if pair.shown == pair.channels else f" (its first {pair.shown} of {pair.channels} channels)"
    fig.update_layout(template=NO_TEMPLATE, font=FONT, height=420, margin={"l": 40, "r": 10, "t": 60, "b": 40},
                      title={"text": f"Gram matrices at {pair.layer}{shown} · J_style at this layer "
                                     f"{pair.cost:.4g}"})
    for col in (1, 2):
        fig.update_xaxes(title="channel k'", constrain="domain", row=1, col=col)
        fig.update_yaxes(title="channel k", autorange="reversed", scaleanchor=f"x{'' if col == 1 else col}",
                         row=1, col=col)
    return fig
