"""CNN builder: compose a network from blocks and watch every layer's shape, parameters and cost as you edit."""

import streamlit as st

from playground import share, state
from playground.builder import actions, details, export, fields, lesson, picker, start
from playground.cache import summary_of

st.title("CNN builder")
st.caption("Build a network from layer blocks. Input channels and in-features are inferred; shapes follow PyTorch's "
           "own rules. This is the network the other pages use.")

share.load_from_url()
start.start_ui()
spec = state.spec()
s = summary_of(spec)

totals_box = st.container()
left, right = st.columns([5, 7], gap="large")
with left:
    st.subheader("Edit")
    path = picker.picker_ui(s)
    actions.actions_ui(path)
with right:
    if path is not None:
        details.layer_details_ui(path, s)
        fields.arguments_ui(path)

# The editor's callbacks ran before this script, so everything below shows the edited network.
with totals_box:
    details.totals_ui(s)
details.layers_ui(s)
details.drawing_ui(s)

lesson_tab, export_tab = st.tabs(["1×1 convolutions", "Export & share"])
with lesson_tab:
    lesson.lesson_ui()
with export_tab:
    export.export_ui(spec, s)

share.sync_url(spec)
