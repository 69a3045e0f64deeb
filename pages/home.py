"""Home: what the playground covers and where to start."""

import streamlit as st

from engine import device as devices
from playground.navigation import PAGES

st.title("CNN Playground")
st.markdown(
    "An interactive playground for convolutional neural networks. Everything here runs on real PyTorch on this "
    "server — on a GPU when there is one — so what you build is a network you can inspect, export and reuse on "
    "every page."
)
st.subheader("Where to start")
for page in PAGES.values()[1:]:
    with st.container(border=True):
        st.page_link(str(page.path), label=page.title, icon=page.icon)
        st.caption(page.blurb)
st.caption(f"Compute devices on this server: {', '.join(devices.available())} · the sidebar chooses one.")
