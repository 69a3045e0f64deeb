"""Serve a Streamlit script with `streamlit run` on a free loopback port for the browser tests (docs/testing.md), and
`StApp`: a page of it with a rerun counter (in this module, not conftest, so test modules can import it)."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEBRTC = 'iframe[title="streamlit_webrtc.component.webrtc_streamer"]'  # the webcam component's iframe
SHOTS = os.environ.get("CNNPG_SCREENSHOTS")  # a folder: save screenshots there to look at


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(script: Path, log: Path, env: dict[str, str] | None = None, timeout: float = 60,
          certificate: tuple[Path, Path] | None = None, address: str = "127.0.0.1") -> Iterator[str]:
    """Run ``script`` until the block ends; yields its URL once ``/_stcore/health`` answers ``ok``. ``certificate``:
    (cert, key) files to serve over https (the probe then trusts the self-signed certificate); ``address``: the
    interface to listen on ("0.0.0.0": every one, as a classroom server does)."""
    with serve_process(script, log, env, timeout, certificate, address) as (url, _):
        yield url


@contextlib.contextmanager
def serve_process(script: Path, log: Path, env: dict[str, str] | None = None, timeout: float = 60,
                  certificate: tuple[Path, Path] | None = None, address: str = "127.0.0.1"
                  ) -> Iterator[tuple[str, subprocess.Popen]]:
    """``serve``, yielding the server's process too (a test that kills it)."""
    port = free_port()
    tls = ["--server.sslCertFile", str(certificate[0]), "--server.sslKeyFile", str(certificate[1])] if certificate \
        else []
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
             "--server.port", str(port), "--server.address", address, "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false", *tls],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
        )
    url = f"{'https' if certificate else 'http'}://127.0.0.1:{port}"
    context = ssl._create_unverified_context() if certificate else None  # noqa: S323 - our own self-signed test cert
    try:
        deadline = time.time() + timeout
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2, context=context).read() == b"ok":
                    break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    pytest.fail(f"{script.name} did not start within {timeout:.0f} s; server log:\n"
                                f"{log.read_text()[-4000:]}")
                time.sleep(0.3)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


class StApp:
    """A page of the app with a rerun counter fed by the websocket, so tests can wait for a rerun to finish."""

    def __init__(self, page, base_url: str):
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._ForwardMsg = ForwardMsg
        self.page = page
        self.base_url = base_url
        self.finished = 0  # whole-script runs finished
        self.fragment_runs = 0  # fragment runs finished (timed refreshes, widgets inside a fragment)
        page.on("websocket", self._on_websocket)

    def _on_websocket(self, ws) -> None:
        if "_stcore/stream" in ws.url:
            ws.on("framereceived", self._on_frame)

    def _on_frame(self, payload) -> None:
        if isinstance(payload, str):
            return
        msg = self._ForwardMsg()
        msg.ParseFromString(payload)
        # Whole-script runs only: an interrupted run and a fragment's timed rerun are not the rerun an action waits on.
        status = self._ForwardMsg.ScriptFinishedStatus
        if msg.WhichOneof("type") != "script_finished":
            return
        if msg.script_finished in (status.FINISHED_SUCCESSFULLY, status.FINISHED_WITH_COMPILE_ERROR):
            self.finished += 1
        elif msg.script_finished == status.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
            self.fragment_runs += 1

    def wait_rerun(self, since: int, timeout: float = 90, fragment: bool = False) -> None:
        """Wait until a script run (a fragment run, with ``fragment``) that started after the count ``since`` has
        finished and the app is idle."""
        deadline = time.time() + timeout
        while (self.fragment_runs if fragment else self.finished) <= since:
            if time.time() > deadline:
                raise TimeoutError(f"no rerun finished within {timeout} s")
            self.page.wait_for_timeout(50)
        idle = '[data-testid="stApp"][data-test-script-state="notRunning"]'
        self.page.wait_for_selector(idle, timeout=timeout * 1000)

    def goto(self, path: str = "/") -> None:
        n = self.finished
        self.page.goto(self.base_url + path)
        self.wait_rerun(n)

    def act(self, action: Callable[[], object], fragment: bool = False) -> None:
        """Do something that triggers a rerun (of a fragment, with ``fragment``), and wait for it to finish."""
        n = self.fragment_runs if fragment else self.finished
        action()
        self.wait_rerun(n, fragment=fragment)

    def main(self):
        return self.page.get_by_test_id("stMain")

    def button(self, name: str):
        """The page's button labelled ``name`` (exactly)."""
        return self.page.get_by_test_id("stButton").get_by_role("button", name=name, exact=True)

    def shot(self, name: str) -> None:
        """A full-page screenshot into ``$CNNPG_SCREENSHOTS`` (when set), to look at."""
        if SHOTS:
            self.page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)

    def assert_no_exception(self) -> None:
        exceptions = self.page.get_by_test_id("stException")
        assert exceptions.count() == 0, exceptions.first.inner_text()
