"""Entry point: ``streamlit run playground/app.py``. Routes to the pages in ../pages and draws the shared sidebar.

The entry sits in playground/, not beside pages/, so Streamlit never falls into its legacy multipage mode (see
docs/testing.md): deep links such as /builder run through this script and its sidebar.
"""

from __future__ import annotations

import os
import time

import streamlit as st
from streamlit.navigation.page import StreamlitPage
from streamlit.runtime.scriptrunner import get_script_run_ctx

from playground.navigation import grouped
from playground.owner import owner_id, remember_ui
from playground.sidebar import sidebar_ui

# CNNPG_RERUN_LOG=path: the server's own time per script run, one line each, for the classroom load test
# (bench/README.md); unset (the default), nothing is written.
RERUN_LOG = os.environ.get("CNNPG_RERUN_LOG")

ABOUT = """**CNN Playground** — a first course on convolutional neural networks, to move, run and train on real PyTorch:
convolutions, classic networks, training, detection, faces and style. Open source (MIT)."""


def main() -> None:
    started = time.perf_counter()
    page = None
    try:
        page = _route()
        page.run()
    finally:
        if RERUN_LOG:
            _log_rerun(started, page.url_path if page is not None else "-")


def _route() -> StreamlitPage:
    """The page config, the navigation, the owner and the sidebar; the page to run."""
    # menu_items: the app's own About in the menu; the developer chrome (Deploy, Rerun, Clear cache) is hidden by
    # client.toolbarMode = "viewer" in .streamlit/config.toml.
    st.set_page_config(page_title="CNN Playground", page_icon=":material/grid_on:", layout="wide",
                       menu_items={"About": ABOUT, "Get help": None, "Report a bug": None})
    sections = {group: [st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url, default=p.name == "home")
                        for p in pages] for group, pages in grouped().items()}
    page = st.navigation(sections)
    owner_id()  # before any page: this browser's runs and jobs are found by it
    sidebar_ui()
    remember_ui()  # a new browser's cookie, at the sidebar's end
    return page


def _log_rerun(started: float, page: str) -> None:
    """Append ``session,page,seconds`` for this script run to ``RERUN_LOG`` in one write (lines from concurrent
    sessions never mix). Whole-script runs only (a fragment's rerun does not pass through here); a run cut short by
    ``st.rerun`` or by a newer rerun counts too — the server spent that time."""
    ctx = get_script_run_ctx()
    line = f"{ctx.session_id if ctx else '-'},{page or '/'},{time.perf_counter() - started:.4f}\n"
    fd = os.open(RERUN_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


main()
