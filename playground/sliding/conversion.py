"""The classifier's convolutional form as a network: each fully connected layer next to the convolution it became
(filters = units, filter size = the volume it reads), the converted network's layers, and a button that opens it in
the builder."""

from __future__ import annotations

import streamlit as st

from engine.detection.compare import Comparison
from engine.detection.sliding import convolutional_spec, head_conversion
from engine.units import format_shape
from playground import state
from playground.cache import summary_of
from playground.navigation import page_path
from playground.sliding.classifier import Classifier

ROW_PX = 35  # a dataframe row, to show every layer without a scroll bar


def conversion_ui(clf: Classifier, c: Comparison, size: tuple[int, int]) -> None:
    """The conversion, and what the converted network gives on the searched image (``size``: its height, width)."""
    spec = clf.trained.model.spec
    st.subheader("The classifier as convolutions", divider="gray")
    try:
        new = convolutional_spec(spec)
        head = head_conversion(spec)
    except ValueError as e:
        st.warning(f"It cannot be converted: {e}.", icon=":material/block:")
        return
    st.markdown("Every fully connected layer becomes a convolution with **one filter per unit**, each filter **the "
                "size of the volume the layer reads**; the later ones are 1×1 convolutions. Same weights, reshaped — "
                "same parameter count. On a larger image the network then gives a map of class scores: one per "
                "window.")
    st.dataframe([{"fully connected": h.before, "reads": format_shape(h.volume), "becomes": h.after,
                   "parameters": f"{h.params:,}"} for h in head], hide_index=True, width="stretch")
    s = summary_of(new)
    rows = [r for r in s.rows if r.depth == 0]
    st.dataframe([{"layer": f"{r.index} {r.name}", "output": format_shape(r.out_shape), "parameters": f"{r.params:,}"}
                  for r in rows], hide_index=True, width="stretch", height=(len(rows) + 1) * ROW_PX + 3)
    text, button = st.columns([4, 1], vertical_alignment="center")
    here = ""
    if c.conv is not None:
        grid_h, grid_w, k = c.conv.probs.shape
        h, w = size
        resized = "" if c.conv.window == new.input[1] else f" (resized by {new.input[1]}/{c.conv.window:g})"
        here = (f" On the {w}×{h} image searched above{resized} it gives {k}×{grid_h}×{grid_w}: a score vector for "
                f"each of {grid_h * grid_w:,} windows.")
    text.caption(f"The convolutional form on its {format_shape(new.input)} input gives "
                 f"{format_shape(s.output_shape)}: one window.{here} Give it a larger input on the builder and its "
                 f"output becomes a map of windows.")
    if button.button("Open in the builder", key="_w_sw_builder", icon=":material/account_tree:", width="stretch"):
        state.set_spec(new)
        st.switch_page(page_path("builder"))
