"""Whose work is whose: every browser gets an anonymous owner id, kept in a cookie so that it survives a reload, a
closed tab and a server restart. Runs and jobs carry it (``engine.training.runs``, ``engine.jobs``): a page shows
this owner's runs (and nobody's: the CLI's), never another browser's, and re-attaches to this owner's running job.

The id is read from the cookie the browser sends with the app's websocket (``st.context.cookies``). A browser without
one gets a new random id, and a small script sets the cookie on the page (``st.html`` with JavaScript: the app's own
code, no user input in it) for its next visits. A browser that refuses cookies stays anonymous per session: its work
is still its own, only not found again after a reload. See docs/architecture.md, "Owners".
"""

from __future__ import annotations

import re
import secrets

import streamlit as st

from playground import state

COOKIE = "cnnpg_owner"
MAX_AGE_S = 365 * 24 * 3600
_VALID = re.compile(r"[A-Za-z0-9_-]{16,64}")


def owner_id() -> str:
    """This browser's owner id (from its cookie, or new — and then set in the browser)."""
    held = st.session_state.get(state.OWNER)
    if held:
        return held
    try:
        sent = st.context.cookies.get(COOKIE, "")
    except (AttributeError, RuntimeError):  # outside a served session
        sent = ""
    if isinstance(sent, str) and _VALID.fullmatch(sent):  # (AppTest has no browser: no cookies, not even a dict)
        owner = sent
    else:
        owner = secrets.token_urlsafe(18)
        st.session_state[state.OWNER_UNSENT] = True
    st.session_state[state.OWNER] = owner
    return owner


def remember_ui() -> None:
    """At the end of the sidebar (where its empty element takes no room in the page): set the cookie in a browser
    that came without one — once per session. ``owner`` is ours, URL-safe base64 only: nothing from the user."""
    if not st.session_state.pop(state.OWNER_UNSENT, False):
        return
    owner = owner_id()
    assert _VALID.fullmatch(owner)
    st.sidebar.html(f"<script>document.cookie = '{COOKIE}={owner}; path=/; max-age={MAX_AGE_S}; SameSite=Lax';"
                    f"</script>", unsafe_allow_javascript=True)
