"""``engine.training.evaluate`` against slow reference loops, torchmetrics, and a real forward pass."""

from __future__ import annotations

import pytest
import torch

from engine.data import ImageSet, adapt_batch, channel_stats, load_dataset
from engine.nets.build import build
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.evaluate import evaluate, predict
from engine.training.loop import fit
from engine.training.tasks.classify import (
    accuracy,
    confusion_matrix,
    misclassified,
    most_confused,
    per_class_accuracy,
)

SPEC = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 8, "padding": 1}, {"kind": "relu"}, {"kind": "maxpool2d"},
    {"kind": "flatten"}, {"kind": "linear", "out_features": 10},
]})


def _random_predictions(n: int = 500, k: int = 7, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, k, (n,), generator=g)
    noisy = torch.randint(0, k, (n,), generator=g)
    predicted = torch.where(torch.rand(n, generator=g) < 0.6, labels, noisy)  # mostly right
    return labels, predicted


def _slow_confusion(labels: torch.Tensor, predicted: torch.Tensor, k: int) -> list[list[int]]:
    m = [[0] * k for _ in range(k)]
    for t, p in zip(labels.tolist(), predicted.tolist(), strict=True):
        m[t][p] += 1
    return m


def test_confusion_matrix_against_a_loop() -> None:
    labels, predicted = _random_predictions()
    confusion = confusion_matrix(labels, predicted, 7)
    assert confusion.dtype == torch.int64 and confusion.tolist() == _slow_confusion(labels, predicted, 7)
    assert int(confusion.sum()) == 500


def test_confusion_matrix_against_torchmetrics() -> None:
    functional = pytest.importorskip("torchmetrics.functional.classification")
    labels, predicted = _random_predictions(seed=1)
    expected = functional.multiclass_confusion_matrix(predicted, labels, num_classes=7)
    assert torch.equal(confusion_matrix(labels, predicted, 7), expected)
    recall = functional.multiclass_recall(predicted, labels, num_classes=7, average=None)
    assert torch.allclose(per_class_accuracy(confusion_matrix(labels, predicted, 7)).float(), recall)


def test_confusion_matrix_refuses_labels_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\), got \[0, 5\]"):
        confusion_matrix(torch.tensor([0, 5]), torch.tensor([0, 1]), 3)
    with pytest.raises(ValueError, match="differ in length"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([0]), 3)


def test_accuracies_against_loops() -> None:
    labels, predicted = _random_predictions(seed=2)
    assert accuracy(labels, predicted) == pytest.approx(sum(a == b for a, b in zip(labels.tolist(),
                                                                                     predicted.tolist(), strict=True))
                                                        / 500)
    per_class = per_class_accuracy(confusion_matrix(labels, predicted, 8))  # class 7 has no images
    for c in range(7):
        members = [p for t, p in zip(labels.tolist(), predicted.tolist(), strict=True) if t == c]
        assert per_class[c].item() == pytest.approx(sum(p == c for p in members) / len(members))
    assert torch.isnan(per_class[7])


def test_most_confused_pairs() -> None:
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    predicted = torch.tensor([1, 1, 0, 0, 1, 1, 0, 0, 2])
    pairs = most_confused(confusion_matrix(labels, predicted, 3), k=10)
    assert [(p.true, p.predicted, p.count) for p in pairs] == [(0, 1, 2), (2, 0, 2), (1, 0, 1), (2, 1, 1)]
    assert len(most_confused(confusion_matrix(labels, predicted, 3), k=1)) == 1


def test_misclassified_most_confident_first() -> None:
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    labels = torch.tensor([0, 0, 1, 1])
    wrong = misclassified(labels, probs)
    assert [(m.index, m.true, m.predicted) for m in wrong] == [(1, 0, 1), (2, 1, 0)]
    assert wrong[0].confidence == pytest.approx(0.8)
    assert misclassified(labels, probs, limit=1) == wrong[:1]


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
    assert ev.confusion.tolist() == _slow_confusion(data.val.labels, predicted, 10)
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
