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


# --------------------------------------------------------------------------------------------------- the two maps


PADDED = NetworkSpec((3, 16, 16), (Conv2d(6, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(), Linear(4)))


def test_the_loop_on_every_kth_window_of_the_convolutional_grid_is_compared_there(model, image):
    conv = sliding.convolutional_windows(sliding.convolutionalize(model), image, 16, STATS, CLASSIFIER.input)
    loop = sliding.sliding_windows(model, image, window=16, stride=6, stats=STATS)  # 3 × the trunk's stride 2
    a = sliding.agreement(loop, conv)
    assert a.step == 3 and a.compared == loop.shape[0] * loop.shape[1] and a.max_difference < 1e-5
    assert torch.allclose(loop.probs[1, 2], conv.probs[3, 6], atol=1e-5)  # window at (12, 6) px, both ways
    off = sliding.agreement(sliding.sliding_windows(model, image, 16, 3, STATS), conv)
    assert off.compared == 0 and off.max_difference is None and "not on the convolutional form's grid" in off.note


def test_padding_makes_the_maps_differ_and_is_named():
    net = build(PADDED, seed=0).eval()
    img = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    loop = sliding.sliding_windows(net, img, 16, 2, STATS)
    conv = sliding.convolutional_windows(sliding.convolutionalize(net), img, 16, STATS, PADDED.input)
    a = sliding.agreement(loop, conv)
    assert a.step == 1 and a.max_difference > 1e-3  # the border cells of each window saw zeros in the loop
    reasons = sliding.differences(PADDED, 16)
    assert len(reasons) == 1 and reasons[0].startswith("conv2d (layer 1) pads its input")
    assert sliding.differences(CLASSIFIER, 16) == [] and "not the classifier's input" in \
        sliding.differences(CLASSIFIER, 24)[0]
    ceil = NetworkSpec((3, 16, 16), (Conv2d(6, 3), MaxPool2d(3, ceil_mode=True), Flatten(), Linear(4)))
    assert "ceil_mode" in sliding.edge_layers(ceil)[0]


def test_the_head_as_convolutions_keeps_its_parameters(model):
    head = sliding.head_conversion(CLASSIFIER)
    fcn = sliding.convolutionalize(model)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    convs = [m for m in fcn.modules() if isinstance(m, torch.nn.Conv2d)][-2:]
    assert [h.before for h in head] == ["linear 128 → 20", "linear 20 → 4"]
    assert [h.after for h in head] == ["conv2d, 20 filters of 8×4×4", "conv2d, 4 filters of 20×1×1"]
    assert [h.volume for h in head] == [(8, 4, 4), (20, 1, 1)]
    assert [h.params for h in head] == [sum(p.numel() for p in m.parameters()) for m in linears] == \
        [sum(p.numel() for p in m.parameters()) for m in convs]
    assert convs[0].weight.shape == (20, 8, 4, 4)  # filters = units, filter size = the volume read
