"""The One-shot lab in a real browser: choose the tiny digits, train briefly from the page, see the live curves, the
embeddings' projection, the mined triplets and, once it ends, the ROC curves; no exception anywhere."""

from __future__ import annotations

from playwright.sync_api import expect

TRAIN_TIMEOUT = 180_000  # ms: a short job on a loaded 2-core machine


def _plot(app, text: str):
    return app.page.locator(".js-plotly-plot").filter(has_text=text).locator(".main-svg").first


def test_train_briefly_and_see_the_curves_projection_and_roc(app):
    app.goto("/one-shot-lab")
    expect(app.main()).to_contain_text("Train an embedding")
    app.page.get_by_test_id("stSelectbox").filter(has_text="Identities").click()
    app.act(lambda: app.page.get_by_role("option", name="Tiny digits (8×8)", exact=True).click())
    expect(app.main()).to_contain_text("on 1,155 images of 8 identities")
    epochs = app.page.get_by_role("spinbutton", name="Epochs", exact=True)
    epochs.fill("2")
    app.act(lambda: epochs.press("Enter"))
    app.page.get_by_test_id("stButton").get_by_role("button", name="Train", exact=True).click()
    expect(_plot(app, "training loss, per batch")).to_be_visible(timeout=TRAIN_TIMEOUT)
    expect(app.page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Finished", timeout=TRAIN_TIMEOUT)
    expect(_plot(app, "Untrained · AUC held out")).to_be_visible(timeout=TRAIN_TIMEOUT)
    expect(_plot(app, "Trained after 2 epochs")).to_be_visible()
    expect(app.main()).to_contain_text("semi-hard mining picks")
    expect(_plot(app, "ROC, identities seen in training")).to_be_visible()
    app.page.get_by_role("tab", name="Held-out identities").click()
    expect(_plot(app, "ROC, held-out identities")).to_be_visible()
    expect(_plot(app, "FAR and FRR, held-out identities")).to_be_visible()
    app.assert_no_exception()
