"""Scenes of shapes with their boxes: one shape or none (``generate``: classification with localisation), or several
(``generate_many``: detection — sliding windows, region proposals, YOLO).

Each scene is ``size``×``size`` RGB. With probability ``1 − empty`` it holds one shape of the synthetic set
(``engine.data.shapes``: circle, square, triangle, cross, ring, star) of random size, position, rotation and colour;
otherwise only the background. The label of a scene is what the course's target vector is made from: whether there is
an object, its box and its class (``engine.detection.target.encode``).

Boxes are measured on the drawing itself: the tightest axis-aligned box around the pixels the shape covers by at least
half, in pixel units, ``xyxy`` (``x0, y0`` the top-left pixel's corner, ``x1, y1`` one past the bottom-right pixel), the
convention of ``torchvision.ops``. Deterministic by ``(n, size, seed, part)``.

In a scene of several shapes they are painted one after another, so a later shape hides part of an earlier one; a
shape's box is measured on the pixels where it is still seen (covered by it at least half, and less than half by every
shape painted after it): the box of what is drawn, as a labeller would draw it. How much two shapes may overlap is
bounded (``overlap``: the intersection of their bounding squares over the smaller one's area), so none disappears.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.data import shapes
from engine.data.targets import Boxes

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


@dataclass(frozen=True)
class ManyScenes:
    """``images`` ``(N, 3, S, S)`` uint8; per scene, ``boxes[i]`` ``(M_i, 4)`` float32 ``xyxy`` in pixels (of what is
    seen of each shape) and ``labels[i]`` ``(M_i,)`` int64 into ``classes``, in painting order (later ones on top);
    ``M_i`` may be 0."""

    images: torch.Tensor
    boxes: tuple[torch.Tensor, ...]
    labels: tuple[torch.Tensor, ...]
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    def targets(self) -> Boxes:
        """The boxes as typed targets (``engine.data.targets.Boxes``), for an ``ImageSet``."""
        return Boxes(self.boxes, self.labels, self.classes, (self.size, self.size))


def generate_many(n: int, size: int = 160, seed: int = 0, part: int = 0, count: tuple[int, int] = (2, 5),
                  radius: tuple[float, float] = (0.06, 0.16), classes: tuple[str, ...] = shapes.CLASSES,
                  overlap: float = 0.25, aspect: tuple[float, float] = (1.0, 1.0)) -> ManyScenes:
    """``n`` scenes of ``size``×``size``, each with between ``count[0]`` and ``count[1]`` shapes (inclusive, uniform)
    from ``classes``, each of a radius in ``radius`` (fractions of the side) and lying wholly inside the scene, on one
    background colour with pixel noise. A shape whose bounding square would overlap an earlier one's by more than
    ``overlap`` (of the smaller square's area) is placed again, up to 50 times, then left out. ``aspect``: the range
    of each shape's stretch (width over height along its own axes, log-uniform, its area kept; (1, 1) draws the shapes
    as designed and the same scenes as before the option existed) — a stretched shape's bounding square is that of
    its longer axis. ``part`` gives independent streams for one seed."""
    _check(n, size, 0.0, classes)
    _check_many(count, radius, overlap)
    if len(aspect) != 2 or not 0.2 <= aspect[0] <= aspect[1] <= 5.0:
        raise ValueError(f"aspect must be (lowest, highest) width-over-height ratios with 0.2 ≤ lowest ≤ highest ≤ 5, "
                         f"got {aspect!r}")
    index = np.array([shapes.CLASSES.index(c) for c in classes])
    rng = np.random.default_rng([seed, 0x3A7715, part])
    images = np.empty((n, 3, size, size), np.uint8)
    boxes, labels = [], []
    for i in range(n):
        img, b, lab = _many(rng, size, int(rng.integers(count[0], count[1] + 1)), radius, index, overlap, aspect)
        images[i] = img
        boxes.append(torch.from_numpy(b))
        labels.append(torch.from_numpy(lab))
    return ManyScenes(torch.from_numpy(images), tuple(boxes), tuple(labels), tuple(classes))


def _many(rng: np.random.Generator, size: int, m: int, radius: tuple[float, float], index: np.ndarray,
          overlap: float, aspect: tuple[float, float] = (1.0, 1.0)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One scene of up to ``m`` shapes: the image ``(3, S, S)`` uint8, the boxes ``(M, 4)`` and labels ``(M,)``."""
    bg = rng.uniform(0.0, 1.0, 3)
    stretched = tuple(aspect) != (1.0, 1.0)
    placed: list[tuple[float, float, float]] = []  # cx, cy, the bounding square's half side
    ratios: list[float] = []
    for _ in range(m):
        for _attempt in range(50):
            a = float(np.exp(rng.uniform(np.log(aspect[0]), np.log(aspect[1])))) if stretched else 1.0
            r = rng.uniform(*radius) * size
            half = r * np.sqrt(max(a, 1 / a))  # the longer axis, in any rotation
            if half > size / 2:
                continue
            cx, cy = rng.uniform(half, size - half, 2)
            if all(_square_overlap((cx, cy, half), p) <= overlap for p in placed):
                placed.append((cx, cy, half))
                ratios.append(a)
                break
    k = len(placed)
    cx, half = (np.array([p[j] for p in placed], np.float64) for j in (0, 2))
    cy = np.array([p[1] for p in placed], np.float64)
    ratio = np.array(ratios, np.float64)
    r = half / np.sqrt(np.maximum(ratio, 1 / ratio))
    labels = rng.integers(0, len(index), k).astype(np.int64)
    fg = rng.uniform(0.0, 1.0, (k, 3))
    close = np.linalg.norm(fg - bg, axis=1) < 0.45
    fg[close] = (bg + 0.5) % 1.0  # keep each shape visible against the background
    params = shapes.ShapeParams(labels=index[labels], cx=cx, cy=cy, radius=r, angle=rng.uniform(0, 2 * np.pi, k),
                                fg=fg, bg=np.broadcast_to(bg, (k, 3)), noise=np.zeros(k),
                                aspect=ratio if stretched else None)
    cover = shapes.coverage(params, size) if k else np.zeros((0, size, size), np.float32)  # (M, S, S)
    img = np.broadcast_to(bg.astype(np.float32)[:, None, None], (3, size, size)).copy()
    for j in range(k):  # painted in order: each over what is there
        img += (fg[j].astype(np.float32)[:, None, None] - img) * cover[j]
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(0.0, 0.06))
    seen = cover >= COVERED
    hidden = np.zeros((size, size), bool)
    for j in range(k - 1, -1, -1):  # from the top: what a later shape covers is not seen of an earlier one
        seen[j] &= ~hidden
        hidden |= cover[j] >= COVERED
    keep = seen.any(axis=(1, 2))
    image = np.rint(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)
    return image, mask_boxes(seen[keep]), labels[keep]


def _square_overlap(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """The intersection of two shapes' bounding squares ``(cx, cy, r)`` over the smaller square's area."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0] - a[2], b[0] - b[2])
    h = min(a[1] + a[2], b[1] + b[2]) - max(a[1] - a[2], b[1] - b[2])
    return max(w, 0.0) * max(h, 0.0) / (4 * min(a[2], b[2]) ** 2)


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


def _check_many(count: tuple[int, int], radius: tuple[float, float], overlap: float) -> None:
    if (len(count) != 2 or any(isinstance(c, bool) or not isinstance(c, int | np.integer) for c in count)
            or not 0 <= count[0] <= count[1]):
        raise ValueError(f"count must be two integers (fewest, most) with 0 ≤ fewest ≤ most, got {count!r}")
    if len(radius) != 2 or not 0.02 <= radius[0] <= radius[1] <= 0.5:
        raise ValueError(f"radius must be (smallest, largest) fractions of the side with 0.02 ≤ smallest ≤ largest ≤ "
                         f"0.5, got {radius!r}")
    if isinstance(overlap, bool) or not isinstance(overlap, int | float) or not 0.0 <= overlap <= 1.0:
        raise ValueError(f"overlap must be a fraction in [0, 1], got {overlap!r}")
