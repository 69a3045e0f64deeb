"""The training page in a real browser: train LeNet-5 (its 32×32 input adapted from the 8×8 digits) for one epoch and
see the live curves and the evaluation; a run goes on across a page switch and stops on Stop."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from engine.nets.presets import get_preset
from engine.training.export import read_bundle

TRAIN_TIMEOUT = 120_000  # ms: one digits epoch takes a second or two, but the machine may be busy


def _choose(app, label: str, option: str) -> None:
    box = app.page.get_by_test_id("stSelectbox").filter(has_text=label)
    box.click()
    app.page.get_by_role("option", name=option, exact=True).click()



def _metric(app, label: str):
    return app.page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def _set_epochs(app, n: int) -> None:
    epochs = app.page.get_by_role("spinbutton", name="Epochs", exact=True)
    epochs.fill(str(n))
    app.act(lambda: epochs.press("Enter"))


def _digits(app) -> None:
    app.goto("/training")
    app.act(lambda: _choose(app, "Data set", "Handwritten digits 8×8"))
    expect(app.main()).to_contain_text("8×8 gray → resized to 32×32")


def test_a_fresh_page_trains_at_the_first_click(app):
    app.goto("/training")
    expect(app.main()).to_contain_text("Expected time: about", timeout=60_000)  # measured in the background
    expect(app.page.get_by_test_id("stAlertContentWarning")).to_have_count(0)
    app.button("Train").click()  # nothing chosen: the page's defaults agree with the builder's LeNet-5
    expect(app.page.get_by_test_id("stAlertContentSuccess")).to_contain_text(
        "Finished LeNet-5 on MNIST, 5,000 digits", timeout=3 * TRAIN_TIMEOUT)  # 5 epochs of 4,000 images
    expect(_metric(app, "validation accuracy")).to_be_visible()
    app.assert_no_exception()


def test_train_one_epoch_on_digits_shows_curves_and_evaluation(app):
    _digits(app)
    _set_epochs(app, 1)
    app.button("Train").click()
    accuracy = _metric(app, "validation accuracy")
    expect(accuracy).to_be_visible(timeout=TRAIN_TIMEOUT)
    assert float(accuracy.inner_text().rstrip("%")) > 50
    expect(app.page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Finished LeNet-5 on Handwritten digits")
    curves = app.page.locator(".js-plotly-plot").filter(has_text="validation accuracy")
    expect(curves.locator(".main-svg").first).to_be_visible()
    expect(app.page.locator(".js-plotly-plot").filter(has_text="confusion matrix")).to_be_visible()
    expect(app.page.get_by_test_id("stDownloadButton")).to_have_count(3)
    # the bundle is made when its button is pressed, and reads back into the trained network
    with app.page.expect_download() as download:
        app.page.get_by_test_id("stDownloadButton").get_by_role("button", name="Weights + spec (.zip)").click()
    model, meta = read_bundle(Path(download.value.path()).read_bytes())
    assert model.spec == get_preset("lenet5") and meta["classes"] == [str(d) for d in range(10)]
    app.assert_no_exception()
    # the link holds the data set, the settings and the run shown: a reload (a new session) restores them
    link = app.page.url
    assert "data=digits" in link and "epochs=1" in link and "run=" in link
    shown = accuracy.inner_text()
    app.goto(link.removeprefix(app.base_url))
    expect(app.main()).to_contain_text("8×8 gray → resized to 32×32")  # digits, not the default MNIST 5k
    expect(_metric(app, "validation accuracy")).to_have_text(shown)  # the same run's evaluation
    expect(app.page.get_by_role("spinbutton", name="Epochs", exact=True)).to_have_value("1")
    app.assert_no_exception()


def test_a_run_goes_on_across_a_page_switch_and_stops(app):
    _digits(app)
    _set_epochs(app, 300)
    app.button("Train").click()
    expect(app.page.get_by_test_id("stProgress")).to_contain_text("images/s", timeout=TRAIN_TIMEOUT)
    nav = app.page.get_by_test_id("stSidebarNav")
    # links by role: the navigation's group headers ("Training") are text too
    app.act(lambda: nav.get_by_role("link", name="CNN builder", exact=True).click())
    expect(app.main()).to_contain_text("CNN builder")
    app.act(lambda: nav.get_by_role("link", name="Training", exact=True).click())
    expect(app.page.get_by_test_id("stProgress")).to_contain_text("epoch")  # still training, still drawn live
    app.button("Stop").click()
    expect(app.page.get_by_test_id("stAlertContentWarning")).to_contain_text("Stopped (stopped by the user)",
                                                                             timeout=TRAIN_TIMEOUT)
    expect(app.page.get_by_test_id("stProgress")).to_have_count(0)
    app.assert_no_exception()
