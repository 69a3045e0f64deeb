"""The app in a real browser: it starts, and every page in the navigation loads (also by deep link) cleanly."""

from __future__ import annotations

import pytest

from playground.navigation import PAGES


def test_home_loads_with_sidebar(app):
    app.goto("/")
    assert "CNN Playground" in app.main().inner_text()
    sidebar = app.page.get_by_test_id("stSidebar")
    assert "Compute device" in sidebar.inner_text()
    assert "cpu" in sidebar.inner_text()
    app.assert_no_exception()


def test_navigation_lists_every_page(app):
    app.goto("/")
    links = app.page.get_by_test_id("stSidebarNavLink").all_inner_texts()
    assert [t.strip().splitlines()[-1] for t in links] == [p.title for p in PAGES]  # icon name, then title


@pytest.mark.parametrize("url", [p.url for p in PAGES])
def test_every_page_loads_by_deep_link(app, url):
    app.goto(f"/{url}")
    app.assert_no_exception()
    # A deep link runs through the entry script: the shared sidebar is there.
    assert "Compute device" in app.page.get_by_test_id("stSidebar").inner_text()
