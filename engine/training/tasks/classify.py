"""Classification: one class per image. The network gives one score (logit) per class; the loss is cross-entropy
(with optional label smoothing: Szegedy et al., "Rethinking the Inception Architecture", 2016); the primary metric
is accuracy; the evaluation views are accuracy, per-class accuracy (recall), the confusion matrix, the most-confused
pairs and the misclassified images; a prediction is the top-k classes with their softmax probabilities.

The confusion matrix's rows are the true classes and its columns the predicted ones (scikit-learn's and torchmetrics'
convention).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from engine.data.targets import ClassIds, Targets
from engine.data.types import DatasetCard
from engine.nets.spec import Flatten, Linear, NetworkSpec, Shape, parse_spec
from engine.nets.summary import summary
from engine.training.tasks.base import Metric, SumMeter, Task, register
from engine.units import format_shape

ACCURACY = Metric("accuracy", "accuracy", higher_is_better=True, percent=True)


@register
@dataclass(frozen=True)
class Classify(Task):
    """``label_smoothing`` in [0, 1): train towards 1 − ε on the true class and ε spread over all classes."""

    label_smoothing: float = 0.0

    name = "classify"
    title = "classification"
    targets = ClassIds.kind
    metrics = (ACCURACY,)
    primary = "accuracy"
    loss_title = "cross-entropy"
    output_name = "logits"

    def __post_init__(self) -> None:
        v = self.label_smoothing
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not 0.0 <= v < 1.0:
            raise ValueError(f"label_smoothing must be a number ≥ 0 and < 1, got {v!r}")

    # --------------------------------------------------------------------------------------------- the output

    def output_shape(self, card: DatasetCard) -> Shape:
        return (card.num_classes,)

    def output_problems(self, output: Shape | None, card: DatasetCard) -> list[str]:
        k = card.num_classes
        if output is None or len(output) != 1:
            return [f"output: the network ends with a {format_shape(output or ())} volume, not one score per class; "
                    f"end it with a flatten and a linear layer of {k} outputs (the one-click fix does this)"]
        if output[0] != k:
            return [f"output: the network gives {output[0]} scores but {card.title} has {k} classes; set the last "
                    f"linear layer's out_features to {k} (the one-click fix does this)"]
        return []

    def fit_output(self, spec: NetworkSpec, card: DatasetCard) -> NetworkSpec:
        return fit_head(spec, card.num_classes)

    def fix_label(self, card: DatasetCard) -> str:
        return f"Set the output to {card.num_classes} classes"

    def fix_note(self, card: DatasetCard) -> str:
        return f"the last linear layer now gives {card.num_classes} outputs, one per class of {card.title}"

    def describe_output(self, classes: tuple[str, ...] | list[str]) -> dict[str, Any]:
        return {"name": self.output_name, "shape": [len(classes)], "classes": list(classes),
                "meaning": "one score (logit) per class, in the order of 'classes'; softmax turns them into "
                           "probabilities, the largest is the prediction"}

    # --------------------------------------------------------------------------------------------- batches

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of ``output`` ``(B, K)`` logits against ``target`` ``(B,)`` int64 class ids."""
        return F.cross_entropy(output, target, label_smoothing=self.label_smoothing)

    def meter(self, device: torch.device | str) -> AccuracyMeter:
        return AccuracyMeter(device)

    # --------------------------------------------------------------------------------------------- after training

    def evaluate(self, outputs: torch.Tensor, targets: Targets) -> Evaluation:
        if not isinstance(targets, ClassIds):
            raise ValueError(f"classification is evaluated on class ids, got {targets.kind}")
        if len(targets) and outputs.shape[1] != len(targets.classes):
            raise ValueError(f"the network gives {outputs.shape[1]} scores but the data has {len(targets.classes)} "
                             f"classes")
        probs = torch.softmax(outputs.float(), 1) if len(targets) else outputs.float()
        return Evaluation(tuple(targets.classes), targets.ids.clone(), probs)

    def decode(self, outputs: torch.Tensor, k: int = 5, side: int | None = None) -> TopK:
        """The top ``k`` classes (capped at the class count): ``TopK`` of ``(B, k)`` tensors."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        probs = torch.softmax(outputs.float(), 1)
        top = probs.topk(min(k, probs.shape[1]), dim=1)
        return TopK(top.values, top.indices)


class AccuracyMeter(SumMeter):
    """Correct predictions (argmax of the logits) and images seen, summed on the device."""

    names = ("correct", "seen")

    def update(self, output: torch.Tensor, target: torch.Tensor) -> None:
        self.sums["correct"] += (output.argmax(1) == target).sum()
        self.sums["seen"] += target.numel()

    def finish(self, values: dict[str, float]) -> dict[str, float]:
        return {"accuracy": values["correct"] / values["seen"] if values["seen"] else math.nan}


def fit_head(spec: NetworkSpec | dict | str, num_classes: int) -> NetworkSpec:
    """``spec`` with one output per class: the last top-level linear layer's ``out_features`` set to
    ``num_classes``, or — when there is no linear layer — a flatten (if needed) and a linear layer appended."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be an integer ≥ 1, got {num_classes!r}")
    spec = parse_spec(spec)
    linear = [i for i, layer in enumerate(spec.layers) if isinstance(layer, Linear)]
    if linear:
        i = linear[-1]
        layers = list(spec.layers)
        layers[i] = dataclasses.replace(layers[i], out_features=num_classes)
        fitted = dataclasses.replace(spec, layers=tuple(layers))
    else:
        out = summary(spec).output_shape
        tail = (Linear(num_classes),) if out is not None and len(out) == 1 else (Flatten(), Linear(num_classes))
        fitted = dataclasses.replace(spec, layers=(*spec.layers, *tail))
    result = summary(fitted)
    if result.errors:
        raise ValueError("the network is invalid, fix it before fitting its head:\n" + "\n".join(result.errors))
    if result.output_shape != (num_classes,):
        fitted = dataclasses.replace(fitted, layers=(*fitted.layers, Flatten(), Linear(num_classes)))
    return fitted


# --------------------------------------------------------------------------------------------------- evaluation


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


@dataclass(frozen=True)
class Evaluation:
    """A classifier's predictions on a labelled set and the views built from them."""

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
    def metrics(self) -> dict[str, float]:
        """The task's metrics on this set (what the loop reports for the validation set)."""
        return {"accuracy": self.accuracy}

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
