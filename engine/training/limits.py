"""A server's limits per training job, from its configuration (docs/hosting.md, "Limits per job"): how many epochs
one job may train (``$CNNPG_MAX_EPOCHS``) and for how long (``$CNNPG_MAX_JOB_SECONDS``, wall time from the start of
the fit). Unset, there is no limit — a laptop sees no difference; in demo mode (``$CNNPG_DEMO``) the defaults are
``DEMO_EPOCHS`` and ``DEMO_SECONDS``. The image size a job trains at is the network's input, capped for every spec by
``$CNNPG_MAX_INPUT_SIDE`` (``engine.nets.limits``).

``fit`` applies both, so the page, the CLI and the tests meet the same limits: ``check_epochs`` refuses a job of too
many epochs before anything is built, and ``TimeLimit`` stops a fit that has trained too long the way Stop does —
after the current batch, with its checkpoint, resumable (the next job has the same time again).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.env import demo_mode, optional_positive_int
from engine.training.events import BatchEvent, Callback, EpochEvent, FitStart, StopTraining
from engine.units import format_duration, plural

EPOCHS_ENV = "CNNPG_MAX_EPOCHS"
SECONDS_ENV = "CNNPG_MAX_JOB_SECONDS"
DEMO_EPOCHS = 20  # a demo's defaults, when the variables are unset
DEMO_SECONDS = 300


@dataclass(frozen=True)
class JobLimits:
    """The limits in force per training job; None: no limit."""

    epochs: int | None = None
    seconds: int | None = None

    @property
    def any(self) -> bool:
        return self.epochs is not None or self.seconds is not None


def job_limits() -> JobLimits:
    """The server's limits per job, read from the environment on each call; ``ValueError`` naming a bad variable."""
    demo = demo_mode()
    return JobLimits(
        epochs=optional_positive_int(EPOCHS_ENV, DEMO_EPOCHS if demo else None, "epochs per training job"),
        seconds=optional_positive_int(SECONDS_ENV, DEMO_SECONDS if demo else None, "seconds per training job"),
    )


def time_text(seconds: float) -> str:
    """A job's time limit in words: ``300`` -> ``"5 min"``."""
    return format_duration(seconds)


def check_epochs(epochs: int, done: int = 0) -> None:
    """Refuse a job that would train past ``$CNNPG_MAX_EPOCHS`` epochs: a new run of ``epochs``, or a run resumed
    from epoch ``done`` until epoch ``epochs``. ``ValueError`` naming the limit, the value and how far over it is."""
    cap = job_limits().epochs
    n = epochs - done
    if cap is None or n <= cap:
        return
    asked = f"{plural(n, 'epoch')}" if not done else f"training from epoch {done} to {epochs} is {plural(n, 'epoch')}"
    most = f"ask for at most {cap}" if not done else f"resume until epoch {done + cap} at most"
    raise ValueError(f"{asked}, over this server's limit of {plural(cap, 'epoch')} per job ({EPOCHS_ENV}={cap}): "
                     f"{n - cap} over; {most}")


class TimeLimit(Callback):
    """Stops the fit (status "stopped", resumable) once it has run ``seconds`` of wall time since it started, checked
    after every batch and epoch: "reached the server's limit of 5 min per job". Not after the last epoch: a fit
    that has trained all its epochs is finished. ``clock``: seconds, monotonic (a test may pass its own)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not seconds > 0:
            raise ValueError(f"a time limit must be a positive number of seconds, got {seconds!r}")
        self.seconds, self.clock = seconds, clock
        self.started = 0.0
        self.epochs = 0

    @property
    def reason(self) -> str:
        return f"reached the server's limit of {time_text(self.seconds)} per job"

    def on_fit_start(self, start: FitStart) -> None:
        self.started, self.epochs = self.clock(), start.epochs

    def on_batch_end(self, event: BatchEvent) -> None:
        self._check()

    def on_epoch_end(self, event: EpochEvent) -> None:
        if event.epoch < self.epochs:
            self._check()

    def _check(self) -> None:
        if self.clock() - self.started >= self.seconds:
            raise StopTraining(self.reason)


def limit_callbacks() -> list[Callback]:
    """The callbacks that enforce the server's limits on a fit (the time limit, when one is set)."""
    seconds = job_limits().seconds
    return [TimeLimit(seconds)] if seconds is not None else []
