"""Record a data set from the webcam, Teachable Machine style: name the classes, then record each in turn.

The samples live in a ``Capture`` kept in session state per component key (``stream.held``): the frame callback adds
to it on the worker thread under its lock, the script reads it under the same lock, and it survives reruns and page
switches. ``capture_dataset_ui`` is what the Training page calls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from engine.data import LoadedData, from_samples
from engine.media.camera import mark_recording, square_sample
from playground import state
from playground.webcam.stream import frame_stream, held, latest_frame

CAPTURE_FPS = 5.0  # samples recorded per second while a class is recording
SAMPLE_SIDE = 96  # samples are kept as SAMPLE_SIDE² RGB squares
MAX_PER_CLASS = 300
MAX_CLASSES = 6
REFRESH_S = 0.5  # how often the counts and thumbnails redraw while the camera is on
THUMBNAILS = 8  # the last few samples shown per class


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
    _last_sample: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def on_frame(self, frame: np.ndarray) -> np.ndarray:
        """The frame callback's work (worker thread): while recording, add a sample at most ``CAPTURE_FPS`` times a
        second and show a recording mark."""
        now = time.monotonic()
        with self.lock:
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

    def take_one(self, i: int, frame: np.ndarray | None) -> bool:
        """Add ``frame`` (the camera's latest) to class ``i``; False when there is none yet or the class is full."""
        with self.lock:
            if frame is None or len(self.samples[i]) >= MAX_PER_CLASS:
                return False
            self.samples[i].append(square_sample(frame, SAMPLE_SIDE))
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
    cap = held(key, Capture)
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
    playing = frame_stream(key, cap.on_frame)
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
            a.button("Take one", key=f"_w_{key}_one_{i}", disabled=not playing, width="stretch",
                     on_click=lambda i=i: cap.take_one(i, latest_frame(key)))
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
