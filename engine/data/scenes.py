"""Single-object scenes for classification with localisation: one shape (or none) on a larger, noisy background.

Each scene is ``size``×``size`` RGB. With probability ``1 − empty`` it holds one shape of the synthetic set
(``engine.data.shapes``: circle, square, triangle, cross, ring, star) of random size, position, rotation and colour;
otherwise only the background. The label of a scene is what the course's target vector is made from: whether there is
an object, its box and its class (``engine.detection.target.encode``).

Boxes are measured on the drawing itself: the tightest axis-aligned box around the pixels the shape covers by at least
half, in pixel units, ``xyxy`` (``x0, y0`` the top-left pixel's corner, ``x1, y1`` one past the bottom-right pixel), the
convention of ``torchvision.ops``. Deterministic by ``(n, size, seed, part)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.data import shapes

EMPTY_FRACTION = 0.2
MIN_RADIUS, MAX_RADIUS = 0.15, 0.35  # shape radius as a fraction of the scene's side
COVERED = 0.5  # a pixel belongs to the object when the shape covers at least this much of it


@dataclass(frozen=True)
class Scenes:
    """``images`` ``(N, 3, S, S)`` uint8; ``present`` ``(N,)`` bool; ``boxes`` ``(N, 4)`` float32 ``xyxy`` in pixels
    (zeros where there is no object); ``labels`` ``(N,)`` int64 indices into ``classes`` (−1 where there is none)."""

    images: torch.Tensor
    present: torch.Tensor
    boxes: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])


def generate(n: int, size: int = 64, seed: int = 0, part: int = 0, empty: float = EMPTY_FRACTION,
             classes: tuple[str, ...] = shapes.CLASSES) -> Scenes:
    """``n`` scenes of ``size``×``size``; a fraction ``empty`` of them (in expectation) hold no object; objects are
    drawn from ``classes`` (a subset of the synthetic shapes' classes, balanced). ``part`` gives independent streams
    for one seed (0 training, 1 validation, 2 test)."""
    _check(n, size, empty, classes)
    index = {name: shapes.CLASSES.index(name) for name in classes}
    rng = np.random.default_rng([seed, 0x10CA1, part])
    present = rng.random(n) >= empty
    labels = rng.permutation(np.arange(n) % len(classes)).astype(np.int64)
    radius = rng.uniform(MIN_RADIUS, MAX_RADIUS, n) * size
    cx, cy = rng.uniform(radius, size - radius), rng.uniform(radius, size - radius)
    params = shapes.ShapeParams(
        labels=np.array([index[classes[k]] for k in labels], dtype=np.int64), cx=cx, cy=cy, radius=radius,
        angle=rng.uniform(0.0, 2 * np.pi, n), fg=rng.uniform(0.0, 1.0, (n, 3)), bg=rng.uniform(0.0, 1.0, (n, 3)),
        noise=rng.uniform(0.0, 0.08, n))
    close = np.linalg.norm(params.fg - params.bg, axis=1) < 0.45
    params.fg[close] = (params.bg[close] + 0.5) % 1.0  # keep the object visible against its background
    cover = shapes.coverage(params, size) * present[:, None, None]  # (N, S, S): nothing drawn in empty scenes
    fg, bg = params.fg.astype(np.float32)[:, :, None, None], params.bg.astype(np.float32)[:, :, None, None]
    img = bg + (fg - bg) * cover[:, None]  # (N, 3, S, S)
    img += rng.standard_normal(img.shape, dtype=np.float32) * params.noise.astype(np.float32)[:, None, None, None]
    images = np.rint(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)
    boxes = mask_boxes(cover >= COVERED)
    labels = np.where(present, labels, -1)
    return Scenes(torch.from_numpy(images), torch.from_numpy(present), torch.from_numpy(boxes),
                  torch.from_numpy(labels), tuple(classes))


def mask_boxes(masks: np.ndarray) -> np.ndarray:
    """The tightest ``xyxy`` box (pixel units, exclusive end) around each mask's true pixels: ``(N, H, W)`` bool ->
    ``(N, 4)`` float32; zeros for an empty mask."""
    rows, cols = masks.any(axis=2), masks.any(axis=1)  # (N, H), (N, W)
    out = np.zeros((len(masks), 4), np.float32)
    has = rows.any(axis=1)
    h, w = masks.shape[1:]
    out[has, 0] = cols[has].argmax(axis=1)
    out[has, 1] = rows[has].argmax(axis=1)
    out[has, 2] = w - cols[has][:, ::-1].argmax(axis=1)
    out[has, 3] = h - rows[has][:, ::-1].argmax(axis=1)
    return out


def _check(n: int, size: int, empty: float, classes: tuple[str, ...]) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 16:
        raise ValueError(f"size must be an integer of at least 16 pixels, got {size!r}")
    if not isinstance(empty, int | float) or isinstance(empty, bool) or not 0.0 <= empty < 1.0:
        raise ValueError(f"empty must be a fraction in [0, 1), got {empty!r}")
    unknown = [c for c in classes if c not in shapes.CLASSES]
    if not classes or unknown or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct names among {', '.join(shapes.CLASSES)}, got {classes!r}")
