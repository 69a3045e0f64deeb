"""How to train: ``TrainConfig``, one frozen dataclass with the optimiser, the schedule, the batches, the device, the
augmentation and the task (``engine.training.tasks``), and the torch optimisers and schedulers it names.

Optimisers: SGD with momentum; Adam (Kingma & Ba, 2015); AdamW (Loshchilov & Hutter, "Decoupled Weight Decay
Regularization", 2019). Schedules: step decay; cosine annealing (Loshchilov & Hutter, "SGDR", 2017); one-cycle
(Smith & Topin, "Super-Convergence", 2018). Mixed precision: Micikevicius et al., "Mixed Precision Training" (2018).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from engine.data import AugmentConfig
from engine.device import CHOICES as DEVICE_CHOICES
from engine.training.tasks import Task, task_from_dict
from engine.units import plural

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
RESUMABLE_CHANGES = ("epochs", "device", "num_workers")  # what may differ when a run is resumed


@dataclass(frozen=True)
class TrainConfig:
    """How to train. ``lr`` is the peak learning rate for "onecycle"; ``step_size`` (epochs) and ``gamma`` are the
    "step" schedule's; ``momentum`` is SGD's. ``amp`` (mixed precision) applies on CUDA only. ``task``: what is
    learned, with its options (``Classify(label_smoothing=0.1)``); None: the data's default task (classification
    for class ids), which ``fit`` fills in and the run stores."""

    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    schedule: str = "constant"
    step_size: int = 5
    gamma: float = 0.1
    batch_size: int = 64
    epochs: int = 5
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    augment: AugmentConfig | None = None
    num_workers: int = 0
    task: Task | None = None

    def __post_init__(self) -> None:
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("device", self.device, DEVICE_CHOICES)
        _number("lr", self.lr, low=0.0, low_open=True)
        _number("momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        _number("gamma", self.gamma, low=0.0, low_open=True)
        _number("weight_decay", self.weight_decay, low=0.0)
        _integer("step_size", self.step_size, 1)
        _integer("batch_size", self.batch_size, 1)
        _integer("epochs", self.epochs, 1)
        _integer("seed", self.seed, 0)
        _integer("num_workers", self.num_workers, 0)
        if not isinstance(self.amp, bool):
            raise ValueError(f"amp must be true or false, got {self.amp!r}")
        if self.augment is not None and not isinstance(self.augment, AugmentConfig):
            raise ValueError(f"augment must be an AugmentConfig or None, got {type(self.augment).__name__}")
        if self.task is not None and not isinstance(self.task, Task):
            raise ValueError(f"task must be an engine.training.tasks.Task (e.g. Classify()) or None, got "
                             f"{type(self.task).__name__}")

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["augment"] = asdict(self.augment) if self.augment is not None else None
        d["task"] = self.task.to_dict() if self.task is not None else None
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown training setting(s) {sorted(unknown)}; valid: {', '.join(sorted(names))}")
        values = dict(data)
        if isinstance(values.get("augment"), Mapping):
            values["augment"] = AugmentConfig(**values["augment"])
        if values.get("task") is not None and not isinstance(values["task"], Task):
            values["task"] = task_from_dict(values["task"])
        return cls(**values)


def resume_config(stored: TrainConfig, config: TrainConfig | None, epochs_done: int, run_id: str) -> TrainConfig:
    """The config a resumed run trains with: the stored one, with a new number of epochs, device or workers
    (``RESUMABLE_CHANGES``); ``ValueError`` naming what else differs or why the epochs do not work."""
    if config is None:
        config = stored
    if config.task is None:
        config = dataclasses.replace(config, task=stored.task)
    changed = [f.name for f in dataclasses.fields(TrainConfig)
               if getattr(config, f.name) != getattr(stored, f.name) and f.name not in RESUMABLE_CHANGES]
    if changed:
        raise ValueError(f"run {run_id!r} cannot resume with other settings ({', '.join(changed)}); only "
                         f"{', '.join(RESUMABLE_CHANGES)} may change; start a new run for the rest")
    if config.epochs < stored.epochs and config.epochs <= epochs_done:
        raise ValueError(f"run {run_id!r} has already trained {plural(epochs_done, 'epoch')}; ask for more than that")
    if config.epochs > stored.epochs and stored.schedule in ("cosine", "onecycle"):
        raise ValueError(f"run {run_id!r}'s {stored.schedule} schedule is planned over "
                         f"{plural(stored.epochs, 'epoch')} and cannot be extended; to train longer, start a new "
                         f"run from its weights (fine-tune it)")
    if epochs_done >= config.epochs:
        raise ValueError(f"run {run_id!r} has finished its {plural(epochs_done, 'epoch')}; ask for more epochs to "
                         f"continue it")
    return config


def make_optimizer(config: TrainConfig, params: list[nn.Parameter], device: torch.device) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=config.lr, weight_decay=config.weight_decay, fused=device.type == "cuda" or None)


def make_scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer,
                   batches: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Torch's own schedulers: "step" and "cosine" step once per epoch, "onecycle" once per batch."""
    if config.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma)
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=config.epochs * batches)
    return None


def _choice(name: str, value: Any, valid: Sequence[str]) -> None:
    if value not in valid:
        raise ValueError(f"{name} must be one of {', '.join(valid)}, got {value!r}")


def _number(name: str, value: Any, low: float | None = None, high: float | None = None, low_open: bool = False,
            high_open: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "" if low is None else f"{'>' if low_open else '≥'} {low:g}"
        hi = "" if high is None else f"{'<' if high_open else '≤'} {high:g}"
        raise ValueError(f"{name} must be a number {' and '.join(s for s in (lo, hi) if s)}, got {value!r}")


def _integer(name: str, value: Any, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an integer ≥ {low}, got {value!r}")
