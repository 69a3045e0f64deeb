"""Results kept per input for this session (``state.SLIDE_RESULTS``), so that moving one control does not redo the
work another control's result needs: sliding every window again takes seconds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from playground import state

T = TypeVar("T")
LIMIT = 8  # results kept at once


def kept(key: tuple, make: Callable[[], T], spinner: str | None = None) -> T:
    """``make()``'s result for ``key``, made once and kept (the oldest go first past ``LIMIT``)."""
    store: dict[tuple, Any] = st.session_state.setdefault(state.SLIDE_RESULTS, {})
    if key not in store:
        if spinner:
            with st.spinner(spinner):
                store[key] = make()
        else:
            store[key] = make()
        while len(store) > LIMIT:
            store.pop(next(iter(store)))
    return store[key]
