"""A training job's event log: the training callback that keeps the latest ``BatchEvent``, every ``EpochEvent`` and a
thinned series of batch losses behind a lock, so that any thread (a page drawing the live curves) can take a
consistent ``snapshot()`` at any time while the training thread appends."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.training.events import BatchEvent, Callback, EpochEvent, FitStart

MAX_BATCH_POINTS = 2000  # batch losses kept for the live curve; past this, every other one is dropped


@dataclass(frozen=True)
class LogSnapshot:
    """A consistent copy of a job's log. ``batch_losses``: ``(position in epochs, loss)`` pairs, the position
    ``epoch - 1 + batch / batches`` (thinned to at most ``MAX_BATCH_POINTS``); ``epochs`` includes the history a
    resumed run had before this job (``prior`` of them)."""

    start: FitStart | None
    latest: BatchEvent | None
    epochs: tuple[EpochEvent, ...]
    batch_losses: tuple[tuple[float, float], ...]
    prior: int

    @property
    def fraction(self) -> float:
        """How much of this job's training is done, in [0, 1] (batches of the epochs it set out to train)."""
        if self.start is None:
            return 0.0
        todo = (self.start.epochs - self.start.start_epoch) * self.start.batches
        if todo <= 0:
            return 1.0
        b = self.latest
        done_epochs = len(self.epochs) - self.prior
        in_epoch = b.batch if b is not None and b.epoch > self.start.start_epoch + done_epochs else 0
        return min(1.0, (done_epochs * self.start.batches + in_epoch) / todo)


class JobLog(Callback):
    """The thread-safe event log of a job: appended to by the training thread, read by ``snapshot()``. Each hook
    holds the lock for a few assignments only."""

    relayed = ("preload", "on_fit_start", "on_batch_end", "on_epoch_end")  # its writers: engine.jobs.process

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._start: FitStart | None = None
        self._latest: BatchEvent | None = None
        self._epochs: list[EpochEvent] = []
        self._prior = 0
        self._losses: list[tuple[float, float]] = []
        self._stride = 1  # keep every ``stride``-th batch loss
        self._seen = 0

    def preload(self, history: Sequence[EpochEvent | Mapping[str, Any]]) -> None:
        """The epochs a resumed run trained before: shown before this job's own."""
        events = [e if isinstance(e, EpochEvent) else EpochEvent.from_dict(e) for e in history]
        with self._lock:
            self._epochs = [*events, *self._epochs]
            self._prior = len(events)

    def on_fit_start(self, start: FitStart) -> None:
        with self._lock:
            self._start = start

    def on_batch_end(self, event: BatchEvent) -> None:
        with self._lock:
            self._latest = event
            self._seen += 1
            if self._seen % self._stride == 0:
                self._losses.append((event.epoch - 1 + event.batch / event.batches, event.loss))
                if len(self._losses) > MAX_BATCH_POINTS:
                    self._losses = self._losses[1::2]
                    self._stride *= 2

    def on_epoch_end(self, event: EpochEvent) -> None:
        with self._lock:
            self._epochs.append(event)

    def snapshot(self) -> LogSnapshot:
        with self._lock:
            return LogSnapshot(self._start, self._latest, tuple(self._epochs), tuple(self._losses), self._prior)
