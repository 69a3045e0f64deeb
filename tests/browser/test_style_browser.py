"""The style transfer page in a real browser: a few optimisation steps at the default size draw the generated image
and the cost curves as they run and end in the gallery; in fast mode Chromium's fake camera (flags in conftest.py)
streams frames that come back stylised, until STOP."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect
from served_app import WEBRTC


def test_a_few_steps_draw_the_image_and_the_curves(app):
    app.goto("/style")
    main = app.main()
    expect(main).to_contain_text("α/β = 0.25")
    steps = app.page.get_by_role("spinbutton", name="Steps", exact=True)
    steps.fill("6")
    app.act(lambda: steps.press("Enter"))
    app.act(lambda: app.button("Start").click())
    expect(main.get_by_text(re.compile(r"^Finished 6 steps"))).to_be_visible(timeout=120_000)
    expect(main.get_by_test_id("stImageCaption").filter(has_text="G after step 6").first).to_be_visible()
    expect(main.locator(".js-plotly-plot").filter(has_text="Costs per step")).to_have_count(1)
    expect(main.locator(".js-plotly-plot").filter(has_text="Gram matrices at stem")).to_have_count(1)
    expect(main).to_contain_text("#1: the photo 'chelsea' in the style of the artwork 'Swirls' (seed 0)")
    app.assert_no_exception()
    app.shot("style_optimise")


def test_fast_mode_stylises_the_webcam_live(app):
    app.goto("/style")
    app.page.get_by_role("tab", name="Fast mode and webcam").click()
    main = app.main()
    expect(main.get_by_test_id("stImageCaption").filter(has_text=re.compile(r"fast mode: 451×300"))).to_be_visible()
    frame = app.page.frame_locator(WEBRTC)
    frame.get_by_role("button", name="START").click()
    expect(frame.get_by_role("button", name="STOP")).to_be_visible()
    deadline, count, m = time.time() + 60, 0, None
    while time.time() < deadline:
        m = re.search(r"Frames stylised: (\d+) · ([\d.]+) frames/s", main.inner_text())
        count = int(m.group(1)) if m else 0
        if count >= 4:
            break
        app.page.wait_for_timeout(500)
    assert count >= 4, main.inner_text()[-400:]
    print(f"\nfast mode webcam: {m.group(2)} frames/s after {count} frames")
    size = frame.locator("video").evaluate("v => [v.videoWidth, v.videoHeight]")
    assert size[0] > 0 and size[1] > 0
    app.assert_no_exception()
    app.shot("style_webcam")
    frame.get_by_role("button", name="STOP").click()
    expect(frame.get_by_role("button", name="START")).to_be_visible()
