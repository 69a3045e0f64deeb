"""Drawn faces with five ordered landmarks: real labelled data for landmark regression, made by the engine.

Each image is a cartoon face — an elliptical head with two eyes, a nose and a mouth — of random size, position, tilt,
proportions and colours, on a noisy background. Its labels are the five points MTCNN and most face aligners use, in a
fixed order: left eye, right eye, nose tip, left mouth corner, right mouth corner (left and right as the viewer sees
them). The order is the point of the lesson: the network's output unit 2k, 2k+1 must always mean the same landmark
(course notes 1.3.2). ``shuffled_order`` breaks that on purpose, for the lesson's counter-example: the same points,
in a random order per image.

Drawing is done with signed distances, as ``engine.data.shapes`` does: a pixel's share of a part is
``clip(0.5 − d·scale, 0, 1)`` with ``d`` the distance to the part's outline in pixels, so edges are anti-aliased.
Points are in pixel units ``(x, y)`` with the image's top-left corner at (0, 0). Deterministic by
``(n, size, seed, part)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

NAMES = ("left eye", "right eye", "nose", "left mouth corner", "right mouth corner")
MAX_TILT = np.deg2rad(30.0)


@dataclass(frozen=True)
class Faces:
    """``images`` ``(N, 3, S, S)`` uint8; ``points`` ``(N, 5, 2)`` float32 ``(x, y)`` in pixels, in ``NAMES``
    order."""

    images: torch.Tensor
    points: torch.Tensor
    names: tuple[str, ...] = NAMES

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])


def generate(n: int, size: int = 48, seed: int = 0, part: int = 0) -> Faces:
    """``n`` faces of ``size``×``size`` pixels; ``part`` gives independent streams for one seed."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 16:
        raise ValueError(f"size must be an integer of at least 16 pixels, got {size!r}")
    rng = np.random.default_rng([seed, 0xFACE5, part])
    half_w = rng.uniform(0.22, 0.34, n) * size  # the head's half-width in pixels; its half-height is 1.25 times it
    cx = rng.uniform(1.0 * half_w, size - 1.0 * half_w)
    cy = rng.uniform(1.25 * half_w, size - 1.25 * half_w)
    tilt = rng.uniform(-MAX_TILT, MAX_TILT, n)
    eye_x, eye_y = rng.uniform(0.28, 0.45, n), rng.uniform(-0.35, -0.15, n)  # in head half-widths, y down
    nose_y = rng.uniform(0.05, 0.25, n)
    mouth_x, mouth_y = rng.uniform(0.25, 0.5, n), rng.uniform(0.45, 0.7, n)
    frame = (cx, cy, half_w, tilt)
    parts_uv = np.stack([  # (N, 5, 2) landmark positions in the head's frame
        np.stack([-eye_x, eye_y], 1), np.stack([eye_x, eye_y], 1), np.stack([np.zeros(n), nose_y], 1),
        np.stack([-mouth_x, mouth_y], 1), np.stack([mouth_x, mouth_y], 1)], axis=1)
    points = _to_image(parts_uv, frame)  # (N, 5, 2)

    centres = np.arange(size, dtype=np.float64) + 0.5
    u, v = _to_face(centres, frame)  # (N, S, S) pixel centres in head half-widths
    px = half_w[:, None, None]  # pixels per unit
    head = np.hypot(u, v / 1.25) - 1.0  # an ellipse, approximately a distance in units near its outline
    eyes = np.minimum(np.hypot(u + eye_x[:, None, None], v - eye_y[:, None, None]),
                      np.hypot(u - eye_x[:, None, None], v - eye_y[:, None, None])) - 0.11
    nose = np.hypot(u, v - nose_y[:, None, None]) - 0.08
    mouth = _segment(u, v, -mouth_x, mouth_y, mouth_x, mouth_y) - 0.06

    bg, skin, ink = (rng.uniform(0.0, 1.0, (n, 3)), rng.uniform(0.55, 0.95, (n, 3)), rng.uniform(0.0, 0.25, (n, 3)))
    close = np.linalg.norm(skin - bg, axis=1) < 0.45
    bg[close] = (skin[close] + 0.5) % 1.0
    img = np.broadcast_to(bg[:, :, None, None], (n, 3, size, size)).copy()
    for d, colour in ((head, skin), (np.minimum(np.minimum(eyes, nose), mouth), ink)):
        cover = np.clip(0.5 - d * px, 0.0, 1.0)[:, None]  # (N, 1, S, S)
        img += (colour[:, :, None, None] - img) * cover
    img += rng.standard_normal(img.shape) * rng.uniform(0.0, 0.06, n)[:, None, None, None]
    images = np.rint(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)
    return Faces(torch.from_numpy(images), torch.from_numpy(points.astype(np.float32)))


def shuffled_order(points: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image's points ``(N, K, 2)`` put in a random order of its own (a uniform permutation per image, drawn from
    ``seed``) -> ``(shuffled (N, K, 2), order (N, K))`` with ``shuffled[i, j] = points[i, order[i, j]]``.

    Labels made so no longer say which output is which landmark: output ``j`` is the left eye in one image and a mouth
    corner in the next. Trained on them with squared error, a network can do no better than put every output at the
    mean of the image's points (the expected value of a slot whose landmark is drawn at random), so its error against
    the true, ordered points stays high."""
    if not isinstance(points, torch.Tensor) or points.ndim != 3 or points.shape[2] != 2:
        got = tuple(points.shape) if isinstance(points, torch.Tensor) else type(points).__name__
        raise ValueError(f"points must be a tensor (N, K, 2), got {got}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    n, k = points.shape[:2]
    rng = np.random.default_rng([seed, 0x5AFF1E])
    order = torch.from_numpy(rng.permuted(np.tile(np.arange(k), (n, 1)), axis=1))  # (N, K): one permutation a row
    return torch.take_along_dim(points, order[:, :, None], dim=1), order


def _to_face(centres: np.ndarray, frame: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres -> the head's frame (units of its half-width, rotated by its tilt): two ``(N, S, S)`` arrays."""
    cx, cy, half_w, tilt = frame
    dx = (centres[None, None, :] - cx[:, None, None]) / half_w[:, None, None]
    dy = (centres[None, :, None] - cy[:, None, None]) / half_w[:, None, None]
    cos, sin = np.cos(tilt)[:, None, None], np.sin(tilt)[:, None, None]
    return cos * dx + sin * dy, -sin * dx + cos * dy


def _to_image(uv: np.ndarray, frame: tuple) -> np.ndarray:
    """Points ``(N, K, 2)`` in the head's frame -> image pixels ``(x, y)``: the inverse of ``_to_face``."""
    cx, cy, half_w, tilt = frame
    cos, sin = np.cos(tilt)[:, None], np.sin(tilt)[:, None]
    u, v = uv[..., 0], uv[..., 1]
    x = cx[:, None] + half_w[:, None] * (cos * u - sin * v)
    y = cy[:, None] + half_w[:, None] * (sin * u + cos * v)
    return np.stack([x, y], axis=-1)


def _segment(u: np.ndarray, v: np.ndarray, x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray
             ) -> np.ndarray:
    """Distance from each point to the segment from ``(x0, y0)`` to ``(x1, y1)`` (one segment per image)."""
    x0, y0, x1, y1 = (a[:, None, None] for a in (x0, y0, x1, y1))
    ex, ey = x1 - x0, y1 - y0
    t = np.clip(((u - x0) * ex + (v - y0) * ey) / (ex * ex + ey * ey), 0.0, 1.0)
    return np.hypot(u - (x0 + t * ex), v - (y0 + t * ey))
