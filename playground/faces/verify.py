"""The Verify tab: two pictures, one face of each, their aligned crops, the distance between their embeddings on a
scale with the threshold, and the decision."""

from __future__ import annotations

import streamlit as st

from engine.faces.verify import compare
from playground.faces.common import Settings, face_ui, metric_range, shared_backend
from playground.figures.faces import distance_scale
from playground.figures.primitives import plotly_config


def verify_ui(settings: Settings) -> None:
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("**Picture A**")
        a = face_ui("faces_a", settings, "picture A", label="Picture A from")
    with right:
        st.markdown("**Picture B**")
        b = face_ui("faces_b", settings, "picture B", label="Picture B from")
    if a is None or b is None:
        st.caption("Choose two pictures with a face each: the astronaut photo, an upload, or a webcam snapshot.")
        return
    faces = shared_backend(settings.key)
    result = compare(a, b, faces, settings.threshold, settings.metric)
    st.markdown("**What the network sees** — each face aligned (eyes and nose moved to fixed places) and scaled to "
                f"{a.crop.shape[1]}×{a.crop.shape[0]} pixels, then turned into {faces.dim} numbers:")
    crops = st.columns(6)
    crops[0].image(a.crop, caption="A, aligned", width="stretch")
    crops[1].image(b.crop, caption="B, aligned", width="stretch")
    top = metric_range(settings.backend, result.metric)[1]
    st.plotly_chart(distance_scale(result.distance, result.threshold, result.metric, top), config=plotly_config(),
                    key="faces_scale")
    sign = "<" if result.same else "≥"
    text = (f"**{result.decision.capitalize()}**: the {result.metric} distance is {result.distance:.3f} {sign} the "
            f"threshold {result.threshold:g}.")
    if result.same:
        st.success(text, icon=":material/check_circle:")
    else:
        st.warning(text, icon=":material/cancel:")
