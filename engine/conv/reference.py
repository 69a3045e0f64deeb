"""A step-by-step reference convolution, and convolution compared with cross-correlation.

What the lesson shows. A filter is a small grid of weights (f×f, and as deep as the input has channels). It is laid
on the input at one position, every weight is multiplied with the value under it, the products are summed, a bias is
added and an activation applied: that is one output number. Sliding the filter by ``s`` pixels at a time gives the
output grid; each filter gives one output channel. Without padding the output shrinks to ``n − f + 1`` and border
pixels are visited by fewer windows than central ones; zero padding ``p`` on every side counters both. With
dilation ``d`` the filter's taps are spread ``d`` pixels apart, so it spans ``d(f − 1) + 1`` pixels. Together:

    n_out = ⌊(n + 2p − d(f − 1) − 1) / s⌋ + 1        (with d = 1: ⌊(n + 2p − f) / s⌋ + 1)

What deep-learning libraries call convolution is cross-correlation: the filter is not flipped. Learned filters make
the difference moot, but ``flip=True`` computes the true (flipped) convolution of signal processing for comparison
(``compare_flip``). Pooling (``engine.conv.pooling``) slides a window the same way; ``engine.conv.coverage`` counts
how often each pixel is read.

Conventions follow PyTorch (``torch.nn.functional.conv2d``): arrays are channels-first, ``(C, H, W)`` inputs and
``(K, C, fh, fw)`` filters; ``padding="same"`` pads an odd total with the extra pixel on the right/bottom and is
refused for strides above 1. The arithmetic is that of V. Dumoulin and
F. Visin, "A guide to convolution arithmetic for deep learning", arXiv:1603.07285 (2016).

Everything here is numpy (float64 for the convolution, so the lesson's numbers are exact); torch is the test oracle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from engine.conv.arithmetic import IntPair, Padding2d, _int, _pair, output_size, paddings
from engine.units import format_number as _num

ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
}


# --------------------------------------------------------------------------------------------------- convolution


def _as_input(x: Any) -> tuple[np.ndarray, bool]:
    """(C, H, W) float64, and whether the input was a single (H, W) channel."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 2:
        return a[None], True
    if a.ndim != 3:
        raise ValueError(f"input must have shape (C, H, W) or (H, W), got shape {a.shape}")
    if 0 in a.shape:
        raise ValueError(f"input must not be empty, got shape {a.shape}")
    return a, False


def _as_weight(w: Any, n_c: int) -> tuple[np.ndarray, bool]:
    """(K, C, fh, fw) float64, and whether there was a filter axis (K) to keep in the output."""
    a = np.asarray(w, dtype=np.float64)
    if a.ndim not in (2, 3, 4):
        raise ValueError(f"filters must have shape (K, C, fh, fw), (C, fh, fw) or (fh, fw), got shape {a.shape}")
    has_k = a.ndim == 4
    a = a.reshape((1,) * (4 - a.ndim) + a.shape)  # (K, C, fh, fw)
    if 0 in a.shape:
        raise ValueError(f"filters must not be empty, got shape {a.shape}")
    if a.shape[1] != n_c:
        raise ValueError(f"the filters have {a.shape[1]} channels but the input has {n_c}; they must be equal")
    return a, has_k


@dataclass(frozen=True, eq=False)
class ConvStep:
    """One output value of a convolution, taken apart. Coordinates are the input's own: rows and columns outside
    ``[0, H)``/``[0, W)`` are padding. ``padded_rows``/``padded_cols`` index ``ConvSteps.x_padded``."""

    k: int  # filter (output channel)
    i: int  # output row
    j: int  # output column
    rows: np.ndarray  # (fh,) int, input rows under the filter's taps
    cols: np.ndarray  # (fw,) int, input columns under the filter's taps
    padded_rows: np.ndarray  # (fh,) int, the same rows in the padded input
    padded_cols: np.ndarray  # (fw,) int
    in_input: np.ndarray  # (fh, fw) bool, False where the tap lies on padding
    window: np.ndarray  # (C, fh, fw) the input values under the taps (zeros on padding)
    kernel: np.ndarray  # (C, fh, fw) filter k as applied (flipped when flip=True)
    products: np.ndarray  # (C, fh, fw) window · kernel, elementwise
    total: float  # products summed
    bias: float
    z: float  # total + bias
    value: float  # activation(z); equals the output at (k, i, j)
    activation: str | None = None

    @property
    def channel_sums(self) -> np.ndarray:
        """(C,) the products summed per input channel; together they make ``total``."""
        return self.products.sum(axis=(1, 2))

    def where(self) -> str:
        """Where the window lies, in the input's coordinates: ``"input rows 0…2, columns 1…3"``, and how many of its
        taps fall on the zero padding."""
        on_pad = int((~self.in_input).sum())
        text = f"input rows {self.rows.min()}…{self.rows.max()}, columns {self.cols.min()}…{self.cols.max()}"
        return text + (f" ({on_pad} of its taps on the zero padding)" if on_pad else "")

    def expression(self, max_terms: int = 9) -> str:
        """The sum written out: ``"10·1 + 10·0 + 0·(−1) + … + 0 = 30"`` (at most ``max_terms`` products)."""
        pairs = list(zip(self.window.ravel(), self.kernel.ravel(), strict=True))
        terms = [f"{_num(a)}·{_num(b, paren=True)}" for a, b in pairs[:max_terms]]
        if len(pairs) > max_terms:
            terms.append("…")
        text = " + ".join(terms) + (f" + {_num(self.bias, paren=True)}" if self.bias else "") + f" = {_num(self.z)}"
        if self.activation:
            text += f"; {self.activation}({_num(self.z)}) = {_num(self.value)}"
        return text


@dataclass(frozen=True, eq=False)
class ConvSteps:
    """A whole convolution with every step available: the padded input, the output, and ``step(k, i, j)``."""

    x_padded: np.ndarray  # (C, H + top + bottom, W + left + right) float64, zeros around the input
    kernel: np.ndarray  # (K, C, fh, fw) float64, the filters as applied (flipped when flip=True)
    bias: np.ndarray  # (K,) float64
    pre_activation: np.ndarray  # (K, H', W') sums plus bias
    output: np.ndarray  # (K, H', W') after the activation
    stride: tuple[int, int]
    dilation: tuple[int, int]
    padding: tuple[int, int, int, int]  # (top, bottom, left, right)
    flip: bool = False
    activation: str | None = None

    @property
    def in_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the unpadded input."""
        top, bottom, left, right = self.padding
        c, hp, wp = self.x_padded.shape
        return c, hp - top - bottom, wp - left - right

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """(K, H', W')."""
        n_k, h_out, w_out = self.output.shape
        return n_k, h_out, w_out

    @property
    def taps(self) -> int:
        """Multiplications per output value: C·fh·fw."""
        _, c, fh, fw = self.kernel.shape
        return c * fh * fw

    def step(self, k: int, i: int, j: int) -> ConvStep:
        """Output value (k, i, j) taken apart: window, products, sum, bias, activation."""
        n_k, h_out, w_out = self.out_shape
        for name, v, size in (("filter k", k, n_k), ("output row i", i, h_out), ("output column j", j, w_out)):
            if not 0 <= _int(name, v, 0) < size:
                raise ValueError(f"{name} must be in 0..{size - 1}, got {v}")
        (sh, sw), (dh, dw) = self.stride, self.dilation
        _, fh, fw = self.kernel.shape[1:]
        top, _, left, _ = self.padding
        _, h, w = self.in_shape
        padded_rows = i * sh + dh * np.arange(fh)
        padded_cols = j * sw + dw * np.arange(fw)
        rows, cols = padded_rows - top, padded_cols - left
        window = self.x_padded[:, padded_rows[:, None], padded_cols[None, :]]  # (C, fh, fw)
        products = window * self.kernel[k]
        total = float(products.sum())
        z = total + float(self.bias[k])
        value = float(_activate(np.array(z), self.activation))
        in_input = ((rows >= 0) & (rows < h))[:, None] & ((cols >= 0) & (cols < w))[None, :]
        return ConvStep(
            k, i, j, rows, cols, padded_rows, padded_cols, in_input, window, self.kernel[k].copy(), products,
            total, float(self.bias[k]), z, value, self.activation,
        )  # fmt: skip

    def steps(self, k: int | None = None) -> Iterator[ConvStep]:
        """Every step in the order the filter slides: row by row, left to right; filter by filter (or only ``k``)."""
        n_k, h_out, w_out = self.out_shape
        for kk in range(n_k) if k is None else (k,):
            for i in range(h_out):
                for j in range(w_out):
                    yield self.step(kk, i, j)


def _activate(z: np.ndarray, activation: str | None) -> np.ndarray:
    if activation is None:
        return z
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be None or one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    return ACTIVATIONS[activation](z)


@dataclass(frozen=True)
class _Plan:
    """A checked, normalised convolution: arrays in float64 and the geometry of both dimensions."""

    xp: np.ndarray  # (C, Hp, Wp) padded input
    kernel: np.ndarray  # (K, C, fh, fw) as applied
    bias: np.ndarray  # (K,)
    stride: tuple[int, int]
    dilation: tuple[int, int]
    padding: tuple[int, int, int, int]
    out_hw: tuple[int, int]
    squeeze: bool  # no filter axis in w -> (H', W') output


def _plan(x: Any, w: Any, b: Any, stride: IntPair, padding: Padding2d, dilation: IntPair, flip: bool) -> _Plan:
    xa, _ = _as_input(x)
    wa, has_k = _as_weight(w, xa.shape[0])
    n_k, _, fh, fw = wa.shape
    if b is None:
        ba = np.zeros(n_k)
    else:
        ba = np.atleast_1d(np.asarray(b, dtype=np.float64))
        if ba.shape != (n_k,):
            raise ValueError(f"bias must hold one value per filter, shape ({n_k},), got shape {ba.shape}")
    (sh, sw), (dh, dw) = _pair("stride", stride, 1), _pair("dilation", dilation, 1)
    if isinstance(padding, tuple | list):
        ph, pw = _pair("padding", padding, 0)
    else:
        ph = pw = padding
    h_out = output_size(xa.shape[1], fh, ph, sh, dh)
    w_out = output_size(xa.shape[2], fw, pw, sw, dw)
    (top, bottom), (left, right) = paddings(xa.shape[1], fh, ph, sh, dh), paddings(xa.shape[2], fw, pw, sw, dw)
    xp = np.pad(xa, ((0, 0), (top, bottom), (left, right)))  # zeros around each channel
    kernel = wa[:, :, ::-1, ::-1].copy() if flip else wa
    return _Plan(xp, kernel, ba, (sh, sw), (dh, dw), (top, bottom, left, right), (h_out, w_out), not has_k)


def conv2d_reference(
    x: Any,
    w: Any,
    b: Any = None,
    stride: IntPair = 1,
    padding: Padding2d = 0,
    dilation: IntPair = 1,
    flip: bool = False,
    activation: str | None = None,
) -> np.ndarray:
    """The convolution as the course draws it: one loop iteration per output value. Slow and plainly correct.

    ``x`` (C, H, W) or (H, W); ``w`` (K, C, fh, fw), (C, fh, fw) or (fh, fw); ``b`` (K,) or None. ``padding`` is an
    int, (ph, pw), "valid" or "same"; ``stride``/``dilation`` an int or (sh, sw). ``flip=True`` flips the filters
    (true convolution) instead of cross-correlating. Returns float64 (K, H', W'), or (H', W') when ``w`` has no
    filter axis. Matches ``torch.nn.functional.conv2d`` (then the activation, if any).
    """
    plan = _plan(x, w, b, stride, padding, dilation, flip)
    n_k, _, fh, fw = plan.kernel.shape
    (sh, sw), (dh, dw) = plan.stride, plan.dilation
    h_out, w_out = plan.out_hw
    out = np.empty((n_k, h_out, w_out))
    for k in range(n_k):
        for i in range(h_out):
            for j in range(w_out):
                top, left = i * sh, j * sw  # where the filter's first tap lands in the padded input
                window = plan.xp[:, top : top + dh * (fh - 1) + 1 : dh, left : left + dw * (fw - 1) + 1 : dw]
                out[k, i, j] = np.sum(window * plan.kernel[k]) + plan.bias[k]
    out = _activate(out, activation)
    return out[0] if plan.squeeze else out


def _conv_fast(plan: _Plan) -> np.ndarray:
    """The same sums as ``conv2d_reference``, all at once: (K, H', W')."""
    n_k, _, fh, fw = plan.kernel.shape
    (sh, sw), (dh, dw) = plan.stride, plan.dilation
    h_out, w_out = plan.out_hw
    span = (dh * (fh - 1) + 1, dw * (fw - 1) + 1)
    windows = sliding_window_view(plan.xp, span, axis=(1, 2))  # (C, Hp - span + 1, Wp - span + 1, span_h, span_w)
    windows = windows[:, : (h_out - 1) * sh + 1 : sh, : (w_out - 1) * sw + 1 : sw, ::dh, ::dw]  # (C, H', W', fh, fw)
    out = np.einsum("chwij,kcij->khw", windows, plan.kernel, optimize=True)  # (K, H', W')
    return out + plan.bias[:, None, None]


def conv_steps(
    x: Any,
    w: Any,
    b: Any = None,
    stride: IntPair = 1,
    padding: Padding2d = 0,
    dilation: IntPair = 1,
    flip: bool = False,
    activation: str | None = None,
) -> ConvSteps:
    """A convolution whose every step can be inspected; arguments as ``conv2d_reference``.

    The output is computed at once (vectorised, milliseconds for 128×128); ``step(k, i, j)`` recomputes one value
    the slow way for display. The output always has the filter axis: (K, H', W').
    """
    _activate(np.zeros(0), activation)  # check the name before any work
    plan = _plan(x, w, b, stride, padding, dilation, flip)
    z = _conv_fast(plan)
    return ConvSteps(
        plan.xp, plan.kernel, plan.bias, z, _activate(z, activation), plan.stride, plan.dilation, plan.padding,
        flip, activation,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------- flip


@dataclass(frozen=True, eq=False)
class FlipComparison:
    """One filter applied both ways to the same input: as deep-learning libraries do (cross-correlation) and as
    signal processing does (true convolution, the filter rotated by 180°)."""

    cross_correlation: ConvSteps
    convolution: ConvSteps

    @property
    def difference(self) -> np.ndarray:
        """(H', W') convolution − cross-correlation."""
        return self.convolution.output[0] - self.cross_correlation.output[0]

    @property
    def largest_difference(self) -> float:
        """max |convolution − cross-correlation|: 0 exactly when the filter is the same after a 180° turn (on this
        input)."""
        return float(np.abs(self.difference).max())

    @property
    def centre(self) -> tuple[int, int]:
        """An output position near the middle, (i, i), to take apart."""
        _, h_out, w_out = self.cross_correlation.out_shape
        i = min(h_out, w_out) // 2
        return i, i


def compare_flip(x: Any, kernel: Any, padding: Padding2d = "same") -> FlipComparison:
    """``x`` (H, W) or (C, H, W) with one filter ``kernel`` (fh, fw) or (C, fh, fw), cross-correlated and convolved
    (``conv_steps`` with ``flip`` False and True), both with ``padding``."""
    return FlipComparison(conv_steps(x, kernel, padding=padding), conv_steps(x, kernel, padding=padding, flip=True))
