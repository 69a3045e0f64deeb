"""Classic filters for the lab: edges (Prewitt-style, Sobel, Scharr), blurs, sharpen, Laplacian, identity, random,
and the course's 6×6 edge picture. Each is a float32 ``(f, f)`` numpy array; ``FILTERS`` (an
``engine.registry.Registry``) is the menu, in the order it shows them.
Sign convention (the course's): an edge filter responds positively to bright-on-the-left (or top) edges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.conv.arithmetic import _int
from engine.registry import Registry


def _check_f(name: str, f: int, fixed: int | None = None, odd: bool = False, minimum: int = 1) -> int:
    f = _int(f"{name} filter size f", f, minimum)
    if fixed is not None and f != fixed:
        raise ValueError(f"the {name} filter is defined only for f={fixed}, got f={f}")
    if odd and f % 2 == 0:
        raise ValueError(f"the {name} filter needs an odd size (it has a centre pixel), got f={f}")
    return f


def identity(f: int = 3) -> np.ndarray:
    """1 in the centre, 0 elsewhere: the output is the input (odd f)."""
    f = _check_f("identity", f, odd=True)
    k = np.zeros((f, f), np.float32)
    k[f // 2, f // 2] = 1.0
    return k


def vertical_edge(f: int = 3) -> np.ndarray:
    """+1 in the left columns, −1 in the right ones (0 in the middle one for odd f): the course's
    [[1, 0, −1]] × 3 for f = 3. Responds to vertical edges, bright side on the left."""
    f = _check_f("vertical edge", f, minimum=2)
    row = np.sign(np.arange(f, dtype=np.float32)[::-1] - (f - 1) / 2)  # e.g. [1, 0, −1]
    return np.tile(row.astype(np.float32), (f, 1))


def horizontal_edge(f: int = 3) -> np.ndarray:
    """The transposed vertical edge: responds to horizontal edges, bright side on top."""
    return vertical_edge(f).T.copy()


def sobel_x(f: int = 3) -> np.ndarray:
    """Sobel, vertical edges: [[1, 0, −1], [2, 0, −2], [1, 0, −1]] (weights the centre row more)."""
    _check_f("sobel x", f, fixed=3)
    return np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], np.float32)


def sobel_y(f: int = 3) -> np.ndarray:
    """Sobel, horizontal edges: the transpose of ``sobel_x``."""
    _check_f("sobel y", f, fixed=3)
    return sobel_x().T.copy()


def scharr_x(f: int = 3) -> np.ndarray:
    """Scharr, vertical edges: [[3, 0, −3], [10, 0, −10], [3, 0, −3]] (more rotation-invariant than Sobel)."""
    _check_f("scharr x", f, fixed=3)
    return np.array([[3, 0, -3], [10, 0, -10], [3, 0, -3]], np.float32)


def scharr_y(f: int = 3) -> np.ndarray:
    """Scharr, horizontal edges: the transpose of ``scharr_x``."""
    _check_f("scharr y", f, fixed=3)
    return scharr_x().T.copy()


def box_blur(f: int = 3) -> np.ndarray:
    """All 1/f²: each output is the mean of an f×f patch."""
    f = _check_f("box blur", f)
    return np.full((f, f), 1.0 / (f * f), np.float32)


def gaussian_blur(f: int = 5, sigma: float | None = None) -> np.ndarray:
    """A normalised Gaussian (odd f); ``sigma`` defaults to OpenCV's choice for the size, 0.3·((f − 1)/2 − 1) + 0.8."""
    f = _check_f("gaussian blur", f, odd=True)
    sigma = 0.3 * ((f - 1) / 2 - 1) + 0.8 if sigma is None else float(sigma)
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    t = np.arange(f) - f // 2
    g = np.exp(-(t**2) / (2 * sigma**2))
    k = np.outer(g, g)
    return (k / k.sum()).astype(np.float32)


def sharpen(f: int = 3) -> np.ndarray:
    """[[0, −1, 0], [−1, 5, −1], [0, −1, 0]]: the pixel plus its difference from its four neighbours."""
    _check_f("sharpen", f, fixed=3)
    return np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.float32)


def laplacian(f: int = 3) -> np.ndarray:
    """[[−1, −1, −1], [−1, 8, −1], [−1, −1, −1]]: zero on flat areas, strong on outlines in every direction."""
    _check_f("laplacian", f, fixed=3)
    k = -np.ones((3, 3), np.float32)
    k[1, 1] = 8.0
    return k


def random_filter(f: int = 3, seed: int = 0) -> np.ndarray:
    """Standard-normal weights from ``seed``: what a filter looks like before training."""
    f = _check_f("random", f)
    return np.random.default_rng(_int("seed", seed, 0)).standard_normal((f, f)).astype(np.float32)


@dataclass(frozen=True)
class NamedFilter:
    """A menu entry: the builder ``build(f)`` (``build(f, seed=...)`` when ``seeded``) and which sizes it accepts."""

    build: Callable[..., np.ndarray]
    fixed_size: int | None = None  # only this f
    odd_only: bool = False
    min_size: int = 1
    seeded: bool = False  # random weights: drawn from a seed

    def allows(self, f: int) -> bool:
        if self.fixed_size is not None:
            return f == self.fixed_size
        return f >= self.min_size and not (self.odd_only and f % 2 == 0)

    def make(self, f: int, seed: int = 0) -> np.ndarray:
        """The filter at size f (the seed only matters to a seeded filter)."""
        return self.build(f, seed=seed) if self.seeded else self.build(f)

    @property
    def about(self) -> str:
        """The builder's one-paragraph description."""
        return " ".join((self.build.__doc__ or "").split())


FILTERS: Registry[NamedFilter] = Registry("filter")
FILTERS.add("vertical edge", NamedFilter(vertical_edge, min_size=2))
FILTERS.add("horizontal edge", NamedFilter(horizontal_edge, min_size=2))
FILTERS.add("sobel x", NamedFilter(sobel_x, fixed_size=3))
FILTERS.add("sobel y", NamedFilter(sobel_y, fixed_size=3))
FILTERS.add("scharr x", NamedFilter(scharr_x, fixed_size=3))
FILTERS.add("scharr y", NamedFilter(scharr_y, fixed_size=3))
FILTERS.add("box blur", NamedFilter(box_blur))
FILTERS.add("gaussian blur", NamedFilter(gaussian_blur, odd_only=True))
FILTERS.add("sharpen", NamedFilter(sharpen, fixed_size=3))
FILTERS.add("laplacian", NamedFilter(laplacian, fixed_size=3))
FILTERS.add("identity", NamedFilter(identity, odd_only=True))
FILTERS.add("random", NamedFilter(random_filter, seeded=True))


def filter_names(f: int | None = None) -> list[str]:
    """The filters' names in menu order; with ``f``, only those defined at that size."""
    return FILTERS.names(where=None if f is None else lambda entry: entry.allows(f))


def make_filter(name: str, f: int = 3, seed: int = 0) -> np.ndarray:
    """Filter ``name`` at size f: float32 (f, f); ``seed`` draws the "random" one. ValueError for an unknown name
    (listing the known ones) or a size the filter does not have."""
    return FILTERS.get(name).make(f, seed)


def example_image(n: int = 6) -> np.ndarray:
    """The course's picture of an edge: float32 (n, n), the left half 10 (bright), the right half 0 (dark).
    The vertical-edge filter turns the 6×6 one into a 4×4 whose two middle columns are 30: the edge."""
    n = _int("size n", n, 2)
    img = np.zeros((n, n), np.float32)
    img[:, : n // 2] = 10.0
    return img
