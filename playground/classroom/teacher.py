"""Teacher mode: on when the server's environment has ``CNNPG_TEACHER_TOKEN``. A browser becomes the teacher by
entering that token on the Classroom page; the session remembers it (never the browser: a reload asks again). The
token is compared in constant time (``hmac.compare_digest``), and wrong tokens are rationed: at most ``MAX_WRONG``
per ``WINDOW_S`` seconds in a session and ``MAX_WRONG_SERVER`` on the whole server (a guesser opening new sessions),
past which every attempt is refused until the window has passed — the teacher's own included, with that message.
Without the variable there is no class: the Classroom
page is not in the menu and the student's class controls (the leaderboard, sharing runs) are not shown."""

from __future__ import annotations

import collections
import hmac
import os
import threading
import time

import streamlit as st

from playground import state

ENV_VAR = "CNNPG_TEACHER_TOKEN"
MAX_TOKEN = 1000  # characters accepted in the token field
WINDOW_S = 60.0
MAX_WRONG = 5  # wrong tokens per session per window
MAX_WRONG_SERVER = 30  # ... and per server

_wrong_lock = threading.Lock()
_wrong_server: collections.deque[float] = collections.deque()  # when each recent wrong token came, server-wide


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
    wait = _rationed()
    if wait:
        state.put(state.TEACHER_MESSAGE, f"Too many wrong tokens: try again in {wait} s (at most {MAX_WRONG} tries "
                                         f"a minute).")
    elif token and hmac.compare_digest(entered.strip().encode(), token.encode()):
        state.put(state.TEACHER, True)
        state.put(state.TEACHER_MESSAGE, None)
    else:
        _note_wrong()
        state.put(state.TEACHER_MESSAGE, "That is not the teacher's token.")


def _rationed() -> int:
    """Seconds until this session may try a token again (0: now)."""
    now = time.monotonic()
    mine = [t for t in st.session_state.get(state.TEACHER_WRONG, []) if now - t < WINDOW_S]
    st.session_state[state.TEACHER_WRONG] = mine
    with _wrong_lock:
        while _wrong_server and now - _wrong_server[0] >= WINDOW_S:
            _wrong_server.popleft()
        server = list(_wrong_server)
    return max(_wait(mine, MAX_WRONG, now), _wait(server, MAX_WRONG_SERVER, now))


def _wait(times: list[float], cap: int, now: float) -> int:
    """Seconds until fewer than ``cap`` of ``times`` (ascending, all within the window) are within it."""
    return 0 if len(times) < cap else int(WINDOW_S - (now - times[-cap])) + 1


def _note_wrong() -> None:
    now = time.monotonic()
    st.session_state[state.TEACHER_WRONG] = [*st.session_state.get(state.TEACHER_WRONG, []), now]
    with _wrong_lock:
        _wrong_server.append(now)
