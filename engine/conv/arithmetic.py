"""Convolution arithmetic: how many positions a sliding window has, "same" padding, and a layer's parameters.

This is the one place the output-size rule is written (the lab's pages, the network summary and the layer checks all
ask here). A window of ``f`` taps spaced ``d`` apart spans ``d(f − 1) + 1`` pixels; over ``n`` pixels padded with
``p`` on each side and moved ``s`` at a time it has

    n_out = ⌊(n + 2p − d(f − 1) − 1) / s⌋ + 1        (with d = 1: ⌊(n + 2p − f) / s⌋ + 1)

positions. PyTorch's rules are followed exactly: "same" padding puts an odd total's extra pixel on the right/bottom
and is refused for strides above 1; pooling's ``ceil_mode`` counts a last, partial window when it starts inside the
input or the left padding. V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep learning",
arXiv:1603.07285 (2016).
"""

from __future__ import annotations

import operator
from typing import Any

Padding = int | str  # a non-negative int, "valid" or "same" (one dimension)
Padding2d = int | tuple[int, int] | str  # also (ph, pw)
IntPair = int | tuple[int, int]

OUTPUT_SIZE_FORMULA = "⌊(n + 2p − d(f − 1) − 1)/s⌋ + 1"
OUTPUT_SIZE_FORMULA_UNDILATED = "⌊(n + 2p − f)/s⌋ + 1"  # the same with d = 1, as the course writes it


def output_size_rule(d: int = 1) -> str:
    """The output-size formula in letters, as simple as dilation ``d`` allows."""
    return OUTPUT_SIZE_FORMULA_UNDILATED if _int("dilation d", d, 1) == 1 else OUTPUT_SIZE_FORMULA


def _int(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int ≥ ``minimum``, else a ValueError naming it."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    try:
        v = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value!r}") from None
    if v < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {v}")
    return v


def _pair(name: str, value: Any, minimum: int) -> tuple[int, int]:
    """``v`` or ``(vh, vw)`` -> ``(vh, vw)``, both checked ints ≥ ``minimum``."""
    if isinstance(value, tuple | list):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair (height, width), got {value!r}")
        return _int(name, value[0], minimum), _int(name, value[1], minimum)
    v = _int(name, value, minimum)
    return v, v


def same_padding(f: int, d: int = 1, n: int | None = None, s: int = 1) -> tuple[int, int]:
    """Padding (left/top, right/bottom) for "same": the output keeps ``n`` cells at stride 1, and has ⌈n/s⌉ at stride
    ``s`` — the course's and TensorFlow/Keras's meaning (PyTorch's ``padding="same"`` takes stride 1 only).

    The filter spans ``d(f − 1) + 1`` pixels. At stride 1 that needs ``d(f − 1)`` padding pixels in all, whatever
    ``n``; at stride ``s`` the last of ⌈n/s⌉ windows must fit: ``max((⌈n/s⌉ − 1)·s + d(f − 1) + 1 − n, 0)`` pixels.
    When the total is odd, the extra pixel goes on the right/bottom (as both PyTorch and TensorFlow do).
    """
    f, d, s = _int("filter size f", f, 1), _int("dilation d", d, 1), _int("stride s", s, 1)
    if s == 1:
        total = d * (f - 1)
    else:
        if n is None:
            raise ValueError("with a stride above 1, 'same' padding depends on the input size n: give n")
        n = _int("input size n", n, 1)
        total = max((-(-n // s) - 1) * s + d * (f - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def explain_same_padding(f: int, d: int = 1, n: int | None = None, s: int = 1) -> str:
    """A sentence on how "same" padding is split for this filter size (and, at a stride above 1, input size), for a
    caption."""
    left, right = same_padding(f, d, n, s)
    total = left + right
    span = f"{f}×{f} filter" + (f" (dilated by {d}, spanning {d * (f - 1) + 1} pixels)" if d > 1 else "")
    if s > 1:
        out = -(-n // s)
        split = f"p = {left} on every side" if left == right else \
            f"{left} on the left/top and {right} on the right/bottom (the extra one on the right/bottom)"
        return (
            f"With stride {s}, 'same' means the output has ⌈n/s⌉ = ⌈{n}/{s}⌉ = {out} cells per dimension (the "
            f"course's and TensorFlow/Keras's rule). The last window must fit: (⌈n/s⌉ − 1)·s + f − n = "
            f"({out} − 1)·{s} + {d * (f - 1) + 1} − {n} = {total} padding pixels per dimension, so {split}. "
            f"PyTorch's padding='same' accepts stride 1 only: there you pad explicitly (nn.ZeroPad2d(({left}, "
            f"{right}, {left}, {right})), then padding=0)."
        )
    if left == right:
        return (
            f"A {span} needs {total} padding pixels per dimension to keep the size: "
            f"p = {left} on every side, the course's p = (f − 1)/2."
        )
    return (
        f"A {span} needs {total} padding pixels per dimension to keep the size, an odd number that cannot be "
        f"split evenly: PyTorch pads {left} on the left/top and {right} on the right/bottom. "
        f"This is one reason filters usually have an odd size (and a centre pixel)."
    )


def paddings(n: int, f: int, p: Padding, s: int = 1, d: int = 1) -> tuple[int, int]:
    """(before, after) padding of one dimension of ``n`` cells: ``p`` itself on both sides, 0 for "valid", and for
    "same" what ``same_padding`` says (at a stride above 1, TensorFlow's rule)."""
    if isinstance(p, str):
        if p == "valid":
            return 0, 0
        if p == "same":
            return same_padding(f, d, n, s)
        raise ValueError(f"padding must be a non-negative int, 'valid' or 'same', got {p!r}")
    try:
        v = _int("padding p", p, 0)
    except ValueError:
        raise ValueError(f"padding must be a non-negative int, 'valid' or 'same', got {p!r}") from None
    return v, v


def sliding_output(n: int, f: int, before: int, after: int | None = None, s: int = 1, d: int = 1,
                   ceil_mode: bool = False) -> int:
    """PyTorch's number of window positions over ``n`` pixels padded with ``before`` (and ``after``, default the same)
    pixels, for a window of ``f`` taps ``d`` apart moved ``s`` at a time. ``ceil_mode`` (pooling) counts a last,
    partial window when it starts inside the input or the left padding. Unchecked: below 1 when the window does not
    fit (``output_size`` is the checked form)."""
    after = before if after is None else after
    num = n + before + after - (d * (f - 1) + 1)
    if not ceil_mode:
        return num // s + 1
    out = -(-num // s) + 1
    if (out - 1) * s >= n + before:
        out -= 1
    return out


def size_formula(n: int, f: int, before: int, after: int | None = None, s: int = 1, d: int = 1,
                 ceil_mode: bool = False) -> tuple[str, int]:
    """``sliding_output`` as the formula with these numbers in it, and its value: ``("⌊(6 + 2·0 − 3)/1⌋ + 1 = 4",
    4)``."""
    after = before if after is None else after
    out = sliding_output(n, f, before, after, s, d, ceil_mode)
    pad = f"2·{before}" if before == after else f"({before} + {after})"
    span = f"{f}" if d == 1 else f"{d}·({f} − 1) − 1"
    if not ceil_mode:
        return f"⌊({n} + {pad} − {span})/{s}⌋ + 1 = {out}", out
    text = f"⌈({n} + {pad} − {span})/{s}⌉ + 1"
    if out != -(-(n + before + after - (d * (f - 1) + 1)) // s) + 1:
        text += " − 1 (the last window would start in the right padding)"
    return f"{text} = {out}", out


def output_size(n: int, f: int, p: Padding = 0, s: int = 1, d: int = 1) -> int:
    """Output length of one dimension: ⌊(n + 2p − d(f − 1) − 1)/s⌋ + 1.

    ``n`` input size, ``f`` filter size, ``p`` padding per side (an int ≥ 0, "valid" = 0, or "same": n cells kept at
    stride 1, ⌈n/s⌉ at stride s — see ``same_padding``), ``s`` stride, ``d`` dilation. Raises ValueError for impossible
    values, naming the value and what would be valid.
    """
    n, f = _int("input size n", n, 1), _int("filter size f", f, 1)
    s, d = _int("stride s", s, 1), _int("dilation d", d, 1)
    before, after = paddings(n, f, p, s, d)
    extent = d * (f - 1) + 1
    padded = n + before + after
    if extent > padded:
        dilated = f" (dilated by {d}: spans {extent} pixels)" if d > 1 else ""
        f_max = (padded - 1) // d + 1
        p_min = -(-(extent - n) // 2)
        raise ValueError(
            f"filter size f={f}{dilated} is larger than the padded input n + 2p = {n} + {before + after} = {padded}; "
            f"use f ≤ {f_max} or padding p ≥ {p_min}"
        )
    return sliding_output(n, f, before, after, s, d)


def output_size_formula(n: int, f: int, p: Padding = 0, s: int = 1, d: int = 1) -> str:
    """The output-size formula with these numbers in it, e.g. ``"⌊(6 + 2·0 − 3)/1⌋ + 1 = 4"``. Checked like
    ``output_size``."""
    output_size(n, f, p, s, d)
    before, after = paddings(n, f, p, s, d)
    return size_formula(n, f, before, after, s, d)[0]


def layer_params(f: IntPair, n_c: int, n_filters: int, bias: bool = True) -> int:
    """Learnable parameters of one convolution layer: (f·f·n_c + 1)·n_filters; the input's height and width
    do not matter. The course's example: 10 filters of 3×3×3 -> 280."""
    fh, fw = _pair("filter size f", f, 1)
    n_c, n_filters = _int("input channels n_c", n_c, 1), _int("number of filters", n_filters, 1)
    return (fh * fw * n_c + int(bool(bias))) * n_filters


def layer_params_formula(f: IntPair, n_c: int, n_filters: int, bias: bool = True) -> str:
    """``layer_params`` with the numbers in it, e.g. ``"(3·3·3 + 1)·10 = 280"``."""
    fh, fw = _pair("filter size f", f, 1)
    total = layer_params(f, n_c, n_filters, bias)
    weights = f"{fh}·{fw}·{n_c}"
    return f"({weights} + 1)·{n_filters} = {total}" if bias else f"{weights}·{n_filters} = {total}"
