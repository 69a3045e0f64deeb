"""``engine.media.camera``: the webcam frame functions, against a real forward pass and hand-made crops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.data import adapt_batch
from engine.media.camera import classify_frame, fit_drawing, frame_input, mark_recording, square_sample
from engine.nets.build import build
from engine.nets.spec import NetworkSpec

SPEC = NetworkSpec.from_dict({"input": [1, 16, 16], "layers": [
    {"kind": "conv2d", "out_channels": 4, "padding": 1}, {"kind": "relu"}, {"kind": "maxpool2d"},
    {"kind": "flatten"}, {"kind": "linear", "out_features": 4},
]})
CLASSES = ("cat", "dog", "fish", "bird")
STATS = ((0.4,), (0.2,))
STATS3 = ((0.4, 0.4, 0.4), (0.2, 0.2, 0.2))


def _frame(h: int = 120, w: int = 160, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _model():
    torch.manual_seed(0)
    return build(SPEC).eval()


def _smooth_frame(h: int = 480, w: int = 640) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    rgb = np.stack([np.sin(6 * x) * 0.5 + 0.5, np.cos(4 * y) * 0.5 + 0.5, x * y], axis=2)
    return np.rint(rgb * 255).astype(np.uint8)


@pytest.mark.parametrize("input_shape", [(1, 16, 16), (3, 28, 28), (3, 300, 300)])
def test_frame_input_is_the_adapted_centre_square(input_shape):
    frame = _smooth_frame()
    crop = frame[:, 80:560]  # 480×640 -> the middle 480×480
    want = adapt_batch(torch.from_numpy(crop.copy()).permute(2, 0, 1)[None], input_shape, STATS3)
    got = frame_input(frame, input_shape, STATS3)
    assert got.shape == want.shape == (1, *input_shape)
    # the same picture: reduced first with PIL or not, the adapted inputs agree to a fraction of a grey level
    assert (got - want).abs().mean() < 0.01 / 0.2 and (got - want).abs().max() < 0.05 / 0.2


def test_a_small_frame_is_adapted_as_it_is():
    frame = _frame(40, 60)
    want = adapt_batch(torch.from_numpy(frame[:, 10:50].copy()).permute(2, 0, 1)[None], (1, 16, 16), STATS)
    torch.testing.assert_close(frame_input(frame, (1, 16, 16), STATS), want)


def test_classify_frame_top_k_is_the_softmax_of_the_model_output():
    model, frame = _model(), _frame()
    _, top = classify_frame(model, frame, STATS, (1, 16, 16), CLASSES, k=3)
    with torch.no_grad():
        probs = torch.softmax(model(frame_input(frame, (1, 16, 16), STATS)), 1)[0]
    order = probs.argsort(descending=True)[:3].tolist()
    assert [name for name, _ in top] == [CLASSES[i] for i in order]
    assert [p for _, p in top] == pytest.approx([float(probs[i]) for i in order], abs=1e-6)


def test_k_is_capped_and_stats_may_come_from_a_run_config():
    model, frame = _model(), _frame()
    _, a = classify_frame(model, frame, {"mean": [0.4], "std": [0.2]}, (1, 16, 16), CLASSES, k=10)
    _, b = classify_frame(model, frame, STATS, (1, 16, 16), CLASSES, k=10)
    assert len(a) == 4 and a == b
    assert sum(p for _, p in a) == pytest.approx(1.0, abs=1e-5)
    _, other = classify_frame(model, frame, ((0.0,), (1.0,)), (1, 16, 16), CLASSES, k=10)
    assert other != a  # the statistics are used: the same frame normalised otherwise scores otherwise


def test_annotated_frame_has_the_text_drawn_and_the_input_untouched():
    model = _model()
    frame = np.full((240, 320, 3), 90, np.uint8)
    before = frame.copy()
    annotated, _ = classify_frame(model, frame, STATS, (1, 16, 16), CLASSES, k=3)
    assert annotated.shape == frame.shape and annotated.dtype == np.uint8
    np.testing.assert_array_equal(frame, before)
    panel = np.abs(annotated[:40, :100].astype(int) - 90).sum(-1)
    assert (panel > 60).mean() > 0.3  # the top-left panel: dark box, white text
    assert (annotated[:40, :100] > 200).all(-1).any()  # some white text pixels
    np.testing.assert_array_equal(annotated[120, 160], frame[120, 160])  # centre: nothing drawn there


def test_bad_frames_and_mismatched_classes_are_rejected():
    model = _model()
    with pytest.raises(ValueError, match="uint8 RGB"):
        classify_frame(model, np.zeros((10, 10), np.uint8), STATS, (1, 16, 16), CLASSES)
    with pytest.raises(ValueError, match="uint8 RGB"):
        classify_frame(model, np.zeros((10, 10, 3), np.float32), STATS, (1, 16, 16), CLASSES)
    with pytest.raises(ValueError, match="3 classes"):
        classify_frame(model, _frame(), STATS, (1, 16, 16), CLASSES[:3])


def test_square_sample_keeps_the_centre():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[:, :50] = 255  # outside the centred 100×100 square
    frame[:, 50:150, 1] = 200
    s = square_sample(frame, 32)
    assert s.shape == (32, 32, 3) and s.dtype == np.uint8
    assert (s[..., 0] == 0).all() and (s[..., 1] == 200).all()


def test_mark_recording_draws_a_border():
    frame = np.full((120, 160, 3), 50, np.uint8)
    out = mark_recording(frame, "thumbs up")
    assert out.shape == frame.shape
    assert tuple(out[-1, 80]) == (220, 30, 30) and tuple(out[60, 80]) == (50, 50, 50)
    assert (frame == 50).all()


def test_fit_drawing_centres_the_strokes_with_a_margin():
    canvas = np.zeros((100, 100, 4), np.uint8)  # transparent: background
    canvas[10:30, 60:70] = (255, 255, 255, 255)  # a 20×10 stroke, off-centre
    out = fit_drawing(canvas, background=(0, 0, 0), margin=0.25)
    assert out.shape == (40, 40, 3)  # 20 / (1 − 2·0.25)
    ink = np.argwhere(out.any(-1))
    assert ink.min(0).tolist() == [10, 15] and ink.max(0).tolist() == [29, 24]  # centred
    assert fit_drawing(np.full((50, 50, 3), 255, np.uint8), background=(255, 255, 255)) is None
    with pytest.raises(ValueError, match="margin"):
        fit_drawing(canvas, margin=0.5)
