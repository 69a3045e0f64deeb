"""The Faces page's backend choice in a real browser: MTCNN + dlib picked from the Backend menu verifies the astronaut
against herself ("same", its threshold 0.6 on the scale); FaceNet's note says why it is not offered when its weights
are not here, with its download off until "allow download" is ticked (never clicked: tests do not download)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from engine.faces.backend import TITLES, available

SLOW = 120_000  # ms: the models' first load and detection on two busy cores


def test_mtcnn_backend_and_facenets_note(app):
    app.goto("/faces")
    main = app.main()
    expect(main.get_by_text(re.compile(r"^Same person"))).to_be_visible(timeout=SLOW)
    box = app.page.get_by_test_id("stSelectbox").filter(has_text="Backend")
    app.act(lambda: box.click())
    app.act(lambda: app.page.get_by_role("option", name=TITLES["mtcnn"], exact=True).click())
    expect(box.get_by_role("combobox", name="Backend")).to_have_value(TITLES["mtcnn"], timeout=SLOW)
    expect(main).to_contain_text("Detector: MTCNN", timeout=SLOW)
    expect(main.get_by_text(re.compile(r"^Same person"))).to_be_visible(timeout=SLOW)
    expect(main.locator(".js-plotly-plot").filter(has_text="threshold 0.6").locator(".main-svg").first
           ).to_be_visible(timeout=SLOW)
    if available()["facenet"] is not None:  # the usual case: its 107 MB weights are not installed
        note = main.get_by_test_id("stExpander").filter(has_text="FaceNet (512-d) is not available here")
        note.get_by_text("FaceNet (512-d) is not available here").click()  # opening it runs nothing
        expect(note).to_contain_text("20180402-114759-vggface2.pt")
        download = note.get_by_role("button", name=re.compile("Download FaceNet"))
        expect(download).to_be_disabled()
        allow = note.get_by_test_id("stCheckbox").filter(has_text="allow download")
        expect(allow).to_be_visible()  # the expander has opened: a click now lands on the box
        allow.click()
        expect(download).to_be_enabled(timeout=SLOW)  # the rerun the tick started has drawn it
    app.assert_no_exception()
    app.shot("faces_backends")
