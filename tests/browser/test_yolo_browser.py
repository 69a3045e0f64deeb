"""The YOLO lab in a real browser: the IoU boxes and the thresholds move what the page shows, with no exception; the
live webcam with Chromium's fake camera: START, frames come back processed by the detector, a threshold moved while
streaming reaches the frame work, STOP."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect
from served_app import WEBRTC


def _metric(app, label: str):
    named = app.page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    return app.main().get_by_test_id("stMetric").filter(has=named).get_by_test_id("stMetricValue")


def _slider(app, label: str):
    return app.main().get_by_test_id("stSlider").filter(has_text=label).get_by_role("slider").first


def _press(app, label: str, key: str, times: int = 1) -> None:
    slider = _slider(app, label)
    for _ in range(times):
        slider.focus()
        app.act(lambda: slider.press(key))


def _tab(app, name: str) -> None:
    app.act(lambda: app.page.get_by_role("tab", name=name, exact=True).click())


def test_the_iou_boxes_and_the_thresholds(app):
    app.goto("/yolo")
    expect(app.main()).to_contain_text("shapes drawn on generated scene 0")
    iou = _metric(app, "IoU")
    before = iou.inner_text()
    _press(app, "left (x)", "ArrowRight", 3)  # box A moves towards box B
    expect(iou).not_to_have_text(before)
    assert float(iou.inner_text()) > float(before)
    app.assert_no_exception()
    app.shot("yolo_iou")

    _tab(app, "Thresholds & NMS")
    expect(app.main()).to_contain_text("The step-through keeps the same")
    stages = app.main().get_by_text(re.compile(r"^108 boxes → \d+ with a score of at least 0\.60"))
    expect(stages).to_be_visible()
    _press(app, "Score threshold", "PageDown")  # 0.60 → a lower threshold
    expect(app.main().get_by_text(re.compile(r"^108 boxes → \d+ with a score of at least 0\.60"))).to_have_count(0)
    expect(app.main()).to_contain_text("The step-through keeps the same")
    expect(app.page.locator(".js-plotly-plot").filter(has_text="after NMS")).to_be_visible()
    app.assert_no_exception()
    app.shot("yolo_nms")

    _tab(app, "Grid view")
    expect(app.main()).to_contain_text("6×6 grid, 3 anchors a cell: 108 boxes")
    app.assert_no_exception()


def _meter(app) -> tuple[int, str]:
    m = re.search(r"Frames processed: (\d+) · ([\d.]+) frames/s · boxes on the last frame: \d+ · score ≥ ([\d.]+)",
                  app.main().inner_text())
    return (int(m.group(1)), m.group(3)) if m else (0, "")


def _wait_frames(app, more_than: int, timeout: float = 40) -> tuple[int, str]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        count, score = _meter(app)
        if count > more_than:
            return count, score
        app.page.wait_for_timeout(500)
    raise AssertionError(f"no more than {more_than} frames processed: {app.main().inner_text()[-400:]}")


def test_the_live_webcam_is_detected_and_follows_the_thresholds(app):
    app.goto("/yolo")
    app.act(lambda: app.main().get_by_text("Webcam", exact=True).click())
    frame = app.page.frame_locator(WEBRTC)
    frame.get_by_role("button", name="START").click()
    expect(frame.get_by_role("button", name="STOP")).to_be_visible()
    count, score = _wait_frames(app, 5)
    assert score == "0.60"
    count, _ = _wait_frames(app, count + 10)  # a steady stream: its rate
    print("\nlive YOLO:", re.search(r"Frames processed: .*", app.main().inner_text()).group(0))
    # the frames the browser shows are the processed ones: the detector's square outlined in yellow on the fake camera
    pixels = frame.locator("video").evaluate("""v => {
        const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
        const g = c.getContext('2d'); g.drawImage(v, 0, 0);
        const left = (v.videoWidth - v.videoHeight) >> 1, y = v.videoHeight >> 1;
        const at = (x) => Array.from(g.getImageData(x, y, 1, 1).data.slice(0, 3));
        return {w: v.videoWidth, h: v.videoHeight, edge: [left, left + 1, left + 2, left + 3].map(at)};
    }""")
    assert pixels["w"] > pixels["h"] > 0
    assert any(r > 160 and g > 120 and b < 120 for r, g, b in pixels["edge"]), pixels
    # a threshold moved while streaming: the frame work uses it from the next frame on
    _press(app, "Score threshold", "ArrowRight")
    deadline = time.time() + 30
    while _meter(app)[1] != "0.61" and time.time() < deadline:
        app.page.wait_for_timeout(500)
    assert _meter(app)[1] == "0.61", app.main().inner_text()[-400:]
    _wait_frames(app, _meter(app)[0])  # and frames keep coming
    app.assert_no_exception()
    app.shot("yolo_webcam")
    frame.get_by_role("button", name="STOP").click()
    expect(frame.get_by_role("button", name="START")).to_be_visible()
    app.assert_no_exception()
