"""The Sliding windows page's state in its link (playground/links.py): the open tab, the scene, the window size
(checked against the sizes the classifier allows where it is drawn), the stride, the threshold and the NMS IoU. The
classifier itself is a run of the user's and is not in the link."""

from __future__ import annotations

from playground.links import Link, integer, number

LINKS = (
    Link("_w_sw_scene", integer(0, 9999), "scene"),
    Link("_w_sw_window", integer(8, 512), "window"),
    Link("_w_sw_stride", integer(1, 32), "stride"),
    Link("_w_sw_threshold", number(0.05, 1.0), "threshold"),
    Link("_w_sw_iou", number(0.05, 1.0), "iou"),
)
