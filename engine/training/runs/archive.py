"""A class's runs in one zip, for the teacher's "End the lesson" (docs/classroom.md): nothing pickled, every file one a
student or a script can read without this project.

The archive holds ``index.json`` (one object per run: its id, name, the student's short name, data set, task, primary
metric and best validation value, status, epochs, created; never the owner id, a browser's secret) and, per run, a
folder ``<run_id>/`` with its ``config.json``, ``spec.json`` and ``metrics.json`` as stored, and ``model.safetensors``:
the weights of its last checkpoint (the state dict only; ``safetensors.torch.load_file`` reads it, and
``engine.nets.build(spec)`` takes it). A run whose files cannot be read is listed with its ``problem`` and kept out.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Mapping
from typing import BinaryIO

from safetensors.torch import save as st_save

from engine.training.runs.files import CheckpointError, RunError
from engine.training.runs.people import Person, shown_name
from engine.training.runs.store import RunInfo, RunStore

FORMAT = "cnnpg-class-export-1"
_FILES = ("config.json", "spec.json", "metrics.json")


def export_runs(store: RunStore, runs: Iterable[RunInfo], people: Mapping[str, Person], out: BinaryIO) -> int:
    """Write the zip of ``runs`` (from ``store``) described in the module docstring into ``out`` (a file open for
    writing: a class of large networks makes a large zip, so it goes to disk, not memory); returns the runs written
    with their files."""
    index = []
    written = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for r in runs:
            entry = {"id": r.id, "name": r.name, "student": shown_name(r.owner, people) if r.owner else "",
                     "dataset": r.dataset, "task": r.task, "metric": r.metric, "best": r.best, "status": r.status,
                     "epochs": r.epochs, "created": r.created}
            try:
                folder = store.path(r.id)
                files = {name: (folder / name).read_bytes() for name in _FILES}
                weights = st_save(store.load_checkpoint(r.id).model) if (folder / "checkpoint.safetensors").is_file() \
                    else None
            except (OSError, RunError, CheckpointError) as e:
                entry["problem"] = str(e)
                index.append(entry)
                continue
            for name, data in files.items():
                zf.writestr(f"{r.id}/{name}", data)
            if weights is not None:  # weights hardly compress: stored as they are
                zf.writestr(zipfile.ZipInfo(f"{r.id}/model.safetensors"), weights, zipfile.ZIP_STORED)
            entry["weights"] = weights is not None
            index.append(entry)
            written += 1
        zf.writestr("index.json", json.dumps({"format": FORMAT, "runs": index}, indent=1, ensure_ascii=False))
    return written
