"""Look inside & predict: a trained network's (or the builder's untrained one's) filters, feature maps and answers."""

import streamlit as st

from playground.inspect import drawing, filters, inputs, link, maps, prediction, subject

st.title("Look inside")
st.caption("What a network has learned, layer by layer: its first filters, the maps every convolution makes of one "
           "input, and what it predicts — for a validation sample, your image, your drawing or your webcam.")

link.restore()  # a reloaded or shared link: its network, sample and layer
drawing.collect_finished()  # a digit reader trained in one click for drawings becomes the network
net = subject.model_ui()
link.publish()
if net is None:
    st.stop()
subject.subject_caption(net)

st.subheader("First-layer filters")
filters.filters_ui(net)

st.subheader("An input and the prediction")
image = inputs.input_ui(net, live=prediction.live_view(net))
if image is not None:
    prediction.prediction_ui(net, image)
    st.subheader("Feature maps")
    maps.feature_maps_ui(net, image)
link.publish()  # the layer, once its selectbox is drawn
