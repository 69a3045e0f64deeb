"""YOLO detection as a task of the one training loop (docs/tasks-and-jobs.md, docs/detection.md "YOLO"): the grid
targets made in the loader, the YOLO v2 loss, mAP@0.5 (primary) and mAP@0.5:0.95 with torchmetrics'
``MeanAveragePrecision`` (COCO's evaluation, per class too), and decoding to boxes after the score filter and NMS
(``engine.detection.yolo``). The network is any builder spec whose output is ``(B·(5 + C), S, S)``; ``ready_spec``
is a small one for the generated multi-object scenes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from engine.data.targets import BoxBatch, Boxes, Targets
from engine.data.types import DatasetCard
from engine.detection import yolo
from engine.nets.kinds.conv import Conv2d
from engine.nets.spec import NetworkSpec, Shape, parse_spec
from engine.nets.summary import summary
from engine.training.tasks.base import Meter, Metric, Task, register
from engine.units import format_shape

# k-means (1 − IoU, engine.detection.anchors) on the "multi_scenes" training boxes (seed 0), k = 3: mean IoU 0.77
ANCHORS = ((0.135, 0.134), (0.2, 0.202), (0.282, 0.278))
GRID = 6  # cells a side: 16-pixel cells on the 96×96 scenes
MAP_SCORE = 0.01  # the score filter before NMS when measuring mAP: low, so the precision-recall curve is whole
MAP_BOXES = 10  # the most boxes per image measured (scenes hold at most 6 objects; COCO's 100 costs pycocotools 10×)
MAP_IMAGES = 512  # an epoch's mAP is measured on its first this many images (shuffled: a sample of a training epoch;
# pycocotools takes about a second per thousand images of an untrained network's boxes)
BACKBONE = (8, 16, 32, 64)  # ready_spec: channels of the conv-BN-ReLU-pool blocks (about 11 MMACs at 96×96)


def _map_metric(class_metrics: bool):  # noqa: ANN202 - torchmetrics' class, imported when measured
    from torchmetrics.detection import MeanAveragePrecision

    return MeanAveragePrecision(box_format="xyxy", iou_type="bbox", class_metrics=class_metrics,
                                backend="pycocotools")


class DetectMeter(Meter):
    """Keeps the decoded anchors (boxes, scores, labels: device work only) and true boxes of an epoch's first
    ``MAP_IMAGES`` images; ``compute`` filters them (``MAP_SCORE``), applies per-class NMS, keeps ``MAP_BOXES`` per
    image and measures mAP once for the epoch."""

    def __init__(self, task: Detect, device: torch.device | str, limit: int | None = MAP_IMAGES) -> None:
        self.task, self.limit = task, limit
        self.parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("boxes", "scores", "labels", "true_boxes",
                                                                       "true_labels", "true_image")}
        self.images = 0

    def update(self, output: torch.Tensor, target: yolo.GridTarget) -> None:
        if self.limit is not None and self.images >= self.limit:
            return
        raw = yolo.decode(output.detach(), self.task.grid_for(output.shape[1] // len(self.task.anchors) - 5),
                          target.side)
        self.parts["boxes"].append(raw.boxes)
        self.parts["scores"].append(raw.scores)
        self.parts["labels"].append(raw.labels)
        for i, (b, y) in enumerate(zip(target.boxes, target.labels, strict=True)):
            self.parts["true_boxes"].append(b)
            self.parts["true_labels"].append(y)
            self.parts["true_image"].append(torch.full((len(b),), self.images + i, dtype=torch.int64,
                                                       device=b.device))
        self.images += len(output)

    def compute(self) -> dict[str, float]:
        if not self.images:
            return {"map50": float("nan"), "map": float("nan")}
        result = mean_average_precision(*self._gathered(), class_metrics=False)
        return {"map50": result["map50"], "map": result["map"]}

    def _gathered(self) -> tuple[list[yolo.Detections], list[tuple[torch.Tensor, torch.Tensor]]]:
        cat = {k: torch.cat(v).cpu() if v else torch.zeros(0) for k, v in self.parts.items()}
        raw = yolo.Raw(cat["boxes"], torch.zeros(0), torch.zeros(0), cat["scores"], cat["labels"])
        found = [yolo.select(raw, i, MAP_SCORE, self.task.iou_threshold, MAP_BOXES) for i in range(self.images)]
        truth = [(cat["true_boxes"].reshape(-1, 4)[cat["true_image"] == i], cat["true_labels"][cat["true_image"] == i])
                 for i in range(self.images)]
        return found, truth

    def state_dict(self) -> dict[str, Any]:
        return {**{k: torch.cat(v).cpu() if v else torch.zeros(0) for k, v in self.parts.items()},
                "images": self.images}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.images = int(state["images"])
        for k in self.parts:
            self.parts[k] = [torch.as_tensor(state[k])] if len(state[k]) else []
        if self.parts["true_boxes"]:
            self.parts["true_boxes"] = [self.parts["true_boxes"][0].reshape(-1, 4).float()]
        for k in ("labels", "true_labels", "true_image"):
            self.parts[k] = [t.long() for t in self.parts[k]]


def mean_average_precision(found: list[yolo.Detections], truth: list[tuple[torch.Tensor, torch.Tensor]],
                           class_metrics: bool = True) -> dict[str, Any]:
    """torchmetrics' ``MeanAveragePrecision`` of each image's detections against its true ``(boxes, labels)``:
    ``{"map50", "map", "per_class": {class index: AP@0.5:0.95}}`` (the last with ``class_metrics``; −1 for a class
    without any true box)."""
    metric = _map_metric(class_metrics)
    metric.update([{"boxes": d.boxes.float(), "scores": d.scores.float(), "labels": d.labels.long()} for d in found],
                  [{"boxes": b.float(), "labels": y.long()} for b, y in truth])
    r = metric.compute()
    out: dict[str, Any] = {"map50": float(r["map_50"]), "map": float(r["map"])}
    if class_metrics:
        classes = r["classes"].reshape(-1).tolist()
        out["per_class"] = dict(zip(classes, r["map_per_class"].reshape(-1).tolist(), strict=True))
    return out


@dataclass(frozen=True)
class DetectEvaluation:
    """Every validation image's detections at the task's thresholds (``found``) and true boxes, mAP@0.5,
    mAP@0.5:0.95 and AP@0.5:0.95 per class (index -> AP)."""

    found: list[yolo.Detections]
    truth: list[tuple[torch.Tensor, torch.Tensor]]
    metrics: dict[str, float]
    per_class: dict[int, float]


@register
@dataclass(frozen=True)
class Detect(Task):
    """YOLO-style detection of any number of objects per image: an ``grid``×``grid`` grid with ``anchors`` (``(w,
    h)`` fractions of the image); ``score_threshold`` and ``iou_threshold`` drive decoding (the course's 0.6 and 0.5);
    ``coord`` and ``noobj`` are the loss's λ weights."""

    grid: int = GRID
    anchors: tuple[tuple[float, float], ...] = ANCHORS
    score_threshold: float = yolo.SCORE_THRESHOLD
    iou_threshold: float = yolo.IOU_THRESHOLD
    coord: float = yolo.LAMBDA_COORD
    noobj: float = yolo.LAMBDA_NOOBJ

    name = "detect"
    title = "detection (YOLO)"
    targets = Boxes.kind
    metrics = (Metric("map50", "mAP@0.5"), Metric("map", "mAP@0.5:0.95"))
    primary = "map50"
    loss_title = "YOLO loss (box, objectness, class)"
    output_name = "grid"

    def __post_init__(self) -> None:
        object.__setattr__(self, "anchors", tuple((float(w), float(h)) for w, h in self.anchors))  # JSON lists back
        yolo.Grid(self.grid, self.anchors, 1)  # checks both
        for what in ("score_threshold", "iou_threshold"):
            v = getattr(self, what)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
                raise ValueError(f"{what} must be a number in [0, 1], got {v!r}")
        for what in ("coord", "noobj"):
            v = getattr(self, what)
            if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
                raise ValueError(f"{what} must be a non-negative weight, got {v!r}")

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "anchors": [list(a) for a in self.anchors]}

    def grid_for(self, classes: int) -> yolo.Grid:
        return yolo.Grid(self.grid, self.anchors, classes)

    # ------------------------------------------------------------------------------------------------ the output

    def output_shape(self, card: DatasetCard) -> Shape:
        return (self.grid_for(card.num_classes).channels, self.grid, self.grid)

    def fit_output(self, spec: NetworkSpec, card: DatasetCard) -> NetworkSpec:
        """The last top-level convolution's filters set to B·(5 + C); a network whose map is not ``grid``×``grid``
        is left to the user (``ValueError`` saying so)."""
        spec = parse_spec(spec)
        convs = [i for i, layer in enumerate(spec.layers) if isinstance(layer, Conv2d)]
        if not convs:
            raise ValueError("the network has no convolution to give the grid's B·(5 + C) channels")
        layers = list(spec.layers)
        channels = self.grid_for(card.num_classes).channels
        layers[convs[-1]] = dataclasses.replace(layers[convs[-1]], out_channels=channels)
        fitted = dataclasses.replace(spec, layers=tuple(layers))
        result = summary(fitted)
        if result.errors:
            raise ValueError("the network is invalid, fix it before fitting its output:\n" + "\n".join(result.errors))
        if len(result.output_shape) != 3:
            raise ValueError(f"the network's output is {format_shape(result.output_shape)}, not a map of channels × "
                             f"height × width: the {self.grid}×{self.grid} grid needs a fully convolutional network "
                             f"(no flatten or linear layer after the last convolution)")
        if result.output_shape[1:] != (self.grid, self.grid):
            raise ValueError(f"the network's last map is {result.output_shape[1]}×{result.output_shape[2]}; the "
                             f"{self.grid}×{self.grid} grid needs its input shrunk by {spec.input[1] / self.grid:g} "
                             f"(change the pooling or the grid size)")
        return fitted

    def fix_label(self, card: DatasetCard) -> str:
        g = self.grid_for(card.num_classes)
        return f"Set the last convolution to {len(g.anchors)}·(5 + {card.num_classes}) = {g.channels} filters"

    def describe_output(self, classes: tuple[str, ...] | list[str]) -> dict[str, Any]:
        g = self.grid_for(len(classes))
        return {"name": self.output_name, "shape": [g.channels, self.grid, self.grid], "classes": list(classes),
                "anchors": [list(a) for a in self.anchors],
                "meaning": "per cell (row, column) and anchor a, channels a·(5+C) .. a·(5+C)+4+C: t_x, t_y, t_w, t_h, "
                           "t_o, class logits; centre = (column + sigmoid(t_x), row + sigmoid(t_y)) × cell side, "
                           "size = anchor (w, h) × image side × exp(t_w, t_h), p_c = sigmoid(t_o), score = p_c × "
                           "softmax(class logits)"}

    def ready_spec(self, card: DatasetCard) -> NetworkSpec:
        """A small backbone for ``card``'s images (square, side ``grid`` × 2^k) and the head: conv-BN-ReLU-pool blocks
        down to ``grid``×``grid``, a 3×3 convolution, a 1×1 convolution of B·(5 + C) filters."""
        c, h, w = card.image_shape
        blocks = h // self.grid
        if h != w or h % self.grid or blocks & (blocks - 1) or blocks < 2:
            raise ValueError(f"the ready network takes square images whose side is the grid ({self.grid}) times a "
                             f"power of two; these are {h}×{w}")
        layers: list[dict] = []
        for i in range(blocks.bit_length() - 1):
            out = BACKBONE[min(i, len(BACKBONE) - 1)]
            layers += [{"kind": "conv2d", "out_channels": out, "padding": 1}, {"kind": "batchnorm2d"},
                       {"kind": "relu"}, {"kind": "maxpool2d"}]
        layers += [{"kind": "conv2d", "out_channels": BACKBONE[-1], "padding": 1}, {"kind": "batchnorm2d"},
                   {"kind": "relu"},
                   {"kind": "conv2d", "out_channels": self.grid_for(card.num_classes).channels, "kernel_size": 1}]
        return NetworkSpec.from_dict({"input": [c, h, w], "layers": layers})

    # ------------------------------------------------------------------------------------------------ batches

    def collate(self, batch: BoxBatch) -> yolo.GridTarget:
        if batch.frame is None:
            raise ValueError("these targets do not say the size of their images (frame), so their boxes cannot be "
                             "put on the grid")
        h, w = batch.frame
        if h != w:
            raise ValueError(f"the YOLO grid takes square images; these are {h}×{w}")
        return yolo.encode(batch.boxes, batch.labels, self.grid_for(1), h)  # the targets hold class ids: C unused

    def loss(self, output: torch.Tensor, target: yolo.GridTarget) -> torch.Tensor:
        g = self.grid_for(output.shape[1] // len(self.anchors) - 5)
        return yolo.loss_terms(output, target, g, self.coord, self.noobj).total.mean()

    def meter(self, device: torch.device | str) -> DetectMeter:
        return DetectMeter(self, device)

    # ------------------------------------------------------------------------------------------------ after training

    def evaluate(self, outputs: torch.Tensor, targets: Targets) -> DetectEvaluation:
        target = self.collate(targets.batch(range(len(targets))))
        meter = DetectMeter(self, "cpu", limit=None)  # every image
        meter.update(outputs, target)
        found, truth = meter._gathered()
        result = mean_average_precision(found, truth)
        shown = self.decode(outputs, side=target.side)
        return DetectEvaluation(shown, truth, {"map50": result["map50"], "map": result["map"]}, result["per_class"])

    def decode(self, outputs: torch.Tensor, k: int = 5, side: int | None = None) -> list[yolo.Detections]:
        """Each image's boxes (``xyxy`` in pixels of a ``side``-pixel input; fractions without ``side``) after the
        score filter and per-class NMS."""
        g = self.grid_for(outputs.shape[1] // len(self.anchors) - 5)
        return yolo.detect(outputs.float(), g, side or 1, self.score_threshold, self.iou_threshold)
