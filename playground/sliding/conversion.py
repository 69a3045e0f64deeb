"""The classifier's convolutional form as a network: each fully connected layer next to the convolution it became
(filters = units, filter size = the volume it reads), the converted network's layers, and a button that opens it in
the builder."""

from __future__ import annotations

import streamlit as st

from engine.detection.sliding import convolutional_spec, head_conversion
from engine.units import format_shape
from playground import state
from playground.cache import summary_of
from playground.navigation import page_path
from playground.sliding.classifier import Classifier


def conversion_ui(clf: Classifier) -> None:
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
                  for r in rows], hide_index=True, width="stretch")
    text, button = st.columns([4, 1], vertical_alignment="center")
    text.caption(f"The convolutional form on its {format_shape(new.input)} input gives "
                 f"{format_shape(s.output_shape)}: one window. Give it a larger input on the builder and its output "
                 f"becomes a map of windows.")
    if button.button("Open in the builder", key="_w_sw_builder", icon=":material/account_tree:", width="stretch"):
        state.set_spec(new)
        st.switch_page(page_path("builder"))
