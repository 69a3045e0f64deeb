"""How long a training run will take, measured rather than guessed: a few real batches of the same ``fit`` (same
network, data, loader, task, optimiser and device), timed, and scaled to the run's batches and epochs.

Networks too heavy to time at the full batch in about a second are timed at a smaller batch and scaled by the batch
size (an overestimate where bigger batches use the device better). Validation is timed the same way, on a batch's
worth of validation images. See docs/tasks-and-jobs.md, "Expected time".
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass

from engine.data import LoadedData
from engine.device import resolve
from engine.nets.spec import NetworkSpec
from engine.nets.summary import summary
from engine.training.config import TrainConfig
from engine.training.events import BatchEvent, Callback, EpochEvent
from engine.training.loop import fit

PROBE_BATCHES = 6  # the first warms the loader, the allocator and the kernels up; the median of the rest counts
BUDGET_MACS = {"cpu": 3e9, "mps": 3e10, "cuda": 3e11}  # forward multiply-accumulates one probe batch may cost


@dataclass(frozen=True)
class Estimate:
    """``seconds`` for the whole run: ``setup`` once, then per epoch ``batches`` training batches of ``per_batch``
    seconds and the validation set at ``per_val_image`` seconds an image; measured on ``device`` at ``probe_batch``
    images per batch and scaled to ``batch_size``."""

    seconds: float
    per_batch: float
    per_val_image: float
    setup: float  # once per run: building the network, the data's statistics, the first batch's warm-up
    batches: int  # training batches per epoch
    epochs: int
    batch_size: int
    probe_batch: int
    device: str

    def describe(self) -> str:
        scaled = "" if self.probe_batch == self.batch_size else \
            f" (timed at {self.probe_batch} images per batch, scaled to {self.batch_size})"
        return f"{self.per_batch * 1000:,.0f} ms per training batch of {self.batch_size} on {self.device}{scaled}"


class _Timer(Callback):
    def __init__(self) -> None:
        self.batches: list[float] = []
        self.epoch: float | None = None

    def on_batch_end(self, event: BatchEvent) -> None:
        self.batches.append(time.perf_counter())

    def on_epoch_end(self, event: EpochEvent) -> None:
        self.epoch = time.perf_counter()


def probe_batch_size(spec: NetworkSpec, batch_size: int, device: str) -> int:
    """The batch size to time at: the run's, or smaller when one batch would cost more than the device's budget."""
    macs = max(summary(spec).total_macs, 1)
    budget = BUDGET_MACS.get(resolve(device).type, BUDGET_MACS["cpu"])
    return max(1, min(batch_size, int(budget // macs)))


def estimate(spec: NetworkSpec, data: LoadedData, config: TrainConfig) -> Estimate:
    """Train one short epoch — ``PROBE_BATCHES`` batches and a batch's worth of validation images, through
    ``fit(spec, ...)`` with ``config`` (nothing is stored) — time it, and scale it to ``config.epochs`` epochs of
    ``len(data.train)`` images and ``len(data.val)`` validation images."""
    device = resolve(config.device)
    probe = probe_batch_size(spec, config.batch_size, config.device)
    n, n_val = len(data.train), len(data.val)
    sample = LoadedData(data.card, data.train.subset(list(range(min(n, PROBE_BATCHES * probe)))),
                        data.val.subset(list(range(min(n_val, probe)))))
    timer = _Timer()
    started = time.perf_counter()
    fit(spec, sample, dataclasses.replace(config, batch_size=probe, epochs=1, schedule="constant"),
        callbacks=[timer])
    ends = timer.batches
    first = ends[0] - started
    gaps = [b - a for a, b in zip(ends, ends[1:], strict=False)]
    per_probe = statistics.median(gaps) if gaps else first
    per_batch = per_probe * config.batch_size / probe
    per_val_image = (timer.epoch - ends[-1]) / len(sample.val) if len(sample.val) and timer.epoch else 0.0
    setup = max(0.0, first - per_probe)
    batches = -(-n // config.batch_size)
    seconds = setup + config.epochs * (batches * per_batch + n_val * per_val_image)
    return Estimate(seconds, per_batch, per_val_image, setup, batches, config.epochs, config.batch_size, probe,
                    device.type)
