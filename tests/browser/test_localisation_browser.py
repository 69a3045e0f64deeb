"""The Localisation & landmarks page in a real browser: moving the label's box changes the loss shown; a localisation
run started from the page draws its live curve, stops on Stop and shows its held-out boxes."""

from __future__ import annotations

from playwright.sync_api import expect

TRAIN_TIMEOUT = 120_000  # ms


def _metric(app, label: str):
    return app.page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def test_move_the_box_then_train_see_the_live_curve_and_stop(app):
    app.goto("/localisation")
    expect(app.main()).to_contain_text("The target vector y and its loss")
    total = _metric(app, "total loss")
    before = total.inner_text()
    edges = app.main().get_by_test_id("stSlider").filter(has_text="box: left and right edge (pixels)").first
    left = edges.get_by_test_id("stSliderThumbValue").first
    value = int(left.inner_text())
    thumb = edges.get_by_role("slider").first
    thumb.focus()
    app.act(lambda: thumb.press("ArrowRight"))
    expect(left).to_have_text(str(value + 1))
    expect(total).not_to_have_text(before)  # y's box moved, ŷ's did not: the box terms changed
    # train the ready network on the scenes; the curve draws live, Stop ends it, the held-out boxes follow
    epochs = app.page.get_by_role("spinbutton", name="Epochs", exact=True)
    epochs.fill("20")
    app.act(lambda: epochs.press("Enter"))
    app.page.get_by_test_id("stButton").get_by_role("button", name="Train", exact=True).click()
    expect(app.page.get_by_test_id("stProgress")).to_contain_text("images/s", timeout=TRAIN_TIMEOUT)
    curve = app.page.locator(".js-plotly-plot").filter(has_text="training loss, per batch")
    expect(curve.locator(".main-svg").first).to_be_visible(timeout=TRAIN_TIMEOUT)
    app.page.get_by_test_id("stButton").get_by_role("button", name="Stop", exact=True).click()
    expect(app.page.get_by_test_id("stAlertContentWarning")).to_contain_text("Stopped (stopped by the user)",
                                                                             timeout=TRAIN_TIMEOUT)
    expect(_metric(app, "mean IoU")).to_be_visible(timeout=TRAIN_TIMEOUT)
    expect(app.page.locator(".js-plotly-plot").filter(has_text="predicted box")).to_be_visible()
    app.assert_no_exception()
