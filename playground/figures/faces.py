"""The Faces page's figure: a verification's distance on a scale, with the threshold splitting it into "same person"
(left) and "different people" (right). A plain dict, like the other figure modules (primitives.py)."""

from __future__ import annotations

import plotly.graph_objects as go

from playground.figures.primitives import FONT, NO_TEMPLATE

SAME, DIFFERENT = "#2ca25f", "#f08c2d"


def distance_scale(distance: float, threshold: float, metric: str, top: float) -> go.Figure:
    """A horizontal scale from 0 to ``top`` (stretched to show ``distance``), green below ``threshold``, orange above,
    and a marker at ``distance``."""
    top = max(top, distance * 1.1, threshold * 1.2)
    bands = [
        {"type": "rect", "x0": 0, "x1": threshold, "y0": 0, "y1": 1, "fillcolor": SAME, "opacity": 0.25,
         "line": {"width": 0}},
        {"type": "rect", "x0": threshold, "x1": top, "y0": 0, "y1": 1, "fillcolor": DIFFERENT, "opacity": 0.25,
         "line": {"width": 0}},
        {"type": "line", "x0": threshold, "x1": threshold, "y0": 0, "y1": 1, "line": {"color": "#555", "width": 2,
                                                                                      "dash": "dash"}},
    ]
    marker = {"type": "scatter", "x": [distance], "y": [0.5], "mode": "markers+text", "text": [f"{distance:.3f}"],
              "textposition": "top center", "marker": {"size": 16, "color": SAME if distance < threshold else DIFFERENT,
                                                       "line": {"color": "#222", "width": 1}},
              "hovertemplate": f"{metric} distance %{{x:.3f}}<extra></extra>", "showlegend": False}
    notes = [
        {"x": threshold / 2, "y": 0.08, "text": "same person", "showarrow": False, "font": {"color": SAME}},
        {"x": (threshold + top) / 2, "y": 0.08, "text": "different people", "showarrow": False,
         "font": {"color": DIFFERENT}},
        {"x": threshold, "y": 1.0, "text": f"threshold {threshold:g}", "showarrow": False, "yanchor": "bottom"},
    ]
    layout = {"template": NO_TEMPLATE, "font": FONT, "height": 170, "margin": {"l": 10, "r": 10, "t": 30, "b": 40},
              "shapes": bands, "annotations": notes,
              "yaxis": {"visible": False, "range": [0, 1.15], "fixedrange": True},
              "xaxis": {"title": {"text": f"{metric} distance between the two embeddings"}, "range": [0, top],
                        "fixedrange": True}}
    return go.Figure({"data": [marker], "layout": layout}, skip_invalid=True)
