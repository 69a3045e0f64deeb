"""The IoU playground: two boxes the user moves and resizes on a 100×100 canvas, their intersection and union drawn,
the IoU live (``engine.detection.overlap``: ``torchvision.ops.box_iou``) against the rule of thumb that a box with
IoU ≥ 0.5 with the true one counts as correct."""

from __future__ import annotations

import streamlit as st

from engine.detection.overlap import overlap
from playground.figures import yolo as figs
from playground.training.common import PERSIST

SIDE = 100
RULE = 0.5  # the course's rule of thumb: IoU ≥ 0.5 is "correct"
K = "_w_yolo_iou_"
DEFAULTS = {"a": (20, 20, 40, 40), "b": (40, 35, 40, 40)}  # x, y (top-left), width, height


def _box_ui(name: str, where) -> tuple[float, float, float, float]:
    x0, y0, w0, h0 = DEFAULTS[name]
    with where:
        st.markdown(f"**Box {name.upper()}**")
        x = st.slider("left (x)", 0, SIDE - 1, x0, key=f"{K}{name}_x", persist_state=PERSIST)
        y = st.slider("top (y)", 0, SIDE - 1, y0, key=f"{K}{name}_y", persist_state=PERSIST)
        w = st.slider("width", 1, SIDE, w0, key=f"{K}{name}_w", persist_state=PERSIST)
        h = st.slider("height", 1, SIDE, h0, key=f"{K}{name}_h", persist_state=PERSIST)
    return float(x), float(y), float(min(SIDE, x + w)), float(min(SIDE, y + h))


def iou_ui() -> None:
    st.caption("IoU (intersection over union) measures how well two boxes agree: the area they share divided by "
               "the area they cover together. 1 is the same box, 0 no overlap at all. Detection uses it twice: to "
               "say whether a predicted box found an object (by convention, IoU ≥ 0.5 with the true box) and, in "
               "non-max suppression, to say whether two predictions are the same object.")
    a_col, b_col, fig_col = st.columns([1, 1, 3], gap="medium")
    a, b = _box_ui("a", a_col), _box_ui("b", b_col)
    o = overlap(a, b)
    with fig_col:
        st.plotly_chart(figs.iou_figure(a, b, o.intersection, SIDE, o.iou), key=K + "fig")
    cols = st.columns(4)
    cols[0].metric("intersection", f"{o.inter:,.0f} px²")
    cols[1].metric("union", f"{o.union:,.0f} px²")
    cols[2].metric("IoU", f"{o.iou:.3f}")
    cols[3].metric("a match? (IoU ≥ 0.5)", "yes" if o.iou >= RULE else "no",
                   help="Taking B as the true box and A as a prediction: by the rule of thumb, A found the object "
                        "when their IoU is at least 0.5.")
    st.caption(f"IoU = {o.inter:,.0f} / {o.union:,.0f} = {o.iou:.3f}. The 0.5 is a convention, not a law: a stricter "
               "benchmark asks for 0.75, and COCO's mAP@0.5:0.95 averages over thresholds from 0.5 to 0.95.")
