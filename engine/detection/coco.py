"""A real detector of photos: torchvision's SSDlite320 with a MobileNetV3-Large backbone trained on COCO (Liu et al.,
"SSD: Single Shot MultiBox Detector", ECCV 2016; Howard et al., "Searching for MobileNetV3", ICCV 2019), 80 kinds
of everyday objects, behind the same interface as the bundled YOLO (``engine.detection.detectors``).

Its weights (13.4 MB) are found by the weights resolver (``engine.nets.weights.resolve_weights``): a file the caller
names, ``$CNNPG_WEIGHTS_DIR``, torch's cache, or — only when the caller allows it — torchvision's download, verified
by the start of its SHA-256. Offline and without the file, ``available()`` says why and how to get it. The file is read
with ``torch.load(weights_only=True)``: never unpickled.

The network's own post-processing (score filter, per-class NMS at 0.55, 300 boxes) is opened up so the candidates are
every box scoring at least ``CANDIDATE_SCORE`` (below it the model keeps nothing: a floor, not a threshold the user
moves) with its NMS switched off (an IoU threshold of 1: no two boxes overlap by more); the user's score threshold,
NMS (per class or class-agnostic) and the most boxes then apply as for the bundled YOLO (``yolo.select``), and the NMS
step-through shows the same suppression. A box's score is the SSD's class probability (a softmax over the 91 COCO ids
with background; there is no separate p_c).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import torch

from engine.data.normalization import Normalization
from engine.detection import yolo
from engine.nets.presets import Weights
from engine.nets.weights import WeightsSource, resolve_weights

TITLE = "SSDlite320 MobileNetV3-Large (COCO)"
WEIGHTS = Weights(
    file="ssdlite320_mobilenet_v3_large_coco-a79551df.pth", dataset="COCO 2017",
    stats=Normalization((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),  # the network normalises its inputs itself
    licence="BSD-3-Clause (torchvision); COCO annotations CC BY 4.0",
    url="https://download.pytorch.org/models/ssdlite320_mobilenet_v3_large_coco-a79551df.pth",
    sha256_prefix="a79551df",
)
MEGABYTES = 13.4  # the file's size, for a page's download button
CANDIDATE_SCORE = 0.05  # boxes scoring below this are not candidates (torchvision's evaluation floor, 0.001, gives
# tens of thousands of boxes whose NMS costs seconds on a CPU; a page's score threshold starts well above it)
MAX_CANDIDATES = 3000  # per image, best first


@cache
def coco_classes() -> tuple[str, ...]:
    """The 91 COCO category names in the order of the labels (``"__background__"`` and ``"N/A"`` fill the unused ids),
    from torchvision's weights metadata (nothing downloaded)."""
    from torchvision.models.detection import SSDLite320_MobileNet_V3_Large_Weights

    return tuple(SSDLite320_MobileNet_V3_Large_Weights.COCO_V1.meta["categories"])


def locate(path: str | Path | None = None, allow_download: bool = False) -> WeightsSource:
    """Where the weights are (``FileNotFoundError`` saying where it looked and how to get them)."""
    return resolve_weights(WEIGHTS, TITLE, name="ssdlite320_coco", path=path, allow_download=allow_download)


def available(path: str | Path | None = None) -> tuple[bool, str]:
    """``(True, where the weights are)`` or ``(False, why not and how to get them)``; never downloads."""
    try:
        source = locate(path)
    except FileNotFoundError as e:
        return False, str(e)
    return True, f"{TITLE} weights from {source.path} ({source.where})"


def build_model(num_classes: int = 91) -> torch.nn.Module:
    """torchvision's SSDlite320 MobileNetV3-Large with random weights (no backbone weights fetched)."""
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large

    return ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=num_classes)


class CocoDetector:
    """The COCO detector: ``candidates(image)`` are its boxes in the image's pixels before the user's score filter and
    NMS (``engine.detection.detectors.Detector``)."""

    title = TITLE
    score_threshold = yolo.SCORE_THRESHOLD
    iou_threshold = yolo.IOU_THRESHOLD

    def __init__(self, model: torch.nn.Module, source: WeightsSource | None = None,
                 candidate_score: float = CANDIDATE_SCORE) -> None:
        self.model, self.source = model.eval(), source
        self.classes = coco_classes()
        model.score_thresh = candidate_score
        model.nms_thresh = 1.0  # no suppression inside: NMS is the caller's step
        model.detections_per_img = MAX_CANDIDATES

    def candidates(self, image: torch.Tensor) -> yolo.Raw:
        with torch.inference_mode():
            out = self.model([image.float() / 255.0])[0]
        scores = out["scores"]
        return yolo.Raw(out["boxes"][None], scores[None], torch.zeros(1, len(scores), 0), scores[None],
                        out["labels"][None])


def load_coco(path: str | Path | None = None, allow_download: bool = False) -> CocoDetector:
    """The COCO detector with its weights (``FileNotFoundError`` when they are not here and no download is allowed;
    ``CheckpointError`` for a file that is not a weights-only state dict of this network)."""
    from engine.training.runs import load_state_dict
    from engine.training.runs.files import CheckpointError

    source = locate(path, allow_download)
    model = build_model()
    state = load_state_dict(source.path)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{source.path} does not hold {TITLE}'s weights: {str(e).splitlines()[0]}") from None
    return CocoDetector(model, source)
