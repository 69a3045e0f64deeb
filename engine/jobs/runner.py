"""One job interface for long work (training): a process-wide runner with a cap on concurrent jobs.

A Streamlit server serves a classroom, so heavy work must not run in a page script: the page submits a job, keeps
its handle in the session and draws snapshots of its progress while it runs. ``JobRunner.submit(fn, *args,
**kwargs)`` runs ``fn(job, *args, **kwargs)`` in a daemon thread and returns the ``Job`` at once; the function reads
``job.stop`` (a ``threading.Event``) to stop cleanly and reports through ``job.log``, a training ``Callback`` that
keeps the latest ``BatchEvent`` and every ``EpochEvent`` behind a lock, so any thread can take a ``snapshot()`` at any
time. ``train_job`` is that function for ``engine.training.loop.fit`` (then ``engine.training.evaluate.evaluate`` on
the validation set).

The cap (``$CNNPG_MAX_JOBS``, default 2) counts the jobs not yet done: past it ``submit`` raises ``ServerBusyError``
instead of queueing, so a full server says so at once. A deployment that sends jobs elsewhere replaces this runner
behind the same ``submit`` / ``Job`` interface (docs/architecture.md, "Scale").
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.data import LoadedData
from engine.training.evaluate import Evaluation, evaluate
from engine.training.loop import BatchEvent, Callback, EpochEvent, FitResult, FitStart, TrainConfig, fit
from engine.training.runs import RunStore

ENV_VAR = "CNNPG_MAX_JOBS"
DEFAULT_MAX_JOBS = 2
STATUSES = ("queued", "running", "finished", "stopped", "failed")
DONE = ("finished", "stopped", "failed")
MAX_BATCH_POINTS = 2000  # batch losses kept for the live curve; past this, every other one is dropped

log = logging.getLogger(__name__)


class ServerBusyError(RuntimeError):
    """``submit`` past the cap: the message says how many jobs are running."""


# --------------------------------------------------------------------------------------------------- the event log


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


# --------------------------------------------------------------------------------------------------- jobs


class Job:
    """A unit of background work. ``status``: queued → running → finished | stopped | failed; ``error`` says why a
    failed job failed, ``reason`` why a stopped (or failed) one ended; ``result`` is what the function returned.
    Set ``stop`` (or call ``request_stop``) to ask the function to end after its current step."""

    def __init__(self, job_id: str) -> None:
        self.id = job_id
        self.stop = threading.Event()
        self.log = JobLog()
        self.submitted = time.time()
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._status = "queued"
        self._error = ""
        self._reason = ""
        self._result: Any = None
        self._ended: float | None = None
        self.traceback = ""  # of an unexpected exception, for the server log; never shown on a page

    def __repr__(self) -> str:
        return f"Job({self.id!r}, status={self.status!r})"

    @property
    def status(self) -> str:
        with self._lock:
            return self._status

    @property
    def error(self) -> str:
        with self._lock:
            return self._error

    @property
    def reason(self) -> str:
        with self._lock:
            return self._reason

    @property
    def result(self) -> Any:
        with self._lock:
            return self._result

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def seconds(self) -> float:
        """Wall time since it was submitted, until it ended."""
        with self._lock:
            end = self._ended if self._ended is not None else time.time()
        return end - self.submitted

    def request_stop(self) -> None:
        self.stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job is done (or ``timeout`` seconds passed); True when it is done."""
        return self._done.wait(timeout)

    def _set_running(self) -> None:
        with self._lock:
            self._status = "running"

    def _finish(self, status: str, result: Any = None, error: str = "", reason: str = "") -> None:
        with self._lock:
            self._status, self._result, self._error, self._reason = status, result, error, reason
            self._ended = time.time()
        self._done.set()


def _run(job: Job, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    """The thread's body: run ``fn`` and record how it ended. A result with a ``status`` of its own (a
    ``FitResult``: "stopped" by the user, "failed" on a NaN loss) gives the job that status and its ``reason``."""
    job._set_running()
    try:
        result = fn(job, *args, **kwargs)
    except Exception as e:  # noqa: BLE001 - any failure of the work is the job's, reported by its message
        job.traceback = traceback.format_exc()
        message = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
        log.warning("job %s failed: %s\n%s", job.id, message, job.traceback)
        job._finish("failed", error=message, reason=message)
        return
    status, reason = getattr(result, "status", None), str(getattr(result, "reason", "") or "")
    if status not in DONE:
        status = "stopped" if job.stop.is_set() else "finished"
        reason = "stopped by the user" if status == "stopped" else ""
    job._finish(status, result=result, error=reason if status == "failed" else "", reason=reason)


def max_jobs_from_env() -> int:
    """``$CNNPG_MAX_JOBS`` as a positive integer (default 2); ValueError naming a bad value."""
    text = os.environ.get(ENV_VAR, "").strip()
    if not text:
        return DEFAULT_MAX_JOBS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{ENV_VAR} must be a positive integer (jobs at once per server), got {text!r}")
    return value


class JobRunner:
    """Runs jobs in daemon threads, at most ``max_jobs`` at once (default: ``$CNNPG_MAX_JOBS`` or 2)."""

    def __init__(self, max_jobs: int | None = None) -> None:
        if max_jobs is None:
            max_jobs = max_jobs_from_env()
        if isinstance(max_jobs, bool) or not isinstance(max_jobs, int) or max_jobs < 1:
            raise ValueError(f"max_jobs must be a positive integer, got {max_jobs!r}")
        self.max_jobs = max_jobs
        self._lock = threading.Lock()
        self._active: list[Job] = []

    def active(self) -> list[Job]:
        """The jobs submitted here that are not done yet."""
        with self._lock:
            self._active = [j for j in self._active if not j.done]
            return list(self._active)

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Job:
        """Start ``fn(job, *args, **kwargs)`` in a daemon thread and return its ``Job``. ``ServerBusyError`` when
        ``max_jobs`` jobs are already running."""
        with self._lock:
            self._active = [j for j in self._active if not j.done]
            if len(self._active) >= self.max_jobs:
                n = len(self._active)
                raise ServerBusyError(f"the server is busy: {n} job{'s' * (n != 1)} running (at most "
                                      f"{self.max_jobs} at once), try again in a moment")
            job = Job(secrets.token_hex(4))
            self._active.append(job)
        thread = threading.Thread(target=_run, args=(job, fn, args, kwargs), name=f"cnnpg-job-{job.id}", daemon=True)
        thread.start()
        return job


_runner: JobRunner | None = None
_runner_lock = threading.Lock()


def runner() -> JobRunner:
    """The process-wide runner (created on first use, with the cap from ``$CNNPG_MAX_JOBS``)."""
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = JobRunner()
        return _runner


# --------------------------------------------------------------------------------------------------- training jobs


@dataclass
class TrainOutcome:
    """What ``train_job`` returns: the fit's result and, unless it failed, the model's evaluation on the validation
    set (None when that set is empty). ``status`` and ``reason`` are the fit's, so the job takes them."""

    result: FitResult
    evaluation: Evaluation | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.result.status

    @property
    def reason(self) -> str:
        return self.result.reason

    @property
    def run_id(self) -> str | None:
        return self.result.run_id


def train_job(job: Job, model_or_spec: Any, data: LoadedData, config: TrainConfig | None = None, *,
              store: RunStore | None = None, run_id: str | None = None,
              init_from: str | Path | Mapping[str, Any] | None = None, name: str | None = None) -> TrainOutcome:
    """``engine.training.loop.fit`` reporting to ``job.log`` and stopping on ``job.stop``, then an evaluation of the
    trained model on ``data.val``. Resuming (``run_id``) first puts the run's earlier epochs into the log."""
    if run_id is not None and store is not None:
        job.log.preload(store.get(run_id).history)
    result = fit(model_or_spec, data, config, callbacks=[job.log], stop=job.stop, store=store, run_id=run_id,
                 init_from=init_from, name=name)
    evaluation = None
    if result.status != "failed" and len(data.val):
        evaluation = evaluate(result.model, data.val, result.stats)
    return TrainOutcome(result, evaluation, list(result.notes))
