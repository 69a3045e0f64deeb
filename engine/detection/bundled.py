"""The bundled YOLO detector of the generated multi-object scenes: weights and their description committed under
``weights/yolo_scenes/`` (``model.safetensors``, ``meta.json``), made by ``scripts/train_yolo.py`` (docs/assets.md,
docs/detection.md "YOLO"), so detection works on a fresh machine without training.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from engine.data.normalization import Normalization
from engine.detection import yolo
from engine.detection.detect import Detect
from engine.nets.build import build
from engine.nets.spec import NetworkSpec
from engine.training.evaluate import outputs
from engine.training.tasks import task_from_dict

WEIGHTS = Path(__file__).resolve().parents[2] / "weights" / "yolo_scenes"


@dataclass(frozen=True)
class BundledDetector:
    """The network (eval mode, CPU), its task (grid, anchors, thresholds), input statistics, classes and the
    ``meta.json`` it came with (its held-out mAP under ``meta["held_out"]``)."""

    model: torch.nn.Module
    task: Detect
    stats: Normalization
    classes: tuple[str, ...]
    meta: dict[str, Any]

    @property
    def side(self) -> int:
        return int(self.meta["input_shape"][-1])

    def raw(self, images: torch.Tensor) -> torch.Tensor:
        """Raw grid outputs ``(N, B·(5 + C), S, S)`` for uint8 images ``(N, 3, H, W)`` (resized to the input)."""
        return outputs(self.model, images, self.stats)

    def detect(self, images: torch.Tensor, **thresholds: Any) -> list[yolo.Detections]:
        """Each image's detections, boxes ``xyxy`` in the network input's pixels (``side``), at the task's thresholds
        or ``score_threshold``, ``iou_threshold``, ``max_boxes``, ``per_class`` given here."""
        g = self.task.grid_for(len(self.classes))
        options = {"score_threshold": self.task.score_threshold, "iou_threshold": self.task.iou_threshold,
                   **thresholds}
        return yolo.detect(self.raw(images), g, self.side, **options)


def load_bundled(folder: str | Path = WEIGHTS) -> BundledDetector:
    """The detector in ``folder``; ``FileNotFoundError`` naming the script that makes it when it is not there."""
    folder = Path(folder)
    if not (folder / "model.safetensors").is_file() or not (folder / "meta.json").is_file():
        raise FileNotFoundError(f"no bundled detector in {folder}: run scripts/train_yolo.py to make one")
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    spec = NetworkSpec.from_dict(meta["spec"])
    model = build(spec)
    model.load_state_dict(load_file(str(folder / "model.safetensors")), strict=True)
    model.eval()
    task = task_from_dict(meta["task"])
    return BundledDetector(model, task, Normalization(tuple(meta["stats"]["mean"]), tuple(meta["stats"]["std"])),
                           tuple(meta["classes"]), meta)
