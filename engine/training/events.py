"""What the training loop tells the world: typed events, typed no-op callback hooks, and the result of a fit.

Hooks after Lightning's ``Callback`` and fastai's ``Callback`` (typed no-ops a subclass overrides); ``StopTraining`` is
fastai's ``CancelFitException``: raised from a hook, it stops the fit cleanly. Callbacks that hold state (early
stopping, the best checkpoint: ``engine.training.callbacks``) give it with ``state_dict`` and take it back with
``load_state_dict``: the loop saves it in every checkpoint under the callback's ``state_key`` and gives it back when
the run is resumed with a callback of the same key, as Lightning does.

Every epoch's numbers are kept per split as a mapping from metric name to value: ``"loss"`` and the task's metrics
(``{"loss": 0.31, "accuracy": 0.912}``), for any task.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.data import Normalization
from engine.nets.build import Network
from engine.training.tasks import Metric, Task


@dataclass(frozen=True)
class FitStart:
    """What ``on_fit_start`` gets: the run about to train (``start_epoch`` > 0 when resuming), its task, and the
    network being trained (on its device; a callback may read its weights, e.g. to keep the best ones)."""

    run_id: str | None
    device: str
    epochs: int
    start_epoch: int
    batches: int  # training batches per epoch
    notes: tuple[str, ...]  # what was adapted (input resizing, channels), from ``check_fit``
    task: Task | None = None
    model: Network | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class BatchEvent:
    """After a training batch. ``epoch`` and ``batch`` count from 1; ``loss`` is that batch's (mean) loss;
    ``images_per_second`` the epoch's training throughput so far; ``eta_s`` the training time left in the run."""

    epoch: int
    batch: int
    batches: int
    loss: float
    images_per_second: float
    eta_s: float
    lr: float


@dataclass(frozen=True)
class EpochEvent:
    """After an epoch, with its validation. ``train`` and ``val`` map metric names to values: ``"loss"`` (the task's
    loss, mean per image) and each of the task's metrics; ``train`` over the epoch's (augmented) batches as they were
    trained, ``val`` on the validation set (NaN for an empty one). ``images_per_second`` is training throughput;
    ``data_wait_fraction`` the part of the training time the loop spent waiting for the next batch (host side);
    ``lr`` the learning rate the epoch started with."""

    epoch: int
    train: Mapping[str, float]
    val: Mapping[str, float]
    seconds: float
    images_per_second: float
    data_wait_fraction: float
    lr: float

    @property
    def train_loss(self) -> float:
        return self.train["loss"]

    @property
    def val_loss(self) -> float:
        return self.val["loss"]

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["train"], d["val"] = dict(self.train), dict(self.val)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EpochEvent:
        """From ``to_dict``'s form (the run store migrates older layouts before this sees them)."""
        values = {f.name: data[f.name] for f in dataclasses.fields(cls)}
        values["train"], values["val"] = dict(values["train"]), dict(values["val"])
        return cls(**values)


def best_epoch(history: Sequence[EpochEvent | Mapping[str, Any]], metric: Metric) -> tuple[float | None, int | None]:
    """The best validation value of ``metric`` in ``history`` and its epoch (NaN epochs skipped); (None, None) when
    there is none. Ties: the earliest."""
    best, at = None, None
    for e in history:
        val = e["val"] if isinstance(e, Mapping) else e.val
        value = val.get(metric.name)
        if value is not None and metric.better(value, best):
            best, at = float(value), int(e["epoch"] if isinstance(e, Mapping) else e.epoch)
    return best, at


@dataclass
class FitResult:
    """What ``fit`` returns. ``status``: "finished", "stopped" (by the stop event or a callback; resumable) or
    "failed" (``reason`` says why: a non-finite loss, out of memory). ``model`` is the trained network, in eval mode,
    on the device it trained on; ``history`` holds every epoch of the run (earlier ones too when resumed); ``task``
    is what it learned."""

    status: str
    reason: str
    history: list[EpochEvent]
    model: Network
    run_id: str | None
    device: str
    task: Task
    notes: list[str] = field(default_factory=list)
    stats: Normalization | None = None  # what the inputs were normalised with
    images_per_second: float = 0.0  # training throughput over this call's epochs

    @property
    def stopped(self) -> bool:
        return self.status == "stopped"

    @property
    def epochs(self) -> int:
        return len(self.history)

    @property
    def metric(self) -> Metric:
        """The task's primary metric."""
        return self.task.primary_metric

    @property
    def last(self) -> float | None:
        """The primary metric on the validation set after the last epoch."""
        return self.history[-1].val.get(self.metric.name) if self.history else None

    @property
    def best(self) -> float | None:
        """The best validation value of the primary metric over the run's epochs."""
        return best_epoch(self.history, self.metric)[0]

    def to_dict(self) -> dict[str, Any]:
        """Everything but the model, JSON-ready."""
        best, at = best_epoch(self.history, self.metric)
        return {
            "status": self.status, "reason": self.reason, "run_id": self.run_id, "device": self.device,
            "task": self.task.to_dict(), "epochs": self.epochs,
            "val": dict(self.history[-1].val) if self.history else {},
            "best": {"metric": self.metric.name, "value": best, "epoch": at,
                     "higher_is_better": self.metric.higher_is_better},
            "images_per_second": self.images_per_second, "notes": list(self.notes),
            "history": [e.to_dict() for e in self.history],
        }


class StopTraining(Exception):  # noqa: N818 - a control-flow signal, named like fastai's CancelFitException
    """Raise from a callback hook to stop the fit cleanly (after the current batch); the message becomes the
    reason."""


class Callback:
    """Override the hooks you need; each is a no-op here. Hooks run on the training thread; raising
    ``StopTraining`` from one stops the fit cleanly, any other exception fails the run and propagates.
    A callback with state to keep through a resume overrides ``state_dict`` (return a non-empty dict of numbers,
    strings, lists, dicts and tensors) and ``load_state_dict``; ``state_key`` tells callbacks apart."""

    def on_fit_start(self, start: FitStart) -> None:
        """Before the first batch (and before ``load_state_dict`` when resuming)."""

    def on_batch_end(self, event: BatchEvent) -> None:
        """After each training batch. On a GPU the events of a few batches arrive together (the loop reads the
        device about every 0.2 s)."""

    def on_epoch_end(self, event: EpochEvent) -> None:
        """After each epoch's validation, before the epoch's checkpoint is written."""

    def on_fit_end(self, result: FitResult) -> None:
        """Once, whatever the outcome (not when an unexpected exception propagates)."""

    @property
    def state_key(self) -> str:
        return type(self).__qualname__

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take back what ``state_dict`` gave."""


class History(Callback):
    """Keeps every event: handy in tests and notebooks."""

    def __init__(self) -> None:
        self.batches: list[BatchEvent] = []
        self.epochs: list[EpochEvent] = []
        self.start: FitStart | None = None
        self.result: FitResult | None = None

    def on_fit_start(self, start: FitStart) -> None:
        self.start = start

    def on_batch_end(self, event: BatchEvent) -> None:
        self.batches.append(event)

    def on_epoch_end(self, event: EpochEvent) -> None:
        self.epochs.append(event)

    def on_fit_end(self, result: FitResult) -> None:
        self.result = result
