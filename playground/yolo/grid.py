"""The grid view: the picture as the detector sees it, cut into its S×S grid; each true object's owning cell (the one
holding its centre) filled, the anchor it is assigned (best shape IoU) drawn around its centre, its target
``(b_x, b_y, b_w, b_h)`` in a table (``engine.detection.yolo.assign``); and the raw predictions — every one of the
B·S² anchors' boxes — coloured by score, before any threshold."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import streamlit as st
import torch

from engine.detection import yolo
from playground.figures import yolo as figs
from playground.training.common import PERSIST
from playground.yolo.detector import Detector
from playground.yolo.picture import View

K = "_w_yolo_grid_"


def raw_of(detector: Detector, view: View) -> yolo.Raw:
    """Every anchor's decoded box, objectness, class probabilities and score for the view (one image)."""
    return yolo.decode(detector.raw(view.image), detector.grid, detector.side)


def grid_ui(detector: Detector, view: View, classes: tuple[str, ...]) -> None:
    g, side = detector.grid, detector.side
    raw = raw_of(detector, view)
    k = raw.scores.shape[1]
    left, right = st.columns([3, 2], gap="medium")
    with right:
        floor = st.slider("Show raw boxes scoring at least", 0.0, 1.0, 0.0, 0.01, key=K + "floor",
                          persist_state=PERSIST, help="All B·S² boxes at 0; raise it to thin them out (this is not "
                          "the detector's threshold: nothing is filtered here).")
        show_anchors = st.toggle("Each object's anchor", value=True, key=K + "anchors", persist_state=PERSIST)
    scores = raw.scores[0]
    order = torch.argsort(scores)  # best drawn last, on top
    order = order[scores[order] >= floor]
    boxes = raw.boxes[0][order].clamp(-side, 2 * side)
    texts = [f"anchor {int(i) // (g.size * g.size) + 1}, cell ({int(i) % (g.size * g.size) // g.size}, "
             f"{int(i) % g.size}): {detector.classes[int(raw.labels[0, i])]} · p_c {float(raw.objectness[0, i]):.2f}"
             f" · score {float(scores[i]):.2f}" for i in order]
    faint = (0.25 + 0.75 * scores[order]).tolist()  # the weak boxes fade: the strong ones stand out
    layers = [figs.Layer(boxes.tolist(), figs.score_colors(scores[order].tolist()), "", texts, width=1.2,
                         opacities=faint)]
    cells, rows = [], []
    if view.boxes is not None and len(view.boxes):
        a = yolo.assign(view.boxes, g, side)
        cells = list(zip(a.rows.tolist(), a.cols.tolist(), strict=True))
        layers.insert(0, figs.Layer(view.boxes.tolist(), figs.TRUTH, "true box", width=2.5))
        if show_anchors:
            centre = (view.boxes[:, :2] + view.boxes[:, 2:]) / 2
            wh = g.anchor_tensor()[a.anchors] * side
            anchor_boxes = torch.cat([centre - wh / 2, centre + wh / 2], dim=1)
            layers.append(figs.Layer(anchor_boxes.tolist(), "#ffd200", "its anchor", dash="dash", width=1.5))
        for j in range(len(view.boxes)):
            rows.append({"object": j + 1, "class": classes[int(view.labels[j])] if view.labels is not None else "",
                         "cell (row, col)": f"({int(a.rows[j])}, {int(a.cols[j])})", "anchor": int(a.anchors[j]) + 1,
                         "b_x": float(a.encoded[j, 0]), "b_y": float(a.encoded[j, 1]),
                         "b_w": float(a.encoded[j, 2]), "b_h": float(a.encoded[j, 3])})
    zoom = max(1, 400 // side)
    big = np.repeat(np.repeat(view.rgb, zoom, axis=0), zoom, axis=1)
    zoomed = [dataclasses.replace(layer, boxes=(np.asarray(layer.boxes, dtype=np.float64).reshape(-1, 4) * zoom)
                                  .tolist()) for layer in layers]
    with left:
        st.plotly_chart(figs.picture(big, zoomed, grid=g.size, cells=cells, height=460, colorbar="score"),
                        key=K + "fig")
    with right:
        st.markdown(f"**{g.size}×{g.size} grid, {len(g.anchors)} anchors a cell: {k} boxes** ({len(order)} shown), "
                    f"each with p_c, {len(detector.classes)} class probabilities and a score p_c × P(class).")
        st.caption("An object belongs to the cell holding its box's centre (filled yellow), and in it to the anchor "
                   "whose shape overlaps its shape best (dashed). Its target is (b_x, b_y) — the centre within the "
                   "cell, from 0 to 1 — and (b_w, b_h), the size in cells, which may exceed 1. Hover a box's centre "
                   "for its anchor, cell and score.")
        anchors = ", ".join(f"{w * side:.0f}×{h * side:.0f}" for w, h in g.anchors)
        st.caption(f"Anchors (pixels): {anchors}.")
        if rows:
            st.dataframe(pd.DataFrame(rows).style.format({c: "{:.2f}" for c in ("b_x", "b_y", "b_w", "b_h")}),
                         hide_index=True, key=K + "table")
        else:
            st.caption("This picture has no known boxes: only the predictions are drawn.")
