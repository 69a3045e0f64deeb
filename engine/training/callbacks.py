"""Callbacks that hold state and carry it through a stop and resume: early stopping and the best epoch's weights.

After Lightning's ``callbacks/early_stopping.py`` (patience on a monitored metric; the decision returned as
``(should_stop, reason)``) and ``callbacks/model_checkpoint.py`` (keep the best weights by a monitored metric). Both
watch the task's primary metric on the validation set by default, in the direction the task says is better; their
``state_dict`` goes into every checkpoint, so a resumed run continues them exactly (pass a callback of the same kind
to the resumed ``fit``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from engine.training.events import Callback, EpochEvent, FitStart, StopTraining
from engine.training.tasks import Metric


class _Monitor(Callback):
    """Watches one validation metric (default: the task's primary one), resolved when the fit starts."""

    def __init__(self, metric: str | None) -> None:
        self.metric_name = metric
        self.metric: Metric | None = None

    def on_fit_start(self, start: FitStart) -> None:
        if start.task is None:
            raise ValueError(f"{type(self).__name__} needs the fit's task to know its metric")
        self.metric = start.task.metric(self.metric_name or start.task.primary)

    def _value(self, event: EpochEvent) -> float:
        assert self.metric is not None, "on_fit_start sets the metric"
        value = event.val.get(self.metric.name, math.nan)
        return float(value) if value is not None else math.nan


class EarlyStopping(_Monitor):
    """Stop (status "stopped", resumable) when the validation metric has not improved by more than ``min_delta``
    for ``patience`` epochs in a row. Epochs without a validation value (an empty validation set) don't count."""

    def __init__(self, patience: int = 3, metric: str | None = None, min_delta: float = 0.0) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be an integer ≥ 1 (epochs), got {patience!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, int | float) or not min_delta >= 0:
            raise ValueError(f"min_delta must be a number ≥ 0, got {min_delta!r}")
        super().__init__(metric)
        self.patience, self.min_delta = patience, float(min_delta)
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0  # epochs since the last improvement

    def check(self, value: float, epoch: int) -> tuple[bool, str]:
        """Count epoch ``epoch``'s ``value``; ``(should_stop, reason)``."""
        assert self.metric is not None
        if math.isnan(value):
            return False, ""
        step = self.min_delta if self.metric.higher_is_better else -self.min_delta
        if self.best is None or self.metric.better(value, self.best + step):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return False, ""
        self.wait += 1
        if self.wait < self.patience:
            return False, ""
        return True, (f"early stopping: the validation {self.metric.title} has not improved for {self.wait} "
                      f"epoch{'s' * (self.wait != 1)} (best {self.metric.format(self.best)} at epoch "
                      f"{self.best_epoch})")

    def on_epoch_end(self, event: EpochEvent) -> None:
        should_stop, reason = self.check(self._value(event), event.epoch)
        if should_stop:
            raise StopTraining(reason)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], int(state["wait"])


class BestCheckpoint(_Monitor):
    """Keep a CPU copy of the weights of the epoch with the best validation metric: ``weights``, ``best``,
    ``epoch``; ``restore(model)`` loads them. The copy is part of the state, so a run's checkpoint then holds two
    sets of weights (the last and the best)."""

    def __init__(self, metric: str | None = None) -> None:
        super().__init__(metric)
        self.model: torch.nn.Module | None = None
        self.best: float | None = None
        self.epoch: int | None = None
        self.weights: dict[str, torch.Tensor] | None = None

    def on_fit_start(self, start: FitStart) -> None:
        super().on_fit_start(start)
        self.model = start.model

    def on_epoch_end(self, event: EpochEvent) -> None:
        assert self.metric is not None and self.model is not None
        value = self._value(event)
        if self.metric.better(value, self.best):
            self.best, self.epoch = value, event.epoch
            self.weights = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}

    def restore(self, model: torch.nn.Module) -> torch.nn.Module:
        """Load the best weights into ``model`` (in place); returns it. ``ValueError`` before any epoch."""
        if self.weights is None:
            raise ValueError("no epoch has finished with a validation value yet: there are no best weights")
        model.load_state_dict(self.weights)
        return model

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "epoch": self.epoch, "weights": self.weights}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best, self.epoch = state["best"], state["epoch"]
        self.weights = dict(state["weights"]) if state["weights"] is not None else None
