"""The convolution lab's second tab: filters over an RGB volume, and one CNN layer — K filters (a bank the student
edits, ``engine.conv.bank``), one bias each, then ReLU — with its parameter count."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from engine.conv.arithmetic import layer_params, layer_params_formula
from engine.conv.bank import CHANNELS, DEFAULT_BANK, BankRow, bank_rows, bank_weights
from engine.conv.filters import filter_names
from engine.conv.reference import conv_steps
from engine.media.images import SAMPLE_IMAGES, to_chw
from engine.units import format_number as fmt
from engine.units import plural
from playground import state
from playground.conv_lab.controls import PERSIST, bump_version, padding_ui, version
from playground.conv_lab.inputs import LabInput
from playground.conv_lab.stepper import play_interval, stepper_ui
from playground.figures import conv as cf
from playground.figures.primitives import plotly_config

CONFIG = plotly_config()


@dataclass(frozen=True)
class LayerSettings:
    f: int
    k: int  # number of filters
    padding: int | str
    stride: int
    relu: bool


def settings_ui() -> LayerSettings:
    cols = st.columns([2, 2, 3.3, 1.1, 2, 1.5], vertical_alignment="bottom")
    f = cols[0].slider("filter size f", 1, 7, 3, key="_w_cl_v_f", persist_state=PERSIST,
                       help="Each filter is f×f×3: as deep as the input.")
    k = cols[1].slider("filters K", 1, 10, 2, key="_w_cl_v_k", persist_state=PERSIST,
                       help="Each filter makes one output channel.")
    padding = padding_ui("_w_cl_v_", cols[2], cols[3])
    s = cols[4].slider("stride s", 1, 4, 1, key="_w_cl_v_s", persist_state=PERSIST)
    relu = cols[5].toggle("ReLU", True, key="_w_cl_v_relu", persist_state=PERSIST,
                          help="Apply the activation max(0, z) after the bias: the layer's output.")
    return LayerSettings(int(f), int(k), padding, int(s), bool(relu))


def use_course_example() -> None:
    """on_click: the course's layer, 10 filters of 3×3×3."""
    st.session_state["_w_cl_v_f"] = 3
    st.session_state["_w_cl_v_k"] = 10


def bank_ui(k: int) -> list[BankRow]:
    """The K filters of the layer, one row each: a preset, on which input channels, and its bias. The rows beyond K
    are kept (under ``state.CONV_BANK``) for when K grows again."""
    rows = state.get(state.CONV_BANK) or list(DEFAULT_BANK)
    config = {
        "filter": st.column_config.SelectboxColumn("filter", options=filter_names(), required=True, width="medium"),
        "channels": st.column_config.SelectboxColumn(
            "on channels", options=list(CHANNELS), required=True, width="small",
            help="all: the same f×f weights on R, G and B. R, G or B: on that channel only, zeros on the others.",
        ),
        "bias": st.column_config.NumberColumn("bias b", format="%g", required=True, width="small"),
    }
    shown = bank_rows(rows, k)
    df = pd.DataFrame([vars(r) for r in shown], columns=["filter", "channels", "bias"],
                      index=[f"filter {i + 1}" for i in range(k)])
    edited = st.data_editor(df, key=f"_w_cl_bank_{k}_{version()}", column_config=config, width="stretch")
    mine = [BankRow(str(r["filter"]), str(r["channels"]), float(0.0 if pd.isna(r["bias"]) else r["bias"]))
            for r in edited.to_dict("records")]
    state.put(state.CONV_BANK, mine + rows[k:])
    st.button("Reset the filters", key="_w_cl_bank_reset", on_click=bump_version, args=(state.CONV_BANK,))
    return mine


def tab(inp: LabInput) -> None:
    st.markdown(
        "A colour image is a **volume** n×n×3, and a filter reading it is just as deep: **f×f×3**. At each "
        "position all f·f·3 products are summed into **one** number, so one filter gives one output channel "
        "whatever the input's depth. **K filters** give K channels, stacked into an H′×W′×K volume. **One CNN "
        "layer** is that convolution, plus one bias per filter, then an activation: relu(W ∗ a + b), like a dense "
        "layer whose weights are shared across positions."
    )
    if not inp.distinct_channels:
        colour = ", ".join(SAMPLE_IMAGES.names(tags=["colour"]))
        st.info(f"This input's three channels are equal (it is gray). Choose **a photo** in colour above ({colour}) "
                "to see them differ.", icon=":material/palette:")
    ls = settings_ui()
    editor, facts = st.columns([3, 2], gap="large")
    with editor:
        try:
            rows = bank_ui(ls.k)
        except ValueError as e:  # a number the bank refuses (an infinite bias)
            st.error(str(e), icon=":material/error:")
            return
    with facts:
        st.metric("parameters of this layer", f"{layer_params(ls.f, 3, ls.k):,}")
        st.markdown(f"(f·f·n_c + 1)·K = **{layer_params_formula(ls.f, 3, ls.k)}**: each filter has "
                    f"{ls.f}·{ls.f}·3 weights and one bias.")
        with st.container(border=True):
            st.markdown(f"The course's example: 10 filters of 3×3×3 → **{layer_params_formula(3, 3, 10)}** "
                        "parameters, on a 6×6 image or a 1000×1000 one alike: the parameters don't depend on "
                        "the input's size (that is what lets a CNN read big images).")
            st.button("Use the course's layer", on_click=use_course_example, key="_w_cl_v_course",
                      icon=":material/school:")
    try:
        weights, biases = bank_weights(rows, ls.f, seed=int(state.get(state.SEED)))
        steps = conv_steps(to_chw(inp.rgb), weights, biases, ls.stride, ls.padding,
                           activation="relu" if ls.relu else None)
    except ValueError as e:
        st.error(str(e), icon=":material/error:")
        return
    n_k, h_out, w_out = steps.out_shape
    st.markdown(f"Output volume **{h_out}×{w_out}×{n_k}** — it does grow with the input: {h_out}·{w_out}·{n_k} = "
                f"{steps.output.size:,} values, each costing {ls.f}·{ls.f}·3 = {steps.taps} multiplications.")
    titles = [row.title(k) for k, row in enumerate(rows)]

    @st.fragment(run_every=play_interval("volume"))
    def walk() -> None:
        k = 0
        if n_k > 1:
            k = st.segmented_control("filter to follow", list(range(n_k)), format_func=lambda q: titles[q],
                                     default=0, required=True, key="_w_cl_v_pick")
        i, j = stepper_ui("volume", (h_out, w_out))
        step = steps.step(k, i, j)
        st.plotly_chart(cf.channels_figure(steps.x_padded, steps.padding, (step.rows, step.cols)), config=CONFIG,
                        key="cl_vol_channels")
        detail, numbers = st.columns([3, 2])
        detail.plotly_chart(cf.step_figure(step, cf.CHANNEL_NAMES, height_per_row=170), config=CONFIG,
                            key="cl_vol_step")
        with numbers:
            st.markdown(f"**Filter {titles[k]}** at output [{i}, {j}]:")
            st.markdown("  \n".join(f"{ch}: Σ = {fmt(v)}" for ch, v in zip("RGB", step.channel_sums, strict=True)))
            a, b = st.columns(2)
            a.metric("Σ over R, G, B", fmt(step.total))
            b.metric("z = Σ + b", fmt(step.z), help=f"bias b = {fmt(step.bias)}")
            relu = f"ReLU(z) = max(0, {fmt(step.z)}) = **{fmt(step.value)}**" if ls.relu else \
                f"no activation: **{fmt(step.value)}**"
            st.markdown(f"{relu} → channel {k + 1} of the output, at [{i}, {j}].")
        st.plotly_chart(cf.feature_maps_figure(steps.output, (k, i, j), titles), config=CONFIG, key="cl_vol_maps")

    walk()
    with st.expander(f"All {plural(n_k, 'filter')}, channel by channel"):
        st.plotly_chart(cf.filter_bank_figure(steps.kernel, titles), config=CONFIG, key="cl_vol_bank")
