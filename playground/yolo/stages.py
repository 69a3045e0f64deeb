"""From every box to the detections, stage by stage: all B·S² boxes → those passing the score filter → those NMS
keeps (``engine.detection.yolo.select``, torchvision's NMS), with the counts; then non-max suppression one iteration
at a time (``engine.detection.nms.nms_steps``): the best box left is kept, the boxes it overlaps by more than the
threshold are suppressed (with their IoUs), repeat — checked live against ``torchvision.ops`` on the same boxes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
import torch

from engine.detection import yolo
from engine.detection.nms import nms_steps
from playground.figures import yolo as figs
from playground.yolo.detector import Detector
from playground.yolo.grid import raw_of
from playground.yolo.picture import View
from playground.yolo.settings import Thresholds

K = "_w_yolo_nms_"
KEPT, CURRENT, SUPPRESSED, LEFT = "#59a14f", "#e4572e", "#b0b0b0", "#4e79a7"


def _zoomed(view: View, side: int) -> tuple[np.ndarray, int]:
    zoom = max(1, 300 // side)
    return np.repeat(np.repeat(view.rgb, zoom, axis=0), zoom, axis=1), zoom


def _z(boxes: torch.Tensor, zoom: int) -> list:
    """Boxes in the zoomed picture's pixels; far-off boxes clamped so they do not stretch the figure."""
    return (boxes.reshape(-1, 4).clamp(-1000, 2000) * zoom).tolist()


def stages_ui(detector: Detector, view: View, th: Thresholds) -> None:
    raw = raw_of(detector, view)
    side = detector.side
    scores, boxes, labels = raw.scores[0], raw.boxes[0], raw.labels[0]
    passed = torch.nonzero(scores >= th.score).flatten()
    passed = passed[torch.argsort(scores[passed], descending=True, stable=True)]
    final = yolo.select(raw, 0, th.score, th.iou, th.max_boxes, th.per_class)
    big, zoom = _zoomed(view, side)
    names = detector.classes

    def text(i: int) -> str:
        return f"box {i}: {names[int(labels[i])]} · score {float(scores[i]):.2f}"

    cols = st.columns(3)
    order = torch.argsort(scores)
    panels = [
        (f"all boxes: {len(scores)}", [figs.Layer(_z(boxes[order], zoom), figs.score_colors(scores[order].tolist()),
                                                  texts=[text(int(i)) for i in order], width=1)], "score"),
        (f"score ≥ {th.score:.2f}: {len(passed)}",
         [figs.Layer(_z(boxes[passed], zoom), [figs.class_color(int(labels[i])) for i in passed],
                     texts=[text(int(i)) for i in passed], width=1.5)], None),
        (f"after NMS: {len(final.scores)}",
         [figs.Layer(_z(final.boxes, zoom), [figs.class_color(c) for c in final.labels.tolist()],
                     texts=[f"{names[c]} {s:.2f}" for c, s in zip(final.labels.tolist(), final.scores.tolist(),
                                                                  strict=True)], width=2.5, labels=True)], None),
    ]
    for col, (title, layers, bar) in zip(cols, panels, strict=True):
        col.plotly_chart(figs.picture(big, layers, title=title, height=340, colorbar=bar), key=K + title.split(":")[0])
    dropped = max(0, len(passed) - len(final.scores))
    st.caption(f"{len(scores)} boxes → {len(passed)} with a score of at least {th.score:.2f} → {len(final.scores)} "
               f"after non-max suppression at IoU {th.iou:.2f} ({'per class' if th.per_class else 'across classes'}"
               f", at most {th.max_boxes}): NMS removed {dropped}.")
    _steps_ui(detector, view, th, boxes[passed], scores[passed], labels[passed], passed, final)


def _steps_ui(detector: Detector, view: View, th: Thresholds, boxes: torch.Tensor, scores: torch.Tensor,
              labels: torch.Tensor, index: torch.Tensor, final: yolo.Detections) -> None:
    st.markdown("**Non-max suppression, one iteration at a time**")
    if not len(scores):
        st.info(f"No box scores {th.score:.2f} or more: lower the score threshold to have something to suppress.")
        return
    kept, steps = nms_steps(boxes, scores, th.iou, labels if th.per_class else None)
    ours = kept[:th.max_boxes]
    same = torch.equal(boxes[ours], final.boxes) and torch.equal(scores[ours], final.scores)
    n = len(steps)
    step = st.slider("Iteration", 1, n, n, key=K + "step", help="Each iteration keeps the best box left and "
                     "suppresses the boxes (of its class, per class) that overlap it by more than the threshold.") \
        if n > 1 else 1
    done = steps[:step]
    current = done[-1]
    taken = {s.kept for s in done[:-1]}
    gone = {j for s in done[:-1] for j in s.suppressed}
    left_over = [j for j in range(len(scores)) if j not in taken | gone | {current.kept} | set(current.suppressed)]
    big, zoom = _zoomed(view, detector.side)
    names = detector.classes

    def text(j: int) -> str:
        return f"box {int(index[j])}: {names[int(labels[j])]} {float(scores[j]):.2f}"

    def layer(js, color, name, dash="solid", width=1.5, labels_on=False, texts=None):
        js = list(js)
        return figs.Layer(_z(boxes[js], zoom) if js else [], color, name, texts or [text(j) for j in js], dash,
                          width, labels_on)

    iou_text = [f"IoU {v:.2f}" for v in current.ious]
    layers = [layer(left_over, LEFT, "not reached yet", "dot", 1),
              layer(sorted(taken), KEPT, "kept before", width=2),
              layer(current.suppressed, SUPPRESSED, "suppressed now", "dash", 2, True, iou_text),
              layer([current.kept], CURRENT, "kept now", width=3, labels_on=True,
                    texts=[f"{names[int(labels[current.kept])]} {current.score:.2f}"])]
    fig, table = st.columns([3, 2], gap="medium")
    fig.plotly_chart(figs.picture(big, layers, title=f"iteration {step} of {n}", height=400), key=K + "fig")
    with table:
        what = (f"keeps box {int(index[current.kept])} ({names[int(labels[current.kept])]}, score "
                f"{current.score:.2f})")
        sup = ", ".join(f"box {int(index[j])} (IoU {v:.2f})" for j, v in zip(current.suppressed, current.ious,
                                                                             strict=True))
        st.markdown(f"Iteration {step} {what}" + (f" and suppresses {sup}." if sup else "; it overlaps no box left "
                                                   f"by more than {th.iou:.2f}, so nothing is suppressed."))
        rows = [{"iteration": i + 1, "kept": f"box {int(index[s.kept])}", "class": names[int(labels[s.kept])],
                 "score": round(s.score, 3),
                 "suppressed (IoU)": ", ".join(f"{int(index[j])} ({v:.2f})" for j, v in zip(s.suppressed, s.ious,
                                                                                         strict=True)) or "—"}
                for i, s in enumerate(steps)]
        st.dataframe(pd.DataFrame(rows), hide_index=True, key=K + "table", height=260)
        fn = "torchvision.ops.batched_nms" if th.per_class else "torchvision.ops.nms"
        if same:
            st.success(f"The step-through keeps the same {len(ours)} boxes as {fn}.", icon=":material/check:")
        else:
            st.error(f"The step-through kept other boxes than {fn}: please report this.")
