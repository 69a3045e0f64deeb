"""How a localisation or landmark run does on held-out images — shared by the localisation page and the Training
page's evaluation: predicted (one colour) and true (another) boxes on a grid of validation scenes with each IoU and
class, the IoU distribution and the presence and class accuracies; for landmarks the predicted and true points with
each image's error and the error distribution.

Positions in an evaluation are in the network input's pixels (docs/tasks-and-jobs.md); they are drawn on the stored
images, scaled by the images' side over the input's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import streamlit as st
import torch

from engine.detection.tasks import IOU_CORRECT, PRESENT, LandmarkEvaluation, LocaliseEvaluation
from engine.units import plural
from playground.figures import detection as figs
from playground.figures.primitives import plotly_config

GRID = 24  # validation images on a grid
STATIC = {"displayModeBar": False}
ORDERS = {"first": "in order", "worst": "worst first"}


def evaluation_ui(ev: Any, images: torch.Tensor, input_shape: Sequence[int], names: Sequence[str], key: str) -> bool:
    """Draw the views of a localisation or landmark evaluation of the validation ``images`` ``(N, C, H, W)`` (their
    targets' ``names``: classes or landmarks) for a network whose input is ``input_shape``; False for another kind of
    evaluation. ``key`` keeps the widgets of several views apart."""
    scale = images.shape[-1] / input_shape[-1]
    if isinstance(ev, LocaliseEvaluation):
        localise_ui(ev, images, names, scale, key)
    elif isinstance(ev, LandmarkEvaluation):
        landmarks_ui(ev, images, names, scale, key)
    else:
        return False
    return True


def _order(n: int, key: str, ev: LocaliseEvaluation | LandmarkEvaluation, total: int) -> list[int]:
    order = st.segmented_control("Show", list(ORDERS), format_func=ORDERS.get, default="first", required=True,
                                 key=f"_w_{key}_view_order", help="The first validation images, or the ones the "
                                 "network gets most wrong.")
    return list(range(min(n, total))) if order == "first" else ev.worst(n)


# --------------------------------------------------------------------------------------------------- boxes


def localise_ui(ev: LocaliseEvaluation, images: torch.Tensor, classes: Sequence[str], scale: float, key: str) -> None:
    m = ev.metrics
    cols = st.columns(5)
    cols[0].metric("correct", f"{m['correct']:.1%}", help=f"Object or not said rightly and, with one, its class named "
                   f"and its box at IoU ≥ {IOU_CORRECT}.")
    cols[1].metric("mean IoU", f"{m['iou']:.3f}", help="Intersection over union of the predicted and true box, "
                   "averaged over the scenes with an object.")
    cols[2].metric("class accuracy", f"{m['class_accuracy']:.1%}", help="Over the scenes with an object.")
    cols[3].metric("object / no object accuracy", f"{m['presence_accuracy']:.1%}",
                   help=f"p̂_c ≥ {PRESENT} counts as 'there is an object'.")
    cols[4].metric("validation scenes", f"{len(ev.iou):,}")
    idx = _order(GRID, key, ev, len(ev.iou))
    st.plotly_chart(boxes_figure(ev, images, classes, scale, idx), width="content", config=STATIC,
                    key=f"{key}_boxes_grid")
    st.caption(f"Green: the true box; orange: the network's, drawn where it says there is an object (p̂_c ≥ "
               f"{PRESENT}). Above each scene: its true class and the IoU, then what the network says; ✓ when the "
               f"scene counts as correct.")
    present = ev.true_present
    if bool(present.any()):
        ious = ev.iou[present].numpy()
        st.plotly_chart(figs.distribution(ious, f"IoU on the {plural(len(ious), 'validation scene')} with an object",
                                          "IoU with the true box", IOU_CORRECT, f"IoU {IOU_CORRECT}", (0.0, 1.0)),
                        width="stretch", config=plotly_config(), key=f"{key}_iou_hist")


def boxes_figure(ev: LocaliseEvaluation, images: torch.Tensor, classes: Sequence[str], scale: float,
                 idx: Sequence[int]):
    said, correct = ev.present >= PRESENT, ev.correct
    true = [ev.true_boxes[i].tolist() if ev.true_present[i] else None for i in idx]
    pred = [ev.boxes[i].tolist() if said[i] else None for i in idx]
    titles = []
    for i in idx:
        ok = "✓" if correct[i] else "✗"
        if ev.true_present[i]:
            first = f"{classes[int(ev.true_labels[i])]} · IoU {float(ev.iou[i]):.2f}"
            second = f"{classes[int(ev.labels[i])]} {ok}" if said[i] else f"missed (p̂_c {float(ev.present[i]):.2f}) ✗"
        else:
            first = "no object"
            second = f"p̂_c {float(ev.present[i]):.2f} {ok}"
        titles.append(f"{first}<br>{second}")
    marks = [figs.Marks("true box", figs.TRUE_COLOR, boxes=true, scale=scale),
             figs.Marks("predicted box", figs.PRED_COLOR, boxes=pred, dash="dash", scale=scale)]
    return figs.image_marks(images[list(idx)].numpy(), marks, titles, cols=8, zoom=2)


# --------------------------------------------------------------------------------------------------- points


def landmarks_ui(ev: LandmarkEvaluation, images: torch.Tensor, names: Sequence[str], scale: float, key: str) -> None:
    m = ev.metrics
    cols = st.columns(3)
    cols[0].metric("normalised mean error", f"{m['nme']:.3f}", help="The mean distance between predicted and true "
                   "points over the distance between the eyes: 0.1 is a tenth of the eye distance.")
    cols[1].metric("mean error (input pixels)", f"{m['pixel_error']:.2f}")
    cols[2].metric("validation faces", f"{len(ev.errors):,}")
    idx = _order(GRID, key, ev, len(ev.errors))
    st.plotly_chart(points_figure(ev, images, names, scale, idx), width="content", config=STATIC,
                    key=f"{key}_points_grid")
    st.caption("Green dots: the true points; orange crosses: the network's, in the same order (hover to see which "
               "landmark each is). Above each face: its normalised error.")
    errors = ev.errors.numpy()
    st.plotly_chart(figs.distribution(errors, f"Error on the {plural(len(errors), 'validation face')}",
                                      "normalised error (mean distance / eye distance)",
                                      value_range=(0.0, max(1.0, float(np.max(errors))))),
                    width="stretch", config=plotly_config(), key=f"{key}_error_hist")


def points_figure(ev: LandmarkEvaluation, images: torch.Tensor, names: Sequence[str], scale: float,
                  idx: Sequence[int], cols: int = 8):
    marks = [figs.Marks("true points", figs.TRUE_COLOR, points=ev.true_points[list(idx)].numpy(), scale=scale),
             figs.Marks("predicted points", figs.PRED_COLOR, points=ev.points[list(idx)].numpy(), symbol="x",
                        scale=scale)]
    titles = [f"error {float(ev.errors[i]):.2f}" for i in idx]
    return figs.image_marks(images[list(idx)].numpy(), marks, titles, cols=cols, zoom=2, names=names)
