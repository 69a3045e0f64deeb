"""Detectors of whole images behind one interface (docs/detection.md "Detectors"): the bundled YOLO of the generated
scenes, a detection run of the store, or a real COCO detector from torchvision (``engine.detection.coco``).

Each gives, for one image of any size, its *candidates* — every box it proposes before any filtering, in the image's
pixels, as a ``yolo.Raw`` of one image — and the same two steps make the detections from them whatever the detector:
the score filter, then non-maximum suppression (per class or class-agnostic) and at most ``max_boxes``
(``yolo.select``, torchvision's ops; ``nms.nms_steps`` steps through the same suppression). The course's thresholds
(score 0.6, IoU 0.5) are the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from engine.detection import yolo


@dataclass(frozen=True)
class ImageDetections:
    """One image's detections: ``boxes`` ``(D, 4)`` ``xyxy`` in the image's pixels, ``scores`` ``(D,)``, ``labels``
    ``(D,)`` class indices into ``classes``, best score first; ``width``, ``height`` the image's size, and the
    thresholds that made them."""

    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    width: int
    height: int
    score_threshold: float
    iou_threshold: float
    per_class: bool

    def __len__(self) -> int:
        return len(self.scores)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values: the image's size, the thresholds, each box with its class name and score."""
        return {"width": self.width, "height": self.height, "score_threshold": self.score_threshold,
                "iou_threshold": self.iou_threshold, "per_class": self.per_class,
                "boxes": [{"class": self.classes[int(k)], "label": int(k), "score": round(float(s), 4),
                           "box": [round(float(v), 1) for v in b]}
                          for b, s, k in zip(self.boxes, self.scores, self.labels, strict=True)]}


class Detector(Protocol):
    """What every detector offers: a ``title``, its ``classes``, its default thresholds and ``candidates(image)``."""

    title: str
    classes: tuple[str, ...]
    score_threshold: float
    iou_threshold: float

    def candidates(self, image: torch.Tensor) -> yolo.Raw:
        """Every box proposed for one uint8 image ``(3, H, W)``, in its pixels, before the score filter and NMS: a
        ``yolo.Raw`` of one image (``boxes`` ``(1, K, 4)``, ``scores`` and ``labels`` ``(1, K)``)."""
        ...


def image_tensor(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """An image as uint8 ``(3, H, W)``: from ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` arrays (uint8, or floats in
    [0, 1] as ``engine.media.images.decode_upload`` gives), or a ``(3, H, W)`` uint8 tensor."""
    if isinstance(image, torch.Tensor) and image.ndim == 3 and image.shape[0] == 3 and image.dtype == torch.uint8:
        return image
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = (np.clip(a.astype(np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or not a.shape[0] or not a.shape[1]:
        raise ValueError(f"an image must be (H, W), (H, W, 3) or (H, W, 4), got shape {a.shape}")
    return torch.from_numpy(np.array(a[:, :, :3])).permute(2, 0, 1).contiguous()  # a copy: writable


def detect_image(detector: Detector, image: np.ndarray | torch.Tensor, score_threshold: float | None = None,
                 iou_threshold: float | None = None, max_boxes: int = yolo.MAX_BOXES, per_class: bool = True
                 ) -> ImageDetections:
    """``detector``'s detections of one image: its candidates, then ``yolo.select`` (the score filter, NMS per class
    or class-agnostic, the best ``max_boxes``) at the given thresholds or the detector's defaults."""
    score_threshold = detector.score_threshold if score_threshold is None else score_threshold
    iou_threshold = detector.iou_threshold if iou_threshold is None else iou_threshold
    check_thresholds(score_threshold, iou_threshold, max_boxes)
    x = image_tensor(image)
    found = yolo.select(detector.candidates(x), 0, score_threshold, iou_threshold, max_boxes, per_class)
    return ImageDetections(found.boxes, found.scores, found.labels, tuple(detector.classes), int(x.shape[2]),
                           int(x.shape[1]), float(score_threshold), float(iou_threshold), per_class)


def check_thresholds(score_threshold: float, iou_threshold: float, max_boxes: int) -> None:
    """``ValueError`` naming the value when a threshold is not in [0, 1] or ``max_boxes`` is not a positive integer."""
    for what, v in (("the score threshold", score_threshold), ("the IoU threshold", iou_threshold)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
            raise ValueError(f"{what} must be a number from 0 to 1, got {v!r}")
    if isinstance(max_boxes, bool) or not isinstance(max_boxes, int) or max_boxes < 1:
        raise ValueError(f"the most boxes kept must be a positive integer, got {max_boxes!r}")


class GridDetector:
    """A YOLO-style network of this project (the bundled one, or a detection run), as the YOLO lab runs it
    (``engine.detection.frames``): the image's centred square is what it sees (resized to the network's square input,
    since it learnt on square scenes; objects outside that square are not looked at), the grid is decoded
    (``yolo.decode``) and the boxes are put back in the image's pixels."""

    def __init__(self, title: str, model: torch.nn.Module, task: Any, stats: Any, classes: tuple[str, ...],
                 input_shape: tuple[int, int, int]) -> None:
        if task.name != "detect":
            raise ValueError(f"{title} learnt {task.title}, not detection: choose a detection run")
        self.title, self.model, self.task, self.stats = title, model, task, stats
        self.classes, self.input_shape = tuple(classes), tuple(input_shape)
        self.score_threshold, self.iou_threshold = task.score_threshold, task.iou_threshold
        self.grid = task.grid_for(len(self.classes))

    def square(self, image: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int]]:
        """The image's centred square at the network's input side ``(1, 3, side, side)`` uint8, and where it was cut
        (top, left, size) in the image's pixels (``frames.square_of``)."""
        from engine.detection.frames import square_of

        return square_of(image.permute(1, 2, 0).numpy(), self.input_shape[-1])

    def raw_output(self, image: torch.Tensor) -> torch.Tensor:
        """The network's grid ``(1, B·(5 + C), S, S)`` for one uint8 image ``(3, H, W)`` (its centred square)."""
        from engine.data.loader import adapt_batch

        x, _ = self.square(image)
        with torch.inference_mode():
            return self.model(adapt_batch(x, self.input_shape, self.stats)).float()

    def candidates(self, image: torch.Tensor) -> yolo.Raw:
        from engine.data.loader import adapt_batch

        side = self.input_shape[-1]
        x, (top, left, size) = self.square(image)
        with torch.inference_mode():
            out = self.model(adapt_batch(x, self.input_shape, self.stats)).float()
        raw = yolo.decode(out, self.grid, side)
        shift = torch.tensor([left, top, left, top], dtype=torch.float32)
        return raw._replace(boxes=raw.boxes * (size / side) + shift)


def bundled_detector() -> GridDetector:
    """The bundled YOLO of the generated scenes (``engine.detection.bundled``)."""
    from engine.detection.bundled import load_bundled

    d = load_bundled()
    return GridDetector("the bundled YOLO detector of the generated scenes", d.model, d.task, d.stats, d.classes,
                        tuple(d.meta["input_shape"]))


def run_detector(store: Any, run_id: str) -> GridDetector:
    """A detection run of ``store`` (``RunError`` for an unknown run or one without weights; ``ValueError`` for a run
    of another task)."""
    from engine.training.trained import load_trained

    t = load_trained(store, run_id)
    return GridDetector(f"run {t.run_id} ({t.name})", t.model, t.task, t.stats, t.classes, t.input_shape)
