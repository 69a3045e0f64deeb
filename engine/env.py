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


def optional_positive_int(name: str, default: int | None, what: str) -> int | None:
    """``$name`` as a positive integer, ``default`` (None: no limit) when unset or empty; ``ValueError`` as
    ``positive_int``."""
    if not os.environ.get(name, "").strip():
        return default
    return positive_int(name, 1, what)


DEMO_ENV = "CNNPG_DEMO"


def demo_mode() -> bool:
    """Whether the server is a public demo (``$CNNPG_DEMO`` is 1, true or yes): each visitor's runs live in a temporary
    store of their own, and training jobs have shorter caps by default (docs/hosting.md, "The hosted demo")."""
    return os.environ.get(DEMO_ENV, "").strip().lower() in ("1", "true", "yes", "on")
