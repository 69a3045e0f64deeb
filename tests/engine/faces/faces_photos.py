"""The labelled face photos of face_recognition 1.3.0's sdist (obama.jpg, obama2.jpg, obama3.jpg, biden.jpg, ...),
fetched by ``make test`` (``scripts/face-photos.sh``) into the git-ignored ``.cache/face-photos/``. A test that needs
one skips, saying why, only when they could not be fetched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

PHOTOS = Path(__file__).resolve().parents[3] / ".cache" / "face-photos"


def photo_path(name: str) -> Path:
    path = PHOTOS / name
    if not path.is_file():
        pytest.skip(f"the face photos could not be fetched ({path} is missing; make face-photos fetches them)")
    return path


def photo(name: str) -> np.ndarray:
    """The photo ``name`` as ``(H, W, 3)`` uint8, through the engine's safe decoder."""
    from engine.faces.pipeline import read_image

    return read_image(photo_path(name))
