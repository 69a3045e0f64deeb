"""A light browser for load tests: one Streamlit session spoken over the app's websocket, no page drawn.

A real Chromium per student starves a 2-core server (docs/testing.md, "Cost on a 2-core machine"), so the classroom
load test (load_classroom.py) plays most students with this client. It speaks the protocol the browser speaks on
``/_stcore/stream`` (streamlit 1.67): it sends ``BackMsg.rerun_script`` (a ``ClientState``: the page by its script
hash or URL path, the query string, the widget states) and reads ``ForwardMsg``: ``navigation`` (the pages and their
hashes), ``delta`` (the page's elements, widgets carrying their ``id``), ``page_info_changed`` (the query string the
page wrote), ``auto_rerun`` (a fragment's ``run_every``, which a browser answers with fragment reruns) and
``script_finished``. A rerun's time is the browser's wait: from sending the request to its ``script_finished``.

Widgets are found by their key: a keyed widget's id ends in ``-<key>``. Values are sent as the browser sends them:
the ones this session set, on every rerun (the server keeps the rest), a button's trigger once.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

OWNER_COOKIE = "cnnpg_owner"  # playground/owner.py: each light client is its own student
_DONE = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR)


@dataclass
class Rerun:
    """One rerun as the browser waits on it."""

    kind: str  # "page" (a whole-script run) or "fragment"
    page: str  # the page's URL path ("" for the home page)
    seconds: float  # from the request to its script_finished


@dataclass
class Session:
    """One student's session on the served app at ``url`` (http://host:port). ``await open()``, then ``goto``,
    ``set``, ``click``; ``close()`` at the end. Every rerun is kept in ``reruns``, every exception element shown in
    ``exceptions``."""

    url: str
    owner: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    timeout: float = 120.0
    reruns: list[Rerun] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    pages: dict[str, str] = field(default_factory=dict)  # URL path -> page script hash
    session_id: str = ""  # the server's id of this session (its new_session message)
    page: str = ""
    query: str = ""
    elements: dict[tuple[int, ...], Element] = field(default_factory=dict)  # the current page, by delta path
    fragments: dict[str, float] = field(default_factory=dict)  # fragment id -> run_every seconds

    def __post_init__(self) -> None:
        self._ws = None
        self._reader: asyncio.Task | None = None
        self._waiting: tuple[str, asyncio.Future] | None = None
        self._values: dict[str, WidgetState] = {}  # by widget id: what this session set
        self._announced: dict[str, float] = {}  # the fragments' timers the whole-script run in progress set

    async def open(self) -> None:
        ws_url = self.url.replace("http", "ws", 1).rstrip("/") + "/_stcore/stream"
        self._ws = await websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=60,
                                            additional_headers={"Cookie": f"{OWNER_COOKIE}={self.owner}"})
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    # -- what a student does ------------------------------------------------------------------------------------------

    async def goto(self, page: str, query: str = "") -> Rerun:
        """Open ``page`` (its URL path, "" for home) with ``query``, as a link or a click in the navigation does."""
        self.page, self.query = page, query
        return await self._rerun()

    async def set(self, key: str, value: float | int | bool | str) -> Rerun:
        """Give the widget with ``key`` a new value (a number input, checkbox, toggle or text input) and wait for
        the rerun."""
        element = self.widget(key)
        kind = element.WhichOneof("type")
        state = WidgetState(id=getattr(element, kind).id)
        if kind == "number_input":
            if element.number_input.data_type == element.number_input.INT:
                state.int_value = int(value)
            else:
                state.double_value = float(value)
        elif kind == "checkbox":
            state.bool_value = bool(value)
        elif kind == "text_input":
            state.string_value = str(value)
        else:
            raise ValueError(f"setting a {kind} is not supported by the light client (widget {key!r})")
        self._values[state.id] = state
        return await self._rerun()

    async def click(self, key: str) -> Rerun:
        """Press the button with ``key`` and wait for the rerun it starts (and the one ``st.rerun`` asks for)."""
        element = self.widget(key)
        return await self._rerun(trigger=WidgetState(id=getattr(element, element.WhichOneof("type")).id,
                                                     trigger_value=True))

    async def rerun_fragment(self, fragment_id: str) -> Rerun:
        """Rerun one fragment, as the browser's timer for ``st.fragment(run_every=...)`` does (``fragments``)."""
        return await self._rerun(fragment=fragment_id)

    # -- what the page shows ------------------------------------------------------------------------------------------

    def widget(self, key: str) -> Element:
        """The current page's widget whose key is ``key`` (a KeyError naming the keys there when it is missing)."""
        for element in self.elements.values():
            kind = element.WhichOneof("type")
            if str(getattr(getattr(element, kind), "id", "")).endswith(f"-{key}"):
                return element
        keys = sorted(getattr(getattr(e, e.WhichOneof("type")), "id", "").rsplit("-", 1)[-1]
                      for e in self.elements.values() if getattr(getattr(e, e.WhichOneof("type")), "id", ""))
        raise KeyError(f"no widget with key {key!r} on page {self.page!r}; there are: {keys}")

    def texts(self, kind: str | None = None) -> list[str]:
        """The text of the current page's markdown, alerts, headings, captions and progress bars (of one element
        kind with ``kind``, e.g. "alert", "progress", "markdown"), in the order they are drawn."""
        out = []
        for _, element in sorted(self.elements.items()):
            k = element.WhichOneof("type")
            if kind is not None and k != kind:
                continue
            if k in ("markdown", "alert", "heading"):
                out.append(getattr(element, k).body)
            elif k == "progress":
                out.append(element.progress.text)
        return out

    def alerts(self, *formats: str) -> list[str]:
        """The text of the current page's alerts (``st.error``, ``warning``, ``info``, ``success``), of the given
        formats only when some are named ("error", "warning", ...)."""
        wanted = {Alert.Format.Value(f.upper()) for f in formats}
        return [e.alert.body for _, e in sorted(self.elements.items())
                if e.WhichOneof("type") == "alert" and (not wanted or e.alert.format in wanted)]

    def metrics(self) -> dict[str, str]:
        """The current page's ``st.metric`` values as drawn, by label."""
        return {e.metric.label: e.metric.body for e in self.elements.values() if e.WhichOneof("type") == "metric"}

    # -- the protocol -------------------------------------------------------------------------------------------------

    async def _rerun(self, fragment: str = "", trigger: WidgetState | None = None) -> Rerun:
        msg = BackMsg()
        client = msg.rerun_script
        client.query_string = self.query
        client.page_name = self.page
        client.page_script_hash = self.pages.get(self.page, "")
        client.widget_states.widgets.extend([*self._values.values(), *([trigger] if trigger else [])])
        if fragment:
            client.fragment_id = fragment
            client.is_auto_rerun = True
        else:
            self.elements.clear()  # the browser drops what the new run does not draw again
        future = asyncio.get_running_loop().create_future()
        self._waiting = ("fragment" if fragment else "page", future)
        start = time.perf_counter()
        await self._ws.send(msg.SerializeToString())
        try:
            await asyncio.wait_for(future, self.timeout)
        finally:
            self._waiting = None
        run = Rerun("fragment" if fragment else "page", self.page, time.perf_counter() - start)
        self.reruns.append(run)
        return run

    async def _read(self) -> None:
        async for raw in self._ws:
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                self.session_id = msg.new_session.initialize.session_id
            elif kind == "navigation":
                self.pages = {p.url_pathname: p.page_script_hash for p in msg.navigation.app_pages}
            elif kind == "page_info_changed":
                self.query = msg.page_info_changed.query_string
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                self.elements[tuple(msg.metadata.delta_path)] = element
                if element.WhichOneof("type") == "exception":
                    e = element.exception
                    self.exceptions.append(f"{self.page or 'home'}: {e.type}: {e.message}")
            elif kind == "auto_rerun":  # sent where a whole-script run defines the fragment, never by its reruns
                self._announced[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
            elif kind == "stop_auto_rerun":
                for f in msg.stop_auto_rerun.fragment_ids:
                    self.fragments.pop(f, None)
            if kind == "script_finished" and msg.script_finished != ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                # A whole-script run ended: the timers are the ones it set (the browser clears the others).
                if msg.script_finished in _DONE:
                    self.fragments = self._announced
                self._announced = {}
            if kind == "script_finished" and self._waiting is not None:
                waiting, future = self._waiting
                if future.done():
                    continue
                # A fragment that calls st.rerun() ends in the whole page's run: that answers a fragment's rerun too.
                status = msg.script_finished
                if status in _DONE or waiting == "fragment" and status == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                    future.set_result(status)
        if self._waiting is not None and not self._waiting[1].done():
            self._waiting[1].set_exception(ConnectionError("the server closed the websocket"))
