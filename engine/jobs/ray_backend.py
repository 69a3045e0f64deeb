"""Jobs on a Ray cluster, behind the runner's ``submit`` / ``Job`` interface. See docs/ray.md.

With ``$CNNPG_RAY_ADDRESS`` set (``auto``, ``host:6379`` or ``ray://host:10001``) the process-wide runner keeps its
queue, owners and caps (``engine.jobs.runner``) and hands each job that may start to ``RayBackend.run`` instead of a
local process:

- The job must fit a node: one CPU, plus ``num_gpus=1`` (or one of ``gpu_resource``) when its config asks for the GPU
  (``device="cuda"``, or "auto" on a cluster with a GPU). A job that no node of the cluster can hold fails at once
  with the reason: Ray alone would leave it pending forever.
- The function and its arguments travel pickled as to a job process (``engine.jobs.process``: logs become relays,
  ``register``ed reductions apply). A named data set goes by name and seed and is loaded on the worker, checked
  against the server's copy by a fingerprint; an uploaded one travels with the job, up to ``$CNNPG_RAY_MAX_DATA_MB``.
  A run store becomes a fresh store on the worker, holding the files of the run a job resumes; ``init_from`` goes
  as the weights themselves.
- A remote task runs it, and a small control actor on the server's node (one per server: ``engine.jobs.ray_control``)
  carries its events: the task's outbox thread
  sends the log calls and the run's changed files every ``FLUSH_SECONDS`` and reads back the stop flag. The runner's
  thread polls the actor, replays the calls on the real logs and writes the files into the server's run store
  (``RunStore.put``: checkpoints and final weights as safetensors; the row says the node and device).
- Stop sets the actor's flag: the job ends after the batch in progress, and what it trained comes home.
- A node lost mid-job (its worker died, the node left the cluster) fails the job with the reason and marks its run
  "interrupted", resumable from the last checkpoint that came home.
- An unreachable cluster (or Ray not installed) fails the job saying so, or runs it on this server when
  ``$CNNPG_RAY_FALLBACK=local``.

Ray's tasks and actors share the fate of the process that made them: a server that dies takes its remote jobs with
it, and their runs come back "interrupted" as a local job's do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import pickle
import shutil
import socket
import tempfile
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.data import LoadedData, reload
from engine.env import positive_int
from engine.jobs.job import Job, conclude, describe_error, fail
from engine.jobs.process import SETTINGS_PREFIX, Relay, _Slot, _swap_logs, dumps, portable
from engine.training.runs import RunError, RunInfo, RunStore
from engine.training.runs.store import RUN_FILES

ADDRESS_ENV = "CNNPG_RAY_ADDRESS"
FALLBACK_ENV = "CNNPG_RAY_FALLBACK"
MAX_DATA_ENV = "CNNPG_RAY_MAX_DATA_MB"
DEFAULT_MAX_DATA_MB = 256
FALLBACKS = ("", "local")
INSTALL = "pip install -r requirements-ray.txt"
POLL_SECONDS = 0.2  # how often the runner's thread takes a job's events from its control actor
FLUSH_SECONDS = 0.2  # how often a remote job sends its events and reads the stop flag (the loop reads its losses
# back about as often: engine.training.loop.SYNC_SECONDS)
CONNECT_SECONDS = 5.0  # a cluster that does not answer a TCP connection in this time is unreachable

log = logging.getLogger(__name__)
Local = Callable[[Job, Callable[..., Any], tuple, dict], None]


class ClusterUnavailable(RuntimeError):
    """The Ray cluster cannot be used now: Ray is not installed here, or the cluster does not answer."""


def address_from_env() -> str:
    """``$CNNPG_RAY_ADDRESS`` ("" when unset: jobs run on this server)."""
    return os.environ.get(ADDRESS_ENV, "").strip()


def fallback_from_env() -> str:
    """``$CNNPG_RAY_FALLBACK``: "local" (run a job here while the cluster is unreachable) or "" (fail it)."""
    value = os.environ.get(FALLBACK_ENV, "").strip().lower()
    if value not in FALLBACKS:
        raise ValueError(f"{FALLBACK_ENV} must be 'local' or empty, got {value!r}")
    return value


def from_env() -> RayBackend | None:
    """The backend ``$CNNPG_RAY_ADDRESS`` names, or None when it is unset."""
    address = address_from_env()
    return RayBackend(address) if address else None


def fingerprint(data: LoadedData) -> str:
    """A hash of a data set's images and sizes: the worker's copy of a named set must be the server's."""
    h = hashlib.blake2b(digest_size=16)
    for part in (data.train, data.val):
        images = part.images.contiguous()
        h.update(repr(tuple(images.shape)).encode())
        h.update(images.numpy().tobytes())
    return h.hexdigest()


@dataclasses.dataclass(frozen=True)
class _NamedData:
    """Stands for a named data set in a job's arguments: loaded on the worker as the server loaded it."""

    origin: dict
    fingerprint: str

    def load(self) -> LoadedData:
        """The set, loaded here, or kept from this worker's previous job (the last one only: a worker is reused)."""
        global _last_data
        if _last_data is not None and _last_data[0] == self:
            return _last_data[1]
        name = self.origin["name"]
        data = reload(self.origin)
        if fingerprint(data) != self.fingerprint:
            raise ValueError(f"the data set {name!r} on Ray node {_node_ip()} differs from the server's (another "
                             f"version or download): install the same data there")
        _last_data = (self, data)
        return data


_last_data: tuple[_NamedData, LoadedData] | None = None  # a worker's last named set (jobs do not change their data)


@dataclasses.dataclass(frozen=True)
class _StoreSlot:
    """Stands for a run store in a job's arguments: a fresh store on the worker, holding the resumed run."""

    run: dict | None  # the resumed run's index row
    files: dict[str, bytes]

    def open(self, root: Path) -> RunStore:
        store = RunStore(root)
        if self.run is not None:
            store.put(RunInfo(**self.run), self.files)
        return store


class RayBackend:
    """Sends jobs to the Ray cluster at ``address``. ``fallback``: "local" runs a job on this server while the cluster
    is unreachable, "" fails it (default ``$CNNPG_RAY_FALLBACK``). ``gpu_resource``: what a job asking for the GPU
    needs of a node ("GPU": ``num_gpus=1``; another name: a custom resource). ``max_data_bytes``: the largest
    uploaded data set a job carries (default ``$CNNPG_RAY_MAX_DATA_MB`` MiB). ``init``: more ``ray.init`` arguments."""

    def __init__(self, address: str, *, fallback: str | None = None, gpu_resource: str = "GPU",
                 max_data_bytes: int | None = None, init: dict[str, Any] | None = None) -> None:
        if not address:
            raise ValueError(f"a Ray address is needed (auto, host:6379, ray://host:10001), got {address!r}")
        self.address = address
        self.fallback = fallback_from_env() if fallback is None else fallback
        if self.fallback not in FALLBACKS:
            raise ValueError(f"fallback must be 'local' or '', got {self.fallback!r}")
        self.gpu_resource = gpu_resource
        self.max_data_bytes = max_data_bytes if max_data_bytes is not None else \
            positive_int(MAX_DATA_ENV, DEFAULT_MAX_DATA_MB, "MiB of uploaded data per job sent to Ray") * 2**20
        self._init = dict(init or {})
        self._lock = threading.Lock()
        self._actor: Any = None

    def __repr__(self) -> str:
        return f"RayBackend({self.address!r})"

    # ------------------------------------------------------------------------------------------------ the cluster

    def connect(self) -> None:
        """Join the cluster (once per process); ``ClusterUnavailable`` with the reason when that cannot be done."""
        with self._lock:
            try:
                import ray
            except ImportError:
                raise ClusterUnavailable(f"{ADDRESS_ENV} is set but Ray is not installed on this server: "
                                         f"{INSTALL}") from None
            _check_reachable(self.address)
            if ray.is_initialized():  # this process joined a cluster already (the first job, a test)
                return
            try:
                ray.init(address=self.address, log_to_driver=False, **self._init)
            except Exception as e:  # noqa: BLE001 - ConnectionError, an auth mismatch, a version mismatch: all said
                raise ClusterUnavailable(f"the Ray cluster at {self.address} cannot be used: "
                                         f"{describe_error(e)}") from None

    def describe(self) -> str:
        """The cluster in words: its alive nodes and their resources."""
        nodes = _alive_nodes()
        return f"Ray cluster at {self.address}: {len(nodes)} node{'s' * (len(nodes) != 1)} " \
               f"({'; '.join(_resources_words(n) for n in nodes)})"

    def wants_gpu(self, device: str) -> bool:
        """Whether a job asking for ``device`` asks Ray for a GPU: "cuda" does; "auto" does when a node of the
        cluster has one (a page's default device trains on the cluster's GPUs), else it takes a CPU."""
        if device == "cuda":
            return True
        return device == "auto" and any(n.get(self.gpu_resource, 0) >= 1 for n in _alive_nodes())

    def options(self, gpu: bool) -> dict[str, Any]:
        """What a job asks of a node: one CPU, and the GPU when ``gpu``."""
        if not gpu:
            return {"num_cpus": 1}
        if self.gpu_resource == "GPU":
            return {"num_cpus": 1, "num_gpus": 1}
        return {"num_cpus": 1, "resources": {self.gpu_resource: 1}}

    def check_fits(self, options: dict[str, Any]) -> None:
        """``ValueError`` saying why when no alive node of the cluster has what ``options`` ask."""
        need = {"CPU": options.get("num_cpus", 0), "GPU": options.get("num_gpus", 0), **options.get("resources", {})}
        need = {k: v for k, v in need.items() if v}
        nodes = _alive_nodes()
        if any(all(n.get(k, 0) >= v for k, v in need.items()) for n in nodes):
            return
        have = "; ".join(_resources_words(n) for n in nodes) or "no alive node"
        gpu = "GPU" in need or self.gpu_resource in need
        hint = " — choose the device auto or cpu to train on a CPU node" if gpu else ""
        raise ValueError(f"no node of the Ray cluster can run this job: it needs {_resources_words(need)}, and the "
                         f"cluster has {have}{hint}")

    # ------------------------------------------------------------------------------------------------ one job

    def run(self, job: Job, fn: Callable[..., Any], args: tuple, kwargs: dict, local: Local) -> None:
        """The runner's thread body for ``job``: run ``fn(job, *args, **kwargs)`` on the cluster (or, when it is
        unreachable and the fallback is "local", with ``local``) and record how it ended on ``job``."""
        try:
            self.connect()
        except ClusterUnavailable as e:
            if self.fallback == "local":
                log.warning("job %s runs on this server: %s", job.id, e)
                job.placement.update(backend="local", why=str(e))
                local(job, fn, args, kwargs)
                return
            job._set_running()
            fail(job, f"{e}; set {FALLBACK_ENV}=local to run jobs on this server meanwhile")
            return

        job._set_running()
        logs: list[Any] = []
        try:
            store, payload = self._pack(job, fn, args, kwargs, logs)
            options = self.options(self.wants_gpu(_asked_device(args, kwargs, store)))
            self.check_fits(options)
        except Exception as e:  # noqa: BLE001 - a refusal (ValueError) or an argument that cannot travel
            fail(job, describe_error(e), traceback.format_exc())
            return
        settings = {k: v for k, v in os.environ.items()
                    if k.startswith(SETTINGS_PREFIX) and k not in (ADDRESS_ENV, FALLBACK_ENV, MAX_DATA_ENV)}
        try:
            control = self._control()
            ref = _remote().options(**options).remote(payload, job.id, job.owner, settings, control)
        except Exception as e:  # noqa: BLE001 - the cluster went away since it was joined
            fail(job, f"the job could not be sent to the Ray cluster at {self.address} ({_lost_words(e)})",
                 traceback.format_exc())
            return
        home = _Home(job, logs, store)
        try:
            self._pump(job, ref, control, home)
        finally:
            with contextlib.suppress(Exception):
                control.forget.remote(job.id)

    def _control(self) -> Any:
        """This server's control actor, on its own node (made on the first job, and again if it was lost)."""
        import ray

        from engine.jobs.ray_control import Control

        with self._lock:
            if self._actor is not None:
                try:
                    ray.get(self._actor.ready.remote(), timeout=CONNECT_SECONDS)
                    return self._actor
                except Exception:  # noqa: BLE001 - lost with its node or killed: a new one
                    self._actor = None
            here = ray.get_runtime_context().get_node_id()
            strategy = ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(here, soft=True)
            actor = ray.remote(num_cpus=0, max_restarts=0)(Control).options(scheduling_strategy=strategy).remote()
            ray.get(actor.ready.remote())
            self._actor = actor
            return actor

    def _pack(self, job: Job, fn: Callable[..., Any], args: tuple, kwargs: dict,
              logs: list[Any]) -> tuple[RunStore | None, bytes]:
        """The payload the worker unpickles, and the server's run store the job writes to (None: none)."""
        store = next((v for v in (*args, *kwargs.values()) if isinstance(v, RunStore)), None)
        kwargs = dict(kwargs)
        source = kwargs.get("init_from")
        if isinstance(source, str | Path):  # a run here or a weights file here: the weights travel themselves
            from engine.training.runs import load_state_dict

            kwargs["init_from"] = store.load_checkpoint(source).model if isinstance(source, str) and store is not \
                None and not Path(source).suffix else load_state_dict(source)

        def slot(value: Any) -> Any:
            if isinstance(value, RunStore):
                run_id = kwargs.get("run_id")
                if run_id is None:
                    return _StoreSlot(None, {})
                return _StoreSlot(value.info(run_id).to_dict(), value.files(run_id))
            if isinstance(value, LoadedData):
                return self._data(value)
            return _swap_logs(value, logs)

        log_slot = _swap_logs(job.log, logs)  # index 0
        payload = dumps((fn, log_slot, tuple(slot(a) for a in args), {k: slot(v) for k, v in kwargs.items()}))
        return store, payload

    def _data(self, data: LoadedData) -> Any:
        if data.origin is not None:
            return _NamedData(dict(data.origin), fingerprint(data))
        size = sum(part.images.nelement() * part.images.element_size() for part in (data.train, data.val))
        if size > self.max_data_bytes:
            raise ValueError(f"the data set {data.card.title!r} ({size / 2**20:.0f} MiB) is too big to send to the "
                             f"Ray cluster with the job (at most {self.max_data_bytes / 2**20:.0f} MiB: "
                             f"{MAX_DATA_ENV}); use a smaller set")
        return data

    def _pump(self, job: Job, ref: Any, control: Any, home: _Home) -> None:
        import ray

        asked = unstarted = False
        try:
            while True:
                if job.stop.is_set() and not asked:
                    control.request_stop.remote(job.id)
                    asked = True
                    if not job.placement:  # Ray has not started it on a node (none is free): it never will
                        unstarted = True
                        ray.cancel(ref)
                done, _ = ray.wait([ref], timeout=POLL_SECONDS)
                if home.handle(ray.get(control.take.remote(job.id))) and not asked:  # its run was deleted here
                    job.stop.set()
                if done:
                    break
            ending = pickle.loads(ray.get(ref))
        except Exception as e:  # noqa: BLE001 - the node, the worker or this process's link to the cluster is gone
            with contextlib.suppress(Exception):  # nobody here reads it any more: it must not train on
                ray.cancel(ref, force=True)
            if unstarted and isinstance(e, ray.exceptions.TaskCancelledError):
                with contextlib.suppress(Exception):  # it may have begun in the instant before the cancel
                    home.handle(ray.get(control.take.remote(job.id), timeout=CONNECT_SECONDS))
                interrupted = home.interrupt()
                job._finish("stopped", reason="stopped while it waited for a node of the Ray cluster" + (
                    f"; its run {', '.join(interrupted)} is interrupted, resumable" if interrupted else ""))
                return
            interrupted = home.interrupt()
            runs = f"; its run {', '.join(interrupted)} is interrupted, resumable from its last checkpoint" \
                if interrupted else ""
            what = "the Ray node running it was lost" if isinstance(e, ray.exceptions.RayError) else \
                "the link to the Ray cluster failed"
            fail(job, f"{what} ({_lost_words(e)}){runs}", traceback.format_exc())
            return
        if ending[0] == "result":
            conclude(job, ending[1])
        else:
            fail(job, ending[1], ending[2])


class _Home:
    """The server's side of one remote job: replays its log calls, writes its run's files into the store here."""

    def __init__(self, job: Job, logs: list[Any], store: RunStore | None) -> None:
        self.job, self.logs, self.store = job, logs, store
        self.runs: dict[str, str] = {}  # run id -> its last status here

    def handle(self, messages: list[bytes]) -> bool:
        """Take the job's messages; True when a run it trains was deleted here meanwhile (the job should stop)."""
        deleted = False
        for raw in messages:
            message = pickle.loads(raw)
            kind = message[0]
            if kind == "call":
                _, index, name, call_args, call_kwargs = message
                try:
                    getattr(self.logs[index], name)(*call_args, **call_kwargs)
                except Exception:  # noqa: BLE001 - a log that fails to take an event must not end the pumping
                    log.exception("job %s: replaying %s on its log failed", self.job.id, name)
            elif kind == "placement":
                self.job.placement.update(message[1])
            elif kind == "run" and self.store is not None:
                deleted |= self._put(message[1], message[2])
        return deleted

    def _put(self, row: dict, files: dict[str, bytes]) -> bool:
        run_id = row["id"]
        if run_id in self.runs and not self.store.exists(run_id):
            return True  # deleted here while it trained: not written back
        where = self.job.placement
        if where.get("node"):
            row = {**row, "device": f"{row['device']} on {where['node']}"}
        if "config.json" in files:  # the run records where it trained
            config = json.loads(files["config.json"])
            config["placement"] = {k: where[k] for k in ("backend", "node", "node_id", "device") if k in where}
            files = {**files, "config.json": json.dumps(config, indent=2, ensure_ascii=False).encode()}
        self.store.put(RunInfo(**row), files)
        self.runs[run_id] = row["status"]
        return False

    def interrupt(self) -> list[str]:
        """The runs still "running" here marked "interrupted" (their node is lost); their ids."""
        done = []
        for run_id, status in self.runs.items():
            if status == "running" and self.store is not None and self.store.exists(run_id):
                self.store.update(run_id, status="interrupted")
                done.append(run_id)
        return done


# ----------------------------------------------------------------------------------------------- on the cluster


class _Outbox:
    """A remote job's side of its control actor: a thread that sends the buffered events and the changed files of
    the runs in the job's store every ``FLUSH_SECONDS``, and sets ``stop`` when the server asks (or is gone)."""

    def __init__(self, control: Any, job_id: str) -> None:
        self.control, self.job_id = control, job_id
        self.stop = threading.Event()
        self.store: RunStore | None = None
        self._lock = threading.Lock()
        self._items: list[bytes] = []
        self._seen: dict[tuple[str, str], tuple[int, int]] = {}
        self._rows: dict[str, dict] = {}
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cnnpg-ray-outbox", daemon=True)
        self._thread.start()

    def send(self, message: tuple) -> None:
        with self._lock:
            self._items.append(dumps(message))

    def call(self, index: int, name: str, *call_args: Any, **call_kwargs: Any) -> None:
        self.send(("call", index, name, portable(call_args), portable(call_kwargs)))

    def close(self) -> None:
        """Send what is left, the runs' final files and rows included."""
        self._closed.set()
        self._thread.join()
        self._flush(final=True)

    def _loop(self) -> None:
        while not self._closed.wait(FLUSH_SECONDS):
            self._flush()

    def _flush(self, final: bool = False) -> None:
        import ray

        try:
            self._sync_runs(final)
        except Exception:  # noqa: BLE001 - a run read half-made now is sent at the next flush
            log.warning("run files not sent yet", exc_info=True)
        with self._lock:
            items, self._items = self._items, []
        try:
            stop = ray.get(self.control.exchange.remote(self.job_id, items))
        except Exception:  # noqa: BLE001 - the server (the actor's owner) is gone: nobody reads this job any more
            stop = True
        if stop:
            self.stop.set()

    def _sync_runs(self, final: bool = False) -> None:
        """Send the files of the job's runs that changed since the last call, with their index rows; the rows are
        read only then (and at the ``final`` call), so a flush costs a few ``stat`` calls while a run trains."""
        if self.store is None:
            return
        for folder in self.store.root.iterdir():
            if not (folder / "config.json").is_file():  # not a run, or one being made: the next flush sends it
                continue
            run_id, changed, keys = folder.name, {}, {}
            for name in RUN_FILES:
                try:
                    st = (folder / name).stat()
                except FileNotFoundError:
                    continue
                keys[name] = (st.st_mtime_ns, st.st_size)
                if self._seen.get((run_id, name)) != keys[name]:
                    changed[name] = (folder / name).read_bytes()
            if not changed and not final:
                continue
            try:
                row = self.store.info(run_id).to_dict()
            except RunError:  # its files are written before its row: the next flush sends it whole
                continue
            if changed or row != self._rows.get(run_id):
                self.send(("run", row, changed))
                self._rows[run_id] = row
                self._seen.update({(run_id, name): keys[name] for name in changed})


def _work(payload: bytes, job_id: str, owner: str, settings: dict[str, str], control: Any) -> bytes:
    """The remote task: run the job on this worker, reporting through ``control``; its ending, pickled."""
    for k in [k for k in os.environ if k.startswith(SETTINGS_PREFIX) and k not in settings]:
        del os.environ[k]
    os.environ.update(settings)
    outbox = _Outbox(control, job_id)
    root = Path(tempfile.mkdtemp(prefix="cnnpg-ray-"))
    try:
        fn, log_slot, args, kwargs = pickle.loads(payload)
        args, kwargs = _arrive(args, outbox, root), {k: _arrive([v], outbox, root)[0] for k, v in kwargs.items()}
        device, note = _device(args, kwargs)
        args = tuple(_on_device(a, device) for a in args)
        kwargs = {k: _on_device(v, device) for k, v in kwargs.items()}
        import ray

        outbox.send(("placement", {"backend": "ray", "node": _node_ip(), "node_id": _node_id(), "device": device,
                                   "resources": dict(ray.get_runtime_context().get_assigned_resources()),
                                   **({"note": note} if note else {})}))
        job = Job(job_id, owner)
        job.stop, job.log = outbox.stop, _arrive([log_slot], outbox, root)[0]
        job._set_running()
        result = fn(job, *args, **kwargs)
        try:
            ending = dumps(("result", portable(result)))
        except Exception as e:  # noqa: BLE001 - said in words rather than lost
            ending = dumps(("error", f"the job's result cannot be sent back to the server ({describe_error(e)})",
                            traceback.format_exc()))
    except Exception as e:  # noqa: BLE001 - any failure of the work is the job's, reported by its message
        ending = dumps(("error", describe_error(e), traceback.format_exc()))
    finally:
        outbox.close()
        shutil.rmtree(root, ignore_errors=True)
    return ending


def _arrive(values: Any, outbox: _Outbox, root: Path) -> Any:
    """A job's arguments on the worker: relays for the logs, a store of its own, the named data sets loaded."""

    def one(value: Any) -> Any:
        if isinstance(value, _Slot):
            return Relay(value.index, value.methods, outbox.call)
        if isinstance(value, _StoreSlot):
            outbox.store = value.open(root)
            return outbox.store
        if isinstance(value, _NamedData):
            return value.load()
        if isinstance(value, list | tuple) and any(isinstance(v, _Slot) for v in value):
            return type(value)(one(v) for v in value)
        return value

    return type(values)(one(v) for v in values)


def _device(args: tuple, kwargs: dict) -> tuple[str, str]:
    """The device the job computes on here, and a note when it asked for a GPU this node does not have (a node that
    offers a GPU resource torch cannot use)."""
    from engine.device import available

    asked = next((c.device for c in (*args, *kwargs.values()) if isinstance(getattr(c, "device", None), str)), "auto")
    have = available()
    if asked == "cuda" and "cuda" not in have:
        return "cpu", f"node {_node_ip()} has no CUDA device torch can use: trained on its CPU"
    return (have[0] if asked == "auto" else asked), ""


def _on_device(value: Any, device: str) -> Any:
    """A config asking for the GPU, on a node without one: the same config on ``device`` (its CPU)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and getattr(value, "device", None) == "cuda" \
            and device != "cuda":
        return dataclasses.replace(value, device=device)
    return value


def _asked_device(args: tuple, kwargs: dict, store: RunStore | None) -> str:
    """The device the job's config asks for ("auto" when none says; a resumed run without a config: its stored
    one's)."""
    configs = [v for v in (*args, *kwargs.values()) if isinstance(getattr(v, "device", None), str)]
    if configs:
        return "cuda" if any(c.device == "cuda" for c in configs) else configs[0].device
    run_id = kwargs.get("run_id")
    if store is not None and run_id is not None:
        return str(store.get(run_id).config.get("train", {}).get("device") or "auto")
    return "auto"


_task: Any = None


def _remote() -> Any:
    """The remote task (made once Ray is imported). It is never retried: a job whose worker died is the user's to
    resume, from its checkpoint."""
    global _task
    if _task is None:
        import ray

        _task = ray.remote(max_retries=0)(_work)
    return _task


def _check_reachable(address: str) -> None:
    """``ClusterUnavailable`` when ``host:port`` (or ``ray://host:port``) refuses a TCP connection or does not answer
    within ``CONNECT_SECONDS``; "auto" and "local" are left to ``ray.init``."""
    hostport = address.removeprefix("ray://")
    if ":" not in hostport:
        return
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS):
            pass
    except (OSError, ValueError) as e:
        raise ClusterUnavailable(f"the Ray cluster at {address} cannot be reached ({e})") from None


def _alive_nodes() -> list[dict[str, float]]:
    import ray

    return [dict(n.get("Resources", {})) for n in ray.nodes() if n.get("Alive")]


def _resources_words(resources: dict[str, float]) -> str:
    shown = {k: v for k, v in resources.items()
             if not k.startswith("node:") and k not in ("memory", "object_store_memory")}
    return ", ".join(f"{v:g} {k}" for k, v in sorted(shown.items())) or "nothing"


def _lost_words(e: BaseException) -> str:
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def _node_ip() -> str:
    import ray

    return ray.util.get_node_ip_address()


def _node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()

