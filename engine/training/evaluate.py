"""Evaluating a trained classifier: accuracy, per-class accuracy, the confusion matrix, the most-confused pairs,
misclassified examples, and top-k predictions.

Images come in as the data sets keep them (``uint8`` ``(N, C, H, W)``, any size and channel count) and are adapted to
the network's input and normalised with the training statistics by ``engine.data.adapt_batch``, exactly as in
training. The confusion matrix's rows are the true classes and its columns the predicted ones (scikit-learn's and
torchmetrics' convention).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import nn

from engine.data import ImageSet, adapt_batch
from engine.device import model_device
from engine.nets.spec import Shape

EVAL_BATCH = 256


class TopK(NamedTuple):
    """``probs`` ``(B, k)`` softmax probabilities, highest first, and their class ``indices`` ``(B, k)``."""

    probs: torch.Tensor
    indices: torch.Tensor


@dataclass(frozen=True)
class ConfusedPair:
    """``count`` images of class ``true`` predicted as ``predicted``."""

    true: int
    predicted: int
    count: int


@dataclass(frozen=True)
class Misclassified:
    """Image ``index`` of the evaluated set, of class ``true``, predicted ``predicted`` with probability
    ``confidence``."""

    index: int
    true: int
    predicted: int
    confidence: float


# --------------------------------------------------------------------------------------------------- metrics


def accuracy(labels: torch.Tensor, predicted: torch.Tensor) -> float:
    """Fraction of ``predicted`` ``(N,)`` equal to ``labels`` ``(N,)``; NaN for an empty set."""
    if labels.numel() == 0:
        return float("nan")
    return float((labels == predicted).double().mean())


def confusion_matrix(labels: torch.Tensor, predicted: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``(K, K)`` int64 counts: entry ``[t, p]`` is the number of images of class ``t`` predicted as ``p``."""
    labels, predicted = labels.long().flatten().cpu(), predicted.long().flatten().cpu()
    if labels.shape != predicted.shape:
        raise ValueError(f"labels and predictions differ in length: {labels.numel()} and {predicted.numel()}")
    for name, t in (("labels", labels), ("predictions", predicted)):
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= num_classes):
            raise ValueError(f"{name} must lie in [0, {num_classes}), got [{int(t.min())}, {int(t.max())}]")
    flat = labels * num_classes + predicted
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_accuracy(confusion: torch.Tensor) -> torch.Tensor:
    """``(K,)`` float64: each class's recall (its diagonal over its row); NaN for a class with no images."""
    totals = confusion.sum(1).double()
    return torch.where(totals > 0, confusion.diagonal().double() / totals.clamp(min=1), float("nan"))


def most_confused(confusion: torch.Tensor, k: int = 5) -> list[ConfusedPair]:
    """The ``k`` largest off-diagonal counts (true class, predicted class), largest first; ties by class order.
    Pairs never confused are left out."""
    n = confusion.shape[0]
    pairs = [ConfusedPair(t, p, int(confusion[t, p])) for t in range(n) for p in range(n)
             if t != p and confusion[t, p] > 0]
    pairs.sort(key=lambda c: (-c.count, c.true, c.predicted))
    return pairs[:k]


def misclassified(labels: torch.Tensor, probs: torch.Tensor, limit: int | None = None) -> list[Misclassified]:
    """The images whose top prediction is wrong, most confidently wrong first (ties by index)."""
    confidence, predicted = probs.max(1)
    wrong = torch.nonzero(predicted != labels).flatten().tolist()
    out = [Misclassified(i, int(labels[i]), int(predicted[i]), float(confidence[i])) for i in wrong]
    out.sort(key=lambda m: (-m.confidence, m.index))
    return out if limit is None else out[:limit]


# --------------------------------------------------------------------------------------------------- running the model


@torch.inference_mode()
def predict_probs(model: nn.Module, images: torch.Tensor, stats: Any, input_shape: Shape | None = None,
                  batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """Softmax probabilities ``(N, K)`` float32 (on the CPU) for ``uint8`` images ``(N, C, H, W)``."""
    input_shape = _input_shape(model, input_shape)
    device = model_device(model)
    training = model.training
    model.eval()
    try:
        out = [torch.softmax(model(adapt_batch(images[i:i + batch_size], input_shape, stats).to(device)).float(), 1)
               .cpu() for i in range(0, len(images), batch_size)]
    finally:
        model.train(training)
    return torch.cat(out) if out else torch.zeros(0, 0)


def predict(model: nn.Module, x: torch.Tensor, stats: Any, input_shape: Shape | None = None, k: int = 5) -> TopK:
    """Top-``k`` classes of ``uint8`` image(s) ``x`` — ``(C, H, W)`` or ``(B, C, H, W)``, any size: adapted to the
    network's ``input_shape`` (default: the network's spec) and normalised with ``stats`` as in training.
    Returns ``TopK`` with ``(B, k)`` tensors (``B`` = 1 for a single image); ``k`` is capped at the class count."""
    if x.dtype != torch.uint8 or x.ndim not in (3, 4):
        raise ValueError(f"x must be a uint8 image (C, H, W) or batch (B, C, H, W), got {x.dtype} "
                         f"{tuple(x.shape)}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    probs = predict_probs(model, x[None] if x.ndim == 3 else x, stats, input_shape)
    top = probs.topk(min(k, probs.shape[1]), dim=1)
    return TopK(top.values, top.indices)


@dataclass(frozen=True)
class Evaluation:
    """A model's predictions on a labelled set and the measures built from them."""

    classes: tuple[str, ...]
    labels: torch.Tensor  # (N,) int64
    probs: torch.Tensor  # (N, K) float32

    @property
    def predicted(self) -> torch.Tensor:
        return self.probs.argmax(1)

    @property
    def accuracy(self) -> float:
        return accuracy(self.labels, self.predicted)

    @property
    def confusion(self) -> torch.Tensor:
        return confusion_matrix(self.labels, self.predicted, len(self.classes))

    @property
    def per_class_accuracy(self) -> list[float]:
        return per_class_accuracy(self.confusion).tolist()

    def most_confused(self, k: int = 5) -> list[ConfusedPair]:
        return most_confused(self.confusion, k)

    def misclassified(self, limit: int | None = None) -> list[Misclassified]:
        return misclassified(self.labels, self.probs, limit)


def evaluate(model: nn.Module, data: ImageSet, stats: Any, input_shape: Shape | None = None,
             batch_size: int = EVAL_BATCH) -> Evaluation:
    """Run ``model`` over ``data`` (in eval mode, on the model's device) and keep its predictions."""
    probs = predict_probs(model, data.images, stats, input_shape, batch_size)
    if len(data) and probs.shape[1] != len(data.classes):
        raise ValueError(f"the network gives {probs.shape[1]} scores but the data has {len(data.classes)} classes")
    return Evaluation(tuple(data.classes), data.labels.clone(), probs)


def _input_shape(model: nn.Module, input_shape: Shape | None) -> Shape:
    if input_shape is not None:
        return tuple(input_shape)
    spec = getattr(model, "spec", None)
    if spec is None:
        raise ValueError("give input_shape: the model has no spec to read it from")
    return tuple(spec.input)

