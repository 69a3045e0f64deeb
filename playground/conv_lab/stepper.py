"""Stepping and playing a window across an output, row by row, for every tab of the convolution lab.

A step-through lives in an ``st.fragment(run_every=play_interval(key))``: while it plays, each tick of the fragment
moves the window on without rerunning the page; Play and Stop rerun the whole page so the fragment starts or stops
ticking. Which one plays is ``state.CONV_PLAYING``; switching tabs stops it.
"""

from __future__ import annotations

import streamlit as st

from playground import state

TICK_S = 0.6  # seconds between two frames of "Play"
PLAY_FRAMES = 120  # a play sweeps the whole output in at most this many frames (bigger outputs move faster)


def is_playing(key: str) -> bool:
    return state.get(state.CONV_PLAYING) == key


def stop_playing() -> None:
    """on_change of the lab's tabs: a step-through that isn't shown stops."""
    state.put(state.CONV_PLAYING, None)


def play_interval(key: str) -> float | None:
    """``run_every`` for the fragment holding the step-through ``key``: ticking while it plays."""
    return TICK_S if is_playing(key) else None


def _move(pos_key: str, delta: int, total: int) -> None:
    state.put(state.CONV_PLAYING, None)
    st.session_state[pos_key] = min(max(int(st.session_state.get(pos_key, 1)) + delta, 1), total)


def stepper_ui(key: str, out_hw: tuple[int, int], what: str = "window") -> tuple[int, int]:
    """Step or play the window across the output, row by row; returns the output position (i, j).

    Call it inside an ``st.fragment(run_every=play_interval(key))``: each tick of a playing fragment moves the window
    on; Play and Stop rerun the whole page so the fragment starts or stops ticking.
    """
    h, w = out_hw
    total = h * w
    pos_key = f"{key}_pos_{h}x{w}"  # a new output size starts again at the top left
    st.session_state.setdefault(pos_key, 1)
    playing = is_playing(key)
    if playing:
        nxt = int(st.session_state[pos_key]) + max(1, -(-total // PLAY_FRAMES))
        st.session_state[pos_key] = min(nxt, total)
        if nxt >= total:
            state.put(state.CONV_PLAYING, None)
    cols = st.columns([1.4, 0.7, 0.7, 9], vertical_alignment="bottom")
    if cols[0].button("Stop" if playing else "Play", key=f"{key}_play", icon=":material/stop:" if playing
                      else ":material/play_arrow:", width="stretch", disabled=total == 1,
                      help=f"Slide the {what} across the input, one output at a time."):
        if not playing and st.session_state[pos_key] >= total:
            st.session_state[pos_key] = 1
        state.put(state.CONV_PLAYING, None if playing else key)
        st.rerun()  # the whole page: the fragment starts (or stops) ticking
    cols[1].button("◀", key=f"{key}_back", on_click=_move, args=(pos_key, -1, total), disabled=total == 1,
                   width="stretch", help="One step back")
    cols[2].button("▶", key=f"{key}_next", on_click=_move, args=(pos_key, 1, total), disabled=total == 1,
                   width="stretch", help="One step on")
    if total > 1:
        pos = cols[3].slider(f"{what} position (1 … {total}, row by row)", 1, total, key=pos_key, persist_state="page")
    else:
        pos = 1
        cols[3].caption(f"The output has a single value: the {what} has one position.")
    return divmod(int(pos) - 1, w)
