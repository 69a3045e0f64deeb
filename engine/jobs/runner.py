"""One job interface for long work (training): a process-wide runner with a cap on concurrent jobs.

A Streamlit server serves a classroom, so heavy work must not run in a page script: the page submits a job, keeps
its handle in the session and draws snapshots of its progress while it runs. ``JobRunner.submit(fn, *args,
**kwargs)`` runs ``fn(job, *args, **kwargs)`` in a daemon thread and returns the ``Job`` (``engine.jobs.job``) at
once; the function reads ``job.stop`` (a ``threading.Event``) to stop cleanly and reports through ``job.log``
(``engine.jobs.log``), which any thread can ``snapshot()`` at any time. ``engine.jobs.training.train_job`` is that
function for ``engine.training.loop.fit``.

A job has an owner (the anonymous id of the browser that started it): ``latest(owner)`` finds the owner's newest job
again — running, or done within the last ``KEEP_DONE`` jobs of that owner — so a reloaded page re-attaches to it; the
job is the owner's, not the tab's.

The cap (``$CNNPG_MAX_JOBS``, default 2) counts the jobs not yet done: past it ``submit`` raises ``ServerBusyError``
instead of queueing, so a full server says so at once. A deployment that sends jobs elsewhere replaces this runner
behind the same ``submit`` / ``Job`` interface (docs/architecture.md, "Scale").
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable
from typing import Any

from engine.jobs.job import Job, run_job

ENV_VAR = "CNNPG_MAX_JOBS"
DEFAULT_MAX_JOBS = 2
KEEP_DONE = 3  # finished jobs remembered per owner, for a page reloaded after its job ended


class ServerBusyError(RuntimeError):
    """``submit`` past the cap: the message says how many jobs are running."""


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
        self._by_owner: dict[str, list[Job]] = {}  # each owner's newest jobs: the running ones and KEEP_DONE done

    def active(self) -> list[Job]:
        """The jobs submitted here that are not done yet."""
        with self._lock:
            self._active = [j for j in self._active if not j.done]
            return list(self._active)

    def latest(self, owner: str, page: str | None = None) -> Job | None:
        """``owner``'s newest job (started from ``page``: its ``about["page"]``, when given), running or recently
        done; None for nobody's ("")."""
        if not owner:
            return None
        with self._lock:
            jobs = self._by_owner.get(owner, [])
            return next((j for j in reversed(jobs) if page is None or j.about.get("page") == page), None)

    def submit(self, fn: Callable[..., Any], *args: Any, owner: str = "", about: dict[str, Any] | None = None,
               **kwargs: Any) -> Job:
        """Start ``fn(job, *args, **kwargs)`` in a daemon thread and return its ``Job``, owned by ``owner`` and
        described by ``about`` (``Job``). ``ServerBusyError`` when ``max_jobs`` jobs are already running."""
        with self._lock:
            self._active = [j for j in self._active if not j.done]
            if len(self._active) >= self.max_jobs:
                n = len(self._active)
                raise ServerBusyError(f"the server is busy: {n} job{'s' * (n != 1)} running (at most "
                                      f"{self.max_jobs} at once), try again in a moment")
            job = Job(secrets.token_hex(4), owner, about)
            self._active.append(job)
            if owner:
                mine = [*self._by_owner.get(owner, []), job]
                done = [j for j in mine if j.done]
                self._by_owner[owner] = [j for j in mine if not j.done or j in done[-KEEP_DONE:]]
        thread = threading.Thread(target=run_job, args=(job, fn, args, kwargs), name=f"cnnpg-job-{job.id}", daemon=True)
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
