"""``engine.data.landmarks.shuffled_order`` and the "faces_shuffled" set: the same points in a random order per image,
checked against a loop that reads the permutation back, and the named set built from it."""

from __future__ import annotations

import pytest
import torch

from engine.data import dataset_card, landmarks, load_dataset
from engine.data.landmarks import shuffled_order


def test_each_image_gets_a_permutation_of_its_own_points():
    points = landmarks.generate(400, seed=3).points
    shuffled, order = shuffled_order(points, seed=7)
    assert shuffled.shape == points.shape and order.shape == (400, 5)
    for i in range(len(points)):  # a reference loop: every row is a permutation, and reads its points back
        assert sorted(order[i].tolist()) == [0, 1, 2, 3, 4]
        for j in range(5):
            assert torch.equal(shuffled[i, j], points[i, order[i, j]])
    # uniform: each landmark lands in slot 0 about a fifth of the time, and few images keep the true order (1/120)
    counts = torch.bincount(order[:, 0], minlength=5).float() / 400
    assert torch.allclose(counts, torch.full((5,), 0.2), atol=0.06)
    assert (order == torch.arange(5)).all(dim=1).float().mean() < 0.03


def test_the_shuffle_is_seeded():
    points = landmarks.generate(50, seed=0).points
    assert torch.equal(shuffled_order(points, 1)[1], shuffled_order(points, 1)[1])
    assert not torch.equal(shuffled_order(points, 1)[1], shuffled_order(points, 2)[1])
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        shuffled_order(points, -1)
    with pytest.raises(ValueError, match=r"points must be a tensor \(N, K, 2\)"):
        shuffled_order(points[:, :, 0], 0)


def test_the_shuffled_faces_shuffle_training_labels_only():
    ordered = load_dataset("faces", seed=4, max_train=30)
    shuffled = load_dataset("faces_shuffled", seed=4, max_train=30)
    assert dataset_card("faces_shuffled").targets == "points"
    assert torch.equal(ordered.train.images, shuffled.train.images)  # the same faces
    assert torch.equal(shuffled.train.targets.points, shuffled_order(ordered.train.targets.points, 4)[0])
    assert not torch.equal(shuffled.train.targets.points, ordered.train.targets.points)
    assert torch.equal(shuffled.val.targets.points, ordered.val.targets.points)  # graded on the true order
