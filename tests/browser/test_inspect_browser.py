"""The "Look inside" page and the webcam glue in a real browser: Chromium's fake camera (flags in conftest.py) feeds
streamlit-webrtc, frames go through the server's frame callback and come back annotated."""

from __future__ import annotations

import re
import textwrap
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from served_app import WEBRTC, serve


def _start_camera(app):
    frame = app.page.frame_locator(WEBRTC)
    start = frame.get_by_role("button", name="START")
    start.click()
    expect(frame.get_by_role("button", name="STOP")).to_be_visible()
    return frame


def _charts_drawn(app, n: int) -> None:
    expect(app.page.locator(".js-plotly-plot .main-svg").nth(n - 1)).to_be_attached()


def test_inspect_page_loads_with_the_builders_network(app):
    app.goto("/inspect")
    main = app.main()
    expect(main.get_by_test_id("stAlertContentInfo").first).to_contain_text("No trained network yet")
    expect(main).to_contain_text("conv2d #1: 6 filters of 1×5×5")
    _charts_drawn(app, 5)  # filters, input, top-k, overview, one layer's maps
    expect(main).to_contain_text("Prediction:")
    app.assert_no_exception()
    app.shot("inspect_builder")


def test_a_drawing_is_classified(app):
    app.goto("/inspect")
    app.act(lambda: app.main().get_by_text("Draw", exact=True).click())
    canvas = app.main().locator("canvas").last
    expect(canvas).to_be_visible()
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + 50
    page = app.page
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 18):
        page.mouse.move(x + 3 * (i % 4), y + 10 * i)
    n = app.finished
    page.mouse.up()
    app.wait_rerun(n)
    expect(app.main()).to_contain_text("What the network sees: 1×32×32")
    expect(app.main()).to_contain_text("your drawing")
    app.assert_no_exception()
    # the untrained builder's network cannot read a digit: the page says so and trains a digit reader in one click
    expect(app.main()).to_contain_text("This is an untrained network")
    app.act(lambda: app.button("Train LeNet-5 on MNIST 5k in one click (3 epochs)").click())
    expect(app.main()).to_contain_text("learned handwritten digits (mnist5k)", timeout=300_000)
    expect(app.main()).to_contain_text("your drawing")  # the same drawing, now read by the digit reader
    expect(app.main()).to_contain_text("Prediction:")
    app.assert_no_exception()
    app.shot("inspect_drawing")


def test_live_webcam_prediction_streams_classified_frames(app):
    app.goto("/inspect")
    app.act(lambda: app.main().get_by_text("Webcam", exact=True).click())
    frame = _start_camera(app)
    counter = app.main().get_by_text(re.compile(r"Frames classified: \d+"))
    expect(counter).to_be_visible()
    # the server counts frames through classify_frame; wait for a steady stream and measure its rate
    deadline = time.time() + 30
    count = 0
    while time.time() < deadline:
        m = re.search(r"Frames classified: (\d+) · ([\d.]+) frames/s", app.main().inner_text())
        count = int(m.group(1)) if m else 0
        if count >= 12:
            break
        app.page.wait_for_timeout(500)
    assert count >= 12, app.main().inner_text()[-500:]
    print(f"\nlive prediction: {m.group(2)} frames/s after {count} frames")
    # the frames the browser shows are the annotated ones: a dark panel at the top left over the green fake camera
    pixels = frame.locator("video").evaluate("""v => {
        const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
        const g = c.getContext('2d'); g.drawImage(v, 0, 0);
        const at = (x, y) => Array.from(g.getImageData(x, y, 1, 1).data.slice(0, 3));
        return {w: v.videoWidth, panel: at(6, 6), middle: at(v.videoWidth >> 1, v.videoHeight >> 1)};
    }""")
    assert pixels["w"] > 0
    assert sum(pixels["panel"]) < 150, pixels  # the panel behind the text
    app.assert_no_exception()
    app.shot("inspect_webcam")
    # a frame taken from the stream becomes the input of the feature maps
    app.act(lambda: app.button("Look inside the current frame").click())
    expect(app.main()).to_contain_text("the webcam frame you took")
    app.assert_no_exception()
    frame.get_by_role("button", name="STOP").click()


# --------------------------------------------------------------------------------------------------- capture


HARNESS = """
import streamlit as st
from playground.webcam.capture import capture_dataset_ui

data = capture_dataset_ui("cap")
if data is not None:
    counts = [a + b for a, b in zip(data.train.class_counts(), data.val.class_counts())]
    st.write(f"DATASET {list(data.card.classes)} counts {counts}")
"""


@pytest.fixture(scope="module")
def capture_url(tmp_path_factory) -> Iterator[str]:
    """A tiny app that only calls capture_dataset_ui, served like the real one."""
    folder = tmp_path_factory.mktemp("capture")
    script = folder / "capture_app.py"
    script.write_text(textwrap.dedent(HARNESS))
    with serve(script, folder / "streamlit.log") as url:
        yield url


def _count(app, name: str) -> int:
    m = re.search(rf"{re.escape(name)} · (\d+) samples?", app.main().inner_text())
    return int(m.group(1)) if m else 0


def test_capture_records_two_classes_into_a_data_set(app, capture_url):
    app.base_url = capture_url
    app.goto("/")
    _start_camera(app)
    toggles = app.main().get_by_test_id("stCheckbox").filter(has_text="Record class")
    expect(toggles.first.locator("input")).to_be_enabled()  # the camera is on: the page reran with the stream playing
    for i, name in enumerate(["class 1", "class 2"]):
        app.act(lambda i=i: toggles.nth(i).click())
        deadline = time.time() + 20
        while _count(app, name) < 4 and time.time() < deadline:
            app.page.wait_for_timeout(250)
        app.act(lambda i=i: toggles.nth(i).click())
        assert _count(app, name) >= 4, app.main().inner_text()[-400:]
    expect(toggles.nth(1).locator("input")).not_to_be_checked()
    app.page.wait_for_timeout(1500)  # recording has stopped: the counts stay
    counts = [_count(app, "class 1"), _count(app, "class 2")]
    app.page.wait_for_timeout(1500)
    assert [_count(app, "class 1"), _count(app, "class 2")] == counts
    expect(app.main().get_by_test_id("stImage").first).to_be_visible()  # thumbnails
    app.act(lambda: app.button("Use these samples").click())
    # every sample recorded is in the data set
    expect(app.main()).to_contain_text(f"DATASET ['class 1', 'class 2'] counts {counts}")
    app.assert_no_exception()
    app.shot("capture")
