"""The convolution lab's third tab: max and average pooling, one channel at a time, with where each maximum came
from (``engine.conv.pooling``) and no parameters to learn."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from engine.conv.arithmetic import output_size_formula, output_size_rule
from engine.conv.coverage import coverage, coverage_facts
from engine.conv.pooling import pool_steps
from engine.media.images import to_chw
from engine.units import format_number as fmt
from playground.conv_lab.controls import PERSIST
from playground.conv_lab.inputs import LabInput
from playground.conv_lab.stepper import play_interval, stepper_ui
from playground.figures import conv as cf
from playground.figures.primitives import plotly_config

CONFIG = plotly_config()


@dataclass(frozen=True)
class PoolSettings:
    mode: str  # "max" | "avg"
    f: int
    s: int


def settings_ui(n_c: int) -> tuple[PoolSettings, int]:
    """Max or average, window f, stride s; for an RGB input, which channel to inspect (each is pooled on its own)."""
    cols = st.columns([3, 3, 3, 3], vertical_alignment="bottom")
    mode = cols[0].segmented_control("pooling", ["max", "avg"], default="max", required=True, key="_w_cl_pool_mode",
                                     format_func={"max": "max", "avg": "average"}.get, persist_state=PERSIST)
    f = cols[1].slider("window f", 1, 8, 2, key="_w_cl_pool_f", persist_state=PERSIST)
    s = cols[2].slider("stride s", 1, 8, 2, key="_w_cl_pool_s", persist_state=PERSIST,
                       help="The usual choice is s = f: windows side by side, the size divided by f.")
    channel = 0
    if n_c == 3:
        name = cols[3].segmented_control("channel to inspect", ["R", "G", "B"], default="R", required=True,
                                         key="_w_cl_pool_channel", persist_state=PERSIST)
        channel = "RGB".index(name)
    return PoolSettings(str(mode), int(f), int(s)), channel


def tab(inp: LabInput) -> None:
    st.markdown(
        "**Pooling** slides a window of size f with stride s like a convolution, but takes the **maximum** (max "
        "pooling) or the **mean** (average pooling) of each window, one channel at a time: the number of channels "
        "stays. Its f and s are chosen, not learned, and it is usually not padded: **pooling has no parameters** — "
        "backpropagation has nothing to update there. Max pooling keeps the strongest response in each region."
    )
    x = to_chw(inp.image)  # (C, n, n)
    ps, channel = settings_ui(x.shape[0])
    try:
        formula = output_size_formula(inp.n, ps.f, 0, ps.s)
        pooled = pool_steps(x[channel], ps.f, ps.s, ps.mode)
    except ValueError as e:
        st.error(str(e), icon=":material/error:")
        return
    facts = coverage_facts(coverage(inp.n, ps.f, 0, ps.s))
    h_out, w_out = pooled.out_shape
    m = st.columns([1.3, 1.3, 5], vertical_alignment="center")
    m[0].metric("output size", f"{h_out}×{w_out}")
    m[1].metric("parameters", "0")
    m[2].markdown(f"n_out = {output_size_rule()}  \n= **{formula}**  \nwith n = {inp.n}, f = {ps.f}, p = 0, "
                  f"s = {ps.s}" + (f"; each of the {x.shape[0]} channels is pooled on its own" if x.shape[0] > 1
                                   else ""))
    overlays = [cf.Overlay(facts.never, cf.NEVER, "never read by any window")]
    if ps.mode == "max":
        overlays.insert(0, cf.Overlay(pooled.sources(), cf.ARGMAX, "where a maximum came from"))
    img = x[channel : channel + 1]  # (1, n, n)

    @st.fragment(run_every=play_interval("pool"))
    def walk() -> None:
        i, j = stepper_ui("pool", (h_out, w_out))
        step = pooled.step(i, j)
        left, right = st.columns(2)
        left.plotly_chart(cf.input_figure(img, (0, 0, 0, 0), (step.rows, step.cols), overlays, star=step.source,
                                          title=f"input: {inp.label}"), config=CONFIG, key="cl_pool_input")
        right.plotly_chart(cf.output_figure(pooled.output, (i, j), title=f"{ps.mode} pooled {h_out}×{w_out}"),
                           config=CONFIG, key="cl_pool_output")
        detail, numbers = st.columns([2, 3])
        detail.plotly_chart(cf.pool_window_figure(step, f"window at output [{i}, {j}]"), config=CONFIG,
                            key="cl_pool_window")
        with numbers:
            if step.source is not None:
                st.markdown(f"**max = {fmt(step.value)}**, from input row {step.source[0]}, column {step.source[1]} "
                            "(the star; on a tie, the first in reading order, as PyTorch). In backpropagation only "
                            "that pixel gets the gradient.")
            else:
                st.markdown(f"**mean** = Σ/{ps.f * ps.f} = {fmt(step.total)}/{ps.f * ps.f} = "
                            f"**{fmt(step.value)}**: every pixel of the window counts equally.")
            st.metric(f"output [{i}, {j}]", fmt(step.value))

    walk()
