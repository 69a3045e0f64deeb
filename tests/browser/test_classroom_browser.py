"""The classroom in real browsers, on a server started with a teacher's token and one job at once: two students name
themselves and start training (the second waits in the queue); the teacher opens the Classroom page, is refused a
wrong token, enters the right one and sees the running job and the queue by the students' names, with no exception,
then stops the running job and the waiting one starts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect
from served_app import ROOT, StApp, serve
from test_training_browser import TRAIN_TIMEOUT, _digits, _set_epochs

TOKEN = "class-token-for-the-browser-test-91c2"


@pytest.fixture(scope="module")
def class_url(tmp_path_factory) -> Iterator[str]:
    """A server of its own: the teacher's token and one job at once in its environment."""
    log = tmp_path_factory.mktemp("class-server") / "streamlit.log"
    env = {"CNNPG_RUNS_DIR": str(tmp_path_factory.mktemp("class-runs")), "CNNPG_TEACHER_TOKEN": TOKEN,
           "CNNPG_MAX_JOBS": "1"}
    with serve(ROOT / "playground" / "app.py", log, env) as url:
        yield url


@contextmanager
def _browser_of(browser, url: str) -> Iterator[StApp]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield StApp(page, url)
    finally:
        context.close()


def _student_trains(app: StApp, name: str) -> None:
    _digits(app)
    field = app.page.get_by_test_id("stSidebar").get_by_role("textbox", name="Your name")
    field.fill(name)
    app.act(lambda: field.press("Enter"))
    _set_epochs(app, 300)
    app.button("Train").click()


def test_the_teacher_sees_the_queue_by_name_and_stops_a_job(browser, class_url):
    with _browser_of(browser, class_url) as ada, _browser_of(browser, class_url) as bob, \
            _browser_of(browser, class_url) as teacher:
        _student_trains(ada, "Ada")
        expect(ada.page.get_by_test_id("stProgress")).to_contain_text("epoch", timeout=TRAIN_TIMEOUT)
        _student_trains(bob, "Bob")
        expect(bob.main()).to_contain_text("Waiting in the queue (next to start)", timeout=TRAIN_TIMEOUT)

        teacher.goto("/classroom")
        expect(teacher.main()).to_contain_text("Teacher only")
        expect(teacher.button("Stop")).to_have_count(0)
        token = teacher.page.get_by_label("Teacher's token")
        token.fill("wrong")
        teacher.act(lambda: teacher.page.get_by_role("button", name="Enter").click())
        expect(teacher.main()).to_contain_text("That is not the teacher's token.")
        token.fill(TOKEN)
        teacher.act(lambda: teacher.page.get_by_role("button", name="Enter").click())
        jobs = teacher.main()
        expect(jobs).to_contain_text("Ada")
        expect(jobs).to_contain_text("digits")
        expect(jobs).to_contain_text("running")
        expect(jobs).to_contain_text("Bob")
        expect(jobs).to_contain_text("waiting · place 1 in the queue")
        expect(jobs).to_contain_text("Server memory")
        teacher.shot("classroom")
        teacher.assert_no_exception()

        teacher.page.get_by_role("button", name="Stop").first.click()  # Ada's, listed first (running)
        expect(ada.page.get_by_test_id("stAlertContentWarning")).to_contain_text("Stopped", timeout=TRAIN_TIMEOUT)
        expect(bob.page.get_by_test_id("stProgress")).to_contain_text("epoch", timeout=TRAIN_TIMEOUT)  # it started
        expect(jobs).not_to_contain_text("waiting · place", timeout=TRAIN_TIMEOUT)
        teacher.page.get_by_role("button", name="Stop").first.click()  # Bob's: nothing left running
        expect(bob.page.get_by_test_id("stAlertContentWarning")).to_contain_text("Stopped", timeout=TRAIN_TIMEOUT)
        teacher.assert_no_exception()
