"""One interface for every face backend: detect faces (boxes and five landmarks), align one face to a fixed-size
crop, embed crops to vectors. A backend also says how its vectors are compared: its distance and the threshold at
which two faces count as the same person. Backends register in ``BACKENDS`` by name and are built on first use
(``backend(name)``), once per process: their models are read-only and each backend serialises its own calls.

Boxes are ``xyxy`` in the image's pixels (floats; a face at the border may reach past it); landmarks are ``(5, 2)``
``(x, y)`` pixels in the backend's own order (dlib's: the two corners of each eye and the bottom of the nose).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from engine.registry import Registry

METRICS = ("euclidean", "cosine")
TITLES = {"mtcnn": "MTCNN detection + dlib ResNet (128-d, offline)",
          "facenet": "MTCNN + FaceNet Inception-ResNet-v1 (VGGFace2, 512-d)"}  # what menus show


@dataclass(frozen=True)
class Face:
    """One detected face: ``box`` (x0, y0, x1, y1) pixels, ``landmarks`` (5, 2) pixels, the detector's ``score``."""

    box: tuple[float, float, float, float]
    landmarks: np.ndarray = field(repr=False, compare=False)
    score: float = 0.0

    @property
    def size(self) -> float:
        """The box's shorter side, in pixels."""
        x0, y0, x1, y1 = self.box
        return float(min(x1 - x0, y1 - y0))


class FaceBackend(ABC):
    """A face pipeline. Images are ``(H, W, 3)`` uint8 RGB; crops ``(S, S, 3)`` uint8 RGB (``crop_size``)."""

    name: str = ""
    title: str = ""  # what a menu shows
    dim: int = 0  # the embedding's length
    crop_size: int = 0  # the aligned crop's side
    metric: str = "euclidean"  # the distance its threshold is for (one of METRICS)
    threshold: float = 0.0  # the same person below it (the backend's published default)
    thresholds: dict[str, float] = {}  # its default threshold for each metric

    def __init__(self) -> None:
        self.lock = threading.Lock()  # the models' buffers are not shared between threads: one call at a time

    @abstractmethod
    def detect(self, image: np.ndarray) -> list[Face]:
        """Every face in ``image``, the most confident first."""

    @abstractmethod
    def align(self, image: np.ndarray, face: Face) -> np.ndarray:
        """``face`` cut out of ``image``, rotated and scaled so its landmarks land where the embedder expects."""

    @abstractmethod
    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        """``(N, dim)`` float32 embeddings of ``N`` aligned crops."""

    def default_threshold(self, metric: str) -> float:
        """The threshold for ``metric`` (``ValueError`` naming the valid metrics)."""
        check_metric(metric)
        return self.thresholds[metric]


@dataclass(frozen=True)
class BackendInfo:
    """A registered backend: its title, a builder, and a check that says whether it can run here (None: it can)."""

    title: str
    build: Callable[..., FaceBackend]
    missing: Callable[[], str | None]


BACKENDS: Registry[BackendInfo] = Registry("face backend")
_BUILT: dict[tuple[str, tuple], FaceBackend] = {}
_BUILT_LOCK = threading.Lock()


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"unknown distance {metric!r}; choose one of {', '.join(METRICS)}")
    return metric


def available() -> dict[str, str | None]:
    """Every registered backend's name -> None when it runs here, else why not (a missing package, say)."""
    return {name: BACKENDS.get(name).missing() for name in BACKENDS.names()}


def backend(name: str = "dlib", **options) -> FaceBackend:
    """The backend ``name`` built with ``options`` (once per process and options). ``ValueError`` for an unknown
    name, or one that cannot run here (the message says why)."""
    info = BACKENDS.get(name)
    why = info.missing()
    if why:
        raise ValueError(f"the face backend {name!r} cannot run here: {why}")
    key = (name, tuple(sorted(options.items())))
    with _BUILT_LOCK:
        if key not in _BUILT:
            _BUILT[key] = info.build(**options)
        return _BUILT[key]


def distance(a: np.ndarray, b: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Distances between embeddings: ``a`` ``(D,)`` or ``(N, D)`` against ``b`` ``(D,)`` or ``(M, D)``; returns a float,
    ``(N,)``, ``(M,)`` or ``(N, M)`` as the shapes broadcast. Euclidean ``‖a − b‖``; cosine ``1 − a·b / (‖a‖‖b‖)``."""
    check_metric(metric)
    a2, b2 = np.atleast_2d(np.asarray(a, np.float64)), np.atleast_2d(np.asarray(b, np.float64))
    if a2.shape[1] != b2.shape[1]:
        raise ValueError(f"embeddings of different lengths: {a2.shape[1]} and {b2.shape[1]}")
    if metric == "euclidean":
        d = np.sqrt(np.maximum(((a2[:, None, :] - b2[None, :, :]) ** 2).sum(-1), 0.0))  # (N, M)
    else:
        na = a2 / np.maximum(np.linalg.norm(a2, axis=1, keepdims=True), 1e-12)
        nb = b2 / np.maximum(np.linalg.norm(b2, axis=1, keepdims=True), 1e-12)
        d = 1.0 - na @ nb.T  # (N, M)
    if np.ndim(a) == 1 and np.ndim(b) == 1:
        return d[0, 0]
    if np.ndim(a) == 1:
        return d[0]
    if np.ndim(b) == 1:
        return d[:, 0]
    return d


def _lazy(module: str, attribute: str) -> Callable:
    """``module.attribute`` called on use: a backend's module imports this one, so it is imported only when needed."""
    def call(*args, **kwargs):
        import importlib

        return getattr(importlib.import_module(module), attribute)(*args, **kwargs)

    return call


def _register_builtin() -> None:
    from engine.faces import dlib_backend

    BACKENDS.add("dlib", BackendInfo(dlib_backend.TITLE, dlib_backend.DlibBackend, dlib_backend.missing))
    for name, module, cls in (("mtcnn", "engine.faces.mtcnn_backend", "MtcnnDlibBackend"),
                              ("facenet", "engine.faces.facenet", "FacenetBackend")):
        BACKENDS.add(name, BackendInfo(TITLES[name], _lazy(module, cls), _lazy(module, "missing")))


_register_builtin()
