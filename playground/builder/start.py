"""The builder's first row: start from a preset or from nothing, undo, and the input shape."""

from __future__ import annotations

import dataclasses

import streamlit as st

from engine.nets.editing import Edit
from engine.nets.limits import limits
from engine.nets.presets import PRESETS, network_title
from engine.nets.spec import NetworkSpec
from playground import state
from playground.builder import editor


def _load_preset(widget_key: str) -> None:
    name = st.session_state[widget_key]
    editor.apply(Edit(PRESETS[name].spec, (0,)))
    state.put(state.BUILDER_ORIGIN, name)


def _new_empty() -> None:
    editor.apply(Edit(NetworkSpec(input=state.spec().input, layers=()), None))
    state.put(state.BUILDER_ORIGIN, None)


def _undo() -> None:
    history = state.get(state.SPEC_HISTORY, [])
    if history:
        state.set_spec(history.pop(), remember=False)
        editor.bump_version()


def start_ui() -> None:
    """Preset picker, 'new', 'undo' and the input shape."""
    cols = st.columns([3, 1, 1, 1])
    cols[0].selectbox("Start from a preset", PRESETS.names(), key="_w_preset", format_func=lambda n: PRESETS[n].title)
    cols[1].button("Load preset", on_click=_load_preset, args=("_w_preset",), width="stretch",
                   help="Replaces the current network (Undo brings it back).")
    cols[2].button("New empty", on_click=_new_empty, width="stretch")
    cols[3].button("Undo", on_click=_undo, disabled=not state.get(state.SPEC_HISTORY, []), width="stretch")
    spec, origin = state.spec(), state.get(state.BUILDER_ORIGIN, "lenet5")
    title = network_title(spec, origin)
    if origin in PRESETS and title in (PRESETS[origin].title, f"edited from {PRESETS[origin].title}"):
        preset = PRESETS[origin]
        st.caption(f"**{title[0].upper() + title[1:]}** — {preset.description} *{preset.paper}*")
    else:
        st.caption(f"**{title[0].upper() + title[1:]}** — built here; load a preset above to start from a classic "
                   f"architecture.")
    input_ui()


def _set_input() -> None:
    v = editor.version()
    shape = tuple(int(st.session_state[f"_w_in{i}_{v}"]) for i in range(3))
    state.set_spec(dataclasses.replace(state.spec(), input=shape))


def input_ui() -> None:
    spec = state.spec()
    shape = list(spec.input) if len(spec.input) == 3 else [1, 1, spec.input[0]]
    cols = st.columns(3)
    lim = limits()
    for i, (col, name) in enumerate(zip(cols, ("input channels C", "input height H", "input width W"), strict=True)):
        top = max(lim.width if i == 0 else lim.input_side, int(shape[i]))  # the limits: engine.nets.limits
        col.number_input(name, min_value=1, max_value=top, value=int(shape[i]), step=1,
                         key=f"_w_in{i}_{editor.version()}", on_change=_set_input)
