"""The student's side of the class, in the sidebar: their short name ("Ada"), kept in the run store under their
owner id so it survives a reload and a server restart, and — when the server runs a class — whether they take part
in the class leaderboard. See docs/classroom.md."""

from __future__ import annotations

import streamlit as st

from engine.training.runs import RunStore
from engine.training.runs.people import MAX_NAME
from playground import state
from playground.classroom.teacher import classroom_on
from playground.owner import owner_id


def name_ui() -> None:
    """The name field (and, in a class, the leaderboard toggle) at the sidebar's end."""
    me = owner_id()
    try:
        person = RunStore().person(me)
    except OSError as e:  # a read-only or missing runs folder: the page still works without names
        st.sidebar.caption(f"Names cannot be kept here: {e}")
        return
    if st.session_state.get("_w_my_name_for") != me:  # seed the field from the store once per session
        st.session_state["_w_my_name"] = person.name
        st.session_state["_w_my_name_for"] = me
    st.sidebar.text_input("Your name", key="_w_my_name", max_chars=MAX_NAME * 2, on_change=_set_name,
                          placeholder="e.g. Ada",
                          help=f"A short name ({MAX_NAME} characters at most: letters, digits, spaces, - _ . '), "
                               f"shown with the work you share with the class. Kept on this server for this "
                               f"browser.")
    said = state.get(state.NAME_MESSAGE)
    if said:
        st.sidebar.error(said)
    if classroom_on():
        st.sidebar.toggle("On the class leaderboard", value=person.on_board, key="_w_on_board",
                          on_change=_set_on_board,
                          help="Show your best validation result on each data set to the class's leaderboard, by "
                               "your name.")


def _set_name(*_: object) -> None:
    text = str(st.session_state.get("_w_my_name") or "")
    try:
        st.session_state["_w_my_name"] = RunStore().set_name(owner_id(), text)
        state.put(state.NAME_MESSAGE, None)
    except ValueError as e:
        state.put(state.NAME_MESSAGE, f"Name not kept: {e}.")


def _set_on_board() -> None:
    RunStore().set_on_board(owner_id(), bool(st.session_state.get("_w_on_board")))
