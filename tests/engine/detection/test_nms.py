"""The NMS step-through against torchvision's ``nms`` and ``batched_nms`` (hypothesis-drawn boxes and hand-made
cases), and what each recorded step says."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.ops import batched_nms, box_iou, nms

from engine.detection.nms import nms_steps


@st.composite
def _boxes(draw):
    """Boxes on a grid of quarter pixels (exact in float32, also after batched_nms offsets them per class), distinct
    scores (torchvision's order of equal scores is unspecified), a few classes."""
    n = draw(st.integers(0, 25))
    corners = draw(st.lists(st.tuples(st.integers(0, 160), st.integers(0, 160), st.integers(1, 80), st.integers(1, 80)),
                            min_size=n, max_size=n))
    boxes = torch.tensor([[x, y, x + w, y + h] for x, y, w, h in corners], dtype=torch.float32).reshape(-1, 4) / 4
    scores = torch.tensor(draw(st.lists(st.integers(0, 10_000), min_size=n, max_size=n, unique=True)),
                          dtype=torch.float32) / 10_000
    labels = torch.tensor(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), dtype=torch.int64)
    threshold = draw(st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.7, 1.0]))
    return boxes, scores, labels, threshold


@settings(max_examples=150, deadline=None)
@given(_boxes())
def test_the_step_through_keeps_what_torchvision_keeps(case):
    boxes, scores, labels, threshold = case
    keep, steps = nms_steps(boxes, scores, threshold)
    assert torch.equal(keep, nms(boxes, scores, threshold))
    keep, steps = nms_steps(boxes, scores, threshold, labels)
    assert torch.equal(keep, batched_nms(boxes, scores, labels, threshold))
    # every box is kept or suppressed exactly once, by a kept box of its class that it overlaps above the threshold
    seen = [s.kept for s in steps] + [j for s in steps for j in s.suppressed]
    assert sorted(seen) == list(range(len(boxes)))
    for s in steps:
        for j, v in zip(s.suppressed, s.ious, strict=True):
            assert labels[j] == labels[s.kept] and v > threshold and scores[j] < scores[s.kept]
            assert v == pytest.approx(box_iou(boxes[s.kept:s.kept + 1], boxes[j:j + 1]).item())


def test_hand_made_steps():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0],  # 0: the best
                          [1.0, 0.0, 11.0, 10.0],  # 1: IoU 90/110 with 0
                          [0.0, 0.0, 10.0, 5.0],  # 2: IoU 0.5 with 0: not above the threshold, kept
                          [20.0, 20.0, 30.0, 30.0],  # 3: apart
                          [21.0, 20.0, 31.0, 30.0]])  # 4: IoU 90/110 with 3
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.95])
    keep, steps = nms_steps(boxes, scores, 0.5)
    assert keep.tolist() == [4, 0, 2]
    assert [(s.kept, s.suppressed) for s in steps] == [(4, (3,)), (0, (1,)), (2, ())]
    assert steps[0].ious == pytest.approx((90 / 110,)) and steps[0].score == pytest.approx(0.95)
    # per class: box 1 of another class survives box 0
    keep, steps = nms_steps(boxes, scores, 0.5, torch.tensor([0, 1, 0, 0, 0]))
    assert keep.tolist() == [4, 0, 1, 2] and steps[1].suppressed == ()
    # identical boxes: the lower score goes, whatever the threshold below 1
    same = torch.tensor([[0.0, 0.0, 4.0, 4.0]] * 2)
    assert nms_steps(same, torch.tensor([0.2, 0.3]), 0.99)[0].tolist() == [1]
    with pytest.raises(ValueError, match="IoU threshold must lie in"):
        nms_steps(boxes, scores, 1.5)
