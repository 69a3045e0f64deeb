"""The camera where a classroom opens the app from other machines: over plain http from another address the page
says why the browser refuses the camera (and what to do); served over https (make run-https's certificate) the live
camera starts; and where the live stream cannot connect, a photo from the browser's own camera dialog stands in."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from served_app import ROOT, WEBRTC, StApp, serve

REFUSED = "browsers give the camera only to secure pages"


def _lan_address() -> str:
    """This machine's first IPv4 address that is not loopback: how another machine in the room would reach it."""
    found = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    address = next((a for a in found if a.count(".") == 3 and not a.startswith("127.")), None)
    if address is None:
        pytest.fail(f"this machine has no IPv4 address besides loopback (hostname -I: {found})")
    return address


def _page(browser, url: str, **options) -> Iterator[StApp]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, **options)
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield StApp(page, url)
    context.close()


def _webcam_source(app: StApp) -> None:
    app.goto("/conv-lab")
    app.act(lambda: app.main().get_by_text("Webcam", exact=True).click())


def test_over_plain_http_from_another_address_the_page_says_why_there_is_no_camera(browser, tmp_path):
    with serve(ROOT / "playground" / "app.py", tmp_path / "lan.log", address="0.0.0.0") as url:
        lan = url.replace("127.0.0.1", _lan_address())
        for app in _page(browser, lan):
            _webcam_source(app)
            warning = app.main().get_by_test_id("stAlertContentWarning").filter(has_text=REFUSED)
            expect(warning).to_contain_text("make run-https")
            expect(app.page.locator(WEBRTC)).to_have_count(0)
            app.assert_no_exception()


def test_over_https_the_live_camera_starts(browser, tmp_path):
    subprocess.run(["bash", str(ROOT / "scripts" / "make-cert.sh"), str(tmp_path / "certs")], check=True)
    certificate = (tmp_path / "certs" / "cert.pem", tmp_path / "certs" / "key.pem")
    with serve(ROOT / "playground" / "app.py", tmp_path / "https.log", certificate=certificate) as url:
        assert url.startswith("https://")
        for app in _page(browser, url, ignore_https_errors=True):
            _webcam_source(app)
            expect(app.main()).not_to_contain_text(REFUSED)
            frame = app.page.frame_locator(WEBRTC)
            frame.get_by_role("button", name="START").click()
            expect(frame.get_by_role("button", name="STOP")).to_be_visible()
            frame.get_by_role("button", name="STOP").click()
            app.assert_no_exception()


def test_a_photo_from_the_browser_s_camera_stands_in_for_the_live_stream(app):
    _webcam_source(app)
    app.main().get_by_text("The live camera does not start? Take a photo instead").click()
    take = app.main().get_by_test_id("stCameraInput").get_by_role("button", name="Take Photo")
    expect(take).to_be_enabled()
    app.act(lambda: take.click())
    expect(app.main()).to_contain_text("the webcam frame you took")
    app.assert_no_exception()
