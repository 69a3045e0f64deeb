"""Region proposals, the R-CNN idea (course notes 1.3.6): segment the image first, classify only the regions.

Girshick et al., "Rich feature hierarchies for accurate object detection and semantic segmentation" (R-CNN, 2014)
ran its classifier on about 2,000 proposals per image instead of every window. Its proposals came from selective
search (Uijlings et al., "Selective Search for Object Recognition", 2013): over-segment the image into small regions
(Felzenszwalb & Huttenlocher, "Efficient Graph-Based Image Segmentation", 2004, as implemented by scikit-image), then
repeatedly merge the two most similar neighbouring regions — similar in colour, both small, and filling their joint
box well — and propose the box of every region ever formed, from the smallest to the whole image.

This is that hierarchy with the colour, size and fill similarities of the paper (its texture term is left out), in
one colour space. Boxes are ``xyxy`` in pixels, as in ``torchvision.ops``.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import torch

BINS = 25  # colour histogram bins per channel, as in the paper


@dataclass(frozen=True)
class Proposals:
    """``boxes`` ``(M, 4)`` ``xyxy`` pixels, distinct, in the order their regions formed (the initial segments first,
    then each merge; a box formed twice is kept once, at its first); ``level`` ``(M,)`` how many merges had happened
    when each box's region formed (0 for the initial segments);
    ``segments`` the initial segmentation ``(H, W)`` int (a label per pixel)."""

    boxes: torch.Tensor
    level: torch.Tensor
    segments: np.ndarray


@dataclass
class _Region:
    size: int
    box: np.ndarray  # x0, y0, x1, y1 (exclusive end)
    hist: np.ndarray  # (3·BINS,), L1-normalised per channel, then over all


def propose(image: np.ndarray, scale: float = 100.0, sigma: float = 0.8, min_size: int = 50,
            min_side: int = 4) -> Proposals:
    """Selective-search proposals for an RGB ``image`` ``(H, W, 3)`` uint8: Felzenszwalb segments (``scale``: larger
    gives larger segments; ``sigma``: pre-smoothing; ``min_size``: the smallest segment, in pixels), merged
    hierarchically. Boxes with a side under ``min_side`` pixels are left out."""
    from skimage.segmentation import felzenszwalb  # imported here: scikit-image is slow to import

    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3):
        raise ValueError(f"the image must be an RGB (H, W, 3) uint8 array, got {getattr(image, 'shape', image)!r}")
    if scale <= 0 or sigma < 0 or min_size < 1:
        raise ValueError(f"scale must be > 0, sigma ≥ 0 and min_size ≥ 1, got {scale}, {sigma}, {min_size}")
    segments = felzenszwalb(image, scale=scale, sigma=sigma, min_size=min_size)
    regions = _initial_regions(image, segments)
    neighbours = _adjacency(segments)
    area = float(segments.size)
    boxes = [r.box for r in regions.values()]
    levels = [0] * len(boxes)
    heap = [(-_similarity(regions[a], regions[b], area), a, b) for a, b in neighbours]
    heapq.heapify(heap)
    links = {k: set() for k in regions}
    for a, b in neighbours:
        links[a].add(b)
        links[b].add(a)
    next_id, merges = max(regions) + 1, 0
    while heap:
        _, a, b = heapq.heappop(heap)
        if a not in regions or b not in regions:  # one of them was merged already: a stale pair
            continue
        ra, rb = regions.pop(a), regions.pop(b)
        merged = _Region(ra.size + rb.size, np.concatenate([np.minimum(ra.box[:2], rb.box[:2]),
                                                              np.maximum(ra.box[2:], rb.box[2:])]),
                         (ra.hist * ra.size + rb.hist * rb.size) / (ra.size + rb.size))
        merges += 1
        new = next_id
        next_id += 1
        regions[new] = merged
        boxes.append(merged.box)
        levels.append(merges)
        near = (links.pop(a) | links.pop(b)) - {a, b}
        links[new] = near
        for k in near:
            links[k] -= {a, b}
            links[k].add(new)
            heapq.heappush(heap, (-_similarity(merged, regions[k], area), k, new))
    out = torch.as_tensor(np.array(boxes, dtype=np.float32))
    level = torch.as_tensor(levels)
    keep = (out[:, 2] - out[:, 0] >= min_side) & (out[:, 3] - out[:, 1] >= min_side)
    out, level = out[keep], level[keep]
    out, first = _distinct(out)
    return Proposals(out, level[first], segments)


def _initial_regions(image: np.ndarray, segments: np.ndarray) -> dict[int, _Region]:
    """Size, box and colour histogram of every segment."""
    quantised = (image.astype(np.int64) * BINS // 256)  # (H, W, 3) in [0, BINS)
    flat = segments.ravel()
    n = int(flat.max()) + 1
    hist = np.zeros((n, 3 * BINS))
    for c in range(3):
        np.add.at(hist, (flat, c * BINS + quantised[..., c].ravel()), 1.0)
    sizes = np.bincount(flat, minlength=n)
    ys, xs = np.indices(segments.shape)
    x0 = np.full(n, np.iinfo(np.int64).max)
    y0 = np.full(n, np.iinfo(np.int64).max)
    x1 = np.zeros(n, np.int64)
    y1 = np.zeros(n, np.int64)
    np.minimum.at(x0, flat, xs.ravel())
    np.minimum.at(y0, flat, ys.ravel())
    np.maximum.at(x1, flat, xs.ravel() + 1)
    np.maximum.at(y1, flat, ys.ravel() + 1)
    return {k: _Region(int(sizes[k]), np.array([x0[k], y0[k], x1[k], y1[k]]), hist[k] / (3 * sizes[k]))
            for k in range(n) if sizes[k]}


def _adjacency(segments: np.ndarray) -> set[tuple[int, int]]:
    """Pairs ``(a, b)``, ``a < b``, of segments that touch horizontally or vertically."""
    pairs = set()
    for a, b in ((segments[:, :-1], segments[:, 1:]), (segments[:-1], segments[1:])):
        differ = a != b
        lo, hi = np.minimum(a[differ], b[differ]), np.maximum(a[differ], b[differ])
        pairs |= set(zip(lo.tolist(), hi.tolist(), strict=True))
    return pairs


def _similarity(a: _Region, b: _Region, area: float) -> float:
    """Selective search's colour + size + fill similarity, each in [0, 1]."""
    colour = float(np.minimum(a.hist, b.hist).sum())
    size = 1.0 - (a.size + b.size) / area
    box = np.concatenate([np.minimum(a.box[:2], b.box[:2]), np.maximum(a.box[2:], b.box[2:])])
    fill = 1.0 - ((box[2] - box[0]) * (box[3] - box[1]) - a.size - b.size) / area
    return colour + size + fill


def _distinct(boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``boxes`` without repeats, in their first occurrence's order, and those occurrences' indices."""
    first: dict[tuple, int] = {}
    for i, box in enumerate(boxes.tolist()):
        first.setdefault(tuple(box), i)
    index = torch.tensor(list(first.values()), dtype=torch.long)
    return boxes[index], index
