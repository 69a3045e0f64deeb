"""Face verification (1:1): are two pictures the same person? Embed one face of each, measure the distance between
the embeddings, and compare it with a threshold: below it, the same person. The threshold trades the two errors —
lower, fewer strangers accepted (false accepts) and more of the same person refused (false rejects) — and each
backend publishes a default for its distance (dlib: 0.6 euclidean). See docs/faces.md."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.faces.backend import FaceBackend, check_metric, distance
from engine.faces.pipeline import MIN_FACE, EmbeddedFace, embed_one


@dataclass(frozen=True)
class Verification:
    """The outcome: the two faces, their ``distance`` under ``metric``, the ``threshold`` and the decision."""

    a: EmbeddedFace
    b: EmbeddedFace
    distance: float
    threshold: float
    metric: str
    backend: str

    @property
    def same(self) -> bool:
        """The decision: the same person when the distance is below the threshold."""
        return self.distance < self.threshold

    @property
    def decision(self) -> str:
        return "same person" if self.same else "different people"

    def to_dict(self) -> dict:
        """JSON-ready: the numbers, the decision and each face's box (x0, y0, x1, y1 pixels)."""
        return {"distance": round(float(self.distance), 6), "threshold": float(self.threshold), "metric": self.metric,
                "same": self.same, "decision": self.decision, "backend": self.backend,
                "box_a": [round(v, 1) for v in self.a.face.box], "box_b": [round(v, 1) for v in self.b.face.box]}


def compare(a: EmbeddedFace, b: EmbeddedFace, backend: FaceBackend, threshold: float | None = None,
            metric: str | None = None) -> Verification:
    """Two embedded faces compared (``threshold`` and ``metric`` default to the backend's)."""
    metric = check_metric(metric or backend.metric)
    threshold = backend.default_threshold(metric) if threshold is None else float(threshold)
    if not np.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"the threshold must be a positive number, got {threshold}")
    d = float(distance(a.vector, b.vector, metric))
    return Verification(a, b, d, threshold, metric, backend.name)


def verify(image_a: np.ndarray, image_b: np.ndarray, backend: FaceBackend, threshold: float | None = None,
           metric: str | None = None, pick_a: int | None = None, pick_b: int | None = None,
           min_size: int = MIN_FACE) -> Verification:
    """Verify two pictures: one face of each (``pick_*`` when a picture has several), compared (see ``compare``).
    Raises ``engine.faces.pipeline.FaceError`` with a message naming the picture ("picture A"/"picture B")."""
    a = embed_one(image_a, backend, pick_a, min_size, what="picture A")
    b = embed_one(image_b, backend, pick_b, min_size, what="picture B")
    return compare(a, b, backend, threshold, metric)
