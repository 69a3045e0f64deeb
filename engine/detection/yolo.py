"""YOLO: one pass of a convolutional network predicts every box of an image on an S×S grid (course notes 1.3.5;
Redmon et al., "You Only Look Once", CVPR 2016; Redmon & Farhadi, "YOLO9000: Better, Faster, Stronger" (YOLO v2),
CVPR 2017, for anchors and the box parametrisation used here).

The grid. The image is cut into S×S cells; each cell has B *anchors* (box shapes, ``(w, h)`` as fractions of the
image side) and predicts, per anchor, 5 + C numbers ``(t_x, t_y, t_w, t_h, t_o, c_1 … c_C)``. The network's output
per image is ``(B·(5 + C), S, S)``: channel ``a·(5 + C) + k`` holds value ``k`` of anchor ``a``.

Targets. An object belongs to the one cell holding its box's centre and, in it, to the anchor whose shape has the
best IoU with the box's shape (both centred on the same point: ``shape_iou``). Its target, as the course writes it,
is ``(b_x, b_y, b_w, b_h)``: the centre relative to the cell's top-left corner in cell units (in [0, 1)), the width
and height in cell units (they may exceed 1: an object can be larger than its cell). The network reaches them as
``b_x = σ(t_x)``, ``b_y = σ(t_y)`` (the centre stays in its cell) and ``w = anchor_w · exp(t_w)``, ``h = anchor_h ·
exp(t_h)`` (a correction of the anchor's shape); ``p_c = σ(t_o)`` is the probability that the anchor holds an object,
``softmax(c)`` the class probabilities, and the score of a box for a class is ``p_c × P(class)``. Two objects that
fall on the same cell and anchor: the later one (in the targets' order) is the one learnt — as in the papers, a grid
finds at most B objects per cell.

The loss (YOLO v2's terms, summed over the anchors and averaged over the images): ``λ_coord`` × squared error of
``(σ(t_x), σ(t_y), t_w, t_h)`` for assigned anchors; binary cross-entropy of ``t_o`` towards 1 for assigned anchors
and, weighted by ``λ_noobj``, towards 0 for every other anchor; cross-entropy of the classes for assigned anchors.

Boxes outside this module's encodings are ``xyxy`` in pixels (``torchvision.ops``); IoU and NMS are torchvision's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torchvision.ops import batched_nms, box_convert, box_iou, nms

LAMBDA_COORD = 5.0  # the coordinates' weight (YOLO v1 and v2)
LAMBDA_NOOBJ = 0.5  # the weight of "no object" on anchors without one (YOLO v1 and v2): most anchors hold nothing
SCORE_THRESHOLD = 0.6  # the course's default score filter
IOU_THRESHOLD = 0.5  # the course's default NMS threshold
MAX_BOXES = 100  # per image, after NMS


@dataclass(frozen=True)
class Grid:
    """The detector's layout: ``size`` (S) cells a side, ``anchors`` ``((w, h), ...)`` as fractions of the image
    side (B of them), ``classes`` (C)."""

    size: int
    anchors: tuple[tuple[float, float], ...]
    classes: int

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not 1 <= self.size <= 64:
            raise ValueError(f"the grid size must be an integer from 1 to 64 cells a side, got {self.size!r}")
        anchors = tuple((float(w), float(h)) for w, h in self.anchors)
        if not anchors or any(not (0.0 < v <= 4.0) for a in anchors for v in a):
            raise ValueError(f"anchors must be one or more (w, h) pairs, fractions of the image side in (0, 4], got "
                             f"{self.anchors!r}")
        object.__setattr__(self, "anchors", anchors)
        if isinstance(self.classes, bool) or not isinstance(self.classes, int) or self.classes < 1:
            raise ValueError(f"the number of classes must be a positive integer, got {self.classes!r}")

    @property
    def per_anchor(self) -> int:
        """5 + C."""
        return 5 + self.classes

    @property
    def channels(self) -> int:
        """B·(5 + C): the head's output channels."""
        return len(self.anchors) * self.per_anchor

    def anchor_tensor(self) -> torch.Tensor:
        """``(B, 2)`` float32 ``(w, h)`` fractions of the image side."""
        return torch.tensor(self.anchors, dtype=torch.float32)


class Assignment(NamedTuple):
    """Where each object of one image goes: ``rows``, ``cols`` ``(M,)`` its cell, ``anchors`` ``(M,)`` its anchor,
    ``encoded`` ``(M, 4)`` ``(b_x, b_y, b_w, b_h)`` in cell units (centre within the cell, size in cells)."""

    rows: torch.Tensor
    cols: torch.Tensor
    anchors: torch.Tensor
    encoded: torch.Tensor


class GridTarget(NamedTuple):
    """A batch's targets on the grid: ``obj`` ``(N, B, S, S)`` bool (an object assigned there), ``xy`` ``(N, B, 2, S,
    S)`` its centre in the cell (b_x, b_y), ``twh`` ``(N, B, 2, S, S)`` ``log(w / anchor_w), log(h / anchor_h)`` (what
    ``t_w, t_h`` must be), ``cls`` ``(N, B, S, S)`` int64 its class (0 elsewhere); ``boxes`` and ``labels``: each
    image's objects ``(M_i, 4)`` ``xyxy`` in the input's pixels and ``(M_i,)``, for the metrics; ``side`` the input's
    side in pixels."""

    obj: torch.Tensor
    xy: torch.Tensor
    twh: torch.Tensor
    cls: torch.Tensor
    boxes: list[torch.Tensor]
    labels: list[torch.Tensor]
    side: int


class Raw(NamedTuple):
    """The output decoded for every anchor of every cell, flattened to ``K = B·S·S`` per image (anchor-major, then
    rows, then columns): ``boxes`` ``(N, K, 4)`` ``xyxy`` pixels, ``objectness`` ``(N, K)`` p_c, ``probs`` ``(N, K,
    C)`` class probabilities, ``scores`` ``(N, K)`` the best class's p_c × P(class), ``labels`` ``(N, K)`` that
    class."""

    boxes: torch.Tensor
    objectness: torch.Tensor
    probs: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor


class Detections(NamedTuple):
    """One image's kept boxes, best score first: ``boxes`` ``(D, 4)`` ``xyxy`` pixels, ``scores`` ``(D,)``, ``labels``
    ``(D,)`` int64."""

    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor


# --------------------------------------------------------------------------------------------------- encoding


def shape_iou(wh: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """The IoU of box shapes centred on one point: ``wh`` ``(M, 2)`` and ``anchors`` ``(B, 2)`` (same units) ->
    ``(M, B)`` (``torchvision.ops.box_iou`` of the centred boxes)."""
    return box_iou(_centred(wh.float()), _centred(anchors.float()))


def _centred(wh: torch.Tensor) -> torch.Tensor:
    return torch.cat([-wh / 2, wh / 2], dim=1)  # (M, 4) xyxy around (0, 0)


def assign(boxes: torch.Tensor, grid: Grid, side: int) -> Assignment:
    """Each object's cell (the one holding its centre), anchor (best shape IoU) and encoding, for ``boxes`` ``(M, 4)``
    ``xyxy`` in pixels of a ``side``×``side`` input."""
    s = grid.size
    cxcywh = box_convert(boxes.float().reshape(-1, 4), "xyxy", "cxcywh") * (s / side)  # (M, 4) in cell units
    cols = cxcywh[:, 0].floor().long().clamp(0, s - 1)
    rows = cxcywh[:, 1].floor().long().clamp(0, s - 1)
    anchors = shape_iou(cxcywh[:, 2:] / s, grid.anchor_tensor()).argmax(dim=1) if len(cxcywh) else rows
    encoded = torch.stack([cxcywh[:, 0] - cols, cxcywh[:, 1] - rows, cxcywh[:, 2], cxcywh[:, 3]], dim=1)
    return Assignment(rows, cols, anchors, encoded)


def decode_cell(encoded: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, grid: Grid, side: int
                ) -> torch.Tensor:
    """``assign``'s inverse: ``(b_x, b_y, b_w, b_h)`` ``(M, 4)`` in cell units at cells ``(rows, cols)`` -> ``(M, 4)``
    ``xyxy`` pixels."""
    cell = side / grid.size
    centre = torch.stack([cols + encoded[:, 0], rows + encoded[:, 1]], dim=1)
    return box_convert(torch.cat([centre, encoded[:, 2:]], dim=1) * cell, "cxcywh", "xyxy")


def encode(boxes: list[torch.Tensor], labels: list[torch.Tensor], grid: Grid, side: int) -> GridTarget:
    """The grid targets of a batch: per image ``boxes[i]`` ``(M_i, 4)`` ``xyxy`` pixels of a ``side``×``side`` input
    and ``labels[i]`` ``(M_i,)``."""
    n, a, s = len(boxes), len(grid.anchors), grid.size
    obj = torch.zeros(n, a, s, s, dtype=torch.bool)
    xy = torch.zeros(n, a, 2, s, s)
    twh = torch.zeros(n, a, 2, s, s)
    cls = torch.zeros(n, a, s, s, dtype=torch.int64)
    anchor_cells = grid.anchor_tensor() * s  # (B, 2) anchor sizes in cells
    for i, (b, y) in enumerate(zip(boxes, labels, strict=True)):
        if not len(b):
            continue
        r, c, k, e = assign(b, grid, side)
        obj[i, k, r, c] = True  # index assignment: a later object on the same cell and anchor wins
        xy[i, k, :, r, c] = e[:, :2]
        twh[i, k, :, r, c] = torch.log(e[:, 2:].clamp_min(1e-6) / anchor_cells[k])
        cls[i, k, r, c] = y.long()
    return GridTarget(obj, xy, twh, cls, [b.float() for b in boxes], [y.long() for y in labels], side)


def _split(output: torch.Tensor, grid: Grid) -> torch.Tensor:
    """``(N, B·(5 + C), S, S)`` -> ``(N, B, 5 + C, S, S)``."""
    n = output.shape[0]
    return output.reshape(n, len(grid.anchors), grid.per_anchor, grid.size, grid.size)


def decode(output: torch.Tensor, grid: Grid, side: int) -> Raw:
    """Every anchor's box, objectness, class probabilities and score from raw outputs ``(N, B·(5 + C), S, S)``."""
    t = _split(output.float(), grid)  # (N, B, 5 + C, S, S)
    s = grid.size
    cols = torch.arange(s, dtype=torch.float32, device=t.device).view(1, 1, 1, s)
    rows = torch.arange(s, dtype=torch.float32, device=t.device).view(1, 1, s, 1)
    anchors = grid.anchor_tensor().to(t.device).view(1, -1, 2, 1, 1) * side  # (1, B, 2, 1, 1) pixels
    cell = side / s
    cx = (cols + torch.sigmoid(t[:, :, 0])) * cell  # (N, B, S, S)
    cy = (rows + torch.sigmoid(t[:, :, 1])) * cell
    wh = anchors * torch.exp(t[:, :, 2:4].clamp(max=10.0))  # (N, B, 2, S, S); the clamp keeps exp finite
    boxes = box_convert(torch.stack([cx, cy, wh[:, :, 0], wh[:, :, 1]], dim=-1).flatten(1, 3), "cxcywh", "xyxy")
    objectness = torch.sigmoid(t[:, :, 4]).flatten(1)  # (N, K)
    probs = torch.softmax(t[:, :, 5:], dim=2).permute(0, 1, 3, 4, 2).flatten(1, 3)  # (N, K, C)
    scores, labels = (objectness[:, :, None] * probs).max(dim=2)
    return Raw(boxes, objectness, probs, scores, labels)


# --------------------------------------------------------------------------------------------------- the loss


class LossTerms(NamedTuple):
    """The loss's terms, each ``(N,)`` per image (summed over its anchors), already weighted; ``total`` their sum."""

    coord: torch.Tensor
    obj: torch.Tensor
    noobj: torch.Tensor
    cls: torch.Tensor

    @property
    def total(self) -> torch.Tensor:
        return self.coord + self.obj + self.noobj + self.cls


def loss_terms(output: torch.Tensor, target: GridTarget, grid: Grid, coord: float = LAMBDA_COORD,
               noobj: float = LAMBDA_NOOBJ) -> LossTerms:
    """YOLO v2's terms (the module docstring) for raw outputs ``(N, B·(5 + C), S, S)``."""
    t = _split(output.float(), grid)  # (N, B, 5 + C, S, S)
    obj = target.obj.float()  # (N, B, S, S)
    xy_err = (torch.sigmoid(t[:, :, 0:2]) - target.xy).square().sum(dim=2)  # (N, B, S, S)
    wh_err = (t[:, :, 2:4] - target.twh).square().sum(dim=2)
    bce = F.binary_cross_entropy_with_logits(t[:, :, 4], obj, reduction="none")  # (N, B, S, S)
    ce = F.cross_entropy(t[:, :, 5:].transpose(1, 2), target.cls, reduction="none")  # (N, C, B, S, S) -> (N, B, S, S)
    per_image = lambda x: x.flatten(1).sum(dim=1)  # noqa: E731 - (N, ...) -> (N,)
    return LossTerms(coord * per_image((xy_err + wh_err) * obj), per_image(bce * obj),
                     noobj * per_image(bce * (1 - obj)), per_image(ce * obj))


# --------------------------------------------------------------------------------------------------- detections


def select(raw: Raw, index: int, score_threshold: float = SCORE_THRESHOLD, iou_threshold: float = IOU_THRESHOLD,
           max_boxes: int = MAX_BOXES, per_class: bool = True) -> Detections:
    """Image ``index``'s detections: boxes scoring at least ``score_threshold``, then non-maximum suppression at
    ``iou_threshold`` (per class: ``torchvision.ops.batched_nms``; class-agnostic: ``nms``), the best ``max_boxes``."""
    keep = raw.scores[index] >= score_threshold
    boxes, scores, labels = raw.boxes[index][keep], raw.scores[index][keep], raw.labels[index][keep]
    kept = suppress(boxes, scores, labels, iou_threshold, max_boxes, per_class)
    return Detections(boxes[kept], scores[kept], labels[kept])


def suppress(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou_threshold: float = IOU_THRESHOLD,
             max_boxes: int = MAX_BOXES, per_class: bool = True) -> torch.Tensor:
    """The NMS stage: the indices of the boxes kept, best first, at most ``max_boxes`` (per class:
    ``torchvision.ops.batched_nms``; class-agnostic: ``nms``)."""
    kept = batched_nms(boxes, scores, labels, iou_threshold) if per_class else nms(boxes, scores, iou_threshold)
    return kept[:max_boxes]


def detect(output: torch.Tensor, grid: Grid, side: int, score_threshold: float = SCORE_THRESHOLD,
           iou_threshold: float = IOU_THRESHOLD, max_boxes: int = MAX_BOXES, per_class: bool = True
           ) -> list[Detections]:
    """Raw outputs ``(N, B·(5 + C), S, S)`` -> each image's detections (``decode``, then ``select``)."""
    raw = decode(output, grid, side)
    return [select(raw, i, score_threshold, iou_threshold, max_boxes, per_class) for i in range(len(output))]
