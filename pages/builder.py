"""CNN builder: compose a network from blocks and watch every layer's shape, parameters and cost as you edit."""

import streamlit as st

from engine.nets.codegen import codegen
from engine.nets.lessons import bottleneck_lesson
from engine.nets.spec import NetworkSpec, SpecError
from playground import share, state
from playground.builder import editor as builder_ui
from playground.cache import summary_of
from playground.figures import network as figures

st.title("CNN builder")
st.caption("Build a network from layer blocks. Input channels and in-features are inferred; shapes come from PyTorch "
           "itself. This is the network the other pages use.")

share.load_from_url()
builder_ui.start_ui()
spec = state.spec()
s = summary_of(spec)

totals_box = st.container()
left, right = st.columns([5, 8], gap="large")
with left:
    st.subheader("Edit")
    path = builder_ui.picker_ui(s)
    builder_ui.actions_ui(path)
    if path is not None:
        builder_ui.layer_details_ui(path, s)
        builder_ui.arguments_ui(path)

# The editor's callbacks ran before this script, so everything below shows the edited network.
with totals_box:
    cols = st.columns(5)
    for col, (label, value) in zip(cols, figures.totals(s).items(), strict=True):
        col.metric(label, value)
with right:
    st.subheader("Layers")
    for message in s.errors:
        st.error(message, icon=":material/error:")
    st.dataframe(figures.summary_table(s), hide_index=True, height=560, width="stretch",
                 column_config=builder_ui.summary_columns())

st.subheader("The network, drawn")
show_all = st.toggle("show every layer (also activations, normalisation, dropout)", key="_w_draw_all")
st.plotly_chart(figures.network_figure(s, show_all), width="stretch", config={"displaylogo": False})

lesson_tab, export_tab = st.tabs(["1×1 convolutions", "Export & share"])
with lesson_tab:
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
    else:
        first = summary_of(NetworkSpec(lesson.bottleneck.spec.input, lesson.bottleneck.spec.layers[:1])).total_macs
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

with export_tab:
    code = codegen(spec) if s.ok else None
    share.export_ui(spec, code)
    uploaded = st.file_uploader("Import a spec (JSON)", type=["json"], key="_w_import",
                                help="A file exported from here, or written by hand: {\"input\": [C, H, W], "
                                     "\"layers\": [...]}. At most 1 MB.")
    if uploaded is not None:
        try:
            imported = share.read_upload(uploaded.getvalue())
        except SpecError as e:
            st.error(f"That file is not a usable spec: {e}")
        else:
            st.success(f"Read a network of {len(imported.layers)} layers on a {imported.input} input.")
            st.button("Use the imported network", on_click=share.use_spec, args=(imported,))
    st.subheader("PyTorch code")
    if code:
        st.code(code, language="python")
    else:
        st.info("Fix the marked layers to generate code.")

share.sync_url(spec)
