"""Results kept per input for this session (in its holder, ``playground.cache.held``), so that moving one control
does not redo the work another control's result needs: sliding every window again takes seconds."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from playground.cache import held

T = TypeVar("T")


def kept(key: tuple, make: Callable[[], T], spinner: str | None = None) -> T:
    """``make()``'s result for ``key``, made once and kept in this session's holder (``playground.cache.held``: the
    oldest go first past the session's budget, and all go with the session)."""
    store = held()
    if spinner and ("slide", *key) not in store:
        with st.spinner(spinner):
            return store.keep(("slide", *key), make)
    return store.keep(("slide", *key), make)
