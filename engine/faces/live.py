"""Recognition on camera frames: every face of a frame found, embedded and matched against a gallery's vectors, then
drawn on the frame with its name and distance (green: known, orange: unknown). A pure function of the frame
``(H, W, 3) uint8 -> (H, W, 3) uint8`` so the page wraps it once for the webcam (playground/webcam/stream.py) and the
benchmark times it without a browser.

Frames are shrunk to ``LIVE_SIDE`` pixels on their longer side first: detection costs grow with the pixels, and a face
that fills a good part of a webcam frame is still well over the 40 pixels the embedding needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from engine.faces.backend import FaceBackend, distance
from engine.faces.gallery import UNKNOWN, Match
from engine.faces.pipeline import MIN_FACE, EmbeddedFace, as_rgb, embed_all
from engine.media.images import fit_within

LIVE_SIDE = 400
KNOWN, STRANGER = (40, 200, 90), (255, 150, 30)


@dataclass(frozen=True)
class Known:
    """A gallery's vectors, read once for many frames: the ``names`` of the rows of ``matrix`` ``(K, D)``."""

    names: tuple[str, ...]
    matrix: np.ndarray
    threshold: float
    metric: str = "euclidean"

    def match(self, vectors: np.ndarray) -> list[Match]:
        """The nearest enrolled row to each of ``vectors`` ``(N, D)`` ("unknown" past the threshold)."""
        if not self.names:
            return [Match(UNKNOWN, None, float("inf"), self.threshold, False) for _ in vectors]
        d = np.atleast_2d(distance(np.atleast_2d(vectors), self.matrix, self.metric))  # (N, K)
        out = []
        for row in d:
            i = int(np.argmin(row))
            known = bool(row[i] < self.threshold)
            out.append(Match(self.names[i] if known else UNKNOWN, self.names[i], float(row[i]), self.threshold, known))
        return out


def shrink(image: np.ndarray, side: int = LIVE_SIDE) -> tuple[np.ndarray, float]:
    """``image`` with its longer side at most ``side`` pixels (bilinear: a frame must be quick), and the scale."""
    return fit_within(image, side, Image.BILINEAR)


def recognise_frame(frame: np.ndarray, backend: FaceBackend, known: Known, side: int = LIVE_SIDE,
                    min_size: int = MIN_FACE) -> tuple[np.ndarray, list[tuple[EmbeddedFace, Match]]]:
    """``frame`` with every face boxed, named and its distance written, and the faces with their matches (boxes in
    the shrunk frame's pixels; ``side`` is its longer side)."""
    frame = as_rgb(frame)
    small, scale = shrink(frame, side)
    faces = embed_all(small, backend, min_size=min_size)
    matches = known.match(np.stack([f.vector for f in faces])) if faces else []
    boxes = [tuple(v / scale for v in f.face.box) for f in faces]
    labels = [f"{m.name} {m.distance:.2f}" if m.nearest else m.name for m in matches]
    colours = [KNOWN if m.known else STRANGER for m in matches]
    return draw_boxes(frame, boxes, labels, colours), list(zip(faces, matches, strict=True))


def draw_boxes(image: np.ndarray, boxes: Sequence[tuple[float, float, float, float]], labels: Sequence[str],
               colours: Sequence[tuple[int, int, int]] | None = None) -> np.ndarray:
    """A copy of ``image`` ``(H, W, 3)`` uint8 with each ``xyxy`` box outlined and its label above it."""
    out = Image.fromarray(as_rgb(image).copy())
    draw = ImageDraw.Draw(out)
    h, w = image.shape[:2]
    size = max(12, round(max(h, w) / 40))
    font = ImageFont.load_default(size=size)
    for i, (box, label) in enumerate(zip(boxes, labels, strict=True)):
        colour = colours[i] if colours else KNOWN
        x0, y0, x1, y1 = box
        draw.rectangle([x0, y0, x1, y1], outline=colour, width=max(2, size // 6))
        left, top, right, bottom = draw.textbbox((x0, y0), label, font=font)
        ty = y0 - (bottom - top) - 6 if y0 - (bottom - top) - 6 >= 0 else y1 + 2
        draw.rectangle([x0, ty, x0 + (right - left) + 6, ty + (bottom - top) + 6], fill=colour)
        draw.text((x0 + 3, ty + 3 - (top - y0)), label, fill=(0, 0, 0), font=font)
    return np.asarray(out)
