"""Entry point: ``streamlit run playground/app.py``. Routes to the pages in ../pages and draws the shared sidebar.

The entry sits in playground/, not beside pages/, so Streamlit never falls into its legacy multipage mode (see
docs/testing.md): deep links such as /builder run through this script and its sidebar.
"""

from __future__ import annotations

import streamlit as st

from playground.navigation import grouped
from playground.owner import owner_id, remember_ui
from playground.sidebar import sidebar_ui

ABOUT = """**CNN Playground** — a first course on convolutional neural networks, to move, run and train on real PyTorch:
convolutions, classic networks, training, detection, faces and style. Open source (MIT)."""


def main() -> None:
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
    page.run()


main()
