"""YOLO on the live webcam: every frame goes through the detector and comes back with its boxes
(``engine.detection.frames.detect_frame``), at the thresholds the page's sliders hold *now*. The frame work runs on
streamlit-webrtc's worker thread, so it reads the thresholds and the detector from a ``LiveDetection`` kept in session
state, which the script updates on every rerun under its lock (a slider moved while streaming acts on the next
frame), and writes its counts and frame rate there for the meter below the video.

The frame work runs torch on one intra-op thread (``torch.set_num_threads(1)`` on the worker thread: OpenMP keeps it
per thread, the page's own work keeps its threads). The detector is tiny (11 MMACs) and a server runs several streams
beside the pages: measured on the 2 shared cores, the bundled network's forward pass took 57–113 ms with torch's 2
threads competing for the cores and 2 ms with one (``detect_frame`` on a 640×480 frame: 279 ms against 8 ms).
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque

import numpy as np
import streamlit as st
import torch

from engine.detection.frames import detect_frame
from playground.webcam.stream import FrameFn, frame_stream, held
from playground.yolo.detector import Detector
from playground.yolo.settings import Thresholds

METER_REFRESH_S = 1.0


class LiveDetection:
    """What the frame work reads (the detector, a private copy of its network, the thresholds) and writes (frames
    done, their times, the last count of boxes, the last error)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.detector: Detector | None = None
        self.model = None
        self.thresholds = Thresholds()
        self.count = 0
        self.times: deque[float] = deque(maxlen=30)
        self.boxes = 0
        self.error: str | None = None

    def configure(self, detector: Detector, thresholds: Thresholds) -> None:
        """From the script: the detector (its network copied once per detector: the worker never shares a module
        with the page) and the thresholds to use from the next frame on."""
        with self.lock:
            if self.detector is None or self.detector.token != detector.token:
                self.model = copy.deepcopy(detector.model).eval()
            self.detector, self.thresholds = detector, thresholds

    def read(self) -> tuple[int, float, int, Thresholds, str | None]:
        """(frames done, frames per second over the last 30, boxes on the last frame, thresholds in use, error)."""
        with self.lock:
            t = self.times
            fps = (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 0.0
            return self.count, fps, self.boxes, self.thresholds, self.error


def frame_fn(live: LiveDetection) -> FrameFn:
    """The per-frame work on ``(H, W, 3)`` uint8 RGB: detect with the current settings and draw the boxes. An error
    is kept for the meter and the frame passes through unchanged (the stream goes on)."""

    def work(frame: np.ndarray) -> np.ndarray:
        if torch.get_num_threads() != 1 and threading.current_thread() is not threading.main_thread():
            torch.set_num_threads(1)  # once per worker thread (the module docstring); a test's caller keeps its own
        with live.lock:
            d, model, th = live.detector, live.model, live.thresholds
        if d is None:
            return frame
        try:
            annotated, found = detect_frame(model, frame, d.stats, d.grid, d.side, d.classes, **th.options())
        except (ValueError, RuntimeError) as e:
            with live.lock:
                live.error = str(e).splitlines()[0]
            return frame
        with live.lock:
            live.count += 1
            live.times.append(time.monotonic())
            live.boxes, live.error = len(found.scores), None
        return annotated

    return work


def live_ui(key: str, detector: Detector, thresholds: Thresholds) -> None:
    """The webcam ``key`` with the detector's boxes on every frame, and the meter below."""
    live = held(f"{key}.yolo", LiveDetection)
    live.configure(detector, thresholds)
    playing = frame_stream(key, frame_fn(live))
    st.fragment(_meter, run_every=METER_REFRESH_S if playing else None)(live, playing)


def _meter(live: LiveDetection, playing: bool) -> None:
    count, fps, boxes, th, error = live.read()
    if error:
        st.error(f"The webcam frames could not be processed: {error}")
    if not playing and count == 0:
        st.caption("Press **START** to turn the camera on: the yellow square is what the detector sees; the sliders "
                   "above act on the stream while it runs.")
        return
    st.markdown(f"Frames processed: **{count}** · {fps:.1f} frames/s · boxes on the last frame: {boxes} · score ≥ "
                f"{th.score:.2f}, NMS IoU {th.iou:.2f}")
