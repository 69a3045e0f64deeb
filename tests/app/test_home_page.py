"""The home page and the shared sidebar, run headless through the real entry script."""

from __future__ import annotations

import torch
from apptest_helpers import open_page

from playground.navigation import WEEKS, course_path


def test_home_is_the_course_as_a_path_with_a_start_for_every_step():
    at = open_page()
    text = " ".join(m.value for m in at.markdown)
    assert "convolutional neural networks" in text
    path = course_path()
    assert list(path) == sorted(path) and set(path) <= set(WEEKS) and 1 in path and 2 in path
    headers = [h.value for h in at.subheader]
    assert headers == [f"Week {w} — {WEEKS[w]}" for w in path]
    steps = [p for pages in path.values() for p in pages]
    assert steps and all(p.step for p in steps)
    for page in steps:
        assert f"**{page.title}** — {page.step}" in text
    captions = " ".join(c.value for c in at.caption)
    assert all(page.blurb in captions for page in steps)
    links = at.get("page_link")
    assert len(links) == len(steps)


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
