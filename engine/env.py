"""Settings read from the server's environment (the caps of docs/architecture.md, "Limits"), checked once, each with
a message that names the variable."""

from __future__ import annotations

import os


def positive_int(name: str, default: int, what: str) -> int:
    """``$name`` as a positive integer (``default`` when unset or empty); ``ValueError`` naming the variable, what it
    counts (``what``) and the bad value."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name} must be a positive integer ({what}), got {text!r}")
    return value
