"""YOLO on a picture of any size, and its boxes drawn on it: what the YOLO lab runs on an upload and on every webcam
frame (docs/detection.md, "YOLO"). A pure function of the frame (``(H, W, 3)`` uint8 RGB): the centred square is
what the detector sees (resized to its input side, as the network was trained on square scenes); the boxes come
back in the frame's own pixels and are drawn with PIL on a copy, with the square's outline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from engine.detection import yolo
from engine.media.images import centre_square
from engine.training.evaluate import outputs

PALETTE = ((228, 87, 46), (78, 121, 167), (89, 161, 79), (176, 122, 161), (242, 142, 43), (118, 183, 178))
_SQUARE = (255, 210, 0)


def square_of(frame: np.ndarray, side: int) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """The frame's centred square resized to ``side`` (``(1, 3, side, side)`` uint8) and where it was cut (top, left,
    size) in the frame's pixels."""
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"a frame must be an (H, W, 3) uint8 RGB array, got {getattr(frame, 'shape', frame)!r}")
    top, left, size = centre_square(frame)
    crop = Image.fromarray(np.ascontiguousarray(frame[top:top + size, left:left + size]))
    if size != side:
        crop = crop.resize((side, side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return torch.from_numpy(np.asarray(crop).copy()).permute(2, 0, 1)[None], (top, left, size)


@torch.inference_mode()
def detect_picture(model: nn.Module, frame: np.ndarray, stats: Any, grid: yolo.Grid, side: int,
                   **thresholds: Any) -> yolo.Detections:
    """``model``'s detections on the frame's centred square (``yolo.detect`` at ``thresholds``: ``score_threshold``,
    ``iou_threshold``, ``max_boxes``, ``per_class``), boxes ``xyxy`` in the frame's pixels."""
    x, (top, left, size) = square_of(frame, side)
    found = yolo.detect(outputs(model, x, stats), grid, side, **thresholds)[0]
    shift = torch.tensor([left, top, left, top], dtype=torch.float32)
    return yolo.Detections(found.boxes * (size / side) + shift, found.scores, found.labels)


def draw_detections(frame: np.ndarray, found: yolo.Detections, classes: Sequence[str],
                    square: tuple[int, int, int] | None = None) -> np.ndarray:
    """A copy of ``frame`` with each box (one colour per class), its class and score, and the outline of the square
    the detector saw."""
    image = Image.fromarray(np.ascontiguousarray(frame))
    draw = ImageDraw.Draw(image)
    width = max(2, min(frame.shape[:2]) // 160)
    if square is not None:
        top, left, size = square
        draw.rectangle((left, top, left + size - 1, top + size - 1), outline=_SQUARE, width=width)
    for box, score, label in zip(found.boxes.tolist(), found.scores.tolist(), found.labels.tolist(), strict=True):
        color = PALETTE[int(label) % len(PALETTE)]
        draw.rectangle(box, outline=color, width=width)
        text = f"{classes[int(label)] if int(label) < len(classes) else label} {score:.2f}"
        x0, y0 = box[0], max(0.0, box[1] - 12)
        draw.rectangle(draw.textbbox((x0, y0), text), fill=color)
        draw.text((x0, y0), text, fill=(255, 255, 255))
    return np.asarray(image)


def detect_frame(model: nn.Module, frame: np.ndarray, stats: Any, grid: yolo.Grid, side: int,
                 classes: Sequence[str], **thresholds: Any) -> tuple[np.ndarray, yolo.Detections]:
    """``detect_picture`` and ``draw_detections`` in one: the annotated frame and the detections."""
    found = detect_picture(model, frame, stats, grid, side, **thresholds)
    return draw_detections(frame, found, classes, centre_square(frame)), found
