"""Structural edits of the selected layer — move, copy, remove, insert before or after, append, add into a block or
a branch, add or remove branches — as buttons over ``engine.nets.editing``."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from engine.nets import editing
from engine.nets.kinds import KINDS
from engine.nets.spec import Path
from playground import state
from playground.builder import editor

NEW_KIND = "_w_new_kind"


def _do(edit: Callable[..., editing.Edit], *args: object) -> None:
    """Button callback: run an engine edit on the session's network."""
    editor.apply(edit(state.spec(), *args))


def _new_kind() -> str:
    return st.session_state[NEW_KIND]


def actions_ui(path: Path | None) -> None:
    """Move / duplicate / remove the selected layer; insert a new one before, after, inside or at the end."""
    v = editor.version()
    if path is not None:
        cols = st.columns(4, gap="small")
        for col, (label, tip, edit, args) in zip(cols, (
                ("Up", "Move the layer up", editing.move, (path, -1)),
                ("Down", "Move the layer down", editing.move, (path, 1)),
                ("Copy", "Duplicate the layer", editing.duplicate, (path,)),
                ("Remove", "Remove the layer", editing.remove, (path,))), strict=True):
            col.button(label, key=f"_b_{label.lower()}_{v}", on_click=_do, args=(edit, *args), help=tip,
                       width="stretch")
    st.selectbox("New layer", KINDS.names(), key=NEW_KIND, format_func=lambda k: f"{k} — {KINDS[k].label}")
    cols = st.columns(3, gap="small")
    if path is not None:
        cols[0].button("Before", key=f"_b_before_{v}", width="stretch", help="Insert the new layer before the "
                       "selected one.", on_click=lambda: _do(editing.insert, path, _new_kind()))
        cols[1].button("After", key=f"_b_after_{v}", width="stretch", help="Insert the new layer after the selected "
                       "one.", on_click=lambda: _do(editing.insert, path, _new_kind(), True))
    cols[2].button("Append", key=f"_b_end_{v}", width="stretch", help="Add the new layer at the end of the network.",
                   on_click=lambda: _do(editing.append, _new_kind()))
    if path is not None:
        _into_ui(path, v)


def _into_ui(path: Path, v: int) -> None:
    """A composite's nested sequences: add the new layer to one, and add or remove them where the kind allows."""
    block = editing.get_layer(state.spec(), path)
    names = [name for name, _, _ in block.sequences()]
    if len(names) == 1 and block.new_sequence() is None:
        st.button(f"Add the new layer to this block's {names[0]}", key=f"_b_into_{v}",
                  on_click=lambda: _do(editing.add_into, path, _new_kind(), 0))
    elif names:
        word = names[0].rsplit(" ", 1)[0]
        cols = st.columns([2, 1, 1, 1])
        b = cols[0].selectbox(word.capitalize(), range(len(names)), key=f"_w_branch_{v}",
                              format_func=names.__getitem__)
        cols[1].button(f"Add layer to {word}", key=f"_b_intob_{v}", width="stretch",
                       on_click=lambda: _do(editing.add_into, path, _new_kind(), b))
        cols[2].button(f"Add {word}", key=f"_b_addb_{v}", on_click=_do, args=(editing.add_sequence, path),
                       width="stretch", disabled=block.new_sequence() is None)
        cols[3].button(f"Remove {word}", key=f"_b_rmb_{v}", on_click=_do, args=(editing.remove_sequence, path, b),
                       disabled=len(names) < 2 or block.new_sequence() is None, width="stretch")
