"""Jobs in child processes (``$CNNPG_JOB_ISOLATION=process``, the default): a job's native crash (an abort in a
backward pass, a segfault) or an out-of-memory kill ends that job alone, not the server. See docs/tasks-and-jobs.md,
"Jobs in child processes".

``run_in_process(job, fn, args, kwargs)`` is the body of the runner's thread for a job: it starts a child process
from a ``forkserver`` (fork is unsafe once torch's and Streamlit's threads run; spawn would import torch again for
every job), whose server has imported the engine's job modules already (``PRELOAD``), and pumps what the child sends
back until it ends:

- the function and its arguments are pickled to the child (our own objects, never untrusted files; ``dumps``: a
  plain copy, tensors too — torch's shared-memory pickling passes a file descriptor per tensor, past the fork
  server's limit of 256 for a network's weights; ``register`` gives a type a reduction of its own);
- an argument that is a log (a class with ``relayed``, the names of its writing methods: ``JobLog``, ``StyleLog``),
  and the job's own ``job.log``, is replaced in the child by a ``Relay`` whose calls of those methods are sent back
  and replayed on the real log here, so a page reads ``snapshot()`` as before;
- the server's settings (``$CNNPG_*``) as they are when the job starts are the child's;
- the job's ``stop`` becomes an ``mp.Event`` shared with the child, so Stop reaches it at once (the batch in
  progress is the last);
- the result comes back without the big or unpicklable parts pages never read from it: a ``torch.nn.Module`` in it
  (a ``FitResult``'s trained model) becomes None — pages use its ``run_id``;
- a child that dies without a result (a signal, ``os._exit``) fails the job with the reason in words;
- the child dies with the server: a thread in it blocks reading a pipe whose only write end the server holds, and
  kills its process as soon as the read ends — when the server's process is gone, ``kill -9`` too (the fork server,
  the child's parent, outlives the server while any job process does, so the kernel's parent-death signal would not
  come). A run it was training comes back "interrupted" (its flock: engine.training.runs); a server that exits
  normally kills its job processes (atexit).
"""

from __future__ import annotations

import atexit
import contextlib
import copyreg
import dataclasses
import functools
import io
import logging
import multiprocessing as mp
import os
import pickle
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import torch

from engine.jobs.job import Job, conclude, describe_error, fail
from engine.training.events import Callback

ISOLATION_ENV = "CNNPG_JOB_ISOLATION"
MODES = ("process", "thread")
PRELOAD = ["engine.jobs.process", "engine.jobs.training", "engine.jobs.style"]
POLL_SECONDS = 0.1  # how often the pump copies a stop to the child and looks whether the child is alive
ACK_SECONDS = 60.0  # a child waits this long for the server to take its result
# OpenMP threads that wait for work sleep instead of spinning: job processes share the cores with each other (and
# with the server), and spinning teams in several processes slowed a LeNet-5 epoch 5-30× on a loaded 2-core machine
# (docs/tasks-and-jobs.md, "Jobs in child processes")
JOB_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}
NICE_ENV = "CNNPG_JOB_NICE"
DEFAULT_NICE = 10  # job processes yield the cores to the server's reruns: with ten training jobs, pages of forty
# students were drawn 3x slower at p95 when the jobs ran at the server's own priority (docs/tasks-and-jobs.md)
SETTINGS_PREFIX = "CNNPG_"  # the server's settings as they are at a job's start go with it (the fork server's are
# those of its own start): the limits per job, the checkpoint interval, ... read where a thread job would read them

log = logging.getLogger(__name__)
_context: Any = None
_context_lock = threading.Lock()
_lifeline: Any = None  # (read end, write end) of the pipe only the server writes to: _die_with
_children: set[Any] = set()  # the job processes running now
_children_lock = threading.Lock()
_reducers: dict[type, Callable[[Any], Any]] = {}


def register(cls: type, reduce: Callable[[Any], Any]) -> None:
    """Pickle ``cls`` with ``reduce`` (``copyreg``'s form) on its way to and from a job's process."""
    _reducers[cls] = reduce


def dumps(value: Any) -> bytes:
    """``value`` pickled as a copy, with the ``register``ed reductions."""
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, **_reducers}
    pickler.dump(value)
    return buf.getvalue()


def niceness_from_env() -> int:
    """``$CNNPG_JOB_NICE``: how much lower than the server's a job process's CPU priority is, 0 (the same) to 19
    (default 10); ``ValueError`` naming the variable and the bad value."""
    text = os.environ.get(NICE_ENV, "").strip()
    if not text:
        return DEFAULT_NICE
    if not (text.isdigit() and int(text) <= 19):
        raise ValueError(f"{NICE_ENV} must be a whole number from 0 (the server's priority) to 19 (the lowest), "
                         f"got {text!r}")
    return int(text)


def isolation_from_env() -> str:
    """``$CNNPG_JOB_ISOLATION``: "process" (default) or "thread"; ValueError naming a bad value."""
    value = os.environ.get(ISOLATION_ENV, "").strip().lower() or "process"
    if value not in MODES:
        raise ValueError(f"{ISOLATION_ENV} must be one of {', '.join(MODES)}, got {value!r}")
    return value


def context() -> Any:
    """The forkserver context, its server running (started on the first call) with ``PRELOAD`` imported and
    ``JOB_ENV`` in its environment, unless the server's own environment sets those variables."""
    global _context, _lifeline
    from multiprocessing import forkserver

    with _context_lock:
        if _context is None:
            _context = mp.get_context("forkserver")
            _context.set_forkserver_preload(PRELOAD)
            _lifeline = _context.Pipe(duplex=False)
        added = {k: v for k, v in JOB_ENV.items() if k not in os.environ}
        os.environ.update(added)  # read by the fork server when it starts, inherited by every job process
        try:
            forkserver.ensure_running()
        finally:
            for k in added:
                os.environ.pop(k, None)
        return _context


# --------------------------------------------------------------------------------------------------- the server side


@dataclasses.dataclass(frozen=True)
class _Slot:
    """Stands in the child's arguments for a log: the ``Relay`` made there sends ``methods`` to log ``index``."""

    index: int
    methods: tuple[str, ...]


def _swap_logs(value: Any, logs: list[Any]) -> Any:
    """``value`` with each log in it (itself, or an item of a list or tuple) replaced by a ``_Slot``."""
    methods = getattr(type(value), "relayed", None)
    if methods is not None:
        logs.append(value)
        return _Slot(len(logs) - 1, tuple(methods))
    if isinstance(value, (list, tuple)) and any(hasattr(type(v), "relayed") for v in value):
        return type(value)(_swap_logs(v, logs) for v in value)
    return value


def portable(value: Any, depth: int = 0) -> Any:
    """``value`` without its ``torch.nn.Module``s (None instead), looking into dataclasses, lists and tuples a few
    levels deep: what comes back from a child is what pages read, not a copy of a trained network."""
    if isinstance(value, torch.nn.Module):
        return None
    if depth >= 4:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in dataclasses.fields(value):
            if f.init:
                old = getattr(value, f.name)
                new = portable(old, depth + 1)
                if new is not old:
                    changes[f.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    if type(value) in (list, tuple):
        items = [portable(v, depth + 1) for v in value]
        if any(a is not b for a, b in zip(items, value, strict=True)):
            return type(value)(items)
    return value


def ended_why(exitcode: int | None) -> str:
    """Why a child that sent no result ended, in words."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        likely = " — likely out of memory (the system ends the biggest process when memory runs out)" \
            if -exitcode == signal.SIGKILL else ""
        return f"the job's process ended unexpectedly: killed by {name}{likely}"
    return f"the job's process ended unexpectedly with exit code {exitcode}"


def run_in_process(job: Job, fn: Any, args: tuple, kwargs: dict) -> None:
    """Run ``fn(job, *args, **kwargs)`` in a child process and record how it ended on ``job``; returns when the
    job is done. Called on a thread of the server (the runner's)."""
    ctx = context()
    logs: list[Any] = []
    log_slot = _swap_logs(job.log, logs)  # index 0
    child_args, child_kwargs = _swap_logs(args, logs), {k: _swap_logs(v, logs) for k, v in kwargs.items()}
    flag, ack, events = ctx.Event(), ctx.Event(), ctx.Queue()
    job._set_running()
    try:
        payload = dumps((fn, child_args, child_kwargs))
    except Exception as e:  # noqa: BLE001 - e.g. a lambda, or an object holding a lock: the job's failure
        fail(job, f"the job could not be sent to its process ({describe_error(e)}); set {ISOLATION_ENV}=thread to "
                  f"run such jobs in threads", traceback.format_exc())
        return
    asked, job.stop = job.stop, flag  # the page's Stop sets the child's flag itself; one asked before is copied
    if asked.is_set():
        flag.set()
    # not a daemon: a daemon process may not start processes of its own (data loader workers); ended at exit instead
    settings = {k: v for k, v in os.environ.items() if k.startswith(SETTINGS_PREFIX)}  # as they are now
    try:
        nice = niceness_from_env()
    except ValueError as e:
        fail(job, str(e))
        return
    child = ctx.Process(target=_child_main, name=f"cnnpg-job-{job.id}", args=(
        payload, settings, nice, job.id, job.owner, log_slot, flag, ack, events, _lifeline[0]))
    try:
        child.start()
    except OSError as e:  # no memory or processes left for it
        fail(job, f"the job's process could not start ({describe_error(e)})", traceback.format_exc())
        return
    with _children_lock:
        _children.add(child)
    try:
        _pump(job, child, asked, flag, ack, events, logs)
    finally:
        child.join(ACK_SECONDS)
        events.close()
        with _children_lock:
            _children.discard(child)


def warm() -> None:
    """Start the fork server (and its imports) now, in the background, so that the first job starts fast."""
    threading.Thread(target=context, name="cnnpg-forkserver", daemon=True).start()


@atexit.register
def _end_children() -> None:
    """A server that exits ends its jobs' processes (their runs come back "interrupted", resumable)."""
    with _children_lock:
        for child in list(_children):
            with contextlib.suppress(Exception):
                child.kill()


def _pump(job: Job, child: Any, asked: threading.Event, flag: Any, ack: Any, events: Any, logs: list[Any]) -> None:
    """Replay the child's log calls, copy to it a stop set on the job's former flag (by a thread that held it
    while it was swapped), and end the job with its result, error or death."""
    gone_since: float | None = None
    while True:
        if asked.is_set() and not flag.is_set():
            flag.set()
        try:
            message = pickle.loads(events.get(timeout=POLL_SECONDS))
        except queue.Empty:
            if child.is_alive():
                continue
            gone_since = gone_since or time.monotonic()
            if time.monotonic() - gone_since < 1.0:  # what it sent just before it ended may still be in the pipe
                continue
            child.join()
            fail(job, ended_why(child.exitcode))
            return
        kind = message[0]
        if kind == "call":
            _, index, name, call_args, call_kwargs = message
            try:
                getattr(logs[index], name)(*call_args, **call_kwargs)
            except Exception:  # noqa: BLE001 - a log that fails to take an event must not end the job's pumping
                log.exception("job %s: replaying %s on its log failed", job.id, name)
        elif kind == "result":
            ack.set()
            conclude(job, message[1])
            return
        else:  # "error"
            ack.set()
            fail(job, message[1], message[2])
            return


# --------------------------------------------------------------------------------------------------- the child side


class Relay(Callback):
    """A log in the child: each of ``methods`` sends its call to the server, where the real log replays it. A
    training callback too (stateless), so it can stand for ``job.log`` in ``fit``'s callbacks."""

    def __init__(self, index: int, methods: tuple[str, ...], send: Any) -> None:
        for name in methods:
            setattr(self, name, functools.partial(send, index, name))


def _child_main(payload: bytes, settings: dict[str, str], nice: int, job_id: str, owner: str, log_slot: _Slot,
                flag: Any, ack: Any, events: Any, lifeline: Any) -> None:
    _die_with(lifeline)
    if nice:
        os.nice(nice)  # relative to the fork server's, which is the server's
    for k in [k for k in os.environ if k.startswith(SETTINGS_PREFIX) and k not in settings]:
        del os.environ[k]
    os.environ.update(settings)

    def send(index: int, name: str, *call_args: Any, **call_kwargs: Any) -> None:
        events.put(dumps(("call", index, name, portable(call_args), portable(call_kwargs))))

    def relays(value: Any) -> Any:
        if isinstance(value, _Slot):
            return Relay(value.index, value.methods, send)
        if isinstance(value, (list, tuple)) and any(isinstance(v, _Slot) for v in value):
            return type(value)(relays(v) for v in value)
        return value

    job = Job(job_id, owner)
    job.stop, job.log = flag, relays(log_slot)
    job._set_running()
    try:
        fn, args, kwargs = pickle.loads(payload)
        result = fn(job, *relays(args), **{k: relays(v) for k, v in kwargs.items()})
        try:
            ending = dumps(("result", portable(result)))
        except Exception as e:  # noqa: BLE001 - said in words rather than lost in the queue's feeder thread
            ending = dumps(("error", f"the job's result cannot be sent back to the server ({describe_error(e)})",
                            traceback.format_exc()))
    except Exception as e:  # noqa: BLE001 - any failure of the work is the job's, reported by its message
        ending = dumps(("error", describe_error(e), traceback.format_exc()))
    events.put(ending)
    ack.wait(ACK_SECONDS)  # stay until the server has it (a queue's data may be lost when its writer exits)


def _die_with(lifeline: Any) -> None:
    """Kill this process as soon as the server's is gone: ``lifeline`` is the read end of a pipe whose only write end
    the server holds and never writes to, so a read returns only when the server's process has ended."""

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv_bytes()
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="cnnpg-job-lifeline", daemon=True).start()
