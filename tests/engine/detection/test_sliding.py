"""``engine.detection.sliding``: the loop over windows against each crop classified alone, and the convolutional
form against the loop (OverFeat's equality), with one pass instead of one per window."""

from __future__ import annotations

import pytest
import torch

from engine.data import Normalization, adapt_batch
from engine.detection import sliding
from engine.nets.build import build
from engine.nets.spec import Conv2d, Dropout, Flatten, Linear, MaxPool2d, NetworkSpec, ReLU

CLASSIFIER = NetworkSpec((3, 16, 16), (
    Conv2d(6, 3), ReLU(), MaxPool2d(2),  # 14 -> 7
    Conv2d(8, 3), ReLU(), MaxPool2d(2, stride=1),  # 5 -> 4
    Flatten(), Linear(20), ReLU(), Dropout(0.3), Linear(4),
))  # trunk stride 2·1 = 2
STATS = Normalization((0.5, 0.4, 0.3), (0.2, 0.25, 0.3))


@pytest.fixture(scope="module")
def model():
    return build(CLASSIFIER, seed=0).eval()


@pytest.fixture(scope="module")
def image():
    return torch.randint(0, 256, (3, 40, 36), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


def test_each_window_is_classified_as_the_crop_alone(model, image):
    m = sliding.sliding_windows(model, image, window=16, stride=4, stats=STATS)
    assert m.shape == (7, 6) and m.passes == 42 and m.probs.shape == (7, 6, 4)
    with torch.no_grad():
        crop = image[:, 8:24, 12:28]  # row 2, column 3
        expected = torch.softmax(model(adapt_batch(crop[None], (3, 16, 16), STATS)), 1)[0]
    assert torch.allclose(m.probs[2, 3], expected, atol=1e-6)
    assert m.boxes()[2 * 6 + 3].tolist() == [12, 8, 28, 24]


def test_a_larger_window_is_resized_to_the_input(model, image):
    m = sliding.sliding_windows(model, image, window=32, stride=8, stats=STATS)
    with torch.no_grad():
        expected = torch.softmax(model(adapt_batch(image[None, :, 8:40, 0:32], (3, 16, 16), STATS)), 1)[0]
    assert m.shape == (2, 1) and torch.allclose(m.probs[1, 0], expected, atol=1e-6)


def test_the_converted_network_gives_the_classifier_s_output_on_one_window(model):
    fcn = sliding.convolutionalize(model)
    assert [layer.kind for layer in fcn.spec.layers][-4:] == ["conv2d", "relu", "dropout", "conv2d"]
    assert fcn.spec.layers[6].kernel_size == (4, 4) and fcn.spec.layers[6].out_channels == 20
    x = torch.randn(5, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(fcn(x).flatten(1), model(x), atol=1e-5)


def test_one_pass_of_the_converted_network_equals_the_loop(model, image):
    loop = sliding.sliding_windows(model, image, window=16, stride=sliding.trunk_stride(CLASSIFIER), stats=STATS)
    conv = sliding.convolutional_windows(sliding.convolutionalize(model), image, 16, STATS, CLASSIFIER.input)
    assert conv.passes == 1 and loop.passes == loop.shape[0] * loop.shape[1] > 100
    assert conv.shape == loop.shape and conv.stride == loop.stride == 2
    assert torch.allclose(conv.probs, loop.probs, atol=1e-5)


def test_what_cannot_be_converted_is_explained():
    with pytest.raises(ValueError, match="no flatten layer"):
        sliding.convolutional_spec(NetworkSpec((1, 8, 8), (Conv2d(2, 3),)))
    with pytest.raises(ValueError, match="only linear layers and .* not flatten"):
        sliding.convolutional_spec(NetworkSpec((1, 8, 8), (Flatten(), Linear(4), Flatten())))
    with pytest.raises(ValueError, match="does not fit the 40×36 image"):
        sliding.sliding_windows(build(CLASSIFIER), torch.zeros(3, 40, 36, dtype=torch.uint8), 37, 1, None)
