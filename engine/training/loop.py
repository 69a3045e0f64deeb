"""Training: ``fit(model or spec, data, config)`` — the one loop, for every task (``engine.training.tasks``).

The loop is the plain PyTorch one (forward, the task's loss, backward, step) with what a course needs around it:

- progress through ``Callback`` hooks (``engine.training.events``) per batch and per epoch;
- a clean stop between batches: a ``threading.Event`` or a callback raising ``StopTraining``; the run keeps its
  checkpoint and resumes exactly where it stopped (``engine.training.checkpoint``), callbacks' states included;
- a non-finite loss stops the run with the reason; running out of memory (CUDA's, or the CPU allocator's) says so,
  with a suggestion; a run deleted
  from the store while it trains ends the fit ("failed", ``DELETED``) instead of crashing it;
- the server's limits per job (``engine.training.limits``): too many epochs are refused before anything is built,
  and a fit that reaches the time limit stops like a Stop, resumable;
- mixed precision on CUDA; a run store (``engine.training.runs``) that keeps every run's config, spec, history and
  checkpoint — after every epoch, on a stop, and every ``$CNNPG_CHECKPOINT_SECONDS`` (default 120) within an epoch,
  so a run whose process dies ("interrupted") loses at most that much training.

Per-batch work is kept off the host: the task's metrics accumulate on the device (``Meter.update``) and the losses are
read back every few batches — about every ``SYNC_SECONDS``, every batch on the CPU where reading is free — so a GPU
is never made to wait on Python. What a task adds (its targets, loss, metrics) goes through the same lines for every
task, so stop, resume, AMP and checkpoints work for all of them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.data import LoadedData, Normalization, channel_stats, check_targets, make_loader
from engine.device import amp_dtype, describe, resolve
from engine.nets.build import Network
from engine.training import checkpoint
from engine.training.checkpoint import Generators, Progress
from engine.training.config import TrainConfig, make_optimizer, make_scheduler, resume_config
from engine.training.events import BatchEvent, Callback, EpochEvent, FitResult, FitStart, StopTraining, best_epoch
from engine.training.fitting import fit_problems, input_notes
from engine.training.limits import check_epochs, limit_callbacks
from engine.training.runs import RunError, RunStore
from engine.training.start import as_model, describe_source, freeze_names, init_weights, resume_model, train_mode
from engine.training.tasks import Meter, Task, card_task
from engine.training.timing import Chunk, Clock, Tally

SYNC_SECONDS = 0.2  # read losses back from the device about this often (and at least every MAX_SYNC_EVERY batches)
MAX_SYNC_EVERY = 64
DELETED = "the run was deleted while it trained"
CHECKPOINT_ENV = "CNNPG_CHECKPOINT_SECONDS"
CHECKPOINT_SECONDS = 120.0  # a checkpoint within an epoch at least this often (0: only at epochs' ends and stops)


def checkpoint_seconds() -> float:
    """``$CNNPG_CHECKPOINT_SECONDS``, else ``CHECKPOINT_SECONDS``."""
    raw = os.environ.get(CHECKPOINT_ENV, "").strip()
    try:
        value = float(raw) if raw else CHECKPOINT_SECONDS
    except ValueError:
        raise ValueError(f"{CHECKPOINT_ENV} must be a number of seconds, got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{CHECKPOINT_ENV} must be 0 or more seconds, got {raw!r}")
    return value


def fit(model_or_spec: Network | Any | None, data: LoadedData, config: TrainConfig | None = None, *,
        callbacks: Sequence[Callback] = (), stop: threading.Event | None = None, store: RunStore | None = None,
        run_id: str | None = None, init_from: str | Path | Mapping[str, torch.Tensor] | None = None,
        name: str | None = None, owner: str = "") -> FitResult:
    """Train on ``data`` for ``config.task`` (default: the data's task — classification for class ids) and return
    the result (``FitResult``).

    ``model_or_spec``: a ``Network`` (trained in place) or a spec (built, its weights drawn from ``config.seed``). Its
    input may differ from the images' (they are resized and their channels converted by the loader: see
    ``engine.training.fitting.check_fit``), but its output must be what the task needs (``fit_output`` fixes it),
    else ``ValueError``.
    ``store``: keep the run there (config, spec, history per epoch, a checkpoint after every epoch and on a stop).
    ``run_id`` (with ``store``): resume that run from its checkpoint — epochs go on counting, the history grows, the
    optimizer, schedule, random generators, half-done metrics and callbacks' states are restored; ``model_or_spec``
    may then be None, ``config`` None (the run's) or the run's with more ``epochs`` (or another device / number of
    workers).
    ``init_from``: start from these weights (a run id in ``store``, a weights file, or a state dict); tensors whose
    name and shape match are copied, the others keep their fresh values (the notes say which).
    ``owner``: whose run it is in ``store`` (a browser's anonymous id; "" for nobody's); resuming another owner's
    run is refused (``PermissionError``).
    ``stop``: set it (from any thread) to stop after the current batch. Same seed, same data, same device -> the same
    weights, whatever other fits run in other threads: every random draw comes from the fit's own generators
    (``engine.training.checkpoint``). Runs in the calling thread.
    """
    limited = [*callbacks, *limit_callbacks()]  # before the run is created: a bad setting leaves nothing behind
    return _prepare(model_or_spec, data, config, store, run_id, init_from, name, owner).run(limited, stop)


CPU_OUT_OF_MEMORY = ("DefaultCPUAllocator: can't allocate memory", "DefaultCPUAllocator: not enough memory")


def out_of_memory(e: BaseException) -> bool:
    """Whether ``e`` says an allocation failed: CUDA's ``OutOfMemoryError``, Python's ``MemoryError``, or the CPU
    allocator's ``RuntimeError``."""
    return isinstance(e, (torch.OutOfMemoryError, MemoryError)) or (
        isinstance(e, RuntimeError) and any(m in str(e) for m in CPU_OUT_OF_MEMORY))


class _Failed(Exception):
    """Ends the loop with status "failed" and this reason."""


class _Stopped(Exception):
    """Ends the loop with status "stopped" and this reason."""


class _Deleted(Exception):
    """Ends the loop with status "failed" and ``DELETED``: the run left the store while it trained."""


def _prepare(model_or_spec: Any, data: LoadedData, config: TrainConfig | None, store: RunStore | None,
             run_id: str | None, init_from: Any, name: str | None, owner: str = "") -> _Fit:
    if not isinstance(data, LoadedData):
        raise ValueError(f"data must be a LoadedData (engine.data.load_dataset), got {type(data).__name__}")
    if len(data.train) == 0:
        raise ValueError(f"{data.card.title} has no training images")
    saved = run = None
    if run_id is not None:
        if store is None:
            raise ValueError("resuming a run (run_id) needs the store that holds it (store=...)")
        if owner:  # another owner's run (shared with the class, say) is theirs to resume, not this owner's
            store.check_owner(run_id, owner, "resume")
        run = store.get(run_id)
        stored = TrainConfig.from_dict(run.config["train"])
        config = resume_config(stored, config, len(run.history), run_id)
        check_epochs(config.epochs, done=len(run.history))
        if run.config["dataset"]["name"] != data.card.name:
            raise ValueError(f"run {run_id!r} trained on {run.config['dataset']['name']!r}, not on "
                             f"{data.card.name!r}; resume it with the same data")
        model = resume_model(model_or_spec, run.spec, run_id)
        saved = store.load_checkpoint(run_id)
    else:
        config = config if config is not None else TrainConfig()
        if not isinstance(config, TrainConfig):
            raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
        check_epochs(config.epochs)
        model = as_model(model_or_spec, config.seed)
    if config.task is None:
        config = dataclasses.replace(config, task=card_task(data.card))
    task = config.task
    problems = fit_problems(model.spec, data.card, task)
    if problems:
        raise ValueError("the network does not fit the data:\n" + "\n".join(problems))
    check_targets(config.augment, data.train.targets)
    notes = input_notes(model.spec, data.card)
    device = resolve(config.device)
    dtype = amp_dtype(device) if config.amp else None
    if config.amp and dtype is None:
        notes.append(f"mixed precision is for CUDA; training in float32 on {device.type}")
    if init_from is not None and saved is None:
        notes.append(init_weights(model, init_from, store))
    if saved is not None:
        freeze_names(model, saved.state["frozen"])
        model.load_state_dict(saved.model)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("every parameter of the network is frozen: there is nothing to train")
    n, bs = len(data.train), config.batch_size
    drop_last = n % bs == 1 and n > 1  # a last batch of one sample breaks batch norm's training statistics
    batches = n // bs if drop_last else math.ceil(n / bs)
    optimizer = make_optimizer(config, params, device)
    fit = _Fit(model, data, config, task, device, store, run_id, notes,
               stats=channel_stats(data.train, channels=model.spec.input[0]),  # after the loader's conversion
               generators=Generators(config.seed, device), meter=task.meter(device), optimizer=optimizer,
               scheduler=make_scheduler(config, optimizer, batches),
               scaler=torch.amp.GradScaler(device.type) if dtype == torch.float16 else None,
               amp=dtype, batches=batches, drop_last=drop_last)
    if saved is not None:
        fit.restore(saved.state, run.history)
    fit.notes.extend(fit.generators.notes)
    if saved is None and store is not None:
        fit.run_id = store.create(model.spec, fit.run_config(init_from), dataset=data.card.name, task=task,
                                  device=describe(device), name=name, owner=owner)
    return fit


@dataclass
class _Fit:
    model: Network
    data: LoadedData
    config: TrainConfig
    task: Task
    device: torch.device
    store: RunStore | None
    run_id: str | None
    notes: list[str]
    stats: Normalization
    generators: Generators
    meter: Meter
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    scaler: torch.amp.GradScaler | None
    amp: torch.dtype | None
    batches: int
    drop_last: bool
    history: list[EpochEvent] = field(default_factory=list)
    progress: Progress = field(default_factory=Progress)
    trained: Tally = field(default_factory=Tally)
    saved_callbacks: dict[str, Any] = field(default_factory=dict)  # callbacks' states from the checkpoint resumed
    val_loader: torch.utils.data.DataLoader | None = None
    _saved_at: tuple[int, int] | None = None
    _saved_when: float = field(default_factory=time.monotonic)
    checkpoint_every: float = field(default_factory=checkpoint_seconds)

    # ------------------------------------------------------------------------------------------- the run's record

    def run_config(self, init_from: Any) -> dict[str, Any]:
        card = self.data.card
        return {
            "train": self.config.to_dict(),
            "dataset": {"name": card.name, "title": card.title, "classes": list(card.classes),
                        "image_shape": list(card.image_shape), "train_size": len(self.data.train),
                        "val_size": len(self.data.val), "targets": card.targets,
                        **({"origin": self.data.origin} if self.data.origin is not None else {})},
            "input_shape": list(self.model.spec.input),
            "stats": self.stats.to_dict(),
            "output": self.task.describe_output(card.classes),
            "notes": list(self.notes),
            "init_from": describe_source(init_from),
        }

    def restore(self, state: dict[str, Any], history: list[dict[str, Any]]) -> None:
        self.progress = checkpoint.restore(state, optimizer=self.optimizer, scheduler=self.scheduler,
                                           scaler=self.scaler, generators=self.generators, meter=self.meter)
        self.saved_callbacks = dict(state.get("callbacks") or {})
        self.history = [EpochEvent.from_dict(e) for e in history]
        self._saved_at = (self.progress.epoch, self.progress.batch)
        if self.store is not None:  # a resumed run may train on another device, for more epochs
            self.store.write_config(self.run_id, {**self.store.get(self.run_id).config, "train": self.config.to_dict()})
            self.store.update(self.run_id, status="running", device=describe(self.device))

    def _save(self, callbacks: list[Callback]) -> None:
        """The history, a checkpoint and the index row, unless nothing was trained since the last save."""
        at = (self.progress.epoch, self.progress.batch)
        if self.store is None or self.run_id is None or at == self._saved_at:
            return
        if not self.store.exists(self.run_id):
            raise _Deleted
        try:
            self.store.write_history(self.run_id, [e.to_dict() for e in self.history])
            state = checkpoint.state_of(optimizer=self.optimizer, scheduler=self.scheduler, scaler=self.scaler,
                                        generators=self.generators, progress=self.progress, meter=self.meter,
                                        callbacks=callbacks, model=self.model)
            self.store.save_checkpoint(self.run_id, self.model.state_dict(), state)
            self.store.update(self.run_id, epochs=len(self.history), best=self._best())
        except (RunError, FileNotFoundError):
            if not self.store.exists(self.run_id):  # deleted during the writes
                raise _Deleted from None
            raise
        self._saved_at, self._saved_when = at, time.monotonic()

    def _deleted(self) -> bool:
        """Whether the run's folder left the store (cheap: one stat, checked after every read-back)."""
        return self.store is not None and self.run_id is not None and not (self.store.root / self.run_id).is_dir()

    def _best(self) -> float | None:
        return best_epoch(self.history, self.task.primary_metric)[0]

    # ------------------------------------------------------------------------------------------- the loop

    def run(self, callbacks: list[Callback], stop: threading.Event | None) -> FitResult:
        status, reason = "finished", ""
        self.model.use_generator(self.generators.dropout)
        try:
            start = FitStart(self.run_id, describe(self.device), self.config.epochs, self.progress.epoch,
                             self.batches, tuple(self.notes), self.task, self.model)
            try:
                for cb in callbacks:
                    cb.on_fit_start(start)
                checkpoint.load_callback_states(callbacks, self.saved_callbacks)
                while self.progress.epoch < self.config.epochs:
                    self._train_epoch(callbacks, stop)
                    event = self._end_epoch()
                    for cb in callbacks:
                        cb.on_epoch_end(event)
                    self._save(callbacks)
                    if stop is not None and stop.is_set() and self.progress.epoch < self.config.epochs:
                        raise _Stopped("stopped by the user")
            except StopTraining as e:
                raise _Stopped(str(e) or "stopped by a callback") from None
        except _Stopped as e:
            status, reason = "stopped", str(e)
            try:
                self._save(callbacks)
            except _Deleted:
                status, reason = "failed", DELETED
        except _Deleted:
            status, reason = "failed", DELETED
        except _Failed as e:
            status, reason = "failed", str(e)
        except BaseException as e:
            if not out_of_memory(e):
                if self.store is not None and self.run_id is not None:
                    with contextlib.suppress(RunError):  # a deleted run has no row left to mark
                        self.store.update(self.run_id, status="failed")
                raise
            status, reason = "failed", self._out_of_memory()
        finally:
            self.model.use_generator(None)
        if reason == DELETED:
            self.store.discard(self.run_id)  # what a write racing the deletion left behind, and the run's lock
        elif self.store is not None and self.run_id is not None:
            self.store.update(self.run_id, status=status, epochs=len(self.history), best=self._best())
        self.model.eval()
        images, seconds = self.trained.images, self.trained.seconds
        result = FitResult(status, reason, list(self.history), self.model, self.run_id, describe(self.device),
                           self.task, list(self.notes), self.stats,
                           images_per_second=images / seconds if seconds else 0.0)
        for cb in callbacks:
            cb.on_fit_end(result)
        return result

    def _loader(self, data: Any, *, shuffle: bool, seed: int, batch_size: int, augment: Any = None,
                drop_last: bool = False) -> torch.utils.data.DataLoader:
        collate = None if type(self.task).collate is Task.collate else self.task.collate
        return make_loader(data, self.model.spec.input, batch_size=batch_size, shuffle=shuffle, seed=seed,
                           augment=augment, stats=self.stats, num_workers=self.config.num_workers,
                           drop_last=drop_last, pin_memory=self.device.type == "cuda", collate=collate)

    def _train_epoch(self, callbacks: list[Callback], stop: threading.Event | None) -> None:
        """One epoch's training batches, from where a resumed run left off. Raises ``_Stopped`` on a stop, with the
        progress counted up to the last batch trained."""
        p, device, model, optimizer, task = self.progress, self.device, self.model, self.optimizer, self.task
        non_blocking = device.type == "cuda"
        onecycle = self.scheduler if self.config.schedule == "onecycle" else None
        train_mode(model)
        if p.lr is None:
            p.lr = optimizer.param_groups[0]["lr"]
        # shuffled by (seed, epoch), so a resumed epoch replays its order; skip the batches trained before the stop
        batches = iter(self._loader(self.data.train, shuffle=True, seed=self.config.seed * 1_000_003 + p.epoch,
                                    batch_size=self.config.batch_size, augment=self.config.augment,
                                    drop_last=self.drop_last))
        for _ in range(p.batch):
            next(batches)
        clock = Clock(p.batch, p.seconds)
        every = 1  # batches between reads from the device; on a GPU it grows to about SYNC_SECONDS' worth
        chunk = Chunk()
        try:
            while True:
                t = time.perf_counter()
                try:
                    x, target = next(batches)
                except StopIteration:
                    break
                p.wait += time.perf_counter() - t
                x = x.to(device, non_blocking=non_blocking)  # (B, C, H, W) float32, normalised
                target = task.to_device(target, device, non_blocking)
                with self._autocast():
                    output = model(x)  # (B, *task.output_shape)
                    loss = task.loss(output, target)
                optimizer.zero_grad(set_to_none=True)
                if self.scaler is not None:
                    self.scaler.scale(loss).backward()
                    self.scaler.step(optimizer)
                    self.scaler.update()
                else:
                    loss.backward()
                    optimizer.step()
                with torch.no_grad():
                    self.meter.update(output.detach(), target)  # device work only: no read-back
                chunk.add(loss, int(x.shape[0]), optimizer.param_groups[0]["lr"])
                if onecycle is not None:
                    onecycle.step()
                if len(chunk) >= every or (stop is not None and stop.is_set()):
                    per_batch = self._sync(chunk, callbacks, clock)
                    if device.type != "cpu":
                        every = max(1, min(MAX_SYNC_EVERY, int(SYNC_SECONDS / max(per_batch, 1e-6))))
                    chunk = Chunk()
                if stop is not None and stop.is_set():  # set before this batch, or by a callback just now
                    if len(chunk):
                        self._sync(chunk, callbacks, clock)
                    raise _Stopped("stopped by the user")
                if not len(chunk) and self.store is not None:  # just read back: the progress is whole
                    if self._deleted():
                        raise _Deleted
                    if self.checkpoint_every and time.monotonic() - self._saved_when >= self.checkpoint_every:
                        p.seconds = clock.seconds()
                        self._save(callbacks)
            if len(chunk):
                self._sync(chunk, callbacks, clock)
        finally:
            p.seconds = clock.seconds()
            self.trained.images += clock.images
            self.trained.seconds += clock.elapsed()

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp)

    def _sync(self, chunk: Chunk, callbacks: list[Callback], clock: Clock) -> float:
        """Read a chunk's batch losses back from the device (the only place the loop waits for it), check them,
        count them, and send their ``BatchEvent``s. Returns the seconds per batch so far."""
        p = self.progress
        values = chunk.read()
        for i, value in enumerate(values):
            if not math.isfinite(value):
                raise _Failed(f"loss became {'nan' if math.isnan(value) else 'inf'} at epoch {p.epoch + 1} batch "
                              f"{p.batch + i + 1} — try a lower learning rate")
        first = p.batch
        p.loss_sum += sum(value * n for value, n in zip(values, chunk.sizes, strict=True))
        p.seen += sum(chunk.sizes)
        p.batch += len(chunk)
        per_batch, rate = clock.tick(p.batch, sum(chunk.sizes))
        left = (self.config.epochs - p.epoch) * self.batches - p.batch
        for i, (value, lr) in enumerate(zip(values, chunk.lrs, strict=True)):
            event = BatchEvent(p.epoch + 1, first + i + 1, self.batches, value, rate, left * per_batch, lr)
            for cb in callbacks:
                cb.on_batch_end(event)
        return per_batch

    def _end_epoch(self) -> EpochEvent:
        """Validate, record the epoch, step the schedule, start counting the next one."""
        p = self.progress
        t = time.perf_counter()
        val = self._validate()
        train_seconds = p.seconds
        event = EpochEvent(
            epoch=p.epoch + 1,
            train={"loss": p.loss_sum / max(p.seen, 1), **self.meter.compute()},
            val=val,
            seconds=train_seconds + time.perf_counter() - t,
            images_per_second=p.seen / max(train_seconds, 1e-9),
            data_wait_fraction=min(1.0, p.wait / max(train_seconds, 1e-9)),
            lr=p.lr if p.lr is not None else self.optimizer.param_groups[0]["lr"],
        )
        self.history.append(event)
        if self.scheduler is not None and self.config.schedule != "onecycle":
            self.scheduler.step()
        p.next_epoch()
        self.meter = self.task.meter(self.device)
        return event

    @torch.inference_mode()
    def _validate(self) -> dict[str, float]:
        """The loss (mean per image) and the task's metrics on the validation set (NaN for an empty one)."""
        n = len(self.data.val)
        if n == 0:
            return {"loss": math.nan, **{m.name: math.nan for m in self.task.metrics}}
        self.model.eval()
        if self.val_loader is None:
            self.val_loader = self._loader(self.data.val, shuffle=False, seed=self.config.seed,
                                           batch_size=max(2 * self.config.batch_size, 256))
        meter = self.task.meter(self.device)
        total = torch.zeros((), device=self.device)
        for x, target in self.val_loader:
            x = x.to(self.device, non_blocking=True)
            target = self.task.to_device(target, self.device, True)
            with self._autocast():
                output = self.model(x)
            output = output.float()
            total += self.task.loss(output, target).float() * x.shape[0]
            meter.update(output, target)
        return {"loss": float(total) / n, **meter.compute()}

    def _out_of_memory(self) -> str:
        bs = self.config.batch_size
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        smaller = f"a smaller batch size (e.g. {max(1, bs // 2)})" if bs > 1 else "a smaller input size"
        amp = "" if self.config.amp or self.device.type != "cuda" else ", or mixed precision"
        return (f"out of {self.device.type} memory at epoch {self.progress.epoch + 1} with batch size {bs} — try "
                f"{smaller}, a smaller network{amp}")
