"""Live recognition on the webcam: each frame's faces found, embedded and matched against the gallery read when the
page last ran (``engine.faces.live.recognise_frame``), drawn with names and distances; the number of frames, the
frame rate and who is in view below. Frames stay in memory: nothing is written. The live path uses the chosen backend,
but detects with HOG when dlib's is chosen: the CNN detector takes seconds a frame on a CPU (bench/bench_faces.py),
too slow for a stream."""

from __future__ import annotations

import numpy as np
import streamlit as st

from engine.faces.live import Known, recognise_frame
from playground.faces.common import Settings, shared_backend
from playground.webcam.live import FrameMeter
from playground.webcam.stream import frame_stream, held

CAMERA_KEY = "faces_live_camera"
METER_S = 1.0


def live_ui(known: Known, settings: Settings) -> None:
    faces = shared_backend(settings.live_key)
    meter = held(CAMERA_KEY, FrameMeter)

    def recognise(frame: np.ndarray) -> np.ndarray:
        try:
            out, found = recognise_frame(frame, faces, known)
        except (ValueError, RuntimeError) as e:  # shown on the page; the stream goes on
            meter.fail(str(e).splitlines()[0])
            return frame
        meter.tick([(m.name, m.distance) for _, m in found])
        return out

    video, panel = st.columns([3, 2])
    with video:
        playing = frame_stream(CAMERA_KEY, recognise)
    with panel:
        who = f"{len(known.names)} enrolled picture{'s' if len(known.names) != 1 else ''}"
        st.fragment(_meter_panel, run_every=METER_S if playing else None)(meter, playing, who)


def _meter_panel(meter: FrameMeter, playing: bool, who: str) -> None:
    count, fps, seen, error = meter.read()
    if error:
        st.error(f"The webcam frames could not be recognised: {error}")
    if not playing and count == 0:
        st.caption(f"Press **START**: every face in view is boxed with the nearest of your gallery's {who} and its "
                   "distance, or \"unknown\".")
        return
    now = ", ".join(f"{name} ({d:.2f})" if np.isfinite(d) else name for name, d in seen) or "no face"
    st.markdown(f"Frames recognised: **{count}** · {fps:.1f} frames/s · in view: {now}")
