"""Look inside: the first convolution's filters as small images (``engine.nets.inspect``)."""

from __future__ import annotations

import streamlit as st

from engine.nets.inspect import filter_images, first_layer_filters
from playground.figures import inspect as inspect_figures
from playground.figures.primitives import plotly_config
from playground.inspect.subject import Subject

MAX_FILTERS = 128  # first-layer filters drawn


def filters_ui(subject: Subject) -> None:
    """The first convolution's filters as small images."""
    try:
        filters = first_layer_filters(subject.model)
    except ValueError as e:
        st.info(str(e))
        return
    weight = filters.weight[:MAX_FILTERS]
    fig = inspect_figures.filters_figure(weight.numpy(), filter_images(weight).numpy(), filters.name)
    st.plotly_chart(fig, width="stretch", config=plotly_config(), key="inspect_filters")
    k = filters.weight.shape[0]
    how = ("Each filter sees the three colour channels, so it is drawn in colour: its weights scaled to 0–255 per "
           "filter. A trained first layer shows edges at several angles, blobs and colour contrasts."
           if filters.rgb else
           "Red weights add the pixel they sit on, blue ones subtract it (white: zero). A trained first layer shows "
           "edge and stroke detectors: a red band next to a blue one.")
    more = f" The first {MAX_FILTERS} of {k} are shown." if k > MAX_FILTERS else ""
    st.caption(how + more)
