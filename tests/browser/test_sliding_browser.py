"""The Sliding windows page in a real browser: train the window classifier in one click (1 epoch), slide it over a
scene, move the window size and the stride and see the loop's forward passes follow, then run P-Net on the astronaut
— with no exception anywhere."""

from __future__ import annotations

from playwright.sync_api import expect

from engine.detection.sliding import window_count

TRAIN_TIMEOUT = 240_000  # ms: one epoch of the windows set takes ~10 s, but the machine may be busy
SCENE = 160  # the page's scenes are this many pixels a side




def _metric(app, label: str):
    return app.main().get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def _slider(app, label: str):
    return app.main().get_by_test_id("stSlider").filter(has_text=label).get_by_role("slider")


def _passes(app) -> int:
    return int(_metric(app, "Loop: forward passes").inner_text().replace(",", ""))


def _press(app, label: str, key: str) -> None:
    slider = _slider(app, label)
    slider.focus()
    app.act(lambda: slider.press(key))


def test_train_slide_move_the_window_and_run_pnet(app):
    app.goto("/sliding-windows")
    epochs = app.page.get_by_role("spinbutton", name="Epochs", exact=True)
    epochs.fill("1")
    app.act(lambda: epochs.press("Enter"))
    app.button("Train the window classifier").click()
    expect(app.page.get_by_test_id("stAlertContentSuccess").first).to_contain_text("Trained the window classifier",
                                                                                   timeout=TRAIN_TIMEOUT)
    expect(_metric(app, "Loop: forward passes")).to_be_visible()
    expect(app.main()).to_contain_text("Equal: the convolutional form computed every one")
    assert _passes(app) == window_count(SCENE, 32, 4) ** 2  # 32-px windows, 4 px apart: the exact setting
    app.shot("sliding_exact")

    _press(app, "Stride (px)", "ArrowRight")  # 5 px
    assert _passes(app) == window_count(SCENE, 32, 5) ** 2
    _press(app, "Window size (px)", "ArrowRight")  # 40 px
    assert _passes(app) == window_count(SCENE, 40, 5) ** 2
    expect(app.main()).not_to_contain_text("Equal: the convolutional form computed every one")
    app.assert_no_exception()
    app.shot("sliding_other")

    app.act(lambda: app.page.get_by_role("tab", name="P-Net: faces", exact=True).click())
    faces = _metric(app, "Face boxes")
    expect(faces).to_be_visible()
    assert int(faces.inner_text()) >= 1  # the astronaut's face
    panel = app.page.locator('[data-testid="stTabPanel"]:visible')
    expect(panel.locator(".js-plotly-plot")).to_have_count(2)  # the candidates on the photo, the pyramid's maps
    app.assert_no_exception()
    app.shot("sliding_pnet")

    app.act(lambda: app.page.get_by_role("tab", name="Region proposals", exact=True).click())
    expect(app.main()).to_contain_text("The classifier on each proposal")
    app.assert_no_exception()
    app.shot("sliding_proposals")
