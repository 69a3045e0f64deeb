"""How often each input pixel is read by a convolution's windows: why padding exists, and what a big stride loses.

Without padding a corner pixel is read by one window and a central one by f² (at stride 1): what happens at the edge of
an image counts less. Zero padding evens this out. A stride larger than the filter, or a leftover after the last
window, leaves pixels that no window reads at all: their information is thrown away. The counts equal a transposed
convolution of ones (the test's oracle).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.conv.arithmetic import Padding, output_size, paddings


def _coverage_1d(n: int, f: int, p: Padding, s: int, d: int) -> np.ndarray:
    n_out = output_size(n, f, p, s, d)
    before, after = paddings(n, f, p, s, d)
    counts = np.zeros(n + before + after, dtype=np.int64)
    for o in range(n_out):
        counts[o * s + d * np.arange(f)] += 1  # the taps of window o (dilation gaps are not seen)
    return counts[before : before + n]


def coverage(n: int, f: int, p: Padding = 0, s: int = 1, d: int = 1) -> np.ndarray:
    """How many filter windows read each pixel of an n×n input: int64 (n, n).

    Zeros are pixels no window ever reads (a stride larger than the filter, or the leftover after the last
    window): their information is thrown away. Without padding the borders are read less often than the centre.
    Only the filter's taps count; with dilation the pixels between taps are not read.
    """
    line = _coverage_1d(n, f, p, s, d)
    return np.outer(line, line)


@dataclass(frozen=True, eq=False)
class CoverageFacts:
    """What a coverage map tells, in numbers: how often the corner and the centre are read, and what is never read."""

    counts: np.ndarray  # (n, n) int64, the map itself
    corner: int  # windows reading the top-left pixel
    centre: int  # windows reading the central pixel, at ``centre_at``
    centre_at: tuple[int, int]  # (row, column) of the central pixel: (n // 2, n // 2)
    around: tuple[int, int]  # the fewest and most windows reading a pixel of the 3×3 block around the centre
    never: np.ndarray  # (n, n) bool, pixels no window reads
    unread: int  # how many such pixels
    pixels: int  # n·n

    @property
    def unread_fraction(self) -> float:
        return self.unread / self.pixels


def coverage_facts(counts: np.ndarray) -> CoverageFacts:
    """``coverage``'s map (n, n) summed up for the lesson."""
    c = np.asarray(counts)
    if c.ndim != 2 or 0 in c.shape:
        raise ValueError(f"a coverage map must be a non-empty (n, n) grid, got shape {c.shape}")
    never = c == 0
    h, w = c.shape
    block = c[max(0, h // 2 - 1):h // 2 + 2, max(0, w // 2 - 1):w // 2 + 2]
    around = (int(block.min()), int(block.max()))
    return CoverageFacts(c, int(c[0, 0]), int(c[h // 2, w // 2]), (h // 2, w // 2), around, never, int(never.sum()),
                         int(c.size))
