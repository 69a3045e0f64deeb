"""The student's side of the class, in the sidebar: their short name ("Ada"), kept in the run store under their
owner id so it survives a reload and a server restart, and — when the server runs a class — whether they take part
in the class leaderboard. See docs/classroom.md."""

from __future__ import annotations

import dataclasses
import sqlite3

import streamlit as st

from engine.training.runs import Person, RunStore
from engine.training.runs.people import MAX_NAME
from playground import state
from playground.classroom.teacher import classroom_on
from playground.owner import owner_id


def name_ui() -> None:
    """The name field (and, in a class, the leaderboard toggle) at the sidebar's end."""
    me = owner_id()
    person = st.session_state.get(state.PERSON)
    if person is None:  # read once per session (every page draws the sidebar: no database call per rerun)
        try:
            person = RunStore().person(me)
        except (OSError, sqlite3.Error) as e:  # a read-only or missing runs folder: the app works without names
            st.sidebar.caption(f"Names cannot be kept here: {e}")
            return
        state.put(state.PERSON, person)
        st.session_state["_w_my_name"] = person.name
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
        name = RunStore().set_name(owner_id(), text)
    except ValueError as e:
        state.put(state.NAME_MESSAGE, f"Name not kept: {e}.")
        return
    st.session_state["_w_my_name"] = name
    state.put(state.PERSON, dataclasses.replace(state.get(state.PERSON) or Person(), name=name))
    state.put(state.NAME_MESSAGE, None)


def _set_on_board() -> None:
    on = bool(st.session_state.get("_w_on_board"))
    RunStore().set_on_board(owner_id(), on)
    state.put(state.PERSON, dataclasses.replace(state.get(state.PERSON) or Person(), on_board=on))
