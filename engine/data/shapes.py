"""Synthetic shapes: the embedded default data set, drawn by the engine, deterministic by seed, always available.

Each image shows one shape — circle, square, triangle, cross, ring or star — of random size, position, rotation and
colour, on a background of another colour, with Gaussian pixel noise. Every shape is given by a signed distance
``d(u, v)`` in its own frame (``u, v`` in units of its radius; negative inside), so a whole batch is drawn at once
with array ops, and anti-aliased for free: a pixel's coverage is ``clip(0.5 − d · radius_px, 0, 1)``, the fraction
of a one-pixel-wide box across the edge that lies inside. (For the polygons ``d`` is the largest distance to an edge
line — exact near the edges, which is all anti-aliasing needs.) numpy, single-threaded: drawing never competes with a
training loop's threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "cross", "ring", "star")

# The shapes, in their own frame (radius 1). Public so a reference drawing can use the same sizes.
CIRCLE_RADIUS = 0.9
SQUARE_HALF_SIDE = 0.7
CROSS_HALF_WIDTH, CROSS_HALF_LENGTH = 0.25, 0.9
RING_INNER = 0.6
TRIANGLE_INRADIUS = 0.5  # equilateral, circumradius 1, a vertex at angle -90° (pointing up in image coordinates)
STAR_POINTS, STAR_INNER = 5, 0.45  # tips at radius 1, angles 0°, 72°, ...; notches at radius 0.45 between them

_MIN_COLOUR_DISTANCE = 0.45  # between shape and background colour, in [0, 1] RGB units


@dataclass(frozen=True)
class ShapeParams:
    """How each image was drawn: arrays of length N. Positions and radii in pixels (pixel (i, j) covers
    [j, j+1) × [i, i+1), so its centre is at (j + 0.5, i + 0.5)); the shape's frame is the image's rotated by
    ``angle`` radians; colours RGB in [0, 1]."""

    labels: np.ndarray  # (N,) int64
    cx: np.ndarray  # (N,)
    cy: np.ndarray  # (N,)
    radius: np.ndarray  # (N,)
    angle: np.ndarray  # (N,)
    fg: np.ndarray  # (N, 3)
    bg: np.ndarray  # (N, 3)
    noise: np.ndarray  # (N,) std of the Gaussian pixel noise
    aspect: np.ndarray | None = None  # (N,) width over height in the shape's frame (None: 1, the shape as designed)


def sample_params(n: int, size: int, rng: np.random.Generator) -> ShapeParams:
    """Random parameters for ``n`` images of ``size``×``size``: balanced classes in random order; each shape lies
    fully inside the image; the shape's colour differs from the background's by at least 0.45 (RGB distance)."""
    labels = rng.permutation(np.arange(n) % len(CLASSES)).astype(np.int64)
    radius = rng.uniform(0.18, 0.4, n) * size
    cx = rng.uniform(radius, size - radius)
    cy = rng.uniform(radius, size - radius)
    angle = rng.uniform(0.0, 2 * math.pi, n)
    bg = rng.uniform(0.0, 1.0, (n, 3))
    fg = rng.uniform(0.0, 1.0, (n, 3))
    close = np.linalg.norm(fg - bg, axis=1) < _MIN_COLOUR_DISTANCE
    fg[close] = (bg[close] + 0.5) % 1.0  # distance 0.5·√3 ≈ 0.87
    noise = rng.uniform(0.0, 0.08, n)
    return ShapeParams(labels, cx, cy, radius, angle, fg, bg, noise)


def generate(n: int, size: int = 32, seed: int = 0, part: int = 0) -> tuple[torch.Tensor, torch.Tensor, ShapeParams]:
    """``n`` shape images: ``(N, 3, size, size)`` uint8, labels ``(N,)`` int64 (indices into ``CLASSES``), and the
    parameters they were drawn with. Same ``(n, size, seed, part)`` → identical images; ``part`` gives independent
    streams for one seed (0 = training, 1 = validation)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an integer of at least 8 pixels, got {size!r}")
    rng = np.random.default_rng([seed, 0x5A9E5, part])
    p = sample_params(n, size, rng)
    cover = coverage(p, size)[:, None]  # (N, 1, H, W) in [0, 1]
    fg = p.fg.astype(np.float32)[:, :, None, None]  # (N, 3, 1, 1)
    bg = p.bg.astype(np.float32)[:, :, None, None]
    img = bg + (fg - bg) * cover  # (N, 3, H, W)
    noise = rng.standard_normal(img.shape, dtype=np.float32)
    noise *= p.noise.astype(np.float32)[:, None, None, None]
    img += noise
    np.clip(img, 0.0, 1.0, out=img)
    images = np.rint(img * 255.0).astype(np.uint8)
    return torch.from_numpy(images), torch.from_numpy(p.labels), p


def coverage(p: ShapeParams, size: int) -> np.ndarray:
    """The fraction of each pixel inside each image's shape: ``(N, size, size)`` float32 in [0, 1]."""
    centres = np.arange(size, dtype=np.float32) + 0.5  # pixel centres
    out = np.empty((len(p.labels), size, size), np.float32)
    for k in range(len(CLASSES)):
        idx = np.flatnonzero(p.labels == k)
        if len(idx) == 0:
            continue
        cx, cy, r, a = (v[idx].astype(np.float32)[:, None, None] for v in (p.cx, p.cy, p.radius, p.angle))  # (M,1,1)
        dx = (centres[None, None, :] - cx) / r  # (M, 1, W)
        dy = (centres[None, :, None] - cy) / r  # (M, H, 1)
        cos, sin = np.cos(a), np.sin(a)
        u = cos * dx + sin * dy  # (M, H, W): the pixel centre in the shape's frame
        v = -sin * dx + cos * dy
        if p.aspect is not None:  # stretched along the shape's own axes, its area kept
            stretch = np.sqrt(p.aspect[idx].astype(np.float32))[:, None, None]
            u, v, r = u / stretch, v * stretch, r * np.minimum(stretch, 1 / stretch)  # r: the shorter axis' pixels
        out[idx] = np.clip(0.5 - signed_distance(k, u, v) * r, 0.0, 1.0)  # distance in pixels -> coverage
    return out


def signed_distance(k: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Signed distance (negative inside) from the points ``(u, v)`` to the outline of shape ``CLASSES[k]``, in units
    of the shape's radius."""
    name = CLASSES[k]
    if name == "circle":
        return np.hypot(u, v) - CIRCLE_RADIUS
    if name == "ring":
        half = (1.0 - RING_INNER) / 2
        return np.abs(np.hypot(u, v) - (1.0 - half)) - half
    if name == "square":
        return np.maximum(np.abs(u), np.abs(v)) - SQUARE_HALF_SIDE
    if name == "cross":  # the union of two bars: the smaller of their distances
        au, av = np.abs(u), np.abs(v)
        w, ln = CROSS_HALF_WIDTH, CROSS_HALF_LENGTH
        return np.minimum(np.maximum(au - w, av - ln), np.maximum(av - w, au - ln))
    if name == "triangle":  # the edge normals point at 90°, 210°, 330°, opposite the vertices
        d = None
        for j in range(3):
            t = math.pi / 2 + 2 * math.pi * j / 3
            e = u * math.cos(t) + v * math.sin(t) - TRIANGLE_INRADIUS
            d = e if d is None else np.maximum(d, e)
        return d
    if name == "star":  # fold the angle into half a sector, [0, π/5]: one straight edge from a tip to a notch
        sector = 2 * math.pi / STAR_POINTS
        rho = np.hypot(u, v)
        t = np.remainder(np.arctan2(v, u), sector)
        t = np.minimum(t, sector - t)
        qx, qy = rho * np.cos(t), rho * np.sin(t)
        ex, ey = STAR_INNER * math.cos(sector / 2) - 1.0, STAR_INNER * math.sin(sector / 2)  # tip (1, 0) -> notch
        return ((qx - 1.0) * ey - qy * ex) / math.hypot(ex, ey)  # < 0 on the centre's side of the edge line
    raise AssertionError(name)
