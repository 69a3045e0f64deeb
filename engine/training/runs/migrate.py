"""Runs written before tasks existed, read as if written today: nothing is lost, nothing is guessed.

Format 1 (every run made before the task interface) knew only classification:

- the index table had a ``best_val_acc`` column; now it has ``task``, ``metric``, ``higher_is_better`` and ``best``
  (the primary metric's best validation value). ``migrate_index`` rebuilds the table once, when a store is opened
  (in one write transaction, so two processes opening it together migrate it once), and marks the database with
  ``PRAGMA user_version = INDEX_VERSION``;
- ``config.json`` had ``train.label_smoothing`` and no task: the task is classification with that label smoothing,
  and the targets were class ids (``migrate_config``);
- ``metrics.json`` had flat ``train_loss``/``train_acc``/``val_loss``/``val_acc``; now ``train`` and ``val`` map
  metric names to values (``migrate_history``);
- the checkpoint (``cnnpg-checkpoint-1``) kept torch's global random state (``rng``) and a running ``correct`` count
  in its progress; now the dropout generator's state and the accuracy meter's sums (``migrate_checkpoint``). The old
  global state drove dropout, so on the CPU the new dropout generator takes it over and the resumed run continues
  exactly as the old code would have.

Index version 2 had no ``owner`` column: it is added, empty, for every run made before owners existed (nobody's
runs; see ``RunStore.visible``). Index version 3 had no ``shared`` column (a run its owner shares with the class) and
no ``people`` table (each owner's short name and leaderboard choice): they are added, not shared and empty.

Run folders are migrated as they are read, in memory; a resumed run writes its files in today's format.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

import torch

RUN_FORMAT = "cnnpg-run-2"  # config.json's "format"; absent means format 1
CHECKPOINT_FORMAT = "cnnpg-checkpoint-2"
OLD_CHECKPOINT_FORMAT = "cnnpg-checkpoint-1"
INDEX_VERSION = 4  # PRAGMA user_version of a migrated (or new) index

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created TEXT NOT NULL,
    dataset TEXT NOT NULL,
    status TEXT NOT NULL,
    epochs INTEGER NOT NULL DEFAULT 0,
    task TEXT NOT NULL,
    metric TEXT NOT NULL,
    higher_is_better INTEGER NOT NULL,
    best REAL,
    device TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT '',
    shared INTEGER NOT NULL DEFAULT 0
)
"""
PEOPLE_SCHEMA = """
CREATE TABLE IF NOT EXISTS people (
    owner TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    on_board INTEGER NOT NULL DEFAULT 0
)
"""
COLUMNS = ("id", "name", "created", "dataset", "status", "epochs", "task", "metric", "higher_is_better", "best",
           "device", "owner", "shared")
_OLD_METRICS = {"train_loss": ("train", "loss"), "train_acc": ("train", "accuracy"),
                "val_loss": ("val", "loss"), "val_acc": ("val", "accuracy")}


def migrate_index(con: sqlite3.Connection) -> bool:
    """Create the table, or rebuild a format-1 one with the new columns; True when rows were migrated. ``con`` must
    be in autocommit mode (``isolation_level=None``): this takes the write lock itself, unless the index is already
    today's (a read)."""
    if con.execute("PRAGMA user_version").fetchone()[0] >= INDEX_VERSION:
        return False
    con.execute("BEGIN IMMEDIATE")  # the write lock first: another process migrating waits, then finds it done
    try:
        columns = [row[1] for row in con.execute("PRAGMA table_info(runs)")]
        migrated = "best_val_acc" in columns and "best" not in columns
        if migrated:
            con.execute(SCHEMA.replace("runs (", "runs_v2 (", 1))
            con.execute(f"INSERT INTO runs_v2 ({', '.join(COLUMNS)}) SELECT id, name, created, dataset, status, "
                        f"epochs, 'classify', 'accuracy', 1, best_val_acc, device, '', 0 FROM runs")
            con.execute("DROP TABLE runs")
            con.execute("ALTER TABLE runs_v2 RENAME TO runs")
        elif columns and ("owner" not in columns or "shared" not in columns):
            if "owner" not in columns:  # format 2: runs made before owners, kept as nobody's ('')
                con.execute("ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
            if "shared" not in columns:  # format 3: runs made before sharing, not shared
                con.execute("ALTER TABLE runs ADD COLUMN shared INTEGER NOT NULL DEFAULT 0")
            migrated = True
        else:
            con.execute(SCHEMA)
        con.execute(PEOPLE_SCHEMA)
        con.execute(f"PRAGMA user_version = {INDEX_VERSION}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return migrated


def migrate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A run's ``config.json`` in today's format (a copy; today's is returned as it is)."""
    if config.get("format") == RUN_FORMAT:
        return dict(config)
    out = dict(config)
    train = dict(out.get("train") or {})
    smoothing = train.pop("label_smoothing", 0.0)
    train.setdefault("task", {"name": "classify", "label_smoothing": smoothing})
    out["train"] = train
    if isinstance(out.get("dataset"), Mapping):
        out["dataset"] = {**out["dataset"], "targets": out["dataset"].get("targets", "class ids")}
    out["format"] = RUN_FORMAT
    return out


def migrate_history(history: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A run's ``metrics.json`` in today's format: each epoch's ``train``/``val`` as metric-name mappings."""
    return [migrate_epoch(e) for e in history]


def migrate_epoch(epoch: Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(epoch.get("train"), Mapping):
        return dict(epoch)
    out: dict[str, Any] = {"train": {}, "val": {}}
    for key, value in epoch.items():
        if key in _OLD_METRICS:
            split, name = _OLD_METRICS[key]
            out[split][name] = value
        else:
            out[key] = value
    return out


def migrate_checkpoint(state: Mapping[str, Any]) -> dict[str, Any]:
    """A format-1 checkpoint's state in today's layout (see the module docstring)."""
    out = dict(state)
    progress = dict(out.get("progress") or {})
    correct = progress.pop("correct", 0)
    out["progress"] = progress
    out["meter"] = {"correct": torch.tensor(float(correct), dtype=torch.float64),
                    "seen": torch.tensor(float(progress.get("seen", 0)), dtype=torch.float64)}
    rng = out.pop("rng", None)
    out["generators"] = {"dropout": {"device": "cpu", "state": rng}} if rng is not None else {}
    out.setdefault("callbacks", {})
    return out
