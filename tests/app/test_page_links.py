"""Every page's link restores its state in a new session (a reload, a shared link): the newer pages' links here, the
lab's, Training's and Look inside's in their own tests and in the real browser (tests/browser). A value that does not
parse or is out of range is left out."""

from __future__ import annotations

import pytest
import streamlit_webrtc
from apptest_helpers import FakeStreamer, open_page


def test_the_sliding_windows_link_restores_scene_window_stride_and_thresholds(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNPG_RUNS_DIR", str(tmp_path))
    at = open_page("sliding.py", query={"scene": "7", "stride": "8", "threshold": "0.5", "iou": "abc"})
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="_w_sw_scene").value == 7
    assert at.session_state["_w_sw_stride"] == 8 and at.session_state["_w_sw_threshold"] == 0.5
    assert "_w_sw_iou" not in at.session_state or at.session_state["_w_sw_iou"] == 0.1  # 'abc': the default
    assert at.query_params["scene"] == "7"  # written back: the link stays what the page shows


@pytest.fixture
def no_camera(monkeypatch):
    """The page's webcam component needs a served app: under AppTest a stand-in takes its place."""
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", FakeStreamer())


def test_the_style_link_restores_its_weights_and_steps(tmp_path, monkeypatch, no_camera):
    monkeypatch.setenv("CNNPG_RUNS_DIR", str(tmp_path))
    at = open_page("style.py", query={"alpha": "100", "beta": "0.1", "steps": "5", "size": "96", "init": "noise",
                                      "optimizer": "sideways"})
    assert not at.exception, [e.value for e in at.exception]
    assert at.select_slider(key="_w_st_alpha").value == 100 and at.select_slider(key="_w_st_beta").value == 0.1
    assert at.number_input(key="_w_st_steps").value == 5 and at.select_slider(key="_w_st_size").value == 96
    assert at.radio(key="_w_st_init").value == "noise"
    assert at.session_state["_w_st_optimizer"] == "adam"  # 'sideways' is no optimiser: the default
    assert at.query_params["alpha"] == "100" and at.query_params["optimizer"] == "adam"


def test_the_localisation_link_restores_the_scene_and_the_training_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNPG_RUNS_DIR", str(tmp_path))
    at = open_page("localisation.py", query={"scene": "12", "face": "3", "learn": "landmarks", "epochs": "2",
                                             "lr": "0.001", "images": "999"})
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="_w_loc_box_index").value == 12 and at.number_input(key="_w_loc_pts_index").value == 3
    assert at.segmented_control(key="_w_loc_tr_what").value == "landmarks"
    assert at.number_input(key="_w_loc_tr_epochs").value == 2 and at.select_slider(key="_w_loc_tr_lr").value == 1e-3
    assert at.select_slider(key="_w_loc_tr_images").value == 2000  # 999 is not a choice: the default
