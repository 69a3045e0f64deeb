"""Fast mode on the style page: one forward pass of the ONNX stylisation networks (``engine.style.fast``) — a quick
preview of the chosen pair, and the webcam stylised live, frame by frame, in the chosen style."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from engine.style.fast import FastStyler, available
from playground.webcam.live import FrameMeter
from playground.webcam.stream import frame_stream, held
from playground.widgets.image_source import Picture

CAMERA_KEY = "style_fast_camera"
METER_S = 1.0


@st.cache_resource(show_spinner="Loading the fast-mode networks…")
def shared_styler() -> FastStyler:
    """The two ONNX sessions for every session of this server (thread-safe)."""
    return FastStyler()


@st.cache_data(max_entries=16, show_spinner=False)
def _preview(content_key: str, style_key: str, strength: float, _content: np.ndarray, _style: np.ndarray
             ) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = shared_styler().stylise(_content, _style, strength)
    return out, time.perf_counter() - start


def fast_ui(content: Picture | None, style: Picture | None) -> None:
    ok, where = available()
    if not ok:
        st.info(f"Fast mode is off here: {where}")
        return
    st.caption("A network trained to stylise (Ghiasi et al., 2017) turns the style image into 100 numbers and "
               f"paints any picture with them in one pass — no optimisation, any style image. {where}.")
    if style is None:
        st.caption("Choose a style image.")
        return
    strength = st.slider("Style strength", 0.0, 1.0, 1.0, 0.05, key="_w_st_fast_strength", persist_state="session",
                         help="Mixes the style image's 100 numbers with the content's own (0: its own style).")
    styler = shared_styler()
    if content is not None:
        out, seconds = _preview(content.key, style.key, float(strength), content.image, style.image)
        a, b = st.columns(2)
        a.image(content.image, caption=content.caption, width="stretch")
        b.image(out, caption=f"fast mode: {out.shape[1]}×{out.shape[0]} in {seconds:.2f} s on {styler.device}",
                width="stretch")
    st.markdown("**Live webcam**")
    vector = styler.style_vector(style.image)
    meter = held(CAMERA_KEY, FrameMeter)

    def stylise(frame: np.ndarray) -> np.ndarray:
        try:
            out = styler.stylise(frame, vector, float(strength))
        except (ValueError, RuntimeError) as e:  # shown on the page; the stream goes on
            meter.fail(str(e).splitlines()[0])
            return frame
        meter.tick([])
        return out

    video, panel = st.columns([3, 2])
    with video:
        playing = frame_stream(CAMERA_KEY, stylise)
    with panel:
        st.fragment(_meter_panel, run_every=METER_S if playing else None)(meter, playing, style.caption)


def _meter_panel(meter: FrameMeter, playing: bool, style: str) -> None:
    count, fps, _, error = meter.read()
    if error:
        st.error(f"The webcam frames could not be stylised: {error}")
    if not playing and count == 0:
        st.caption(f"Press **START**: each frame comes back in the style of {style}.")
        return
    st.markdown(f"Frames stylised: **{count}** · {fps:.1f} frames/s")
