"""The YOLO lab's state in its link (playground/links.py): the open section, the thresholds, the scene, the grid
view's floor, the anchors explorer and the retraining settings. The detector chosen is a run of the user's (or the
bundled one) and is not in the link; neither is an uploaded picture."""

from __future__ import annotations

from playground.links import Link, choice, integer, number
from playground.yolo.anchors import KS, SCENES
from playground.yolo.settings import NMS_MODES
from playground.yolo.train import ANCHOR_COUNTS, BACKBONES, EVAL_SIZES, GRIDS, TRAIN_SIZES

TABS = ("IoU", "Grid view", "Thresholds & NMS", "Anchors", "Retrain & evaluate")

LINKS = (
    Link("_w_yolo_tab", choice(TABS), "tab"),
    Link("_w_yolo_score", number(0.0, 1.0), "score"),
    Link("_w_yolo_nms_iou", number(0.0, 1.0), "iou"),
    Link("_w_yolo_max_boxes", integer(1, 1000), "max"),
    Link("_w_yolo_nms_mode", choice(NMS_MODES), "nms"),
    Link("_w_yolo_scene", integer(0, 9999), "scene"),
    Link("_w_yolo_grid_floor", number(0.0, 1.0), "floor"),
    Link("_w_yolo_anchors_k", integer(KS.start, KS.stop - 1), "k"),
    Link("_w_yolo_anchors_scenes", choice(SCENES), "kscenes"),
    Link("_w_yolo_tr_grid", choice(GRIDS), "grid"),
    Link("_w_yolo_tr_anchors", choice(ANCHOR_COUNTS), "anchors"),
    Link("_w_yolo_tr_backbone", choice(BACKBONES), "backbone"),
    Link("_w_yolo_tr_images", choice(TRAIN_SIZES), "images"),
    Link("_w_yolo_tr_epochs", integer(1, 100), "epochs"),
    Link("_w_yolo_tr_eval_n", choice(EVAL_SIZES), "eval"),
)
