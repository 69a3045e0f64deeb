"""``engine.detection.compare``: the two ways side by side, equal in the exact setting, explained otherwise, with one
pass against one per window."""

from __future__ import annotations

import torch

from engine.data import Normalization
from engine.detection import compare, sliding
from engine.nets.build import build
from engine.nets.spec import AdaptiveAvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, NetworkSpec, ReLU

SPEC = NetworkSpec((3, 16, 16), (Conv2d(6, 3), ReLU(), MaxPool2d(2), Conv2d(8, 3), ReLU(), Flatten(), Linear(4)))
STATS = Normalization((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
IMAGE = torch.randint(0, 256, (3, 48, 40), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))


def test_exact_setting_gives_equal_maps_in_one_pass():
    model = build(SPEC, seed=1).eval()
    c = compare.compare(model, IMAGE, window=16, stride=2, stats=STATS)
    assert c.exact and c.reasons == () and c.conv_error == ""
    assert c.loop.passes == c.loop.shape[0] * c.loop.shape[1] == 17 * 13 and c.conv.passes == 1
    assert c.agreement.compared == 17 * 13 and c.agreement.max_difference < 1e-5
    assert c.speedup == c.loop.seconds / c.conv.seconds > 0


def test_another_window_size_is_compared_and_explained():
    model = build(SPEC, seed=1).eval()
    c = compare.compare(model, IMAGE, window=32, stride=4, stats=STATS)
    assert not c.exact and c.conv.stride == sliding.conv_stride(SPEC, 32) == 4
    assert c.agreement.step == 1 and len(c.reasons) == 1 and "resizes each crop" in c.reasons[0]
    assert c.agreement.max_difference < 0.5  # close, not equal: the resizing differs at the crops' edges


def test_a_classifier_that_cannot_be_converted_still_slides():
    spec = NetworkSpec((3, 16, 16), (Conv2d(4, 3), AdaptiveAvgPool2d(1), Conv2d(4, 1)))  # no flatten
    c = compare.compare(build(spec, seed=0).eval(), IMAGE, window=16, stride=8, stats=None)
    assert c.conv is None and "fully convolutional already" in c.conv_error and c.speedup is None
    assert c.loop.passes == 5 * 4 and not c.exact
