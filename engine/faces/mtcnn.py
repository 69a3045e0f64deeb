"""MTCNN face detection (Zhang et al., "Joint Face Detection and Alignment using Multi-task Cascaded Convolutional
Networks", 2016): three small networks in a cascade, each looking harder at fewer candidates.

1. P-Net (``engine.detection.pnet``): a fully convolutional network run over an image pyramid; every 12×12 window
   gets a face probability and a box correction. Windows at or above ``thresholds[0]`` become candidates, merged by
   non-maximum suppression within each pyramid level and then across levels.
2. R-Net: each candidate, squared and cut out at 24×24, is scored again and its box refined.
3. O-Net: the survivors at 48×48 are scored a third time, their boxes refined, and five landmarks predicted: the two
   eye centres, the nose tip and the two mouth corners (``LANDMARKS``).

The weights are the published ones, as facenet-pytorch ships them in its wheel (``facenet_pytorch/data/{pnet,rnet,
onet}.pt``, state dicts read with ``torch.load(weights_only=True)``, loaded strictly into the modules below, whose
parameter names are the state dicts'). facenet-pytorch's own code is not used: it is installed without its
dependencies (requirements-nodeps.txt) and its package does not import without ``tqdm`` and ``requests``; the cascade
below follows its ``detect_face`` step for step (same thresholds, pyramid factor, resampling and NMS order).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import nms

from engine.detection.pnet import PNet, weights_path

LANDMARKS = ("left eye", "right eye", "nose", "left mouth corner", "right mouth corner")  # as seen in the image
THRESHOLDS = (0.6, 0.7, 0.7)  # P-, R-, O-Net's face probability cut (facenet-pytorch's defaults)
FACTOR = 0.709  # the pyramid's step (≈ 1/√2: each level has half the pixels of the one before)
MIN_FACE = 20  # pixels: the smallest face looked for (the pyramid's first scale is 12 / MIN_FACE)


class RNet(nn.Module):
    """R-Net: ``(B, 3, 24, 24)`` -> face probability ``(B,)`` and box offsets ``(B, 4)``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = self.prelu4(self.dense4(x.permute(0, 3, 2, 1).flatten(1)))  # the weights were ported from (W, H, C)
        return torch.softmax(self.dense5_1(x), dim=1)[:, 1], self.dense5_2(x)


class ONet(nn.Module):
    """O-Net: ``(B, 3, 48, 48)`` -> face probability ``(B,)``, box offsets ``(B, 4)`` and landmarks ``(B, 10)`` (the
    five x's, then the five y's, as fractions of the box)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.dense5(x.permute(0, 3, 2, 1).flatten(1)))
        return torch.softmax(self.dense6_1(x), dim=1)[:, 1], self.dense6_2(x), self.dense6_3(x)


def _load(net: nn.Module, path: Path) -> nn.Module:
    state = torch.load(io.BytesIO(path.read_bytes()), map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net.eval()


def missing() -> str | None:
    """Why MTCNN cannot run here (its weights' wheel is not installed), or None."""
    try:
        folder = weights_path().parent
    except FileNotFoundError as e:
        return str(e)
    lost = [f"{n}.pt" for n in ("rnet", "onet") if not (folder / f"{n}.pt").is_file()]
    return f"{', '.join(lost)} missing in {folder}" if lost else None


@dataclass(frozen=True)
class Found:
    """MTCNN's faces in one image: ``boxes`` ``(N, 4)`` xyxy pixels, ``scores`` ``(N,)`` (O-Net's probability) and
    ``points`` ``(N, 5, 2)`` (x, y) pixels in the order of ``LANDMARKS``; the most confident first."""

    boxes: np.ndarray
    scores: np.ndarray
    points: np.ndarray


class MTCNN:
    """The cascade with its published weights (CPU, eval mode). Not thread-safe by itself: callers serialise."""

    def __init__(self, min_face: int = MIN_FACE, thresholds: tuple[float, float, float] = THRESHOLDS,
                 factor: float = FACTOR) -> None:
        folder = weights_path().parent
        self.pnet = _load(PNet(), folder / "pnet.pt")
        self.rnet = _load(RNet(), folder / "rnet.pt")
        self.onet = _load(ONet(), folder / "onet.pt")
        self.min_face, self.thresholds, self.factor = min_face, thresholds, factor

    @torch.inference_mode()
    def detect(self, image: np.ndarray) -> Found:
        """Every face of ``image`` ``(H, W, 3)`` uint8 RGB."""
        img = torch.from_numpy(np.array(image, dtype=np.float32)).permute(2, 0, 1)[None]  # (1, 3, H, W)
        h, w = img.shape[2:]
        boxes = self._stage1(img, h, w)  # (M, 5): x0, y0, x1, y1, score
        if len(boxes):
            boxes = self._stage2(img, boxes, h, w)
        if not len(boxes):
            return Found(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32))
        boxes, points = self._stage3(img, boxes, h, w)
        order = np.argsort(-boxes[:, 4], kind="stable")
        return Found(boxes[order, :4].astype(np.float32), boxes[order, 4].astype(np.float32),
                     points[order].astype(np.float32))

    def _stage1(self, img: torch.Tensor, h: int, w: int) -> torch.Tensor:
        scale, found = 12.0 / self.min_face, []
        side = min(h, w) * scale
        while side >= 12:
            data = F.interpolate(img, size=(int(h * scale + 1), int(w * scale + 1)), mode="area")
            probs, reg = self.pnet((data - 127.5) * 0.0078125)  # (1, H', W'), (1, 4, H', W')
            rows, cols = torch.nonzero(probs[0] >= self.thresholds[0], as_tuple=True)
            # each window's box on the original picture (MATLAB's 1-based pixel convention, as the weights expect)
            x0, y0 = ((2 * cols + 1) / scale).floor(), ((2 * rows + 1) / scale).floor()
            x1, y1 = ((2 * cols + 12) / scale).floor(), ((2 * rows + 12) / scale).floor()
            b = torch.stack([x0, y0, x1, y1, probs[0, rows, cols]], 1)
            b = torch.cat([b, reg[0][:, rows, cols].T], 1)  # (K, 9)
            found.append(b[nms(b[:, :4], b[:, 4], 0.5)])
            scale *= self.factor
            side *= self.factor
        boxes = torch.cat(found) if found else torch.zeros(0, 9)
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
        bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        refined = torch.stack([boxes[:, 0] + boxes[:, 5] * bw, boxes[:, 1] + boxes[:, 6] * bh,
                               boxes[:, 2] + boxes[:, 7] * bw, boxes[:, 3] + boxes[:, 8] * bh, boxes[:, 4]], 1)
        return _square(refined)

    def _stage2(self, img: torch.Tensor, boxes: torch.Tensor, h: int, w: int) -> torch.Tensor:
        data, boxes = _crops(img, boxes, h, w, 24)
        if not len(boxes):
            return boxes
        probs, reg = self.rnet(data)
        keep = probs > self.thresholds[1]
        boxes = torch.cat([boxes[keep, :4], probs[keep, None]], 1)
        reg = reg[keep]
        pick = nms(boxes[:, :4], boxes[:, 4], 0.7)
        return _square(_regress(boxes[pick], reg[pick]))

    def _stage3(self, img: torch.Tensor, boxes: torch.Tensor, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        data, boxes = _crops(img, boxes, h, w, 48)
        if not len(boxes):
            return np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)
        probs, reg, marks = self.onet(data)
        keep = probs > self.thresholds[2]
        boxes = torch.cat([boxes[keep, :4], probs[keep, None]], 1)
        reg, marks = reg[keep], marks[keep]
        bw = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        bh = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        points = torch.stack([bw * marks[:, :5] + boxes[:, :1] - 1, bh * marks[:, 5:] + boxes[:, 1:2] - 1], 2)
        boxes = _regress(boxes, reg)
        pick = _nms_min(boxes[:, :4], boxes[:, 4], 0.7)
        return boxes[pick].numpy(), points[pick].numpy()


def _square(boxes: torch.Tensor) -> torch.Tensor:
    """Each box made square about its centre (its longer side)."""
    boxes = boxes.clone()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(w, h)
    boxes[:, 0] += w * 0.5 - side * 0.5
    boxes[:, 1] += h * 0.5 - side * 0.5
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def _regress(boxes: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    """The boxes moved by the network's offsets (fractions of each box's side)."""
    boxes = boxes.clone()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    boxes[:, :4] += reg * torch.stack([w, h, w, h], 1)
    return boxes


def _crops(img: torch.Tensor, boxes: torch.Tensor, h: int, w: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each box's pixels (clipped to the picture) resized to ``size``², normalised; the boxes that gave a crop."""
    b = boxes[:, :4].trunc().int()
    x0, y0 = b[:, 0].clamp(min=1), b[:, 1].clamp(min=1)
    x1, y1 = b[:, 2].clamp(max=w), b[:, 3].clamp(max=h)
    data, kept = [], []
    for k in range(len(b)):
        if y1[k] > y0[k] - 1 and x1[k] > x0[k] - 1:
            crop = img[:, :, int(y0[k]) - 1:int(y1[k]), int(x0[k]) - 1:int(x1[k])]
            data.append(F.interpolate(crop, size=(size, size), mode="area"))
            kept.append(k)
    if not data:
        return torch.zeros(0, 3, size, size), boxes[:0]
    return (torch.cat(data) - 127.5) * 0.0078125, boxes[kept]


def _nms_min(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """NMS where overlap is the intersection over the *smaller* box (MTCNN's last stage): a box inside a more
    confident one goes, however small. Indices kept, most confident first."""
    order = torch.argsort(scores, descending=True)
    b = boxes[order]
    area = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)  # MTCNN's inclusive pixel boxes
    iw = (torch.minimum(b[:, None, 2], b[None, :, 2]) - torch.maximum(b[:, None, 0], b[None, :, 0]) + 1).clamp(min=0)
    ih = (torch.minimum(b[:, None, 3], b[None, :, 3]) - torch.maximum(b[:, None, 1], b[None, :, 1]) + 1).clamp(min=0)
    overlap = iw * ih / torch.minimum(area[:, None], area[None, :])  # (N, N)
    keep: list[int] = []
    alive = torch.ones(len(b), dtype=torch.bool)
    for i in range(len(b)):
        if alive[i]:
            keep.append(i)
            alive &= overlap[i] <= threshold
    return order[keep]

