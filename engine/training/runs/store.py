"""The run store: every training run on disk, indexed in SQLite.

A run is a folder ``<root>/<run_id>/`` holding

- ``config.json``  ``format``, the training config (``train``, with the task and its options), the dataset's card
  (``dataset``, with the kind of its targets), the normalisation stats (``stats``), the network's input shape, what
  ``fit`` adapted (``notes``) and where the weights started (``init_from``);
- ``spec.json``    the network spec (``engine.nets.spec`` JSON);
- ``metrics.json`` the history: one object per finished epoch, ``train`` and ``val`` mapping metric names to values;
- ``checkpoint.safetensors`` the model's weights and everything needed to resume (optimizer, scheduler, grad scaler,
  the job's random generators, the metrics half-way through an epoch, callbacks' states, position in the epoch).
  Tensors are safetensors tensors; the rest is JSON in the file's metadata (``engine.training.runs.files``).

``<root>/runs.sqlite`` indexes the runs (id, name, created, dataset, status, epochs, task, its primary metric, whether
higher is better, its best validation value, device, owner) for listing. A run's ``owner`` is the anonymous id of the
browser that started it ("" for runs from the CLI or from before owners: nobody's); ``list(owner=...)`` and
``visible(owner)`` give one owner's runs (and the runs others share with the class: ``share``), and renaming,
deleting, resuming or sharing another owner's run is refused here, not only hidden in a page. The index also keeps each
owner's short name and leaderboard choice (``set_name``, ``set_on_board``, ``people``: ``engine.training.runs.people``).
Each call opens its own connection and the
database is in WAL mode, so two sessions (threads or processes) can train and write at once. The files are the truth
for a run's content; the index is what ``list`` reads. Stores and runs written before tasks existed are read as
today's (``engine.training.runs.migrate``); docs/tasks-and-jobs.md describes the format.

A run's status is "running", "finished", "stopped" (resumable), "failed" or "interrupted": it was running when the
process training it died (a server killed or restarted). Liveness is decided honestly, not by a timeout: the process
training a run holds an exclusive ``flock`` on the run's ``.training.lock`` for as long as the run is "running", and
the operating system releases it when that process dies, however it dies (``kill -9`` too). Opening a store, listing
it and reading a "running" run's row try that lock; when nobody holds it, the run becomes "interrupted" — resumable
from its last checkpoint like a stopped run. Opening a store also removes the temporary files of killed writers
(``files.remove_stale_temps``).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as st_save

from engine.nets.build import Network, build
from engine.nets.spec import NetworkSpec, SpecError
from engine.training.runs.files import (
    CheckpointError,
    RunError,
    cpu_copy,
    decode,
    encode,
    read_json,
    read_safetensors,
    remove_stale_temps,
    write_bytes,
    write_text,
)
from engine.training.runs.migrate import (
    CHECKPOINT_FORMAT,
    COLUMNS,
    OLD_CHECKPOINT_FORMAT,
    RUN_FORMAT,
    migrate_checkpoint,
    migrate_config,
    migrate_history,
    migrate_index,
)
from engine.training.runs.people import Person, check_name
from engine.training.tasks import TASKS, Metric, Task, task_from_dict

ENV_VAR = "CNNPG_RUNS_DIR"
STATUSES = ("running", "finished", "stopped", "failed", "interrupted")
RUN_FILES = ("config.json", "spec.json", "metrics.json", "checkpoint.safetensors")  # a run's content: RunStore.files
LOCK_NAME = ".training.lock"  # held (flock) by the process training the run, while its status is "running"
_SCHEMA_LOCK = threading.Lock()
_HELD: dict[Path, int] = {}  # this process's training locks: the lock file -> its open descriptor
_HELD_LOCK = threading.Lock()
_SWEPT: set[Path] = set()  # stores whose stale temporary files this process removed
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM runs"


@dataclass(frozen=True)
class RunInfo:
    """One row of the index. ``metric`` is the task's primary metric and ``best`` its best validation value."""

    id: str
    name: str
    created: str  # ISO 8601, UTC
    dataset: str
    status: str  # one of STATUSES
    epochs: int  # finished epochs
    task: str  # the task's registry name ("classify")
    metric: str  # its primary metric ("accuracy")
    higher_is_better: bool
    best: float | None
    device: str
    owner: str = ""  # the browser's anonymous id that started it; "" = nobody's (the CLI, or before owners)
    shared: bool = False  # its owner shares it with the class: others see it (read-only)

    def __post_init__(self) -> None:
        object.__setattr__(self, "higher_is_better", bool(self.higher_is_better))
        object.__setattr__(self, "shared", bool(self.shared))

    @property
    def primary(self) -> Metric:
        """The primary metric's descriptor: the task's own when this engine knows the task, else a plain one."""
        if self.task in TASKS:
            for m in TASKS.get(self.task).metrics:
                if m.name == self.metric:
                    return m
        return Metric(self.metric, self.metric, self.higher_is_better)

    @property
    def best_val_acc(self) -> float | None:
        """``best`` when the primary metric is accuracy (classification), else None: for code written before tasks
        (use ``best`` and ``metric``)."""
        return self.best if self.metric == "accuracy" else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Run:
    """A run's index row and its files' content."""

    info: RunInfo
    path: Path
    config: dict[str, Any]
    spec: NetworkSpec
    history: list[dict[str, Any]]

    @property
    def has_checkpoint(self) -> bool:
        return (self.path / "checkpoint.safetensors").is_file()

    @property
    def task(self) -> Task:
        """The task the run learned, with its options (``ValueError`` for a task this engine does not know)."""
        return task_from_dict(self.config["train"]["task"])


@dataclass(frozen=True)
class Checkpoint:
    """``model``: the state dict (CPU tensors); ``state``: everything else, decoded (tensors inside are real)."""

    model: dict[str, torch.Tensor]
    state: dict[str, Any]


def default_root() -> Path:
    """``$CNNPG_RUNS_DIR``, else ``./runs``."""
    return Path(os.environ.get(ENV_VAR, "runs"))


class RunStore:
    """Runs under ``root`` (default: ``$CNNPG_RUNS_DIR`` or ``./runs``). Cheap to create; safe to share between
    threads (every call opens its own SQLite connection)."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.root.mkdir(parents=True, exist_ok=True)
        self.db = self.root / "runs.sqlite"
        self._create_schema()
        self._sweep()
        self._reap()

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    # ----------------------------------------------------------------------------------------------- writing

    def create(self, spec: NetworkSpec, config: dict[str, Any], *, dataset: str, task: Task, device: str = "",
               name: str | None = None, owner: str = "") -> str:
        """A new run folder with ``config.json`` (``config`` and today's ``format``), ``spec.json`` and an empty
        history, indexed with ``task``'s name and primary metric and its ``owner``; returns its id."""
        if not isinstance(task, Task):
            raise ValueError(f"task must be an engine.training.tasks.Task, got {type(task).__name__}")
        created = datetime.now(UTC)
        run_id = f"{created:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        folder = self.root / run_id
        folder.mkdir(parents=True)
        _hold(folder / LOCK_NAME, run_id)
        write_text(folder / "config.json", json.dumps({"format": RUN_FORMAT, **config}, indent=2, ensure_ascii=False))
        write_text(folder / "spec.json", spec.to_json())
        write_text(folder / "metrics.json", "[]")
        metric: Metric = task.primary_metric
        with self._connect() as con:
            con.execute(f"INSERT INTO runs ({', '.join(COLUMNS)}) "
                        f"VALUES (?, ?, ?, ?, 'running', 0, ?, ?, ?, NULL, ?, ?, 0)",
                        (run_id, name or run_id, created.isoformat(timespec="seconds"), dataset, task.name,
                         metric.name, int(metric.higher_is_better), device, str(owner)))
        return run_id

    def update(self, run_id: str, *, status: str | None = None, epochs: int | None = None,
               best: float | None = None, device: str | None = None) -> None:
        """Change the index row's fields that are given (``best``: the primary metric's best validation value)."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        changes = {k: v for k, v in dict(status=status, epochs=epochs, best=best,
                                         device=device).items() if v is not None}
        if not changes:
            return
        lock = self.root / self._check_id(run_id) / LOCK_NAME
        if status == "running":  # this process trains it now: it holds the run's lock (refused when another does)
            self._folder(run_id)
            _hold(lock, run_id)
        sets = ", ".join(f"{k} = ?" for k in changes)
        with self._connect() as con:
            done = con.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*changes.values(), self._check_id(run_id)))
        if status is not None and status != "running":
            _release(lock)
        if done.rowcount == 0:
            _release(lock)
            raise RunError(f"no run {run_id!r} in {self.root}")

    def write_history(self, run_id: str, history: list[dict[str, Any]]) -> None:
        """Replace ``metrics.json`` (atomically)."""
        write_text(self._folder(run_id) / "metrics.json", json.dumps(history, indent=1))

    def write_config(self, run_id: str, config: dict[str, Any]) -> None:
        """Replace ``config.json`` (atomically), in today's format."""
        write_text(self._folder(run_id) / "config.json",
                   json.dumps({**config, "format": RUN_FORMAT}, indent=2, ensure_ascii=False))

    def save_checkpoint(self, run_id: str, model_state: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
        """Write ``checkpoint.safetensors`` atomically: ``model_state`` under ``model/...``, ``state`` (nested dicts,
        lists, numbers, strings and tensors: an optimizer's ``state_dict()``, say) as JSON plus ``state/<n>``
        tensors."""
        tensors = {f"model/{k}": cpu_copy(v) for k, v in model_state.items()}
        encoded = encode(state, tensors)
        data = st_save(tensors, metadata={"format": CHECKPOINT_FORMAT, "state": json.dumps(encoded)})
        write_bytes(self._folder(run_id) / "checkpoint.safetensors", data)

    def files(self, run_id: str) -> dict[str, bytes]:
        """The run's files (those of ``RUN_FILES`` it has) as bytes: what a job sends to another machine with it
        (a Ray worker resuming the run: engine.jobs.ray)."""
        folder = self._folder(run_id)
        return {name: (folder / name).read_bytes() for name in RUN_FILES if (folder / name).is_file()}

    def put(self, info: RunInfo, files: dict[str, bytes]) -> None:
        """A run trained elsewhere (on a Ray worker: engine.jobs.ray) written here: ``files`` (only names of
        ``RUN_FILES``, each atomically) and its index row as ``info`` says — a new row, or the status, epochs, best and
        device of the existing one (its name and sharing are this store's). Status "running" takes the run's training
        lock for this process, which stands for the remote trainer; any other status lets it go."""
        unknown = sorted(set(files) - set(RUN_FILES))
        if unknown:
            raise RunError(f"run {info.id!r}: {', '.join(unknown)} are not run files ({', '.join(RUN_FILES)})")
        folder = self.root / self._check_id(info.id)
        folder.mkdir(exist_ok=True)
        lock = folder / LOCK_NAME
        if info.status == "running":
            _hold(lock, info.id)
        for name, data in files.items():
            write_bytes(folder / name, data)
        row = info.to_dict()
        with self._connect() as con:
            con.execute(f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
                        f"ON CONFLICT(id) DO UPDATE SET status = excluded.status, epochs = excluded.epochs, "
                        f"best = excluded.best, device = excluded.device", tuple(row[c] for c in COLUMNS))
        if info.status != "running":
            _release(lock)

    # ----------------------------------------------------------------------------------------------- reading

    def list(self, owner: str | None = None) -> list[RunInfo]:
        """Every run (``owner``'s only, when given), newest first."""
        where, args = ("", ()) if owner is None else (" WHERE owner = ?", (str(owner),))
        self._reap()
        with self._connect() as con:
            rows = con.execute(f"{_SELECT}{where} ORDER BY created DESC, rowid DESC", args).fetchall()
        return [RunInfo(*row) for row in rows]

    def visible(self, owner: str) -> list[RunInfo]:
        """The runs ``owner`` sees: their own, then those other owners share with the class (read-only to ``owner``),
        then nobody's (made from the CLI or before owners existed) — never another owner's unshared run. Newest first
        within each."""
        runs = self.list()
        return ([r for r in runs if r.owner == owner] + [r for r in runs if r.owner and r.owner != owner and r.shared]
                + [r for r in runs if not r.owner and owner])

    def info(self, run_id: str) -> RunInfo:
        with self._connect() as con:
            row = con.execute(f"{_SELECT} WHERE id = ?", (self._check_id(run_id),)).fetchone()
        if row is None:
            raise RunError(f"no run {run_id!r} in {self.root}")
        info = RunInfo(*row)
        if info.status == "running" and self._reap(run_id):
            return self.info(run_id)
        return info

    def exists(self, run_id: str) -> bool:
        """Whether the run is still here: its index row and its folder (False once deleted, even while it trains)."""
        with self._connect() as con:
            row = con.execute("SELECT 1 FROM runs WHERE id = ?", (self._check_id(run_id),)).fetchone()
        return row is not None and (self.root / run_id).is_dir()

    def get(self, run_id: str) -> Run:
        """The run's index row, config, spec and history (in today's format, however old the files)."""
        info = self.info(run_id)
        folder = self._folder(run_id)
        try:
            spec = NetworkSpec.from_json((folder / "spec.json").read_bytes())
        except (OSError, SpecError) as e:
            raise RunError(f"run {run_id!r}: cannot read spec.json ({e})") from None
        config = read_json(folder / "config.json", run_id)
        if not isinstance(config, dict):
            raise RunError(f"run {run_id!r}: config.json is not a run's config (not an object)")
        config = migrate_config(config)
        if not isinstance(config.get("train"), dict):  # issue 9: crafted run files are messages, not tracebacks
            raise RunError(f"run {run_id!r}: config.json is not a run's config (no train settings)")
        history = read_json(folder / "metrics.json", run_id)
        if not isinstance(history, list) or not all(isinstance(e, dict) for e in history):
            raise RunError(f"run {run_id!r}: metrics.json is not a run's history (not a list of epochs)")
        return Run(info, folder, config, spec, migrate_history(history))

    def load_checkpoint(self, run_id: str) -> Checkpoint:
        """The run's last checkpoint. Raises ``RunError`` when there is none, ``CheckpointError`` when the file is
        not a checkpoint (it is never unpickled)."""
        path = self._folder(run_id) / "checkpoint.safetensors"
        if not path.is_file():
            raise RunError(f"run {run_id!r} has no checkpoint yet (it stopped before its first batch finished)")
        tensors, metadata = read_safetensors(path.read_bytes(), str(path))
        if metadata.get("format") not in (CHECKPOINT_FORMAT, OLD_CHECKPOINT_FORMAT):
            raise CheckpointError(f"{path} is a safetensors file but not a CNN Playground checkpoint")
        model = {k.removeprefix("model/"): v for k, v in tensors.items() if k.startswith("model/")}
        try:  # crafted metadata is a message, never a traceback (issue 9)
            state = decode(json.loads(metadata["state"]), tensors)
            if metadata["format"] == OLD_CHECKPOINT_FORMAT:
                state = migrate_checkpoint(state)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as e:
            raise CheckpointError(f"{path}: its metadata is not a checkpoint's state ({type(e).__name__}: "
                                  f"{str(e)[:200]})") from None
        if not isinstance(state, dict):
            raise CheckpointError(f"{path}: its metadata is not a checkpoint's state (not an object)")
        return Checkpoint(model, state)

    def load_model(self, run_id: str, device: torch.device | str = "cpu") -> Network:
        """The run's network with its last checkpoint's weights, in eval mode."""
        run = self.get(run_id)
        model = build(run.spec, seed=0)  # a private generator (the global one is never touched); weights follow
        try:
            model.load_state_dict(self.load_checkpoint(run_id).model)
        except RuntimeError as e:
            raise CheckpointError(f"run {run_id!r}: the checkpoint does not match spec.json ({e})") from None
        return model.to(device).eval()

    def compare(self, run_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The histories of several runs, by id (for overlaying their curves)."""
        return {run_id: self.get(run_id).history for run_id in run_ids}

    # ----------------------------------------------------------------------------------------------- managing

    def rename(self, run_id: str, name: str, *, by: str | None = None) -> None:
        """Rename a run; ``by`` (an owner) may rename only their own runs and nobody's."""
        name = name.strip()
        if not name:
            raise ValueError("a run's name cannot be empty")
        self._check_owner(run_id, by, "rename")
        with self._connect() as con:
            done = con.execute("UPDATE runs SET name = ? WHERE id = ?", (name, self._check_id(run_id)))
        if done.rowcount == 0:
            raise RunError(f"no run {run_id!r} in {self.root}")

    def delete(self, run_id: str, *, by: str | None = None) -> None:
        """Remove the run's folder and its index row; ``by`` (an owner) may delete only their own runs and nobody's."""
        self._check_owner(run_id, by, "delete")  # raises for an unknown id too
        with self._connect() as con:  # the row first: a trainer that finds its row gone ends the run (loop.fit)
            con.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        _release(self.root / run_id / LOCK_NAME)
        shutil.rmtree(self.root / run_id, ignore_errors=True)

    def discard(self, run_id: str) -> None:
        """After ``delete`` (by any process) of a run this process trained: remove what a write racing the deletion
        left of its folder, and let go of its lock. Does nothing to a run still in the index."""
        with self._connect() as con:
            if con.execute("SELECT 1 FROM runs WHERE id = ?", (self._check_id(run_id),)).fetchone() is not None:
                return
        _release(self.root / run_id / LOCK_NAME)
        shutil.rmtree(self.root / run_id, ignore_errors=True)

    def path(self, run_id: str) -> Path:
        return self._folder(run_id)

    def share(self, run_id: str, shared: bool, *, by: str) -> None:
        """Share the run with the class (others see it, read-only: ``visible``), or stop sharing it. Only its owner
        ``by`` may (``PermissionError``); nobody's runs are everyone's already (``ValueError``)."""
        owner = self.info(run_id).owner
        if not owner:
            raise ValueError(f"run {run_id!r} belongs to nobody (the command line's): everyone sees it already")
        if owner != by:
            raise PermissionError(f"run {run_id!r} belongs to someone else: only its owner can share it")
        with self._connect() as con:
            con.execute("UPDATE runs SET shared = ? WHERE id = ?", (int(bool(shared)), run_id))

    def check_owner(self, run_id: str, by: str | None, what: str) -> None:
        """``PermissionError`` when ``by`` is an owner and the run is another owner's (None: the server itself);
        ``what`` names the refused action ("resume")."""
        self._check_owner(run_id, by, what)

    # ----------------------------------------------------------------------------------------------- people

    def set_name(self, owner: str, name: str) -> str:
        """Set ``owner``'s short name (``people.check_name``: ``ValueError`` naming the limit it breaks); returns it
        as kept."""
        name = check_name(name)
        self._person(owner, "name", name)
        return name

    def set_on_board(self, owner: str, on: bool) -> None:
        """Whether ``owner`` takes part in the class leaderboard (their best runs shown to the teacher, by name)."""
        self._person(owner, "on_board", int(bool(on)))

    def person(self, owner: str) -> Person:
        """``owner``'s name and leaderboard choice (an empty ``Person`` for an owner who set neither)."""
        with self._connect() as con:
            row = con.execute("SELECT name, on_board FROM people WHERE owner = ?", (str(owner),)).fetchone()
        return Person(row[0], bool(row[1])) if row else Person()

    def people(self) -> dict[str, Person]:
        """Every owner who set a name or a leaderboard choice, by owner id (for the server's own pages only: an owner
        id is a browser's secret, never shown)."""
        with self._connect() as con:
            rows = con.execute("SELECT owner, name, on_board FROM people").fetchall()
        return {owner: Person(name, bool(on)) for owner, name, on in rows}

    def _person(self, owner: str, column: str, value: str | int) -> None:
        if not isinstance(owner, str) or not owner:
            raise ValueError("only an owner (a browser) has a name and a leaderboard choice, not nobody ('')")
        with self._connect() as con:
            con.execute(f"INSERT INTO people (owner, {column}) VALUES (?, ?) "
                        f"ON CONFLICT(owner) DO UPDATE SET {column} = excluded.{column}", (owner, value))

    # ----------------------------------------------------------------------------------------------- helpers

    def _create_schema(self) -> None:
        """WAL mode and the table (created, or migrated from format 1: ``migrate.migrate_index``). Switching the
        journal mode takes the database exclusively and SQLite answers "database is locked" at once (without
        waiting) when another connection has it open: two sessions opening a new store together would fail, so this
        is serialised in the process and retried across processes."""
        with _SCHEMA_LOCK:
            for attempt in range(50):
                try:
                    with closing(sqlite3.connect(self.db, timeout=30, isolation_level=None)) as con:
                        con.execute("PRAGMA journal_mode=WAL")
                        migrate_index(con)
                    return
                except sqlite3.OperationalError as e:
                    if "locked" not in str(e) or attempt == 49:
                        raise
                    time.sleep(0.1)

    def _sweep(self) -> None:
        """Remove the temporary files of killed writers, once per store and process (``files.remove_stale_temps``;
        those of a run found interrupted later go when it is: ``_reap``)."""
        root = self.root.resolve()
        if root in _SWEPT:
            return
        _SWEPT.add(root)
        for folder in self.root.iterdir():
            if folder.is_dir() and _RUN_ID.fullmatch(folder.name):
                remove_stale_temps(folder, keep=frozenset({LOCK_NAME}))

    def _reap(self, run_id: str | None = None) -> list[str]:
        """Mark "interrupted" the "running" runs (``run_id`` only, when given) that no process trains any more:
        nobody holds their lock; their dead writers' temporary files go. Returns their ids."""
        with self._connect() as con:
            if run_id is None:
                ids = [r[0] for r in con.execute("SELECT id FROM runs WHERE status = 'running'")]
            else:
                ids = [run_id] if con.execute("SELECT 1 FROM runs WHERE id = ? AND status = 'running'",
                                              (run_id,)).fetchone() else []
        reaped = []
        for rid in ids:
            lock = self.root / rid / LOCK_NAME
            with _probe(lock) as free:  # holding the lock while the row changes: a resume waits for it
                if not free:
                    continue
                with self._connect() as con:
                    con.execute("UPDATE runs SET status = 'interrupted' WHERE id = ? AND status = 'running'", (rid,))
                if (self.root / rid).is_dir():  # what its dead writer left half-written
                    remove_stale_temps(self.root / rid, keep=frozenset({LOCK_NAME}))
                reaped.append(rid)
        return reaped

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection, one transaction: committed on success, rolled back on an exception, then closed."""
        with closing(sqlite3.connect(self.db, timeout=30)) as con, con:
            yield con

    def _check_owner(self, run_id: str, by: str | None, what: str) -> None:
        """``PermissionError`` when ``by`` is an owner and the run is another owner's (None: the server itself)."""
        owner = self.info(run_id).owner
        if by is not None and owner and owner != by:
            raise PermissionError(f"run {run_id!r} belongs to someone else: only its owner can {what} it")

    def _check_id(self, run_id: str) -> str:
        if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
            raise RunError(f"{run_id!r} is not a run id (letters, digits, '-' and '_')")
        return run_id

    def _folder(self, run_id: str) -> Path:
        folder = self.root / self._check_id(run_id)
        if not folder.is_dir():
            raise RunError(f"no run {run_id!r} in {self.root}")
        return folder


def _hold(lock: Path, run_id: str) -> None:
    """Take run ``run_id``'s training lock for this process (kept until ``_release``, or until the process dies).
    ``RunError`` when another process holds it: that process trains the run now."""
    lock = lock.absolute()  # one key per file, however the store's root was spelled
    with _HELD_LOCK:
        if lock in _HELD:
            return
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunError(f"run {run_id!r} is training in another process now; stop it there first") from None
        _HELD[lock] = fd


def _release(lock: Path) -> None:
    lock = lock.absolute()  # one key per file, however the store's root was spelled
    with _HELD_LOCK:
        fd = _HELD.pop(lock, None)
    if fd is not None:
        os.close(fd)  # closing the descriptor releases the flock


@contextmanager
def _probe(lock: Path) -> Iterator[bool]:
    """True (holding the lock meanwhile) when no process holds ``lock``, this one included; False otherwise."""
    lock = lock.absolute()  # one key per file, however the store's root was spelled
    with _HELD_LOCK:  # this process's own _hold waits meanwhile
        if lock in _HELD:
            yield False
            return
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # the run's folder is gone: nobody can be training it
            yield True
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)
