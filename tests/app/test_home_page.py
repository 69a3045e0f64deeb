"""The home page and the shared sidebar, run headless through the real entry script."""

from __future__ import annotations

import torch
from apptest_helpers import open_page

from playground.navigation import PAGES


def test_home_says_what_is_covered_and_links_every_page():
    at = open_page()
    text = " ".join(m.value for m in at.markdown)
    assert "convolutional neural networks" in text
    captions = " ".join(c.value for c in at.caption)
    for page in PAGES.values()[1:]:
        assert page.blurb in captions


def test_sidebar_device_choice_lists_what_this_machine_has_and_persists():
    at = open_page()
    device = at.sidebar.selectbox(key="_w_device")
    expected = ["auto", "cuda"] if torch.cuda.is_available() else ["auto"]
    assert device.options[: len(expected)] == expected and device.options[-1] == "cpu"
    device.set_value("cpu").run()
    assert at.session_state["device"] == "cpu"
    at.sidebar.number_input(key="_w_seed").set_value(7).run()
    assert at.session_state["seed"] == 7
    # A page switch redraws the sidebar: the choices survive.
    at.switch_page("../pages/builder.py").run()
    assert at.sidebar.selectbox(key="_w_device").value == "cpu"
    assert at.sidebar.number_input(key="_w_seed").value == 7
    assert not at.exception
