"""The 1×1-convolution lesson: a bottleneck in front of an expensive convolution, both costs computed by the engine
(``engine.nets.lessons``)."""

from __future__ import annotations

import streamlit as st

from engine.nets.lessons import bottleneck_lesson
from playground.figures import network as figures


def lesson_ui() -> None:
    st.markdown(
        "A 1×1 convolution mixes channels at each pixel without looking at neighbours. Putting one in front of an "
        "expensive f×f convolution to shrink the channels first (a *bottleneck*) cuts the multiplications by about "
        "the shrink factor — the trick inside Inception and ResNet-50. Both costs below are computed by the engine."
    )
    c = st.columns(6)
    h = c[0].number_input("H", 1, 1024, 28, key="_w_1x1_h")
    w = c[1].number_input("W", 1, 1024, 28, key="_w_1x1_w")
    c_in = c[2].number_input("input channels", 1, 4096, 192, key="_w_1x1_cin")
    c_out = c[3].number_input("output channels", 1, 4096, 32, key="_w_1x1_cout")
    f = c[4].number_input("filter f", 1, 15, 5, key="_w_1x1_f")
    c_mid = c[5].number_input("bottleneck channels", 1, 4096, 16, key="_w_1x1_mid")
    try:
        lesson = bottleneck_lesson(int(h), int(w), int(c_in), int(c_out), int(f), int(c_mid))
    except ValueError as e:
        st.error(str(e))
        return
    first = lesson.first_macs
    m = st.columns(3)
    m[0].metric(f"direct {f}×{f} conv: multiplications", f"{lesson.direct.macs / 1e6:,.1f}M")
    m[1].metric(f"1×1 to {c_mid}, then {f}×{f}: multiplications", f"{lesson.bottleneck.macs / 1e6:,.1f}M")
    m[2].metric("saving", f"{lesson.saving:.1f}× fewer")
    st.markdown(
        f"Direct: {h}·{w}·{c_out} outputs × {f}·{f}·{c_in} = **{lesson.direct.macs:,}**.  \n"
        f"Bottleneck: {h}·{w}·{c_mid} × 1·1·{c_in} = {first:,}, plus {h}·{w}·{c_out} × {f}·{f}·{c_mid} = "
        f"{lesson.bottleneck.macs - first:,}; total **{lesson.bottleneck.macs:,}**. "
        f"Parameters: {lesson.direct.params:,} against {lesson.bottleneck.params:,}."
    )
    st.plotly_chart(figures.bottleneck_figure(lesson.direct.macs, lesson.bottleneck.macs, first), width="stretch")
