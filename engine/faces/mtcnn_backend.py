"""MTCNN detection for the face backends (``engine.faces.mtcnn``): boxes and five landmarks (eye centres, nose tip,
mouth corners), and the "mtcnn" backend — MTCNN finds and aligns the faces, dlib's ResNet embeds them.

dlib's embedder was trained on dlib's own chips (``get_face_chip``: 150×150, padding 0.25, from its 5-point shape
predictor's eye corners and nose). MTCNN's landmarks are other points, so a face is aligned by the similarity
transform (rotation, uniform scale, shift; least squares over the five points) that takes its MTCNN landmarks to where
those landmarks sit on dlib's chip (``DLIB_TEMPLATE``). That template was measured here: the MTCNN landmarks of
face_recognition's test photos (obama, obama2, obama3, biden) mapped into each photo's dlib chip with dlib's own chip
transform, averaged and made left-right symmetric (they agreed within about 3 pixels).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from engine.faces import mtcnn
from engine.faces.backend import TITLES, Face, FaceBackend
from engine.media.images import fit_within

MIN_SCORE = 0.9  # O-Net's probability under which a detection is dropped (mostly small false faces: ears, patches)
DETECT_SIDE = 800  # the longer side faces are looked for at (pixels), as the dlib backend
CHIP = 150
# where MTCNN's five landmarks land on dlib's 150×150 chip (x, y pixels; LANDMARKS' order)
DLIB_TEMPLATE = np.array([[46.6, 45.1], [102.4, 45.1], [74.5, 75.3], [48.4, 105.3], [100.6, 105.3]], np.float64)


class MtcnnDetector:
    """MTCNN on a picture shrunk to ``DETECT_SIDE`` (the cost grows with the pixels), faces at or above
    ``MIN_SCORE``, boxes and landmarks in the full picture's pixels, the most confident first."""

    def __init__(self, side: int = DETECT_SIDE, min_score: float = MIN_SCORE) -> None:
        self.net = mtcnn.MTCNN()
        self.side, self.min_score = side, min_score

    def detect(self, image: np.ndarray) -> list[Face]:
        small, scale = fit_within(image, self.side)
        found = self.net.detect(small)
        faces = [Face(tuple(float(v) / scale for v in box), points / scale, float(score))
                 for box, score, points in zip(found.boxes, found.scores, found.points, strict=True)
                 if score >= self.min_score]
        return sorted(faces, key=lambda f: -f.score)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2×3 matrix of the similarity transform ``[[a, −b, tx], [b, a, ty]]`` taking points ``src`` ``(N, 2)``
    nearest to ``dst`` ``(N, 2)`` in least squares (a rotation, one scale and a shift: the face is not sheared)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    x, y = src[:, 0], src[:, 1]
    one, zero = np.ones_like(x), np.zeros_like(x)
    rows = np.concatenate([np.stack([x, -y, one, zero], 1), np.stack([y, x, zero, one], 1)])  # (2N, 4)
    (a, b, tx, ty), *_ = np.linalg.lstsq(rows, np.concatenate([dst[:, 0], dst[:, 1]]), rcond=None)
    return np.array([[a, -b, tx], [b, a, ty]])


def warp(image: np.ndarray, points: np.ndarray, template: np.ndarray, size: int) -> np.ndarray:
    """``image`` resampled (bilinear) so that ``points`` land on ``template`` in a ``size``×``size`` crop."""
    inverse = similarity(template, points)  # crop pixel -> picture pixel, what PIL's affine transform takes
    out = Image.fromarray(image).transform((size, size), Image.AFFINE, tuple(inverse.ravel()), Image.BILINEAR)
    return np.asarray(out)


def missing() -> str | None:
    """Why the MTCNN + dlib backend cannot run here, or None."""
    from engine.faces import dlib_backend

    return mtcnn.missing() or dlib_backend.missing()


class MtcnnDlibBackend(FaceBackend):
    """MTCNN's detector and 5-point alignment, dlib's 128-d ResNet embedding (the dlib backend's thresholds)."""

    name = "mtcnn"
    title = TITLES["mtcnn"]
    dim = 128
    crop_size = CHIP
    metric = "euclidean"
    threshold = 0.6
    thresholds = {"euclidean": 0.6, "cosine": 0.09}

    def __init__(self) -> None:
        super().__init__()
        from engine.faces.dlib_backend import DlibBackend

        self.detector = MtcnnDetector()
        self._dlib = DlibBackend()  # its embedder (its HOG detector is not used)

    def detect(self, image: np.ndarray) -> list[Face]:
        with self.lock:
            return self.detector.detect(_rgb(image))

    def align(self, image: np.ndarray, face: Face) -> np.ndarray:
        return warp(_rgb(image), face.landmarks, DLIB_TEMPLATE, CHIP)

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        return self._dlib.embed(crops)


def _rgb(image: np.ndarray) -> np.ndarray:
    from engine.faces.dlib_backend import _rgb as rgb

    return rgb(image)
