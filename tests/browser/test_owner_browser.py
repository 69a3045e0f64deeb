"""Whose work is whose, in real browsers: each browser context is a different student (its own cookie). A running job
is found again after a reload and in a new tab of the same browser — the job is the owner's, not the tab's — and
Look inside in another browser never opens the first one's run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import expect
from served_app import StApp
from test_training_browser import TRAIN_TIMEOUT, _digits, _set_epochs

from playground.owner import COOKIE


@contextmanager
def _student(browser, app_url: str) -> Iterator[StApp]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield StApp(page, app_url)
    finally:
        context.close()


def _owner(app: StApp) -> str:
    return next(c["value"] for c in app.page.context.cookies() if c["name"] == COOKIE)


def test_a_reload_and_a_new_tab_find_the_running_job_again(app):
    _digits(app)
    _set_epochs(app, 300)
    app.button("Train").click()
    progress = app.page.get_by_test_id("stProgress")
    expect(progress).to_contain_text("images/s", timeout=TRAIN_TIMEOUT)
    owner = _owner(app)

    app.goto("/training")  # a reload: a new session, the same browser
    expect(progress).to_contain_text("epoch", timeout=TRAIN_TIMEOUT)  # the live view is back, still training
    assert _owner(app) == owner
    app.page.close()  # the tab is closed; the job goes on

    tab = StApp(app.page.context.new_page(), app.base_url)
    tab.page.set_default_timeout(60_000)
    tab.goto("/training")
    expect(tab.page.get_by_test_id("stProgress")).to_contain_text("epoch", timeout=TRAIN_TIMEOUT)
    tab.button("Stop").click()
    expect(tab.page.get_by_test_id("stAlertContentWarning")).to_contain_text("Stopped (stopped by the user)",
                                                                             timeout=TRAIN_TIMEOUT)
    tab.assert_no_exception()


def test_look_inside_in_another_browser_never_opens_the_first_one_s_run(browser, app_url):
    with _student(browser, app_url) as ada:
        _digits(ada)
        _set_epochs(ada, 1)
        ada.button("Train").click()
        expect(ada.page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Finished", timeout=TRAIN_TIMEOUT)
        ada.goto("/inspect")
        network = ada.page.get_by_test_id("stSelectbox").filter(has_text="Network")
        expect(network).to_match_aria_snapshot('- combobox "Network": /digits, 1 epoch/')  # Ada's own run, unasked
        ada.assert_no_exception()
        shared = ada.page.url  # the link holds the run: ?run=<id>&sample=0...
        assert "run=2" in shared and "input=sample" in shared
        ada.goto("/inspect?input=photo&photo=coffee")  # a link to a photo: Ada's run reads the coffee photo
        expect(ada.main()).to_contain_text("the photo 'coffee'")
        ada.assert_no_exception()
        with _student(browser, app_url) as bob:
            bob.goto("/inspect")
            expect(bob.main()).to_contain_text("No trained network yet")
            box = bob.page.get_by_test_id("stSelectbox").filter(has_text="Network")
            expect(box).to_match_aria_snapshot('- combobox "Network": /The builder\'s network, untrained/')
            box.click()
            expect(bob.page.get_by_role("option")).to_have_count(1)  # Ada's run is not even listed
            assert _owner(bob) != _owner(ada)
            bob.goto(shared.removeprefix(bob.base_url))  # Ada's link, run id and all: still not Ada's run
            expect(bob.main()).to_contain_text("No trained network yet")
            expect(box).to_match_aria_snapshot('- combobox "Network": /The builder\'s network, untrained/')
            bob.assert_no_exception()
