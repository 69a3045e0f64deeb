"""k-means anchors with the 1 − IoU distance: on boxes drawn around known shapes it finds those shapes, and the
mean-IoU curve rises to its knee at the true number of clusters."""

from __future__ import annotations

import pytest
import torch

from engine.detection import anchors as A
from engine.detection.yolo import shape_iou

TRUE = torch.tensor([[0.05, 0.05], [0.3, 0.1], [0.12, 0.32], [0.4, 0.4]])  # small square, wide, tall, large: by area


def _clustered(seed: int = 0, per: int = 200, spread: float = 0.05) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    noise = torch.exp(torch.randn(len(TRUE) * per, 2, generator=g) * spread)  # ±5% multiplicative
    return TRUE.repeat_interleave(per, dim=0) * noise


def test_k_means_finds_known_clusters():
    found = A.kmeans_anchors(_clustered(), 4, seed=1)
    assert found.anchors.shape == (4, 2)
    assert torch.allclose(found.anchors, TRUE, rtol=0.05)  # smallest area first, like TRUE
    assert found.mean_iou > 0.9
    # each box goes to the anchor of its cluster
    assert torch.equal(found.assignment, torch.arange(4).repeat_interleave(200))


def test_the_mean_iou_curve_has_its_knee_at_the_true_k():
    curve = A.mean_iou_curve(_clustered(), range(1, 7))
    assert curve[3] > 0.9 and curve[2] < curve[3] - 0.05 and curve[0] < 0.5
    assert all(b >= a - 0.01 for a, b in zip(curve, curve[1:], strict=False))
    assert curve[5] - curve[3] < 0.05  # past the knee little is gained


def test_the_distance_is_iou_not_euclidean():
    # a tiny box among large ones: Euclidean k-means would put it with the closest large box; 1 − IoU treats scale
    shapes = torch.tensor([[0.02, 0.02]] * 30 + [[0.5, 0.5]] * 30 + [[0.55, 0.5]] * 30)
    found = A.kmeans_anchors(shapes, 2)
    assert torch.allclose(found.anchors[0], torch.tensor([0.02, 0.02]))
    iou = shape_iou(shapes, found.anchors).max(dim=1).values
    assert found.mean_iou == pytest.approx(float(iou.mean()))


def test_box_shapes_and_bad_inputs():
    boxes = torch.tensor([[10.0, 20.0, 40.0, 30.0]])
    assert torch.allclose(A.box_shapes(boxes, 100), torch.tensor([[0.3, 0.1]]))
    with pytest.raises(ValueError, match="k must be an integer from 1 to the number of distinct box shapes \\(1\\)"):
        A.kmeans_anchors(A.box_shapes(boxes, 100), 2)
    with pytest.raises(ValueError, match="positive widths"):
        A.kmeans_anchors(torch.tensor([[0.0, 1.0]]), 1)
