"""Picking an image of a generated set to work on: its index in the training set, typed or stepped through."""

from __future__ import annotations

import streamlit as st

from playground.training.common import PERSIST, Picked, named_data

PICK_FROM = 1000  # the training set the editors step through: the named set drawn with this many training images


def pick_set(name: str, seed: int) -> Picked:
    """The named set (``scenes``, ``faces``) the editors show, drawn with ``seed`` (cached for the server)."""
    return named_data(name, seed, PICK_FROM)


def _step(key: str, delta: int, n: int) -> None:
    st.session_state[key] = (int(st.session_state.get(key, 0)) + delta) % n


def index_ui(label: str, n: int, key: str) -> int:
    """An index in ``[0, n)``: typed, or stepped with ◀ ▶ (wrapping around)."""
    back, number, forward = st.columns([1, 3, 1], vertical_alignment="bottom")
    back.button("", key=f"{key}_back", icon=":material/chevron_left:", on_click=_step, args=(key, -1, n),
                help=f"The previous {label.lower()}", width="stretch")
    forward.button("", key=f"{key}_next", icon=":material/chevron_right:", on_click=_step, args=(key, 1, n),
                   help=f"The next {label.lower()}", width="stretch")
    return int(number.number_input(f"{label} (of {n:,} training images)", 0, n - 1, step=1, key=key,
                                   persist_state=PERSIST))
