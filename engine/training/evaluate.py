"""Running a trained network over images, for any task: its raw outputs, the task's evaluation views of a labelled
set, and decoded predictions (top-k classes for classification).

Images come in as the data sets keep them (``uint8`` ``(N, C, H, W)``, any size and channel count) and are adapted to
the network's input and normalised with the training statistics by ``engine.data.adapt_batch``, exactly as in
training. What the outputs mean is the task's (``engine.training.tasks``: ``Task.evaluate``, ``Task.decode``); the
classification views (accuracy, per class, confusion, most confused, misclassified) are in
``engine.training.tasks.classify``.
"""

from __future__ import annotations

import threading
from typing import Any

import torch
from torch import nn

from engine.data import ImageSet, adapt_batch
from engine.device import model_device
from engine.nets.spec import Shape
from engine.training.tasks import Classify, Task
from engine.training.tasks.classify import Evaluation, TopK

EVAL_BATCH = 256

__all__ = ["EVAL_BATCH", "Evaluation", "EvaluationStopped", "TopK", "evaluate", "outputs", "predict",
           "predict_probs"]


class EvaluationStopped(Exception):
    """``stop`` was set while ``outputs``/``evaluate`` ran: it ended after the batch in progress."""


@torch.inference_mode()
def outputs(model: nn.Module, images: torch.Tensor, stats: Any, input_shape: Shape | None = None,
            batch_size: int = EVAL_BATCH, stop: threading.Event | None = None) -> torch.Tensor:
    """The network's raw outputs ``(N, *output shape)`` float32 (on the CPU) for ``uint8`` images ``(N, C, H, W)``,
    run in eval mode on the model's device (its mode is put back afterwards). ``stop`` set (from any thread) ends it
    after the current batch with ``EvaluationStopped``."""
    input_shape = _input_shape(model, input_shape)
    device = model_device(model)
    training = model.training
    model.eval()
    out = []
    try:
        for i in range(0, len(images), batch_size):
            if stop is not None and stop.is_set():
                raise EvaluationStopped(f"stopped after {i} of {len(images)} images")
            out.append(model(adapt_batch(images[i:i + batch_size], input_shape, stats).to(device)).float().cpu())
    finally:
        model.train(training)
    return torch.cat(out) if out else torch.zeros(0, 0)


def predict_probs(model: nn.Module, images: torch.Tensor, stats: Any, input_shape: Shape | None = None,
                  batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """A classifier's softmax probabilities ``(N, K)`` float32 (on the CPU) for ``uint8`` images ``(N, C, H, W)``."""
    out = outputs(model, images, stats, input_shape, batch_size)
    return torch.softmax(out, 1) if len(out) else out


def predict(model: nn.Module, x: torch.Tensor, stats: Any, input_shape: Shape | None = None, k: int = 5,
            task: Task | None = None) -> Any:
    """``task``'s decoded prediction (default classification: ``TopK`` of ``(B, k)`` tensors, ``k`` capped at the
    class count) for ``uint8`` image(s) ``x`` — ``(C, H, W)`` or ``(B, C, H, W)``, any size: adapted to the
    network's ``input_shape`` (default: the network's spec) and normalised with ``stats`` as in training (``B`` = 1
    for a single image)."""
    if x.dtype != torch.uint8 or x.ndim not in (3, 4):
        raise ValueError(f"x must be a uint8 image (C, H, W) or batch (B, C, H, W), got {x.dtype} "
                         f"{tuple(x.shape)}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    task = task if task is not None else Classify()
    return task.decode(outputs(model, x[None] if x.ndim == 3 else x, stats, input_shape), k)


def evaluate(model: nn.Module, data: ImageSet, stats: Any, input_shape: Shape | None = None,
             batch_size: int = EVAL_BATCH, task: Task | None = None, stop: threading.Event | None = None) -> Any:
    """Run ``model`` over ``data`` (in eval mode, on the model's device) and return ``task``'s evaluation views
    (default classification: an ``Evaluation``). Targets that are positions are compared in the network input's
    pixels, as in training (``Targets.resized``). ``stop``: as in ``outputs``."""
    task = task if task is not None else Classify()
    input_shape = _input_shape(model, input_shape)
    out = outputs(model, data.images, stats, input_shape, batch_size, stop)
    return task.evaluate(out, data.targets.resized(data.image_shape[1:], input_shape[1:]))


def _input_shape(model: nn.Module, input_shape: Shape | None) -> Shape:
    if input_shape is not None:
        return tuple(input_shape)
    spec = getattr(model, "spec", None)
    if spec is None:
        raise ValueError("give input_shape: the model has no spec to read it from")
    return tuple(spec.input)
