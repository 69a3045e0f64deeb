"""One-shot lab: train a Siamese embedding with the triplet loss on digits or clothes standing in for people, some held
out of training, and see one-shot verification work on identities the network never saw (course notes 1.4.1)."""

import streamlit as st

from playground import state
from playground.training.common import run_store
from playground.triplet import train, views

st.title("One-shot lab")
st.caption("One-shot learning: recognise a person from a single photo. Rather than a classifier over known people, a "
           "network f learns an embedding in which two images of one identity are close and two of different ones "
           "far apart, trained on triplets — an anchor A, a positive P (same identity), a negative N — with "
           "L = max(‖f(A) − f(P)‖² − ‖f(A) − f(N)‖² + α, 0). A new identity then needs one image: compare distances.")

store = run_store()
train.collect(store)
seed = int(state.get(state.SEED))

st.subheader("1 · Train an embedding", divider="gray")
setup = train.settings_ui(seed)
if setup is not None:
    train.train_ui(setup)

st.subheader("2 · The embedding as it learns", divider="gray")
views.live_ui(store)

st.subheader("3 · Verification: seen and held-out identities", divider="gray")
views.verification_ui(store)
