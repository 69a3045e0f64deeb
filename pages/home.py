"""Home: the course as a path, week by week, each step a page that opens on an example that runs."""

import streamlit as st

from engine import device as devices
from playground.navigation import WEEKS, course_path

st.title("CNN Playground")
st.markdown(
    "A first course on convolutional neural networks that you move, run and train. Everything here is real PyTorch "
    "on this server — on a GPU when there is one — so the network you build is one you can train, look inside, "
    "export and reuse on every page. Follow the path below, or jump anywhere from the menu."
)
for week, pages in course_path().items():
    st.subheader(f"Week {week} — {WEEKS[week]}")
    for page in pages:
        with st.container(border=True):
            text, go = st.columns([5, 1], vertical_alignment="center")
            text.markdown(f"**{page.title}** — {page.step}")
            go.page_link(str(page.path), label="Start", icon=page.icon)
            with text.expander("What is on this page"):
                st.caption(page.blurb)
st.caption(f"Compute devices on this server: {', '.join(devices.available())} · the sidebar chooses one.")
