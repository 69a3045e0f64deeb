"""Shared fixtures of the style tests: the offline backbone, loaded once per session (about 2 s), and small pictures."""

from __future__ import annotations

import numpy as np
import pytest

from engine.media.images import sample_image, to_uint8
from engine.style.artworks import artwork
from engine.style.backbones import FeatureExtractor, load_extractor


@pytest.fixture(scope="session")
def lite0() -> FeatureExtractor:
    return load_extractor("efficientnet_lite0", "cpu")


@pytest.fixture(scope="session")
def cat() -> np.ndarray:
    """Chelsea the cat, (300, 451, 3) uint8."""
    return to_uint8(sample_image("chelsea", None, gray=False))


@pytest.fixture(scope="session")
def swirls() -> np.ndarray:
    return to_uint8(artwork("swirls", 128, seed=0))
