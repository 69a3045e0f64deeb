"""Non-maximum suppression, one iteration at a time (course notes 1.3.5.3), for a page to show: take the best box
left, keep it, discard every remaining box that overlaps it by more than the IoU threshold, repeat.

Its result equals ``torchvision.ops.nms`` (class-agnostic) and ``torchvision.ops.batched_nms`` (per class: boxes of
different classes never suppress each other) — same kept boxes, best score first (tested against both); detection
itself (``engine.detection.yolo``) calls torchvision. A box is suppressed when its IoU with a kept box is strictly
greater than the threshold, as in torchvision; IoU is ``torchvision.ops.box_iou``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torchvision.ops import box_iou


@dataclass(frozen=True)
class NmsStep:
    """One iteration: the box ``kept`` (an index into the input), its ``score``, and the boxes it ``suppressed``
    (indices, best score first) with their ``ious`` with it."""

    kept: int
    score: float
    suppressed: tuple[int, ...]
    ious: tuple[float, ...]


def nms_steps(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, labels: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, list[NmsStep]]:
    """NMS of ``boxes`` ``(N, 4)`` ``xyxy`` with ``scores`` ``(N,)``: (the kept indices ``(K,)`` int64, best score
    first; one ``NmsStep`` per kept box). With ``labels`` ``(N,)``, per class (``batched_nms``); without,
    class-agnostic (``nms``). Equal scores are taken in index order."""
    if boxes.ndim != 2 or boxes.shape[-1] != 4 or scores.shape != boxes.shape[:1]:
        raise ValueError(f"boxes must be (N, 4) and scores (N,), got {tuple(boxes.shape)} and {tuple(scores.shape)}")
    if labels is not None and labels.shape != scores.shape:
        raise ValueError(f"labels must be (N,) like the scores, got {tuple(labels.shape)}")
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"the IoU threshold must lie in [0, 1], got {iou_threshold!r}")
    order = torch.sort(scores, descending=True, stable=True).indices.tolist()
    iou = box_iou(boxes, boxes)  # (N, N)
    alive = torch.ones(len(scores), dtype=torch.bool)
    steps: list[NmsStep] = []
    for i in order:
        if not alive[i]:
            continue
        rivals = [j for j in order if alive[j] and j != i and (labels is None or labels[j] == labels[i])]
        hit = [j for j in rivals if iou[i, j] > iou_threshold]
        alive[i] = False  # taken: kept
        alive[hit] = False
        steps.append(NmsStep(i, float(scores[i]), tuple(hit), tuple(float(iou[i, j]) for j in hit)))
    return torch.tensor([s.kept for s in steps], dtype=torch.int64), steps
