"""The 1×1-bottleneck lesson against PyTorch's own FLOP counter on the real convolutions."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from engine.nets.build import build
from engine.nets.lessons import bottleneck_lesson


def _real_macs(spec) -> int:
    model = build(spec).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, *spec.input))
    return counter.get_total_flops() // 2  # one multiply-accumulate = two floating-point operations


def test_course_numbers():
    lesson = bottleneck_lesson()
    assert lesson.direct.macs == 28 * 28 * 32 * 5 * 5 * 192 == 120_422_400
    assert lesson.bottleneck.macs == 28 * 28 * 16 * 192 + 28 * 28 * 32 * 5 * 5 * 16 == 12_443_648
    assert lesson.direct.out_shape == lesson.bottleneck.out_shape == (32, 28, 28)
    assert lesson.saving == pytest.approx(9.68, abs=0.01)


@pytest.mark.parametrize("args", [(28, 28, 192, 32, 5, 16), (14, 10, 64, 48, 3, 8), (7, 7, 512, 128, 4, 64)])
def test_costs_equal_torch_flop_counter(args):
    lesson = bottleneck_lesson(*args)
    assert lesson.direct.macs == _real_macs(lesson.direct.spec)
    assert lesson.bottleneck.macs == _real_macs(lesson.bottleneck.spec)
    one_by_one = lesson.bottleneck.spec.layers[:1]
    assert lesson.first_macs == _real_macs(type(lesson.bottleneck.spec)(lesson.bottleneck.spec.input, one_by_one))
    for cost in (lesson.direct, lesson.bottleneck):
        assert cost.params == sum(p.numel() for p in build(cost.spec).parameters())


def test_bad_numbers_are_named():
    with pytest.raises(ValueError, match="c_mid must be a positive integer, got 0"):
        bottleneck_lesson(c_mid=0)
