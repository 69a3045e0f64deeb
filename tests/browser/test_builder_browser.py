"""The builder in a real browser: choose a preset, change a kernel size, see the shapes follow; share links."""

from __future__ import annotations

from playwright.sync_api import expect

from engine.nets.spec import Conv2d, Flatten, Linear, NetworkSpec, ReLU


def _metric(app, label: str):
    return app.page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def _choose(app, label: str, option: str) -> None:
    box = app.page.get_by_test_id("stSelectbox").filter(has_text=label)
    box.click()
    app.page.get_by_role("option", name=option, exact=True).click()



def test_preset_then_kernel_size_edit_updates_the_shape(app):
    app.goto("/builder")
    expect(_metric(app, "parameters")).to_have_text("61,706")
    _choose(app, "Start from a preset", "ResNet-18")
    app.act(lambda: None)  # choosing a preset reruns once
    app.act(lambda: app.button("Load preset").click())
    expect(_metric(app, "parameters")).to_have_text("11,689,512")
    details = app.page.get_by_test_id("stAlertContentInfo").first
    expect(details).to_contain_text("conv2d #1: 3×224×224 → 64×112×112")
    kernel = app.page.get_by_test_id("stNumberInput").filter(has_text="kernel_size").locator("input")
    kernel.fill("3")
    app.act(lambda: kernel.press("Enter"))
    # ⌊(224 + 2·3 − 3)/2⌋ + 1 = 114
    expect(details).to_contain_text("conv2d #1: 3×224×224 → 64×114×114")
    expect(details).to_contain_text("⌊(224 + 2·3 − 3)/2⌋ + 1 = 114")
    expect(_metric(app, "parameters")).to_have_text(f"{11_689_512 - 64 * 3 * (49 - 9):,}")
    app.page.wait_for_selector(".js-plotly-plot .main-svg")
    app.assert_no_exception()


def test_a_kernel_too_large_is_a_message_not_an_exception(app):
    app.goto("/builder")
    kernel = app.page.get_by_test_id("stNumberInput").filter(has_text="kernel_size").locator("input")
    kernel.fill("40")
    app.act(lambda: kernel.press("Enter"))
    expect(app.page.get_by_test_id("stAlertContentError").first).to_contain_text(
        "kernel 40 is larger than its 32×32 input plus padding 0")
    app.assert_no_exception()


def test_a_shared_link_opens_the_same_network_and_the_address_follows_edits(app):
    spec = NetworkSpec((3, 16, 16), (Conv2d(4, 3), ReLU(), Flatten(), Linear(2)))
    app.goto(f"/builder?spec={spec.to_token()}")
    expect(_metric(app, "parameters")).to_have_text(f"{4 * 27 + 4 + 4 * 14 * 14 * 2 + 2:,}")
    expect(_metric(app, "output")).to_have_text("2")
    app.assert_no_exception()
    # the address bar carries the network as edited
    out = app.page.get_by_test_id("stNumberInput").filter(has_text="out_channels").locator("input")
    out.fill("8")
    app.act(lambda: out.press("Enter"))
    edited = NetworkSpec((3, 16, 16), (Conv2d(8, 3), ReLU(), Flatten(), Linear(2)))
    expect(app.page).to_have_url(f"{app.base_url}/builder?spec={edited.to_token()}")


_LABEL_BOXES = """() => {
  const plot = [...document.querySelectorAll('.js-plotly-plot')].find(p => p.querySelector('.textpoint'));
  return [...plot.querySelectorAll('.textpoint text')].map(t => {
    const r = t.getBoundingClientRect();
    return [t.textContent, r.left, r.top, r.right, r.bottom];
  });
}"""


def _overlaps(boxes: list) -> list[tuple[str, str]]:
    out = []
    for i, (a, l1, t1, r1, b1) in enumerate(boxes):
        for b, l2, t2, r2, b2 in boxes[i + 1:]:
            if l1 < r2 and l2 < r1 and t1 < b2 and t2 < b1:
                out.append((a, b))
    return out


def test_the_drawing_s_labels_never_overlap_for_the_deep_networks(app):
    app.page.set_viewport_size({"width": 1440, "height": 1000})
    app.goto("/builder")
    for preset in ("ResNet-50", "GoogLeNet (Inception v1)", "MobileNetV2"):
        box = app.page.get_by_test_id("stSelectbox").filter(has_text="Start from a preset")
        box.click()
        app.page.keyboard.type(preset.split()[0])  # the menu filters as one types
        app.act(lambda: app.page.keyboard.press("Enter"))
        app.act(lambda: app.button("Load preset").click())
        for show_all in (False, True):
            if show_all:
                app.act(lambda: app.page.get_by_text("show every layer").click())
            app.page.wait_for_selector(".js-plotly-plot .textpoint text")
            app.page.wait_for_timeout(500)  # plotly lays the text out after the script finished
            boxes = app.page.evaluate(_LABEL_BOXES)
            assert len(boxes) > 15 and all(r - left > 5 for _, left, _, r, _ in boxes)
            assert _overlaps(boxes) == [], (preset, show_all)
        app.act(lambda: app.page.get_by_text("show every layer").click())
    app.assert_no_exception()
