"""The picture the YOLO lab looks at: a generated scene of several shapes (its true boxes known, chosen by number),
or a photo, an upload (the project's capped, whitelisted decoding), a drawing or the webcam through the shared image
source widget — the webcam live, with the detector's boxes on every frame, a snapshot taken from it, or a photo from
the browser's camera dialog when the live stream cannot connect. The detector sees a picture's centred square,
resized to its input side (``engine.detection.frames``); the grid and the stages below are drawn on that view.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from engine.data.registry import multi_scenes
from engine.detection.frames import detect_picture, square_of
from playground.figures import yolo as figs
from playground.training.common import PERSIST
from playground.widgets import image_source
from playground.yolo.detector import Detector
from playground.yolo.live import live_ui
from playground.yolo.settings import Thresholds

KEY = "yolo_input"  # the image source's key
SCENE_KEY = "_w_yolo_scene"
SCENES = 10_000  # scene numbers: each is the held-out stream of "multi_scenes" drawn with that seed
LIVE_KEY = f"{KEY}_webcam"  # the stream image_source draws for KEY's webcam


@dataclass(frozen=True, eq=False)
class Input:
    """A picture ``rgb`` ``(H, W, 3)`` uint8, what it is, a ``key`` for caches, and for a scene its true ``boxes``
    ``(M, 4)`` ``xyxy`` (pixels) and ``labels`` ``(M,)`` into ``classes``."""

    rgb: np.ndarray
    caption: str
    key: str
    boxes: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    classes: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class View:
    """What the detector sees of an ``Input``: ``image`` ``(1, 3, side, side)`` uint8 and the true boxes mapped onto
    it (None for a picture without them)."""

    image: torch.Tensor
    boxes: torch.Tensor | None
    labels: torch.Tensor | None

    @property
    def rgb(self) -> np.ndarray:
        return np.ascontiguousarray(self.image[0].permute(1, 2, 0).numpy())


@st.cache_data(max_entries=64, show_spinner=False)
def scene(number: int) -> tuple[np.ndarray, torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """Scene ``number``: ``(H, W, 3)`` uint8, its boxes, labels and class names."""
    s = multi_scenes(1, int(number), 2)
    return (np.ascontiguousarray(s.images[0].permute(1, 2, 0).numpy()), s.targets.boxes[0].float(),
            s.targets.labels[0].long(), tuple(s.targets.classes))


def view_of(pic: Input, side: int) -> View:
    """The detector's view of ``pic`` (its centred square at ``side`` pixels) with the true boxes moved onto it."""
    image, (top, left, size) = square_of(pic.rgb, side)
    if pic.boxes is None:
        return View(image, None, None)
    shift = torch.tensor([left, top, left, top], dtype=torch.float32)
    return View(image, ((pic.boxes - shift) * (side / size)).clamp(0, side), pic.labels)


def input_ui(detector: Detector, thresholds: Thresholds) -> Input | None:
    """The source menu and its controls; the picture with its detections drawn (the webcam: live). None (with a
    hint) until there is a picture."""
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    source = image_source.source_ui(KEY, extra={"scene": "Generated scene"}, default="scene", where=left,
                                    label="Picture",
                                    help="A generated scene (the kind the bundled detector learnt), a photo, your "
                                         "upload, a drawing, or the live webcam.")
    if source == "scene":
        number = right.number_input("Scene number", 0, SCENES - 1, 0, key=SCENE_KEY, persist_state=PERSIST,
                                    help="Each number draws another scene of one to six shapes (held out: the "
                                         "detector never trained on it).")
        rgb, boxes, labels, classes = scene(int(number))
        pic = Input(rgb, f"generated scene {number}", f"scene:{number}", boxes, labels, classes)
    else:
        options = image_source.Options(
            square=False, live=lambda key: live_ui(key, detector, thresholds),
            snapshot_label="Use the current frame",
            webcam_help="Press **START**: every frame goes through the detector with the thresholds above — move them "
                        "while it streams. **Use the current frame** to look inside it below.")
        got = image_source.picture_ui(KEY, source, options, where=right)
        if got is None:
            return None
        rgb = got.image if got.image.ndim == 3 else np.repeat(got.image[..., None], 3, axis=2)
        pic = Input(np.ascontiguousarray(rgb), got.caption, got.key)
    _detections_ui(pic, detector, thresholds)
    return pic


def _detections_ui(pic: Input, detector: Detector, thresholds: Thresholds) -> None:
    found = detect_picture(detector.model, pic.rgb, detector.stats, detector.grid, detector.side,
                           **thresholds.options())
    layers = []
    if pic.boxes is not None:
        layers.append(figs.Layer(pic.boxes.tolist(), figs.TRUTH, "true box", dash="dot", width=1.5))
    names = [f"{detector.classes[int(c)]} {s:.2f}" for c, s in zip(found.labels.tolist(), found.scores.tolist(),
                                                                    strict=True)]
    layers.append(figs.Layer(found.boxes.tolist(), [figs.class_color(c) for c in found.labels.tolist()],
                             "detection", names, labels=True))
    h, w = pic.rgb.shape[:2]
    zoom = max(1, 384 // max(h, w))
    big = pic.rgb.repeat(zoom, axis=0).repeat(zoom, axis=1) if zoom > 1 else pic.rgb
    scaled = [dataclasses.replace(layer, boxes=(np.asarray(layer.boxes, dtype=np.float64).reshape(-1, 4) * zoom)
                                  .tolist()) for layer in layers]
    fig, text = st.columns([3, 2], vertical_alignment="center")
    fig.plotly_chart(figs.picture(big, scaled, height=420), key="_w_yolo_picture_fig")
    truth = f" of the {len(pic.boxes)} shapes drawn" if pic.boxes is not None else ""
    text.markdown(f"**{len(found.scores)} boxes**{truth} on {pic.caption}, by {detector.name}.")
    nms = "per class" if thresholds.per_class else "across classes"
    text.caption(f"The detector sees the centred square, resized to {detector.side}×{detector.side}, cut into a "
                 f"{detector.task.grid}×{detector.task.grid} grid with {len(detector.task.anchors)} anchors a cell: "
                 f"{detector.grid.channels} numbers per cell. Boxes scoring at least {thresholds.score:.2f} survive "
                 f"the filter; NMS at IoU {thresholds.iou:.2f} ({nms}) keeps at most {thresholds.max_boxes}. "
                 f"Its classes: {', '.join(detector.classes)}."
                 + (" It learnt generated shapes only: on photos expect few or odd boxes." if pic.boxes is None
                    else ""))
