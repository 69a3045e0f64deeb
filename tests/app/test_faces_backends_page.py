"""The Faces page's backend choice under AppTest, with real work: MTCNN + dlib verifies the astronaut against herself
("same", distance 0) and its slider defaults to its threshold; without FaceNet's weights the page says why and how to
get them, and its download stays off until the user ticks "allow download" (nothing is downloaded here); with a
weights file (random weights of the same network, in a temporary $CNNPG_WEIGHTS_DIR) FaceNet is offered and works."""

from __future__ import annotations

import pytest
import streamlit_webrtc
import torch
from apptest_helpers import FakeStreamer, open_page
from streamlit.testing.v1 import AppTest

from engine.faces import backend as backends
from engine.faces import facenet
from engine.nets.weights import ENV_DIR


@pytest.fixture
def page_env(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNPG_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", FakeStreamer())
    yield tmp_path
    from playground.faces.common import shared_backend

    shared_backend.clear()  # random FaceNet weights must not outlive the test
    backends._BUILT.pop(("facenet", ()), None)


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_mtcnn_backend_and_facenet_absent(page_env):
    at = open_page("faces.py")
    _ok(at)
    choice = at.selectbox(key="_w_faces_backend")
    assert choice.options == ["dlib ResNet (128-d, offline)", backends.TITLES["mtcnn"]]  # no FaceNet: no weights
    expander = [e for e in at.expander if "FaceNet" in e.label]
    assert expander, "FaceNet's absence is not explained"
    assert any(facenet.WEIGHTS.file in m.value and "CNNPG_WEIGHTS_DIR" in m.value for m in at.markdown)
    [download] = [b for b in at.button if b.key == "_w_faces_download"]
    assert download.disabled
    at.checkbox(key="_w_faces_allow_download").check().run()
    [download] = [b for b in at.button if b.key == "_w_faces_download"]
    assert not download.disabled  # not clicked: tests never download
    choice.set_value("mtcnn").run()
    _ok(at)
    assert at.slider(key="_w_faces_threshold_mtcnn_euclidean").value == 0.6
    assert any("Same person" in s.value and "distance is 0.000" in s.value for s in at.success), \
        [s.value for s in at.success]


def test_facenet_offered_and_working_with_a_weights_file(page_env):
    folder = page_env / "weights"
    folder.mkdir()
    torch.manual_seed(0)
    torch.save(facenet.InceptionResnetV1().state_dict(), folder / facenet.WEIGHTS.file)
    at = open_page("faces.py")
    _ok(at)
    assert at.selectbox(key="_w_faces_backend").options[-1] == backends.TITLES["facenet"]
    assert not [e for e in at.expander if "FaceNet" in e.label]
    at.selectbox(key="_w_faces_backend").set_value("facenet").run()
    _ok(at)
    assert at.slider(key="_w_faces_threshold_facenet_euclidean").value == pytest.approx(1.04)
    assert any("Same person" in s.value and "distance is 0.000" in s.value for s in at.success), \
        [s.value for s in at.success]
    assert any("512 numbers" in m.value for m in at.markdown)
