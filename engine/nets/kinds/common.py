"""What the kinds share: argument checks, and a sliding window's messages and formulas.

Each check appends a message that names the argument, its value and what would be valid. Specs hold whatever they
are given (the builder must be able to hold a layer that is invalid right now); ``LayerSpec.check`` says what is
wrong, and nothing is built until it says nothing. Output sizes follow the one rule in
``engine.conv.arithmetic.sliding_output``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.conv.arithmetic import size_formula, sliding_output
from engine.units import format_shape

Shape = tuple[int, ...]
MAX_INT = 2**31 - 1  # larger sizes are refused: no layer that large could be built and trained here


def pair(v: Any) -> tuple[Any, Any]:
    """``k`` or ``(kh, kw)`` -> ``(kh, kw)``, as torch reads an int-or-pair argument."""
    if isinstance(v, tuple | list) and len(v) == 2:
        return v[0], v[1]
    return v, v


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def prod(shape: Iterable[int]) -> int:
    n = 1
    for v in shape:
        n *= v
    return n


def check_ints(name: str, value: Any, minimum: int, errors: list[str], allow_pair: bool = True) -> None:
    if type(value) is int and minimum <= value <= MAX_INT:  # the common case, quickly
        return
    vals = pair(value) if allow_pair else (value,)
    if allow_pair and isinstance(value, tuple | list) and len(value) != 2:
        errors.append(f"{name} must be one integer or two (height, width), got {value!r}")
        return
    if not all(is_int(v) and v >= minimum for v in vals):
        what = "an integer" if not allow_pair else "an integer or a (height, width) pair of integers"
        errors.append(f"{name} must be {what} ≥ {minimum}, got {value!r}")
    elif any(v > MAX_INT for v in vals):
        errors.append(f"{name} must be at most {MAX_INT:,}, got {value!r}")


def check_bool(name: str, value: Any, errors: list[str]) -> None:
    if not isinstance(value, bool):
        errors.append(f"{name} must be true or false, got {value!r}")


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_prob(name: str, value: Any, errors: list[str]) -> None:
    if not (is_number(value) and 0 <= value <= 1):
        errors.append(f"{name} must be a probability between 0 and 1, got {value!r}")


def check_positive(name: str, value: Any, errors: list[str]) -> None:
    if not (is_number(value) and value > 0 and value != float("inf")):
        errors.append(f"{name} must be a number > 0, got {value!r}")


def needs_image(in_shape: Shape, what: str) -> list[str]:
    if len(in_shape) == 1:
        return [f"{what} needs an image-shaped input C×H×W, but gets a flat vector of {in_shape[0]} (is it after a "
                f"flatten?)"]
    if len(in_shape) != 3:
        return [f"{what} needs an image-shaped input C×H×W, but gets {format_shape(in_shape)}"]
    return []


def window_errors(in_shape: Shape, kernel: Any, padding: Any, dilation: Any, stride: Any = 1,
                  ceil_mode: bool = False) -> list[str]:
    """Errors for a sliding window that does not fit its (padded) input (no output cell at all)."""
    (kh, kw), (ph, pw), (dh, dw), (sh, sw) = pair(kernel), pair(padding), pair(dilation), pair(stride)
    h, w = in_shape[1], in_shape[2]
    if sliding_output(h, kh, ph, ph, sh, dh, ceil_mode) >= 1 and sliding_output(w, kw, pw, pw, sw, dw, ceil_mode) >= 1:
        return []
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    k = f"{kh}" if kh == kw else f"{kh}×{kw}"
    p = f"{ph}" if ph == pw else f"({ph}, {pw})"
    dil = "" if (dh, dw) == (1, 1) else f" (dilated to {eh}×{ew})"
    return [f"kernel {k}{dil} is larger than its {h}×{w} input plus padding {p}; "
            f"use a kernel ≤ {h + 2 * ph}×{w + 2 * pw} or more padding"]


def size_lines(in_shape: Shape, kernel: Any, stride: Any, before: Any, after: Any = None, dilation: Any = 1,
               ceil: bool = False) -> list[str]:
    """``out H, W: ⌊(32 + 2·0 − 5)/1⌋ + 1 = 28`` (one line when both axes read the same, else one per axis)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = pair(kernel), pair(stride), pair(before), pair(dilation)
    (qh, qw) = (ph, pw) if after is None else pair(after)
    th, _ = size_formula(in_shape[1], kh, ph, qh, sh, dh, ceil)
    tw, _ = size_formula(in_shape[2], kw, pw, qw, sw, dw, ceil)
    if th == tw:
        return [f"out H, W: {th}"]
    return [f"out H: {th}", f"out W: {tw}"]


def n(v: int) -> str:
    """``61706`` -> ``"61,706"``: counts in formulas."""
    return f"{v:,}"
