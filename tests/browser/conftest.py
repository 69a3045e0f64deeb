"""Real-browser fixtures: one `streamlit run` server and one Debian Chromium per test session, a fresh page per test.

See docs/testing.md: Playwright's own browser download fails here, so Debian's Chromium is launched through it;
a rerun is known to be finished by counting `script_finished` messages on the app's websocket.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from served_app import ROOT, StApp, serve

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


@pytest.fixture
def app(browser, app_url) -> Iterator[StApp]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield StApp(page, app_url)
    context.close()
