"""AppTest of the style transfer page with real engine work at 64 px: a few steps of the optimisation as a job (the
live image, the curves, the gallery, the Gram matrices), bad settings named, the blend explorer at two ratios, and
fast mode (the preview, and the webcam's frame callback driven by hand with a real ``av.VideoFrame``). Only the
webcam component is replaced (it needs the real server)."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
import streamlit_webrtc
from apptest_helpers import FakeStreamer, button, open_page
from streamlit.testing.v1 import AppTest

WAIT = 180


@pytest.fixture
def streamer(monkeypatch) -> FakeStreamer:
    fake = FakeStreamer()
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", fake)
    return fake


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _titles(at: AppTest) -> list[str]:
    out = []
    for c in at.get("plotly_chart"):
        title = json.loads(c.proto.spec).get("layout", {}).get("title", {})
        out.append(title.get("text", "") if isinstance(title, dict) else str(title))
    return out


def _small(at: AppTest, steps: int) -> None:
    at.select_slider(key="_w_st_size").set_value(64)
    at.number_input(key="_w_st_steps").set_value(steps)
    at.run()
    _ok(at)


def test_a_few_steps_update_the_image_and_the_curves_and_join_the_gallery(streamer):
    at = open_page("style.py")
    _ok(at)
    assert at.radio(key="_w_st_backbone").value == "efficientnet_lite0"
    assert any("VGG-19** is off" in c.value for c in at.caption)  # no weights here, no download allowed
    _small(at, 4)
    button(at, "Start").click()
    at.run()
    job = at.session_state["style_job"]
    assert job.wait(WAIT) and job.status == "finished", job.error
    at.run()
    _ok(at)
    result = job.result
    assert [e.step for e in result.history] == [1, 2, 3, 4]
    assert result.history[-1].total < result.history[0].total
    assert result.image.shape == (43, 64, 3)  # Chelsea is 451×300
    assert any(s.value.startswith("Finished 4 steps") for s in at.success)
    assert "Costs per step" in _titles(at)
    assert any(t.startswith("Gram matrices at stem") for t in _titles(at))
    gallery = at.session_state["style_gallery"]
    assert len(gallery) == 1 and np.array_equal(gallery[0].image, result.image)
    assert gallery[0].style_image.shape == (43, 64, 3)  # the style image as the optimisation used it
    assert "α 10, β 40" in gallery[0].settings and "4 steps of Adam" in gallery[0].settings
    # another layer's Gram matrices
    at.selectbox(key="_w_st_gram_layer_efficientnet_lite0").set_value("block 4")
    at.run()
    _ok(at)
    assert any(t.startswith("Gram matrices at block 4") for t in _titles(at))


def test_stop_ends_the_job_and_keeps_the_picture(streamer):
    at = open_page("style.py")
    _small(at, 2000)
    button(at, "Start").click()
    at.run()
    job = at.session_state["style_job"]
    log = at.session_state["style_log"]
    for _ in range(600):  # until the first step is done
        if log.snapshot().latest is not None or job.done:
            break
        job.wait(0.1)
    button(at, "Stop").click()
    at.run()
    assert job.wait(WAIT) and job.status == "stopped"
    at.run()
    _ok(at)
    assert any(w.value.startswith("Stopped after") for w in at.warning)
    assert len(at.session_state["style_gallery"]) == 1


def test_bad_settings_are_named_and_block_start(streamer):
    at = open_page("style.py")
    at.multiselect(key="_w_st_style_efficientnet_lite0").set_value([])
    at.run()
    assert not at.exception
    assert any("at least one style layer" in e.value for e in at.error)
    assert button(at, "Start").disabled
    at.multiselect(key="_w_st_style_efficientnet_lite0").set_value(["stem"])
    at.select_slider(key="_w_st_alpha").set_value(0)
    at.select_slider(key="_w_st_beta").set_value(0)
    at.run()
    assert any("alpha and beta are both 0" in e.value for e in at.error)


def test_the_blend_explorer_runs_each_ratio(streamer):
    at = open_page("style.py")
    _small(at, 2)
    at.multiselect(key="_w_st_blend_ratios").set_value([10.0, 0.1])
    at.run()
    button(at, "Run the blend").click()
    at.run()
    job = at.session_state["style_blend_job"]
    assert job.wait(WAIT) and job.status == "finished", job.error
    at.run()
    _ok(at)
    results = job.result.results
    assert [r.config.alpha / r.config.beta for r in results] == pytest.approx([10.0, 0.1])
    assert all(r.status == "finished" and r.image.shape == (43, 64, 3) for r in results)
    md = [m.value for m in at.markdown]
    assert any("α/β = 10" in m for m in md) and any("α/β = 0.1" in m for m in md)
    assert not np.array_equal(results[0].image, results[1].image)


def test_fast_mode_previews_and_stylises_webcam_frames(streamer):
    at = open_page("style.py")
    _ok(at)
    captions = [c for image in at.get("image") for c in image.captions]
    assert any(c.startswith("fast mode: 451×300 in") for c in captions), captions  # the content's own size
    callback = streamer.calls[-1]["video_frame_callback"]
    frame = av.VideoFrame.from_ndarray(np.random.default_rng(0).integers(0, 256, (120, 160, 3), np.uint8),
                                       format="rgb24")
    out = callback(frame).to_ndarray(format="rgb24")
    assert out.shape == (120, 160, 3) and not np.array_equal(out, frame.to_ndarray(format="rgb24"))
    meter = at.session_state["webcam"]["style_fast_camera"]
    assert meter.read()[0] == 1 and meter.read()[3] is None


def test_vgg19_is_offered_only_when_its_download_is_allowed(streamer, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty torch cache: no VGG-19 file anywhere
    at = open_page("style.py")
    assert at.radio(key="_w_st_backbone").options == ["EfficientNet-Lite0"]
    at.checkbox(key="_w_st_download").check()
    at.run()
    _ok(at)
    assert at.radio(key="_w_st_backbone").options == ["EfficientNet-Lite0", "VGG-19"]
    at.radio(key="_w_st_backbone").set_value("vgg19")
    at.run()
    _ok(at)
    assert at.selectbox(key="_w_st_content_vgg19").value == "conv4_2"
    assert at.multiselect(key="_w_st_style_vgg19").value == ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
    assert not list(tmp_path.rglob("*.pth"))  # offering it downloads nothing
