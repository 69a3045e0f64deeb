"""The builder's editing state. The network lives in session state (``state.SPEC``); every widget of the builder is a
view of it and writes back through an ``on_change``/``on_click`` callback, so an edit is applied before the next run
draws the summary — the table and the editor never disagree. Widgets that show a layer carry the edit version in
their keys: a structural change bumps it, so they start fresh from the spec."""

from __future__ import annotations

from engine.nets.editing import Edit
from engine.nets.spec import Path
from playground import state


def version() -> int:
    return state.get(state.EDIT_VERSION, 0)


def bump_version() -> None:
    """Structure changed: editor widgets must start fresh from the spec."""
    state.put(state.EDIT_VERSION, version() + 1)


def selected() -> Path | None:
    return state.get(state.SELECTED)


def apply(edit: Edit) -> None:
    """Make an engine edit the session's network (undo keeps the old one) and select what it says."""
    state.set_spec(edit.spec)
    state.put(state.SELECTED, edit.selected)
    bump_version()
