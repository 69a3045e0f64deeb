"""Real-browser fixtures: one `streamlit run` server and one Debian Chromium per test session, a fresh page per test.

See docs/testing.md: Playwright's own browser download fails here, so Debian's Chromium is launched through it;
a rerun is known to be finished by counting `script_finished` messages on the app's websocket.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from served_app import ROOT, serve

# Assertions retry until this long: on 2 loaded cores a page that imports torch can take several seconds to draw.
expect.set_options(timeout=30_000)

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]


@pytest.fixture(scope="session")
def app_url(tmp_path_factory) -> Iterator[str]:
    """Serve the app for the whole session, with its runs in a temporary folder; the server log is kept."""
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    env = {"CNNPG_RUNS_DIR": str(tmp_path_factory.mktemp("runs"))}
    with serve(ROOT / "playground" / "app.py", log, env) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = (f"Chromium not found at {CHROMIUM}: run `make test` (it installs Debian's chromium where it can), "
                   f"`apt-get install chromium`, or set CHROMIUM=/path/to/chromium")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


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

    def assert_no_exception(self) -> None:
        exceptions = self.page.get_by_test_id("stException")
        assert exceptions.count() == 0, exceptions.first.inner_text()


@pytest.fixture
def app(browser, app_url) -> Iterator[StApp]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield StApp(page, app_url)
    context.close()
