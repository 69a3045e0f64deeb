"""Live prediction on webcam frames, and its meter: every frame classified as it arrives, the top-k drawn on it
(``engine.media.camera.classify_frame``: the centred square is what the network sees), with the number of frames
classified and the frame rate below the video."""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np
import streamlit as st
from torch import nn

from engine.media.camera import TopKList, classify_frame
from engine.nets.spec import Shape
from playground.webcam.stream import frame_stream, held

METER_REFRESH_S = 1.0  # how often the meter redraws while the camera is on


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

    def tick(self, top: TopKList) -> None:
        with self.lock:
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
    """Stream the webcam ``key`` with ``model``'s top-``k`` prediction drawn on every frame, and the number of frames
    classified and the frame rate below. The raw frames stay available as ``stream.latest_frame(key)``."""
    meter = held(key, FrameMeter)
    net, classes, input_shape = meter.own_model(model), tuple(classes), tuple(input_shape)

    def classify(frame: np.ndarray) -> np.ndarray:
        try:
            annotated, top = classify_frame(net, frame, stats, input_shape, classes, k)
        except (ValueError, RuntimeError) as e:  # shown on the page; the stream goes on
            meter.fail(str(e).splitlines()[0])
            return frame
        meter.tick(top)
        return annotated

    playing = frame_stream(key, classify)
    st.fragment(_meter_panel, run_every=METER_REFRESH_S if playing else None)(meter, playing)


def _meter_panel(meter: FrameMeter, playing: bool) -> None:
    count, fps, top, error = meter.read()
    if error:
        st.error(f"The webcam frames could not be classified: {error}")
    if not playing and count == 0:
        st.caption("Press **START** to turn the camera on; the yellow square is what the network sees.")
        return
    answer = ", ".join(f"{name} {100 * p:.0f}%" for name, p in top) or "—"
    st.markdown(f"Frames classified: **{count}** · {fps:.1f} frames/s · now: {answer}")
