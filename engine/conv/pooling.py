"""Max and average pooling, with where each maximum came from, and one window at a time for the lab.

Pooling slides a window of ``f`` with stride ``s`` over each channel separately, like a convolution, but takes the
maximum or the mean of the window: it has nothing to learn, and the number of channels stays. Conventions follow
PyTorch (``torch.nn.functional.max_pool2d`` / ``avg_pool2d``): the stride defaults to the window, padding is at most
half the window, max pooling pads with −inf, average pooling with zeros that count in the mean
(``count_include_pad=True``), and on ties the first maximum in reading order wins (``return_indices``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from engine.conv.arithmetic import IntPair, _int, _pair, output_size
from engine.conv.reference import _as_input

MODES = ("max", "avg")


@dataclass(frozen=True)
class _PoolPlan:
    x: np.ndarray  # (C, H, W) float64
    single: bool  # the input was one (H, W) channel
    padded: np.ndarray  # (C, H + 2ph, W + 2pw), padded with −inf (max) or 0 (avg)
    window: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    out_hw: tuple[int, int]
    mode: str


def _pool_plan(x: Any, f: IntPair, s: IntPair | None, mode: str, padding: IntPair) -> _PoolPlan:
    if mode not in MODES:
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
    xa, single = _as_input(x)
    fh, fw = _pair("pool size f", f, 1)
    sh, sw = (fh, fw) if s is None else _pair("stride s", s, 1)
    ph, pw = _pair("padding", padding, 0)
    if 2 * ph > fh or 2 * pw > fw:
        raise ValueError(f"pooling padding must be at most half the window: padding {(ph, pw)} for window {(fh, fw)}")
    out_hw = output_size(xa.shape[1], fh, ph, sh), output_size(xa.shape[2], fw, pw, sw)
    fill = -np.inf if mode == "max" else 0.0
    padded = np.pad(xa, ((0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    return _PoolPlan(xa, single, padded, (fh, fw), (sh, sw), (ph, pw), out_hw, mode)


def _pool(plan: _PoolPlan) -> tuple[np.ndarray, np.ndarray | None]:
    """(C, H', W') outputs and, for max, (C, H', W', 2) positions of each maximum in x's coordinates."""
    (fh, fw), (sh, sw), (ph, pw), (h_out, w_out) = plan.window, plan.stride, plan.padding, plan.out_hw
    windows = sliding_window_view(plan.padded, (fh, fw), axis=(1, 2))[:, ::sh, ::sw][:, :h_out, :w_out]
    flat = windows.reshape(*windows.shape[:3], fh * fw)  # (C, H', W', fh·fw)
    if plan.mode == "avg":
        return flat.mean(axis=-1), None
    best = flat.argmax(axis=-1)  # first maximum in raster order
    out = np.take_along_axis(flat, best[..., None], axis=-1)[..., 0]
    rows = np.arange(h_out)[:, None] * sh + best // fw - ph  # (C, H', W'), back in x's coordinates
    cols = np.arange(w_out)[None, :] * sw + best % fw - pw
    return out, np.stack([rows, cols], axis=-1).astype(np.int64)


def pool_reference(
    x: Any, f: IntPair, s: IntPair | None = None, mode: str = "max", padding: IntPair = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    """Max or average pooling of each channel separately, and for max where each maximum came from.

    ``x`` (C, H, W) or (H, W); ``f`` window, ``s`` stride (default ``f``, as in PyTorch), ``padding`` at most half the
    window (PyTorch's rule). Returns ``(out, where)``: ``out`` float64 (C, H', W') or (H', W'); ``where`` int64
    (C, H', W', 2) or (H', W', 2), the (row, col) in ``x`` of each maximum (the first one in raster order on ties, as
    PyTorch's ``return_indices``), or None for average pooling.
    """
    plan = _pool_plan(x, f, s, mode, padding)
    out, where = _pool(plan)
    if plan.single:
        return out[0], None if where is None else where[0]
    return out, where


@dataclass(frozen=True, eq=False)
class PoolStep:
    """One output value of a pooling taken apart. ``rows``/``cols`` are the window's rows and columns in the input's
    own coordinates (outside ``[0, H)``/``[0, W)`` on padding)."""

    i: int
    j: int
    rows: np.ndarray  # (fh,) int
    cols: np.ndarray  # (fw,) int
    window: np.ndarray  # (fh, fw) the values pooled (−inf or 0 on padding)
    value: float  # the output at (i, j)
    source: tuple[int, int] | None  # max: (row, col) in the input of the maximum; avg: None
    total: float  # the window's sum (the mean is total / (fh·fw))

    @property
    def best(self) -> tuple[int, int] | None:
        """Where the maximum lies inside the window (row, col), or None for average pooling."""
        if self.source is None:
            return None
        return self.source[0] - int(self.rows[0]), self.source[1] - int(self.cols[0])


@dataclass(frozen=True, eq=False)
class PoolSteps:
    """A pooling of one channel with every step available: the output, where its maxima came from, ``step(i, j)``."""

    x: np.ndarray  # (H, W) float64, the input
    output: np.ndarray  # (H', W') float64
    where: np.ndarray | None  # (H', W', 2) int64 for max pooling, else None
    window: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    mode: str

    @property
    def out_shape(self) -> tuple[int, int]:
        h_out, w_out = self.output.shape
        return h_out, w_out

    def step(self, i: int, j: int) -> PoolStep:
        """Output value (i, j): its window, value and, for max pooling, where the maximum came from."""
        h_out, w_out = self.out_shape
        for name, v, size in (("output row i", i, h_out), ("output column j", j, w_out)):
            if not 0 <= _int(name, v, 0) < size:
                raise ValueError(f"{name} must be in 0..{size - 1}, got {v}")
        (fh, fw), (sh, sw), (ph, pw) = self.window, self.stride, self.padding
        rows, cols = i * sh + np.arange(fh) - ph, j * sw + np.arange(fw) - pw
        fill = -np.inf if self.mode == "max" else 0.0
        padded = np.pad(self.x, ((ph, ph), (pw, pw)), constant_values=fill)
        window = padded[rows[:, None] + ph, cols[None, :] + pw]  # (fh, fw)
        source = None if self.where is None else (int(self.where[i, j, 0]), int(self.where[i, j, 1]))
        return PoolStep(i, j, rows, cols, window, float(self.output[i, j]), source, float(window.sum()))

    def sources(self) -> np.ndarray:
        """(H, W) bool: True where some maximum came from (all False for average pooling). In backpropagation only
        these pixels get a gradient from a max pooling."""
        mask = np.zeros(self.x.shape, bool)
        if self.where is not None:
            mask[self.where[..., 0].ravel(), self.where[..., 1].ravel()] = True
        return mask


def pool_steps(x: Any, f: IntPair, s: IntPair | None = None, mode: str = "max", padding: IntPair = 0) -> PoolSteps:
    """Pooling of one channel ``x`` (H, W) whose every step can be inspected; arguments as ``pool_reference``."""
    plan = _pool_plan(x, f, s, mode, padding)
    if not plan.single:
        raise ValueError(f"pool_steps takes one channel (H, W), got shape {plan.x.shape}")
    out, where = _pool(plan)
    return PoolSteps(plan.x[0], out[0], None if where is None else where[0], plan.window, plan.stride, plan.padding,
                     plan.mode)
