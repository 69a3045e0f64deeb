"""``engine.detection.search``: score maps to boxes (against hand-made maps and torchvision's NMS), proposals cropped
and classified (against each crop classified alone), the counts of classifier calls (by hand), matching (by hand),
and the one-click window classifier trained for real and slid over held-out scenes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.data import Normalization, adapt_batch, load_dataset, scenes
from engine.data.windows import OBJECT_FILL, OBJECTS
from engine.detection import search, sliding
from engine.nets.build import build
from engine.nets.spec import Conv2d, Flatten, Linear, NetworkSpec, ReLU
from engine.training.loop import fit

STATS = Normalization((0.5, 0.4, 0.3), (0.2, 0.25, 0.3))


def _map(probs: list[list[list[float]]], window: int = 10, stride: int = 5) -> sliding.ScoreMap:
    return sliding.ScoreMap(torch.tensor(probs), window, stride, 0, 0.0)


def test_foreground_is_the_best_class_but_background():
    probs = torch.tensor([[[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]])  # (1, 2, 3); class 0 is the background
    best, index = search.foreground(probs, 0)
    assert torch.equal(best, probs[0, [0, 1], [1, 2]][None]) and index.tolist() == [[1, 2]]
    best, index = search.foreground(probs, None)
    assert torch.equal(best, probs[0, [0, 1], [0, 2]][None]) and index.tolist() == [[0, 2]]
    assert probs[0, 0, 0] == 0.7  # the input is left alone


def test_detections_keep_the_best_of_overlapping_windows():
    # a 2×3 map of 10-px windows 5 px apart; class 0 background
    m = _map([[[0.1, 0.9, 0.0], [0.2, 0.8, 0.0], [0.9, 0.1, 0.0]],
              [[0.5, 0.0, 0.5], [0.9, 0.1, 0.0], [0.05, 0.0, 0.95]]])
    found = search.detections(m, threshold=0.5, iou=0.3, background=0)
    # candidates: (0,0) 0.9 c1 [0,0,10,10]; (0,1) 0.8 c1 [5,0,15,10]; (1,0) 0.5 c2 [0,5,10,15]; (1,2) 0.95 c2
    # [10,5,20,15]. IoU((0,0),(0,1)) = 50/150 > 0.3: the 0.8 goes; (1,0) overlaps (0,0) by 1/3 too: it goes.
    assert found.candidates == 4
    assert found.boxes.tolist() == [[10, 5, 20, 15], [0, 0, 10, 10]]
    assert found.scores.tolist() == pytest.approx([0.95, 0.9]) and found.labels.tolist() == [2, 1]
    # the same as torchvision's NMS over the windows above the threshold
    best, index = search.foreground(m.probs, 0)
    keep = best.flatten() >= 0.5
    from torchvision.ops import nms
    ref = nms(m.boxes()[keep], best.flatten()[keep], 0.3)
    assert torch.equal(found.boxes, m.boxes()[keep][ref])
    # the central fill of each window: same centre, sides × fill
    shrunk = search.detections(m, 0.5, 0.3, 0, fill=0.6)
    assert shrunk.boxes[0].tolist() == pytest.approx([12, 7, 18, 13])
    with pytest.raises(ValueError, match="fill must be a fraction"):
        search.detections(m, 0.5, 0.3, 0, fill=0)


def test_square_boxes_hold_each_box_with_context_inside_the_image():
    boxes = torch.tensor([[10.0, 20.0, 30.0, 30.0], [0.0, 0.0, 8.0, 8.0], [90.0, 50.0, 100.0, 100.0]])
    sq = search.square_boxes(boxes, 100, 100, context=0.5)
    # 20 wide -> 30 square about (20, 25); 8 -> 12 about (4, 4), moved inside; 50 tall -> 75 about (95, 75), moved in
    assert sq.tolist() == [[5, 10, 35, 40], [0, 0, 12, 12], [25, 25, 100, 100]]


def test_each_proposal_is_classified_as_its_square_crop_alone():
    spec = NetworkSpec((3, 16, 16), (Conv2d(4, 3), ReLU(), Flatten(), Linear(3)))
    model = build(spec, seed=0).eval()
    image = torch.randint(0, 256, (3, 60, 50), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    boxes = torch.tensor([[5.0, 5.0, 25.0, 15.0], [30.0, 40.0, 50.0, 60.0], [0.0, 0.0, 50.0, 60.0]])
    probs = search.classify_boxes(model, image, boxes, STATS, spec.input, context=0.0)
    assert probs.shape == (3, 3)
    for box, p in zip(search.square_boxes(boxes, 60, 50, 0.0).tolist(), probs, strict=True):
        x0, y0, x1, y1 = box
        with torch.no_grad():
            ref = torch.softmax(model(adapt_batch(image[None, :, y0:y1, x0:x1], spec.input, STATS)), 1)[0]
        assert torch.allclose(p, ref, atol=1e-6)


def test_sliding_calls_count_the_windows():
    calls = search.sliding_calls(160, 120, [32, 64, 200], [4, 8, 8])
    assert [(c.window, c.rows, c.cols, c.calls) for c in calls] == [(32, 33, 23, 759), (64, 13, 8, 104)]


def test_match_finds_each_object_once():
    found = search.Found(torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [20, 20, 30, 30]]),
                         torch.tensor([0.9, 0.8, 0.7, 0.6]), torch.tensor([1, 1, 2, 1]), 4)
    truth = torch.tensor([[0.0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30]])
    m = search.match(found, truth, torch.tensor([1, 1, 1]))
    # the first finds object 0; the second overlaps it too but it is taken; the third has the wrong class
    assert (m.found, m.objects, m.extra) == (2, 3, 2) and m.matched.tolist() == [True, False, False, True]


def test_the_window_classifier_is_exact_in_convolutional_form():
    assert sliding.edge_layers(search.WINDOW_CLASSIFIER) == []
    assert sliding.trunk_stride(search.WINDOW_CLASSIFIER) == 4
    assert sliding.differences(search.WINDOW_CLASSIFIER, 32) == []


def test_the_one_click_classifier_learns_and_finds_the_shapes_of_new_scenes():
    """Trained as the page trains it (the named set, its config), on the CPU: it classifies held-out windows well,
    and slid over held-out scenes at three window sizes in convolutional form it finds most shapes."""
    data = load_dataset(search.WINDOW_DATA, seed=0)
    result = fit(search.WINDOW_CLASSIFIER, data, search.window_classifier_config(seed=0, device="cpu"))
    assert result.status == "finished" and result.best >= 0.93, result.history
    fcn = sliding.convolutionalize(result.model.eval())
    s = scenes.generate_many(20, 160, seed=7, classes=OBJECTS)
    found = objects = extra = 0
    for i in range(len(s)):
        maps = [sliding.convolutional_windows(fcn, s.images[i], w, result.stats, (3, 32, 32)) for w in (32, 48, 64)]
        hits = search.detections(maps, 0.8, 0.1, background=0, fill=OBJECT_FILL)
        m = search.match(hits, s.boxes[i], s.labels[i] + 1)  # the classifier's classes start with background
        found, objects, extra = found + m.found, objects + m.objects, extra + m.extra
    assert found >= 0.7 * objects and extra <= 0.4 * objects, (found, objects, extra)  # measured: 77 %, 0.25


def test_a_picture_becomes_an_image_to_search():
    rgb = np.random.default_rng(0).integers(0, 256, (300, 200, 3), dtype=np.uint8)
    small = search.search_image(rgb, 150)
    assert small.shape == (3, 150, 100) and small.dtype == torch.uint8
    ref = torch.nn.functional.interpolate(torch.from_numpy(rgb).permute(2, 0, 1)[None].float(), size=(150, 100),
                                          mode="bilinear", align_corners=False, antialias=True)[0]
    assert (small.float() - ref).abs().max() <= 1.0  # resized as torch resizes, then rounded
    gray = search.search_image(rgb[..., 0], 400)  # small enough: kept, in three channels
    assert gray.shape == (3, 300, 200) and torch.equal(gray[0], gray[2]) and torch.equal(gray[1], torch.from_numpy(
        rgb[..., 0]))
    with pytest.raises(ValueError, match="must be uint8"):
        search.search_image(rgb.astype(np.float32), 100)


def test_smallest_first_orders_by_area():
    boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 2, 3], [5, 5, 7, 8], [0, 0, 1, 50]])
    assert search.smallest_first(boxes).tolist() == [[0, 0, 2, 3], [5, 5, 7, 8], [0, 0, 1, 50], [0, 0, 10, 10]]
