"""The run store: every training run on disk, indexed in SQLite.

A run is a folder ``<root>/<run_id>/`` holding

- ``config.json``  the training config, the dataset's card, the normalisation stats and what ``fit`` adapted;
- ``spec.json``    the network spec (``engine.nets.spec`` JSON);
- ``metrics.json`` the history: one object per finished epoch;
- ``checkpoint.safetensors`` the model's weights and everything needed to resume (optimizer, scheduler, grad scaler,
  random state, position in the epoch). Tensors are safetensors tensors; the rest is JSON in the file's metadata.

Nothing here is ever unpickled: checkpoints are read with safetensors, and the only other weights format accepted
(``.pt``/``.pth`` state dicts) goes through ``torch.load(weights_only=True)``.

``<root>/runs.sqlite`` indexes the runs (id, name, created, dataset, status, epochs, best validation accuracy,
device) for listing. Each call opens its own connection and the database is in WAL mode, so two sessions (threads or
processes) can train and write at once. The files are the truth for a run's content; the index is what ``list``
reads.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from engine.nets.build import Network, build
from engine.nets.spec import NetworkSpec, SpecError

ENV_VAR = "CNNPG_RUNS_DIR"
STATUSES = ("running", "finished", "stopped", "failed")
CHECKPOINT_FORMAT = "cnnpg-checkpoint-1"
_SCHEMA_LOCK = threading.Lock()
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created TEXT NOT NULL,
    dataset TEXT NOT NULL,
    status TEXT NOT NULL,
    epochs INTEGER NOT NULL DEFAULT 0,
    best_val_acc REAL,
    device TEXT NOT NULL DEFAULT ''
)
"""


class RunError(ValueError):
    """An unknown run id, a missing or unreadable run file. The message names the run and the file."""


class CheckpointError(RunError):
    """A checkpoint or weights file that is not a safetensors file (or a weights-only state dict)."""


@dataclass(frozen=True)
class RunInfo:
    """One row of the index."""

    id: str
    name: str
    created: str  # ISO 8601, UTC
    dataset: str
    status: str  # one of STATUSES
    epochs: int  # finished epochs
    best_val_acc: float | None
    device: str

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

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    # ----------------------------------------------------------------------------------------------- writing

    def create(self, spec: NetworkSpec, config: dict[str, Any], *, dataset: str, device: str = "",
               name: str | None = None) -> str:
        """A new run folder with ``config.json``, ``spec.json`` and an empty history; returns its id."""
        created = datetime.now(UTC)
        run_id = f"{created:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        folder = self.root / run_id
        folder.mkdir(parents=True)
        _write_text(folder / "config.json", json.dumps(config, indent=2, ensure_ascii=False))
        _write_text(folder / "spec.json", spec.to_json())
        _write_text(folder / "metrics.json", "[]")
        with self._connect() as con:
            con.execute("INSERT INTO runs (id, name, created, dataset, status, epochs, best_val_acc, device) "
                        "VALUES (?, ?, ?, ?, 'running', 0, NULL, ?)",
                        (run_id, name or run_id, created.isoformat(timespec="seconds"), dataset, device))
        return run_id

    def update(self, run_id: str, *, status: str | None = None, epochs: int | None = None,
               best_val_acc: float | None = None, device: str | None = None) -> None:
        """Change the index row's fields that are given."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        changes = {k: v for k, v in dict(status=status, epochs=epochs, best_val_acc=best_val_acc,
                                         device=device).items() if v is not None}
        if not changes:
            return
        sets = ", ".join(f"{k} = ?" for k in changes)
        with self._connect() as con:
            done = con.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*changes.values(), self._check_id(run_id)))
        if done.rowcount == 0:
            raise RunError(f"no run {run_id!r} in {self.root}")

    def write_history(self, run_id: str, history: list[dict[str, Any]]) -> None:
        """Replace ``metrics.json`` (atomically)."""
        _write_text(self._folder(run_id) / "metrics.json", json.dumps(history, indent=1))

    def write_config(self, run_id: str, config: dict[str, Any]) -> None:
        _write_text(self._folder(run_id) / "config.json", json.dumps(config, indent=2, ensure_ascii=False))

    def save_checkpoint(self, run_id: str, model_state: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
        """Write ``checkpoint.safetensors`` atomically: ``model_state`` under ``model/...``, ``state`` (nested dicts,
        lists, numbers, strings and tensors: an optimizer's ``state_dict()``, say) as JSON plus ``state/<n>``
        tensors."""
        tensors = {f"model/{k}": _cpu(v) for k, v in model_state.items()}
        encoded = _encode(state, tensors)
        data = st_save(tensors, metadata={"format": CHECKPOINT_FORMAT, "state": json.dumps(encoded)})
        _write_bytes(self._folder(run_id) / "checkpoint.safetensors", data)

    # ----------------------------------------------------------------------------------------------- reading

    def list(self) -> list[RunInfo]:
        """Every run, newest first."""
        with self._connect() as con:
            rows = con.execute("SELECT id, name, created, dataset, status, epochs, best_val_acc, device FROM runs "
                               "ORDER BY created DESC, rowid DESC").fetchall()
        return [RunInfo(*row) for row in rows]

    def info(self, run_id: str) -> RunInfo:
        with self._connect() as con:
            row = con.execute("SELECT id, name, created, dataset, status, epochs, best_val_acc, device FROM runs "
                              "WHERE id = ?", (self._check_id(run_id),)).fetchone()
        if row is None:
            raise RunError(f"no run {run_id!r} in {self.root}")
        return RunInfo(*row)

    def get(self, run_id: str) -> Run:
        """The run's index row, config, spec and history."""
        info = self.info(run_id)
        folder = self._folder(run_id)
        try:
            spec = NetworkSpec.from_json((folder / "spec.json").read_bytes())
        except (OSError, SpecError) as e:
            raise RunError(f"run {run_id!r}: cannot read spec.json ({e})") from None
        return Run(info, folder, _read_json(folder / "config.json", run_id), spec,
                   _read_json(folder / "metrics.json", run_id))

    def load_checkpoint(self, run_id: str) -> Checkpoint:
        """The run's last checkpoint. Raises ``RunError`` when there is none, ``CheckpointError`` when the file is
        not a checkpoint (it is never unpickled)."""
        path = self._folder(run_id) / "checkpoint.safetensors"
        if not path.is_file():
            raise RunError(f"run {run_id!r} has no checkpoint yet (it stopped before its first batch finished)")
        tensors, metadata = read_safetensors(path.read_bytes(), str(path))
        if metadata.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{path} is a safetensors file but not a CNN Playground checkpoint")
        model = {k.removeprefix("model/"): v for k, v in tensors.items() if k.startswith("model/")}
        return Checkpoint(model, _decode(json.loads(metadata["state"]), tensors))

    def load_model(self, run_id: str, device: torch.device | str = "cpu") -> Network:
        """The run's network with its last checkpoint's weights, in eval mode."""
        run = self.get(run_id)
        model = build(run.spec)
        try:
            model.load_state_dict(self.load_checkpoint(run_id).model)
        except RuntimeError as e:
            raise CheckpointError(f"run {run_id!r}: the checkpoint does not match spec.json ({e})") from None
        return model.to(device).eval()

    def compare(self, run_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The histories of several runs, by id (for overlaying their curves)."""
        return {run_id: self.get(run_id).history for run_id in run_ids}

    # ----------------------------------------------------------------------------------------------- managing

    def rename(self, run_id: str, name: str) -> None:
        name = name.strip()
        if not name:
            raise ValueError("a run's name cannot be empty")
        with self._connect() as con:
            done = con.execute("UPDATE runs SET name = ? WHERE id = ?", (name, self._check_id(run_id)))
        if done.rowcount == 0:
            raise RunError(f"no run {run_id!r} in {self.root}")

    def delete(self, run_id: str) -> None:
        """Remove the run's folder and its index row."""
        self.info(run_id)  # raises for an unknown id
        shutil.rmtree(self.root / run_id, ignore_errors=True)
        with self._connect() as con:
            con.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    def path(self, run_id: str) -> Path:
        return self._folder(run_id)

    # ----------------------------------------------------------------------------------------------- helpers

    def _create_schema(self) -> None:
        """WAL mode and the table. Switching the journal mode takes the database exclusively and SQLite answers
        "database is locked" at once (without waiting) when another connection has it open: two sessions opening a
        new store together would fail, so this is serialised in the process and retried across processes."""
        with _SCHEMA_LOCK:
            for attempt in range(50):
                try:
                    with self._connect() as con:
                        con.execute("PRAGMA journal_mode=WAL")
                        con.execute(_SCHEMA)
                    return
                except sqlite3.OperationalError as e:
                    if "locked" not in str(e) or attempt == 49:
                        raise
                    time.sleep(0.1)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection, one transaction: committed on success, rolled back on an exception, then closed."""
        with closing(sqlite3.connect(self.db, timeout=30)) as con, con:
            yield con

    def _check_id(self, run_id: str) -> str:
        if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
            raise RunError(f"{run_id!r} is not a run id (letters, digits, '-' and '_')")
        return run_id

    def _folder(self, run_id: str) -> Path:
        folder = self.root / self._check_id(run_id)
        if not folder.is_dir():
            raise RunError(f"no run {run_id!r} in {self.root}")
        return folder


# --------------------------------------------------------------------------------------------------- safe weights


def read_safetensors(data: bytes, where: str = "the file") -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file's bytes; ``CheckpointError`` naming ``where`` otherwise."""
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError) as e:
        raise CheckpointError(f"{where} is not a safetensors file ({e}); weights are only read from safetensors "
                              f"or weights-only state dicts, never unpickled") from None
    return tensors, _safetensors_metadata(data)


def _safetensors_metadata(data: bytes) -> dict[str, str]:
    # the header: 8 bytes little-endian length, then JSON with an optional "__metadata__" object
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    return dict(header.get("__metadata__") or {})


def load_state_dict(source: Path | str | bytes) -> dict[str, torch.Tensor]:
    """A state dict from a ``.safetensors`` file (or its bytes), or a ``.pt``/``.pth`` file read with
    ``torch.load(weights_only=True)``. Anything else, or a file that needs unpickling, is a ``CheckpointError``."""
    if isinstance(source, bytes):
        return read_safetensors(source, "the uploaded weights")[0]
    path = Path(source)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e.strerror or e}") from None
    if path.suffix == ".safetensors":
        tensors, _ = read_safetensors(data, str(path))
        return {k.removeprefix("model/"): v for k, v in tensors.items() if not k.startswith("state/")}
    if path.suffix in (".pt", ".pth"):
        try:
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, EOFError ...
            raise CheckpointError(f"{path} is not a weights-only state dict ({str(e).splitlines()[0]}); "
                                  f"it was not unpickled") from None
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise CheckpointError(f"{path} does not hold a state dict (a mapping of names to tensors)")
        return state
    raise CheckpointError(f"{path}: weights must be a .safetensors file (or a .pt/.pth state dict)")


# --------------------------------------------------------------------------------------------------- state encoding
# A nested state (an optimizer's state_dict: int keys, tuples, tensors) as JSON plus named tensors, exactly
# round-tripped: tensors become {"__tensor__": "state/<n>"}, tuples {"__tuple__": [...]}, dicts with non-string keys
# {"__items__": [[key, value], ...]}.


def _encode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        key = f"state/{len(tensors)}"  # unique: the dict only grows
        tensors[key] = _cpu(obj)
        return {"__tensor__": key}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, tensors) for k, v in obj.items()}
        return {"__items__": [[_encode(k, tensors), _encode(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, tensors) for v in obj]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in a checkpoint (only numbers, strings, lists, dicts and "
                    f"tensors)")


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__tuple__" in obj:
            return tuple(_decode(v, tensors) for v in obj["__tuple__"])
        if "__items__" in obj:
            return {_decode(k, tensors): _decode(v, tensors) for k, v in obj["__items__"]}
        return {k: _decode(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    return obj


def _cpu(t: torch.Tensor) -> torch.Tensor:
    """A contiguous CPU copy that shares no storage (safetensors refuses shared or strided tensors)."""
    return t.detach().to("cpu", copy=True).contiguous()


# --------------------------------------------------------------------------------------------------- files


def _write_text(path: Path, text: str) -> None:
    _write_bytes(path, text.encode("utf-8"))


def _write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it over: readers see the old or the new file, whole."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path, run_id: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise RunError(f"run {run_id!r}: cannot read {path.name} ({e})") from None
