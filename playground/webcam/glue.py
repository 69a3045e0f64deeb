"""Webcam glue (streamlit-webrtc): record a data set Teachable Machine style, and classify live frames.

Each webcam is one ``webrtc_streamer`` whose frame callback runs on a worker thread, not the script thread: it may
not touch ``st.session_state``. So every component key owns one object kept in session state (``state.WEBCAM``) —
a ``Capture`` (the samples recorded so far, per class) or a ``FrameMeter`` (frames classified, frame rate) — that the
callback writes into under the object's own lock and the script reads under it. The frame work itself is a pure
function from ``engine.media.camera`` (``(H, W, 3) uint8 -> (H, W, 3) uint8``), wrapped here once (``_frame_callback``).

Offline and on loopback no STUN/TURN server is needed; ``RTC_CONFIGURATION`` says so explicitly, because the
component's default asks public STUN servers (see docs/testing.md). A hosted deployment needs a TURN server.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import streamlit as st
from torch import nn

from engine.data import LoadedData, from_samples
from engine.media.camera import TopKList, classify_frame, mark_recording, square_sample
from engine.nets.spec import Shape
from playground import state

RTC_CONFIGURATION: dict[str, Any] = {"iceServers": []}
MEDIA_CONSTRAINTS: dict[str, Any] = {"video": True, "audio": False}
CAPTURE_FPS = 5.0  # samples recorded per second while a class is recording
SAMPLE_SIDE = 96  # samples are kept as SAMPLE_SIDE² RGB squares
MAX_PER_CLASS = 300
MAX_CLASSES = 6
REFRESH_S = 0.5  # how often the counts and thumbnails redraw while the camera is on
THUMBNAILS = 8  # the last few samples shown per class

FrameFn = Callable[[np.ndarray], np.ndarray]  # (H, W, 3) uint8 RGB -> (H, W, 3) uint8 RGB


# --------------------------------------------------------------------------------------------------- recording


@dataclass
class Capture:
    """One webcam's recorded samples: ``samples[i]`` holds class ``classes[i]``'s ``(SAMPLE_SIDE, SAMPLE_SIDE, 3)``
    uint8 images. ``recording`` is the index of the class being recorded (None: none). ``dataset`` is the data set
    the user last confirmed with "Use these samples" (``dataset_version`` = ``version`` then)."""

    classes: list[str] = field(default_factory=lambda: ["class 1", "class 2"])
    samples: list[list[np.ndarray]] = field(default_factory=lambda: [[], []])
    recording: int | None = None
    version: int = 0  # bumped whenever the samples change
    dataset: LoadedData | None = None
    dataset_version: int = -1
    latest: np.ndarray | None = None  # the last frame seen, for "take one"
    _last_sample: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def on_frame(self, frame: np.ndarray) -> np.ndarray:
        """The frame callback's work (worker thread): keep the frame; while recording, add a sample at most
        ``CAPTURE_FPS`` times a second; show a recording mark."""
        now = time.monotonic()
        with self.lock:
            self.latest = frame
            rec = self.recording
            if rec is None or rec >= len(self.classes):
                return frame
            label = self.classes[rec]
            if now - self._last_sample >= 1.0 / CAPTURE_FPS and len(self.samples[rec]) < MAX_PER_CLASS:
                self._last_sample = now
                self.samples[rec].append(square_sample(frame, SAMPLE_SIDE))
                self.version += 1
        return mark_recording(frame, label)

    def resize(self, n: int) -> None:
        with self.lock:
            while len(self.classes) < n:
                self.classes.append(_fresh_name(self.classes))
                self.samples.append([])
            del self.classes[n:], self.samples[n:]
            if self.recording is not None and self.recording >= n:
                self.recording = None
            self.version += 1

    def rename(self, i: int, name: str) -> None:
        with self.lock:
            self.classes[i] = name.strip() or f"class {i + 1}"
            self.version += 1

    def record(self, i: int, on: bool) -> None:
        """Start recording class ``i`` (stopping any other), or stop it."""
        with self.lock:
            if on:
                self.recording, self._last_sample = i, 0.0
            elif self.recording == i:
                self.recording = None

    def stop(self) -> None:
        with self.lock:
            self.recording = None

    def take_one(self, i: int) -> bool:
        """Add the latest frame to class ``i``; False when no frame has arrived yet."""
        with self.lock:
            if self.latest is None or len(self.samples[i]) >= MAX_PER_CLASS:
                return False
            self.samples[i].append(square_sample(self.latest, SAMPLE_SIDE))
            self.version += 1
            return True

    def clear(self, i: int | None = None) -> None:
        with self.lock:
            for j in range(len(self.samples)) if i is None else [i]:
                self.samples[j] = []
            self.version += 1

    def snapshot(self) -> tuple[list[str], list[list[np.ndarray]], int | None]:
        """(class names, samples per class, recording) copied under the lock."""
        with self.lock:
            return list(self.classes), [list(s) for s in self.samples], self.recording

    def to_dataset(self, seed: int, image_size: int) -> LoadedData:
        """The samples as a data set (``engine.data.from_samples``); ValueError with the reason when they can't be."""
        classes, samples, _ = self.snapshot()
        images = [img for s in samples for img in s]
        labels = [i for i, s in enumerate(samples) for _ in s]
        return from_samples(images, labels, classes, seed=seed, image_size=image_size)


def _fresh_name(names: Sequence[str]) -> str:
    i = len(names) + 1
    while f"class {i}" in names:
        i += 1
    return f"class {i}"


def capture_dataset_ui(key: str, image_size: int = 64) -> LoadedData | None:
    """Teachable Machine style recording: the user names 2+ classes, starts the webcam, and records each class (a
    few frames a second while its "Record" toggle is on, or one frame at a time); counts and thumbnails update
    live. Returns the data set the user confirmed with "Use these samples" (``engine.data.from_samples``,
    ``image_size``² squares, split by the sidebar seed) — on every run from then on, until the samples are cleared —
    else None. The samples live in session state: they survive reruns and page switches."""
    cap = _held(key, Capture)
    st.markdown("Name your classes, press **START** to turn the camera on, then record each class in turn: show "
                "the camera one thing (a hand sign, an object, your face) while its **Record** is on. A few dozen "
                "varied samples per class are enough for a small network.")
    wkey = f"_w_{key}_classes"
    st.session_state[wkey] = len(cap.classes)
    st.number_input("Number of classes", 2, MAX_CLASSES, step=1, key=wkey,
                    on_change=lambda: cap.resize(int(st.session_state[wkey])))
    name_cols = st.columns(len(cap.classes))
    for i, col in enumerate(name_cols):
        nkey = f"_w_{key}_name_{i}"
        st.session_state[nkey] = cap.classes[i]
        col.text_input(f"Class {i + 1}", key=nkey, max_chars=40,
                       on_change=lambda i=i, nkey=nkey: cap.rename(i, st.session_state[nkey]))
    ctx = _streamer(key, cap.on_frame)
    playing = bool(ctx.state.playing)
    if not playing:
        cap.stop()
    _controls(cap, key, playing)
    st.fragment(_samples_row, run_every=REFRESH_S if playing else None)(cap)

    use, clear = st.columns([1, 1])
    if use.button("Use these samples", key=f"_w_{key}_use", type="primary", icon=":material/check:"):
        cap.stop()
        try:
            cap.dataset = cap.to_dataset(int(state.get(state.SEED)), image_size)
            cap.dataset_version = cap.version
        except ValueError as e:
            st.error(str(e))
    if clear.button("Clear all samples", key=f"_w_{key}_clear_all", icon=":material/delete:"):
        cap.clear()
        cap.dataset, cap.dataset_version = None, -1
    if cap.dataset is not None:
        card = cap.dataset.card
        st.success(f"Using **{card.title}**: {card.description}", icon=":material/photo_camera:")
        if cap.version != cap.dataset_version:
            st.info("The samples have changed since; press **Use these samples** again to include the changes.")
    return cap.dataset


def _controls(cap: Capture, key: str, playing: bool) -> None:
    """Per class: a Record toggle, Take one and Clear. Drawn by the whole script, not by the periodically redrawn
    samples row below: a click must never race that redraw."""
    classes, _, recording = cap.snapshot()
    if not playing:
        st.caption("The camera is off: press **START** above to record.")
    for i, col in enumerate(st.columns(len(classes))):
        with col:
            rkey = f"_w_{key}_rec_{i}"
            st.session_state[rkey] = recording == i  # one class records at a time; the camera may have stopped
            st.toggle(f"Record {classes[i]}", key=rkey, disabled=not playing,
                      on_change=lambda i=i, rkey=rkey: cap.record(i, bool(st.session_state[rkey])),
                      help=f"While on, {CAPTURE_FPS:g} frames a second are added to this class.")
            a, b = st.columns(2)
            a.button("Take one", key=f"_w_{key}_one_{i}", disabled=not playing, on_click=cap.take_one, args=(i,),
                     width="stretch")
            b.button("Clear", key=f"_w_{key}_clear_{i}", on_click=cap.clear, args=(i,), width="stretch")


def _samples_row(cap: Capture) -> None:
    """Per class: its count and its last few samples (a fragment: redrawn every ``REFRESH_S`` while the camera is
    on)."""
    classes, samples, recording = cap.snapshot()
    for i, (col, name, imgs) in enumerate(zip(st.columns(len(classes)), classes, samples, strict=True)):
        with col.container(border=True):
            rec = " · :red[● recording]" if recording == i else ""
            st.markdown(f"**{name}** · {len(imgs)} sample{'s' * (len(imgs) != 1)}{rec}")
            if imgs:
                st.image(imgs[-THUMBNAILS:], width=44)
            else:
                st.caption("no samples yet")


# --------------------------------------------------------------------------------------------------- live prediction


class FrameMeter:
    """Frames classified by a live prediction, its frame rate and its last answer (written by the worker thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.times: deque[float] = deque(maxlen=30)
        self.top: TopKList = []
        self.error: str | None = None
        self.model_id: int | None = None
        self.model: nn.Module | None = None
        self.frame: np.ndarray | None = None  # the last camera frame, as it came (not annotated)

    def tick(self, top: TopKList, frame: np.ndarray | None = None) -> None:
        with self.lock:
            self.frame = frame
            self.count += 1
            self.times.append(time.monotonic())
            self.top, self.error = top, None

    def fail(self, message: str) -> None:
        with self.lock:
            self.error = message

    def read(self) -> tuple[int, float, TopKList, str | None]:
        """(frames classified, frames per second over the last 30, last top-k, last error)."""
        with self.lock:
            t = self.times
            fps = (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 0.0
            return self.count, fps, list(self.top), self.error

    def own_model(self, model: nn.Module) -> nn.Module:
        """A private copy of ``model`` for the worker thread (the page may hook the original for feature maps
        while frames are being classified), made once per model."""
        if self.model_id != id(model) or self.model is None:
            self.model, self.model_id = copy.deepcopy(model).eval(), id(model)
        return self.model


def live_prediction_ui(model: nn.Module, stats: Any, input_shape: Shape, classes: Sequence[str], key: str,
                       k: int = 3) -> None:
    """Stream the webcam with ``model``'s top-``k`` prediction drawn on every frame
    (``engine.media.camera.classify_frame``:
    the centred square is what the network sees), and the number of frames classified and the frame rate below."""
    meter = _held(key, FrameMeter)
    net, classes, input_shape = meter.own_model(model), tuple(classes), tuple(input_shape)

    def classify(frame: np.ndarray) -> np.ndarray:
        try:
            annotated, top = classify_frame(net, frame, stats, input_shape, classes, k)
        except (ValueError, RuntimeError) as e:  # shown on the page; the stream goes on
            meter.fail(str(e).splitlines()[0])
            return frame
        meter.tick(top, frame)
        return annotated

    ctx = _streamer(key, classify)
    playing = bool(ctx.state.playing)
    st.fragment(_meter_panel, run_every=1.0 if playing else None)(meter, playing)


def latest_frame(key: str) -> np.ndarray | None:
    """The last camera frame ``live_prediction_ui(..., key)`` classified (``(H, W, 3)`` uint8), or None."""
    held = st.session_state.get(state.WEBCAM, {}).get(key)
    if not isinstance(held, FrameMeter):
        return None
    with held.lock:
        return held.frame


def _meter_panel(meter: FrameMeter, playing: bool) -> None:
    count, fps, top, error = meter.read()
    if error:
        st.error(f"The webcam frames could not be classified: {error}")
    if not playing and count == 0:
        st.caption("Press **START** to turn the camera on; the yellow square is what the network sees.")
        return
    answer = ", ".join(f"{name} {100 * p:.0f}%" for name, p in top) or "—"
    st.markdown(f"Frames classified: **{count}** · {fps:.1f} frames/s · now: {answer}")


# --------------------------------------------------------------------------------------------------- shared


def _held(key: str, kind: type) -> Any:
    """The per-key object in session state, made on first use (a fresh one when the key held another kind)."""
    held = st.session_state.setdefault(state.WEBCAM, {})
    if not isinstance(held.get(key), kind):
        held[key] = kind()
    return held[key]


def _frame_callback(fn: FrameFn) -> Callable[[Any], Any]:
    """``fn`` on ndarrays as a streamlit-webrtc video callback (``av.VideoFrame`` in and out)."""
    import av

    def callback(frame: av.VideoFrame) -> av.VideoFrame:
        out = av.VideoFrame.from_ndarray(fn(frame.to_ndarray(format="rgb24")), format="rgb24")
        if frame.time_base is not None:  # keep the timing of the camera's frame
            out.pts, out.time_base = frame.pts, frame.time_base
        return out

    return callback


def _streamer(key: str, fn: FrameFn) -> Any:
    """The webcam component, sending frames through ``fn`` and back. Looked up on the module at each call, so an
    AppTest can replace just this component (it needs the real server)."""
    import streamlit_webrtc as webrtc

    return webrtc.webrtc_streamer(
        key=key, mode=webrtc.WebRtcMode.SENDRECV, rtc_configuration=RTC_CONFIGURATION,
        media_stream_constraints=MEDIA_CONSTRAINTS, video_frame_callback=_frame_callback(fn), async_processing=True,
    )
