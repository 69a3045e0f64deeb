"""From a classifier to detections: a classifier of windows, its score maps turned into boxes, region proposals
classified, and what each way costs in classifier calls (course notes 1.3.3, 1.3.4 and 1.3.6).

- ``WINDOW_CLASSIFIER``: a small classifier of the "windows" data set (``engine.data.windows``: a centred shape or
  background), with no padding anywhere in its trunk, so that its convolutional form computes exactly what the loop
  over windows computes (``engine.detection.sliding``). ``window_classifier_config`` trains it in tens of seconds on
  a CPU.
- ``detections``: the windows whose best non-background class is likely enough, merged by non-maximum suppression
  (``torchvision.ops.nms``, course notes 1.3.5.3) — over one window size or several.
- ``classify_boxes``: the classifier on each region proposal (R-CNN: Girshick et al., 2014), each region cropped as a
  square around its box and adapted to the classifier's input like any image.
- ``sliding_calls``: how many windows sliding windows classifies at a few window sizes, to set against the number of
  proposals.
- ``match``: which true objects a set of detections found (same class, IoU ≥ 0.5).

Boxes are ``xyxy`` in image pixels, as in ``torchvision.ops``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torchvision.ops import box_iou, nms

from engine.data import Normalization, adapt_batch
from engine.data.loader import resize
from engine.data.windows import BACKGROUND
from engine.detection.sliding import BATCH, ScoreMap, window_count
from engine.device import model_device
from engine.nets.spec import BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, NetworkSpec, ReLU
from engine.training.config import TrainConfig

WINDOW_DATA = "windows"  # the named data set it learns from
WINDOW_CLASSIFIER = NetworkSpec((3, 32, 32), (
    Conv2d(8, 5), BatchNorm2d(), ReLU(), MaxPool2d(2),  # 32 -> 28 -> 14
    Conv2d(16, 5), BatchNorm2d(), ReLU(), MaxPool2d(2),  # 14 -> 10 -> 5
    Flatten(), Linear(32), ReLU(), Linear(5),  # 16·5·5 = 400 -> 32 -> 5 classes
))  # no padding: its convolutional form is exact; trunk stride 2·2 = 4
WINDOW_EPOCHS, WINDOW_LR = 6, 3e-3
IOU_FOUND = 0.5  # a detection finds a true object at this IoU (course notes 1.3.5.2)


def window_classifier_config(seed: int = 0, device: str = "auto", epochs: int = WINDOW_EPOCHS) -> TrainConfig:
    """How the one-click window classifier trains: Adam, batches of 64, a constant learning rate."""
    return TrainConfig(optimizer="adam", lr=WINDOW_LR, batch_size=64, epochs=epochs, seed=seed, device=device)


def search_image(picture: np.ndarray, max_side: int) -> torch.Tensor:
    """A picture ``(H, W)`` gray or ``(H, W, 3)`` RGB uint8 as the image to search: ``(3, H', W')`` uint8, shrunk
    (bilinear, antialiased: ``engine.data.loader.resize``) so that its longer side is at most ``max_side``."""
    a = np.asarray(picture)
    if a.dtype != np.uint8 or a.ndim not in (2, 3) or a.ndim == 3 and a.shape[2] != 3:
        raise ValueError(f"the picture must be uint8 (H, W) or (H, W, 3), got {a.dtype} {a.shape}")
    x = torch.from_numpy(np.ascontiguousarray(a if a.ndim == 3 else np.repeat(a[..., None], 3, axis=2)))
    x = x.permute(2, 0, 1)  # (3, H, W)
    h, w = x.shape[1:]
    scale = max_side / max(h, w)
    if scale >= 1:
        return x.contiguous()
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    return resize(x[None].float(), size)[0].round().clamp(0, 255).to(torch.uint8)


def background_index(classes: Sequence[str]) -> int | None:
    """The index of the "background" class among ``classes``, or None when the classifier has none."""
    return list(classes).index(BACKGROUND) if BACKGROUND in classes else None


# --------------------------------------------------------------------------------------------------- score maps


def foreground(probs: torch.Tensor, background: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The best class other than ``background`` at every window: its probability and its index, ``(..., K)`` ->
    two ``(...)`` tensors. With no background class, simply the best class."""
    if background is not None:
        probs = probs.clone()
        probs[..., background] = -1.0  # never the best
    best, index = probs.max(dim=-1)
    return best, index


@dataclass(frozen=True)
class Found:
    """Detections: ``boxes`` ``(M, 4)`` ``xyxy`` pixels, ``scores`` ``(M,)`` and ``labels`` ``(M,)`` (class indices),
    best first; ``candidates``: how many windows passed the threshold before non-maximum suppression."""

    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor
    candidates: int

    def __len__(self) -> int:
        return int(self.boxes.shape[0])


def detections(maps: ScoreMap | Sequence[ScoreMap], threshold: float, iou: float, background: int | None,
               fill: float = 1.0) -> Found:
    """The windows of ``maps`` (one window size or several) whose best non-background probability is at least
    ``threshold``, merged by class-agnostic non-maximum suppression at ``iou``: one box per object. Each box is the
    window's central ``fill`` (a fraction of its side): 1 gives the windows themselves, the only box a plain
    classifier can give; a classifier trained on objects that fill a known part of the crop (``engine.data.windows``:
    ``OBJECT_FILL``) says the object is about that part."""
    if not 0.0 <= threshold <= 1.0 or not 0.0 < iou <= 1.0:
        raise ValueError(f"threshold must be in [0, 1] and iou in (0, 1], got {threshold} and {iou}")
    if not 0.0 < fill <= 1.0:
        raise ValueError(f"fill must be a fraction in (0, 1], got {fill}")
    maps = [maps] if isinstance(maps, ScoreMap) else list(maps)
    boxes, scores, labels = [], [], []
    for m in maps:
        best, index = foreground(m.probs, background)  # (rows, cols)
        keep = best.flatten() >= threshold
        boxes.append(central(m.boxes()[keep], fill))
        scores.append(best.flatten()[keep])
        labels.append(index.flatten()[keep])
    return _suppress(torch.cat(boxes), torch.cat(scores), torch.cat(labels), iou)


def central(boxes: torch.Tensor, fill: float) -> torch.Tensor:
    """The central ``fill`` of each box ``(M, 4)`` ``xyxy``: same centre, sides times ``fill``."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * (fill / 2)
    return torch.cat([centre - half, centre + half], dim=1)


def _suppress(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou: float) -> Found:
    keep = nms(boxes.float(), scores.float(), iou)  # indices, best first
    return Found(boxes[keep], scores[keep], labels[keep], int(boxes.shape[0]))


# --------------------------------------------------------------------------------------------------- proposals


def square_boxes(boxes: torch.Tensor, height: int, width: int, context: float = 0.25) -> torch.Tensor:
    """Each box as the square about its centre whose side is its longer side times ``1 + context`` (R-CNN crops
    with some context around the object), moved inside the image and at most its shorter side: ``(M, 4)`` integer
    ``xyxy``."""
    if context < 0:
        raise ValueError(f"context must be ≥ 0, got {context}")
    b = boxes.float()
    side = ((b[:, 2:] - b[:, :2]).max(dim=1).values * (1 + context)).round().clamp(1, min(height, width))
    centre = (b[:, :2] + b[:, 2:]) / 2
    x0 = (centre[:, 0] - side / 2).round().clamp(min=0)
    y0 = (centre[:, 1] - side / 2).round().clamp(min=0)
    x0 = torch.minimum(x0, width - side)
    y0 = torch.minimum(y0, height - side)
    return torch.stack([x0, y0, x0 + side, y0 + side], dim=1).long()


def classify_boxes(model: nn.Module, image: torch.Tensor, boxes: torch.Tensor, stats: Normalization | None,
                   input_shape: tuple[int, int, int], context: float = 0.25) -> torch.Tensor:
    """Class probabilities ``(M, K)`` of each region ``boxes`` ``(M, 4)`` of ``image`` (``(C, H, W)`` uint8): the
    square around the box (``square_boxes``) cropped and adapted to the network's input like any image; one
    classifier call per region, batched."""
    if image.dtype != torch.uint8 or image.ndim != 3:
        raise ValueError(f"the image must be uint8 (C, H, W), got {image.dtype} {tuple(image.shape)}")
    squares = square_boxes(boxes, image.shape[1], image.shape[2], context).tolist()
    crops = [adapt_batch(image[None, :, y0:y1, x0:x1], input_shape, stats) for x0, y0, x1, y1 in squares]
    device = model_device(model)
    was = model.training
    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(crops), BATCH):
            logits = model(torch.cat(crops[i:i + BATCH]).to(device))
            out.append(torch.softmax(logits.float(), dim=1).cpu())
    model.train(was)
    k = out[0].shape[1] if out else 0
    return torch.cat(out) if out else torch.zeros(0, k)


def smallest_first(boxes: torch.Tensor) -> torch.Tensor:
    """``boxes`` ``(M, 4)`` ordered by area, smallest first (ties keep their order)."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return boxes[torch.argsort(area, stable=True)]


def proposal_detections(boxes: torch.Tensor, probs: torch.Tensor, threshold: float, iou: float,
                        background: int | None) -> Found:
    """The proposals whose best non-background class is at least ``threshold``, merged by non-maximum
    suppression."""
    best, index = foreground(probs, background)
    keep = best >= threshold
    return _suppress(boxes[keep].float(), best[keep], index[keep], iou)


@dataclass(frozen=True)
class Calls:
    """Sliding windows of ``window`` pixels, ``stride`` apart, over an image: ``rows``×``cols`` = ``calls``."""

    window: int
    stride: int
    rows: int
    cols: int

    @property
    def calls(self) -> int:
        return self.rows * self.cols


def sliding_calls(height: int, width: int, windows: Sequence[int], strides: Sequence[int]) -> list[Calls]:
    """How many windows sliding windows classifies at each window size (with its stride) that fits the image."""
    if len(windows) != len(strides):
        raise ValueError(f"one stride per window size: {len(windows)} sizes, {len(strides)} strides")
    return [Calls(w, s, window_count(height, w, s), window_count(width, w, s))
            for w, s in zip(windows, strides, strict=True) if w <= min(height, width)]


# --------------------------------------------------------------------------------------------------- found objects


@dataclass(frozen=True)
class Match:
    """How detections compare with the true objects: ``found`` of ``objects`` matched (same class, IoU ≥ 0.5, each
    true object at most once, best detections first), ``extra`` detections that matched nothing."""

    found: int
    objects: int
    extra: int
    matched: torch.Tensor  # (M,) bool: which detections found an object


def match(found: Found, boxes: torch.Tensor, labels: torch.Tensor, iou: float = IOU_FOUND) -> Match:
    """Match ``found`` (best first) against true ``boxes`` ``(N, 4)`` and ``labels`` ``(N,)``, greedily."""
    matched = torch.zeros(len(found), dtype=torch.bool)
    taken = torch.zeros(len(boxes), dtype=torch.bool)
    if len(found) and len(boxes):
        overlaps = box_iou(found.boxes.float(), boxes.float())  # (M, N)
        for i in range(len(found)):
            ok = (overlaps[i] >= iou) & (labels == found.labels[i]) & ~taken
            if ok.any():
                j = int(torch.where(ok, overlaps[i], -1.0).argmax())
                taken[j] = matched[i] = True
    return Match(int(taken.sum()), len(boxes), int((~matched).sum()), matched)
