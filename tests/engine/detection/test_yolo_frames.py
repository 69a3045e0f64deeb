"""YOLO on pictures of any size (``engine.detection.frames``) against the bundled detector on its own input, and the
IoU playground's overlap (``engine.detection.overlap``) against ``torchvision.ops.box_iou`` and a count of pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from engine.data.registry import multi_scenes
from engine.detection.bundled import load_bundled
from engine.detection.frames import detect_frame, detect_picture, draw_detections
from engine.detection.overlap import overlap


@pytest.fixture(scope="module")
def bundled():
    return load_bundled()


@pytest.fixture(scope="module")
def scenes():
    return multi_scenes(4, 0, 2)


def _rgb(image: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(image.permute(1, 2, 0).numpy())


def _grid(b):
    return b.task.grid_for(len(b.classes))


def test_on_a_scene_at_the_input_size_it_is_the_bundled_detector(bundled, scenes):
    for i in range(len(scenes)):
        got = detect_picture(bundled.model, _rgb(scenes.images[i]), bundled.stats, _grid(bundled), bundled.side,
                             score_threshold=0.3, iou_threshold=0.5)
        want = bundled.detect(scenes.images[i:i + 1], score_threshold=0.3, iou_threshold=0.5)[0]
        torch.testing.assert_close(got.boxes, want.boxes)
        torch.testing.assert_close(got.scores, want.scores)
        assert torch.equal(got.labels, want.labels)
        assert len(want.scores) > 0


def test_a_larger_frame_is_seen_through_its_centred_square_and_boxes_come_back_in_its_pixels(bundled, scenes):
    """The scene twice as large (nearest neighbour), on a wider frame: the square is cut from the middle and resized
    back to 96; the boxes are the 96-pixel ones, doubled and shifted by the margin."""
    rgb = _rgb(scenes.images[0]).repeat(2, axis=0).repeat(2, axis=1)  # (192, 192, 3)
    frame = np.zeros((192, 192 + 2 * 40, 3), np.uint8)
    frame[:, 40:232] = rgb
    got = detect_picture(bundled.model, frame, bundled.stats, _grid(bundled), bundled.side)
    small = detect_picture(bundled.model, np.ascontiguousarray(rgb[::2, ::2]), bundled.stats, _grid(bundled),
                           bundled.side)  # the default thresholds: resizing changes the weakest boxes' scores
    assert len(got.scores) == len(small.scores) > 0
    torch.testing.assert_close(got.boxes, small.boxes * 2 + torch.tensor([40.0, 0, 40, 0]), atol=3.0, rtol=0)


def test_drawn_boxes_change_the_pixels_on_their_outline_only(bundled, scenes):
    frame = np.full((120, 160, 3), 40, np.uint8)
    found = detect_picture(bundled.model, _rgb(scenes.images[0]), bundled.stats, _grid(bundled), bundled.side,
                           score_threshold=0.3)
    found = found._replace(boxes=torch.tensor([[20.0, 30.0, 90.0, 100.0]]), scores=found.scores[:1],
                           labels=found.labels[:1])
    out = draw_detections(frame, found, bundled.classes)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert (out[60, 20] != 40).any() and (out[60, 90] != 40).any()  # the left and right edges
    assert (out[65, 55] == 40).all()  # inside the box: untouched
    assert (frame == 40).all()  # a copy


def test_detect_frame_draws_what_it_found(bundled, scenes):
    rgb = _rgb(scenes.images[1])
    out, found = detect_frame(bundled.model, rgb, bundled.stats, _grid(bundled), bundled.side, bundled.classes,
                              score_threshold=0.3)
    assert len(found.scores) > 0
    assert (out != rgb).any()


def test_a_frame_that_is_not_rgb_uint8_is_refused(bundled):
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        detect_picture(bundled.model, np.zeros((10, 10), np.uint8), bundled.stats, _grid(bundled), bundled.side)


@pytest.mark.parametrize("seed", range(20))
def test_overlap_is_torchvision_s_iou_and_the_areas_are_pixel_counts(seed):
    g = np.random.default_rng(seed)
    a, b = [(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h in g.integers(1, 40, (2, 4))]
    o = overlap(a, b)
    want = float(box_iou(torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64))[0, 0])
    assert o.iou == pytest.approx(want, abs=1e-12)
    canvas = np.zeros((2, 100, 100), bool)
    for k, (x0, y0, x1, y1) in enumerate((a, b)):
        canvas[k, y0:y1, x0:x1] = True
    assert o.inter == (canvas[0] & canvas[1]).sum()
    assert o.union == (canvas[0] | canvas[1]).sum()
    assert o.iou == pytest.approx(o.inter / o.union)
    if o.inter:
        x0, y0, x1, y1 = (int(v) for v in o.intersection)
        assert (canvas[0] & canvas[1])[y0:y1, x0:x1].all() and (x1 - x0) * (y1 - y0) == o.inter
    else:
        assert o.intersection is None and o.iou == 0


def test_overlap_refuses_an_empty_box():
    with pytest.raises(ValueError, match="x0 < x1"):
        overlap((10, 10, 10, 20), (0, 0, 5, 5))
