"""Localisation & landmarks: the course's target vector y and its loss by hand, then networks that learn boxes and
landmarks, their held-out predictions, and why the landmarks' order must be consistent (course notes 1.3.1–1.3.2)."""

import streamlit as st

from playground import links, state
from playground.localisation import order, points, results, target, train
from playground.localisation.link import LINKS
from playground.training.common import run_store

st.title("Localisation & landmarks")
st.caption("From classifying an image to saying where its object is: the label becomes a vector y = (p_c, b_x, b_y, "
           "b_h, b_w, c_1…c_K) — is there an object, where is its box, what is it — and a network learns to output "
           "it. Landmarks are the same idea with points: (l1_x, l1_y, l2_x, …), always in the same order.")

links.restore("localisation", LINKS)  # a reloaded or shared link: the scene, the face, the training settings
store = run_store()
train.collect(store)
seed = int(state.get(state.SEED))

st.subheader("1 · The target vector y and its loss", divider="gray")
box_tab, points_tab = st.tabs(["Boxes: y = (p_c, b_x, b_y, b_h, b_w, c…)", "Landmarks: y = (l1_x, l1_y, …)"])
with box_tab:
    target.box_target_ui(seed)
with points_tab:
    points.points_target_ui(seed)

st.subheader("2 · Train a network to output y", divider="gray")
slot = train.slot_ui()
train.train_ui(slot, seed)

st.subheader("3 · On held-out images", divider="gray")
results.results_ui(store, slot)

st.subheader("4 · Why the landmarks' order matters", divider="gray")
order.order_ui(store)
links.publish(LINKS)
