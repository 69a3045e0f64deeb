"""The Faces page under AppTest, with real dlib work: Verify (the astronaut against herself is "same"; a picture
without a face says so; a webcam snapshot of another person is "different"; the threshold decides), Recognise (enrol
from one picture, identify a probe, "unknown" for a stranger, another browser sees nothing, delete), and the live
webcam's frame callback boxing and naming a face."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import streamlit_webrtc
from apptest_helpers import FakeStreamer, open_page
from skimage import data
from streamlit.testing.v1 import AppTest

PHOTOS = Path(__file__).resolve().parents[2] / ".cache" / "face-photos"  # scripts/face-photos.sh (make test)


@pytest.fixture
def streamer(monkeypatch, tmp_path) -> FakeStreamer:
    monkeypatch.setenv("CNNPG_RUNS_DIR", str(tmp_path))  # the galleries' file goes beside the runs
    fake = FakeStreamer()
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", fake)
    return fake


def _biden() -> np.ndarray:
    if not (PHOTOS / "biden.jpg").is_file():
        pytest.skip(f"the face photos could not be fetched ({PHOTOS} is missing; make face-photos fetches them)")
    from engine.faces.pipeline import read_image

    return read_image(PHOTOS / "biden.jpg")[::3, ::3].copy()  # 735×324: quicker, the face still ~110 pixels


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _feed(streamer: FakeStreamer, key: str, frame: np.ndarray) -> np.ndarray:
    calls = [c for c in streamer.calls if c["key"] == key]
    assert calls, f"no webcam {key!r}; have {[c['key'] for c in streamer.calls]}"
    out = calls[-1]["video_frame_callback"](av.VideoFrame.from_ndarray(frame, format="rgb24"))
    return out.to_ndarray(format="rgb24")


def test_verify_same_no_face_and_a_webcam_snapshot_of_someone_else(streamer):
    at = open_page("faces.py")
    _ok(at)
    assert any("Same person" in s.value and "distance is 0.000" in s.value for s in at.success), \
        [s.value for s in at.success]
    assert at.get("plotly_chart"), "no distance scale"
    assert any("Nothing is written to disk unless you enrol" in c.value for c in at.caption)
    at.selectbox(key="_w_faces_b_photo").set_value("coffee").run()
    _ok(at)
    assert any("No face was found in picture B" in e.value for e in at.error), [e.value for e in at.error]
    at.segmented_control(key="_w_faces_b_source").set_value("webcam").run()
    _feed(streamer, "faces_b_webcam", _biden())
    [snap] = [b for b in at.button if b.key == "_w_faces_b_snap"]
    snap.click().run()
    _ok(at)
    assert any("Different people" in w.value for w in at.warning), [w.value for w in at.warning]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    distance = spec["data"][0]["x"][0]
    assert distance > 0.6
    at.slider(key="_w_faces_threshold_euclidean").set_value(1.2).run()  # a lax threshold: the same "person"
    assert any("Same person" in s.value for s in at.success)


def test_enrol_identify_unknown_owners_and_delete(streamer):
    owner, other = "faces-owner-aaaaaaaaaaaa", "faces-owner-bbbbbbbbbbbb"
    at = open_page("faces.py", owner=owner)
    _ok(at)
    at.text_input(key="_w_faces_name").set_value("Eileen").run()
    [enrol] = [b for b in at.button if b.key == "_w_faces_enrol"]
    enrol.click().run()
    _ok(at)
    assert any("Enrolled Eileen: 1 picture" in s.value for s in at.success), [s.value for s in at.success]
    assert any("**Eileen** · 1 picture" in m.value for m in at.markdown)
    table = _matches(at)
    assert list(table.value["answer"]) == ["Eileen"] and table.value["distance"][0] < 0.01  # the same photo
    # the live webcam: a frame with her face comes back boxed and named
    frame = data.astronaut()
    out = _feed(streamer, "faces_live_camera", frame)
    assert out.shape == frame.shape and not np.array_equal(out, frame)
    meter = at.session_state["webcam"]["faces_live_camera"]
    count, _, seen, error = meter.read()
    assert count == 1 and error is None and seen[0][0] == "Eileen"
    # a stranger (a webcam snapshot as the probe) is unknown
    at.segmented_control(key="_w_faces_probe_source").set_value("webcam").run()
    _feed(streamer, "faces_probe_webcam", _biden())
    [snap] = [b for b in at.button if b.key == "_w_faces_probe_snap"]
    snap.click().run()
    _ok(at)
    table = _matches(at)
    assert list(table.value["answer"]) == ["unknown"] and list(table.value["nearest"]) == ["Eileen"]
    # another browser sees an empty gallery
    theirs = open_page("faces.py", owner=other)
    assert any("Nobody enrolled yet" in c.value for c in theirs.caption)
    # delete
    [delete] = [b for b in at.button if b.key == "_w_faces_delete_Eileen"]
    delete.click().run()
    _ok(at)
    assert any("Nobody enrolled yet" in c.value for c in at.caption)


def test_a_bad_name_is_refused_with_the_reason(streamer):
    at = open_page("faces.py", owner="faces-owner-cccccccccccc")
    at.text_input(key="_w_faces_name").set_value("<b>x</b>").run()
    [enrol] = [b for b in at.button if b.key == "_w_faces_enrol"]
    enrol.click().run()
    _ok(at)
    assert any("Not enrolled: a name holds letters, digits" in e.value for e in at.error), [e.value for e in at.error]


def _matches(at: AppTest):
    """The probe's table of answers (the page's only dataframe)."""
    assert len(at.dataframe) == 1, f"{len(at.dataframe)} tables"
    return at.dataframe[0]
