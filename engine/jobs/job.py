"""A unit of background work: its status, its result or error, its stop flag, its event log, and the body that runs
it in a thread of the server (``run_job``; ``engine.jobs.process`` runs it in a child process instead). See
docs/tasks-and-jobs.md, "Jobs"."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from engine.jobs.log import JobLog

STATUSES = ("queued", "running", "finished", "stopped", "failed")
DONE = ("finished", "stopped", "failed")

log = logging.getLogger(__name__)


class Job:
    """A unit of background work. ``status``: queued → running → finished | stopped | failed; ``error`` says why a
    failed job failed, ``reason`` why a stopped (or failed) one ended; ``result`` is what the function returned.
    Set ``stop`` (or call ``request_stop``) to ask the function to end after its current step (a ``threading.Event``;
    in a job process, an ``mp.Event`` shared with it: ``engine.jobs.process``). ``owner`` is whose job it is (a
    browser's anonymous id, "" for nobody's); ``about`` what the page that started it needs to show it again after a
    reload (plain data)."""

    def __init__(self, job_id: str, owner: str = "", about: dict[str, Any] | None = None) -> None:
        self.id = job_id
        self.owner = owner
        self.about = dict(about or {})
        self._on_stop: Callable[[], None] | None = None  # the runner's: a stop takes a waiting job out of its queue
        self.stop = threading.Event()
        self.log = JobLog()
        self.submitted = time.time()
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._status = "queued"
        self._error = ""
        self._reason = ""
        self._result: Any = None
        self._started: float | None = None
        self._ended: float | None = None
        self.traceback = ""  # of an unexpected exception, for the server log; never shown on a page
        self.placement: dict[str, Any] = {}  # where a job sent to a Ray cluster runs: node, device (ray_backend)

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
    def ended(self) -> float | None:
        """When it ended (``time.time()``), or None while it runs."""
        with self._lock:
            return self._ended

    @property
    def seconds(self) -> float:
        """Wall time since it was submitted, until it ended."""
        with self._lock:
            end = self._ended if self._ended is not None else time.time()
        return end - self.submitted

    def request_stop(self) -> None:
        """Ask the job to end after its current step; a job still waiting in the queue ends at once, "stopped"."""
        self.stop.set()
        if self._on_stop is not None and self.status == "queued":
            self._on_stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job is done (or ``timeout`` seconds passed); True when it is done."""
        return self._done.wait(timeout)

    @property
    def started(self) -> float | None:
        """When it began to run (``time.time()``), or None while it waits."""
        with self._lock:
            return self._started

    def _set_running(self) -> None:
        with self._lock:
            self._status = "running"
            if self._started is None:
                self._started = time.time()

    def _finish(self, status: str, result: Any = None, error: str = "", reason: str = "") -> None:
        with self._lock:
            self._status, self._result, self._error, self._reason = status, result, error, reason
            self._ended = time.time()
        self._done.set()


def describe_error(e: BaseException) -> str:
    """A failed job's message: a ``ValueError``'s own words (the engine's refusals), else the exception's type too."""
    return str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"


def run_job(job: Job, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    """The thread's body: run ``fn`` and record how it ended (``conclude``)."""
    job._set_running()
    try:
        result = fn(job, *args, **kwargs)
    except Exception as e:  # noqa: BLE001 - any failure of the work is the job's, reported by its message
        fail(job, describe_error(e), traceback.format_exc())
        return
    conclude(job, result)


def fail(job: Job, message: str, trace: str = "") -> None:
    """End ``job`` "failed" with ``message`` (its error and reason); ``trace`` goes to the server log only."""
    job.traceback = trace
    log.warning("job %s failed: %s\n%s", job.id, message, trace)
    job._finish("failed", error=message, reason=message)


def conclude(job: Job, result: Any) -> None:
    """End ``job`` with what its function returned. A result with a ``status`` of its own (a ``FitResult``:
    "stopped" by the user, "failed" on a NaN loss) gives the job that status and its ``reason``."""
    status, reason = getattr(result, "status", None), str(getattr(result, "reason", "") or "")
    if status not in DONE:
        status = "stopped" if job.stop.is_set() else "finished"
        reason = "stopped by the user" if status == "stopped" else ""
    job._finish(status, result=result, error=reason if status == "failed" else "", reason=reason)
