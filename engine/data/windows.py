"""Windows: small crops that hold one shape, roughly centred and of a fitting size, or "background" — the training data
of a classifier that is to be slid over larger scenes (course notes 1.3.3).

A classifier slid over a scene sees many more windows without an object than with one, and most of those are not
blank: they cut through a shape, hold one far off-centre, sit inside a large one or around a tiny one. For the score map
to peak where a window frames an object — and so to give a tight box — those windows must be "background" too. So a
background crop here is, in equal shares: the plain background; a shape well off-centre (cut by the crop's edge, or
beside the centre); a piece of a shape much larger than the crop; a shape much smaller than the crop. An object crop
holds one shape (circle, square, triangle or cross) whose centre is within ``JITTER`` of the crop's centre and whose
radius is ``RADIUS`` of the crop's side: then windows of a few sizes cover a scene's range of object sizes.

Shapes are drawn by ``engine.data.shapes`` (anti-aliased, any rotation and colour, pixel noise). Deterministic by
``(n, size, seed, part)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.data import shapes

BACKGROUND = "background"
OBJECTS: tuple[str, ...] = ("circle", "square", "triangle", "cross")
CLASSES: tuple[str, ...] = (BACKGROUND, *OBJECTS)
BACKGROUND_FRACTION = 0.4  # a slid classifier meets mostly background: it must know it well
RADIUS = (0.28, 0.42)  # an object's radius, as a fraction of the crop's side
JITTER = 0.06  # how far an object's centre may be from the crop's centre, per axis, as a fraction of the side: half a
# stride of the convolutional form (4 px of 32), so some window of the grid frames each object
OFF_CENTRE = (0.45, 0.65)  # a background shape's distance from the centre, as a fraction of the side
LARGE, SMALL = (0.55, 1.5), (0.06, 0.2)  # radii of shapes too large or too small for the crop to frame: the
# next window size up or down frames them (windows of 32, 48 and 64 px: 1.5 and 1.33 times apart)
OBJECT_FILL = 0.65  # an object's box spans about this fraction of the crop's side (measured in tests/engine/data)
KINDS = ("object", "plain", "off-centre", "large", "small")  # what each crop shows


@dataclass(frozen=True)
class Windows:
    """``images`` ``(N, 3, S, S)`` uint8; ``labels`` ``(N,)`` int64 into ``classes`` (0 is "background"); how each
    was drawn: ``kind`` ``(N,)`` int64 into ``KINDS``, the drawn shape's centre ``cx``, ``cy`` and ``radius`` in pixels
    (NaN for plain background), its colour ``fg`` and the background's ``bg``, ``(N, 3)`` in [0, 1]."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    kind: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    radius: np.ndarray
    fg: np.ndarray
    bg: np.ndarray

    def __len__(self) -> int:
        return int(self.images.shape[0])


def generate(n: int, size: int = 32, seed: int = 0, part: int = 0,
             background: float = BACKGROUND_FRACTION) -> Windows:
    """``n`` crops of ``size``×``size``: a fraction ``background`` of them background (the four kinds in equal
    shares), the rest the four objects in equal shares. ``part`` gives independent streams for one seed (0 training,
    1 validation)."""
    _check(n, size, background)
    rng = np.random.default_rng([seed, 0x3140D5, part])
    n_bg = int(round(n * background))
    labels = rng.permutation(np.concatenate([np.zeros(n_bg, np.int64), 1 + np.arange(n - n_bg) % len(OBJECTS)]))
    kind = np.zeros(n, np.int64)
    kind[labels == 0] = 1 + rng.permutation(np.arange(n_bg) % 4)  # the four kinds of background in equal shares
    drawn = kind != KINDS.index("plain")
    # every crop draws the same random numbers, whatever it shows: a crop's drawing depends on its seed only
    u_radius, u_angle, u_dir, u_dist = (rng.random(n) for _ in range(4))
    jitter = rng.uniform(-JITTER, JITTER, (n, 2))
    shape = np.where(labels > 0, labels - 1, rng.integers(0, len(OBJECTS), n))  # index into OBJECTS
    lo, hi = _radius_ranges(kind)
    radius = (lo + (hi - lo) * u_radius) * size
    dist = np.where(kind == KINDS.index("off-centre"), OFF_CENTRE[0] + (OFF_CENTRE[1] - OFF_CENTRE[0]) * u_dist, 0.0)
    direction = 2 * np.pi * u_dir
    cx = size / 2 + (jitter[:, 0] + dist * np.cos(direction)) * size
    cy = size / 2 + (jitter[:, 1] + dist * np.sin(direction)) * size
    params = shapes.ShapeParams(
        labels=np.array([shapes.CLASSES.index(OBJECTS[k]) for k in shape], np.int64), cx=cx, cy=cy, radius=radius,
        angle=2 * np.pi * u_angle, fg=rng.uniform(0.0, 1.0, (n, 3)), bg=rng.uniform(0.0, 1.0, (n, 3)),
        noise=rng.uniform(0.0, 0.06, n))
    close = np.linalg.norm(params.fg - params.bg, axis=1) < 0.45
    params.fg[close] = (params.bg[close] + 0.5) % 1.0  # keep the shape visible against its background
    cover = shapes.coverage(params, size) * drawn[:, None, None]  # (N, S, S)
    fg, bg = params.fg.astype(np.float32)[:, :, None, None], params.bg.astype(np.float32)[:, :, None, None]
    img = bg + (fg - bg) * cover[:, None]  # (N, 3, S, S)
    img += rng.standard_normal(img.shape, dtype=np.float32) * params.noise.astype(np.float32)[:, None, None, None]
    images = np.rint(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)
    nan = np.where(drawn, 1.0, np.nan)
    return Windows(torch.from_numpy(images), torch.from_numpy(labels), CLASSES, kind, cx * nan, cy * nan,
                   radius * nan, params.fg, params.bg)


def _radius_ranges(kind: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The radius range of each crop's shape, as fractions of the side: ``(lo, hi)`` arrays ``(N,)``."""
    lo = np.full(len(kind), RADIUS[0])
    hi = np.full(len(kind), RADIUS[1])
    for name, (a, b) in (("large", LARGE), ("small", SMALL)):
        lo[kind == KINDS.index(name)], hi[kind == KINDS.index(name)] = a, b
    return lo, hi


def _check(n: int, size: int, background: float) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 16:
        raise ValueError(f"size must be an integer of at least 16 pixels, got {size!r}")
    if isinstance(background, bool) or not isinstance(background, int | float) or not 0.0 <= background < 1.0:
        raise ValueError(f"background must be a fraction in [0, 1), got {background!r}")
