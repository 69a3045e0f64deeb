"""``engine.training.evaluate`` against a real forward pass: outputs, the task's evaluation, top-k predictions."""

from __future__ import annotations

import pytest
import torch

from engine.data import ImageSet, adapt_batch, channel_stats, load_dataset
from engine.nets.build import build
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.evaluate import evaluate, predict
from engine.training.loop import fit

SPEC = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 8, "padding": 1}, {"kind": "relu"}, {"kind": "maxpool2d"},
    {"kind": "flatten"}, {"kind": "linear", "out_features": 10},
]})


@pytest.fixture(scope="module")
def trained():
    data = load_dataset("digits")
    result = fit(SPEC, data, TrainConfig(epochs=2, lr=3e-3, device="cpu"))
    return data, result


def test_evaluate_matches_a_forward_pass(trained) -> None:
    data, result = trained
    ev = evaluate(result.model, data.val, result.stats)
    with torch.no_grad():
        logits = result.model(adapt_batch(data.val.images, SPEC.input, result.stats))
    predicted = logits.argmax(1)
    assert torch.equal(ev.predicted, predicted)
    assert ev.accuracy == pytest.approx(result.history[-1].val["accuracy"])
    assert ev.confusion.tolist() == [[int(((data.val.labels == t) & (predicted == p)).sum()) for p in range(10)]
                                     for t in range(10)]
    assert len(ev.per_class_accuracy) == 10
    wrong = ev.misclassified()
    assert len(wrong) == int((predicted != data.val.labels).sum())
    assert all(data.val.labels[m.index] == m.true and predicted[m.index] == m.predicted for m in wrong)
    assert sum(p.count for p in ev.most_confused(k=100)) == len(wrong)


def test_predict_top_k(trained) -> None:
    data, result = trained
    images = data.val.images[:5]
    top = predict(result.model, images, result.stats, k=3)
    with torch.no_grad():
        probs = torch.softmax(result.model(adapt_batch(images, SPEC.input, result.stats)), 1)
    values, indices = probs.topk(3, 1)
    assert torch.equal(top.indices, indices) and torch.allclose(top.probs, values)
    single = predict(result.model, images[0], result.stats, k=100)
    assert single.indices.shape == (1, 10) and single.probs.sum().item() == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="uint8"):
        predict(result.model, images.float(), result.stats)


def test_predict_adapts_other_image_sizes_and_channels() -> None:
    """A 3-channel 16×16 upload to a 1×8×8 network: adapted like the training images."""
    model = build(SPEC).eval()
    rgb = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    stats = channel_stats(ImageSet(rgb, torch.zeros(2, dtype=torch.int64), ("a",)))
    top = predict(model, rgb, stats, k=2)
    with torch.no_grad():
        expected = torch.softmax(model(adapt_batch(rgb, (1, 8, 8), stats)), 1).topk(2, 1)
    assert torch.equal(top.indices, expected.indices)
