"""The convolution lab's first tab: one filter slid over the input, step by step, with the output-size formula in the
student's numbers and the pixels the windows read (or never read)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from engine.conv.arithmetic import explain_same_padding, output_size_formula, output_size_rule
from engine.conv.bank import on_every_channel
from engine.conv.coverage import coverage, coverage_facts
from engine.conv.filters import FILTERS, filter_names, make_filter
from engine.conv.reference import conv_steps
from engine.media.images import to_chw
from engine.units import format_number as fmt
from engine.units import plural
from playground import state
from playground.conv_lab.controls import PERSIST, bump_version, number_grid, padding_text, padding_ui, resized, version
from playground.conv_lab.inputs import LabInput
from playground.conv_lab.stepper import play_interval, stepper_ui
from playground.figures import conv as cf
from playground.figures.primitives import plotly_config

CUSTOM = "custom (edit the numbers)"
CONFIG = plotly_config()


@dataclass(frozen=True)
class ConvSettings:
    filter: str  # a name of engine.conv.filters.FILTERS, or CUSTOM
    f: int
    padding: int | str  # p, "valid" or "same"
    stride: int
    dilation: int = 1
    bias: float = 0.0


def settings_ui() -> ConvSettings:
    """The filter (a preset or your own numbers), its size f, padding, stride and, in 'more', dilation and bias."""
    cols = st.columns([3, 2, 3.3, 1.1, 2, 1.5], vertical_alignment="bottom")
    name = cols[0].selectbox("filter", [*filter_names(), CUSTOM], key="_w_cl_filter", persist_state=PERSIST,
                             help="A classic filter, or a grid of weights you type. In a CNN these numbers are "
                                  "learned.")
    f = cols[1].slider("filter size f", 1, 11, 3, key="_w_cl_f", persist_state=PERSIST)
    padding = padding_ui("_w_cl_", cols[2], cols[3])
    s = cols[4].slider("stride s", 1, 8, 1, key="_w_cl_s", persist_state=PERSIST,
                       help="How many pixels the window moves between two outputs.")
    with cols[5].popover("more", icon=":material/tune:", width="stretch", help="dilation and bias"):
        d = st.slider("dilation d", 1, 4, 1, key="_w_cl_d", persist_state=PERSIST,
                      help="Spread the filter's taps d pixels apart (an 'à trous' convolution): the filter "
                           "spans d(f − 1) + 1 pixels with the same f·f weights.")
        b = st.number_input("bias b", -100.0, 100.0, 0.0, step=0.5, key="_w_cl_bias", persist_state=PERSIST,
                            help="Added to every output value.")
    return ConvSettings(name, int(f), padding, int(s), int(d), float(b))


def kernel_ui(name: str, f: int) -> np.ndarray:
    """The f×f weights of the chosen filter; an editor for CUSTOM. ValueError (the engine's message) for a preset
    that has no size f."""
    if name == CUSTOM:
        return _kernel_grid_ui(f)
    return make_filter(name, f, seed=int(state.get(state.SEED)))


def filter_about(name: str) -> str:
    """One line on what the filter does."""
    if name == CUSTOM:
        return "Your own weights: type any numbers into the grid."
    text = FILTERS[name].about
    return text + (" Seeded by the sidebar's random seed." if FILTERS[name].seeded else "")


def _kernel_grid_ui(f: int) -> np.ndarray:
    kernel = state.get(state.CONV_KERNEL)
    if kernel is None or kernel.shape != (f, f):
        start = make_filter("vertical edge", f) if f >= 2 else np.ones((1, 1))
        kernel = resized(kernel, start)
    with st.expander(f"Your {f}×{f} filter — click a weight to change it", expanded=True):
        left, right = st.columns([3, 2], vertical_alignment="bottom")
        with left:
            kernel = number_grid(f"_w_cl_kernel_{f}_{version()}", kernel)
        pick = right.selectbox("start from", filter_names(f), key="_w_cl_kernel_from")
        right.button("Copy into the grid", key="_w_cl_kernel_copy", on_click=_copy_preset, args=(pick, f))
    state.put(state.CONV_KERNEL, kernel)
    return kernel


def _copy_preset(name: str, f: int) -> None:
    kernel = make_filter(name, f, seed=int(state.get(state.SEED)))
    bump_version()
    state.put(state.CONV_KERNEL, kernel.astype(np.float64))


def tab(inp: LabInput) -> None:
    st.markdown(
        "A **filter** is a small grid of weights. Laid on the image, each weight multiplies the pixel under it and "
        "the products are **summed**: one output number. Sliding the filter across gives the output grid — an "
        "edge detector lights up on edges, a blur averages. A CNN *learns* these weights. Without padding the "
        "output shrinks and border pixels are read less often than central ones; **padding** with zeros counters "
        "both, and a **stride** s skips positions."
    )
    cs = settings_ui()
    try:
        kernel = kernel_ui(cs.filter, cs.f)
        formula = output_size_formula(inp.n, cs.f, cs.padding, cs.stride, cs.dilation)
    except ValueError as e:
        st.error(str(e), icon=":material/error:")
        return
    x = to_chw(inp.image)  # (C, n, n)
    n_c = x.shape[0]
    steps = conv_steps(x, on_every_channel(kernel, n_c), [cs.bias], cs.stride, cs.padding, cs.dilation)
    facts = coverage_facts(coverage(inp.n, cs.f, cs.padding, cs.stride, cs.dilation))
    _, h_out, w_out = steps.out_shape

    m = st.columns([1.3, 1.3, 5], vertical_alignment="center")
    m[0].metric("output size", f"{h_out}×{w_out}")
    m[1].metric("filter", f"{cs.f}×{cs.f}×{n_c}")
    m[2].markdown(f"n_out = {output_size_rule(cs.dilation)}  \n= **{formula}**  \nwith n = {inp.n}, f = {cs.f}, "
                  f"{padding_text(cs.padding, cs.f, cs.dilation, inp.n, cs.stride)}, s = {cs.stride}"
                  + (f", d = {cs.dilation}" if cs.dilation > 1 else ""))
    st.caption(filter_about(cs.filter) + (" On an RGB input the filter is f×f×3, here with the same weights on "
                                          "each channel (the next tab lets them differ)." if n_c == 3 else ""))
    if cs.padding == "same":
        st.caption(explain_same_padding(cs.f, cs.dilation, inp.n, cs.stride))
    never = cf.Overlay(facts.never, cf.NEVER, "never read by any window")
    names = list(cf.CHANNEL_NAMES) if n_c == 3 else None
    in_title = f"input: {inp.label}" + (", zero-padded" if any(steps.padding) else "")

    @st.fragment(run_every=play_interval("conv"))
    def walk() -> None:
        i, j = stepper_ui("conv", (h_out, w_out))
        step = steps.step(0, i, j)
        left, right = st.columns(2)
        left.plotly_chart(cf.input_figure(steps.x_padded, steps.padding, (step.rows, step.cols), [never],
                                          title=in_title), config=CONFIG, key="cl_conv_input")
        right.plotly_chart(cf.output_figure(steps.output[0], (i, j), title=f"output {h_out}×{w_out}"),
                           config=CONFIG, key="cl_conv_output")
        detail, numbers = st.columns([3, 2])
        detail.plotly_chart(cf.step_figure(step, names), config=CONFIG, key="cl_conv_step")
        with numbers:
            st.markdown(f"**Output [{i}, {j}]** comes from the window on {step.where()}.")
            a, b = st.columns(2)
            a.metric("Σ products", fmt(step.total))
            b.metric(f"output [{i}, {j}]", fmt(step.value), help="Σ products + bias b")
            st.caption(f"output = Σ products + bias b = {fmt(step.total)} + {fmt(step.bias)} = {fmt(step.value)}")
            if n_c == 3:
                st.markdown(" + ".join(f"{ch} {fmt(v)}" for ch, v in zip("RGB", step.channel_sums, strict=True))
                            + f" = {fmt(step.total)}")
            st.code(step.expression(), language=None, wrap_lines=True)

    walk()

    st.subheader("Which pixels the windows read")
    left, right = st.columns([3, 2])
    left.plotly_chart(cf.coverage_figure(facts, title="how many windows read each input pixel"), config=CONFIG,
                      key="cl_conv_coverage")
    with right:
        (r, c), (fewest, most) = facts.centre_at, facts.around
        around = ("" if fewest == most else f" — its neighbours by {fewest} to {most}: with stride {cs.stride} the "
                  f"windows do not overlap every pixel equally")
        st.markdown(f"The corner pixel (row 0, column 0) is read by **{plural(facts.corner, 'window')}**, the central "
                    f"one (row {r}, column {c}) by **{plural(facts.centre, 'window')}**{around}. "
                    + ("Without padding the borders take part in fewer sums: what happens at the edge of the image "
                       "counts less. Padding evens this out." if facts.corner < facts.centre else ""))
        if facts.unread:
            st.markdown(f":red[**{facts.unread} of {facts.pixels} pixels ({facts.unread_fraction:.0%}) are never "
                        "read**] (red): with this stride the windows jump over them, or the last window stops before "
                        "the edge. Their information is thrown away.")
        else:
            st.markdown("Every pixel is read by at least one window.")
