"""Training: ``fit(model or spec, data, config)`` with callbacks, a clean stop, checkpoints and resume.

The loop is the plain PyTorch one (forward, cross-entropy, backward, step) with what a course needs around it:

- progress through ``Callback`` hooks — typed no-ops a subclass overrides, after Lightning's ``Callback`` and
  fastai's ``Callback`` — per batch (``BatchEvent``) and per epoch (``EpochEvent``);
- a clean stop between batches: a ``threading.Event`` or a callback raising ``StopTraining`` (fastai's
  ``CancelFitException``); the run keeps its checkpoint and can be resumed where it stopped;
- a non-finite loss stops the run with the reason; running out of GPU memory says so, with a suggestion;
- a run store (``engine.training.runs``) that keeps every run's config, spec, history and checkpoint.

Per-batch work is kept off the host: losses and correct counts stay on the device and are read back every few
batches (every batch on the CPU, where reading is free), so a GPU is never made to wait on Python.

Optimisers: SGD with momentum; Adam (Kingma & Ba, 2015); AdamW (Loshchilov & Hutter, "Decoupled Weight Decay
Regularization", 2019). Schedules: step decay; cosine annealing (Loshchilov & Hutter, "SGDR", 2017); one-cycle
(Smith & Topin, "Super-Convergence", 2018). Label smoothing: Szegedy et al., "Rethinking the Inception
Architecture" (2016). Mixed precision: Micikevicius et al., "Mixed Precision Training" (2018).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.data import AugmentConfig, DatasetCard, LoadedData, Normalization, channel_stats, make_loader
from engine.device import CHOICES as DEVICE_CHOICES
from engine.device import amp_dtype, describe, resolve
from engine.nets.build import Network, build
from engine.nets.spec import Flatten, Linear, NetworkSpec, parse_spec
from engine.nets.summary import summary
from engine.training.runs import RunStore, load_state_dict
from engine.units import format_shape

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
STATUSES = ("finished", "stopped", "failed")
SYNC_SECONDS = 0.2  # read losses back from the device about this often (and at least every MAX_SYNC_EVERY batches)
MAX_SYNC_EVERY = 64


# --------------------------------------------------------------------------------------------------- config


@dataclass(frozen=True)
class TrainConfig:
    """How to train. ``lr`` is the peak learning rate for "onecycle"; ``step_size`` (epochs) and ``gamma`` are the
    "step" schedule's; ``momentum`` is SGD's. ``amp`` (mixed precision) applies on CUDA only."""

    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    schedule: str = "constant"
    step_size: int = 5
    gamma: float = 0.1
    batch_size: int = 64
    epochs: int = 5
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    augment: AugmentConfig | None = None
    num_workers: int = 0

    def __post_init__(self) -> None:
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("device", self.device, DEVICE_CHOICES)
        _number("lr", self.lr, low=0.0, low_open=True)
        _number("momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        _number("gamma", self.gamma, low=0.0, low_open=True)
        _number("weight_decay", self.weight_decay, low=0.0)
        _number("label_smoothing", self.label_smoothing, low=0.0, high=1.0, high_open=True)
        _integer("step_size", self.step_size, 1)
        _integer("batch_size", self.batch_size, 1)
        _integer("epochs", self.epochs, 1)
        _integer("seed", self.seed, 0)
        _integer("num_workers", self.num_workers, 0)
        if not isinstance(self.amp, bool):
            raise ValueError(f"amp must be true or false, got {self.amp!r}")
        if self.augment is not None and not isinstance(self.augment, AugmentConfig):
            raise ValueError(f"augment must be an AugmentConfig or None, got {type(self.augment).__name__}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["augment"] = asdict(self.augment) if self.augment is not None else None
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
        return cls(**values)


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


# --------------------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class FitStart:
    """What ``on_fit_start`` gets: the run about to train (``start_epoch`` > 0 when resuming)."""

    run_id: str | None
    device: str
    epochs: int
    start_epoch: int
    batches: int  # training batches per epoch
    notes: tuple[str, ...]  # what was adapted (input resizing, channels), from ``check_fit``


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
    """After an epoch, with its validation. Losses are the mean cross-entropy (with the config's label smoothing);
    accuracies in [0, 1]; ``train_*`` over the epoch's (augmented) batches as they were trained;
    ``images_per_second`` is training throughput; ``data_wait_fraction`` the part of the training time the loop spent
    waiting for the next batch (host side); ``lr`` the learning rate the epoch started with."""

    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    seconds: float
    images_per_second: float
    data_wait_fraction: float
    lr: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EpochEvent:
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})


@dataclass
class FitResult:
    """What ``fit`` returns. ``status``: "finished", "stopped" (by the stop event or a callback; resumable) or
    "failed" (``reason`` says why: a non-finite loss, out of memory). ``model`` is the trained network, in eval mode,
    on the device it trained on; ``history`` holds every epoch of the run (earlier ones too when resumed)."""

    status: str
    reason: str
    history: list[EpochEvent]
    model: Network
    run_id: str | None
    device: str
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
    def val_acc(self) -> float | None:
        return self.history[-1].val_acc if self.history else None

    @property
    def best_val_acc(self) -> float | None:
        return _best(self.history)

    def to_dict(self) -> dict[str, Any]:
        """Everything but the model, JSON-ready."""
        return {
            "status": self.status, "reason": self.reason, "run_id": self.run_id, "device": self.device,
            "epochs": self.epochs, "val_accuracy": self.val_acc, "best_val_accuracy": self.best_val_acc,
            "images_per_second": self.images_per_second, "notes": list(self.notes),
            "history": [e.to_dict() for e in self.history],
        }


def _best(history: Sequence[EpochEvent]) -> float | None:
    accs = [e.val_acc for e in history if not math.isnan(e.val_acc)]
    return max(accs) if accs else None


class StopTraining(Exception):  # noqa: N818 - a control-flow signal, named like fastai's CancelFitException
    """Raise from a callback hook to stop the fit cleanly (after the current batch); the message becomes the
    reason."""


class Callback:
    """Override the hooks you need; each is a no-op here. Hooks run on the training thread; raising
    ``StopTraining`` from one stops the fit cleanly, any other exception fails the run and propagates."""

    def on_fit_start(self, start: FitStart) -> None:
        """Before the first batch."""

    def on_batch_end(self, event: BatchEvent) -> None:
        """After each training batch. On a GPU the events of a few batches arrive together (see ``SYNC_SECONDS``)."""

    def on_epoch_end(self, event: EpochEvent) -> None:
        """After each epoch's validation."""

    def on_fit_end(self, result: FitResult) -> None:
        """Once, whatever the outcome (not when an unexpected exception propagates)."""


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


# --------------------------------------------------------------------------------------------------- fitting a spec


def input_notes(spec: NetworkSpec, card: DatasetCard) -> list[str]:
    """What the loader does to make ``card``'s images fit ``spec``'s input (``engine.data.adapt_batch``): resizing,
    channel conversion. Empty when the images fit as they are."""
    notes = []
    if len(spec.input) != 3:
        return notes
    (c, h, w), (nc, nh, nw) = card.image_shape, spec.input
    if (h, w) != (nh, nw):
        notes.append(f"input: {card.title} images are {h}×{w}; they are resized to {nh}×{nw} for the network's "
                     f"input")
    if c != nc:
        how = "gray repeated to 3 channels" if nc == 3 else "turned to gray (0.299 R + 0.587 G + 0.114 B)"
        notes.append(f"input: {card.title} images have {c} channel{'s' * (c > 1)}, the network takes {nc}: {how}")
    return notes


def fit_problems(spec: NetworkSpec | dict | str, card: DatasetCard) -> list[str]:
    """What must change before ``spec`` can train on ``card``'s data (empty when nothing): an invalid layer, an
    input that is not an image, an output that is not one score per class (``fit_head`` fixes that)."""
    spec = parse_spec(spec)
    if len(spec.input) != 3:
        return [f"input: the network takes a {format_shape(spec.input)} input; images need C×H×W (e.g. "
                f"{format_shape(card.image_shape)})"]
    if spec.input[0] not in (1, 3):
        return [f"input: the network takes {spec.input[0]} channels; images can be given as 1 (gray) or 3 (RGB) — "
                f"set the builder's input channels to {card.image_shape[0]}"]
    result = summary(spec)
    if result.errors:
        return list(result.errors)
    out, k = result.output_shape, card.num_classes
    if out is None or len(out) != 1:
        shape = format_shape(out or ())
        return [f"output: the network ends with a {shape} volume, not one score per class; end it with a flatten and "
                f"a linear layer of {k} outputs (fit_head does this)"]
    if out[0] != k:
        return [f"output: the network gives {out[0]} scores but {card.title} has {k} classes; set the last linear "
                f"layer's out_features to {k} (fit_head does this)"]
    return []


def check_fit(spec: NetworkSpec | dict | str, card: DatasetCard) -> list[str]:
    """Every message about fitting ``spec`` to ``card``'s data: what is adapted automatically (``input_notes``),
    then what must be fixed (``fit_problems``)."""
    spec = parse_spec(spec)
    return [*input_notes(spec, card), *fit_problems(spec, card)]


def fit_head(spec: NetworkSpec | dict | str, num_classes: int) -> NetworkSpec:
    """``spec`` with one output per class: the last top-level linear layer's ``out_features`` set to
    ``num_classes``, or — when there is no linear layer — a flatten (if needed) and a linear layer appended."""
    _integer("num_classes", num_classes, 1)
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


# --------------------------------------------------------------------------------------------------- fit


def fit(model_or_spec: Network | NetworkSpec | dict | str | None, data: LoadedData, config: TrainConfig | None = None,
        *, callbacks: Sequence[Callback] = (), stop: threading.Event | None = None, store: RunStore | None = None,
        run_id: str | None = None, init_from: str | Path | Mapping[str, torch.Tensor] | None = None,
        name: str | None = None) -> FitResult:
    """Train a classifier on ``data`` and return the result (``FitResult``).

    ``model_or_spec``: a ``Network`` (trained in place) or a spec (built, initialised from ``config.seed``). Its input
    may differ from the images' (they are resized and their channels converted by the loader: see ``check_fit``),
    but its output must be one score per class (``fit_head``), else ``ValueError``.
    ``store``: keep the run there (config, spec, history per epoch, a checkpoint after every epoch and on a stop).
    ``run_id`` (with ``store``): resume that run from its checkpoint — epochs go on counting, the history grows, the
    optimizer, schedule and random state are restored; ``model_or_spec`` may then be None, ``config`` None (the
    run's) or the run's with more ``epochs`` (or another device / number of workers).
    ``init_from``: start from these weights (a run id in ``store``, a weights file, or a state dict); tensors whose
    name and shape match are copied, the others keep their fresh values (the notes say which).
    ``stop``: set it (from any thread) to stop after the current batch. Same seed, same data, same device (CPU) ->
    the same weights (``fit`` seeds torch's global generator with ``config.seed``, as Lightning's ``seed_everything``
    does). Runs in the calling thread; two fits in two threads (two sessions) share nothing but that generator.
    """
    job = _Job.prepare(model_or_spec, data, config, store, run_id, init_from, name)
    return job.run(list(callbacks), stop)


@dataclass
class _Progress:
    """Where the run is: epochs finished, batches done in the current one and their running sums."""

    epoch: int = 0
    batch: int = 0
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    wait: float = 0.0
    seconds: float = 0.0
    lr: float | None = None  # the current epoch's starting learning rate, once it started

    def next_epoch(self) -> None:
        """Count the current epoch as finished and zero the per-epoch sums."""
        self.epoch, self.batch, self.lr = self.epoch + 1, 0, None
        self.loss_sum, self.correct, self.seen, self.wait, self.seconds = 0.0, 0, 0, 0.0, 0.0


@dataclass
class _Tally:
    """Images trained and training seconds in this call (for its throughput)."""

    images: int = 0
    seconds: float = 0.0

    def __iadd__(self, other: tuple[int, float]) -> _Tally:
        self.images += other[0]
        self.seconds += other[1]
        return self


class _Clock:
    """An epoch's training time: the seconds before this call (a resumed epoch) plus the time since it started."""

    def __init__(self, batch: int, seconds_before: float):
        self.start = time.perf_counter()
        self.batch0, self.before, self.images = batch, seconds_before, 0

    def tick(self, batch: int, images: int) -> tuple[float, float]:
        """After ``images`` more images (now at ``batch``): (seconds per batch, images per second) in this call."""
        self.images += images
        elapsed = self.elapsed()
        return elapsed / max(batch - self.batch0, 1), self.images / max(elapsed, 1e-9)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def seconds(self) -> float:
        return self.before + self.elapsed()


class _Chunk:
    """The batches trained since the last read from the device: their losses, logits and labels are kept as tensor
    references (appending costs no device work), and read back together in ``read``."""

    def __init__(self) -> None:
        self.losses: list[torch.Tensor] = []
        self.logits: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []
        self.sizes: list[int] = []
        self.lrs: list[float] = []

    def __len__(self) -> int:
        return len(self.sizes)

    def add(self, loss: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor, lr: float) -> None:
        self.losses.append(loss.detach())
        self.logits.append(logits.detach())
        self.labels.append(labels)
        self.sizes.append(int(labels.shape[0]))
        self.lrs.append(lr)

    def read(self) -> tuple[list[float], int]:
        """(each batch's loss, the number of correct predictions in all of them); waits for the device."""
        with torch.no_grad():
            losses = torch.stack(self.losses).float().tolist()
            correct = int((torch.cat(self.logits).argmax(1) == torch.cat(self.labels)).sum())
        return losses, correct


class _Failed(Exception):
    """Ends the loop with status "failed" and this reason."""


class _Stopped(Exception):
    """Ends the loop with status "stopped" and this reason."""


# Weight initialisation draws from torch's global generator, shared by every thread of the process: seeding and
# building under one lock keeps each job's initial weights a function of its seed while other jobs train. (Dropout
# during training still draws from that generator, so concurrent runs' dropout masks interleave.)
_SEEDED_INIT = threading.Lock()


@dataclass
class _Job:
    model: Network
    data: LoadedData
    config: TrainConfig
    device: torch.device
    store: RunStore | None
    run_id: str | None
    notes: list[str]
    stats: Normalization
    history: list[EpochEvent]
    progress: _Progress
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    scaler: torch.amp.GradScaler | None
    amp: torch.dtype | None
    batches: int
    drop_last: bool
    trained: _Tally = field(default_factory=_Tally)
    val_loader: torch.utils.data.DataLoader | None = None

    # ------------------------------------------------------------------------------------------- setting up

    @classmethod
    def prepare(cls, model_or_spec: Any, data: LoadedData, config: TrainConfig | None, store: RunStore | None,
                run_id: str | None, init_from: Any, name: str | None) -> _Job:
        if not isinstance(data, LoadedData):
            raise ValueError(f"data must be a LoadedData (engine.data.load_dataset), got {type(data).__name__}")
        if len(data.train) == 0:
            raise ValueError(f"{data.card.title} has no training images")
        checkpoint = None
        if run_id is not None:
            if store is None:
                raise ValueError("resuming a run (run_id) needs the store that holds it (store=...)")
            run = store.get(run_id)
            stored = TrainConfig.from_dict(run.config["train"])
            config = _resume_config(stored, config, run.history, run_id)
            if run.config["dataset"]["name"] != data.card.name:
                raise ValueError(f"run {run_id!r} trained on {run.config['dataset']['name']!r}, not on "
                                 f"{data.card.name!r}; resume it with the same data")
            model = _resume_model(model_or_spec, run.spec, run_id)
            checkpoint = store.load_checkpoint(run_id)
        else:
            config = config if config is not None else TrainConfig()
            if not isinstance(config, TrainConfig):
                raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
            with _SEEDED_INIT:  # another job's thread must not draw from the generator between the seed and the init
                torch.manual_seed(config.seed)
                model = _as_model(model_or_spec)
        problems = fit_problems(model.spec, data.card)
        if problems:
            raise ValueError("the network does not fit the data:\n" + "\n".join(problems))
        notes = input_notes(model.spec, data.card)
        device = resolve(config.device)
        dtype = amp_dtype(device) if config.amp else None
        if config.amp and dtype is None:
            notes.append(f"mixed precision is for CUDA; training in float32 on {device.type}")
        if init_from is not None and checkpoint is None:
            notes.append(_init_weights(model, init_from, store))
        torch.manual_seed(config.seed)
        if checkpoint is not None:
            _freeze_names(model, checkpoint.state["frozen"])
            model.load_state_dict(checkpoint.model)
        model.to(device)
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("every parameter of the network is frozen: there is nothing to train")
        n, bs = len(data.train), config.batch_size
        drop_last = n % bs == 1 and n > 1  # a last batch of one sample breaks batch norm's training statistics
        batches = n // bs if drop_last else math.ceil(n / bs)
        optimizer = _optimizer(config, params, device)
        scheduler = _scheduler(config, optimizer, batches)
        scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
        stats = channel_stats(data.train, channels=model.spec.input[0])  # after the loader's channel conversion
        job = cls(model, data, config, device, store, run_id, notes, stats, [], _Progress(), optimizer,
                  scheduler, scaler, dtype, batches, drop_last)
        if checkpoint is not None:
            job._restore(checkpoint.state, store.get(run_id).history)
        elif store is not None:
            job.run_id = store.create(model.spec, job._run_config(init_from), dataset=data.card.name,
                                      device=describe(device), name=name)
        return job

    def _run_config(self, init_from: Any) -> dict[str, Any]:
        card = self.data.card
        return {
            "train": self.config.to_dict(),
            "dataset": {"name": card.name, "title": card.title, "classes": list(card.classes),
                        "image_shape": list(card.image_shape), "train_size": len(self.data.train),
                        "val_size": len(self.data.val)},
            "input_shape": list(self.model.spec.input),
            "stats": self.stats.to_dict(),
            "notes": list(self.notes),
            "init_from": _describe_source(init_from),
        }

    def _restore(self, state: dict[str, Any], history: list[dict[str, Any]]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"])
        self.history = [EpochEvent.from_dict(e) for e in history]
        self.progress = _Progress(**state["progress"])
        if self.store is not None:  # a resumed run may train on another device, for more epochs
            self.store.write_config(self.run_id, {**self.store.get(self.run_id).config, "train": self.config.to_dict()})
            self.store.update(self.run_id, status="running", device=describe(self.device))

    # ------------------------------------------------------------------------------------------- the loop

    def run(self, callbacks: list[Callback], stop: threading.Event | None) -> FitResult:
        status, reason = "finished", ""
        try:
            start = FitStart(self.run_id, describe(self.device), self.config.epochs, self.progress.epoch,
                             self.batches, tuple(self.notes))
            try:
                for cb in callbacks:
                    cb.on_fit_start(start)
                while self.progress.epoch < self.config.epochs:
                    self._train_epoch(callbacks, stop)
                    event = self._end_epoch()
                    for cb in callbacks:
                        cb.on_epoch_end(event)
                    if stop is not None and stop.is_set() and self.progress.epoch < self.config.epochs:
                        raise _Stopped("stopped by the user")
            except StopTraining as e:
                raise _Stopped(str(e) or "stopped by a callback") from None
        except _Stopped as e:
            status, reason = "stopped", str(e)
            self._save_checkpoint()
        except _Failed as e:
            status, reason = "failed", str(e)
        except torch.OutOfMemoryError:
            status, reason = "failed", self._out_of_memory()
        except BaseException:
            if self.store is not None and self.run_id is not None:
                self.store.update(self.run_id, status="failed")
            raise
        if self.store is not None and self.run_id is not None:
            self.store.update(self.run_id, status=status, epochs=len(self.history), best_val_acc=_best(self.history))
        self.model.eval()
        images, seconds = self.trained.images, self.trained.seconds
        result = FitResult(status, reason, list(self.history), self.model, self.run_id, describe(self.device),
                           list(self.notes), self.stats,
                           images_per_second=images / seconds if seconds else 0.0)
        for cb in callbacks:
            cb.on_fit_end(result)
        return result

    def _loader(self, epoch: int) -> torch.utils.data.DataLoader:
        """Epoch ``epoch``'s training batches: shuffled by (seed, epoch), so a resumed epoch replays its order."""
        return make_loader(self.data.train, self.model.spec.input, batch_size=self.config.batch_size, shuffle=True,
                           seed=self.config.seed * 1_000_003 + epoch, augment=self.config.augment, stats=self.stats,
                           num_workers=self.config.num_workers, drop_last=self.drop_last,
                           pin_memory=self.device.type == "cuda")

    def _train_epoch(self, callbacks: list[Callback], stop: threading.Event | None) -> None:
        """One epoch's training batches, from where a resumed run left off. Raises ``_Stopped`` on a stop, with the
        progress counted up to the last batch trained."""
        p, device, model, optimizer = self.progress, self.device, self.model, self.optimizer
        criterion = nn.CrossEntropyLoss(label_smoothing=self.config.label_smoothing)
        non_blocking = device.type == "cuda"
        onecycle = self.scheduler if self.config.schedule == "onecycle" else None
        _train_mode(model)
        if p.lr is None:
            p.lr = optimizer.param_groups[0]["lr"]
        batches = iter(self._loader(p.epoch))
        for _ in range(p.batch):  # a resumed epoch: skip the batches it trained on before the stop
            next(batches)
        clock = _Clock(p.batch, p.seconds)
        every = 1  # batches between reads from the device; on a GPU it grows to about SYNC_SECONDS' worth
        chunk = _Chunk()
        try:
            while True:
                t = time.perf_counter()
                try:
                    x, y = next(batches)
                except StopIteration:
                    break
                p.wait += time.perf_counter() - t
                x = x.to(device, non_blocking=non_blocking)  # (B, C, H, W) float32, normalised
                y = y.to(device, non_blocking=non_blocking)  # (B,) int64
                with self._autocast():
                    logits = model(x)  # (B, num_classes)
                    loss = criterion(logits, y)
                optimizer.zero_grad(set_to_none=True)
                if self.scaler is not None:
                    self.scaler.scale(loss).backward()
                    self.scaler.step(optimizer)
                    self.scaler.update()
                else:
                    loss.backward()
                    optimizer.step()
                chunk.add(loss, logits, y, optimizer.param_groups[0]["lr"])  # references only: no device work
                if onecycle is not None:
                    onecycle.step()
                if len(chunk) >= every or (stop is not None and stop.is_set()):
                    per_batch = self._sync(chunk, callbacks, clock)
                    if device.type != "cpu":
                        every = max(1, min(MAX_SYNC_EVERY, int(SYNC_SECONDS / max(per_batch, 1e-6))))
                    chunk = _Chunk()
                if stop is not None and stop.is_set():  # set before this batch, or by a callback just now
                    if len(chunk):
                        self._sync(chunk, callbacks, clock)
                    raise _Stopped("stopped by the user")
            if len(chunk):
                self._sync(chunk, callbacks, clock)
        finally:
            p.seconds = clock.seconds()
            self.trained += (clock.images, clock.elapsed())

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp)

    def _sync(self, chunk: _Chunk, callbacks: list[Callback], clock: _Clock) -> float:
        """Read a chunk's batch losses and correct counts back from the device (the only place the loop waits for
        it), check them, count them, and send their ``BatchEvent``s. Returns the seconds per batch so far."""
        p = self.progress
        values, correct = chunk.read()
        for i, value in enumerate(values):
            if not math.isfinite(value):
                raise _Failed(f"loss became {'nan' if math.isnan(value) else 'inf'} at epoch {p.epoch + 1} batch "
                              f"{p.batch + i + 1} — try a lower learning rate")
        first = p.batch
        p.loss_sum += sum(value * n for value, n in zip(values, chunk.sizes, strict=True))
        p.seen += sum(chunk.sizes)
        p.correct += correct
        p.batch += len(chunk)
        per_batch, rate = clock.tick(p.batch, sum(chunk.sizes))
        left = (self.config.epochs - p.epoch) * self.batches - p.batch
        for i, (value, lr) in enumerate(zip(values, chunk.lrs, strict=True)):
            event = BatchEvent(p.epoch + 1, first + i + 1, self.batches, value, rate, left * per_batch, lr)
            for cb in callbacks:
                cb.on_batch_end(event)
        return per_batch

    def _end_epoch(self) -> EpochEvent:
        p = self.progress
        t = time.perf_counter()
        val_loss, val_acc = self._validate()
        train_seconds = p.seconds
        event = EpochEvent(
            epoch=p.epoch + 1,
            train_loss=p.loss_sum / max(p.seen, 1),
            train_acc=p.correct / max(p.seen, 1),
            val_loss=val_loss,
            val_acc=val_acc,
            seconds=train_seconds + time.perf_counter() - t,
            images_per_second=p.seen / max(train_seconds, 1e-9),
            data_wait_fraction=min(1.0, p.wait / max(train_seconds, 1e-9)),
            lr=p.lr if p.lr is not None else self.optimizer.param_groups[0]["lr"],
        )
        self.history.append(event)
        if self.scheduler is not None and self.config.schedule != "onecycle":
            self.scheduler.step()
        p.next_epoch()
        if self.store is not None and self.run_id is not None:
            self.store.write_history(self.run_id, [e.to_dict() for e in self.history])
            self._save_checkpoint()
            self.store.update(self.run_id, epochs=len(self.history), best_val_acc=_best(self.history))
        return event

    @torch.inference_mode()
    def _validate(self) -> tuple[float, float]:
        """Mean loss and accuracy on the validation set (NaN for an empty one)."""
        if len(self.data.val) == 0:
            return math.nan, math.nan
        self.model.eval()
        if self.val_loader is None:
            self.val_loader = make_loader(self.data.val, self.model.spec.input, shuffle=False, seed=self.config.seed,
                                          batch_size=max(2 * self.config.batch_size, 256), stats=self.stats,
                                          num_workers=self.config.num_workers, pin_memory=self.device.type == "cuda")
        criterion = nn.CrossEntropyLoss(label_smoothing=self.config.label_smoothing, reduction="sum")
        total = torch.zeros((), device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        for x, y in self.val_loader:
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            with self._autocast():
                logits = self.model(x)
            total += criterion(logits.float(), y)
            correct += (logits.argmax(1) == y).sum()
        n = len(self.data.val)
        return float(total) / n, int(correct) / n

    # ------------------------------------------------------------------------------------------- checkpoints

    def _save_checkpoint(self) -> None:
        if self.store is None or self.run_id is None:
            return
        state = {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": torch.get_rng_state(),
            "progress": asdict(self.progress),
            "frozen": [n for n, p in self.model.named_parameters() if not p.requires_grad],
        }
        self.store.save_checkpoint(self.run_id, self.model.state_dict(), state)

    def _out_of_memory(self) -> str:
        bs = self.config.batch_size
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        smaller = f"a smaller batch size (e.g. {max(1, bs // 2)})" if bs > 1 else "a smaller input size"
        amp = "" if self.config.amp or self.device.type != "cuda" else ", or mixed precision"
        return (f"out of {self.device.type} memory at epoch {self.progress.epoch + 1} with batch size {bs} — try "
                f"{smaller}, a smaller network{amp}")


# --------------------------------------------------------------------------------------------------- helpers


def _as_model(model_or_spec: Any) -> Network:
    if isinstance(model_or_spec, Network):
        return model_or_spec
    if isinstance(model_or_spec, nn.Module):
        raise ValueError(f"fit trains an engine.nets.build.Network (build(spec) returns one), got a "
                         f"{type(model_or_spec).__name__}")
    if model_or_spec is None:
        raise ValueError("give a network or a spec to train (None is only for resuming a run)")
    return build(parse_spec(model_or_spec))


def _resume_model(model_or_spec: Any, spec: NetworkSpec, run_id: str) -> Network:
    if model_or_spec is None:
        return build(spec)
    model = _as_model(model_or_spec)
    if model.spec != spec:
        raise ValueError(f"the network given is not run {run_id!r}'s (its spec differs); pass None to resume with "
                         f"the run's own")
    return model


_RESUMABLE_CHANGES = ("epochs", "device", "num_workers")


def _resume_config(stored: TrainConfig, config: TrainConfig | None, history: list, run_id: str) -> TrainConfig:
    """The config a resumed run trains with: the stored one, with a new number of epochs, device or workers."""
    if config is None:
        config = stored
    changed = [f.name for f in dataclasses.fields(TrainConfig)
               if getattr(config, f.name) != getattr(stored, f.name) and f.name not in _RESUMABLE_CHANGES]
    if changed:
        raise ValueError(f"run {run_id!r} cannot resume with other settings ({', '.join(changed)}); only "
                         f"{', '.join(_RESUMABLE_CHANGES)} may change; start a new run for the rest")
    if config.epochs < stored.epochs and config.epochs <= len(history):
        raise ValueError(f"run {run_id!r} has already trained {len(history)} epochs; ask for more than that")
    if config.epochs > stored.epochs and stored.schedule in ("cosine", "onecycle"):
        raise ValueError(f"run {run_id!r}'s {stored.schedule} schedule is planned over {stored.epochs} epochs and "
                         f"cannot be extended; start a new run (init_from={run_id!r}) to train longer")
    if len(history) >= config.epochs:
        raise ValueError(f"run {run_id!r} has finished its {len(history)} epochs; ask for more epochs to continue it")
    return config


def _optimizer(config: TrainConfig, params: list[nn.Parameter], device: torch.device) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=config.lr, weight_decay=config.weight_decay, fused=device.type == "cuda" or None)


def _scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer,
               batches: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Torch's own schedulers: "step" and "cosine" step once per epoch, "onecycle" once per batch."""
    if config.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma)
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=config.epochs * batches)
    return None


def _train_mode(model: nn.Module) -> None:
    """Training mode, except batch norms whose parameters are all frozen: they keep their running statistics
    (transfer learning freezes a backbone's batch norm too)."""
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            params = list(m.parameters(recurse=False))
            if params and not any(p.requires_grad for p in params):
                m.eval()


def _freeze_names(model: nn.Module, names: Sequence[str]) -> None:
    frozen = set(names)
    for n, p in model.named_parameters():
        p.requires_grad_(n not in frozen)


def _init_weights(model: Network, source: Any, store: RunStore | None) -> str:
    """Copy the tensors of ``source`` whose names and shapes match into ``model``; a note saying what was kept."""
    if isinstance(source, Mapping):
        state, where = dict(source), "the given weights"
    elif isinstance(source, str) and store is not None and not Path(source).suffix:
        state, where = store.load_checkpoint(source).model, f"run {source!r}"
    else:
        state, where = load_state_dict(source), str(source)
    own = model.state_dict()
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise ValueError(f"none of the tensors of {where} fit this network (names or shapes differ)")
    model.load_state_dict(matched, strict=False)
    fresh = [k for k in own if k not in matched]
    kept = f"; fresh: {', '.join(fresh[:6])}{' …' if len(fresh) > 6 else ''}" if fresh else ""
    return f"weights: {len(matched)} of {len(own)} tensors from {where}{kept}"


def _describe_source(source: Any) -> str | None:
    if source is None or isinstance(source, str | Path):
        return None if source is None else str(source)
    return "a state dict"
