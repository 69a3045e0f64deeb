"""``engine.detection.proposals``: every initial segment is proposed with its exact box (oracle: torchvision's
masks_to_boxes on scikit-image's segmentation), merges end in the whole image, and an object's box is proposed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.ops import box_iou, masks_to_boxes

from engine.data import scenes
from engine.detection import proposals


@pytest.fixture(scope="module")
def scene():
    s = scenes.generate(1, 96, seed=5, empty=0.0)
    return s.images[0].permute(1, 2, 0).numpy().copy(), s.boxes[0]


def test_segments_are_proposed_with_their_exact_boxes_and_merges_end_in_the_whole_image(scene):
    image, _ = scene
    p = proposals.propose(image, scale=50, min_size=20, min_side=1)
    labels = torch.from_numpy(p.segments)
    masks = torch.stack([labels == k for k in range(int(labels.max()) + 1)])
    expected = masks_to_boxes(masks) + torch.tensor([0.0, 0.0, 1.0, 1.0])  # exclusive ends
    proposed = {tuple(b) for b in p.boxes.tolist()}
    assert all(tuple(b) in proposed for b in expected.tolist())
    assert (0.0, 0.0, 96.0, 96.0) in proposed and p.level.max() > 0 and (p.level == 0).sum() == len(expected)
    n = len(expected)
    assert len(p.boxes) <= 2 * n - 1 and len(set(map(tuple, p.boxes.tolist()))) == len(p.boxes)


def test_the_object_is_among_far_fewer_proposals_than_windows(scene):
    image, box = scene
    p = proposals.propose(image)
    assert box_iou(p.boxes, box[None]).max() > 0.7
    windows = sum(((96 - w) // 4 + 1) ** 2 for w in (16, 24, 32, 48, 64))  # a sliding search at 5 sizes, stride 4
    assert len(p.boxes) < windows / 5


def test_bad_input_is_explained():
    with pytest.raises(ValueError, match="RGB \\(H, W, 3\\) uint8"):
        proposals.propose(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="scale must be > 0"):
        proposals.propose(np.zeros((8, 8, 3), np.uint8), scale=0)
