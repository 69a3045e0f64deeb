"""The shared image source (``playground.widgets.image_source``) under AppTest: every source gives the picture it
should — checked against scikit-image's own photo, PIL's decoding of the uploaded file and the webcam frame sent —
and bad input is a message. Only the webcam component is replaced (it needs the real server)."""

from __future__ import annotations

import io
import types

import av
import numpy as np
import pytest
import streamlit_webrtc
from apptest_helpers import button
from PIL import Image
from skimage import data as skdata
from streamlit.testing.v1 import AppTest


def _script():
    import streamlit as st

    from playground.widgets import image_source

    source = image_source.source_ui("t", {"mine": "my own"}, default="photo")
    st.write(f"SOURCE {source}")
    if source != "mine":
        options = image_source.Options(max_bytes=4000, max_pixels=10_000)
        picture = image_source.picture_ui("t", source, options)
        if picture is not None:
            st.session_state["picture"] = picture
            st.write(f"PICTURE {picture.caption} {picture.image.shape} {picture.image.dtype} {picture.key}")


@pytest.fixture
def streamer(monkeypatch):
    calls: list[dict] = []

    def fake(**kwargs):
        calls.append(kwargs)
        return types.SimpleNamespace(state=types.SimpleNamespace(playing=True, signalling=False))

    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", fake)
    return calls


@pytest.fixture
def at() -> AppTest:
    app = AppTest.from_function(_script, default_timeout=60)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _said(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def test_a_photo_is_the_centre_square_of_the_bundled_one(at):
    assert "SOURCE photo" in _said(at)  # the page's default, before the user chooses
    assert at.segmented_control(key="_w_t_source").options == ["my own", "Photo", "Upload", "Draw", "Webcam"]
    at.selectbox(key="_w_t_photo").set_value("chelsea").run()
    picture = at.session_state["picture"]
    raw = skdata.chelsea()  # 300×451×3 uint8
    np.testing.assert_array_equal(picture.image, raw[:, 75:375])
    assert picture.caption == "the photo 'chelsea'" and picture.image.dtype == np.uint8
    at.segmented_control(key="_w_t_source").set_value("mine").run()
    assert "SOURCE mine" in _said(at) and not at.exception


def test_an_upload_is_decoded_and_kept_and_a_bad_one_is_a_message(at):
    at.segmented_control(key="_w_t_source").set_value("upload").run()
    assert "centred square" in " ".join(c.value for c in at.caption)
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    data = _png(rgb)
    at.file_uploader(key="_w_t_upload").set_value(("dots.png", data, "image/png")).run()
    assert not at.exception and not at.error
    picture = at.session_state["picture"]
    np.testing.assert_array_equal(picture.image, np.asarray(Image.open(io.BytesIO(data)))[:, 5:25])
    assert picture.caption == "your image dots.png (centre square)"
    # another source and back: the file is still there, though the uploader was not drawn in between
    at.segmented_control(key="_w_t_source").set_value("photo").run()
    at.segmented_control(key="_w_t_source").set_value("upload").run()
    assert at.session_state["picture"].key == picture.key
    # a file over the page's size limit, and one that is no picture: messages naming the file, no traceback
    at.file_uploader(key="_w_t_upload").set_value(("big.bmp", b"BM" + bytes(5000), "image/bmp")).run()
    assert [e.value for e in at.error] == ["big.bmp: the file is 5002 bytes; the limit is 4000 bytes"]
    at.file_uploader(key="_w_t_upload").set_value(("notes.png", b"not a picture", "image/png")).run()
    assert not at.exception and "notes.png: this file is not an image that can be read" in at.error[0].value


def test_a_webcam_snapshot_is_the_frame_the_camera_sent(at, streamer):
    at.segmented_control(key="_w_t_source").set_value("webcam").run()
    assert streamer[-1]["rtc_configuration"] == {"iceServers": []}
    button(at, "Take a snapshot").click().run()
    assert "No frame yet" in at.warning[0].value
    frame = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    out = streamer[-1]["video_frame_callback"](av.VideoFrame.from_ndarray(frame, format="rgb24"))
    np.testing.assert_array_equal(out.to_ndarray(format="rgb24"), frame)  # the plain stream shows it as it is
    button(at, "Take a snapshot").click().run()
    assert not at.exception and not at.warning
    picture = at.session_state["picture"]
    np.testing.assert_array_equal(picture.image, frame[:, 8:56])
    assert picture.caption == "the webcam frame you took"


def test_an_empty_canvas_asks_for_a_drawing(at):
    at.segmented_control(key="_w_t_source").set_value("drawing").run()
    assert not at.exception
    assert "Draw something" in " ".join(c.value for c in at.caption)
