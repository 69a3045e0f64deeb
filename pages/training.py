"""Training: train the builder's network on real data in the background, watch it learn, evaluate, compare, resume,
fine-tune and download it."""

import streamlit as st

from playground import state
from playground.training import common, data, link, live, results, runs, settings

st.title("Training")
st.caption("The network you built becomes a trained model: choose data, augmentation and an optimiser, watch it learn "
           "live, stop and resume it, read its mistakes, fine-tune it on new classes, download it. Training runs on "
           "the server in the background, one job per session.")

store = common.run_store()
link.restore(store)  # a reloaded or shared link: its data set, settings and the run shown
live.collect_finished_job(store)
spec = state.spec()
summary = common.network_ui(spec)

st.subheader("1 · Data", divider="gray")
picked = data.data_ui(int(state.get(state.SEED)), spec)
ready = picked is not None and data.fit_ui(spec, picked, summary)

st.subheader("2 · Augmentation", divider="gray")
augment = settings.augment_ui(picked)

st.subheader("3 · Optimiser and schedule", divider="gray")
config = settings.settings_ui(augment, picked)

st.subheader("4 · Train", divider="gray")
live.train_ui(spec, picked, config, ready)

st.subheader("5 · Evaluation", divider="gray")
results.results_ui(store, picked)

st.subheader("6 · Runs", divider="gray")
runs.runs_ui(store, picked, config)
link.publish()
