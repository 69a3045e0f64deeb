"""The YOLO grid: assignment on hand-made cases, encoding and decoding as inverses, the loss's terms against a slow
loop, and detection's score filter and NMS against torchvision."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.ops import batched_nms, box_iou, nms

from engine.detection import yolo

GRID = yolo.Grid(4, ((0.1, 0.1), (0.4, 0.2), (0.2, 0.4)), 3)  # 4×4 cells of 16 pixels on a 64-pixel input
SIDE = 64


def test_an_object_goes_to_the_cell_of_its_centre_and_the_anchor_of_its_shape():
    boxes = torch.tensor([
        [2.0, 3.0, 8.0, 9.0],  # centre (5, 6): cell (0, 0); 6×6 px = 0.09 of the side: the small square anchor
        [20.0, 40.0, 44.0, 52.0],  # centre (32, 46): column 2, row 2; 24×12 = wide (0.375, 0.19): anchor 1
        [50.0, 10.0, 62.0, 38.0],  # centre (56, 24): column 3, row 1; 12×28: tall: anchor 2
        [0.0, 0.0, 64.0, 64.0],  # centre (32, 32) on a cell corner: the cell whose top-left corner it is (2, 2)
    ])
    a = yolo.assign(boxes, GRID, SIDE)
    assert a.rows.tolist() == [0, 2, 1, 2] and a.cols.tolist() == [0, 2, 3, 2]
    assert a.anchors.tolist()[:3] == [0, 1, 2]
    # b_x, b_y: the centre's offset in the cell, in cell units; b_w, b_h: the size in cells (the last exceeds 1)
    assert torch.allclose(a.encoded[0], torch.tensor([5 / 16, 6 / 16, 6 / 16, 6 / 16]))
    assert torch.allclose(a.encoded[1], torch.tensor([0.0, 14 / 16, 24 / 16, 12 / 16]))
    assert torch.allclose(a.encoded[3], torch.tensor([0.0, 0.0, 4.0, 4.0]))
    assert ((a.encoded[:, :2] >= 0) & (a.encoded[:, :2] < 1)).all()


def test_a_centre_on_the_image_s_far_edge_stays_in_the_last_cell():
    a = yolo.assign(torch.tensor([[60.0, 60.0, 64.0, 64.0 + 0.0]]), yolo.Grid(4, ((0.1, 0.1),), 1), SIDE)
    assert (a.rows.item(), a.cols.item()) == (3, 3)


def test_shape_iou_is_torchvision_s_iou_of_centred_boxes():
    wh = torch.tensor([[2.0, 4.0], [3.0, 3.0]])
    anchors = torch.tensor([[4.0, 2.0], [1.0, 1.0]])
    # 2×4 and 4×2 centred: intersection 2×2 = 4, union 8 + 8 − 4 = 12; 2×4 and 1×1: 1 / 8
    assert torch.allclose(yolo.shape_iou(wh, anchors)[0], torch.tensor([4 / 12, 1 / 8]))


def test_encoding_and_decoding_are_inverses():
    g = torch.Generator().manual_seed(0)
    centre = torch.rand(50, 2, generator=g) * SIDE
    size = torch.rand(50, 2, generator=g) * 60 + 1
    boxes = torch.cat([centre - size / 2, centre + size / 2], dim=1)
    a = yolo.assign(boxes, GRID, SIDE)
    assert torch.allclose(yolo.decode_cell(a.encoded, a.rows, a.cols, GRID, SIDE), boxes, atol=1e-4)


def _output_for(target: yolo.GridTarget, grid: yolo.Grid, big: float = 30.0) -> torch.Tensor:
    """The raw output a perfect network gives: the inverse of each of decode's squashing functions."""
    n, s = target.obj.shape[0], grid.size
    t = torch.zeros(n, len(grid.anchors), grid.per_anchor, s, s)
    xy = target.xy.clamp(1e-4, 1 - 1e-4)
    t[:, :, 0:2] = torch.log(xy / (1 - xy))
    t[:, :, 2:4] = target.twh
    t[:, :, 4] = torch.where(target.obj, big, -big)
    t[:, :, 5:] = _one_hot(target.cls, grid.classes) * big
    return t.flatten(1, 2)


def _one_hot(cls: torch.Tensor, c: int) -> torch.Tensor:  # (N, B, S, S) -> (N, B, C, S, S)
    return torch.nn.functional.one_hot(cls, c).permute(0, 1, 4, 2, 3).float()


def test_a_perfect_output_decodes_to_the_true_boxes_and_costs_almost_nothing():
    boxes = [torch.tensor([[2.0, 3.0, 8.0, 9.0], [20.0, 40.0, 44.0, 52.0], [50.0, 10.0, 62.0, 38.0]]),
             torch.zeros(0, 4), torch.tensor([[10.0, 10.0, 30.0, 50.0]])]
    labels = [torch.tensor([0, 2, 1]), torch.zeros(0, dtype=torch.int64), torch.tensor([1])]
    target = yolo.encode(boxes, labels, GRID, SIDE)
    assert target.obj.sum().item() == 4 and target.obj.shape == (3, 3, 4, 4)
    out = _output_for(target, GRID)
    assert out.shape == (3, GRID.channels, 4, 4) and GRID.channels == 3 * 8
    found = yolo.detect(out, GRID, SIDE)
    for d, b, y in zip(found, boxes, labels, strict=True):
        order = torch.argsort(d.boxes[:, 0])
        assert torch.allclose(d.boxes[order], b[torch.argsort(b[:, 0])], atol=1e-2)
        assert d.labels[order].tolist() == y[torch.argsort(b[:, 0])].tolist()
        assert (d.scores > 0.99).all()
    assert yolo.loss_terms(out, target, GRID).total.max() < 1e-3
    assert yolo.loss_terms(torch.zeros_like(out), target, GRID).total.min() > 1.0


def test_the_loss_terms_equal_a_slow_loop():
    g = torch.Generator().manual_seed(1)
    boxes = [torch.tensor([[2.0, 3.0, 8.0, 9.0], [20.0, 40.0, 44.0, 52.0]]), torch.tensor([[0.0, 0.0, 30.0, 20.0]])]
    labels = [torch.tensor([2, 0]), torch.tensor([1])]
    target = yolo.encode(boxes, labels, GRID, SIDE)
    out = torch.randn(2, GRID.channels, 4, 4, generator=g)
    terms = yolo.loss_terms(out, target, GRID)
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    for i in range(2):
        coord = obj = noobj = cls = 0.0
        for a in range(len(GRID.anchors)):
            for r in range(4):
                for c in range(4):
                    v = out[i, a * 8:(a + 1) * 8, r, c].tolist()
                    p = sig(v[4])
                    if not target.obj[i, a, r, c]:
                        noobj += yolo.LAMBDA_NOOBJ * -math.log(1 - p)
                        continue
                    tx, ty = target.xy[i, a, :, r, c].tolist()
                    tw, th = target.twh[i, a, :, r, c].tolist()
                    coord += yolo.LAMBDA_COORD * ((sig(v[0]) - tx) ** 2 + (sig(v[1]) - ty) ** 2 + (v[2] - tw) ** 2
                                                  + (v[3] - th) ** 2)
                    obj += -math.log(p)
                    logits = v[5:]
                    cls += math.log(sum(math.exp(x) for x in logits)) - logits[int(target.cls[i, a, r, c])]
        got = [terms.coord[i].item(), terms.obj[i].item(), terms.noobj[i].item(), terms.cls[i].item()]
        assert got == pytest.approx([coord, obj, noobj, cls], rel=1e-4)
    # the targets of t_w, t_h are log-ratios to the assigned anchor
    a = yolo.assign(boxes[0], GRID, SIDE)
    k, r, c = a.anchors[0], a.rows[0], a.cols[0]
    w_cells = GRID.anchors[k][0] * 4
    assert target.twh[0, k, 0, r, c].item() == pytest.approx(math.log(a.encoded[0, 2].item() / w_cells), rel=1e-5)


def test_detections_filter_by_score_then_suppress_like_torchvision():
    g = torch.Generator().manual_seed(3)
    out = torch.randn(2, GRID.channels, 4, 4, generator=g) * 2
    raw = yolo.decode(out, GRID, SIDE)
    # score = p_c × the best class's probability
    assert torch.allclose(raw.scores, (raw.objectness[:, :, None] * raw.probs).max(dim=2).values)
    for per_class in (True, False):
        d = yolo.select(raw, 1, score_threshold=0.2, iou_threshold=0.4, per_class=per_class)
        keep = raw.scores[1] >= 0.2
        b, s, y = raw.boxes[1][keep], raw.scores[1][keep], raw.labels[1][keep]
        ref = batched_nms(b, s, y if per_class else torch.zeros_like(y), 0.4)
        assert torch.equal(d.boxes, b[ref]) and torch.equal(d.scores, s[ref])
        assert (d.scores >= 0.2).all()
        if not per_class and len(d.boxes) > 1:
            iou = box_iou(d.boxes, d.boxes).fill_diagonal_(0)
            assert iou.max() <= 0.4


def test_a_bad_grid_is_refused_with_the_value():
    with pytest.raises(ValueError, match="grid size.*got 0"):
        yolo.Grid(0, ((0.1, 0.1),), 2)
    with pytest.raises(ValueError, match="anchors"):
        yolo.Grid(4, ((0.1, -1.0),), 2)


def test_the_nms_stage_is_torchvision_s_cut_to_the_best_boxes():
    g = torch.Generator().manual_seed(3)
    xy = torch.rand(60, 2, generator=g) * 80
    boxes = torch.cat([xy, xy + 5 + torch.rand(60, 2, generator=g) * 20], 1)
    scores, labels = torch.rand(60, generator=g), torch.randint(0, 3, (60,), generator=g)
    assert torch.equal(yolo.suppress(boxes, scores, labels, 0.4, 7), batched_nms(boxes, scores, labels, 0.4)[:7])
    assert torch.equal(yolo.suppress(boxes, scores, labels, 0.4, 100, per_class=False), nms(boxes, scores, 0.4))
