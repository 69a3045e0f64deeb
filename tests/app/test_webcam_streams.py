"""The cap on live camera streams per server (playground/webcam/stream.py, issue 9): with ``CNNPG_MAX_STREAMS``
streams on, another session's page says the camera is full instead of drawing it; a stream that stops, or whose
session goes, frees its place. Sessions are real AppTest sessions; only the webcam component is replaced (it needs
the real server)."""

from __future__ import annotations

import gc
import types

import pytest
import streamlit_webrtc
from streamlit.testing.v1 import AppTest

from playground.webcam import stream


class SwitchableStreamer:
    """Stands in for ``webrtc_streamer``: a component per key whose stream is on when the test says so."""

    def __init__(self) -> None:
        self.on: set[str] = set()  # keys whose camera the "browser" has started
        self.drawn: list[str] = []

    def __call__(self, *, key: str, **kwargs):
        self.drawn.append(key)
        return types.SimpleNamespace(state=types.SimpleNamespace(playing=key in self.on, signalling=False))


@pytest.fixture
def streamer(monkeypatch) -> SwitchableStreamer:
    fake = SwitchableStreamer()
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", fake)
    gc.collect()  # sessions of earlier tests are gone (unless a module's fixture still holds one)
    return fake


def _session(key: str) -> AppTest:
    def page(key: str):
        import streamlit as st

        from playground.webcam.stream import frame_stream

        st.write(f"on: {frame_stream(key)}")

    at = AppTest.from_function(page, default_timeout=60, kwargs={"key": key})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _full(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if w.value.startswith("The live camera is full")]


def test_a_server_runs_at_most_max_streams_cameras(monkeypatch, streamer):
    before = stream.STREAMS.playing()  # 0, unless sessions of other tests are still held
    cap = before + 2
    monkeypatch.setenv("CNNPG_MAX_STREAMS", str(cap))
    ada, bob = _session("ada"), _session("bob")
    streamer.on |= {"ada", "bob"}  # both start their camera
    ada.run(), bob.run()
    assert stream.STREAMS.playing() == cap
    cy = _session("cy")
    assert _full(cy) == [f"The live camera is full: {cap} streams are on on this server, the most it runs at once "
                         f"(CNNPG_MAX_STREAMS={cap}). Try again when someone stops theirs, or use a photo or an upload "
                         f"instead."]
    assert "cy" not in streamer.drawn  # the component is not drawn at all: nothing to start
    ada.run()
    assert not _full(ada) and ada.markdown[-1].value == "on: True"  # a stream that is on stays on

    streamer.on.discard("bob")  # bob stops: a place frees
    bob.run()
    cy.run()
    assert not _full(cy) and streamer.drawn[-1] == "cy"
    streamer.on.add("cy")
    cy.run()
    assert stream.STREAMS.playing() == cap

    del ada  # ada's session ends (a closed tab): her stream stops counting
    gc.collect()
    assert stream.STREAMS.playing() == cap - 1
    bob.run()
    assert not _full(bob) and streamer.drawn[-1] == "bob"


def test_a_closed_peer_connection_frees_the_place(streamer):
    """The page last saw the stream playing, but streamlit-webrtc's worker has closed its peer connection since (the
    browser went away): it no longer counts."""
    slot = stream.StreamSlot()
    pc = types.SimpleNamespace(connectionState="connected")
    worker = types.SimpleNamespace(pc=pc)
    ctx = types.SimpleNamespace(state=types.SimpleNamespace(playing=True), _get_worker=lambda: worker)
    before = stream.STREAMS.playing()
    stream.STREAMS.update(slot, ctx)
    assert stream.STREAMS.playing() == before + 1
    full = before + 1
    assert stream.STREAMS.refusal(stream.StreamSlot(), full) is not None and stream.STREAMS.refusal(slot, full) is None
    pc.connectionState = "closed"
    assert stream.STREAMS.playing() == before and stream.STREAMS.refusal(stream.StreamSlot(), full) is None


@pytest.mark.parametrize("value", ["0", "-1", "eight", "2.5"])
def test_a_bad_max_streams_is_named(monkeypatch, value):
    monkeypatch.setenv("CNNPG_MAX_STREAMS", value)
    with pytest.raises(ValueError, match=rf"CNNPG_MAX_STREAMS must be a positive integer .*got '{value}'"):
        stream.max_streams_from_env()
    monkeypatch.delenv("CNNPG_MAX_STREAMS")
    assert stream.max_streams_from_env() == 8
