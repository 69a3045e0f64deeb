"""The convolution lab's last tab: convolution or cross-correlation? The same filter applied both ways
(``engine.conv.reference.compare_flip``), and why deep learning doesn't care."""

from __future__ import annotations

import streamlit as st

from engine.conv.filters import filter_names, make_filter
from engine.conv.reference import compare_flip
from engine.media.images import to_gray
from engine.units import format_number as fmt
from playground import state
from playground.conv_lab.controls import PERSIST
from playground.conv_lab.inputs import LabInput
from playground.figures import conv as cf
from playground.figures.primitives import plotly_config

CONFIG = plotly_config()


def settings_ui() -> tuple[str, bool]:
    """A 3×3 filter to compare both ways, and whether to flip it."""
    cols = st.columns([3, 4], vertical_alignment="bottom")
    names = filter_names(3)
    name = cols[0].selectbox("filter (3×3)", names, index=names.index("sobel x"), key="_w_cl_x_filter",
                             persist_state=PERSIST)
    flip = cols[1].toggle("flip the filter: true convolution", False, key="_w_cl_x_flip", persist_state=PERSIST,
                          help="Rotate the filter by 180° before sliding it, as the mathematical definition of "
                               "convolution does.")
    return name, bool(flip)


def tab(inp: LabInput) -> None:
    st.markdown(
        "In mathematics a **convolution** first rotates the filter by 180° (flips it up-down and left-right), then "
        "slides it. Deep-learning libraries skip the flip and compute a **cross-correlation** — and still call it "
        "convolution. Nothing is lost: the filter is *learned*, so if the flipped filter were the useful one, "
        "training would learn that one instead, and the flip is one operation saved. The flip matters in signal "
        "processing, where it makes convolution associative, (A ∗ B) ∗ C = A ∗ (B ∗ C), and commutative — "
        "properties a stack of layers with nonlinearities in between never uses."
    )
    name, flip = settings_ui()
    kernel = make_filter(name, 3, seed=int(state.get(state.SEED)))
    both = compare_flip(to_gray(inp.image), kernel)
    applied = both.convolution if flip else both.cross_correlation
    left, right = st.columns([2, 3], gap="large")
    left.plotly_chart(cf.kernels_figure([("the filter", kernel), ("as applied: " + ("rotated 180°" if flip else
                                                                                   "not flipped"),
                                                                  applied.kernel[0, 0])]), config=CONFIG,
                      key="cl_flip_kernels")
    with right:
        st.metric("largest |convolution − cross-correlation|", fmt(both.largest_difference))
        if both.largest_difference == 0:
            st.markdown("This filter is the same after a 180° rotation, so **both give the same output**: for "
                        "symmetric filters (blurs, the Laplacian, sharpen) the distinction doesn't exist.")
        else:
            st.markdown("The outputs differ: rotated, this filter responds to the mirrored pattern — an edge "
                        "filter then reports the opposite edge with the opposite sign. A network would simply "
                        "learn the rotated weights if it needed them.")
        st.caption(f"Computed on {inp.label} in gray, with 'same' padding. Toggle the flip and watch which output "
                   "the step below uses.")
    st.plotly_chart(cf.compare_figure(("cross-correlation (PyTorch's conv2d)", both.cross_correlation.output[0]),
                                      ("true convolution (flipped filter)", both.convolution.output[0]),
                                      "difference: convolution − cross-correlation"), config=CONFIG,
                    key="cl_flip_compare")
    i, j = both.centre
    step = applied.step(0, i, j)
    detail, numbers = st.columns([3, 2])
    detail.plotly_chart(cf.step_figure(step), config=CONFIG, key="cl_flip_step")
    with numbers:
        st.markdown(f"At the centre, output [{i}, {j}], with the filter {'rotated' if flip else 'as it is'}:")
        st.code(step.expression(), language=None, wrap_lines=True)
