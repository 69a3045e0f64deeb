"""The webcam as a stream of frames (streamlit-webrtc): the one ``webrtc_streamer`` call of the app.

A frame callback runs on a worker thread, not the script thread: it may not touch ``st.session_state``. So each
component key owns objects kept in session state (``state.WEBCAM``) that the callback writes into under their own
lock and the script reads under it: here the key's last frame (``LatestFrame``), for a snapshot; in ``capture`` the
samples recorded so far; in ``live`` the frames classified. The frame work itself is a pure function ``(H, W, 3)
uint8 -> (H, W, 3) uint8`` (from ``engine.media.camera``), wrapped here once (``frame_callback``), after
streamlit-webrtc's examples.

Offline and on loopback no STUN/TURN server is needed; ``RTC_CONFIGURATION`` says so explicitly, because the
component's default asks public STUN servers (see docs/testing.md). A hosted deployment needs a TURN server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import streamlit as st

from playground import state

RTC_CONFIGURATION: dict[str, Any] = {"iceServers": []}
MEDIA_CONSTRAINTS: dict[str, Any] = {"video": True, "audio": False}

FrameFn = Callable[[np.ndarray], np.ndarray]  # (H, W, 3) uint8 RGB -> (H, W, 3) uint8 RGB
T = TypeVar("T")


class LatestFrame:
    """The last frame a stream received, as the camera gave it (written by the worker thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.frame: np.ndarray | None = None

    def put(self, frame: np.ndarray) -> None:
        with self.lock:
            self.frame = frame

    def get(self) -> np.ndarray | None:
        with self.lock:
            return self.frame


def held(key: str, kind: type[T]) -> T:
    """The object of ``kind`` that ``key`` keeps in session state, made on first use (a fresh one when the key held
    another kind)."""
    objects = st.session_state.setdefault(state.WEBCAM, {})
    if not isinstance(objects.get(key), kind):
        objects[key] = kind()
    return objects[key]


def _latest(key: str) -> LatestFrame:
    return held(f"{key}.latest", LatestFrame)


def latest_frame(key: str) -> np.ndarray | None:
    """The last frame the stream ``key`` received (``(H, W, 3)`` uint8 RGB, unprocessed), or None."""
    return _latest(key).get()


def frame_callback(fn: FrameFn) -> Callable[[Any], Any]:
    """``fn`` on ndarrays as a streamlit-webrtc video callback (``av.VideoFrame`` in and out)."""
    import av

    def callback(frame: av.VideoFrame) -> av.VideoFrame:
        out = av.VideoFrame.from_ndarray(fn(frame.to_ndarray(format="rgb24")), format="rgb24")
        if frame.time_base is not None:  # keep the timing of the camera's frame
            out.pts, out.time_base = frame.pts, frame.time_base
        return out

    return callback


def frame_stream(key: str, fn: FrameFn | None = None) -> bool:
    """Draw the webcam component ``key``: every frame is kept as the key's latest (``latest_frame``), sent through
    ``fn`` (None: shown as it is) and back to the browser. Returns whether the camera is on."""
    latest = _latest(key)

    def work(frame: np.ndarray) -> np.ndarray:
        latest.put(frame)
        return frame if fn is None else fn(frame)

    return bool(_streamer(key, work).state.playing)


def _streamer(key: str, fn: FrameFn) -> Any:
    """The webcam component. ``streamlit_webrtc`` is looked up at each call (and imported only when a page shows a
    camera), so an AppTest can replace just this component: it needs the real server."""
    import streamlit_webrtc as webrtc

    return webrtc.webrtc_streamer(
        key=key, mode=webrtc.WebRtcMode.SENDRECV, rtc_configuration=RTC_CONFIGURATION,
        media_stream_constraints=MEDIA_CONSTRAINTS, video_frame_callback=frame_callback(fn), async_processing=True,
    )
