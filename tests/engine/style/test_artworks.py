"""Style images that work offline (engine.style.artworks): the engine's paintings are pure functions of their seed,
scikit-image's pictures load from the wheel without a download."""

from __future__ import annotations

import numpy as np
import pytest

from engine.style.artworks import ARTWORKS, artwork


@pytest.mark.parametrize("name", ARTWORKS.names())
def test_every_artwork_is_an_rgb_picture(name):
    a = artwork(name, 48)
    assert a.shape == (48, 48, 3) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    assert a.std() > 0.03  # a picture, not a flat colour


@pytest.mark.parametrize("name", ARTWORKS.names(tags=("painted",)))
def test_paintings_follow_their_seed(name):
    assert np.array_equal(artwork(name, 64, seed=3), artwork(name, 64, seed=3))
    assert not np.array_equal(artwork(name, 64, seed=3), artwork(name, 64, seed=4))
    assert ARTWORKS[name].seeded


def test_bundled_pictures_ignore_the_seed_and_the_names_are_checked():
    assert set(ARTWORKS.names(tags=("scikit-image",))) == {"hubble", "tissue", "bricks", "gravel", "grass"}
    assert np.array_equal(artwork("bricks", 32, seed=0), artwork("bricks", 32, seed=9))
    with pytest.raises(ValueError, match="unknown artwork 'mona lisa'; choose one of swirls"):
        artwork("mona lisa")
    with pytest.raises(ValueError, match="size must be an integer ≥ 16 pixels, got 4"):
        artwork("swirls", 4)
