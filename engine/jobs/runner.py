"""One job interface for long work (training, style transfer): a process-wide runner with a fair queue.

A Streamlit server serves a classroom, so heavy work must not run in a page script: the page submits a job, keeps
its handle in the session and draws snapshots of its progress while it runs. ``JobRunner.submit(fn, *args,
**kwargs)`` runs ``fn(job, *args, **kwargs)`` in a child process (``engine.jobs.process``; or, with
``$CNNPG_JOB_ISOLATION=thread``, in a daemon thread) and returns the ``Job`` (``engine.jobs.job``) at once; the
function reads ``job.stop`` to stop cleanly and reports through ``job.log`` (``engine.jobs.log``), which any thread
of the server can ``snapshot()`` at any time. ``engine.jobs.training.train_job`` is that
function for ``engine.training.loop.fit``.

A job has an owner (the anonymous id of the browser that started it): ``latest(owner)`` finds the owner's newest job
again — running, or done within the last ``KEEP_DONE`` jobs of that owner — so a reloaded page re-attaches to it; the
job is the owner's, not the tab's.

At most ``$CNNPG_MAX_JOBS`` jobs (default 2) run at once, and at most one per owner; the others wait in a first-in,
first-out queue (an owner's second job lets later owners' jobs pass it until the first is done), and start by
themselves when a place frees up. ``position(job)`` and ``waiting(job)`` say where a job waits; stopping a waiting
job takes it out of the queue. Past ``$CNNPG_MAX_QUEUED`` waiting jobs (default 100) ``submit`` raises
``ServerBusyError``, so a full server says so at once. Given a folder (``state_dir``; the process-wide runner's is
``<runs>/.queue``), a runner records its waiting jobs there, and ``dropped(owner)`` reports those of a server that
ended before they started (``engine.jobs.waiting``). A deployment that sends jobs elsewhere replaces this runner
behind the same ``submit`` / ``Job`` interface (docs/architecture.md, "Scale"); with ``$CNNPG_RAY_ADDRESS`` set, its
jobs run on a Ray cluster after the same queue (``engine.jobs.ray_backend``, docs/ray.md).
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.env import positive_int
from engine.jobs.job import Job, run_job
from engine.jobs.process import isolation_from_env, run_in_process, warm
from engine.jobs.ray_backend import RayBackend, from_env
from engine.jobs.waiting import Dropped, WaitingFile, plain
from engine.training.runs.store import default_root
from engine.units import format_duration

ENV_VAR = "CNNPG_MAX_JOBS"
DEFAULT_MAX_JOBS = 2
QUEUE_ENV_VAR = "CNNPG_MAX_QUEUED"
DEFAULT_MAX_QUEUED = 100
KEEP_DONE = 3  # finished jobs remembered per owner, for a page reloaded after its job ended
QUEUE_FOLDER = ".queue"  # under the runs folder: the process-wide runner's waiting jobs (engine.jobs.waiting)

log = logging.getLogger(__name__)


class ServerBusyError(RuntimeError):
    """``submit`` past the cap: the message says how many jobs are running."""


def remaining(job: Job, now: float | None = None) -> float | None:
    """Seconds a running job is expected to go on: its time so far over the share of its batches done (its log's
    ``fraction``); None before 1 % is done or for a job whose log reports no progress."""
    started = job.started
    done = job.log.snapshot().fraction
    if started is None or done < 0.01:
        return None
    return max(0.0, ((now or time.time()) - started) * (1 - done) / done)


def max_jobs_from_env() -> int:
    """``$CNNPG_MAX_JOBS`` as a positive integer (default 2); ValueError naming a bad value."""
    return positive_int(ENV_VAR, DEFAULT_MAX_JOBS, "jobs at once per server")


class JobRunner:
    """Runs jobs in child processes (``isolation``: "process", or "thread"; default ``$CNNPG_JOB_ISOLATION`` or
    "process"), or on a Ray cluster (``backend``: docs/ray.md): at most ``max_jobs`` at once (default:
    ``$CNNPG_MAX_JOBS`` or 2), one per owner; the others wait in a first-in, first-out queue of at most ``max_queued``
    (default: ``$CNNPG_MAX_QUEUED`` or 100). The queue, owners and caps apply before a job goes to a cluster.
    """

    def __init__(self, max_jobs: int | None = None, max_queued: int | None = None, isolation: str | None = None,
                 state_dir: Path | str | None = None, backend: RayBackend | None = None) -> None:
        if max_jobs is None:
            max_jobs = max_jobs_from_env()
        if max_queued is None:
            max_queued = positive_int(QUEUE_ENV_VAR, DEFAULT_MAX_QUEUED, "jobs waiting per server")
        for name, value in (("max_jobs", max_jobs), ("max_queued", max_queued)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isolation is None:
            isolation = isolation_from_env()
        if isolation not in ("process", "thread"):
            raise ValueError(f"isolation must be 'process' or 'thread', got {isolation!r}")
        self.max_jobs, self.max_queued, self.isolation = max_jobs, max_queued, isolation
        self.backend = backend  # None: jobs run on this server; a RayBackend: on its cluster (engine.jobs.ray_backend)
        self._lock = threading.Lock()
        self._running: list[Job] = []
        self._queue: list[tuple[Job, Callable[..., Any], tuple, dict]] = []
        self._by_owner: dict[str, list[Job]] = {}  # each owner's newest jobs: the running ones and KEEP_DONE done
        self._file = WaitingFile(state_dir) if state_dir is not None else None
        self._dropped: list[Dropped] = self._file.left_over() if self._file is not None else []

    def active(self) -> list[Job]:
        """The jobs submitted here that are not done yet: running, then waiting in the queue's order."""
        with self._lock:
            self._running = [j for j in self._running if not j.done]
            return [*self._running, *(entry[0] for entry in self._queue)]

    def running(self) -> list[Job]:
        with self._lock:
            self._running = [j for j in self._running if not j.done]
            return list(self._running)

    def position(self, job: Job) -> int | None:
        """``job``'s place in the queue (1: next to start), or None when it is not waiting."""
        with self._lock:
            return next((i + 1 for i, entry in enumerate(self._queue) if entry[0] is job), None)

    def waiting(self, job: Job) -> str:
        """What a page says about a job in the queue ("" when it is not waiting), with when it is expected to start
        when the running jobs' progress tells (``expected_wait``)."""
        place = self.position(job)
        if place is None:
            return ""
        with self._lock:
            mine = any(j.owner == job.owner for j in self._running) if job.owner else False
            running = len(self._running)
        why = "your other job is running (one at a time per person)" if mine else \
            f"{running} of at most {self.max_jobs} jobs are running on this server"
        ahead = "next to start" if place == 1 else f"{place - 1} ahead of it"
        wait = self.expected_wait(job)
        when = f" Expected to start in about {format_duration(max(wait, 1.0))}." if wait is not None else ""
        return f"Waiting in the queue ({ahead}): {why}.{when} It starts by itself; Stop takes it out of the queue."

    def expected_wait(self, job: Job) -> float | None:
        """Seconds until waiting ``job`` is expected to start: the queue played forward by its own rules (first in,
        first out, ``max_jobs``, one per owner) with each running job ending after its ``remaining`` time. None when
        that cannot be told: a running job without progress yet (or of a kind that reports none), or a place that
        only a job ahead of it would free (a job's length is not known before it starts)."""
        with self._lock:
            running = [j for j in self._running if not j.done]
            queue = [entry[0] for entry in self._queue]
        if job not in queue:
            return None
        now = time.time()
        active = [(remaining(j, now), j.owner) for j in running]
        if any(end is None for end, _ in active):
            return None
        pending = [(j is job, j.owner) for j in queue[:queue.index(job) + 1]]
        t = 0.0
        while True:
            busy = {owner for _, owner in active if owner}
            for entry in list(pending):
                ours, owner = entry
                if len(active) >= self.max_jobs:
                    break
                if owner and owner in busy:
                    continue
                if ours:
                    return t
                pending.remove(entry)
                active.append((math.inf, owner))  # its length is not known before it runs
                busy.add(owner)
            t = min((end for end, _ in active), default=math.inf)
            if math.isinf(t):
                return None
            active = [(end, owner) for end, owner in active if end > t]

    def latest(self, owner: str, page: str | None = None) -> Job | None:
        """``owner``'s newest job (started from ``page``: its ``about["page"]``, when given), running, waiting or
        recently done; None for nobody's ("")."""
        if not owner:
            return None
        with self._lock:
            jobs = self._by_owner.get(owner, [])
            return next((j for j in reversed(jobs) if page is None or j.about.get("page") == page), None)

    def dropped(self, owner: str, page: str | None = None) -> list[Dropped]:
        """The jobs of ``owner`` (started from ``page``, when given) that waited in the queue of a server that ended
        before they started (``engine.jobs.waiting``), oldest first; each is returned once."""
        with self._lock:
            mine = [d for d in self._dropped if d.owner == owner and (page is None or d.about.get("page") == page)]
            self._dropped = [d for d in self._dropped if d not in mine]
        return sorted(mine, key=lambda d: d.submitted)

    def submit(self, fn: Callable[..., Any], *args: Any, owner: str = "", about: dict[str, Any] | None = None,
               **kwargs: Any) -> Job:
        """Queue ``fn(job, *args, **kwargs)`` and return its ``Job`` at once, owned by ``owner`` and described by
        ``about`` (``Job``); it starts (in its process) as soon as a place is free (``max_jobs``, one per owner).
        ``ServerBusyError`` when ``max_queued`` jobs are already waiting."""
        with self._lock:
            if len(self._queue) >= self.max_queued:
                n = len(self._queue)
                raise ServerBusyError(f"the server is busy: {n} job{'s' * (n != 1)} waiting (at most "
                                      f"{self.max_queued}), try again in a moment")
            job = Job(secrets.token_hex(4), owner, about)
            job._on_stop = lambda: self._cancel(job)
            self._queue.append((job, fn, args, kwargs))
            if owner:
                mine = [*self._by_owner.get(owner, []), job]
                done = [j for j in mine if j.done]
                self._by_owner[owner] = [j for j in mine if not j.done or j in done[-KEEP_DONE:]]
            starting = self._dispatch()
        self._start(starting)
        return job

    def _dispatch(self) -> list[tuple[Job, Callable[..., Any], tuple, dict]]:
        """Under the lock: take the jobs that may start now out of the queue, in order (first in, first out, skipping
        an owner who already runs one)."""
        self._running = [j for j in self._running if not j.done]
        busy = {j.owner for j in self._running if j.owner}
        starting = []
        for entry in list(self._queue):
            if len(self._running) >= self.max_jobs:
                break
            job = entry[0]
            if job.owner and job.owner in busy:
                continue
            self._queue.remove(entry)
            self._running.append(job)
            busy.add(job.owner)
            starting.append(entry)
        self._record()
        return starting

    def _record(self) -> None:
        """Under the lock: the waiting jobs to the runner's file, when it has one."""
        if self._file is None:
            return
        try:
            self._file.write([{"id": j.id, "owner": j.owner, "about": plain(j.about), "submitted": j.submitted}
                              for j, *_ in self._queue])
        except OSError as e:  # a full or read-only disk must not stop the queue; a restart then reports less
            log.warning("cannot record the waiting jobs in %s: %s", self._file.path, e)

    def _start(self, starting: list[tuple[Job, Callable[..., Any], tuple, dict]]) -> None:
        for job, fn, args, kwargs in starting:
            threading.Thread(target=self._run, args=(job, fn, args, kwargs), name=f"cnnpg-job-{job.id}",
                             daemon=True).start()

    def _run(self, job: Job, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        try:
            if self.backend is not None:
                self.backend.run(job, fn, args, kwargs, local=self._run_here)
            else:
                self._run_here(job, fn, args, kwargs)
        finally:
            with self._lock:
                starting = self._dispatch()
            self._start(starting)

    def _run_here(self, job: Job, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        (run_in_process if self.isolation == "process" else run_job)(job, fn, args, kwargs)

    def _cancel(self, job: Job) -> None:
        """A stop asked of a job still in the queue: it leaves the queue, "stopped" without having run."""
        with self._lock:
            entry = next((e for e in self._queue if e[0] is job), None)
            if entry is None:
                return
            self._queue.remove(entry)
            self._record()
        job._finish("stopped", reason="taken out of the queue before it started")

    def set_max_jobs(self, n: int) -> None:
        """Change the cap of jobs running at once, live (the teacher's Classroom page): a higher cap starts waiting
        jobs now; a lower one lets the running jobs finish and starts fewer after them."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"max_jobs must be a positive integer, got {n!r}")
        with self._lock:
            self.max_jobs = n
            starting = self._dispatch()
        self._start(starting)


_runner: JobRunner | None = None
_runner_lock = threading.Lock()


def runner() -> JobRunner:
    """The process-wide runner (created on first use, with the cap from ``$CNNPG_MAX_JOBS``), recording its waiting
    jobs under the runs folder (``$CNNPG_RUNS_DIR``/.queue), sending its jobs to the Ray cluster at
    ``$CNNPG_RAY_ADDRESS`` when that is set (docs/ray.md)."""
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = JobRunner(state_dir=default_root() / QUEUE_FOLDER, backend=from_env())
            if _runner.isolation == "process":
                warm()
        return _runner
