"""Where a session's training runs are kept: ``run_store()``, the one place that decides (every page asks it).

On a server of one's own (the default): ``RunStore()``, the folder ``$CNNPG_RUNS_DIR`` (else ``./runs``) shared by
every session, each run carrying its owner (``playground/owner.py``). In demo mode (``$CNNPG_DEMO``, a public hosted
demo): each owner's runs go to a temporary folder of their own instead, which is removed when the owner's last
session ends, and all of them when the server stops — a visitor's work never reaches the shared folder and never
outlives the visit. A job still training there when its owner's last session ends fails as "deleted while it
trained" (``engine.training.loop``). See docs/hosting.md, "The hosted demo".

The folders are counted per owner, not per session, so a reload (a new session opening before the old one is dropped)
keeps the visitor's runs. Each session holds a ``_Lease`` in its session state; when Streamlit drops the session,
the lease goes with it and gives the owner's folder back (``weakref.finalize``, as ``playground.webcam.stream``
counts streams).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import weakref
from pathlib import Path

import streamlit as st

from engine.env import demo_mode
from engine.training.runs import RunStore
from playground import state
from playground.owner import owner_id

PREFIX = "cnnpg-demo-"


class DemoFolders:
    """The demo's temporary folders, one per owner, under one root made on first use (``$TMPDIR``) and removed at
    exit. ``acquire``/``release`` count the sessions holding each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._root: Path | None = None
        self._held: dict[str, int] = {}

    def root(self) -> Path:
        with self._lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
                atexit.register(shutil.rmtree, self._root, ignore_errors=True)
            return self._root

    def folder(self, owner: str) -> Path:
        """Where ``owner``'s runs live (an owner id is URL-safe base64: a plain folder name)."""
        return self.root() / owner

    def acquire(self, owner: str) -> None:
        with self._lock:
            self._held[owner] = self._held.get(owner, 0) + 1

    def release(self, owner: str) -> None:
        """One session of ``owner`` has ended; the last one takes the folder with it."""
        with self._lock:
            left = self._held.get(owner, 0) - 1
            if left > 0:
                self._held[owner] = left
                return
            self._held.pop(owner, None)
            root = self._root
        if root is not None:
            shutil.rmtree(root / owner, ignore_errors=True)

    def holding(self, owner: str) -> int:
        """How many sessions hold ``owner``'s folder."""
        with self._lock:
            return self._held.get(owner, 0)


DEMO = DemoFolders()


class _Lease:
    """A session's hold on its owner's demo folder, given back when the session (its state) is dropped."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        DEMO.acquire(owner)
        weakref.finalize(self, DEMO.release, owner)


def run_store() -> RunStore:
    """This session's run store: the shared ``RunStore()``, or in demo mode its owner's temporary one. Cheap: a folder
    and an SQLite file."""
    if not demo_mode():
        return RunStore()
    owner = owner_id()
    lease = st.session_state.get(state.DEMO_LEASE)
    if not isinstance(lease, _Lease) or lease.owner != owner:
        st.session_state[state.DEMO_LEASE] = _Lease(owner)  # an earlier lease (another owner) is given back
    return RunStore(DEMO.folder(owner))
