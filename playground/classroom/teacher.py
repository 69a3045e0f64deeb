"""Teacher mode: on when the server's environment has ``CNNPG_TEACHER_TOKEN``. A browser becomes the teacher by
entering that token on the Classroom page; the session remembers it (never the browser: a reload asks again). The
token is compared in constant time (``hmac.compare_digest``). Without the variable there is no class: the Classroom
page is not in the menu and the student's class controls (the leaderboard, sharing runs) are not shown."""

from __future__ import annotations

import hmac
import os

import streamlit as st

from playground import state

ENV_VAR = "CNNPG_TEACHER_TOKEN"
MAX_TOKEN = 1000  # characters accepted in the token field


def classroom_on() -> bool:
    """Whether this server runs a class (``$CNNPG_TEACHER_TOKEN`` is set)."""
    return bool(os.environ.get(ENV_VAR, "").strip())


def is_teacher() -> bool:
    """Whether this session entered the teacher's token (and the server still has one)."""
    return classroom_on() and st.session_state.get(state.TEACHER) is True


def login_ui() -> bool:
    """The token field for a session that is not the teacher's yet; True once it is."""
    if is_teacher():
        return True
    if not classroom_on():
        st.info(f"Teacher mode is off on this server: start it with {ENV_VAR} set to a secret of your choice "
                f"(docs/classroom.md).")
        return False
    st.warning("Teacher only: enter the teacher's token to see the class.", icon=":material/lock:")
    with st.form("_w_cls_login", clear_on_submit=True):
        st.text_input("Teacher's token", type="password", key="_w_cls_token", max_chars=MAX_TOKEN)
        st.form_submit_button("Enter", on_click=_check)
    said = state.get(state.TEACHER_MESSAGE)
    if said:
        st.error(said)
    return False


def _check() -> None:
    entered = str(st.session_state.get("_w_cls_token") or "")
    token = os.environ.get(ENV_VAR, "").strip()
    if token and hmac.compare_digest(entered.strip().encode(), token.encode()):
        state.put(state.TEACHER, True)
        state.put(state.TEACHER_MESSAGE, None)
    else:
        state.put(state.TEACHER_MESSAGE, "That is not the teacher's token.")
