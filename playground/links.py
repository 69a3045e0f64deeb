"""A page's meaningful state in its link, TensorFlow Playground's habit: reloading the page or opening a shared link
restores it.

A page lists its linked widget keys with a parser each (``Link``). ``restore(links)``, before the widgets are drawn,
copies the link's values into the widgets' session state once per session and page (a value that does not parse,
or is out of the widget's range, is left out: the widget keeps its default); ``publish(links)``, after they are
drawn, writes the current values back into the link. The values come from session state, not from the drawn widgets,
so a control on a tab that is not open (the lab's tabs run lazily) keeps its place in the link.

Streamlit's own ``bind="query-params"`` drops the value of a widget that is not drawn, so it is not used for these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from playground import state


@dataclass(frozen=True)
class Link:
    """A widget's session-state ``key``, its name in the link (``name``, default: the key without its ``_w_``
    prefix), and ``parse``: the link's text to a valid value, or ``ValueError``. A value that no widget key holds
    (the image source's choice) is read with ``get`` and restored with ``put`` instead."""

    key: str
    parse: Callable[[str], Any]
    name: str = ""
    get: Callable[[], Any] | None = None
    put: Callable[[Any], None] | None = None

    @property
    def param(self) -> str:
        return self.name or self.key.removeprefix("_w_")


def integer(lo: int, hi: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not lo <= value <= hi:
            raise ValueError(f"{value} is not in {lo}…{hi}")
        return value
    return parse


def number(lo: float, hi: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = float(text)
        if not lo <= value <= hi:  # NaN fails too
            raise ValueError(f"{value} is not in {lo:g}…{hi:g}")
        return value
    return parse


def choice(options: Iterable[Any]) -> Callable[[str], Any]:
    """One of ``options``, matched by its text (numbers too: "0.001" finds 1e-3)."""
    by_text = {_text(o): o for o in options}

    def parse(text: str) -> Any:
        if text not in by_text:
            raise ValueError(f"{text!r} is not one of the choices")
        return by_text[text]
    return parse


def restore(page: str, links: Sequence[Link]) -> bool:
    """Once per session and page: the link's values into session state (invalid ones are left out). True on that
    first time, so a page can read the rest of its link (a run id) alongside."""
    done = st.session_state.setdefault(state.LINKS_RESTORED, set())
    if page in done:
        return False
    done.add(page)
    for link in links:
        raw = st.query_params.get(link.param)
        if raw is None:
            continue
        try:
            value = link.parse(raw)
        except (ValueError, TypeError):
            continue  # a hand-edited or stale link: the widget keeps its default
        if link.put is not None:
            link.put(value)
        else:
            st.session_state[link.key] = value
    return True


def publish(links: Sequence[Link], extra: dict[str, str] | None = None) -> None:
    """The current values (and ``extra`` parameters) into the link, changing only what differs."""
    values = {link.param: link.get() if link.get is not None else st.session_state.get(link.key) for link in links}
    wanted = {param: _text(value) for param, value in values.items() if value is not None}
    wanted.update(extra or {})
    for param, text in wanted.items():
        if st.query_params.get(param) != text:
            st.query_params[param] = text


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
