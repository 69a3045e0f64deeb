"""The webcam as a stream of frames (streamlit-webrtc): the one ``webrtc_streamer`` call of the app.

A frame callback runs on a worker thread, not the script thread: it may not touch ``st.session_state``. So each
component key owns objects kept in session state (``state.WEBCAM``) that the callback writes into under their own
lock and the script reads under it: here the key's last frame (``LatestFrame``), for a snapshot; in ``capture`` the
samples recorded so far; in ``live`` the frames classified. The frame work itself is a pure function ``(H, W, 3)
uint8 -> (H, W, 3) uint8`` (from ``engine.media.camera``), wrapped here once (``frame_callback``), after
streamlit-webrtc's examples.

Offline and on loopback no STUN/TURN server is needed, and by default none is given — explicitly, because the
component's default asks public STUN servers (see docs/testing.md). A hosted deployment behind NAT lists its STUN and
TURN servers in ``$CNNPG_ICE_SERVERS`` (``playground.webcam.ice``); every stream gets them.

One server runs at most ``$CNNPG_MAX_STREAMS`` live cameras at once (default 8): every stream costs the server a
decoder, an encoder and the frame work, 15-30 times a second. A page over the cap says so instead of drawing the
camera (``STREAMS``). Frames are never queued without bound when the frame work falls behind: with
``async_processing=True`` streamlit-webrtc (0.79) puts each incoming frame in a queue, and its worker thread takes
*all* the frames waiting there and processes only the newest (``recv_queued`` keeps ``frames[-1]``), dropping the
others; the browser meanwhile gets the last processed frame again. So the queue holds at most the frames that arrive
during one call of the frame work, and a call longer than 10 s ends the stream (the library's own guard).
See docs/architecture.md ("Limits").
"""

from __future__ import annotations

import threading
import urllib.parse
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import streamlit as st

from engine.env import positive_int
from playground import state
from playground.webcam.ice import rtc_configuration

STREAMS_ENV_VAR = "CNNPG_MAX_STREAMS"
DEFAULT_MAX_STREAMS = 8
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


class StreamSlot:
    """A session's claim on one live stream: the component's context (kept in its session state, so it goes when the
    session goes)."""

    def __init__(self) -> None:
        self.context: Any = None

    @property
    def playing(self) -> bool:
        """The stream is on: the page last saw it playing, and its peer connection has not closed since (the worker
        closes it when the browser goes away: a closed tab, another page)."""
        ctx = self.context
        if ctx is None or not ctx.state.playing:
            return False
        worker = ctx._get_worker() if hasattr(ctx, "_get_worker") else None  # streamlit-webrtc's WebRtcWorker
        return getattr(getattr(worker, "pc", None), "connectionState", None) not in ("closed", "failed")


class Streams:
    """The server's live camera streams, counted through the slots that sessions hold (weakly: a closed session's
    slot, and with it its stream, stops counting when the session is dropped)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: weakref.WeakSet[StreamSlot] = weakref.WeakSet()

    def playing(self) -> int:
        """How many streams are on."""
        with self._lock:
            return sum(slot.playing for slot in self._slots)

    def refusal(self, slot: StreamSlot, limit: int) -> str | None:
        """Why ``slot`` may not start a stream now (``limit`` others are on), or None when it may (or already is)."""
        with self._lock:
            others = sum(s.playing for s in self._slots if s is not slot)
        if slot.playing or others < limit:
            return None
        return (f"The live camera is full: {others} {'stream is' if others == 1 else 'streams are'} on on this server, "
                f"the most it runs at once ({STREAMS_ENV_VAR}={limit}). Try again when someone stops theirs, or use "
                f"a photo or an upload instead.")

    def update(self, slot: StreamSlot, context: Any) -> None:
        """``slot``'s stream is now the one of the component ``context`` (``webrtc_streamer``'s return)."""
        with self._lock:
            self._slots.add(slot)
            slot.context = context


STREAMS = Streams()


def max_streams_from_env() -> int:
    """``$CNNPG_MAX_STREAMS`` as a positive integer (default 8); ValueError naming a bad value."""
    return positive_int(STREAMS_ENV_VAR, DEFAULT_MAX_STREAMS, "live camera streams per server")


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


LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")


def camera_blocked_reason() -> str | None:
    """Why this browser will not give the page its camera, when that is knowable from here: browsers allow the camera
    only on secure pages — https, or http from the same computer (localhost). None when it should work."""
    url = urllib.parse.urlsplit(st.context.url or "")
    if url.scheme == "http" and url.hostname not in LOCAL_HOSTS and url.hostname is not None:
        return (f"This page comes from **{url.hostname}** over plain http, and browsers give the camera only to "
                f"secure pages: https, or http from the same computer (localhost). The live camera will not start "
                f"here. Whoever runs the server can serve it over https — `make run-https` makes a self-signed "
                f"certificate for a classroom network (your browser asks once whether to trust it) — or you can use "
                f"a photo or an upload instead.")
    return None


def frame_stream(key: str, fn: FrameFn | None = None) -> bool:
    """Draw the webcam component ``key``: every frame is kept as the key's latest (``latest_frame``), sent through
    ``fn`` (None: shown as it is) and back to the browser. Returns whether the camera is on. On a page the browser
    will not give the camera to, or when the server runs as many streams as it may (``STREAMS``), says why instead
    (``camera_blocked_reason``)."""
    blocked = camera_blocked_reason()
    if blocked:
        st.warning(blocked, icon=":material/no_photography:")
        return False
    slot = held(f"{key}.slot", StreamSlot)
    full = STREAMS.refusal(slot, max_streams_from_env())
    if full:
        st.warning(full, icon=":material/videocam_off:")
        return False
    try:
        rtc = rtc_configuration()
    except ValueError as e:
        st.error(f"The live camera is misconfigured on this server: {e}", icon=":material/videocam_off:")
        return False
    latest = _latest(key)

    def work(frame: np.ndarray) -> np.ndarray:
        latest.put(frame)
        return frame if fn is None else fn(frame)

    ctx = _streamer(key, work, rtc)
    STREAMS.update(slot, ctx)
    return bool(ctx.state.playing)


def _streamer(key: str, fn: FrameFn, rtc: dict[str, Any]) -> Any:
    """The webcam component. ``streamlit_webrtc`` is looked up at each call (and imported only when a page shows a
    camera), so an AppTest can replace just this component: it needs the real server."""
    import streamlit_webrtc as webrtc

    return webrtc.webrtc_streamer(
        key=key, mode=webrtc.WebRtcMode.SENDRECV, rtc_configuration=rtc,
        media_stream_constraints=MEDIA_CONSTRAINTS, video_frame_callback=frame_callback(fn), async_processing=True,
    )
