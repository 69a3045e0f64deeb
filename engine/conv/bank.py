"""A bank of filters: the K filters of one convolution layer as the lab lets a student choose them.

Each row names a filter of ``engine.conv.filters.FILTERS``, the input channels it reads ("all": the same f×f weights
on every channel; "R", "G" or "B": that channel only, zeros on the others) and its bias. ``bank_weights`` turns the
rows into the arrays a convolution takes — weights ``(K, C, f, f)`` and biases ``(K,)`` — which is what a real
``nn.Conv2d(C, K, f)`` holds: one output channel per filter, each filter as deep as the input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.conv.arithmetic import _int
from engine.conv.filters import FILTERS, make_filter

CHANNELS = ("all", "R", "G", "B")  # what a filter of the bank reads; R, G, B only on an RGB input


@dataclass(frozen=True)
class BankRow:
    """One filter of the bank: a named filter, the channels it reads, its bias."""

    filter: str
    channels: str = "all"
    bias: float = 0.0

    def __post_init__(self) -> None:
        FILTERS.get(self.filter)  # ValueError naming the known filters
        if self.channels not in CHANNELS:
            raise ValueError(f"a filter's channels must be one of {', '.join(CHANNELS)}, got {self.channels!r}")
        if not math.isfinite(self.bias):
            raise ValueError(f"a filter's bias must be a finite number, got {self.bias!r}")

    def title(self, k: int) -> str:
        """How the lab names filter ``k`` (from 0): ``"1: vertical edge"``, ``"3: sobel x (R)"``."""
        return f"{k + 1}: {self.filter}" + ("" if self.channels == "all" else f" ({self.channels})")


DEFAULT_BANK: tuple[BankRow, ...] = tuple(BankRow(name, channels) for name, channels in [
    ("vertical edge", "all"), ("horizontal edge", "all"), ("sobel x", "R"), ("sobel y", "G"), ("laplacian", "B"),
    ("box blur", "all"), ("sharpen", "all"), ("random", "all"), ("random", "R"), ("random", "B"),
])
NEW_ROW = BankRow("random")  # what a bank grows with


def bank_rows(rows: Sequence[BankRow], k: int) -> list[BankRow]:
    """The first ``k`` rows, followed by ``NEW_ROW`` as often as needed to make ``k``."""
    k = _int("number of filters K", k, 1)
    return [*rows[:k], *[NEW_ROW] * (k - len(rows))]


def bank_weights(rows: Sequence[BankRow], f: int, n_c: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The bank as a convolution's arrays: weights float64 ``(K, n_c, f, f)`` and biases float64 ``(K,)``.

    Row ``k``'s "random" filter is drawn from ``seed + k``, so two random rows differ. ValueError naming the row
    ("filter 2: ...") whose filter has no size ``f``, or that reads R, G or B of an input without three channels.
    """
    f, n_c = _int("filter size f", f, 1), _int("input channels n_c", n_c, 1)
    if not rows:
        raise ValueError("a filter bank needs at least one filter")
    weights = np.zeros((len(rows), n_c, f, f))
    for k, row in enumerate(rows):
        try:
            kernel = make_filter(row.filter, f, seed=seed + k)
        except ValueError as e:
            raise ValueError(f"filter {k + 1}: {e}") from None
        if row.channels == "all":
            weights[k] = kernel  # broadcast over the channels
        elif n_c == 3:
            weights[k, "RGB".index(row.channels)] = kernel
        else:
            raise ValueError(f"filter {k + 1} reads channel {row.channels}, but the input has {n_c} channel"
                             f"{'s' * (n_c != 1)}, not R, G and B; choose 'all'")
    return weights, np.array([row.bias for row in rows], dtype=np.float64)


def on_every_channel(kernel: np.ndarray, n_c: int) -> np.ndarray:
    """One f×f filter as a filter over an ``n_c``-channel volume, the same weights on each channel: float64
    ``(1, n_c, fh, fw)`` (how the lab applies one filter to an RGB picture)."""
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 2 or 0 in k.shape:
        raise ValueError(f"a filter must be a non-empty (fh, fw) grid, got shape {k.shape}")
    return np.broadcast_to(k, (1, _int("input channels n_c", n_c, 1), *k.shape)).copy()
