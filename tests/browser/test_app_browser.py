"""The app in a real browser: it starts, and every page in the navigation loads (also by deep link) cleanly."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from engine.device import available
from playground.navigation import PAGES, grouped

SHOWN = [p for p in PAGES.values() if p.shown]  # the Classroom only with a teacher's token (test_classroom_browser)


def test_home_loads_with_sidebar(app):
    app.goto("/")
    expect(app.main()).to_contain_text("CNN Playground")
    sidebar = app.page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_test_id("stSelectbox")).to_contain_text("Compute device")
    expect(sidebar).to_contain_text(f"available here: {', '.join(available())}")
    app.assert_no_exception()


def test_navigation_lists_every_page(app):
    app.goto("/")
    links = app.page.get_by_test_id("stSidebarNavLink")
    expect(links).to_have_count(len(SHOWN))
    assert [t.strip().splitlines()[-1] for t in links.all_inner_texts()] == [p.title for p in SHOWN]
    headers = app.page.get_by_test_id("stNavSectionHeader")
    expect(headers).to_have_count(len([g for g in grouped() if g]))
    assert [t.strip() for t in headers.all_inner_texts()] == [g for g in grouped() if g]


@pytest.mark.parametrize("url", [p.url for p in SHOWN])
def test_every_page_loads_by_deep_link(app, url):
    app.goto(f"/{url}")
    # A deep link runs through the entry script: the shared sidebar is there, and the page's own title.
    expect(app.page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox")).to_contain_text("Compute device")
    expect(app.main().locator("h1").first).to_be_visible()
    app.assert_no_exception()


def test_students_see_no_developer_chrome_and_the_app_s_own_about(app):
    app.goto("/")
    expect(app.main()).to_contain_text("CNN Playground")
    expect(app.page.get_by_test_id("stAppDeployButton")).to_have_count(0)
    app.page.get_by_test_id("stMainMenu").click()
    menu = app.page.get_by_test_id("stMainMenuList")
    expect(menu).to_contain_text("About")
    expect(menu).not_to_contain_text("Clear cache")
    expect(menu).not_to_contain_text("Rerun")


def test_home_s_path_starts_the_first_step(app):
    app.goto("/")
    expect(app.main().locator("h3").first).to_contain_text("Week 1")
    expect(app.main()).to_contain_text("Compute devices on this server")  # the page is drawn to its end
    start = app.main().get_by_test_id("stPageLink").first
    expect(start.locator("a")).to_have_attribute("href", "conv-lab")
    app.act(lambda: start.click())
    expect(app.main().locator("h1").first).to_contain_text("Convolution lab")
    app.assert_no_exception()
