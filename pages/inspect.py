"""Look inside & predict: a trained network's (or the builder's untrained one's) filters, feature maps and answers."""

import streamlit as st

from playground.inspect import ui as inspect_ui

st.title("Look inside")
st.caption("What a network has learned, layer by layer: its first filters, the maps every convolution makes of one "
           "input, and what it predicts — for a validation sample, your image, your drawing or your webcam.")

subject = inspect_ui.model_ui()
if subject is None:
    st.stop()
inspect_ui.subject_caption(subject)

st.subheader("First-layer filters")
inspect_ui.filters_ui(subject)

st.subheader("An input and the prediction")
image = inspect_ui.input_ui(subject)
if image is not None:
    inspect_ui.prediction_ui(subject, image)
    st.subheader("Feature maps")
    inspect_ui.feature_maps_ui(subject, image)
