"""The dlib backend: dlib's models as ``face_recognition`` uses them, offline from PyPI (``dlib-bin``, and the model
files of ``face_recognition_models``; docs/assets.md).

- Detection: the HOG detector (Dalal & Triggs, 2005: histograms of oriented gradients scored by a linear SVM over a
  sliding window and an image pyramid) by default, or dlib's CNN detector (max-margin object detection, King 2015),
  slower on a CPU and better at turned faces. Each image is shrunk so its longer side is at most ``DETECT_SIDE`` before
  detecting (the cost grows with the pixels), and upsampled once, so faces down to about 40 pixels are found.
- Alignment: the 5-point shape predictor (Kazemi & Sullivan, 2014: a cascade of regression trees) finds the eyes'
  corners and the nose; ``get_face_chip`` rotates and scales the face so they land on fixed places of a 150×150 crop.
- Embedding: a ResNet-34-like network trained with a metric loss on about 3 million faces; 128 numbers, 99.38% on
  LFW. Same person ≈ 0.3–0.45 apart (euclidean), different people ≈ 0.8; the published threshold is 0.6.

``face_recognition_models``' own ``__init__`` imports ``pkg_resources`` (gone from new setuptools), so only its files
are used: found with ``importlib.util.find_spec``, which does not run the package.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from engine.faces.backend import Face, FaceBackend
from engine.media.images import fit_within

TITLE = "dlib ResNet (128-d, offline)"
DETECT_SIDE = {"hog": 800, "cnn": 512}  # the longer side faces are looked for at (pixels)
MODEL_FILES = {"embed": "dlib_face_recognition_resnet_model_v1.dat", "shape": "shape_predictor_5_face_landmarks.dat",
               "cnn": "mmod_human_face_detector.dat"}
MIN_SCORE = {"hog": 0.25, "cnn": 0.0}  # below, mostly false: the astronaut photo's mission patch scores 0.12 with HOG
CHIP = 150
CHIP_PADDING = 0.25  # dlib's own: the embedding network was trained on chips with this margin


def models_dir() -> Path | None:
    """The model files' folder inside ``face_recognition_models``, or None when it is not installed."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def missing() -> str | None:
    """Why the dlib backend cannot run here, or None."""
    if importlib.util.find_spec("dlib") is None:
        return "the package dlib-bin is not installed (pip install -r requirements.txt)"
    folder = models_dir()
    if folder is None:
        return "the package face_recognition_models is not installed (pip install -r requirements.txt)"
    lost = [f for f in MODEL_FILES.values() if not (folder / f).is_file()]
    if lost:
        return f"face_recognition_models lacks {', '.join(lost)} in {folder}"
    return None


class DlibBackend(FaceBackend):
    """dlib's detector (``detector``: "hog" or "cnn"), 5-point aligner and 128-d ResNet embedder."""

    name = "dlib"
    title = TITLE
    dim = 128
    crop_size = CHIP
    metric = "euclidean"
    threshold = 0.6
    thresholds = {"euclidean": 0.6, "cosine": 0.09}  # cosine: 0.6 euclidean at its vectors' length (≈1.38)

    def __init__(self, detector: str = "hog") -> None:
        super().__init__()
        if detector not in DETECT_SIDE:
            raise ValueError(f"unknown dlib detector {detector!r}; choose one of {', '.join(DETECT_SIDE)}")
        import dlib

        folder = models_dir()
        self.detector_kind = detector
        self._dlib = dlib
        self._detector = (dlib.get_frontal_face_detector() if detector == "hog"
                          else dlib.cnn_face_detection_model_v1(str(folder / MODEL_FILES["cnn"])))
        self._shape = dlib.shape_predictor(str(folder / MODEL_FILES["shape"]))
        self._net = dlib.face_recognition_model_v1(str(folder / MODEL_FILES["embed"]))

    def detect(self, image: np.ndarray) -> list[Face]:
        image = _rgb(image)
        small, scale = fit_within(image, DETECT_SIDE[self.detector_kind])
        with self.lock:
            if self.detector_kind == "hog":
                rects, scores, _ = self._detector.run(small, 1, MIN_SCORE["hog"])
                found = list(zip(rects, scores, strict=True))
            else:
                found = [(d.rect, d.confidence) for d in self._detector(small, 1) if d.confidence >= MIN_SCORE["cnn"]]
            faces = []
            for rect, score in found:
                box = (rect.left() / scale, rect.top() / scale, rect.right() / scale, rect.bottom() / scale)
                full = self._dlib.rectangle(*(round(v) for v in box))
                shape = self._shape(image, full)  # landmarks on the full-resolution picture
                points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)  # (5, 2)
                faces.append(Face(tuple(float(v) for v in box), points, float(score)))
        return sorted(faces, key=lambda f: -f.score)

    def align(self, image: np.ndarray, face: Face) -> np.ndarray:
        image = _rgb(image)
        dlib = self._dlib
        x0, y0, x1, y1 = (round(v) for v in face.box)
        shape = dlib.full_object_detection(dlib.rectangle(x0, y0, x1, y1),
                                           [dlib.point(round(float(x)), round(float(y))) for x, y in face.landmarks])
        with self.lock:
            return np.asarray(dlib.get_face_chip(image, shape, size=CHIP, padding=CHIP_PADDING))  # (150, 150, 3)

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        if not crops:
            return np.zeros((0, self.dim), np.float32)
        for c in crops:
            if c.shape != (CHIP, CHIP, 3) or c.dtype != np.uint8:
                raise ValueError(f"dlib embeds aligned {CHIP}×{CHIP}×3 uint8 crops, got {c.shape} {c.dtype}")
        with self.lock:
            vectors = self._net.compute_face_descriptor([np.ascontiguousarray(c) for c in crops])
        return np.array([np.asarray(v) for v in vectors], dtype=np.float32)  # (N, 128)


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"a face image is (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
    return np.ascontiguousarray(image)
