"""Receptive fields, exactly: which input pixels one output value of a layer depends on.

After Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural Networks" (Distill, 2019): per axis,
a chain of windows maps output unit ``u`` to the input pixels ``[u·jump + lo, u·jump + hi]``, so a field is three
numbers and composes layer by layer. Two things break that form, and both are kept exact here rather than
approximated (docs/layer-kinds.md, "Receptive fields"):

- parallel paths on different grids (an inception branch or a residual body whose total stride differs from the
  other path's): the union is kept as one affine *span* per grid, so the field of unit ``u`` is still exact, but its
  size depends on ``u``;
- adaptive pooling whose input size is not a multiple of its output size: output ``i`` pools
  ``[⌊i·n/m⌋, ⌈(i+1)·n/m⌉)``, which no single stride describes; the pool becomes the *base* of the spans above it,
  evaluated through that rule.

A field is what a layer's kind computes from the field before it (``LayerSpec.receptive_field``). The size the summary
shows is the field of the centre output (``u = size // 2`` on each axis) — the same for every output unless
``varies``. Fields include padding: a unit near the border sees pixels outside the image, as in Araujo et al.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class _Adaptive:
    """Adaptive pooling from ``n`` to ``m`` cells that does not reduce to one window; ``below`` is its input's field."""

    n: int
    m: int
    below: tuple[_Span, ...]

    def extent(self, a: int, b: int) -> tuple[int, int] | None:
        """Input pixels of this pool's output units ``[a, b]`` (units outside ``[0, m)`` are padding of the next
        layer: they see nothing)."""
        a, b = max(a, 0), min(b, self.m - 1)
        if a > b:
            return None
        return _extent(self.below, a * self.n // self.m, -(-(b + 1) * self.n // self.m) - 1)


@dataclass(frozen=True, slots=True)
class _Span:
    """Units ``[a, b]`` of this layer see units ``[a·jump + lo, b·jump + hi]`` of ``base`` (None: the input)."""

    jump: int
    lo: int
    hi: int
    base: _Adaptive | None = None

    def window(self, k: int, s: int, d: int, before: int) -> _Span:
        # output u reads units [u·s − before, u·s − before + d·(k − 1)] of this layer
        return _Span(self.jump * s, self.lo - before * self.jump, self.hi + (d * (k - 1) - before) * self.jump,
                     self.base)


def _extent(spans: tuple[_Span, ...], a: int, b: int) -> tuple[int, int] | None:
    lo = hi = None
    for span in spans:
        x, y = a * span.jump + span.lo, b * span.jump + span.hi
        if span.base is not None:
            seen = span.base.extent(x, y)
            if seen is None:
                continue
            x, y = seen
        lo = x if lo is None or x < lo else lo
        hi = y if hi is None or y > hi else hi
    return None if lo is None else (lo, hi)


def _merge(spans: list[_Span]) -> tuple[_Span, ...]:
    """One span per (grid, base): spans on the same grid unite exactly into the widest."""
    out: dict[tuple[int, int], _Span] = {}
    for span in spans:
        key = (span.jump, id(span.base))
        old = out.get(key)
        out[key] = span if old is None else _Span(span.jump, min(old.lo, span.lo), max(old.hi, span.hi), span.base)
    return tuple(out.values())


def _pair(v: Any) -> tuple[int, int]:
    return (v[0], v[1]) if isinstance(v, tuple | list) else (v, v)


_IDENTITY = (_Span(1, 0, 0),)


@dataclass(frozen=True, slots=True)
class Field:
    """The receptive field of every output unit of one layer, per axis (height, width)."""

    h: tuple[_Span, ...] = _IDENTITY
    w: tuple[_Span, ...] = _IDENTITY

    def window(self, kernel: Any, stride: Any, dilation: Any = 1, before: Any = 0) -> Field:
        """After a sliding window (convolution, pooling, zero padding as a 1-tap window): ``kernel``, ``stride``,
        ``dilation`` and the padding ``before`` the first pixel (top, left), each an int or an (h, w) pair."""
        (kh, kw), (sh, sw), (dh, dw), (ph, pw) = _pair(kernel), _pair(stride), _pair(dilation), _pair(before)
        return Field(tuple(s.window(kh, sh, dh, ph) for s in self.h), tuple(s.window(kw, sw, dw, pw) for s in self.w))

    def adaptive(self, size_in: tuple[int, int], size_out: tuple[int, int]) -> Field:
        """After adaptive pooling from ``size_in`` (H, W) to ``size_out``: a window when the sizes divide, else exact
        through PyTorch's start/end rule."""
        return Field(_adaptive_axis(self.h, size_in[0], size_out[0]), _adaptive_axis(self.w, size_in[1], size_out[1]))

    @staticmethod
    def union(fields: list[Field]) -> Field:
        """The field of a sum or concatenation of paths that end on the same output units."""
        return Field(_merge([s for f in fields for s in f.h]), _merge([s for f in fields for s in f.w]))

    def interval(self, axis: int, unit: int) -> tuple[int, int] | None:
        """Input pixels ``(first, last)`` that output ``unit`` of ``axis`` (0: height, 1: width) sees; coordinates
        below 0 or past the image are padding. None when it sees none (its window lies in padding)."""
        return _extent(self.h if axis == 0 else self.w, unit, unit)

    def size(self, out_h: int, out_w: int) -> tuple[int, int] | None:
        """(height, width) of the centre output's field, for an output of ``out_h``×``out_w``."""
        rows, cols = self.interval(0, out_h // 2), self.interval(1, out_w // 2)
        if rows is None or cols is None:
            return None
        return rows[1] - rows[0] + 1, cols[1] - cols[0] + 1

    @property
    def varies(self) -> bool:
        """Whether outputs may see fields of different sizes (paths on different grids, adaptive pooling that does
        not divide): the summary then shows the centre output's."""
        return any(len(axis) > 1 or axis[0].base is not None for axis in (self.h, self.w))


def _adaptive_axis(spans: tuple[_Span, ...], n: int, m: int) -> tuple[_Span, ...]:
    if n % m == 0:
        k = n // m
        return tuple(s.window(k, k, 1, 0) for s in spans)
    return (_Span(1, 0, 0, _Adaptive(n, m, spans)),)
