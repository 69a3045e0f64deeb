"""Convolution lab: what a convolution computes and why its output has its size — padding, stride, volumes, filters,
one CNN layer, pooling, and convolution vs cross-correlation — step by step, on number grids and on pictures."""

import streamlit as st

from playground import links
from playground.conv_lab import convolution, flip, inputs, pooling, stepper, volumes
from playground.conv_lab.link import LINKS, TAB_NAMES

TABS = dict(zip(TAB_NAMES, (convolution.tab, volumes.tab, pooling.tab, flip.tab), strict=True))
links.restore("conv_lab", LINKS)  # a reloaded or shared link: its tab, input size, filter, padding, stride...

st.title("Convolution lab")
st.caption("The first week of the course, to play with: what a convolution computes, why its output has the size it "
           "has, how filters stack into a CNN layer, and what pooling does — on numbers you can read and on pictures.")
with st.container(border=True):
    inp = inputs.input_ui()
if inp is None:
    links.publish(LINKS)
    st.stop()

tabs = st.tabs(list(TABS), key="_w_cl_tab", on_change=stepper.stop_playing)  # a callable: lazy tabs, only the open one
for tab, draw in zip(tabs, TABS.values(), strict=True):
    if tab.open:
        with tab:
            draw(inp)
links.publish(LINKS)
