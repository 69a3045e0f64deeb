"""Look inside: the feature maps every layer makes of the input — an overview strip across layers (after CNN
Explainer), then one chosen layer's channels as a grid of heatmaps (``engine.nets.inspect``)."""

from __future__ import annotations

import streamlit as st
import torch

from engine.data import adapt_batch
from engine.nets.inspect import KINDS_CONV, feature_maps, shrink, spread, strongest_channels
from engine.units import plural
from playground.cache import held
from playground.figures import inspect as inspect_figures
from playground.figures.primitives import plotly_config
from playground.inspect import link
from playground.inspect.inputs import InputImage, seen
from playground.inspect.subject import Subject

MAX_CHANNELS = 64  # feature maps drawn for one layer
MAX_OVERVIEW = 12  # layers in the overview strip
MAP_SIDE = 56  # maps larger than this are averaged down for drawing


def _maps(subject: Subject, inp: InputImage, every: bool) -> list[tuple[str, torch.Tensor]]:
    """The feature maps for this network and input (one sample: ``(C, H, W)`` each), computed once per choice and
    kept in this session's holder (``playground.cache.held``: bounded, released with the session)."""

    def make() -> list[tuple[str, torch.Tensor]]:
        x = adapt_batch(inp.image[None], subject.input_shape, subject.stats)
        return [(name, m[0]) for name, m in feature_maps(subject.model, x, kinds=None if every else KINDS_CONV)]

    kept, key = held(), ("maps", subject.token, inp.key, every)
    if key not in kept:
        kept.drop("maps")  # one input's maps at a time
    return kept.keep(key, make)


def feature_maps_ui(subject: Subject, inp: InputImage) -> None:
    """The overview strip across layers, then one chosen layer's channels as a grid of heatmaps."""
    every = st.toggle("Also activation, pooling and normalisation layers", key="_w_inspect_every",
                      help="Off: the output of every convolution. On: of every layer whose output is still a stack "
                           "of maps — see what ReLU clips and what pooling keeps.")
    maps = _maps(subject, inp, every)
    if not maps:
        st.info("This network has no convolutional layer, so it has no feature maps to show.")
        return
    picks = spread(len(maps), MAX_OVERVIEW)
    strip = [(maps[i][0], shrink(maps[i][1], MAP_SIDE // 2).numpy(), strongest_channels(maps[i][1], 4),
              tuple(maps[i][1].shape)) for i in picks]
    st.plotly_chart(inspect_figures.overview_figure(seen(subject, inp), strip), width="stretch",
                    config=plotly_config(), key="inspect_overview")
    left = f"; {len(picks)} of {plural(len(maps), 'layer')}, evenly spread" if len(picks) < len(maps) else ""
    st.caption(f"Each column is a layer's four most active channels (red positive, blue negative, one scale per "
               f"layer){left}. Early layers keep the picture's layout; deeper ones are smaller and more abstract.")
    names = [name for name, _ in maps]
    a, b = st.columns([2, 1], vertical_alignment="bottom")
    link.layer_default(names)
    name = a.selectbox("Layer", names, key="_w_inspect_layer")
    strongest = b.toggle("Most active channels first", value=True, key="_w_inspect_sort")
    m = dict(maps)[name]
    c, h, w = m.shape
    order = strongest_channels(m, MAX_CHANNELS) if strongest else list(range(min(c, MAX_CHANNELS)))
    shown = f", the {len(order)} {'most active' if strongest else 'first'} shown" if len(order) < c else ""
    title = f"{name}: {c} channel{'s' * (c != 1)} of {h}×{w}{shown}"
    st.plotly_chart(inspect_figures.maps_figure(shrink(m, MAP_SIDE).numpy(), order, title), width="stretch",
                    config=plotly_config(), key="inspect_maps")
    small = f" (drawn averaged down to at most {MAP_SIDE}×{MAP_SIDE})" if max(h, w) > MAP_SIDE else ""
    st.caption(f"Values from {float(m.min()):.3g} to {float(m.max()):.3g}{small}. Each map is one filter slid over "
               f"the layer's input: bright where the input matches the filter's pattern.")
