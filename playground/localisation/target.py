"""The target vector y of classification with localisation (course notes 1.3.1), hands on: a scene of the set with
its box, the user's own box, class and "there is an object" switch, the y they make (``engine.detection.target
.encode``); then a prediction ŷ the user writes (p̂_c, a box, class probabilities) and every loss term
(``loss_terms``), with the rule in sight: with p_c = 0 only the p_c term counts."""

from __future__ import annotations

import math

import streamlit as st
import torch

from engine.detection import target as T
from playground import state
from playground.figures import detection as figs
from playground.figures.primitives import plotly_config
from playground.localisation.picker import index_ui, pick_set
from playground.training.common import PERSIST

K = "_w_loc_box_"  # widget keys of this editor start so


def _fill(box: list[float], present: bool, label: int, classes: tuple[str, ...], size: int) -> None:
    """Put the scene's own label into the editor's widgets, and a prediction a little off it. (The widgets take their
    values from here only: given a default too, Streamlit would log a warning each time one is refilled.)"""
    s = st.session_state
    s[K + "present"], s[K + "class"] = present, classes[max(label, 0)]
    x0, y0, x1, y1 = box if present else (size / 4, size / 4, 3 * size / 4, 3 * size / 4)
    s[K + "x"], s[K + "y"] = (int(x0), int(x1)), (int(y0), int(y1))
    shift = min(4, size - int(x1))
    s[K + "px"], s[K + "py"] = (int(x0) + shift, int(x1) + shift), (int(y0), int(y1))
    s[K + "p"] = 0.9 if present else 0.3
    for k in range(len(classes)):
        s[f"{K}c{k}"] = 0.6 if present and k == label else round(0.4 / max(len(classes) - 1, 1), 2)


def box_target_ui(seed: int) -> None:
    picked = pick_set("scenes", seed)
    train = picked.data.train
    classes, size = train.classes, int(train.images.shape[-1])
    left, right = st.columns([2, 3], gap="large")
    with left:
        i = index_ui("Scene", len(train), K + "index")
        boxes, labels = train.targets.boxes[i], train.targets.labels[i]
        present, label = len(boxes) == 1, int(labels[0]) if len(labels) else -1
        seeded = state.get(state.LOC_SEEDED, {})
        here = ("scenes", seed, i)
        if seeded.get("box") != here or K + "x" not in st.session_state:
            _fill(boxes[0].tolist() if present else [], present, label, classes, size)
            seeded["box"] = here
        st.button("Back to the scene's own label", key=K + "reset", icon=":material/restart_alt:",
                  on_click=_fill, args=(boxes[0].tolist() if present else [], present, label, classes, size))
        st.markdown("**The label y** — move the box, change the class, take the object away")
        has = st.toggle("there is an object (p_c = 1)", key=K + "present", persist_state=PERSIST)
        name = st.segmented_control("its class", list(classes), key=K + "class", required=True,
                                    persist_state=PERSIST, disabled=not has)
        x = st.slider("box: left and right edge (pixels)", 0, size, key=K + "x", persist_state=PERSIST,
                      disabled=not has)
        y = st.slider("box: top and bottom edge (pixels)", 0, size, key=K + "y", persist_state=PERSIST,
                      disabled=not has)
    box = torch.tensor([[x[0], y[0], x[1], y[1]]], dtype=torch.float32)  # xyxy, as the sliders say
    cls = classes.index(name) if has else -1
    y_vec = T.encode(torch.tensor([has]), box, torch.tensor([cls]), len(classes), size)  # (1, 5 + K)
    image = train.images[i : i + 1].numpy()
    with right:
        marks = [figs.Marks("y's box", figs.TRUE_COLOR, boxes=[box[0].tolist() if has else None], centres=True)]
        title = f"scene {i}: " + (f"a {classes[label]}" if present else "no object")
        st.plotly_chart(figs.image_marks(image, marks, [title], zoom=7, axes=True), width="content",
                        config=plotly_config(), key="loc_box_scene")
        st.dataframe(figs.y_table(y_vec[0].tolist(), classes, has), hide_index=True, key="loc_y_table",
                     column_config={"y": st.column_config.NumberColumn(format="%.4f")})
        st.caption(f"The box's centre (the cross) and size as fractions of the image's {size}-pixel side: "
                   f"b_x = centre x / {size}, b_h = height / {size}. One c per class, 1 for the object's.")
    _prediction_ui(image, box, y_vec, classes, size, has)


def _prediction_ui(image, box: torch.Tensor, y_vec: torch.Tensor, classes: tuple[str, ...], size: int,
                   has: bool) -> None:
    st.markdown("**A prediction ŷ and its loss** — write what a network might output")
    left, right = st.columns([2, 3], gap="large")
    with left:
        p = st.slider("p̂_c: the probability that there is an object", 0.0, 1.0, step=0.01, key=K + "p",
                      persist_state=PERSIST)
        px = st.slider("ŷ's box: left and right edge", 0, size, key=K + "px", persist_state=PERSIST)
        py = st.slider("ŷ's box: top and bottom edge", 0, size, key=K + "py", persist_state=PERSIST)
        st.caption("Class probabilities ĉ (made to sum to 1):")
        cols = st.columns(len(classes))
        probs = [c.slider(name, 0.0, 1.0, step=0.05, key=f"{K}c{k}", persist_state=PERSIST)
                 for k, (c, name) in enumerate(zip(cols, classes, strict=True))]
    if sum(probs) <= 0:
        left.warning("At least one class probability must be above 0; the probabilities are shares of their sum.")
        return
    pred_box = torch.tensor([[px[0], py[0], px[1], py[1]]], dtype=torch.float32)
    raw = T.raw_prediction(torch.tensor([p]), pred_box, torch.tensor([probs]), size)
    terms = T.loss_terms(raw, y_vec).means()
    p_hat, _, q = T.decode(raw, size)
    y_hat = [float(p_hat[0]), *T.box_fractions(pred_box, size)[0].tolist(), *q[0].tolist()]
    weights = {n: T.BOX_WEIGHT for n in ("b_x", "b_y", "b_h", "b_w")}
    with right:
        marks = [figs.Marks("y's box", figs.TRUE_COLOR, boxes=[box[0].tolist() if has else None]),
                 figs.Marks("ŷ's box", figs.PRED_COLOR, boxes=[pred_box[0].tolist()], dash="dash")]
        st.plotly_chart(figs.image_marks(image, marks, zoom=5, axes=True), width="content", config=plotly_config(),
                        key="loc_box_pred")
        cols = st.columns(2)
        cols[0].metric("total loss", f"{terms['total']:.4f}")
        iou = float(T.iou(pred_box, box)[0]) if has else math.nan
        cols[1].metric("IoU of ŷ's box with y's", f"{iou:.3f}" if math.isfinite(iou) else "—",
                       help="Not part of the loss; how detection results are judged (≥ 0.5 usually counts).")
    st.dataframe(figs.loss_table(y_vec[0].tolist(), y_hat, terms, weights, classes), hide_index=True,
                 key="loc_loss_table", column_config={
                     "loss": st.column_config.NumberColumn(format="%.4f"),
                     "adds to the total": st.column_config.NumberColumn(format="%.4f")})
    if has:
        st.caption(f"p_c = 1: every term counts. The box terms are weighted {T.BOX_WEIGHT:g}× (squared errors of "
                   f"fractions are small beside the others; YOLO weights its coordinates the same way).")
    else:
        st.info("p_c = 0: there is no object, so only the p_c term counts — the box and the class ŷ says are "
                "ignored, whatever they are. Move ŷ's box: the total does not change. Move p̂_c: it does.",
                icon=":material/info:")
