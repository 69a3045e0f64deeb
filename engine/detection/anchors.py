"""Anchor boxes from the data: k-means on the training boxes' shapes with ``1 − IoU`` as the distance (Redmon &
Farhadi, "YOLO9000: Better, Faster, Stronger", CVPR 2017, section 2 "Dimension Clusters"). Euclidean distance on
widths and heights would let large boxes dominate; with ``1 − IoU`` a box is near the anchor whose shape it overlaps
best, whatever its size. The mean IoU of each box with its best anchor against ``k`` is the curve YOLO v2 chose ``k``
from (k = 5 there: the knee).

Shapes are ``(w, h)`` in any one unit (fractions of the image, as ``engine.detection.yolo.Grid`` keeps anchors).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from engine.detection.yolo import shape_iou

RESTARTS = 5  # k-means runs from different starts; the best mean IoU wins
MAX_ITERATIONS = 100


class Anchors(NamedTuple):
    """``anchors`` ``(k, 2)`` ``(w, h)``, smallest area first; ``mean_iou``: each box's IoU with its best anchor,
    averaged; ``assignment`` ``(M,)`` each box's anchor."""

    anchors: torch.Tensor
    mean_iou: float
    assignment: torch.Tensor


def box_shapes(boxes: torch.Tensor, side: float = 1.0) -> torch.Tensor:
    """``(M, 4)`` ``xyxy`` boxes -> their ``(M, 2)`` ``(w, h)`` divided by ``side`` (an image's side: fractions)."""
    return (boxes[:, 2:] - boxes[:, :2]).float() / side


def kmeans_anchors(shapes: torch.Tensor, k: int, seed: int = 0, restarts: int = RESTARTS) -> Anchors:
    """``k`` anchors for box ``shapes`` ``(M, 2)`` (positive ``(w, h)``): k-means with ``1 − IoU`` (``shape_iou``),
    each centre the mean shape of its boxes, started from ``k`` distinct boxes drawn by k-means++ (by ``seed``),
    ``restarts`` times; deterministic for a seed."""
    shapes = shapes.float()
    if shapes.ndim != 2 or shapes.shape[1] != 2 or not bool((shapes > 0).all()):
        raise ValueError(f"shapes must be (M, 2) positive widths and heights, got {tuple(shapes.shape)}")
    distinct = torch.unique(shapes, dim=0)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(distinct):
        raise ValueError(f"k must be an integer from 1 to the number of distinct box shapes ({len(distinct)}), got "
                         f"{k!r}")
    g = torch.Generator().manual_seed(seed)
    best: Anchors | None = None
    for _ in range(restarts):
        found = _kmeans(shapes, _plus_plus(distinct, k, g))
        if best is None or found.mean_iou > best.mean_iou:
            best = found
    return best


def _plus_plus(shapes: torch.Tensor, k: int, g: torch.Generator) -> torch.Tensor:
    """k-means++ starts: each next centre a shape drawn with probability ∝ its distance ``1 − IoU`` to the nearest."""
    centres = [shapes[torch.randint(len(shapes), (1,), generator=g)].squeeze(0)]
    for _ in range(1, k):
        d = 1 - shape_iou(shapes, torch.stack(centres)).max(dim=1).values  # (M,)
        centres.append(shapes[torch.multinomial(d.clamp_min(0) + 1e-12, 1, generator=g)].squeeze(0))
    return torch.stack(centres)


def _kmeans(shapes: torch.Tensor, centres: torch.Tensor) -> Anchors:
    for _ in range(MAX_ITERATIONS):
        assignment = shape_iou(shapes, centres).argmax(dim=1)  # (M,) nearest = highest IoU
        moved = torch.stack([shapes[assignment == j].mean(dim=0) if bool((assignment == j).any()) else centres[j]
                             for j in range(len(centres))])
        if torch.allclose(moved, centres):
            break
        centres = moved
    order = torch.argsort(centres.prod(dim=1), stable=True)
    centres = centres[order]
    iou = shape_iou(shapes, centres)
    return Anchors(centres, float(iou.max(dim=1).values.mean()), iou.argmax(dim=1))


def mean_iou_curve(shapes: torch.Tensor, ks: range | list[int], seed: int = 0) -> list[float]:
    """The mean IoU of each box with its best anchor for each ``k`` in ``ks`` (``kmeans_anchors``)."""
    return [kmeans_anchors(shapes, k, seed).mean_iou for k in ks]
