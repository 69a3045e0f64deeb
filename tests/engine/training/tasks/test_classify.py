"""``engine.training.tasks.classify``: the classification task against torch's own pieces (cross-entropy with label
smoothing, softmax and top-k), its meter and measures against slow reference loops and torchmetrics, and its output
check and fix against what they change."""

from __future__ import annotations

import math

import pytest
import torch

from engine.data import ClassIds, DatasetCard, Points
from engine.nets.spec import NetworkSpec
from engine.nets.summary import summary
from engine.training.tasks import TASKS, Classify, default_task, task_from_dict
from engine.training.tasks.classify import (
    AccuracyMeter,
    accuracy,
    confusion_matrix,
    misclassified,
    most_confused,
    per_class_accuracy,
)

CARD = DatasetCard("x", "Three things", ("a", "b", "c"), (1, 8, 8), 10, 5, "", "", "")


def _logits(n: int = 300, k: int = 7, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, k, generator=g), torch.randint(0, k, (n,), generator=g)


# --------------------------------------------------------------------------------------------------- the task


def test_it_is_registered_and_round_trips() -> None:
    assert "classify" in TASKS and default_task("class ids") == Classify()
    task = Classify(label_smoothing=0.2)
    assert task.to_dict() == {"name": "classify", "label_smoothing": 0.2}
    assert task_from_dict(task.to_dict()) == task and task_from_dict("classify") == Classify()
    assert task.primary_metric.name == "accuracy" and task.primary_metric.higher_is_better
    assert task.metric("loss").higher_is_better is False
    with pytest.raises(ValueError, match="has no metric 'mAP'"):
        task.metric("mAP")
    with pytest.raises(ValueError, match="label_smoothing must be a number ≥ 0 and < 1, got -0.1"):
        Classify(label_smoothing=-0.1)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_the_loss_is_torchs_cross_entropy(smoothing: float) -> None:
    logits, labels = _logits()
    want = torch.nn.CrossEntropyLoss(label_smoothing=smoothing)(logits, labels)
    assert torch.equal(Classify(label_smoothing=smoothing).loss(logits, labels), want)


def test_the_meter_accumulates_accuracy_over_batches_and_through_its_state() -> None:
    logits, labels = _logits(n=301)
    whole = AccuracyMeter("cpu")
    for i in range(0, 301, 64):
        whole.update(logits[i:i + 64], labels[i:i + 64])
    want = sum(int(p == t) for p, t in zip(logits.argmax(1).tolist(), labels.tolist(), strict=True)) / 301
    assert whole.compute() == {"accuracy": pytest.approx(want, abs=1e-12)}
    first, second = AccuracyMeter("cpu"), AccuracyMeter("cpu")
    first.update(logits[:128], labels[:128])
    second.load_state_dict(first.state_dict())  # a stop after two batches, then a resume
    second.update(logits[128:], labels[128:])
    assert second.compute() == whole.compute()
    assert math.isnan(AccuracyMeter("cpu").compute()["accuracy"])  # no images: no accuracy
    with pytest.raises(ValueError, match="lacks"):
        second.load_state_dict({"correct": 1})


def test_the_meter_agrees_with_torchmetrics() -> None:
    functional = pytest.importorskip("torchmetrics.functional.classification")
    logits, labels = _logits(seed=3)
    meter = Classify().meter("cpu")
    meter.update(logits, labels)
    want = functional.multiclass_accuracy(logits, labels, num_classes=7, average="micro")
    assert meter.compute()["accuracy"] == pytest.approx(float(want))


def test_decode_is_softmax_top_k() -> None:
    logits, _ = _logits(n=4, k=5)
    top = Classify().decode(logits, k=3)
    values, indices = torch.softmax(logits, 1).topk(3, 1)
    assert torch.equal(top.indices, indices) and torch.allclose(top.probs, values)
    assert Classify().decode(logits, k=100).indices.shape == (4, 5)
    with pytest.raises(ValueError, match="k must be at least 1"):
        Classify().decode(logits, k=0)


def test_evaluate_keeps_the_probabilities_and_the_labels() -> None:
    logits, labels = _logits(n=50, k=3)
    ev = Classify().evaluate(logits, ClassIds(labels, ("a", "b", "c")))
    assert torch.allclose(ev.probs, torch.softmax(logits, 1)) and torch.equal(ev.labels, labels)
    assert ev.metrics == {"accuracy": ev.accuracy} and ev.classes == ("a", "b", "c")
    with pytest.raises(ValueError, match="gives 3 scores but the data has 2 classes"):
        Classify().evaluate(logits, ClassIds(labels % 2, ("a", "b")))
    with pytest.raises(ValueError, match="evaluated on class ids, got points"):
        Classify().evaluate(logits, Points(torch.zeros(50, 1, 2), ("p",)))


def test_the_output_check_and_its_fix() -> None:
    task = Classify()
    assert task.output_shape(CARD) == (3,) and task.output_problems((3,), CARD) == []
    assert task.output_problems((10,), CARD) == [
        "output: the network gives 10 scores but Three things has 3 classes; set the last linear layer's "
        "out_features to 3 (the one-click fix does this)"]
    assert task.output_problems((4, 6, 6), CARD)[0].startswith("output: the network ends with a 4×6×6 volume")
    conv = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [{"kind": "conv2d", "out_channels": 4}]})
    fixed = task.fit_output(conv, CARD)
    assert summary(fixed).output_shape == (3,) and [layer.kind for layer in fixed.layers] == [
        "conv2d", "flatten", "linear"]
    assert task.fix_label(CARD) == "Set the output to 3 classes"
    assert task.fix_note(CARD) == "the last linear layer now gives 3 outputs, one per class of Three things"
    out = task.describe_output(CARD.classes)
    assert out["name"] == "logits" and out["shape"] == [3] and out["classes"] == ["a", "b", "c"]
    assert task.check_data(CARD) == []
    points = DatasetCard("p", "Faces", ("nose",), (1, 8, 8), 1, 1, "", "", "", targets="points")
    assert task.check_data(points) == ["data: the classification task learns from one class per image; Faces has "
                                       "landmark points"]


# --------------------------------------------------------------------------------------------------- measures


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


