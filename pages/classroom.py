"""Classroom (the teacher's): the jobs and the queue, the server's load, the caps, every student's runs, the class
leaderboard, and the end of the lesson. Teacher only: it asks for the server's CNNPG_TEACHER_TOKEN first."""

import streamlit as st

from playground import state
from playground.classroom import lesson, panels, teacher
from playground.training.common import run_store

st.title("Classroom")
st.caption("The class at a glance: who trains what, how loaded the server is, the caps, everyone's runs and the "
           "leaderboard. Students set their name and join the leaderboard in the sidebar.")

if teacher.login_ui():
    store = run_store()
    said = state.get(state.CLASS_MESSAGE)
    if said:
        getattr(st, said[0])(said[1])

    @st.fragment(run_every=panels.REFRESH_S)
    def _live() -> None:
        people = store.people()
        runs = store.list()
        st.subheader("Jobs", divider="gray")
        panels.jobs_ui(people)
        st.subheader("Server", divider="gray")
        panels.load_ui()
        st.subheader("Leaderboard", divider="gray")
        panels.board_ui(runs, people)
        st.subheader("Every student's runs", divider="gray")
        panels.runs_ui(runs, people)
        st.caption(f"Updated {panels.now()}; every {panels.REFRESH_S} s.")

    _live()
    st.subheader("Caps", divider="gray")
    panels.caps_ui()
    st.subheader("End the lesson", divider="gray")
    lesson.end_ui(store)
