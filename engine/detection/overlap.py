"""Intersection over union of two boxes, with the parts a page draws (course notes 1.3.5.2): the intersection box,
its area and the union's. The IoU itself is ``torchvision.ops.box_iou``; the areas are those it divides.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torchvision.ops import box_area, box_iou


class Overlap(NamedTuple):
    """Two boxes' ``iou``, their ``intersection`` ``(x0, y0, x1, y1)`` (None when they do not overlap), its area
    (``inter``) and the ``union``'s area."""

    iou: float
    intersection: tuple[float, float, float, float] | None
    inter: float
    union: float


def overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> Overlap:
    """The overlap of boxes ``a`` and ``b``, each ``xyxy`` with ``x0 < x1`` and ``y0 < y1``."""
    boxes = torch.tensor([a, b], dtype=torch.float64)
    if boxes.shape != (2, 4) or bool((boxes[:, 2:] <= boxes[:, :2]).any()):
        raise ValueError(f"boxes must be (x0, y0, x1, y1) with x0 < x1 and y0 < y1, got {a!r} and {b!r}")
    lo, hi = torch.maximum(boxes[0, :2], boxes[1, :2]), torch.minimum(boxes[0, 2:], boxes[1, 2:])
    wh = (hi - lo).clamp(min=0)
    inter = float(wh[0] * wh[1])
    areas = box_area(boxes)
    iou = float(box_iou(boxes[:1], boxes[1:])[0, 0])
    corners = (*lo.tolist(), *hi.tolist()) if inter > 0 else None
    return Overlap(iou, corners, inter, float(areas.sum()) - inter)
