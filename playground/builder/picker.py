"""Choosing the layer to edit: every layer of the network, nested ones indented, with its output shape and a mark
when it is invalid."""

from __future__ import annotations

import streamlit as st

from engine.nets.analysis import path_index
from engine.nets.spec import LayerSpec, Path, walk
from engine.nets.summary import Summary
from playground import state
from playground.builder import editor


def layer_label(path: Path, layer: LayerSpec, rows: dict) -> str:
    """``"4 · conv2d 16@5×5 → 16×10×10"``, indented by depth, ⚠ when invalid."""
    index = path_index(path)
    row = rows.get(index)
    indent = "\u2003" * sum(isinstance(p, str) for p in path)
    mark = " ⚠" if row is not None and not row.ok else ""
    shape = f" → {row.shape_text}" if row is not None and row.out_shape else ""
    return f"{indent}{index} · {layer.describe()}{shape}{mark}"


def picker_ui(s: Summary) -> Path | None:
    """Choose the layer to edit; returns its path (None for an empty network)."""
    layers = list(walk(state.spec().layers))
    paths = [p for p, _ in layers]
    if not paths:
        st.info("The network is empty: add a first layer below.")
        return None
    selected = editor.selected()
    if selected not in paths:
        selected = paths[0]
        state.put(state.SELECTED, selected)
    rows = {r.index: r for r in s.rows}
    labels = {p: layer_label(p, layer, rows) for p, layer in layers}
    key = f"_w_pick_{editor.version()}"
    st.session_state.setdefault(key, selected)
    if st.session_state[key] not in paths:
        st.session_state[key] = selected
    st.selectbox("Layer to edit", paths, key=key, format_func=labels.__getitem__,
                 on_change=state.bind, args=(key, state.SELECTED))
    return editor.selected()
