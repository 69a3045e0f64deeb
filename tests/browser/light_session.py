"""A light client of a served app: one Streamlit session over the app's websocket, without a browser (a real
Chromium per student starves a 2-core server). It asks for a page's run the way the browser does and waits for the
run to finish; it draws nothing. Used by tests that need many sessions of one served app (docs/testing.md)."""

from __future__ import annotations

import time

import psutil
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect


class LightSession:
    """One session of the app at ``url`` (http://host:port); ``run(page, query)`` runs a page as a browser's visit
    would; ``close()`` closes the websocket, as closing the tab does."""

    def __init__(self, url: str) -> None:
        self._ws = connect(url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                           max_size=None, open_timeout=30, legacy=True)  # a connection we close ourselves
        self.errors: list[str] = []  # exceptions the page showed

    def run(self, page: str, query: str = "", timeout: float = 180) -> None:
        msg = BackMsg()
        msg.rerun_script.query_string = query
        msg.rerun_script.page_name = page
        self._ws.send(msg.SerializeToString())
        done = ForwardMsg.ScriptFinishedStatus
        deadline = time.time() + timeout
        while True:
            raw = self._ws.recv(timeout=max(deadline - time.time(), 0.1))
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            if kind == "delta" and fwd.delta.new_element.WhichOneof("type") == "exception":
                self.errors.append(fwd.delta.new_element.exception.message)
            if kind == "script_finished" and fwd.script_finished in (done.FINISHED_SUCCESSFULLY,
                                                                     done.FINISHED_WITH_COMPILE_ERROR):
                return

    def clear_caches(self) -> None:
        """What the developer menu's "Clear cache" sends: every shared cache of the server is emptied."""
        msg = BackMsg()
        msg.clear_cache = True
        self._ws.send(msg.SerializeToString())

    def close(self) -> None:
        self._ws.close()


def server_process(port_url: str) -> psutil.Process:
    """The served app's process (a child of this one, listening on the URL's port)."""
    port = int(port_url.rsplit(":", 1)[1])
    for child in psutil.Process().children(recursive=True):
        try:
            if any(c.laddr and c.laddr.port == port for c in child.net_connections()):
                return child
        except psutil.Error:
            continue
    raise LookupError(f"no child process listens on port {port}")


def rss_mb(proc: psutil.Process) -> float:
    return proc.memory_info().rss / 1024 / 1024
