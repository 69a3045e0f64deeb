"""A run's files: safetensors in and out (never unpickling), a nested state as JSON plus tensors, atomic writes.

Nothing here is ever unpickled: checkpoints and weights are read with safetensors, and the only other weights format
accepted (``.pt``/``.pth`` state dicts) goes through ``torch.load(weights_only=True)``. Files are written to a
temporary file beside the target and renamed over it, so a reader sees the old or the new file, whole. A temporary
file is named ``.<target>.<writer's pid>.<random>.tmp``; one left behind by a killed writer is removed when a store is
opened (``remove_stale_temps``).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load


class RunError(ValueError):
    """An unknown run id, a missing or unreadable run file. The message names the run and the file."""


class CheckpointError(RunError):
    """A checkpoint or weights file that is not a safetensors file (or a weights-only state dict)."""


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


def encode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        key = f"state/{len(tensors)}"  # unique: the dict only grows
        tensors[key] = cpu_copy(obj)
        return {"__tensor__": key}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: encode(v, tensors) for k, v in obj.items()}
        return {"__items__": [[encode(k, tensors), encode(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [encode(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [encode(v, tensors) for v in obj]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in a checkpoint (only numbers, strings, lists, dicts and "
                    f"tensors)")


def decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__tuple__" in obj:
            return tuple(decode(v, tensors) for v in obj["__tuple__"])
        if "__items__" in obj:
            return {decode(k, tensors): decode(v, tensors) for k, v in obj["__items__"]}
        return {k: decode(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode(v, tensors) for v in obj]
    return obj


def cpu_copy(t: torch.Tensor) -> torch.Tensor:
    """A contiguous CPU copy that shares no storage (safetensors refuses shared or strided tensors)."""
    return t.detach().to("cpu", copy=True).contiguous()


# --------------------------------------------------------------------------------------------------- files


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it over: readers see the old or the new file, whole."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path, run_id: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise RunError(f"run {run_id!r}: cannot read {path.name} ({e})") from None


STALE_TEMP_SECONDS = 300  # a temporary file older than this is a dead write whoever wrote it


def remove_stale_temps(folder: Path, keep: frozenset[str] = frozenset(), max_age: float = STALE_TEMP_SECONDS) -> int:
    """Remove the temporary files (``write_bytes``) in ``folder`` whose writer process is gone, or that are older
    than ``max_age`` seconds (a writer on another machine, a reused pid, or a temporary file of before pids were in
    the name); hidden files named in ``keep`` stay. Returns the bytes freed."""
    freed, now = 0, time.time()
    for f in folder.glob(".*"):
        if f.name in keep or not f.is_file():
            continue
        parts = f.name.split(".")  # ['', target..., pid, random, 'tmp']
        pid = int(parts[-3]) if f.name.endswith(".tmp") and len(parts) >= 5 and parts[-3].isdigit() else None
        try:
            stat = f.stat()
            if now - stat.st_mtime > max_age or (pid is not None and pid != os.getpid() and not pid_alive(pid)):
                f.unlink()
                freed += stat.st_size
        except FileNotFoundError:  # its writer renamed it just now
            continue
    return freed


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
