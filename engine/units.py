"""How the engine writes numbers and shapes for people: one place, so the summary, the CLI, the messages and the pages
agree ("64×56×56", "61.7K", "1.2 MB", "1:15", "1 layer")."""

from __future__ import annotations

import math
from collections.abc import Iterable

NONE = "—"  # what a missing shape or time is written as


def format_shape(shape: Iterable[int] | None) -> str:
    """``(64, 56, 56)`` -> ``"64×56×56"``; None -> ``"—"``."""
    return NONE if shape is None else "×".join(str(int(d)) for d in shape)


def format_count(n: int) -> str:
    """``61706`` -> ``"61.7K"``, ``4089184256`` -> ``"4.09G"``."""
    for value, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if n >= value:
            return f"{n / value:.3g}{suffix}"
    return str(n)


def format_bytes(n: float) -> str:
    """``512`` -> ``"512 B"``, ``1536`` -> ``"1.5 KB"`` (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def format_seconds(seconds: float | None) -> str:
    """``75`` -> ``"1:15"``, ``3725`` -> ``"1:02:05"``; ``"—"`` for an unknown time."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return NONE
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_duration(seconds: float | None) -> str:
    """A duration in words for a sentence: ``6.4`` -> ``"6 s"``, ``125`` -> ``"2 min 5 s"``, ``7260`` ->
    ``"2 h 1 min"``; ``"—"`` for an unknown time. Under 10 s, tenths are kept (``"0.8 s"``)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return NONE
    if seconds < 10:
        return f"{seconds:.1f} s"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min" + (f" {s % 60} s" if s % 60 else "")
    return f"{s // 3600} h" + (f" {s % 3600 // 60} min" if s % 3600 // 60 else "")


def plural(n: int, word: str, words: str | None = None) -> str:
    """``plural(1, "layer")`` -> ``"1 layer"``, ``plural(3, "class", "classes")`` -> ``"3 classes"``."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def format_number(v: float, paren: bool = False) -> str:
    """A short number (4 significant digits) with a real minus sign: ``-0.25`` -> ``"−0.25"``; negatives in
    parentheses when ``paren`` (inside a sum: ``"10·(−1)"``)."""
    text = f"{float(v):.4g}".replace("-", "−")
    return f"({text})" if paren and v < 0 else text
