"""The jobs waiting in a server's queue, on disk, so that a restart can tell their owners what was dropped. See
docs/tasks-and-jobs.md, "Queued jobs across a restart".

The queue is in memory: a server that dies (restarted, killed, out of memory) loses the jobs that had not started.
Each runner given a folder (the process-wide one: ``<runs>/.queue/``) keeps there ``<token>.json``, a list of its
waiting jobs (``id``, ``owner``, ``about``'s plain values, ``submitted``), rewritten atomically (a temporary file
renamed over it) whenever its queue changes, and holds an exclusive ``flock`` on ``<token>.lock`` for as long as it
lives. A new runner takes over the files of the runners whose lock nobody holds — their process is gone, ``kill -9``
too — and reports their jobs as ``Dropped``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DROPPED_REASON = "the server restarted before it started; start it again"


@dataclass(frozen=True)
class Dropped:
    """A job that was waiting in the queue of a server that ended: whose, what (``about``'s plain values), when."""

    id: str
    owner: str
    submitted: float
    about: dict[str, Any] = field(default_factory=dict)
    reason: str = DROPPED_REASON


def plain(about: dict[str, Any]) -> dict[str, Any]:
    """The values of ``about`` that JSON keeps as they are (a page's label, kind, epochs; not its objects)."""
    return {k: v for k, v in about.items() if isinstance(k, str) and (v is None or type(v) in (str, int, float, bool))}


class WaitingFile:
    """This runner's record of its waiting jobs in ``folder``, and its lock."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        token = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.path, lock = self.folder / f"{token}.json", self.folder / f"{token}.lock"
        self._lock_fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)  # new and ours alone: never waits
        self._written: list[dict[str, Any]] | None = None

    def write(self, entries: list[dict[str, Any]]) -> None:
        """Record ``entries`` (an empty list removes the file), unless they are what was written last."""
        if entries == self._written:
            return
        if entries:
            tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
            tmp.write_text(json.dumps(entries), encoding="utf-8")
            os.replace(tmp, self.path)
        else:
            self.path.unlink(missing_ok=True)
        self._written = list(entries)

    def left_over(self) -> list[Dropped]:
        """The waiting jobs of the runners in the folder that ended, their files removed (each taken once, by the
        first runner that finds it)."""
        dropped: list[Dropped] = []
        for lock in sorted(self.folder.glob("*.lock")):
            if lock.stem == self.path.stem:
                continue
            try:
                fd = os.open(lock, os.O_RDWR)
            except FileNotFoundError:  # taken over by another runner meanwhile
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # its runner lives
                    continue
                if not lock.exists():  # another runner took it over just before us
                    continue
                record = lock.with_suffix(".json")
                with contextlib.suppress(FileNotFoundError, ValueError):
                    for e in json.loads(record.read_text(encoding="utf-8")):
                        dropped.append(Dropped(str(e["id"]), str(e["owner"]), float(e["submitted"]),
                                               dict(e.get("about") or {})))
                record.unlink(missing_ok=True)
                lock.unlink(missing_ok=True)
            finally:
                os.close(fd)
        for tmp in self.folder.glob(".*.tmp"):  # a writer killed between writing and renaming
            if not any(tmp.name.startswith(f".{p.stem}") for p in self.folder.glob("*.lock")):
                tmp.unlink(missing_ok=True)
        return dropped
