"""``engine.detection.target``: the course's y, its loss rule checked against values computed by hand, decoding as
the inverse of encoding, IoU against torchvision."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.ops import box_iou

from engine.detection import target


def test_encode_writes_the_course_s_vector():
    present = torch.tensor([True, False])
    boxes = torch.tensor([[10.0, 20.0, 30.0, 60.0], [0, 0, 0, 0]])
    y = target.encode(present, boxes, torch.tensor([2, -1]), num_classes=3, size=100)
    assert y.tolist()[0] == pytest.approx([1, 0.2, 0.4, 0.4, 0.2, 0, 0, 1])  # p_c, b_x, b_y, b_h, b_w, c1..c3
    assert y.tolist()[1] == [0.0] * 8
    assert torch.allclose(target.target_boxes(y, 100)[0], boxes[0])


def test_decode_inverts_encode_through_the_logits():
    y = target.encode(torch.tensor([True]), torch.tensor([[8.0, 4.0, 40.0, 28.0]]), torch.tensor([1]), 2, 64)
    logit = lambda v: math.log(v / (1 - v))  # noqa: E731
    raw = torch.tensor([[logit(0.9), *(logit(float(v)) for v in y[0, 1:5]), 0.0, math.log(3.0)]])
    p, boxes, probs = target.decode(raw, 64)
    assert p.item() == pytest.approx(0.9) and torch.allclose(boxes, torch.tensor([[8.0, 4.0, 40.0, 28.0]]), atol=1e-4)
    assert probs[0].tolist() == pytest.approx([0.25, 0.75])


def test_loss_counts_every_component_with_an_object_and_only_p_c_without():
    y = target.encode(torch.tensor([True, False]), torch.tensor([[0.0, 0.0, 50.0, 50.0], [0, 0, 0, 0]]),
                      torch.tensor([0, -1]), 2, 100)  # object: b = (0.25, 0.25, 0.5, 0.5), class 0
    out = torch.tensor([[0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0],  # logits: p = 0.5, every box value 0.5, classes
                        [2.0, 5.0, -5.0, 5.0, -5.0, 3.0, 0.0]])
    t = target.loss_terms(out, y)
    # Image 0, by hand: −log 0.5 for p_c; (0.5 − 0.25)² for b_x and b_y, (0.5 − 0.5)² for b_h, b_w;
    # cross-entropy −log(e / (e + 1)) for class 0.
    assert t.p_c[0].item() == pytest.approx(math.log(2))
    boxes = (t.b_x[0].item(), t.b_y[0].item(), t.b_h[0].item(), t.b_w[0].item())
    assert boxes == pytest.approx((0.0625, 0.0625, 0.0, 0.0))
    assert t.cls[0].item() == pytest.approx(-math.log(math.e / (math.e + 1)))
    # Image 1 has no object: only p_c counts, −log(1 − σ(2)), whatever the other outputs say.
    assert t.p_c[1].item() == pytest.approx(-math.log(1 - 1 / (1 + math.exp(-2))))
    assert t.b_x[1] == t.b_y[1] == t.b_h[1] == t.b_w[1] == t.cls[1] == 0
    assert t.total[1].item() == pytest.approx(t.p_c[1].item())
    # The total weights the box terms by BOX_WEIGHT: log 2 + BOX_WEIGHT·2·0.0625 + the class term.
    assert t.total[0].item() == pytest.approx(math.log(2) + target.BOX_WEIGHT * 0.125 + t.cls[0].item())
    means = t.means()
    assert means["total"] == pytest.approx(float(t.total.mean())) and set(means) == {*target.COMPONENTS, "total"}


def test_a_head_of_the_wrong_width_is_explained():
    with pytest.raises(ValueError, match="5 \\+ number of classes outputs"):
        target.loss_terms(torch.zeros(2, 6), torch.zeros(2, 7))


def test_iou_is_torchvision_s_for_matched_pairs():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(1100, 2, generator=g) * 50
    b = torch.rand(1100, 2, generator=g) * 50
    pred = torch.cat([a, a + torch.rand(1100, 2, generator=g) * 30 + 1], 1)
    true = torch.cat([b, b + torch.rand(1100, 2, generator=g) * 30 + 1], 1)
    assert torch.allclose(target.iou(pred, true), box_iou(pred, true).diagonal())
    assert target.iou(pred[:1], pred[:1]).item() == pytest.approx(1.0)


def test_points_round_trip_and_their_error_is_normalised_by_the_eyes():
    pts = torch.tensor([[[10.0, 10.0], [30.0, 10.0], [20.0, 20.0]]])
    assert torch.allclose(target.decode_points(target.encode_points(pts, 40), 40), pts)
    assert target.encode_points(pts, 40).tolist()[0] == [0.25, 0.25, 0.75, 0.25, 0.5, 0.5]
    moved = pts + torch.tensor([2.0, 0.0])  # every point 2 px off; the eyes are 20 px apart
    assert target.point_error(moved, pts).item() == pytest.approx(0.1)


def test_a_written_prediction_decodes_to_itself_and_its_loss_is_the_hand_computed_one():
    y = target.encode(torch.tensor([True]), torch.tensor([[12.0, 24.0, 36.0, 40.0]]), torch.tensor([1]), 3, 48)
    # ŷ as a person writes it: p̂_c = 0.8, the box 3 pixels right of the true one, class probabilities 1 : 2 : 1
    assert torch.allclose(target.box_fractions(torch.tensor([[12.0, 24.0, 36.0, 40.0]]), 48), y[:, 1:5])
    box = torch.tensor([[15.0, 24.0, 39.0, 40.0]])
    raw = target.raw_prediction(torch.tensor([0.8]), box, torch.tensor([[1.0, 2.0, 1.0]]), 48)
    p, boxes, probs = target.decode(raw, 48)
    assert p.item() == pytest.approx(0.8) and probs[0].tolist() == pytest.approx([0.25, 0.5, 0.25])
    assert boxes[0].tolist() == pytest.approx([15.0, 24.0, 39.0, 40.0], abs=1e-4)
    t = target.loss_terms(raw, y)
    assert t.p_c.item() == pytest.approx(-math.log(0.8))  # binary cross-entropy with p_c = 1
    assert t.b_x.item() == pytest.approx((3 / 48) ** 2, rel=1e-4) and t.b_y.item() == pytest.approx(0.0, abs=1e-9)
    assert t.cls.item() == pytest.approx(-math.log(0.5), rel=1e-5)  # the true class's probability
    assert t.total.item() == pytest.approx(-math.log(0.8) + target.BOX_WEIGHT * (3 / 48) ** 2 - math.log(0.5),
                                           rel=1e-4)


def test_a_written_prediction_stays_finite_at_certainty_and_is_checked():
    raw = target.raw_prediction(torch.tensor([1.0]), torch.tensor([[0.0, 0.0, 0.0, 10.0]]), torch.tensor([[0.0, 1.0]]),
                                10)  # certain, a box of no width at the edge, a class of probability 0
    assert torch.isfinite(raw).all()
    y = torch.tensor([[0.0, 0, 0, 0, 0, 0, 0]])  # no object: p̂_c = 1 costs −log(1e-4), the rest nothing
    assert target.loss_terms(raw, y).total.item() == pytest.approx(-math.log(1e-4), rel=1e-3)
    with pytest.raises(ValueError, match="must agree"):
        target.raw_prediction(torch.tensor([0.5]), torch.zeros(1, 3), torch.ones(1, 2), 10)
    with pytest.raises(ValueError, match="not all zero"):
        target.raw_prediction(torch.tensor([0.5]), torch.zeros(1, 4), torch.zeros(1, 2), 10)


def test_point_terms_are_the_landmark_task_s_loss_per_point():
    from engine.data.targets import PointBatch
    from engine.detection.tasks import Landmarks

    g = torch.Generator().manual_seed(0)
    true, pred = torch.rand(4, 5, 2, generator=g) * 48, torch.rand(4, 5, 2, generator=g)
    terms = target.point_terms(pred, true / 48)
    loop = torch.tensor([[float((pred[i, k, 0] - true[i, k, 0] / 48) ** 2 + (pred[i, k, 1] - true[i, k, 1] / 48) ** 2)
                          for k in range(5)] for i in range(4)])
    assert torch.allclose(terms, loop, atol=1e-6)
    task = Landmarks()
    batch = task.collate(PointBatch(true, torch.ones(4, 5, dtype=torch.bool), (48, 48)))
    assert task.loss(pred.flatten(1), batch).item() == pytest.approx(terms.mean().item(), rel=1e-6)


def test_the_centroid_is_the_best_single_guess_for_shuffled_labels():
    from engine.data.landmarks import shuffled_order

    g = torch.Generator().manual_seed(1)
    points = torch.rand(3, 5, 2, generator=g)
    c = target.centroid_points(points)
    assert torch.allclose(c[:, 0], points.mean(dim=1)) and (c == c[:, :1]).all()
    by_hand = sum(float((points[i] - points[i].mean(0)).norm(dim=1).mean() / (points[i, 0] - points[i, 1]).norm())
                  for i in range(3)) / 3
    assert target.centroid_error(points) == pytest.approx(by_hand, rel=1e-5)
    # Over every order of the labels, the guess with the least mean squared error is the centroid (its gradient is 0):
    # the mean over many shuffles of a slot is the centroid.
    many = torch.stack([shuffled_order(points, seed)[0] for seed in range(600)])  # (600, 3, 5, 2)
    assert torch.allclose(many.mean(dim=0), c, atol=0.03)
