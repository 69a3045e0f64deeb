"""The Faces page in a real browser: Verify (the astronaut against herself is "same"; an uploaded photo of someone
else is "different", with the distance scale drawn), Recognise (enrol the astronaut from one photo, identify her,
delete her) and the live webcam with Chromium's fake camera (flags in conftest.py): frames come back recognised, until
STOP."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect
from served_app import WEBRTC

PHOTOS = Path(__file__).resolve().parents[2] / ".cache" / "face-photos"  # scripts/face-photos.sh (make test)
SLOW = 120_000  # ms: dlib's first load and detection on two busy cores


def test_verify_the_astronaut_then_an_uploaded_stranger(app):
    biden = PHOTOS / "biden.jpg"
    if not biden.is_file():
        pytest.skip(f"the face photos could not be fetched ({PHOTOS} is missing; make face-photos fetches them)")
    app.goto("/faces")
    main = app.main()
    expect(main.get_by_text(re.compile(r"^Same person"))).to_be_visible(timeout=SLOW)
    expect(main.locator(".js-plotly-plot").filter(has_text="threshold 0.6").locator(".main-svg").first
           ).to_be_visible(timeout=SLOW)
    expect(main).to_contain_text("Nothing is written to disk unless you enrol")
    upload = main.get_by_text("Upload", exact=True).nth(1)  # picture A's, then B's
    app.act(lambda: upload.click())
    app.page.locator('input[type="file"]').set_input_files(
        files=[{"name": "biden.jpg", "mimeType": "image/jpeg", "buffer": biden.read_bytes()}])
    expect(main.get_by_text(re.compile(r"^Different people"))).to_be_visible(timeout=SLOW)
    expect(main.get_by_test_id("stImageCaption").filter(has_text="B, aligned")).to_be_visible()
    app.assert_no_exception()
    app.shot("faces_verify")


def test_enrol_identify_and_recognise_live(app):
    app.goto("/faces")
    app.page.get_by_role("tab", name="Recognise").click()
    main = app.main()
    expect(main).to_contain_text("Nobody enrolled yet", timeout=SLOW)
    name = app.page.get_by_role("textbox", name="Their name")
    name.fill("Eileen")
    app.act(lambda: name.press("Enter"))
    app.act(lambda: app.button("Enrol").click())
    expect(main).to_contain_text("Enrolled Eileen: 1 picture", timeout=SLOW)
    expect(main.get_by_test_id("stDataFrame")).to_be_visible()
    # the live camera: Chromium's fake device streams a test pattern; every frame goes through recognition
    frame = app.page.frame_locator(WEBRTC)
    frame.get_by_role("button", name="START").click()
    expect(frame.get_by_role("button", name="STOP")).to_be_visible(timeout=SLOW)
    deadline, count, m = time.time() + 90, 0, None
    while time.time() < deadline:
        m = re.search(r"Frames recognised: (\d+) · ([\d.]+) frames/s", main.inner_text())
        count = int(m.group(1)) if m else 0
        if count >= 4:
            break
        app.page.wait_for_timeout(500)
    assert count >= 4, main.inner_text()[-400:]
    print(f"\nfaces webcam: {m.group(2)} frames/s after {count} frames")
    size = frame.locator("video").evaluate("v => [v.videoWidth, v.videoHeight]")
    assert size[0] > 0 and size[1] > 0
    app.assert_no_exception()
    app.shot("faces_recognise")
    frame.get_by_role("button", name="STOP").click()
    expect(frame.get_by_role("button", name="START")).to_be_visible()
    app.act(lambda: app.page.get_by_role("button", name="Delete all").click())
    expect(main).to_contain_text("Deleted everyone from your gallery", timeout=SLOW)
    expect(main).to_contain_text("Nobody enrolled yet")
    app.assert_no_exception()
