"""The thresholds every view of the YOLO lab uses — the score filter, NMS's IoU threshold, the most boxes kept, NMS
per class or across classes — drawn once above the sections, so the stages, the picture and the live webcam all
follow the same sliders (course notes 1.3.5.3: the course's 0.6 and 0.5 are the defaults)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from engine.detection import yolo
from playground.training.common import PERSIST

K = "_w_yolo_"
NMS_MODES = {"class": "per class", "agnostic": "across classes"}


@dataclass(frozen=True)
class Thresholds:
    score: float = yolo.SCORE_THRESHOLD
    iou: float = yolo.IOU_THRESHOLD
    max_boxes: int = yolo.MAX_BOXES
    per_class: bool = True

    def options(self) -> dict[str, Any]:
        """As ``engine.detection.yolo.detect``'s keyword arguments."""
        return {"score_threshold": self.score, "iou_threshold": self.iou, "max_boxes": self.max_boxes,
                "per_class": self.per_class}


def thresholds_ui() -> Thresholds:
    cols = st.columns([3, 3, 2, 3], vertical_alignment="bottom")
    score = cols[0].slider("Score threshold", 0.0, 1.0, yolo.SCORE_THRESHOLD, 0.01, key=K + "score",
                           persist_state=PERSIST, help="A box is kept only when its score p_c × P(class) reaches "
                           "this (the course uses 0.6).")
    iou = cols[1].slider("NMS IoU threshold", 0.0, 1.0, yolo.IOU_THRESHOLD, 0.01, key=K + "nms_iou",
                         persist_state=PERSIST, help="Non-max suppression discards a box whose IoU with a better "
                         "kept box is above this (the course uses 0.5). Lower: fewer, more distinct boxes.")
    most = cols[2].number_input("Max boxes", 1, 1000, yolo.MAX_BOXES, key=K + "max_boxes", persist_state=PERSIST,
                                help="The most boxes kept per picture after NMS, best scores first.")
    mode = cols[3].segmented_control("NMS", list(NMS_MODES), format_func=NMS_MODES.get, default="class",
                                     required=True, key=K + "nms_mode", persist_state=PERSIST,
                                     help="Per class: a box can only suppress boxes of its own class "
                                          "(torchvision.ops.batched_nms). Across classes: any overlapping box "
                                          "(torchvision.ops.nms).")
    return Thresholds(float(score), float(iou), int(most), mode != "agnostic")
