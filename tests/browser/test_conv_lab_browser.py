"""The convolution lab in a real browser: the step button moves the window, the stride and padding controls change the
output size as the formula says, and every tab draws its charts — with no exception anywhere."""

from __future__ import annotations

from playwright.sync_api import expect

from engine.conv.arithmetic import output_size

# each tab and how many charts it draws: input, output, one step, coverage; channels, one step, the output volume, the
# bank (in an expander); input, output, the window; the two filters, the three outputs, one step
TABS = {"Convolution": 4, "Volumes & one CNN layer": 4, "Pooling": 3, "Convolution or cross-correlation?": 3}
CHART = ".js-plotly-plot .main-svg"


def _metric(app, label: str):
    return app.main().get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def _slider(app, label: str):
    return app.main().get_by_test_id("stSlider").filter(has_text=label).get_by_role("slider")


def _size(n: int, f: int, p, s: int) -> str:
    m = output_size(n, f, p, s)
    return f"{m}×{m}"


def test_step_stride_and_padding_controls_change_what_is_shown(app):
    app.goto("/conv-lab")
    app.page.wait_for_selector(CHART)
    assert _metric(app, "output size").inner_text() == _size(6, 3, 0, 1) == "4×4"
    step = app.main().get_by_test_id("stButton").filter(has_text="▶").get_by_role("button")
    app.act(lambda: step.click(), fragment=True)  # the window moves one step right (a fragment rerun)
    assert _metric(app, "output [0, 1]").inner_text() == "30"

    stride = _slider(app, "stride s")
    stride.focus()
    app.act(lambda: stride.press("ArrowRight"))
    assert _metric(app, "output size").inner_text() == _size(6, 3, 0, 2) == "2×2"
    assert "⌊(6 + 2·0 − 3)/2⌋ + 1 = 2" in app.main().inner_text()

    padding = app.main().get_by_test_id("stButtonGroup").filter(has_text="custom")
    app.act(lambda: padding.get_by_role("radio", name="custom").click())
    p = app.main().get_by_test_id("stNumberInput").filter(has_text="p").locator("input")
    p.fill("2")
    app.act(lambda: p.press("Enter"))
    assert _metric(app, "output size").inner_text() == _size(6, 3, 2, 2) == "4×4"
    assert "⌊(6 + 2·2 − 3)/2⌋ + 1 = 4" in app.main().inner_text()

    app.act(lambda: padding.get_by_role("radio", name="same").click())  # 'same' at stride 2: ⌈n/s⌉, explained
    assert _metric(app, "output size").inner_text() == "3×3"
    assert "⌈n/s⌉ = ⌈6/2⌉ = 3" in app.main().inner_text()
    stride.focus()
    app.act(lambda: stride.press("ArrowLeft"))
    assert _metric(app, "output size").inner_text() == _size(6, 3, "same", 1) == "6×6"
    app.assert_no_exception()


def test_every_tab_draws_its_charts(app):
    app.goto("/conv-lab")
    for k, (label, charts) in enumerate(TABS.items()):
        if k:  # the first tab is open already
            tab = app.page.get_by_role("tab", name=label, exact=True)
            app.act(lambda tab=tab: tab.click())
        panel = app.page.locator('[data-testid="stTabPanel"]:visible')
        expect(panel.locator(".js-plotly-plot")).to_have_count(charts)  # every chart of the tab, and only its own
        expect(panel.locator(CHART).first).to_be_visible()
        app.assert_no_exception()


def test_a_reload_or_a_shared_link_restores_the_lab(app):
    app.goto("/conv-lab")
    stride = _slider(app, "stride s")
    stride.focus()
    app.act(lambda: stride.press("ArrowRight"))  # s = 2
    padding = app.main().get_by_test_id("stButtonGroup").filter(has_text="custom")
    app.act(lambda: padding.get_by_role("radio", name="custom").click())
    p = app.main().get_by_test_id("stNumberInput").filter(has_text="p").locator("input")
    p.fill("2")
    app.act(lambda: p.press("Enter"))
    pooling = app.page.get_by_role("tab", name="Pooling", exact=True)
    app.act(lambda: pooling.click())
    link = app.page.url
    assert "tab=Pooling" in link and "s=2" in link and "padding=custom" in link and "p=2" in link

    app.goto(link.removeprefix(app.base_url))  # a reload: a new session, restored from the link alone
    expect(app.page.get_by_role("tab", selected=True)).to_have_text("Pooling")
    convolution = app.page.get_by_role("tab", name="Convolution", exact=True)
    app.act(lambda: convolution.click())
    assert _metric(app, "output size").inner_text() == _size(6, 3, 2, 2) == "4×4"

    app.goto("/conv-lab?s=99&padding=sideways&f=x")  # a hand-edited link: what does not fit is left at its default
    assert _metric(app, "output size").inner_text() == _size(6, 3, 0, 1)
    app.assert_no_exception()

    app.goto("/conv-lab?input=photo&photo=astronaut&n_photo=32&s=2")  # a shared link to a photo at 32×32
    expect(app.main()).to_contain_text("the photo 'astronaut' at 32×32")
    assert _metric(app, "output size").inner_text() == _size(32, 3, 0, 2) == "15×15"
    app.assert_no_exception()
