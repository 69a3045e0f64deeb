"""Convolution lab: what a convolution computes and why its output has its size — padding, stride, volumes, filters,
one CNN layer, pooling, and convolution vs cross-correlation — step by step, on number grids and on photos."""

import numpy as np
import streamlit as st

from engine.conv.arithmetic import explain_same_padding, layer_params, layer_params_formula, output_size_formula
from engine.conv.coverage import coverage
from engine.conv.filters import make_filter, random_filter
from engine.conv.pooling import pool_reference
from engine.conv.reference import conv_steps
from engine.media.images import to_chw
from playground import state
from playground.conv_lab import ui
from playground.figures import conv as cf

CONFIG = cf.plotly_config()
TABS = ["Convolution", "Volumes & one CNN layer", "Pooling", "Convolution or cross-correlation?"]


def _num(v: float) -> str:
    return f"{float(v):.4g}".replace("-", "−")


def _window_text(rows, cols, in_input) -> str:
    """Where the window lies, in the input's coordinates (padding rows/columns are < 0 or ≥ n)."""
    on_pad = int((~in_input).sum())
    text = f"input rows {rows.min()}…{rows.max()}, columns {cols.min()}…{cols.max()}"
    return text + (f" ({on_pad} of its taps on the zero padding)" if on_pad else "")


# --------------------------------------------------------------------------------------------------- 1. convolution


def convolution_tab(inp: ui.LabInput) -> None:
    st.markdown(
        "A **filter** is a small grid of weights. Laid on the image, each weight multiplies the pixel under it and "
        "the products are **summed**: one output number. Sliding the filter across gives the output grid — an "
        "edge detector lights up on edges, a blur averages. A CNN *learns* these weights. Without padding the "
        "output shrinks and border pixels are read less often than central ones; **padding** with zeros counters "
        "both, and a **stride** s skips positions."
    )
    cs = ui.conv_settings_ui()
    try:
        kernel = ui.kernel_ui(cs.filter, cs.f)
        formula = output_size_formula(inp.n, cs.f, cs.padding, cs.stride, cs.dilation)
    except ValueError as e:
        st.error(str(e), icon=":material/error:")
        return
    x = to_chw(inp.image)  # (C, n, n)
    n_c = x.shape[0]
    weights = [[kernel] * n_c]  # (1, C, f, f): on RGB the same f×f weights on every channel
    steps = conv_steps(x, weights, [cs.bias], cs.stride, cs.padding, cs.dilation)
    cov = coverage(inp.n, cs.f, cs.padding, cs.stride, cs.dilation)
    _, h_out, w_out = steps.out_shape

    m = st.columns([1.3, 1.3, 5], vertical_alignment="center")
    m[0].metric("output size", f"{h_out}×{w_out}")
    m[1].metric("filter", f"{cs.f}×{cs.f}×{n_c}")
    general = "⌊(n + 2p − f)/s⌋ + 1" if cs.dilation == 1 else "⌊(n + 2p − d(f − 1) − 1)/s⌋ + 1"
    m[2].markdown(f"n_out = {general}  \n= **{formula}**  \nwith n = {inp.n}, f = {cs.f}, "
                  f"{cs.padding_text()}, s = {cs.stride}" + (f", d = {cs.dilation}" if cs.dilation > 1 else ""))
    st.caption(ui.filter_about(cs.filter) + (" On an RGB input the filter is f×f×3, here with the same weights on "
                                             "each channel (the next tab lets them differ)." if n_c == 3 else ""))
    if cs.padding == "same":
        st.caption(explain_same_padding(cs.f, cs.dilation))
    never = cf.Overlay(cov == 0, cf.NEVER, "never read by any window")
    names = list(cf.CHANNEL_NAMES) if n_c == 3 else None
    in_title = f"input: {inp.label}" + (", zero-padded" if any(steps.padding) else "")

    @st.fragment(run_every=ui.play_interval("conv"))
    def walk() -> None:
        i, j = ui.stepper_ui("conv", (h_out, w_out))
        step = steps.step(0, i, j)
        left, right = st.columns(2)
        left.plotly_chart(cf.input_figure(steps.x_padded, steps.padding, (step.rows, step.cols), [never],
                                          title=in_title), config=CONFIG, key="cl_conv_input")
        right.plotly_chart(cf.output_figure(steps.output[0], (i, j), title=f"output {h_out}×{w_out}"),
                           config=CONFIG, key="cl_conv_output")
        detail, numbers = st.columns([3, 2])
        detail.plotly_chart(cf.step_figure(step.window, step.kernel, step.products, step.in_input, names),
                            config=CONFIG, key="cl_conv_step")
        with numbers:
            where = _window_text(step.rows, step.cols, step.in_input)
            st.markdown(f"**Output [{i}, {j}]** comes from the window on {where}.")
            a, b = st.columns(2)
            a.metric("Σ products", _num(step.total))
            b.metric(f"output [{i}, {j}]", _num(step.value), help="Σ products + bias b")
            st.caption(f"output = Σ products + bias b = {_num(step.total)} + {_num(step.bias)} = {_num(step.value)}")
            if n_c == 3:
                st.markdown(" + ".join(f"{ch} {_num(step.products[k].sum())}" for k, ch in enumerate("RGB"))
                            + f" = {_num(step.total)}")
            st.code(step.expression(), language=None, wrap_lines=True)

    walk()

    st.subheader("Which pixels the windows read")
    left, right = st.columns([3, 2])
    left.plotly_chart(cf.coverage_figure(cov, title="how many windows read each input pixel"), config=CONFIG,
                      key="cl_conv_coverage")
    with right:
        corner, centre = int(cov[0, 0]), int(cov[inp.n // 2, inp.n // 2])
        st.markdown(f"A corner pixel is read by **{corner}** window{'s' * (corner != 1)}, a central one by "
                    f"**{centre}**. " + ("Without padding the borders take part in fewer sums: what happens at "
                                         "the edge of the image counts less. Padding evens this out."
                                         if corner < centre else ""))
        lost = int((cov == 0).sum())
        if lost:
            st.markdown(f":red[**{lost} of {inp.n * inp.n} pixels ({lost / inp.n ** 2:.0%}) are never read**] "
                        "(red): with this stride the windows jump over them, or the last window stops before the "
                        "edge. Their information is thrown away.")
        else:
            st.markdown("Every pixel is read by at least one window.")


# --------------------------------------------------------------------------------------------------- 2. volumes


def volume_tab(inp: ui.LabInput) -> None:
    st.markdown(
        "A colour image is a **volume** n×n×3, and a filter reading it is just as deep: **f×f×3**. At each "
        "position all f·f·3 products are summed into **one** number, so one filter gives one output channel "
        "whatever the input's depth. **K filters** give K channels, stacked into an H′×W′×K volume. **One CNN "
        "layer** is that convolution, plus one bias per filter, then an activation: relu(W ∗ a + b), like a dense "
        "layer whose weights are shared across positions."
    )
    if not inp.distinct_channels:
        st.info("This input's three channels are equal (it is gray). Choose **a photo** in colour above "
                "(astronaut, chelsea, coffee, rocket) to see them differ.", icon=":material/palette:")
    ls = ui.layer_settings_ui()
    editor, facts = st.columns([3, 2], gap="large")
    with editor:
        rows = ui.bank_ui(ls.k)
    with facts:
        st.metric("parameters of this layer", f"{layer_params(ls.f, 3, ls.k):,}")
        st.markdown(f"(f·f·n_c + 1)·K = **{layer_params_formula(ls.f, 3, ls.k)}**: each filter has "
                    f"{ls.f}·{ls.f}·3 weights and one bias.")
        with st.container(border=True):
            st.markdown(f"The course's example: 10 filters of 3×3×3 → **{layer_params_formula(3, 3, 10)}** "
                        "parameters, on a 6×6 image or a 1000×1000 one alike: the parameters don't depend on "
                        "the input's size (that is what lets a CNN read big images).")
            st.button("Use the course's layer", on_click=ui.use_course_example, key="_w_cl_v_course",
                      icon=":material/school:")
    x = to_chw(inp.rgb)  # (3, n, n)
    try:
        weights, biases = ui.bank_weights(rows, ls.f)
        steps = conv_steps(x, weights, biases, ls.stride, ls.padding, activation="relu" if ls.relu else None)
    except ValueError as e:
        st.error(str(e), icon=":material/error:")
        return
    n_k, h_out, w_out = steps.out_shape
    st.markdown(f"Output volume **{h_out}×{w_out}×{n_k}** — it does grow with the input: {h_out}·{w_out}·{n_k} = "
                f"{h_out * w_out * n_k:,} values, each costing {ls.f}·{ls.f}·3 = {ls.f * ls.f * 3} multiplications.")
    titles = [f"{k + 1}: {r['filter']}" + ("" if r["channels"] == "all" else f" ({r['channels']})")
              for k, r in enumerate(rows)]

    @st.fragment(run_every=ui.play_interval("volume"))
    def walk() -> None:
        k = 0
        if n_k > 1:
            k = st.segmented_control("filter to follow", list(range(n_k)), format_func=lambda q: titles[q],
                                     default=0, required=True, key="_w_cl_v_pick")
        i, j = ui.stepper_ui("volume", (h_out, w_out))
        step = steps.step(k, i, j)
        st.plotly_chart(cf.channels_figure(steps.x_padded, steps.padding, (step.rows, step.cols)), config=CONFIG,
                        key="cl_vol_channels")
        detail, numbers = st.columns([3, 2])
        detail.plotly_chart(cf.step_figure(step.window, step.kernel, step.products, step.in_input,
                                           cf.CHANNEL_NAMES, height_per_row=170), config=CONFIG, key="cl_vol_step")
        with numbers:
            st.markdown(f"**Filter {titles[k]}** at output [{i}, {j}]:")
            st.markdown("  \n".join(f"{ch}: Σ = {_num(step.products[c].sum())}" for c, ch in enumerate("RGB")))
            a, b = st.columns(2)
            a.metric("Σ over R, G, B", _num(step.total))
            b.metric("z = Σ + b", _num(step.z), help=f"bias b = {_num(step.bias)}")
            relu = f"ReLU(z) = max(0, {_num(step.z)}) = **{_num(step.value)}**" if ls.relu else \
                f"no activation: **{_num(step.value)}**"
            st.markdown(f"{relu} → channel {k + 1} of the output, at [{i}, {j}].")
        st.plotly_chart(cf.feature_maps_figure(steps.output, (k, i, j), titles), config=CONFIG, key="cl_vol_maps")

    walk()
    with st.expander(f"All {n_k} filters, channel by channel"):
        st.plotly_chart(cf.filter_bank_figure(steps.kernel, titles), config=CONFIG, key="cl_vol_bank")


# --------------------------------------------------------------------------------------------------- 3. pooling


def pooling_tab(inp: ui.LabInput) -> None:
    st.markdown(
        "**Pooling** slides a window of size f with stride s like a convolution, but takes the **maximum** (max "
        "pooling) or the **mean** (average pooling) of each window, one channel at a time: the number of channels "
        "stays. Its f and s are chosen, not learned, and it is usually not padded: **pooling has no parameters** — "
        "backpropagation has nothing to update there. Max pooling keeps the strongest response in each region."
    )
    x = to_chw(inp.image)
    ps, channel = ui.pool_settings_ui(x.shape[0])
    try:
        formula = output_size_formula(inp.n, ps.f, 0, ps.s)
        out, where = pool_reference(x[channel], ps.f, ps.s, ps.mode)
    except ValueError as e:
        st.error(str(e), icon=":material/error:")
        return
    cov = coverage(inp.n, ps.f, 0, ps.s)
    h_out, w_out = out.shape
    m = st.columns([1.3, 1.3, 5], vertical_alignment="center")
    m[0].metric("output size", f"{h_out}×{w_out}")
    m[1].metric("parameters", "0")
    m[2].markdown(f"n_out = ⌊(n + 2p − f)/s⌋ + 1  \n= **{formula}**  \nwith n = {inp.n}, f = {ps.f}, p = 0, "
                  f"s = {ps.s}" + (f"; each of the {x.shape[0]} channels is pooled on its own" if x.shape[0] > 1
                                   else ""))
    overlays = [cf.Overlay(cov == 0, cf.NEVER, "never read by any window")]
    if where is not None:
        overlays.insert(0, cf.Overlay(cf.argmax_mask(where, (inp.n, inp.n)), cf.ARGMAX, "where a maximum came from"))
    img = x[channel][None]  # (1, n, n)

    @st.fragment(run_every=ui.play_interval("pool"))
    def walk() -> None:
        i, j = ui.stepper_ui("pool", (h_out, w_out))
        rows, cols = i * ps.s + np.arange(ps.f), j * ps.s + np.arange(ps.f)
        star = tuple(int(v) for v in where[i, j]) if where is not None else None
        left, right = st.columns(2)
        left.plotly_chart(cf.input_figure(img, (0, 0, 0, 0), (rows, cols), overlays, star=star,
                                          title=f"input: {inp.label}"), config=CONFIG, key="cl_pool_input")
        right.plotly_chart(cf.output_figure(out, (i, j), title=f"{ps.mode} pooled {h_out}×{w_out}"), config=CONFIG,
                           key="cl_pool_output")
        window = img[0][rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
        best = (star[0] - rows[0], star[1] - cols[0]) if star is not None else None
        detail, numbers = st.columns([2, 3])
        detail.plotly_chart(cf.pool_window_figure(window, best, f"window at output [{i}, {j}]"), config=CONFIG,
                            key="cl_pool_window")
        with numbers:
            if star is not None:
                st.markdown(f"**max = {_num(out[i, j])}**, from input row {star[0]}, column {star[1]} (the star; on "
                            "a tie, the first in reading order, as PyTorch). In backpropagation only that pixel "
                            "gets the gradient.")
            else:
                st.markdown(f"**mean** = Σ/{ps.f * ps.f} = {_num(window.sum())}/{ps.f * ps.f} = "
                            f"**{_num(out[i, j])}**: every pixel of the window counts equally.")
            st.metric(f"output [{i}, {j}]", _num(out[i, j]))

    walk()


# --------------------------------------------------------------------------------------------------- 4. flip


def flip_tab(inp: ui.LabInput) -> None:
    st.markdown(
        "In mathematics a **convolution** first rotates the filter by 180° (flips it up-down and left-right), then "
        "slides it. Deep-learning libraries skip the flip and compute a **cross-correlation** — and still call it "
        "convolution. Nothing is lost: the filter is *learned*, so if the flipped filter were the useful one, "
        "training would learn that one instead, and the flip is one operation saved. The flip matters in signal "
        "processing, where it makes convolution associative, (A ∗ B) ∗ C = A ∗ (B ∗ C), and commutative — "
        "properties a stack of layers with nonlinearities in between never uses."
    )
    name, flip = ui.flip_settings_ui()
    kernel = random_filter(3, seed=int(state.get(state.SEED))) if name == "random" else make_filter(name, 3)
    x = ui.gray_input(inp)
    xcorr = conv_steps(x, kernel, padding="same")
    conv = conv_steps(x, kernel, padding="same", flip=True)
    applied = conv if flip else xcorr
    left, right = st.columns([2, 3], gap="large")
    left.plotly_chart(cf.kernels_figure([("the filter", kernel), ("as applied: " + ("rotated 180°" if flip else
                                                                                   "not flipped"),
                                                                  applied.kernel[0, 0])]), config=CONFIG,
                      key="cl_flip_kernels")
    diff = abs(conv.output - xcorr.output).max()
    with right:
        st.metric("largest |convolution − cross-correlation|", _num(diff))
        if diff == 0:
            st.markdown("This filter is the same after a 180° rotation, so **both give the same output**: for "
                        "symmetric filters (blurs, the Laplacian, sharpen) the distinction doesn't exist.")
        else:
            st.markdown("The outputs differ: rotated, this filter responds to the mirrored pattern — an edge "
                        "filter then reports the opposite edge with the opposite sign. A network would simply "
                        "learn the rotated weights if it needed them.")
        st.caption(f"Computed on {inp.label} in gray, with 'same' padding. Toggle the flip and watch which output "
                   "the step below uses.")
    st.plotly_chart(cf.compare_figure(("cross-correlation (PyTorch's conv2d)", xcorr.output[0]),
                                      ("true convolution (flipped filter)", conv.output[0]),
                                      "difference: convolution − cross-correlation"), config=CONFIG,
                    key="cl_flip_compare")
    i = j = min(applied.out_shape[1], applied.out_shape[2]) // 2
    step = applied.step(0, i, j)
    detail, numbers = st.columns([3, 2])
    detail.plotly_chart(cf.step_figure(step.window, step.kernel, step.products, step.in_input), config=CONFIG,
                        key="cl_flip_step")
    with numbers:
        st.markdown(f"At the centre, output [{i}, {j}], with the filter {'rotated' if flip else 'as it is'}:")
        st.code(step.expression(), language=None, wrap_lines=True)


# --------------------------------------------------------------------------------------------------- page

st.title("Convolution lab")
st.caption("The first week of the course, to play with: what a convolution computes, why its output has the size it "
           "has, how filters stack into a CNN layer, and what pooling does — on numbers you can read and on photos.")
with st.container(border=True):
    inp = ui.input_ui()
if inp is None:
    st.stop()

tabs = st.tabs(TABS, key="_w_cl_tab", on_change=ui.stop_playing)  # a callable: lazy tabs, only the open one runs
for tab, draw in zip(tabs, (convolution_tab, volume_tab, pooling_tab, flip_tab), strict=True):
    if tab.open:
        with tab:
            draw(inp)
