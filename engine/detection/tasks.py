"""Localisation and landmarks as tasks of the one training loop (docs/tasks-and-jobs.md), so stop, resume, mixed
precision, checkpoints, runs and export come with them.

- ``Localise``: classification with localisation (course notes 1.3.1). The network gives the course's vector
  ``(p_c, b_x, b_y, b_h, b_w, c_1…c_K)`` per image (raw: a logit for ``p_c``, sigmoid-squashed box values, class
  logits: ``engine.detection.target``); the loss counts every component where there is an object and only ``p_c``
  where there is none. An image is *correct* when the network says rightly whether there is an object and, when there
  is, names its class and puts its box at IoU ≥ 0.5 with the true one (the usual rule).
- ``Landmarks``: ``K`` ordered points (course notes 1.3.2): ``2K`` outputs ``(l1_x, l1_y, …)`` as fractions of the
  image side; squared-error loss; the error is the mean point distance over the distance between the first two
  points (the eyes, for faces: the normalised mean error of face alignment).

Positions are learnt as fractions of the network input's side: the loader resizes the targets with the images
(``Targets.resized``), whose ``frame`` says the side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from engine.data.targets import BoxBatch, Boxes, PointBatch, Points, Targets
from engine.data.types import DatasetCard
from engine.detection import target as T
from engine.nets.spec import NetworkSpec, Shape
from engine.training.tasks.base import Metric, SumMeter, Task, register
from engine.training.tasks.classify import fit_head

IOU_CORRECT = 0.5  # a box counts as found at this IoU with the true one (course notes 1.3.5.2)
PRESENT = 0.5  # the network says "there is an object" when p_c ≥ this


def _frame(batch: BoxBatch | PointBatch) -> tuple[int, int]:
    if batch.frame is None:
        raise ValueError("these targets do not say the size of their images (frame), so their positions cannot be "
                         "turned into fractions of the image")
    return batch.frame


# --------------------------------------------------------------------------------------------------- localisation


class LocaliseTarget(NamedTuple):
    """A batch's targets: ``present`` ``(B,)`` bool, ``boxes`` ``(B, 4)`` ``xyxy`` in the input's pixels (zeros
    without an object), ``labels`` ``(B,)`` (−1 without an object), and the input's ``side``."""

    present: torch.Tensor
    boxes: torch.Tensor
    labels: torch.Tensor
    side: int

    def y(self, num_classes: int) -> torch.Tensor:
        """The course's vectors ``(B, 5 + K)``."""
        return T.encode(self.present, self.boxes, self.labels, num_classes, self.side)


class LocaliseMeter(SumMeter):
    names = ("images", "correct", "present_right", "objects", "iou", "class_right")

    def update(self, output: torch.Tensor, target: LocaliseTarget) -> None:
        out = output.float()
        y = target.y(out.shape[1] - 5)
        obj = y[:, 0] > 0.5
        said = torch.sigmoid(out[:, 0]) >= PRESENT
        iou = torch.where(obj, T.iou(T.decode(out, target.side)[1], target.boxes.float()), 0.0)
        cls_right = (out[:, 5:].argmax(1) == y[:, 5:].argmax(1)) & obj
        correct = torch.where(obj, said & cls_right & (iou >= IOU_CORRECT), ~said)
        s = self.sums
        s["images"] += len(y)
        s["correct"] += correct.sum()
        s["present_right"] += (said == obj).sum()
        s["objects"] += obj.sum()
        s["iou"] += iou.sum()
        s["class_right"] += cls_right.sum()

    def finish(self, v: dict[str, float]) -> dict[str, float]:
        nan = float("nan")
        return {"correct": v["correct"] / v["images"] if v["images"] else nan,
                "iou": v["iou"] / v["objects"] if v["objects"] else nan,
                "class_accuracy": v["class_right"] / v["objects"] if v["objects"] else nan,
                "presence_accuracy": v["present_right"] / v["images"] if v["images"] else nan}


class Localisation(NamedTuple):
    """Decoded outputs: ``present`` ``(B,)`` the probability that there is an object, ``boxes`` ``(B, 4)`` ``xyxy``
    in the network input's pixels, ``probs`` ``(B, k)`` and ``classes`` ``(B, k)`` the top-k class probabilities."""

    present: torch.Tensor
    boxes: torch.Tensor
    probs: torch.Tensor
    classes: torch.Tensor


@dataclass(frozen=True)
class LocaliseEvaluation:
    """Every validation image's decoded prediction and target (boxes in the network input's pixels), the IoU of
    each object's predicted box, and the metrics."""

    present: torch.Tensor  # (N,) predicted probability of an object
    boxes: torch.Tensor  # (N, 4) predicted
    labels: torch.Tensor  # (N,) predicted class
    true_present: torch.Tensor  # (N,) bool
    true_boxes: torch.Tensor  # (N, 4), zeros without an object
    true_labels: torch.Tensor  # (N,), −1 without an object
    iou: torch.Tensor  # (N,), 0 without an object
    metrics: dict[str, float]

    @property
    def correct(self) -> torch.Tensor:
        """``(N,)`` bool: the "correct" metric's rule per image (object or not said rightly; with one, its class
        named and its box at IoU ≥ ``IOU_CORRECT``)."""
        said = self.present >= PRESENT
        found = said & (self.labels == self.true_labels) & (self.iou >= IOU_CORRECT)
        return torch.where(self.true_present, found, ~said)

    def worst(self, n: int) -> list[int]:
        """Indices of ``n`` images, the wrong ones first and, among equals, the lowest IoU first (an image without
        an object counts as IoU 1)."""
        score = self.correct.float() + torch.where(self.true_present, self.iou, 1.0)
        return torch.argsort(score, stable=True)[:n].tolist()


@register
@dataclass(frozen=True)
class Localise(Task):
    """Classification with localisation of (at most) one object per image."""

    name = "localise"
    title = "classification with localisation"
    targets = Boxes.kind
    metrics = (Metric("correct", "correct", percent=True), Metric("iou", "mean IoU"),
               Metric("class_accuracy", "class accuracy", percent=True),
               Metric("presence_accuracy", "object / no object accuracy", percent=True))
    primary = "correct"
    loss_title = "p_c, box and class loss"
    output_name = "y"

    def output_shape(self, card: DatasetCard) -> Shape:
        return (T.width(card.num_classes),)

    def fit_output(self, spec: NetworkSpec, card: DatasetCard) -> NetworkSpec:
        return fit_head(spec, T.width(card.num_classes))

    def fix_label(self, card: DatasetCard) -> str:
        return f"Set the output to 5 + {card.num_classes} values (p_c, the box, the classes)"

    def describe_output(self, classes: tuple[str, ...] | list[str]) -> dict[str, Any]:
        return {"name": self.output_name, "shape": [T.width(len(classes))], "classes": list(classes),
                "meaning": "y = (p_c, b_x, b_y, b_h, b_w, c_1..c_K): sigmoid(p_c) is the probability of an object; "
                           "sigmoid of the next four is the box's centre, height and width as fractions of the "
                           "input's side; softmax of the rest the class probabilities"}

    def collate(self, batch: BoxBatch) -> LocaliseTarget:
        h, w = _frame(batch)
        if h != w:
            raise ValueError(f"localisation takes square images; these are {h}×{w}")
        if any(len(b) > 1 for b in batch.boxes):
            raise ValueError("classification with localisation finds one object per image; some images have more "
                             "(that is detection: the YOLO lab)")
        present = torch.tensor([len(b) == 1 for b in batch.boxes])
        boxes = torch.stack([b[0] if len(b) else torch.zeros(4) for b in batch.boxes])
        labels = torch.stack([y[0] if len(y) else torch.tensor(-1) for y in batch.labels])
        return LocaliseTarget(present, boxes, labels, h)

    def loss(self, output: torch.Tensor, target: LocaliseTarget) -> torch.Tensor:
        return T.loss_terms(output, target.y(output.shape[1] - 5)).total.mean()

    def meter(self, device: torch.device | str) -> LocaliseMeter:
        return LocaliseMeter(device)

    def evaluate(self, outputs: torch.Tensor, targets: Targets) -> LocaliseEvaluation:
        t = self.collate(targets.batch(range(len(targets))))
        meter = self.meter("cpu")
        meter.update(outputs, t)
        p, boxes, probs = T.decode(outputs.float(), t.side)
        present = t.present.bool()
        return LocaliseEvaluation(p, boxes, probs.argmax(1), present, t.boxes, t.labels,
                                  torch.where(present, T.iou(boxes, t.boxes), 0.0), meter.compute())

    def decode(self, outputs: torch.Tensor, k: int = 5, side: int | None = None) -> Localisation:
        p, boxes, probs = T.decode(outputs.float(), side or 1)
        top = probs.topk(min(k, probs.shape[1]), dim=1)
        return Localisation(p, boxes, top.values, top.indices)


# --------------------------------------------------------------------------------------------------- landmarks


class LandmarkTarget(NamedTuple):
    """A batch's points ``(B, K, 2)`` as fractions of the input's side, and which are ``visible`` ``(B, K)``."""

    points: torch.Tensor
    visible: torch.Tensor
    side: int


class LandmarkMeter(SumMeter):
    names = ("images", "nme", "pixels", "points")

    def update(self, output: torch.Tensor, target: LandmarkTarget) -> None:
        pred = output.float().reshape(target.points.shape)  # (B, K, 2) fractions
        self.sums["images"] += len(pred)
        self.sums["nme"] += T.point_error(pred, target.points).sum()
        seen = target.visible.float()
        self.sums["pixels"] += ((pred - target.points).norm(dim=2) * seen).sum() * target.side
        self.sums["points"] += seen.sum()

    def finish(self, v: dict[str, float]) -> dict[str, float]:
        nan = float("nan")
        return {"nme": v["nme"] / v["images"] if v["images"] else nan,
                "pixel_error": v["pixels"] / v["points"] if v["points"] else nan}


@dataclass(frozen=True)
class LandmarkEvaluation:
    """Every validation image's predicted and true points ``(N, K, 2)`` in the network input's pixels, each image's
    normalised error ``(N,)``, and the metrics."""

    points: torch.Tensor
    true_points: torch.Tensor
    errors: torch.Tensor
    metrics: dict[str, float]

    def worst(self, n: int) -> list[int]:
        """Indices of the ``n`` images with the largest error, largest first."""
        return torch.argsort(self.errors, descending=True, stable=True)[:n].tolist()


@register
@dataclass(frozen=True)
class Landmarks(Task):
    """``K`` ordered landmark points per image."""

    name = "landmarks"
    title = "landmark detection"
    targets = Points.kind
    metrics = (Metric("nme", "normalised mean error", higher_is_better=False),
               Metric("pixel_error", "mean error (input pixels)", higher_is_better=False))
    primary = "nme"
    loss_title = "squared error"
    output_name = "points"

    def output_shape(self, card: DatasetCard) -> Shape:
        return (2 * card.num_classes,)

    def fit_output(self, spec: NetworkSpec, card: DatasetCard) -> NetworkSpec:
        return fit_head(spec, 2 * card.num_classes)

    def fix_label(self, card: DatasetCard) -> str:
        return f"Set the output to {2 * card.num_classes} values (x and y of {card.num_classes} points)"

    def describe_output(self, classes: tuple[str, ...] | list[str]) -> dict[str, Any]:
        return {"name": self.output_name, "shape": [2 * len(classes)], "points": list(classes),
                "meaning": "(l1_x, l1_y, l2_x, l2_y, ...): each named point's position as fractions of the input's "
                           "width and height, in the order of 'points'"}

    def collate(self, batch: PointBatch) -> LandmarkTarget:
        h, w = _frame(batch)
        scale = torch.tensor([w, h], dtype=torch.float32)
        return LandmarkTarget(batch.points / scale, batch.visible, h if h == w else max(h, w))

    def loss(self, output: torch.Tensor, target: LandmarkTarget) -> torch.Tensor:
        error = (output.float().reshape(target.points.shape) - target.points).square().sum(dim=2)  # (B, K)
        seen = target.visible.float()
        return (error * seen).sum() / seen.sum().clamp_min(1.0)

    def meter(self, device: torch.device | str) -> LandmarkMeter:
        return LandmarkMeter(device)

    def evaluate(self, outputs: torch.Tensor, targets: Targets) -> LandmarkEvaluation:
        t = self.collate(targets.batch(range(len(targets))))
        meter = self.meter("cpu")
        meter.update(outputs, t)
        pred = outputs.float().reshape(t.points.shape)
        return LandmarkEvaluation(pred * t.side, t.points * t.side, T.point_error(pred, t.points), meter.compute())

    def decode(self, outputs: torch.Tensor, k: int = 5, side: int | None = None) -> torch.Tensor:
        """Points ``(B, K, 2)`` as fractions of the input's width and height (whatever ``side``: the two may differ)."""
        return outputs.float().reshape(len(outputs), -1, 2)
