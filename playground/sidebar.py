"""The sidebar every page shares: compute device, random seed and the student's short name."""

from __future__ import annotations

import streamlit as st
import torch

from engine import device as devices
from playground import state
from playground.classroom.student import name_ui


def sidebar_ui() -> tuple[torch.device, int]:
    """Draw the device and seed controls; return the resolved device and the seed."""
    have = devices.available()
    options = ["auto", *have]
    if state.get(state.DEVICE) not in options:  # e.g. a saved choice of "cuda" on a machine without one
        state.put(state.DEVICE, "auto")
    state.widget_default("_w_device", state.DEVICE)
    st.sidebar.selectbox(
        "Compute device", options, key="_w_device", on_change=state.bind, args=("_w_device", state.DEVICE),
        help="Where training and inference run. 'auto' picks the best: CUDA, then Apple MPS, then Intel XPU, "
             "then the CPU.",
    )
    device = devices.resolve(state.get(state.DEVICE))
    st.sidebar.caption(f"Using **{devices.describe(device)}** · available here: {', '.join(have)}")
    state.widget_default("_w_seed", state.SEED)
    st.sidebar.number_input(
        "Random seed", min_value=0, max_value=2**31 - 1, step=1, key="_w_seed", on_change=state.bind,
        args=("_w_seed", state.SEED), help="Seeds weight initialisation, data shuffling and generated data.",
    )
    name_ui()  # the student's short name (and, in a class, the leaderboard toggle): playground/classroom/student.py
    return device, int(state.get(state.SEED))
